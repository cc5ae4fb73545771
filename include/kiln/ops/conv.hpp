// Direct convolution over up to three spatial axes (1-D and 2-D use leading extents of 1).
// Grouped and depthwise convolutions are the same loop with fewer input channels per group.
#pragma once

#include "../core/activation.hpp"
#include "../core/shape.hpp"

namespace kiln {

struct conv_params {
  index_t batch;
  index_t in_channels;
  index_t out_channels;
  index_t group;
  index_t in[3];        // input D, H, W
  index_t out[3];       // output D, H, W
  index_t kernel[3];
  index_t stride[3];
  index_t dilation[3];
  index_t pad[3];       // padding before each axis; the end padding is implied by `out`
  activation act;
};

namespace detail {
// First and one-past-last output position along an axis whose input tap k stays inside [0, in).
constexpr void valid_range(index_t in, index_t out, index_t stride, index_t pad, index_t tap, index_t& lo,
                           index_t& hi) noexcept {
  // o*stride - pad + tap in [0, in)  <=>  o in [ceil((pad - tap)/stride), ceil((in + pad - tap)/stride))
  const index_t a = pad - tap;
  lo = a <= 0 ? 0 : (a + stride - 1) / stride;
  const index_t b = in + pad - tap;
  hi = b <= 0 ? 0 : (b + stride - 1) / stride;
  if (hi > out) hi = out;
  if (lo > hi) lo = hi;
}

// conv and conv_residual (below); residual may be null.
template <class T>
inline void conv_into(const conv_params& p, const T* x, const T* w, const T* bias, const T* residual, T* y) noexcept {
  const index_t in_plane = p.in[0] * p.in[1] * p.in[2];
  const index_t out_plane = p.out[0] * p.out[1] * p.out[2];
  const index_t taps = p.kernel[0] * p.kernel[1] * p.kernel[2];
  const index_t cin_g = p.in_channels / p.group;
  const index_t cout_g = p.out_channels / p.group;
  for (index_t n = 0; n < p.batch; ++n) {
    for (index_t m = 0; m < p.out_channels; ++m) {
      T* yp = y + (n * p.out_channels + m) * out_plane;
      const T b0 = bias ? bias[m] : T(0);
      for (index_t i = 0; i < out_plane; ++i) yp[i] = b0;
      const index_t g = m / cout_g;
      for (index_t c = 0; c < cin_g; ++c) {
        const T* xp = x + (n * p.in_channels + g * cin_g + c) * in_plane;
        const T* wp = w + (m * cin_g + c) * taps;
        for (index_t kd = 0; kd < p.kernel[0]; ++kd) {
          index_t d0, d1;
          detail::valid_range(p.in[0], p.out[0], p.stride[0], p.pad[0], kd * p.dilation[0], d0, d1);
          for (index_t kh = 0; kh < p.kernel[1]; ++kh) {
            index_t h0, h1;
            detail::valid_range(p.in[1], p.out[1], p.stride[1], p.pad[1], kh * p.dilation[1], h0, h1);
            for (index_t kw = 0; kw < p.kernel[2]; ++kw) {
              index_t w0, w1;
              detail::valid_range(p.in[2], p.out[2], p.stride[2], p.pad[2], kw * p.dilation[2], w0, w1);
              const T wv = wp[(kd * p.kernel[1] + kh) * p.kernel[2] + kw];
              for (index_t od = d0; od < d1; ++od) {
                const index_t id = od * p.stride[0] - p.pad[0] + kd * p.dilation[0];
                for (index_t oh = h0; oh < h1; ++oh) {
                  const index_t ih = oh * p.stride[1] - p.pad[1] + kh * p.dilation[1];
                  T* yrow = yp + (od * p.out[1] + oh) * p.out[2];
                  const T* xrow = xp + (id * p.in[1] + ih) * p.in[2] - p.pad[2] + kw * p.dilation[2];
                  for (index_t ow = w0; ow < w1; ++ow) yrow[ow] += wv * xrow[ow * p.stride[2]];
                }
              }
            }
          }
        }
      }
      // The residual, then the activation, each a loop of its own over the plane just written: one
      // copy of activate's switch, in the loop it had before there was a residual (fused, the
      // switch and the sum in one loop took DS-CNN's float reference on the M4 from 19 to 28 M
      // instructions).
      if (residual) {
        const T* rp = residual + (n * p.out_channels + m) * out_plane;
        for (index_t i = 0; i < out_plane; ++i) yp[i] += rp[i];
      }
      if (p.act.kind != act_kind::none)
        for (index_t i = 0; i < out_plane; ++i) yp[i] = activate(p.act, yp[i]);
    }
  }
}
}  // namespace detail

// y[n][m][o] = act(bias[m] + sum_{c,k} w[m][c][k] * x[n][g*C/G + c][o*stride - pad + k*dilation])
template <class T>
inline void conv(const conv_params& p, const T* x, const T* w, const T* bias, T* y) noexcept {
  detail::conv_into(p, x, w, bias, static_cast<const T*>(nullptr), y);
}

// A Conv and the Add after it (and the activation after that), as the codegen fuses a residual
// block's join: y = act(bias + conv(x, w) + residual), residual shaped as y, added to each
// output plane while it is still in cache, where a separate Add would read and write the whole
// output once more.
template <class T>
inline void conv_residual(const conv_params& p, const T* x, const T* w, const T* bias, const T* residual, T* y) noexcept {
  detail::conv_into(p, x, w, bias, residual, y);
}

}  // namespace kiln
