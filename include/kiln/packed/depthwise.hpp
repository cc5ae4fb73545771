// Depthwise convolutions (group = C_in = C_out, 1-D or 2-D) on ONNX-layout weights. Per channel
// the plane is first copied into the scratch with its padding materialised (zero after the
// input zero point is subtracted), so no tap needs a bounds check, and split by column into
// stride phases, so a strided row read becomes a contiguous one. Output (oh, ow) is then element
// oh * pitch + ow of a "wide" plane that keeps the phase planes' row pitch: every tap is one
// contiguous multiply-add over the whole plane, long vectors even for planes a few columns wide;
// the extra columns of each row are computed and dropped.
#pragma once

#include "../arch/dispatch.hpp"
#include "../core/activation.hpp"
#include "../core/requantize.hpp"
#include "../ops/conv.hpp"
#include "../ops/quant.hpp"
#include "epilogue.hpp"

#include <cstdint>
#include <limits>

namespace kiln::packed {

namespace detail {
template <class P> constexpr index_t padded_width(const P& p) noexcept {
  return (p.out[2] - 1) * p.stride[2] + (p.kernel[2] - 1) * p.dilation[2] + 1;
}
template <class P> constexpr index_t padded_height(const P& p) noexcept {
  return (p.out[1] - 1) * p.stride[1] + (p.kernel[1] - 1) * p.dilation[1] + 1;
}
// The padded plane is stored as stride[2] phase planes, column c in phase c % s at c / s, each
// phase_width wide: a strided row read becomes a contiguous one.
template <class P> constexpr index_t phase_width(const P& p) noexcept {
  return (padded_width(p) + p.stride[2] - 1) / p.stride[2];
}
template <class P> constexpr index_t phase_size(const P& p) noexcept { return padded_height(p) * phase_width(p); }
// Output (oh, ow) lives at oh * pitch + ow of the wide accumulator plane.
template <class P> constexpr index_t acc_pitch(const P& p) noexcept { return phase_width(p) * p.stride[1]; }

// acc[oh * pitch + ow] = bias + sum over taps (w[t] - wz) * x(oh*s_h + kh*d_h, ow*s_w + kw*d_w),
// read from the phase planes: for every tap one contiguous multiply-add over the wide plane.
template <class P, class A, class W>
inline void depthwise_plane(const P& p, const A* xp, const W* w, A wz, A bias, A* acc) noexcept {
  const index_t wq = phase_width(p), pitch = acc_pitch(p), s = p.stride[2];
  const index_t n = (p.out[1] - 1) * pitch + p.out[2];
  for (index_t i = 0; i < n; ++i) acc[i] = bias;
  for (index_t kh = 0; kh < p.kernel[1]; ++kh)
    for (index_t kw = 0; kw < p.kernel[2]; ++kw) {
      const A wv = static_cast<A>(w[kh * p.kernel[2] + kw]) - wz;
      const index_t col = kw * p.dilation[2];
      const A* xs = xp + (col % s) * phase_size(p) + kh * p.dilation[1] * wq + col / s;
      for (index_t i = 0; i < n; ++i) acc[i] += wv * xs[i];
    }
}

// Copies channel plane x (H x W) into the phase planes as A(x) - zp, zero in the padding.
template <class P, class X, class A>
inline void pad_plane(const P& p, const X* x, A zp, A* xp) noexcept {
  const index_t wp = padded_width(p), hp = padded_height(p), wq = phase_width(p), s = p.stride[2];
  const index_t size = phase_size(p);
  for (index_t r = 0; r < hp; ++r) {
    const index_t ih = r - p.pad[1];
    const bool row_inside = ih >= 0 && ih < p.in[1];
    const X* src = x + ih * p.in[2] - p.pad[2];  // src[c]: padded column c
    for (index_t ph = 0; ph < s; ++ph) {
      // Every entry is written, also a phase's last one past the padded width: the wide plane's
      // dropped columns read it, and must read a defined value.
      A* dst = xp + ph * size + r * wq;
      for (index_t q = 0, c = ph; q < wq; ++q, c += s) {
        const index_t iw = c - p.pad[2];
        dst[q] = row_inside && c < wp && iw >= 0 && iw < p.in[2] ? static_cast<A>(src[c]) - zp : A(0);
      }
    }
  }
}
}  // namespace detail

// Whether the depthwise kernels below take this geometry (1-D or 2-D, one channel per group).
template <class P> constexpr bool depthwise_applies(const P& p) noexcept {
  return p.group == p.in_channels && p.group == p.out_channels && p.kernel[0] == 1 && p.in[0] == 1 &&
         p.out[0] == 1;
}

// Scratch of both kernels: the padded plane and the wide accumulator plane (4-byte elements).
template <class P> constexpr std::size_t depthwise_scratch_bytes(const P& p) noexcept {
  return static_cast<std::size_t>(p.stride[2] * detail::phase_size(p) + p.out[1] * detail::acc_pitch(p)) * 4;
}

inline void depthwise(const conv_params& p, const float* x, const float* w, const float* bias, float* y,
                      void* scratch) noexcept {
  const index_t pitch = detail::acc_pitch(p), in_plane = p.in[1] * p.in[2], out_plane = p.out[1] * p.out[2];
  float* const xp = static_cast<float*>(scratch);
  float* const acc = xp + p.stride[2] * detail::phase_size(p);
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t c = 0; c < p.out_channels; ++c) {
      detail::pad_plane(p, x + (n * p.in_channels + c) * in_plane, 0.f, xp);
      detail::depthwise_plane(p, xp, w + c * p.kernel[1] * p.kernel[2], 0.f, bias ? bias[c] : 0.f, acc);
      float* yc = y + (n * p.out_channels + c) * out_plane;
      detail::with_activation(p.act, [&](auto act) {
        for (index_t oh = 0; oh < p.out[1]; ++oh)
          for (index_t ow = 0; ow < p.out[2]; ++ow) yc[oh * p.out[2] + ow] = act(acc[oh * pitch + ow]);
      });
    }
}

template <class X, class W, class Y>
inline void qlinear_depthwise(const qconv_params& p, const X* x, const X* x_zp, const W* w, const W* w_zp,
                              const float* scale, const std::int32_t* bias, const Y* y_zp, Y* y,
                              void* scratch) noexcept {
  const std::int32_t yz = y_zp ? static_cast<std::int32_t>(y_zp[0]) : 0;
  const std::int32_t xz = x_zp ? static_cast<std::int32_t>(x_zp[0]) : 0;
  const index_t pitch = detail::acc_pitch(p), in_plane = p.in[1] * p.in[2], out_plane = p.out[1] * p.out[2];
  std::int32_t* const xp = static_cast<std::int32_t*>(scratch);
  std::int32_t* const acc = xp + p.stride[2] * detail::phase_size(p);
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t c = 0; c < p.out_channels; ++c) {
      const std::int32_t wz = w_zp ? static_cast<std::int32_t>(w_zp[p.w_zp_count > 1 ? c : 0]) : 0;
      detail::pad_plane(p, x + (n * p.in_channels + c) * in_plane, xz, xp);
      detail::depthwise_plane(p, xp, w + c * p.kernel[1] * p.kernel[2], wz, bias ? bias[c] : 0, acc);
      const float s = scale[p.rq_count > 1 ? c : 0];
      const requant_params rq = requant_from_float(s);
      Y* yc = y + (n * p.out_channels + c) * out_plane;
      for (index_t oh = 0; oh < p.out[1]; ++oh)
        arch::active::requantize_row(acc + oh * pitch, p.out[2], s, rq, yz, yc + oh * p.out[2]);
    }
}

}  // namespace kiln::packed
