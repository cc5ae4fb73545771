// Pointwise (1x1) convolutions writing channel-blocked outputs (packed/layout.hpp), the layers
// between depthwise ones in MobileNet and DS-CNN. A tile is MR output positions by NB output
// channels: each input element is broadcast against the weight vectors of NB channels (ONNX
// Runtime's NCHWc pointwise kernel works the same way), and a tile's outputs are whole channel
// blocks of consecutive positions, stored as computed. The input may be planar or blocked: both
// put input channel c of position pos at (c / 16) * 16 * H * W + (c % 16) * x_ls + pos * x_ps.
#pragma once

#include "../arch/dispatch.hpp"
#include "../ops/conv.hpp"
#include "epilogue.hpp"
#include "layout.hpp"

#include <type_traits>

namespace kiln::packed {

// 2-D (or 1-D), a 1x1 kernel at stride 1 without padding (the output as large as the input), one
// group, whole blocks of output channels.
template <class P> constexpr bool pointwise_applies(const P& p) noexcept {
  return p.group == 1 && p.out_channels % channel_block == 0 && p.kernel[0] == 1 && p.kernel[1] == 1 &&
         p.kernel[2] == 1 && p.in[0] == 1 && p.out[0] == 1 && p.stride[1] == 1 && p.stride[2] == 1 &&
         p.pad[1] == 0 && p.pad[2] == 0 && p.out[1] == p.in[1] && p.out[2] == p.in[2];
}

namespace detail {
// Tiles of MR positions over all of a batch item's positions from `pos`, then the act in place
// (each block's MR * 16 outputs are contiguous); returns the first position left.
template <index_t MR, index_t NB, class Act>
inline index_t pointwise_tiles(index_t pos, index_t positions, index_t k, const float* x, index_t x_bs, index_t x_ls,
                               index_t x_ps, const float* w, const float* bias, float* y, Act act) noexcept {
  constexpr index_t L = channel_block;
  for (; pos + MR <= positions; pos += MR) {
    float* const yt = y + pos * L;
    arch::active::f32_block_tile<MR, NB>(k, x + pos * x_ps, x_bs, x_ls, x_ps, w, k * L, bias, yt, positions * L);
    if constexpr (!std::is_same_v<Act, act_none>)
      for (index_t b = 0; b < NB / L; ++b) arch::active::activate_row(yt + b * positions * L, yt + b * positions * L, MR * L, act);
  }
  return pos;
}

// The positions left after the full tiles (fewer than MR) as one tile of exactly that many:
// calls tile(std::integral_constant<index_t, R>{}) for R = rest. Tiles of 4 and then 1 left a
// 3x3 plane's last position in a tile of 2 accumulators, waiting on their latency.
template <index_t MR, class Tile> inline void with_rest_tile(index_t rest, Tile&& tile) noexcept {
  if constexpr (MR > 1) {
    if (rest == MR - 1) tile(std::integral_constant<index_t, MR - 1>{});
    else with_rest_tile<MR - 1>(rest, tile);
  }
}

template <index_t NB, class Act>
inline void pointwise_columns(index_t positions, index_t k, const float* x, index_t x_bs, index_t x_ls, index_t x_ps,
                              const float* w, const float* bias, float* y, Act act) noexcept {
  constexpr index_t MR = arch::active::f32_block_tile_rows;
  const index_t pos = pointwise_tiles<MR, NB>(0, positions, k, x, x_bs, x_ls, x_ps, w, bias, y, act);
  with_rest_tile<MR>(positions - pos, [&](auto rows) {
    pointwise_tiles<decltype(rows)::value, NB>(pos, positions, k, x, x_bs, x_ls, x_ps, w, bias, y, act);
  });
}
}  // namespace detail

// y (blocked) = act(conv1x1(x) + bias) for x in layout In; w packed by pack_pointwise_weights.
template <channel_layout In>
inline void pointwise(const conv_params& p, const float* x, const float* w, const float* bias, float* y) noexcept {
  constexpr index_t L = channel_block, NB = arch::active::f32_block_tile_cols;
  static_assert(L == arch::generic::depthwise_lanes && NB % L == 0, "tiles of whole channel blocks");
  const index_t positions = p.out[1] * p.out[2], k = p.in_channels, m = p.out_channels;
  const index_t x_bs = L * positions;
  const index_t x_ls = In == channel_layout::blocked ? 1 : positions, x_ps = In == channel_layout::blocked ? L : 1;
  detail::with_activation(p.act, [&](auto act) {
    for (index_t n = 0; n < p.batch; ++n) {
      const float* const xn = x + n * k * positions;
      index_t j = 0;
      for (; NB > L && j + NB <= m; j += NB)
        detail::pointwise_columns<NB>(positions, k, xn, x_bs, x_ls, x_ps, w + j * k, bias ? bias + j : nullptr,
                                      y + (n * m + j) * positions, act);
      for (; j < m; j += L)
        detail::pointwise_columns<L>(positions, k, xn, x_bs, x_ls, x_ps, w + j * k, bias ? bias + j : nullptr,
                                     y + (n * m + j) * positions, act);
    }
  });
}

}  // namespace kiln::packed
