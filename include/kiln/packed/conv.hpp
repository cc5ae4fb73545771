// Packed convolutions: weight panels packed at codegen time (packed/layout.hpp) times the
// activations with the architecture's register tile (arch/dispatch.hpp), then bias, activation or
// requantization on the way out. The activations come from a band of shifted windows for 1-D and
// 2-D windows (packed/direct.hpp), else from one im2col panel (packed/panel.hpp) at a time.
// Grouped convolutions run group by group.
#pragma once

#include "../arch/dispatch.hpp"
#include "../core/activation.hpp"
#include "../core/requantize.hpp"
#include "../ops/conv.hpp"
#include "../ops/quant.hpp"
#include "direct.hpp"
#include "epilogue.hpp"
#include "panel.hpp"

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace kiln::packed {

template <class P> constexpr index_t conv_k(const P& p) noexcept {
  return p.in_channels / p.group * p.kernel[0] * p.kernel[1] * p.kernel[2];
}
// Scratch of conv: a float band, or one float panel.
template <class P> constexpr std::size_t conv_scratch_bytes(const P& p) noexcept {
  if (direct_geometry(p)) return direct_scratch_bytes(p, 1);
  return static_cast<std::size_t>(conv_k(p)) * panel_cols * sizeof(float);
}
// Whether a QLinearConv takes the direct path: its channel quads leave 4 - C_g lanes empty when a
// group has fewer than 3 input channels (a spectrogram's 1), which the panel's quads of K avoid.
template <class P> constexpr bool qconv_direct(const P& p) noexcept {
  return direct_geometry(p) && p.in_channels / p.group >= 3;
}
// Scratch of qlinear_conv: a band of channel quads, or one uint8 panel of quads and the
// row-major rows it is built from, then for small planes their padded copies.
template <class P> constexpr std::size_t qconv_scratch_bytes(const P& p) noexcept {
  if (qconv_direct(p)) return direct_scratch_bytes(p, 4);
  return 2 * static_cast<std::size_t>(round_up(conv_k(p), 4)) * panel_cols +
         (detail::pack_from_padded_planes(p) ? detail::padded_planes_bytes(p) : 0);
}

// The int8 weight order of a QLinearConv (prepare_qconv): the window's taps for the direct path's
// channel quads, else 0 for the panel's quads of K; and the packed weight count.
template <class P> constexpr index_t qconv_channel_quad_taps(const P& p) noexcept {
  return qconv_direct(p) ? p.kernel[1] * p.kernel[2] : 0;
}
template <class P> constexpr std::size_t qconv_weight_count(const P& p) noexcept {
  const index_t taps = qconv_channel_quad_taps(p);
  const index_t k = taps > 0 ? round_up(p.in_channels / p.group, 4) * taps : conv_k(p);
  return conv_weight_count(p.out_channels, p.group, k, 4);
}

namespace detail {
// conv (below) over bands of shifted windows; weights in the same [K][conv_mr] panels.
inline void conv_direct(const conv_params& p, const float* x, const float* w, const float* bias,
                        const float* residual, float* y, void* scratch) noexcept {
  constexpr index_t NB = arch::active::f32_window_nb, MR = conv_mr;
  const direct_layout d = make_direct_layout(p);
  const index_t in_plane = p.in[1] * p.in[2], out_plane = p.out[1] * p.out[2];
  const index_t cin_g = p.in_channels / p.group, mg = p.out_channels / p.group;
  const index_t taps = p.kernel[1] * p.kernel[2], k = cin_g * taps, mblocks = ceil_div(mg, MR);
  float* const band = direct_band_start<float>(scratch);
  static_assert(NB <= direct_slack, "the last tile reads at most direct_slack positions past the band");
  for (index_t i = 0; i < direct_slack; ++i) band[cin_g * d.channel_size + i] = 0.f;  // read by the last tile
  index_t off[direct_max_taps];
  direct_offsets(p, d, off);
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t g = 0; g < p.group; ++g) {
      const float* xg = x + (n * p.in_channels + g * cin_g) * in_plane;
      const float* wg = w + g * mblocks * k * MR;
      for (index_t oh0 = 0; oh0 < p.out[1]; oh0 += d.rows) {
        for (index_t c = 0; c < cin_g; ++c)
          direct_band_channel_f32(p, d, xg + c * in_plane, oh0, band + c * d.channel_size);
        const index_t rows = p.out[1] - oh0 < d.rows ? p.out[1] - oh0 : d.rows;
        const index_t positions = (rows - 1) * d.wq + p.out[2];
        // Rows [0, count) of tile c (tw wide): output channels from block mb on. Where the band's
        // positions are the output's (by column, no dropped column), the tile's row goes to its
        // outputs in one pass with bias, residual and activation (ResNet-8's stem: a libc copy of
        // each row after an in-place pass, 0.7 of its 7 us). Else bias and activation over whole
        // tile rows, then the runs of output columns copied out (per run, a plane a few columns
        // wide, DS-CNN's stem: 5, left a third of the layer in short masked loops).
        const auto store = [&](index_t mb, index_t count, float* c, index_t tw, index_t j0, index_t width) {
          with_activation(p.act, [&](auto act) {  // around the stores only: one copy of the tile
            for (index_t r = 0; r < count; ++r) {
              const index_t m = g * mg + mb * MR + r;
              const float b = bias ? bias[m] : 0.f;
              float* ym = y + (n * p.out_channels + m) * out_plane + oh0 * p.out[2];
              float* cr = c + r * tw;
              if (d.wq == p.out[2]) {
                store_row(ym + j0, residual ? residual + (ym - y) + j0 : nullptr, cr, b, width, act);
              } else if (residual) {
                store_row(cr, nullptr, cr, b, tw, act_none{});
                add_output_runs(cr, j0, width, d.wq, p.out[2], residual + (ym - y), ym, act);
              } else {
                store_row(cr, nullptr, cr, b, tw, act);
                store_output_runs<arch::active::f32_window_nb>(cr, j0, width, d.wq, p.out[2], ym);
              }
            }
          });
        };
        const auto band_rows = [&](index_t j0) { return arch::window_rows<float>{band + j0, d.channel_size, taps, off}; };
        f32_window_sweep(cin_g, wg, k * MR, mblocks, positions, band_rows,
                         [&](index_t mb, index_t blocks, float* c, index_t tw, index_t j0, index_t width) {
                           const index_t left = mg - mb * MR;
                           store(mb, left < blocks * MR ? left : blocks * MR, c, tw, j0, width);
                         });
      }
    }
}

// The requantization of one weight panel's output channels [m0, m0 + rows): scale, its integer
// form, and the (shifted) weight zero point.
template <index_t MR> struct block_requant {
  float s[MR] = {};
  requant_params rq[MR] = {};
  std::int32_t wz[MR] = {};
  block_requant(const qconv_params& p, const float* scale, const std::int32_t* w_zp, index_t m0,
                index_t rows) noexcept {
    for (index_t r = 0; r < rows; ++r) {
      s[r] = scale[p.rq_count > 1 ? m0 + r : 0];
      rq[r] = requant_from_float(s[r]);
      wz[r] = w_zp ? w_zp[p.w_zp_count > 1 ? m0 + r : 0] : 0;
    }
  }
};

// A panel tile's rows [0, rows) of block req (TW wide, `width` columns kept) to y, rows
// out_plane apart: bias and the weight zero points' column term, then requantization. A function
// of its own, not a lambda capturing the loop's state by reference: on the M4 that lambda left
// MobileNet int8 0.4 M instructions (1.5 %) above the same loop written out.
template <index_t TW, index_t MR, class Y>
inline void requantize_panel_rows(const block_requant<MR>& req, index_t rows, const std::int32_t* bias,
                                  const std::int32_t* colsum, std::int32_t* c, index_t width, std::int32_t yz, Y* y,
                                  index_t out_plane) noexcept {
  arch::active::requantize_tile<TW>(c, rows, width, bias, req.wz, colsum, req.s, req.rq, yz, y, out_plane);
}

// The same for a window tile's rows, into q (rows pitch apart), out of line where the tiles are
// wide: inlined into the tile's loop, it took registers from the accumulators pinned there
// (ResNet-18 int8 1.14x slower), where requantizing row by row in two passes had not. On a
// Cortex-M (2-column tiles) the call would cost more than the 8 outputs it requantizes.
template <index_t TW, index_t MR, class Y>
KILN_NOINLINE void requantize_window_rows_out_of_line(const block_requant<MR>& req, index_t rows,
                                                      const std::int32_t* bias, const std::int32_t* colsum,
                                                      std::int32_t* c, index_t width, std::int32_t yz, Y* q,
                                                      index_t pitch) noexcept {
  requantize_panel_rows<TW>(req, rows, bias, colsum, c, width, yz, q, pitch);
}
template <index_t TW, index_t MR, class Y>
inline void requantize_window_rows(const block_requant<MR>& req, index_t rows, const std::int32_t* bias,
                                   const std::int32_t* colsum, std::int32_t* c, index_t width, std::int32_t yz,
                                   Y* q, index_t pitch) noexcept {
  if constexpr (TW >= 16) requantize_window_rows_out_of_line<TW>(req, rows, bias, colsum, c, width, yz, q, pitch);
  else requantize_panel_rows<TW>(req, rows, bias, colsum, c, width, yz, q, pitch);
}

// A 2-D 1x1 window with a stride or padding (ResNet's shortcuts): output position (oh, ow) reads
// input (oh * s - pad, ow * s - pad) only, so each quad of channels goes from x straight into the
// panel, an output row's run at a time, by the architecture's strided quad rows (vector loads
// under masks on AVX-512). Gathering a byte per tap into rows first, then interleaving them, took
// ResNet-8 int8's two shortcuts (131k MACs each) as long as a 3x3 layer of 9x their MACs.
template <class P> constexpr bool is_window_1x1_2d(const P& p) noexcept {
  return p.in[0] == 1 && p.out[0] == 1 && p.kernel[0] == 1 && p.kernel[1] == 1 && p.kernel[2] == 1;
}

template <class P, class X>
inline void pack_window_1x1_quads(const P& p, const X* xg, index_t cin_g, index_t p0, index_t cols, std::uint8_t pad,
                                  std::int32_t offset, std::uint8_t* panel) noexcept {
  constexpr index_t row = panel_cols * 4;
  const index_t in_plane = p.in[1] * p.in[2];
  row_run runs[panel_cols];
  const index_t nruns = output_row_runs(p0, cols, p.out, runs);
  for (index_t q = 0; q < ceil_div(cin_g, 4); ++q) {
    std::uint8_t* const dst = panel + q * row;
    std::uint8_t pads[4];  // channels past the last are zero activations, against zero weights
    for (index_t e = 0; e < 4; ++e) pads[e] = 4 * q + e < cin_g ? pad : 0;
    for (index_t r = 0; r < nruns; ++r) {
      const row_run& run = runs[r];
      const index_t ih = run.oh * p.stride[1] - p.pad[1];
      const X* rows[4];  // null: a row of padding, or a channel past the last
      for (index_t e = 0; e < 4; ++e)
        rows[e] = ih >= 0 && ih < p.in[1] && 4 * q + e < cin_g ? xg + (4 * q + e) * in_plane + ih * p.in[2] : nullptr;
      arch::active::strided_quad_rows(dst + 4 * run.j, row, 1, run.count, rows, 0, p.in[2],
                                      run.ow * p.stride[2] - p.pad[2], p.stride[2], pads, offset);
    }
    std::memset(dst + 4 * cols, 0, 4 * static_cast<std::size_t>(panel_cols - cols));  // read by the last tile
  }
}

// qlinear_conv (below) over bands of channel quads; weights in channel-quad order.
template <class X, class Y>
inline void qlinear_conv_direct(const qconv_params& p, const X* x, const X* x_zp, const std::int8_t* w,
                                const std::int32_t* w_zp, const float* scale, const std::int32_t* bias,
                                const Y* y_zp, Y* y, void* scratch) noexcept {
  constexpr index_t NB = arch::active::s8_window_nb, MR = conv_mr;
  constexpr std::int32_t offset = std::is_signed_v<X> ? 128 : 0;
  const std::int32_t yz = y_zp ? static_cast<std::int32_t>(y_zp[0]) : 0;
  const X pad = x_zp ? x_zp[0] : X(0);
  const direct_layout d = make_direct_layout(p);
  const index_t in_plane = p.in[1] * p.in[2], out_plane = p.out[1] * p.out[2];
  const index_t cin_g = p.in_channels / p.group, mg = p.out_channels / p.group, quads = ceil_div(cin_g, 4);
  const index_t taps = p.kernel[1] * p.kernel[2], k4 = quads * taps, mblocks = ceil_div(mg, MR);
  std::uint8_t* const band = direct_band_start<std::uint8_t>(scratch);  // [quad][phase planes][position][4]
  static_assert(NB <= direct_slack, "the last tile reads at most direct_slack positions past the band");
  std::memset(band + 4 * quads * d.channel_size, 0, 4 * direct_slack);  // read by the last tile
  index_t off[direct_max_taps];
  direct_offsets(p, d, off);
  for (index_t t = 0; t < taps; ++t) off[t] *= 4;
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t g = 0; g < p.group; ++g) {
      const X* xg = x + (n * p.in_channels + g * cin_g) * in_plane;
      const std::int8_t* wg = w + g * mblocks * k4 * 4 * MR;
      for (index_t oh0 = 0; oh0 < p.out[1]; oh0 += d.rows) {
        for (index_t q4 = 0; q4 < quads; ++q4) {
          // Channels past the last (in the last quad) are zero activations, against zero weights.
          const X* planes[4];
          std::uint8_t pads[4];
          for (index_t k = 0; k < 4; ++k) {
            const index_t c = 4 * q4 + k;
            planes[k] = c < cin_g ? xg + c * in_plane : nullptr;
            pads[k] = c < cin_g ? static_cast<std::uint8_t>(static_cast<std::int32_t>(pad) + offset) : 0;
          }
          direct_band_quad(p, d, planes, oh0, pads, offset, band + 4 * q4 * d.channel_size);
        }
        const index_t rows = p.out[1] - oh0 < d.rows ? p.out[1] - oh0 : d.rows;
        const index_t positions = (rows - 1) * d.wq + p.out[2];
        for (index_t mb = 0; mb < mblocks; ++mb) {
          const std::int8_t* a = wg + mb * k4 * 4 * MR;
          const index_t rows_m = mg - mb * MR < MR ? mg - mb * MR : MR;
          const block_requant<MR> req(p, scale, w_zp, g * mg + mb * MR, rows_m);
          for_each_window_tile<NB, arch::active::s8_window_step>(positions, [&](index_t j0, index_t width, auto tile) {
            constexpr index_t W = decltype(tile)::value;
            const arch::window_rows<std::uint8_t> rows_b{band + 4 * j0, 4 * d.channel_size, taps, off};
            // Sized for the widest tile: GCC 12 warns of a narrow tile's bounds where no index
            // reaches them (-Waggressive-loop-optimizations), and ICEs on MR * NB captured here.
            std::int32_t c[conv_mr * arch::active::s8_window_nb];
            arch::active::int8_tile<MR, W>(quads, a, 4, 4 * MR, rows_b, c);
            std::int32_t colsum[arch::active::s8_window_nb] = {};
            if (w_zp)  // the weight zero points' term needs each column's sum of activations
              rows_b.each(quads, [&](const std::uint8_t* b) {
                for (index_t j = 0; j < W; ++j) colsum[j] += b[4 * j] + b[4 * j + 1] + b[4 * j + 2] + b[4 * j + 3];
              });
            // The block's rows in one requantize_tile (bias and column term added in the same pass
            // as the requantization). Where the wide band drops no column (by column; a window
            // one column wide; a stride as wide as the kernel), a tile's columns are consecutive
            // outputs of each row, requantized where they go: through a buffer, GCC 12 copied
            // each 64-byte row by `rep movsl`, 7 % of ResNet-8 int8's 32x32 layers. Otherwise
            // into q, then each row's runs of output columns copied out.
            Y* const ym = y + (n * p.out_channels + g * mg + mb * MR) * out_plane + oh0 * p.out[2];
            const std::int32_t* const bm = bias + g * mg + mb * MR;
            if (d.wq == p.out[2]) {
              requantize_window_rows<W>(req, rows_m, bm, colsum, c, width, yz, ym + j0, out_plane);
              return;
            }
            Y q[conv_mr * arch::active::s8_window_nb];
            KILN_BEGIN_IGNORE_DEAD_PATH_BOUNDS
            requantize_window_rows<W>(req, rows_m, bm, colsum, c, width, yz, q, W);
            KILN_END_IGNORE_DEAD_PATH_BOUNDS
            for (index_t r = 0; r < rows_m; ++r)
              store_output_runs<W>(q + r * W, j0, width, d.wq, p.out[2], ym + r * out_plane);
          });
        }
      }
    }
}

// A pointwise layer (1x1 window, stride 1, no padding) whose activations the tiles read where they
// are: row k of a tile's operand is input channel k's plane. No panel is packed, and the tiles are
// the window path's, 64 positions on AVX-512 where a panel's are 32 (16 accumulators, not 8): the
// 64-channel 1x1 kernel on 28x28, 80 -> 69 us. Only for planes of whole window steps: every tile is
// then full and every row starts on a vector boundary. Where rows do not (DS-CNN's 125
// positions), loads split across cache lines and the last positions need a panel anyway: its
// pointwise layers got slower this way (8 -> 10.5 us).
template <index_t Step, class P> constexpr bool pointwise_in_place(const P& p) noexcept {
  for (int a = 0; a < 3; ++a)
    if (p.kernel[a] != 1 || p.stride[a] != 1 || p.in[a] != p.out[a]) return false;
  return p.out[0] * p.out[1] * p.out[2] % Step == 0;
}
inline void conv_pointwise_in_place(const conv_params& p, const float* x, const float* w, const float* bias,
                                    const float* residual, float* y) noexcept {
  constexpr index_t NB = arch::active::f32_window_nb, Step = arch::active::f32_window_step, MR = conv_mr;
  const index_t plane = p.out[0] * p.out[1] * p.out[2];
  const index_t cin_g = p.in_channels / p.group, mg = p.out_channels / p.group, mblocks = ceil_div(mg, MR);
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t g = 0; g < p.group; ++g) {
      const float* xg = x + (n * p.in_channels + g * cin_g) * plane;
      const float* wg = w + g * mblocks * cin_g * MR;
      // Positions outer, weight blocks inner: a tile's activations stay in L1 across the blocks.
      for_each_window_tile<NB, Step>(plane, [&](index_t j0, index_t, auto tile) {
        constexpr index_t W = decltype(tile)::value;  // plane is a multiple of Step: every tile is full
        for (index_t mb = 0; mb < mblocks; ++mb) {
          float c[conv_mr * arch::active::f32_window_nb];  // not MR * NB: GCC 12 ICEs on those captured
          arch::active::f32_tile<conv_mr, W>(cin_g, wg + mb * cin_g * conv_mr, 1, conv_mr,
                                             arch::panel_rows<float>{xg + j0, plane}, c);
          const index_t rows = mg - mb * conv_mr < conv_mr ? mg - mb * conv_mr : conv_mr;
          with_activation(p.act, [&](auto act) {
            for (index_t r = 0; r < rows; ++r) {
              const index_t m = g * mg + mb * conv_mr + r;
              float* yr = y + (n * p.out_channels + m) * plane + j0;
              store_row(yr, residual ? residual + (yr - y) : nullptr, c + r * W, bias ? bias[m] : 0.f, W, act);
            }
          });
        }
      });
    }
}

// conv and conv_residual (below); residual may be null.
inline void conv_into(const conv_params& p, const float* x, const float* w, const float* bias,
                      const float* residual, float* y, void* scratch) noexcept {
  if (direct_geometry(p)) {
    conv_direct(p, x, w, bias, residual, y, scratch);
    return;
  }
  if (pointwise_in_place<arch::active::f32_window_step>(p)) {
    conv_pointwise_in_place(p, x, w, bias, residual, y);
    return;
  }
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
        // Rows of block mb in tile c (NB wide), panel columns [j0, j0 + width), to y.
        const auto store = [&](index_t mb, const float* c, index_t j0) {
          const index_t rows = mg - mb * MR < MR ? mg - mb * MR : MR;
          const index_t width = cols - j0 < NB ? cols - j0 : NB;
          with_activation(p.act, [&](auto act) {  // around the stores only: one copy of the tile
            for (index_t r = 0; r < rows; ++r) {
              const index_t m = g * mg + mb * MR + r;
              const float b = bias ? bias[m] : 0.f;
              float* yr = y + (n * p.out_channels + m) * out_plane + p0 + j0;
              const float* rr = residual ? residual + (yr - y) : nullptr;
              if (width == NB) store_row(yr, rr, c + r * NB, b, NB, act);
              else store_row(yr, rr, c + r * NB, b, width, act);
            }
          });
        };
        // G blocks of output channels per tile where the target holds a window tile's
        // accumulators (AVX-512: 16, two blocks of a panel tile's 8).
        constexpr index_t G = arch::active::f32_window_nb / NB;
        index_t mb = 0;
        if constexpr (G > 1)
          for (; mb + G <= mblocks; mb += G)
            for (index_t j0 = 0; j0 < cols; j0 += NB) {
              float c[G * MR * NB];
              arch::active::f32_tile_row_blocks<G, MR, NB>(k, wg + mb * k * MR, 1, MR, k * MR,
                                                           arch::panel_rows<float>{panel + j0, panel_cols}, c);
              for (index_t b = 0; b < G; ++b) store(mb + b, c + b * MR * NB, j0);
            }
        for (; mb < mblocks; ++mb)
          for (index_t j0 = 0; j0 < cols; j0 += NB) {
            float c[MR * NB];
            arch::active::f32_tile<MR, NB>(k, wg + mb * k * MR, 1, MR, panel + j0, panel_cols, c);
            store(mb, c, j0);
          }
      }
    }
}
}  // namespace detail

// y = act(bias + conv(x, w)); w packed by pack_conv_weights (quad 1); scratch: conv_scratch_bytes.
inline void conv(const conv_params& p, const float* x, const float* w, const float* bias, float* y,
                 void* scratch) noexcept {
  detail::conv_into(p, x, w, bias, nullptr, y, scratch);
}

// y = act(bias + conv(x, w) + residual): a Conv and the Add after it (kiln::conv_residual).
inline void conv_residual(const conv_params& p, const float* x, const float* w, const float* bias,
                          const float* residual, float* y, void* scratch) noexcept {
  detail::conv_into(p, x, w, bias, residual, y, scratch);
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
  if (qconv_direct(p)) {
    detail::qlinear_conv_direct(p, x, x_zp, w, w_zp, scale, bias, y_zp, y, scratch);
    return;
  }
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
  std::uint8_t* const planes = staging + k4 * row;  // the padded planes (pack_from_padded_planes)
  const auto to_u8 = [](X v) { return static_cast<std::uint8_t>(static_cast<std::int32_t>(v) + offset); };
  const bool pointwise = detail::is_pointwise(p);
  const bool window_1x1 = !pointwise && detail::is_window_1x1_2d(p);
  const std::uint8_t zero_pad[4] = {};  // channels past the last, and positions past the plane
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t g = 0; g < p.group; ++g) {
      const X* xg = x + (n * p.in_channels + g * cin_g) * in_plane;
      const std::int8_t* wg = w + g * mblocks * k4 * 4 * MR;
      if (detail::pack_from_padded_planes(p)) detail::pad_planes(p, xg, cin_g, pad, planes, to_u8);
      for (index_t p0 = 0; p0 < out_plane; p0 += panel_cols) {
        const index_t cols = out_plane - p0 < panel_cols ? out_plane - p0 : panel_cols;
        if (pointwise) {  // each quad of channels straight from x (the arch's interleave, in vectors)
          for (index_t q = 0; q < k4; ++q) {
            const X* rows[4];
            for (index_t e = 0; e < 4; ++e) rows[e] = 4 * q + e < cin_g ? xg + (4 * q + e) * in_plane : nullptr;
            arch::active::strided_quad_rows(panel + q * row, row, 1, panel_cols, rows, 0, out_plane, p0, 1, zero_pad,
                                            offset);
          }
        } else if (window_1x1) {
          detail::pack_window_1x1_quads(p, xg, cin_g, p0, cols, to_u8(pad), offset, panel);
        } else if (detail::quads_from_planes(p)) {
          detail::pack_quads_from_planes(p, planes, cin_g, p0, cols, panel);
        } else {
          // Pack row by row into the staging rows (contiguous copies), then interleave each 4 rows
          // into column quads, a word per column: both loops vectorize, byte-wise quad stores don't.
          for (index_t kk = 0; kk < k4 * 4; ++kk)
            for (index_t j = kk < k ? cols : 0; j < panel_cols; ++j) staging[kk * panel_cols + j] = 0;
          if (detail::pack_from_padded_planes(p))
            detail::pack_panel_from_planes(p, planes, cin_g, p0, cols, staging);
          else
            detail::pack_panel<1>(p, xg, cin_g, p0, cols, pad, staging, to_u8);
          for (index_t q = 0; q < k4; ++q) {
            const std::uint8_t* r0 = staging + 4 * q * panel_cols;
            std::uint32_t words[panel_cols];
            for (index_t j = 0; j < panel_cols; ++j)
              words[j] = static_cast<std::uint32_t>(r0[j]) | static_cast<std::uint32_t>(r0[panel_cols + j]) << 8 |
                         static_cast<std::uint32_t>(r0[2 * panel_cols + j]) << 16 |
                         static_cast<std::uint32_t>(r0[3 * panel_cols + j]) << 24;
            std::memcpy(panel + q * row, words, sizeof words);
          }
        }
        std::int32_t colsum[panel_cols] = {};
        if (w_zp)
          for (index_t q = 0; q < k4; ++q)
            for (index_t j = 0; j < cols; ++j)
              for (index_t e = 0; e < 4; ++e) colsum[j] += panel[q * row + 4 * j + e];
        // Block mb's requantization, made once per block: requant_from_float per row and tile
        // took MobileNet int8 on the M4 from 25.6 to 27.1 M instructions (2-column tiles there).
        const auto block = [&](index_t mb) {
          return detail::block_requant<MR>(p, scale, w_zp, g * mg + mb * MR, mg - mb * MR < MR ? mg - mb * MR : MR);
        };
        // Block mb's rows of tile c (tw wide), columns [j0, j0 + width) of the panel, to y.
        const auto finish = [&](auto tw, index_t mb, const detail::block_requant<MR>& req, std::int32_t* c,
                                index_t j0, index_t width) {
          const index_t m0 = g * mg + mb * MR;
          detail::requantize_panel_rows<decltype(tw)::value>(req, mg - mb * MR < MR ? mg - mb * MR : MR, bias + m0,
                                                             colsum + j0, c, width, yz,
                                                             y + (n * p.out_channels + m0) * out_plane + p0 + j0,
                                                             out_plane);
        };
        index_t mb = 0;
        // A panel of at most half a tile (MobileNet's 6x6 planes: 32 positions, then 4) runs as a
        // half-wide tile over two blocks of output channels: a full tile's accumulators, half the
        // work. (Half-wide over one block was slower: 4 accumulators, too few chains.)
        if constexpr (arch::active::s8_row_blocks)
          if (cols <= NB / 2)
            for (; mb + 2 <= mblocks; mb += 2) {
              std::int32_t c[MR * NB];
              arch::active::int8_tile_row_blocks<2, MR, NB / 2>(k4, wg + mb * k4 * 4 * MR, 4, 4 * MR, k4 * 4 * MR,
                                                                panel, row, c);
              finish(std::integral_constant<index_t, NB / 2>{}, mb, block(mb), c, 0, cols);
              finish(std::integral_constant<index_t, NB / 2>{}, mb + 1, block(mb + 1), c + MR * (NB / 2), 0, cols);
            }
        for (; mb < mblocks; ++mb) {
          const detail::block_requant<MR> req = block(mb);
          for (index_t j0 = 0; j0 < cols; j0 += NB) {
            std::int32_t c[MR * NB];
            arch::active::int8_tile<MR, NB>(k4, wg + mb * k4 * 4 * MR, 4, 4 * MR, panel + 4 * j0, row, c);
            finish(std::integral_constant<index_t, NB>{}, mb, req, c, j0, cols - j0 < NB ? cols - j0 : NB);
          }
        }
      }
    }
}

}  // namespace kiln::packed
