// Packed dense layers (Gemm / MatMul with constant weights): Y = act(alpha * A * B + beta * C)
// with B packed at codegen time into column panels (packed/layout.hpp). A's rows are the tile's
// broadcast side, read in place; four rows at a time share each weight load.
#pragma once

#include "../arch/dispatch.hpp"
#include "../core/activation.hpp"
#include "../ops/conv.hpp"
#include "../ops/gemm.hpp"
#include "epilogue.hpp"
#include "panel.hpp"
#include "layout.hpp"

#include <type_traits>

namespace kiln::packed {

namespace detail {
// Calls f(std::integral_constant<index_t, W>{}) for a panel width W in {16, 32, 48, 64}.
template <class F> inline void with_panel_width(index_t width, F&& f) noexcept {
  static_assert(dense_nr == 64 && dense_tail == 16, "widths below follow dense_nr and dense_tail");
  switch (width) {
    case 16: f(std::integral_constant<index_t, 16>{}); break;
    case 32: f(std::integral_constant<index_t, 32>{}); break;
    case 48: f(std::integral_constant<index_t, 48>{}); break;
    default: f(std::integral_constant<index_t, 64>{}); break;
  }
}

// Calls tile(r, std::integral_constant<index_t, R>{}) for rows [r, r + R) of [0, rows) in tiles of
// at most 4 rows, as even as they go where arch::active::even_row_tiles: 9 rows as 3 + 3 + 3, not
// 4 + 4 + 1. A 1-row tile has a quarter of the independent multiply-adds to hide their latency and
// runs at half the rate of the others: conv1x1_small_plane, 256 -> 256 channels on a 3x3 plane,
// 7.9 against 6.4 us. Every output's sum is the same whatever its tile.
// Forced inline, so its tile lambdas are too (KILN_ALWAYS_INLINE): with the int8 QGemm's lambda
// left to GCC's choice, MobileNet int8 took 72 us on the host where it takes 54.
template <class Tile> KILN_ALWAYS_INLINE inline void for_each_row_tile(index_t rows, Tile&& tile) noexcept {
  if constexpr (!arch::active::even_row_tiles) {  // 4s, then 1s
    index_t r = 0;
    for (; r + 4 <= rows; r += 4) tile(r, std::integral_constant<index_t, 4>{});
    for (; r < rows; ++r) tile(r, std::integral_constant<index_t, 1>{});
    return;
  }
  if (rows <= 0) return;
  const index_t tiles = (rows + 3) / 4, base = rows / tiles, longer = rows % tiles;
  index_t r = 0;
  for (index_t t = 0; t < tiles; ++t) {
    switch (t < longer ? base + 1 : base) {
      case 4: tile(r, std::integral_constant<index_t, 4>{}); r += 4; break;
      case 3: tile(r, std::integral_constant<index_t, 3>{}); r += 3; break;
      case 2: tile(r, std::integral_constant<index_t, 2>{}); r += 2; break;
      default: tile(r, std::integral_constant<index_t, 1>{}); r += 1; break;
    }
  }
}
}  // namespace detail

// gemm_params as for kiln::gemm; trans_b was applied when B was packed (pack_dense_weights).
inline void dense(const gemm_params& p, const float* a, const float* b, const float* c, float* y) noexcept {
  const index_t a_rs = p.trans_a ? 1 : p.k, a_ks = p.trans_a ? p.m : 1;
  const float alpha = static_cast<float>(p.alpha), beta = static_cast<float>(p.beta);
  const float* panel = b;
  for (index_t n0 = 0; n0 < p.n; n0 += dense_nr) {
    const index_t width = dense_panel_width(p.n, n0);
    const index_t cols = p.n - n0 < width ? p.n - n0 : width;
    detail::with_panel_width(width, [&](auto w) {
      constexpr index_t W = decltype(w)::value;
      // The activation's switch once per tile, not per element (epilogue.hpp), and around the
      // stores only: one copy of the tiles, not one per activation kind.
      auto finish = [&](index_t i0, index_t rows, const float* t) {
        detail::with_activation(p.act, [&](auto act) {
          for (index_t r = 0; r < rows; ++r) {
            float* yr = y + (i0 + r) * p.n + n0;
            for (index_t j = 0; j < cols; ++j) {
              float v = alpha * t[r * W + j];
              if (c) v += beta * c[(i0 + r) * p.c_stride_m + (n0 + j) * p.c_stride_n];
              yr[j] = act(v);
            }
          }
        });
      };
      detail::for_each_row_tile(p.m, [&](index_t i, auto mr) KILN_ALWAYS_INLINE {
        constexpr index_t MR = decltype(mr)::value;
        float t[MR * W];
        arch::active::f32_tile<MR, W>(p.k, a + i * a_rs, a_rs, a_ks, panel, W, t);
        finish(i, MR, t);
      });
    });
    panel += static_cast<std::size_t>(width) * static_cast<std::size_t>(p.k);
  }
}

// A 1x1 convolution (no groups, stride 1, no padding) over a plane of few positions, e.g. the
// 7x7 or 3x3 planes at the end of a CNN: the conv kernel's panel of panel_cols positions would be
// mostly empty there, so the roles swap: positions are the tile's broadcast rows (read in place
// from the NCHW input) and output channels its vector columns, with the weights packed as dense
// weights (pack_dense_weights of W^T). Y[m][i] = act(bias[m] + sum_c W[m][c] X[c][i]).
inline bool conv1x1_small_plane_applies(const conv_params& p) noexcept {
  return p.group == 1 && detail::is_pointwise(p) && p.out[0] * p.out[1] * p.out[2] < 2 * panel_cols;
}

namespace detail {
// conv1x1_small_plane and its residual form (below); residual may be null.
inline void conv1x1_small_plane_into(const conv_params& p, const float* x, const float* w, const float* bias,
                                     const float* residual, float* y) noexcept {
  const index_t plane = p.out[0] * p.out[1] * p.out[2], k = p.in_channels, m = p.out_channels;
  for (index_t n = 0; n < p.batch; ++n) {
    const float* xn = x + n * k * plane;
    float* yn = y + n * m * plane;
    const float* rn = residual ? residual + n * m * plane : nullptr;
    const float* panel = w;
    for (index_t n0 = 0; n0 < m; n0 += dense_nr) {
      const index_t width = dense_panel_width(m, n0);
      const index_t cols = m - n0 < width ? m - n0 : width;
      detail::with_panel_width(width, [&](auto wc) {
        constexpr index_t W = decltype(wc)::value;
        {
          auto finish = [&](index_t i0, index_t rows, const float* t) {
            with_activation(p.act, [&](auto act) {
              for (index_t j = 0; j < cols; ++j) {
                const float b = bias ? bias[n0 + j] : 0.f;
                for (index_t r = 0; r < rows; ++r) {
                  const index_t at = (n0 + j) * plane + i0 + r;
                  const float v = t[r * W + j] + b;
                  yn[at] = act(rn ? v + rn[at] : v);
                }
              }
            });
          };
          for_each_row_tile(plane, [&](index_t i, auto mr) KILN_ALWAYS_INLINE {
            constexpr index_t MR = decltype(mr)::value;
            float t[MR * W];
            arch::active::f32_tile<MR, W>(k, xn + i, 1, plane, panel, W, t);
            finish(i, MR, t);
          });
        }
      });
      panel += static_cast<std::size_t>(width) * static_cast<std::size_t>(k);
    }
  }
}
}  // namespace detail

inline void conv1x1_small_plane(const conv_params& p, const float* x, const float* w, const float* bias,
                                float* y) noexcept {
  detail::conv1x1_small_plane_into(p, x, w, bias, nullptr, y);
}
// y = act(bias + conv(x, w) + residual): a Conv and the Add after it (kiln::conv_residual).
inline void conv1x1_small_plane_residual(const conv_params& p, const float* x, const float* w, const float* bias,
                                         const float* residual, float* y) noexcept {
  detail::conv1x1_small_plane_into(p, x, w, bias, residual, y);
}

}  // namespace kiln::packed
