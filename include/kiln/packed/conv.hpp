// Packed convolutions: one activation panel (packed/panel.hpp) at a time, multiplied by weight
// panels packed at codegen time (packed/layout.hpp) with the architecture's register tile
// (arch/dispatch.hpp), then bias, activation or requantization on the way out. Grouped
// convolutions run group by group; depthwise int8 has its own direct kernel below.
#pragma once

#include "../arch/dispatch.hpp"
#include "../core/activation.hpp"
#include "../core/requantize.hpp"
#include "../ops/conv.hpp"
#include "../ops/quant.hpp"
#include "epilogue.hpp"
#include "panel.hpp"

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace kiln::packed {

// Scratch of conv: one float panel.
constexpr std::size_t conv_scratch_bytes(index_t k) noexcept {
  return static_cast<std::size_t>(k) * panel_cols * sizeof(float);
}
// Scratch of qlinear_conv: one uint8 panel of quads and the row-major rows it is built from.
constexpr std::size_t qconv_scratch_bytes(index_t k) noexcept {
  return 2 * static_cast<std::size_t>(round_up(k, 4)) * panel_cols;
}

// y = act(bias + conv(x, w)); w packed by pack_conv_weights (quad 1), panel: conv_scratch_bytes.
inline void conv(const conv_params& p, const float* x, const float* w, const float* bias, float* y,
                 void* scratch) noexcept {
  float* const panel = static_cast<float*>(scratch);
  constexpr index_t NB = arch::active::f32_nb, MR = conv_mr;
  static_assert(panel_cols % NB == 0, "tile width must divide the panel");
  const index_t in_plane = p.in[0] * p.in[1] * p.in[2], out_plane = p.out[0] * p.out[1] * p.out[2];
  const index_t cin_g = p.in_channels / p.group, mg = p.out_channels / p.group;
  const index_t k = cin_g * p.kernel[0] * p.kernel[1] * p.kernel[2];
  const index_t mblocks = ceil_div(mg, MR);
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t g = 0; g < p.group; ++g) {
      const float* xg = x + (n * p.in_channels + g * cin_g) * in_plane;
      const float* wg = w + g * mblocks * k * MR;
      for (index_t p0 = 0; p0 < out_plane; p0 += panel_cols) {
        const index_t cols = out_plane - p0 < panel_cols ? out_plane - p0 : panel_cols;
        detail::pack_panel<1>(p, xg, cin_g, p0, cols, 0.f, panel, [](float v) { return v; });
        for (index_t kk = 0; kk < k; ++kk)  // the last tile of a short panel reads defined zeros
          for (index_t j = cols; j < round_up(cols, NB); ++j) panel[kk * panel_cols + j] = 0.f;
        detail::with_activation(p.act, [&](auto act) {
          for (index_t mb = 0; mb < mblocks; ++mb) {
            const float* a = wg + mb * k * MR;
            const index_t rows = mg - mb * MR < MR ? mg - mb * MR : MR;
            for (index_t j0 = 0; j0 < cols; j0 += NB) {
              float c[MR * NB];
              arch::active::f32_tile<MR, NB>(k, a, 1, MR, panel + j0, panel_cols, c);
              const index_t width = cols - j0 < NB ? cols - j0 : NB;
              for (index_t r = 0; r < rows; ++r) {
                const index_t m = g * mg + mb * MR + r;
                const float b = bias ? bias[m] : 0.f;
                float* yr = y + (n * p.out_channels + m) * out_plane + p0 + j0;
                const float* cr = c + r * NB;
                if (width == NB)
                  for (index_t j = 0; j < NB; ++j) yr[j] = act(cr[j] + b);
                else
                  for (index_t j = 0; j < width; ++j) yr[j] = act(cr[j] + b);
              }
            }
          }
        });
      }
    }
}

// QLinearConv on packed int8 weights. The activation panel holds x' = x + 128 for int8 x (x for
// uint8), so the tile multiplies uint8 activations by int8 weights as VNNI and the DSP want; the
// offsets come back out in the epilogue:
//   sum (x - xz)(w - wz) = sum x'w' - zx' sum w' - wz' sum x' + K zx' wz'   (zx' = xz + 128 or xz)
// where w' are the packed weights (uint8 weights shifted to int8, wz' likewise). Codegen folds
// bias - zx' sum w' + K zx' wz' into `bias` (per output channel); w_zp holds wz' when any is
// non-zero (null otherwise), and only then are the panel's column sums needed. All exact in int32.
template <class X, class Y>
inline void qlinear_conv(const qconv_params& p, const X* x, const X* x_zp, const std::int8_t* w,
                         const std::int32_t* w_zp, const float* scale, const std::int32_t* bias, const Y* y_zp, Y* y,
                         void* scratch) noexcept {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "quads are assembled as little-endian words");
  constexpr index_t NB = arch::active::s8_nb, MR = conv_mr, row = panel_cols * 4;
  static_assert(panel_cols % NB == 0, "tile width must divide the panel");
  constexpr std::int32_t offset = std::is_signed_v<X> ? 128 : 0;
  const std::int32_t yz = y_zp ? static_cast<std::int32_t>(y_zp[0]) : 0;
  const X pad = x_zp ? x_zp[0] : X(0);
  const index_t in_plane = p.in[0] * p.in[1] * p.in[2], out_plane = p.out[0] * p.out[1] * p.out[2];
  const index_t cin_g = p.in_channels / p.group, mg = p.out_channels / p.group;
  const index_t k = cin_g * p.kernel[0] * p.kernel[1] * p.kernel[2], k4 = ceil_div(k, 4);
  const index_t mblocks = ceil_div(mg, MR);
  std::uint8_t* const panel = static_cast<std::uint8_t*>(scratch);
  std::uint8_t* const staging = panel + k4 * row;
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t g = 0; g < p.group; ++g) {
      const X* xg = x + (n * p.in_channels + g * cin_g) * in_plane;
      const std::int8_t* wg = w + g * mblocks * k4 * 4 * MR;
      for (index_t p0 = 0; p0 < out_plane; p0 += panel_cols) {
        const index_t cols = out_plane - p0 < panel_cols ? out_plane - p0 : panel_cols;
        // Pack row by row into the staging rows (contiguous copies), then interleave each 4 rows
        // into column quads, a word per column: both loops vectorize, byte-wise quad stores don't.
        for (index_t kk = 0; kk < k4 * 4; ++kk)
          for (index_t j = kk < k ? cols : 0; j < panel_cols; ++j) staging[kk * panel_cols + j] = 0;
        detail::pack_panel<1>(p, xg, cin_g, p0, cols, pad, staging, [](X v) {
          return static_cast<std::uint8_t>(static_cast<std::int32_t>(v) + offset);
        });
        for (index_t q = 0; q < k4; ++q) {
          const std::uint8_t* r0 = staging + 4 * q * panel_cols;
          std::uint32_t words[panel_cols];
          for (index_t j = 0; j < panel_cols; ++j)
            words[j] = static_cast<std::uint32_t>(r0[j]) | static_cast<std::uint32_t>(r0[panel_cols + j]) << 8 |
                       static_cast<std::uint32_t>(r0[2 * panel_cols + j]) << 16 |
                       static_cast<std::uint32_t>(r0[3 * panel_cols + j]) << 24;
          std::memcpy(panel + q * row, words, sizeof words);
        }
        std::int32_t colsum[panel_cols] = {};
        if (w_zp)
          for (index_t q = 0; q < k4; ++q)
            for (index_t j = 0; j < cols; ++j)
              for (index_t e = 0; e < 4; ++e) colsum[j] += panel[q * row + 4 * j + e];
        for (index_t mb = 0; mb < mblocks; ++mb) {
          const std::int8_t* a = wg + mb * k4 * 4 * MR;
          const index_t rows = mg - mb * MR < MR ? mg - mb * MR : MR;
          requant_params rq[MR];
          float s[MR];
          std::int32_t wz[MR];
          for (index_t r = 0; r < rows; ++r) {
            const index_t m = g * mg + mb * MR + r;
            s[r] = scale[p.rq_count > 1 ? m : 0];
            rq[r] = requant_from_float(s[r]);
            wz[r] = w_zp ? w_zp[p.w_zp_count > 1 ? m : 0] : 0;
          }
          for (index_t j0 = 0; j0 < cols; j0 += NB) {
            std::int32_t c[MR * NB];
            arch::active::int8_tile<MR, NB>(k4, a, 4, 4 * MR, panel + 4 * j0, row, c);
            const index_t width = cols - j0 < NB ? cols - j0 : NB;
            for (index_t r = 0; r < rows; ++r) {
              const index_t m = g * mg + mb * MR + r;
              std::int32_t* cr = c + r * NB;
              for (index_t j = 0; j < width; ++j) cr[j] += bias[m] - wz[r] * colsum[j0 + j];
              arch::active::requantize_row(cr, width, s[r], rq[r], yz, y + (n * p.out_channels + m) * out_plane + p0 + j0);
            }
          }
        }
      }
    }
}

}  // namespace kiln::packed
