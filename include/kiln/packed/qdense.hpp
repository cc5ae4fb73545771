// Packed int8 dense layers: com.microsoft QGemm and QLinearMatMul with constant weights B,
//   Y = requantize((A - a_zp) (B - b_zp) + C)     (QGemm without y_scale: float(acc) * scale).
// B is packed at codegen time into the column panels of packed/layout.hpp with k in quads:
// panel of width W (dense_panel_width) = [ceil(K/4)][W][4] int8, uint8 weights shifted by -128
// (their zero points too), k beyond K and columns beyond N zero. A's rows are packed at run time,
// up to qdense_rows at a time, into the layer's scratch as uint8 quads ([row][ceil(K/4)*4], int8 A
// shifted by +128, which shifts its zero point; Cortex-M splits each quad into halfword pairs,
// arch dense_a_quad_bytes), so the tile (arch::active::int8_dense_tile)
// multiplies uint8 activations (broadcast side) by int8 weights (vector side). The offsets come
// back out as in packed/conv.hpp:
//   sum (a - az)(b - bz) = sum a'b' - az' sum b' - bz' sum a' + K az' bz'
// Codegen folds C (when it does not vary along M) - az' sum_k b' + K az' bz' into a per-column
// bias (prepare_qdense); the kernel subtracts bz'[j] * sum_k a'[i] when some bz' is non-zero, and
// adds a C that varies along M at run time. Every integer equals the reference kernel's
// (kiln::qgemm, kiln::qgemm_float, kiln::qlinear_matmul): the epilogue adds modulo 2^32, so only
// the final accumulator, which codegen bounds for the reference kernel too, has to fit in int32;
// codegen also keeps K <= 16384 so the tile's own sums stay inside int32.
#pragma once

#include "../arch/dispatch.hpp"
#include "../core/requantize.hpp"
#include "../ops/qlinear.hpp"
#include "../ops/quant.hpp"
#include "dense.hpp"
#include "layout.hpp"
#include "panel.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace kiln::packed {

inline constexpr index_t qdense_rows = 32;  // rows of A packed per block (scratch)

// Elements of packed int8 dense weights: the float layout's count with K rounded up to quads.
constexpr std::size_t qdense_weight_count(index_t n, index_t k) noexcept { return dense_weight_count(n, round_up(k, 4)); }

// Scratch of qdense: the row sums (int32) and quads of up to qdense_rows rows of A, at the most
// bytes a quad any target packs (arch dense_a_quad_bytes: the header's arena is the same for all).
inline constexpr index_t qdense_max_quad_bytes = 8;
constexpr std::size_t qdense_scratch_bytes(index_t m, index_t k) noexcept {
  const index_t rows = m < qdense_rows ? m : qdense_rows;
  return static_cast<std::size_t>(rows) *
         (sizeof(std::int32_t) + static_cast<std::size_t>(ceil_div(k, 4) * qdense_max_quad_bytes));
}

// Packs B's element (kk, j) = b[kk * b_row + j * b_col] into int8 quads (see the top).
template <class B>
void pack_qdense_weights(const B* b, index_t n, index_t k, index_t b_row, index_t b_col, std::int8_t* out) noexcept {
  constexpr std::int32_t shift = std::is_signed_v<B> ? 0 : 128;
  const index_t k4 = ceil_div(k, 4);
  std::size_t i = 0;
  for (index_t n0 = 0; n0 < n; n0 += dense_nr) {
    const index_t width = dense_panel_width(n, n0);
    for (index_t q = 0; q < k4; ++q)
      for (index_t j = 0; j < width; ++j)
        for (index_t e = 0; e < 4; ++e, ++i) {
          const index_t kk = 4 * q + e;
          out[i] = n0 + j < n && kk < k
                       ? static_cast<std::int8_t>(static_cast<std::int32_t>(b[kk * b_row + (n0 + j) * b_col]) - shift)
                       : std::int8_t(0);
        }
  }
}

// Codegen-time preparation of a packed QGemm / QLinearMatMul: packs B (pack_qdense_weights),
// writes the shifted b zero points (zp_out, b_zp_count of them; b_zp null: 0) and the n folded
// biases c[j * c_stride_n] - az' sum_k b'(k, j) + K az' bz'(j) (c null: no C; c_stride_n 0: a
// scalar C). a_zp: A's zero point, a_signed: int8 A. Returns whether any shifted zero point is
// non-zero (the kernel needs zp_out only then). fits, when given, is cleared if a folded bias
// lies outside int32 (it is then stored modulo 2^32).
template <class B>
bool prepare_qdense(const B* b, index_t n, index_t k, index_t b_row, index_t b_col, const B* b_zp,
                    index_t b_zp_count, const std::int32_t* c, index_t c_stride_n, std::int32_t a_zp, bool a_signed,
                    std::int8_t* w_out, std::int32_t* zp_out, std::int32_t* bias_out, bool* fits = nullptr) noexcept {
  constexpr std::int64_t shift = std::is_signed_v<B> ? 0 : 128;
  pack_qdense_weights(b, n, k, b_row, b_col, w_out);
  bool any_zp = false;
  for (index_t i = 0; i < b_zp_count; ++i) {
    zp_out[i] = static_cast<std::int32_t>((b_zp ? static_cast<std::int64_t>(b_zp[i]) : 0) - shift);
    any_zp = any_zp || zp_out[i] != 0;
  }
  const std::int64_t za = static_cast<std::int64_t>(a_zp) + (a_signed ? 128 : 0);
  for (index_t j = 0; j < n; ++j) {
    std::int64_t sum = 0;
    for (index_t kk = 0; kk < k; ++kk) sum += static_cast<std::int64_t>(b[kk * b_row + j * b_col]) - shift;
    const std::int64_t zb = zp_out[b_zp_count > 1 ? j : 0];
    const std::int64_t v = (c ? static_cast<std::int64_t>(c[j * c_stride_n]) : 0) - za * sum + za * zb * k;
    if (fits && (v < std::numeric_limits<std::int32_t>::min() || v > std::numeric_limits<std::int32_t>::max()))
      *fits = false;
    bias_out[j] = static_cast<std::int32_t>(static_cast<std::uint32_t>(static_cast<std::uint64_t>(v)));
  }
  return any_zp;
}

namespace detail {
// Packs rows [i0, i0 + rows) of A (p.k columns; trans_a: A is stored K x M; Blocked: A's
// columns in channel blocks, packed/layout.hpp, with the rows as positions) into `quads` as uint8,
// int8 A shifted by +128, zero beyond K, rows lda = quad_bytes * ceil(K/4) apart (the arch's
// dense_a_quad_bytes: 4, or 8 where split_dense_row then splits each row's quads); with `sums`,
// each row's sum of its packed bytes into rowsum (the b zero point's term).
template <bool Blocked = false, class A>
inline void qdense_pack_rows(const qgemm_params& p, const A* a, index_t i0, index_t rows, bool sums,
                             std::uint8_t* quads, std::int32_t* rowsum) noexcept {
  constexpr std::int32_t offset = std::is_signed_v<A> ? 128 : 0;
  constexpr index_t quad_bytes = arch::active::dense_a_quad_bytes;
  static_assert(quad_bytes == 4 || (quad_bytes <= qdense_max_quad_bytes && quad_bytes % 4 == 0), "quads");
  const index_t k4 = ceil_div(p.k, 4), lda = quad_bytes * k4;
  for (index_t r = 0; r < rows; ++r) {
    std::uint8_t* dst = quads + r * lda;
    const index_t i = i0 + r;
    std::uint32_t sum = 0;
    if constexpr (Blocked) {  // p.k is whole blocks: each block's row is 16 bytes in a row
      for (index_t k0 = 0; k0 < p.k; k0 += channel_block) {
        const A* src = a + k0 * p.m + i * channel_block;
        if constexpr (offset == 0) {
          std::memcpy(dst + k0, src, channel_block);
        } else {
          for (index_t e = 0; e < channel_block; ++e)
            dst[k0 + e] = static_cast<std::uint8_t>(static_cast<std::int32_t>(src[e]) + offset);
        }
      }
    } else if (p.trans_a) {
      for (index_t kk = 0; kk < p.k; ++kk) dst[kk] = static_cast<std::uint8_t>(static_cast<std::int32_t>(a[kk * p.m + i]) + offset);
    } else {
      const A* ar = a + i * p.k;
      for (index_t kk = 0; kk < p.k; ++kk) dst[kk] = static_cast<std::uint8_t>(static_cast<std::int32_t>(ar[kk]) + offset);
    }
    for (index_t kk = p.k; kk < 4 * k4; ++kk) dst[kk] = 0;
    if (sums)
      for (index_t kk = 0; kk < p.k; ++kk) sum += dst[kk];
    rowsum[r] = static_cast<std::int32_t>(sum);
    if constexpr (quad_bytes != 4) arch::active::split_dense_row(dst, k4);
  }
}

// Calls f(w) for a panel of `width` columns: w as a std::integral_constant (with_panel_width)
// where the arch's dense tile is as wide as a panel can be (hosts), else as the index_t itself:
// a tile narrower than every panel (Cortex-M's 2 columns) divides them all, and the width is then
// only the weights' row pitch. One copy of the loop for the four widths: Cortex-M kept four, 6-8
// KB of code on MobileNet int8.
template <class F> inline void with_qdense_panel_width(index_t width, F&& f) noexcept {
  static_assert(arch::active::s8_dense_nb >= dense_tail ||
                    (dense_tail % arch::active::s8_dense_nb == 0 && dense_nr % dense_tail == 0),
                "a tile narrower than a panel divides every panel width");
  if constexpr (arch::active::s8_dense_nb < dense_tail) {
    f(width);
  } else {
    with_panel_width(width, f);
  }
}
// The dense tile's width for with_qdense_panel_width's w: the arch's, at most the panel's.
template <class Wc> constexpr index_t qdense_tile_width() noexcept {
  if constexpr (std::is_integral_v<Wc>) {
    return arch::active::s8_dense_nb;
  } else {
    static_assert(Wc::value % arch::active::s8_dense_nb == 0 || arch::active::s8_dense_nb >= Wc::value,
                  "the dense tile width must divide the panel width");
    return arch::active::s8_dense_nb >= Wc::value ? Wc::value : arch::active::s8_dense_nb;
  }
}

// The loop of both int8 dense kernels: rows of A packed qdense_rows at a time into the scratch,
// then per block of NB columns (the arch's dense tile width) the tiles of up to 4 rows
// (for_each_row_tile). tile(i0, r0, nrows, col0, ncols, rowsum, t, nb) receives each tile's sums
// t[r * nb + j] (nb: NB as a std::integral_constant; rowsum[r0 + r]: row sums when `sums`);
// block_done(i0, rows, col0, ncols, nb) follows the last tile of a column block. Flattened: GCC
// for Cortex-M otherwise kept the callbacks out of line (MobileNet int8 on an M4 under qemu:
// 26.23 M instructions as it was, 25.61 M flattened, and less code).
template <bool BlockedA = false, class A, class Tile, class BlockDone>
KILN_SPECIALIZED inline void for_each_qdense_tile(const qgemm_params& p, const A* a, const std::int8_t* b, bool sums,
                                                  void* scratch, Tile&& tile, BlockDone&& block_done) noexcept {
  std::int32_t* const rowsum = static_cast<std::int32_t*>(scratch);
  std::uint8_t* const quads = static_cast<std::uint8_t*>(scratch) +
                              static_cast<std::size_t>(p.m < qdense_rows ? p.m : qdense_rows) * sizeof(std::int32_t);
  constexpr index_t quad_bytes = arch::active::dense_a_quad_bytes;
  const index_t k4 = ceil_div(p.k, 4), lda = quad_bytes * k4;
  for (index_t i0 = 0; i0 < p.m; i0 += qdense_rows) {
    const index_t rows = p.m - i0 < qdense_rows ? p.m - i0 : qdense_rows;
    qdense_pack_rows<BlockedA>(p, a, i0, rows, sums, quads, rowsum);
    const std::int8_t* panel = b;
    for (index_t n0 = 0; n0 < p.n; n0 += dense_nr) {
      const index_t width = dense_panel_width(p.n, n0);
      const index_t cols = p.n - n0 < width ? p.n - n0 : width;
      with_qdense_panel_width(width, [&](auto w) {
        const index_t W = w;
        constexpr index_t NB = qdense_tile_width<decltype(w)>();
        constexpr std::integral_constant<index_t, NB> nb{};
        for (index_t j0 = 0; j0 < cols; j0 += NB) {
          const std::int8_t* bj = panel + 4 * j0;
          const index_t ncols = cols - j0 < NB ? cols - j0 : NB;
          if constexpr (arch::active::even_row_tiles) {
            for_each_row_tile(rows, [&](index_t r, auto mr) KILN_ALWAYS_INLINE {
              constexpr index_t MR = decltype(mr)::value;
              std::int32_t t[MR * NB];
              arch::active::int8_dense_tile<MR, NB>(k4, quads + r * lda, lda, quad_bytes, bj, 4 * W, t);
              tile(i0, r, MR, n0 + j0, ncols, rowsum, t, nb);
            });
          } else {  // MR-row tiles, then 1s, written out: through a lambda, as above, the M4 ran
                    // 1.3 % more instructions on fc_autoencoder int8 (728 k against 718 k)
            constexpr index_t MR = arch::active::dense_tile_rows;
            index_t r = 0;
            // Rows of one or two quads (K <= 8) go 4 at a time where the target's tile is shorter:
            // there a tile's fixed work outweighs the taller tile's spills (MobileNet int8's 8 ->
            // 16 layer at 48x48 on the M4: 1.90 -> 1.17 M instructions; at K = 16 it lost).
            if constexpr (MR < 4)
              if (k4 <= 2)
                for (; r + 4 <= rows; r += 4) {
                  std::int32_t t[4 * NB];
                  arch::active::int8_dense_tile<4, NB>(k4, quads + r * lda, lda, quad_bytes, bj, 4 * W, t);
                  tile(i0, r, index_t{4}, n0 + j0, ncols, rowsum, t, nb);
                }
            for (; r + MR <= rows; r += MR) {
              std::int32_t t[MR * NB];
              arch::active::int8_dense_tile<MR, NB>(k4, quads + r * lda, lda, quad_bytes, bj, 4 * W, t);
              tile(i0, r, MR, n0 + j0, ncols, rowsum, t, nb);
            }
            for (; r < rows; ++r) {
              std::int32_t t[NB];
              arch::active::int8_dense_tile<1, NB>(k4, quads + r * lda, lda, quad_bytes, bj, 4 * W, t);
              tile(i0, r, index_t{1}, n0 + j0, ncols, rowsum, t, nb);
            }
          }
          block_done(i0, rows, n0 + j0, ncols, nb);
        }
      });
      panel += static_cast<std::size_t>(width) * static_cast<std::size_t>(4 * k4);  // the weights: 4 bytes a quad
    }
  }
}
}  // namespace detail

// The packed kernel. p as kiln::qgemm (m rows of A, trans_a; trans_b was applied when B was
// packed); b: packed weights; b_zp: p.b_zp_count shifted zero points, or null when all are zero;
// bias: n folded biases; c: null, or an int32 C added at run time with p.c_stride_m/c_stride_n
// (codegen passes it only when it varies along M); scale: p.scale_count float32 scales, for 8-bit
// Y the requantization scales (read as requant_from_float, exact), for float Y the output scales;
// y_zp: Y's zero point (8-bit Y; may be null: 0). scratch: qdense_scratch_bytes(m, k).
template <class A, class Y>
inline void qdense(const qgemm_params& p, const A* a, const std::int8_t* b, const std::int32_t* b_zp,
                   const std::int32_t* bias, const std::int32_t* c, const float* scale, const Y* y_zp, Y* y,
                   void* scratch) noexcept {
  constexpr bool float_out = std::is_same_v<Y, float>;
  std::int32_t yz = 0, lo = 0, hi = 0;
  if constexpr (!float_out) {
    yz = y_zp ? static_cast<std::int32_t>(y_zp[0]) : 0;
    lo = std::numeric_limits<Y>::min();
    hi = std::numeric_limits<Y>::max();
  }
  const float scale0 = scale[0];
  const requant_params rq0 = requant_from_float(scale0);
  const bool per_column_scale = p.scale_count > 1, per_column_zp = p.b_zp_count > 1;
  // Bias, b zero point, C and requantization of each tile straight into Y.
  auto finish = [&](index_t i0, index_t r0, index_t nrows, index_t col0, index_t ncols, const std::int32_t* rowsum,
                    const std::int32_t* t, auto nb) {
    for (index_t r = 0; r < nrows; ++r) {
      const index_t i = i0 + r0 + r;
      const std::uint32_t rs = static_cast<std::uint32_t>(rowsum[r0 + r]);
      Y* yr = y + i * p.n + col0;
      for (index_t j = 0; j < ncols; ++j) {
        const index_t col = col0 + j;
        std::uint32_t v = static_cast<std::uint32_t>(t[r * nb + j]) + static_cast<std::uint32_t>(bias[col]);
        if (b_zp) v -= static_cast<std::uint32_t>(b_zp[per_column_zp ? col : 0]) * rs;
        if (c) v += static_cast<std::uint32_t>(c[i * p.c_stride_m + col * p.c_stride_n]);
        const std::int32_t acc = static_cast<std::int32_t>(v);
        if constexpr (float_out) {
          yr[j] = static_cast<float>(acc) * scale[per_column_scale ? col : 0];
        } else if (per_column_scale) {
          const float s = scale[col];
          yr[j] = static_cast<Y>(arch::active::requantize_saturate(acc, s, requant_from_float(s), yz, lo, hi));
        } else {
          yr[j] = static_cast<Y>(arch::active::requantize_saturate(acc, scale0, rq0, yz, lo, hi));
        }
      }
    }
  };
  detail::for_each_qdense_tile(p, a, b, b_zp != nullptr, scratch, finish, [](index_t, index_t, index_t, index_t, auto) {});
}

// A 1x1 QLinearConv (one image, no groups, stride 1, no padding) over a plane of few positions,
// e.g. MobileNet's last 3x3 planes, where the conv kernel's activation panel of panel_cols
// positions would be mostly empty: it runs as a QGemm (p: m positions, n output channels, k input
// channels, trans_a) whose rows are the positions, read from the NCHW input X[channel][position]
// as A^T, and whose columns are the output channels. The weights are W^T packed and folded as
// QGemm's (prepare_qdense with the conv bias as C; w_zp, bias, scale as qdense's b_zp, bias,
// scale). A tile's sums are gathered by output channel, so each channel's run of positions,
// contiguous in NCHW Y, is requantized as one row (arch requantize_row). Planes of more than 16
// positions stay with the conv kernel: on MobileNet's 6x6 planes this path was slower (9.4
// against 7.4 us a layer).
inline bool qlinear_conv1x1_small_plane_applies(const qconv_params& p) noexcept {
  return p.batch == 1 && p.group == 1 && detail::is_pointwise(p) && p.out[0] * p.out[1] * p.out[2] <= panel_cols / 2;
}

template <class X, class Y>
inline void qlinear_conv1x1_small_plane(const qgemm_params& p, const X* x, const std::int8_t* w,
                                        const std::int32_t* w_zp, const std::int32_t* bias, const float* scale,
                                        const Y* y_zp, Y* y, void* scratch) noexcept {
  constexpr index_t max_nb = arch::active::s8_dense_nb < dense_nr ? arch::active::s8_dense_nb : dense_nr;
  const std::int32_t yz = y_zp ? static_cast<std::int32_t>(y_zp[0]) : 0;
  std::int32_t by_channel[max_nb][qdense_rows];  // [column][row]: a channel's positions side by side
  auto gather = [&](index_t, index_t r0, index_t nrows, index_t col0, index_t ncols, const std::int32_t* rowsum,
                    const std::int32_t* t, auto nb) {
    for (index_t j = 0; j < ncols; ++j) {
      const index_t col = col0 + j;
      const std::uint32_t zp = w_zp ? static_cast<std::uint32_t>(w_zp[p.b_zp_count > 1 ? col : 0]) : 0u;
      for (index_t r = 0; r < nrows; ++r)  // modulo 2^32 as in qdense: only the final sum must fit
        by_channel[j][r0 + r] = static_cast<std::int32_t>(static_cast<std::uint32_t>(t[r * nb + j]) +
                                                          static_cast<std::uint32_t>(bias[col]) -
                                                          zp * static_cast<std::uint32_t>(rowsum[r0 + r]));
    }
  };
  auto requantize = [&](index_t i0, index_t rows, index_t col0, index_t ncols, auto) {
    for (index_t j = 0; j < ncols; ++j) {
      const index_t col = col0 + j;
      const float s = scale[p.scale_count > 1 ? col : 0];
      arch::active::requantize_row(by_channel[j], rows, s, requant_from_float(s), yz, y + col * p.m + i0);
    }
  };
  detail::for_each_qdense_tile(p, x, w, w_zp != nullptr, scratch, gather, requantize);
}

// A 1x1 QLinearConv writing a channel-blocked output (packed/layout.hpp) from a planar or a
// blocked input, the int8 layers between depthwise ones in MobileNet and DS-CNN: the QGemm of
// qlinear_conv1x1_small_plane (rows: positions, columns: output channels; weights, zero points and
// bias prepared alike), whose tile row of 16 columns is one position's 16 channels of a block,
// requantized with a scale per lane (arch requantize_lanes) and stored as it is. A blocked input
// packs a position's row from its blocks' 16 contiguous bytes, where a planar one gathers a byte
// per channel. One image, whole blocks of output channels (and of input channels when blocked).
inline bool qlinear_pointwise_applies(const qconv_params& p) noexcept {
  return p.batch == 1 && p.group == 1 && detail::is_pointwise(p) && p.out_channels % channel_block == 0;
}

// qdense's scratch, then each output channel's scale and requantization parameters, then a
// column block's sums of each row for targets whose dense tile is narrower than a block.
constexpr std::size_t qlinear_pointwise_scratch_bytes(index_t m, index_t n, index_t k) noexcept {
  const index_t rows = m < qdense_rows ? m : qdense_rows;
  return qdense_scratch_bytes(m, k) + static_cast<std::size_t>(n) * (sizeof(float) + sizeof(requant_params)) +
         static_cast<std::size_t>(rows * channel_block) * sizeof(std::int32_t);
}

template <channel_layout In, class X, class Y>
inline void qlinear_pointwise(const qgemm_params& p, const X* x, const std::int8_t* w, const std::int32_t* w_zp,
                              const std::int32_t* bias, const float* scale, const Y* y_zp, Y* y,
                              void* scratch) noexcept {
  constexpr index_t L = channel_block;
  static_assert(L == arch::generic::depthwise_lanes, "requantize_lanes takes one channel block");
  const std::int32_t yz = y_zp ? static_cast<std::int32_t>(y_zp[0]) : 0;
  float* const scales = reinterpret_cast<float*>(static_cast<unsigned char*>(scratch) + qdense_scratch_bytes(p.m, p.k));
  requant_params* const rqs = reinterpret_cast<requant_params*>(scales + p.n);
  std::int32_t* const staged = reinterpret_cast<std::int32_t*>(rqs + p.n);  // [row][lane] of one block
  for (index_t j = 0; j < p.n; ++j) {
    scales[j] = scale[p.scale_count > 1 ? j : 0];
    rqs[j] = requant_from_float(scales[j]);
  }
  const bool zp_per_column = p.b_zp_count > 1;
  // Tile sums plus the folded bias, less the weight zero point's term: modulo 2^32 as in qdense,
  // only the final sum must fit.
  auto finish = [&](index_t i0, index_t r0, index_t nrows, index_t col0, index_t ncols, const std::int32_t* rowsum,
                    const std::int32_t* t, auto nb) {
    constexpr index_t NB = decltype(nb)::value, MR = 4;  // the dense tiles' rows: at most 4
    if constexpr (NB % L == 0) {
      // Whole blocks: a block's rows of the tile are consecutive positions of the blocked output,
      // requantized by one call.
      for (index_t j0 = 0; j0 < ncols; j0 += L) {
        const index_t col = col0 + j0;
        std::uint32_t u[MR][L], b[L];  // copies: GCC 12 vectorizes the adds over them, not over t
        std::memcpy(b, bias + col, sizeof b);
        for (index_t r = 0; r < nrows; ++r) {
          std::memcpy(u[r], t + r * NB + j0, sizeof u[r]);
          for (index_t l = 0; l < L; ++l) u[r][l] += b[l];
          if (w_zp) {
            const std::uint32_t rs = static_cast<std::uint32_t>(rowsum[r0 + r]);
            for (index_t l = 0; l < L; ++l) u[r][l] -= static_cast<std::uint32_t>(w_zp[p.b_zp_count > 1 ? col + l : 0]) * rs;
          }
        }
        std::int32_t acc[MR][L];
        std::memcpy(acc, u, sizeof acc);
        arch::active::requantize_lanes(acc[0], nrows, scales + col, rqs + col, yz, y + col * p.m + (i0 + r0) * L);
      }
    } else {  // a part of a block: kept until block_done completes it
      // Every tile is NB wide: the blocks are whole (qlinear_pointwise_applies) and the panels
      // multiples of 16 columns. Bias and zero points read once per tile, where the stores to
      // `staged` could alias them and GCC reloaded them (and p.b_zp_count) for every output.
      static_assert(L % NB == 0, "tiles fill a block exactly");
      std::uint32_t b[NB], zp[NB];
      KILN_UNROLL for (index_t j = 0; j < NB; ++j) {
        b[j] = static_cast<std::uint32_t>(bias[col0 + j]);
        zp[j] = w_zp ? static_cast<std::uint32_t>(w_zp[zp_per_column ? col0 + j : 0]) : 0u;
      }
      std::int32_t* const out = staged + r0 * L + col0 % L;
      for (index_t r = 0; r < nrows; ++r) {
        const std::uint32_t rs = static_cast<std::uint32_t>(rowsum[r0 + r]);
        KILN_UNROLL for (index_t j = 0; j < NB; ++j)
          out[r * L + j] = static_cast<std::int32_t>(static_cast<std::uint32_t>(t[r * NB + j]) + b[j] - zp[j] * rs);
      }
    }
  };
  auto block_done = [&](index_t i0, index_t rows, index_t col0, index_t ncols, auto nb) {
    if constexpr (decltype(nb)::value % L != 0) {
      if ((col0 + ncols) % L == 0) {  // a block's rows are consecutive positions of the blocked output
        const index_t c0 = col0 + ncols - L;
        arch::active::requantize_lanes(staged, rows, scales + c0, rqs + c0, yz, y + c0 * p.m + i0 * L);
      }
    }
  };
  detail::for_each_qdense_tile<In == channel_layout::blocked>(p, x, w, w_zp != nullptr, scratch, finish, block_done);
}

}  // namespace kiln::packed
