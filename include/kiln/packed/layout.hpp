// Packed operand layouts: how kiln compile lays out Conv and Gemm weights for the packed kernels
// (packed/conv.hpp, packed/dense.hpp), so every kernel reads its weights front to back.
//
//   float conv weights  [group][ceil(M_g / conv_mr)][K][conv_mr]            K = C_g * taps
//   int8 conv weights   [group][ceil(M_g / conv_mr)][ceil(K / 4)][conv_mr][4]       (im2col panel)
//                       [group][ceil(M_g / conv_mr)][ceil(C_g / 4)][taps][conv_mr][4] (direct: a
//                       quad holds 4 channels of one tap, as the band's channel quads)
//   float dense weights [ceil(N / dense_nr)][K][panel width]  (last panel: N's tail rounded to 16)
// Rows beyond M_g and k beyond K are zero. Activations are packed at run time into a panel of
// panel_cols output positions (float: [K][panel_cols]; int8: [ceil(K/4)][panel_cols][4]), held
// in the layer's arena scratch. These sizes do not depend on the architecture: every tile width
// in arch/ divides panel_cols and dense_nr.
#pragma once

#include "../core/shape.hpp"

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace kiln::packed {

inline constexpr index_t conv_mr = 4;      // output channels per weight panel (broadcast side)
inline constexpr index_t panel_cols = 32;  // output positions per activation panel (vector side)
inline constexpr index_t dense_nr = 64;    // output columns per dense weight panel
inline constexpr index_t dense_tail = 16;  // the last dense panel is rounded up to this

constexpr index_t ceil_div(index_t a, index_t b) noexcept { return (a + b - 1) / b; }
constexpr index_t round_up(index_t a, index_t b) noexcept { return ceil_div(a, b) * b; }

// Elements of packed conv weights: float (quad = 1) or int8 (quad = 4).
constexpr std::size_t conv_weight_count(index_t out_channels, index_t group, index_t k, index_t quad) noexcept {
  const index_t mg = out_channels / group;
  return static_cast<std::size_t>(group) * static_cast<std::size_t>(round_up(mg, conv_mr)) *
         static_cast<std::size_t>(round_up(k, quad));
}

// Packs ONNX conv weights w[M][C_g][taps] (K = C_g * taps per row). `convert` maps one weight to
// the packed element type (int8 kernels: uint8 weights shift to int8).
template <class W, class P, class F>
void pack_conv_weights(const W* w, index_t out_channels, index_t group, index_t k, index_t quad, P* out,
                       F&& convert) noexcept {
  const index_t mg = out_channels / group, kq = round_up(k, quad);
  std::size_t i = 0;
  for (index_t g = 0; g < group; ++g)
    for (index_t m0 = 0; m0 < mg; m0 += conv_mr)
      for (index_t q = 0; q < kq; q += quad)
        for (index_t r = 0; r < conv_mr; ++r)
          for (index_t e = 0; e < quad; ++e, ++i) {
            const index_t m = m0 + r, kk = q + e;
            out[i] = m < mg && kk < k ? convert(w[(g * mg + m) * k + kk]) : P(0);
          }
}

// Packs int8 conv weights in channel-quad order for the direct path (packed/direct.hpp). The
// element count is conv_weight_count(M, group, round_up(C_g, 4) * taps, 4).
template <class W, class P, class F>
void pack_conv_weights_channel_quads(const W* w, index_t out_channels, index_t group, index_t cin_g, index_t taps,
                                     P* out, F&& convert) noexcept {
  const index_t mg = out_channels / group, k = cin_g * taps;
  std::size_t i = 0;
  for (index_t g = 0; g < group; ++g)
    for (index_t m0 = 0; m0 < mg; m0 += conv_mr)
      for (index_t c0 = 0; c0 < cin_g; c0 += 4)
        for (index_t t = 0; t < taps; ++t)
          for (index_t r = 0; r < conv_mr; ++r)
            for (index_t e = 0; e < 4; ++e, ++i) {
              const index_t m = m0 + r, c = c0 + e;
              out[i] = m < mg && c < cin_g ? convert(w[(g * mg + m) * k + c * taps + t]) : P(0);
            }
}

// Channel-blocked activations (NCHW16c), for chains of depthwise and pointwise convolutions
// (MobileNet, DS-CNN): channels in blocks of channel_block, each block position-major, element
// (n, c, pos) of an N x C x (H x W) tensor at (n * C + c - c % 16) * H * W + pos * 16 + c % 16.
// C is a multiple of 16, so a blocked tensor is as large as a planar one. It is the order the
// depthwise lanes kernel computes in (a blocked input needs no interleave, a blocked output no
// deinterleave) and the order in which the pointwise kernel stores a vector of 16 output
// channels (packed/pointwise.hpp). kiln compile blocks a tensor only between such layers
// (codegen stages/layout.cpp); graph inputs and outputs stay planar.
inline constexpr index_t channel_block = 16;
enum class channel_layout { planar, blocked };

// Pointwise weights for packed::pointwise: [M / 16][K][16], each block of 16 output channels'
// weights for one input channel side by side (M a multiple of 16; M * K elements).
template <class T> void pack_pointwise_weights(const T* w, index_t m, index_t k, T* out) noexcept {
  for (index_t j = 0; j < m; ++j)
    for (index_t kk = 0; kk < k; ++kk)
      out[((j / channel_block) * k + kk) * channel_block + j % channel_block] = w[j * k + kk];
}

// Depthwise weights for packed::depthwise_by_layout: [C / 16][taps][16], a block's channels side
// by side for each tap, as its lanes kernel reads them (C a multiple of 16; C * taps elements).
template <class T> void pack_depthwise_weights(const T* w, index_t c, index_t taps, T* out) noexcept {
  for (index_t ch = 0; ch < c; ++ch)
    for (index_t t = 0; t < taps; ++t)
      out[((ch / channel_block) * taps + t) * channel_block + ch % channel_block] = w[ch * taps + t];
}

// Width of dense weight panel starting at column n0 of n.
constexpr index_t dense_panel_width(index_t n, index_t n0) noexcept {
  return n - n0 >= dense_nr ? dense_nr : round_up(n - n0, dense_tail);
}
constexpr std::size_t dense_weight_count(index_t n, index_t k) noexcept {
  std::size_t total = 0;
  for (index_t n0 = 0; n0 < n; n0 += dense_nr) total += static_cast<std::size_t>(dense_panel_width(n, n0)) * static_cast<std::size_t>(k);
  return total;
}

// Packs dense weights given as element (kk, j) = b[kk * b_row + j * b_col] (B of Y = A * B).
template <class T>
void pack_dense_weights(const T* b, index_t n, index_t k, index_t b_row, index_t b_col, T* out) noexcept {
  std::size_t i = 0;
  for (index_t n0 = 0; n0 < n; n0 += dense_nr) {
    const index_t width = dense_panel_width(n, n0);
    for (index_t kk = 0; kk < k; ++kk)
      for (index_t j = 0; j < width; ++j, ++i) out[i] = n0 + j < n ? b[kk * b_row + (n0 + j) * b_col] : T(0);
  }
}

}  // namespace kiln::packed

namespace kiln::packed {

// Codegen-time preparation of a QLinearConv for packed::qlinear_conv (see the identity there):
// packs the weights as int8 (uint8 weights shift by -128, and so do their zero points), writes
// the shifted weight zero points (`w_zp_out`, w_zp_count of them) and the folded per-channel
// bias (out_channels of them). Returns whether any shifted weight zero point is non-zero, i.e.
// whether the kernel needs w_zp_out. x_zp: the input zero point; x_signed: int8 input.
// channel_quad_taps: the window's taps when the layer takes the direct path (channel-quad order,
// packed/conv.hpp's qconv_channel_quad_taps), else 0 (im2col panel order).
template <class W>
bool prepare_qconv(const W* w, const W* w_zp, index_t w_zp_count, const std::int32_t* bias, std::int32_t x_zp,
                   bool x_signed, index_t out_channels, index_t group, index_t k, std::int8_t* w_out,
                   std::int32_t* w_zp_out, std::int32_t* bias_out, index_t channel_quad_taps) noexcept {
  constexpr std::int32_t w_shift = std::is_signed_v<W> ? 0 : 128;
  auto shift = [](W v) { return static_cast<std::int8_t>(static_cast<std::int32_t>(v) - w_shift); };
  if (channel_quad_taps > 0)
    pack_conv_weights_channel_quads(w, out_channels, group, k / channel_quad_taps, channel_quad_taps, w_out, shift);
  else
    pack_conv_weights(w, out_channels, group, k, 4, w_out, shift);
  bool any_zp = false;
  for (index_t i = 0; i < w_zp_count; ++i) {
    w_zp_out[i] = (w_zp ? static_cast<std::int32_t>(w_zp[i]) : 0) - w_shift;
    any_zp = any_zp || w_zp_out[i] != 0;
  }
  const std::int32_t zx = x_zp + (x_signed ? 128 : 0);
  for (index_t m = 0; m < out_channels; ++m) {
    std::int32_t sum = 0;
    for (index_t kk = 0; kk < k; ++kk) sum += static_cast<std::int32_t>(w[m * k + kk]) - w_shift;
    const std::int32_t wz = w_zp_out[w_zp_count > 1 ? m : 0];
    bias_out[m] = (bias ? bias[m] : 0) - zx * sum + k * zx * wz;
  }
  return any_zp;
}

}  // namespace kiln::packed
