// Cortex-M with the DSP extension (M4, M7, M33, M55): int8 tiles on the dual 16-bit MAC
// __smlad. A quad of four int8 weights is split by __sxtb16 into two halfword pairs (bytes 0,2
// and, after a rotate, 1,3); the quad of four uint8 activations likewise by __uxtb16; two __smlad
// then add all four products. Float tiles are the portable ones (the FPU has no SIMD).
#pragma once

#include "../../core/round.hpp"
#include "../generic/tiles.hpp"
#include "depthwise.hpp"

#include <arm_acle.h>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

namespace kiln::arch::cortex_m {

using generic::activate_row;
using generic::add_column_term;
using generic::sum_row;
using generic::depthwise_lane_taps;  // int32 lanes; float below
using generic::depthwise_lane_taps_activate;
using generic::depthwise_lane_row;  // not taken here: depthwise_lane_rows is false
using generic::depthwise_lane_row_lead;
using generic::depthwise_lane_row_bands;
using generic::depthwise_lane_rows;
using generic::even_row_tiles;
using generic::depthwise_int8_quads;  // false: the quads' functions below are never called here
using generic::depthwise_lane_quads;
using generic::lane_quads;
using generic::deinterleave_lanes;
using generic::interleave_lanes;
using generic::interleave_rows;
using generic::deinterleave_rows;
using generic::depthwise_lanes;
using generic::depthwise_taps;  // int8 layers take the int16 plan's overload (depthwise.hpp), float below
// Float layers on small planes go by lanes (fewer loop overheads than short wide-plane rows:
// 3 % fewer instructions on MobileNet); int8 layers stay one channel at a time, where the taps
// pair up on __smlad (depthwise.hpp).
template <class A> inline constexpr index_t depthwise_lanes_max_plane = std::is_floating_point_v<A> ? 100 : 0;
using generic::f32_nb;
using generic::f32_window_nb;
using generic::f32_window_step;
using generic::qlinear_add_row;  // the reference loop, cvtps2dq by vcvtr where the FPU has it
using generic::strided_quad_rows;
using generic::store_row;
using generic::f32_strided_rows_in_vectors;
using generic::strided_rows;
using generic::int8_tile_row_blocks;
using generic::s8_row_blocks;
inline constexpr index_t s8_nb = 2;  // 2 columns x 4 rows: 8 accumulators fit the register file
inline constexpr index_t s8_window_nb = s8_nb;
inline constexpr index_t s8_window_step = s8_window_nb;
inline constexpr const char* int8_tile_name = "cortex_m_smlad";

namespace detail {
inline std::uint32_t load_quad(const void* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, 4);  // one LDR: unaligned word loads are allowed on M4 and later
  return v;
}
// Two words from a word-aligned p by one LDRD (which, unlike LDR, needs that alignment; kiln's
// weights and arena buffers are 16-byte aligned): GCC 12 loads two words 4 bytes apart by two LDRs,
// even from a memcpy of 8 aligned bytes. load_words_advance then moves p on by Step bytes (LDRD's
// post-index form). The unused "m" operand tells GCC which memory the asm reads, so it stays after
// the stores that wrote it and GCC keeps its freedom elsewhere (a "memory" clobber instead took
// qdense out of line, 7.5 KB more code on ResNet-8 int8).
struct word_pair {
  std::uint32_t w[2];
};
inline void load_words(const void* p, std::uint32_t& lo, std::uint32_t& hi) noexcept {
  __asm__("ldrd %0, %1, [%2]" : "=r"(lo), "=r"(hi) : "r"(p), "m"(*static_cast<const word_pair*>(p)));
}
template <int Step, class T>
inline void load_words_advance(const T*& p, std::uint32_t& lo, std::uint32_t& hi) noexcept {
  __asm__("ldrd %0, %1, [%2], %3"
          : "=r"(lo), "=r"(hi), "+r"(p)
          : "I"(Step), "m"(*reinterpret_cast<const word_pair*>(p)));
}
template <class T> inline std::uint32_t even_halves(std::uint32_t q) noexcept {
  if constexpr (std::is_signed_v<T>) return static_cast<std::uint32_t>(__sxtb16(q));
  else return static_cast<std::uint32_t>(__uxtb16(q));
}
// Bytes 1 and 3 as halfwords: the extension's own rotate, one instruction. GCC 12 has no ACLE
// __sxtb16_ror and does not fold a separate rotate into the extension (a `mov ror` each).
template <class T> inline std::uint32_t odd_halves(std::uint32_t q) noexcept {
  std::uint32_t r;
  if constexpr (std::is_signed_v<T>) __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(q));
  else __asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(q));
  return r;
}

// One step of int8_tile: the quads of NB columns at b against MR rows of weight quads at a.
template <index_t MR, index_t NB, class A, class B>
KILN_ALWAYS_INLINE inline void int8_step(const A* a, index_t a_rs, const B* b, std::int32_t (&acc)[MR][NB]) noexcept {
  std::uint32_t b02[NB], b13[NB];
  KILN_UNROLL for (index_t j = 0; j < NB; ++j) {
    const std::uint32_t w = load_quad(b + 4 * j);
    b02[j] = even_halves<B>(w);
    b13[j] = odd_halves<B>(w);
  }
  KILN_UNROLL for (index_t r = 0; r < MR; ++r) {
    const std::uint32_t w = load_quad(a + r * a_rs);
    const std::uint32_t a02 = even_halves<A>(w), a13 = odd_halves<A>(w);
    KILN_UNROLL for (index_t j = 0; j < NB; ++j) {
      acc[r][j] = __smlad(static_cast<std::int32_t>(a02), static_cast<std::int32_t>(b02[j]), acc[r][j]);
      acc[r][j] = __smlad(static_cast<std::int32_t>(a13), static_cast<std::int32_t>(b13[j]), acc[r][j]);
    }
  }
}

// One step of a 2-column tile on weights in the convs' panel order ([MR][4] a step: a_rs 4, a_ks
// 4 x MR): the two columns' quads at b one LDRD (word-aligned), each pair of weight rows one LDRD
// advancing `at`, where int8_step loads each word alone and the caller adds a_ks.
template <index_t MR, class A, class B>
KILN_ALWAYS_INLINE inline void int8_pair_step(const A*& at, const B* b, std::int32_t (&acc)[MR][2]) noexcept {
  static_assert(MR % 2 == 0, "weight rows are loaded in pairs");
  std::uint32_t x[2];
  load_words(b, x[0], x[1]);
  std::uint32_t b02[2], b13[2];
  KILN_UNROLL for (index_t j = 0; j < 2; ++j) {
    b02[j] = even_halves<B>(x[j]);
    b13[j] = odd_halves<B>(x[j]);
  }
  KILN_UNROLL for (index_t r = 0; r < MR; r += 2) {
    std::uint32_t w[2];
    load_words_advance<8>(at, w[0], w[1]);
    KILN_UNROLL for (index_t h = 0; h < 2; ++h) {
      const std::uint32_t a02 = even_halves<A>(w[h]), a13 = odd_halves<A>(w[h]);
      KILN_UNROLL for (index_t j = 0; j < 2; ++j) {
        acc[r + h][j] = __smlad(static_cast<std::int32_t>(a02), static_cast<std::int32_t>(b02[j]), acc[r + h][j]);
        acc[r + h][j] = __smlad(static_cast<std::int32_t>(a13), static_cast<std::int32_t>(b13[j]), acc[r + h][j]);
      }
    }
  }
}

// The tile over rows.each's steps, weights a_ks apart.
template <index_t MR, index_t NB, class A, class Rows>
inline void int8_tile_by_steps(index_t k4, const A* a, index_t a_rs, index_t a_ks, const Rows& rows,
                               std::int32_t* c) noexcept {
  using B = typename Rows::value_type;
  std::int32_t acc[MR][NB] = {};
  rows.each(k4, [&](const B* b) {
    int8_step<MR, NB>(a, a_rs, b, acc);
    a += a_ks;
  });
  KILN_UNROLL for (index_t r = 0; r < MR; ++r)
    KILN_UNROLL for (index_t j = 0; j < NB; ++j) c[r * NB + j] = acc[r][j];
}

// A window's steps quad by quad, each quad's taps in one loop over the offsets, whose weights
// follow one another (the panel's [quad][tap] order), in a function of its own compiled without
// GCC's first scheduling pass. Inlined into a conv's loops, with window_rows::each's loop values
// and the A rows' loads hoisted by the scheduler, GCC kept five of the 8 accumulators on the
// stack: ResNet-8 int8 26.04 -> 24.08 M instructions (with the scheduler here, 25.55 M). Tap by
// tap, each tap's quads a fixed stride apart, a step took 47 instructions and a tap 19 more to
// set up: 45 and none now, ResNet-8 int8 23.90 -> 23.31 M. The sums are the same integers in
// another order.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-schedule-insns")
#endif
template <index_t MR, index_t NB, class A, class B>
KILN_NOINLINE void int8_window_tile_by_quads(index_t quads, const A* a, index_t a_rs, index_t a_ks,
                                            const window_rows<B>& rows, std::int32_t* c) noexcept {
  std::int32_t acc[MR][NB] = {};
  const A* at = a;
  const B* bq = rows.b;
  const index_t* const off_end = rows.off + rows.taps;
  // 2 columns: a tap's weights are one LDRD per two rows (advancing `at`), its two columns'
  // quads one LDRD (the band's quads are word-aligned): 41 instructions a step where 45. This
  // takes the weights as the convs' panels lay them out, [quad][tap][MR][4] (a_rs 4, a_ks 4 x
  // MR: packed/conv.hpp, the one caller); a runtime test of that, with the other loop beside it,
  // cost ResNet-8 int8 0.15 M of the 0.50 M instructions this saves.
  if constexpr (NB == 2 && MR % 2 == 0) {
    (void)a_rs;
    (void)a_ks;
    for (index_t q = 0; q < quads; ++q, bq += rows.cs)
      for (const index_t* o = rows.off; o != off_end; ++o) int8_pair_step<MR>(at, bq + *o, acc);
  } else {
    for (index_t q = 0; q < quads; ++q, bq += rows.cs)
      for (const index_t* o = rows.off; o != off_end; ++o, at += a_ks) int8_step<MR, NB>(at, a_rs, bq + *o, acc);
  }
  KILN_UNROLL for (index_t r = 0; r < MR; ++r)
    KILN_UNROLL for (index_t j = 0; j < NB; ++j) c[r * NB + j] = acc[r][j];
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

// A panel's (an im2col conv's) 2 columns by int8_pair_step, k4 quads of rows ldb bytes apart,
// weights in the convs' panel order. Out of line like the window tile.
template <index_t MR, class A, class B>
KILN_NOINLINE void int8_panel_tile_pairs(index_t k4, const A* a, const B* b, index_t ldb, std::int32_t* c) noexcept {
  std::int32_t acc[MR][2] = {};
  const A* at = a;
  for (index_t q = 0; q < k4; ++q, b += ldb) int8_pair_step<MR>(at, b, acc);
  KILN_UNROLL for (index_t r = 0; r < MR; ++r)
    KILN_UNROLL for (index_t j = 0; j < 2; ++j) c[r * 2 + j] = acc[r][j];
}
}  // namespace detail

template <index_t MR, index_t NB, class A, class Rows>
inline void int8_tile(index_t k4, const A* a, index_t a_rs, index_t a_ks, const Rows& rows, std::int32_t* c) noexcept {
  detail::int8_tile_by_steps<MR, NB>(k4, a, a_rs, a_ks, rows, c);
}
// Windows of one channel quad too (the 3-channel stems: 9 steps a tile), which had stayed inline
// while the out-of-line loop set up each tap: MobileNet int8's stem 1.57 -> 1.50 M instructions,
// ResNet-8 int8's 1.55 -> 1.41 M.
template <index_t MR, index_t NB, class A, class B>
inline void int8_tile(index_t quads, const A* a, index_t a_rs, index_t a_ks, const window_rows<B>& rows,
                      std::int32_t* c) noexcept {
  detail::int8_window_tile_by_quads<MR, NB>(quads, a, a_rs, a_ks, rows, c);
}
template <index_t MR, index_t NB, class A, class B>
inline void int8_tile(index_t k4, const A* a, index_t a_rs, index_t a_ks, const B* b, index_t ldb,
                      std::int32_t* c) noexcept {
  if constexpr (NB == 2 && MR % 2 == 0)  // the convs' panels (packed/conv.hpp), as the window tile
    detail::int8_panel_tile_pairs<MR>(k4, a, b, ldb, c);
  else
    int8_tile<MR, NB>(k4, a, a_rs, a_ks, panel_rows<B>{b, ldb}, c);
}

// Float tiles on the FPU's 32 single-precision registers: a block of 16 accumulators (4 rows x 4
// columns, 2 x 8 or 1 x 16) stays in registers, a tile of NB columns is its blocks in turn, and
// each step is one fused multiply-add an accumulator where the FPU has VFMA (M4F, M7, M33F).
// The portable 4 x 8 tile's 32 accumulators did not fit (GCC kept them in memory: a load and a
// store around every multiply-add). Sums in the same order as the portable tile, rounded once per
// step where it rounds twice.
namespace detail {
inline float multiply_add(float a, float b, float acc) noexcept {
#if defined(__ARM_FEATURE_FMA)
  return __builtin_fmaf(a, b, acc);
#else
  return acc + a * b;
#endif
}
// Columns [j0, j0 + BW) of an MR x NB tile (J0 >= 0: j0 = J0, known to the compiler).
template <index_t MR, index_t NB, index_t BW, index_t J0 = -1, class Rows>
KILN_ALWAYS_INLINE inline void f32_tile_block(index_t k, const float* a, index_t a_rs, index_t a_ks, const Rows& rows,
                                              index_t j0, float* c, index_t ldc) noexcept {
  if constexpr (J0 >= 0) j0 = J0;
  float acc[MR][BW] = {};
  rows.each(k, [&](const float* b) {
    float bv[BW];
    KILN_UNROLL for (index_t j = 0; j < BW; ++j) bv[j] = b[j0 + j];
    KILN_UNROLL for (index_t r = 0; r < MR; ++r) {
      const float av = a[r * a_rs];
      KILN_UNROLL for (index_t j = 0; j < BW; ++j) acc[r][j] = multiply_add(av, bv[j], acc[r][j]);
    }
    a += a_ks;
  });
  KILN_UNROLL for (index_t r = 0; r < MR; ++r)
    KILN_UNROLL for (index_t j = 0; j < BW; ++j) c[r * ldc + j0 + j] = acc[r][j];
}
// Columns a block: 16 accumulators (4 rows of 4, 2 of 8, 1 of 16), at most the tile's width.
template <index_t MR, index_t NB> constexpr index_t f32_block_width() noexcept {
  const index_t bw = MR >= 4 ? 4 : MR >= 2 ? 8 : 16;
  return bw < NB ? bw : NB;
}
}  // namespace detail

// One or two blocks written out (each block's loads at immediate offsets: ResNet-8 float 30.9 ->
// 26.8 M instructions against a loop of blocks), more (wide dense panels) by a loop over the
// blocks, where unrolled blocks of every width grew fc_autoencoder's firmware by 11 KB.
template <index_t MR, index_t NB, class Rows>
inline void f32_tile(index_t k, const float* a, index_t a_rs, index_t a_ks, const Rows& rows, float* c,
                     index_t ldc = NB) noexcept {
  constexpr index_t BW = detail::f32_block_width<MR, NB>();
  if constexpr (MR > 4 || NB % BW != 0 || BW % 4 != 0) {
    generic::f32_tile<MR, NB>(k, a, a_rs, a_ks, rows, c, ldc);
  } else if constexpr (NB <= 2 * BW) {
    detail::f32_tile_block<MR, NB, BW, 0>(k, a, a_rs, a_ks, rows, 0, c, ldc);
    if constexpr (NB == 2 * BW) detail::f32_tile_block<MR, NB, BW, BW>(k, a, a_rs, a_ks, rows, BW, c, ldc);
  } else {
    for (index_t j0 = 0; j0 < NB; j0 += BW) detail::f32_tile_block<MR, NB, BW>(k, a, a_rs, a_ks, rows, j0, c, ldc);
  }
}
template <index_t MR, index_t NB>
inline void f32_tile(index_t k, const float* a, index_t a_rs, index_t a_ks, const float* b, index_t ldb,
                     float* c) noexcept {
  f32_tile<MR, NB>(k, a, a_rs, a_ks, panel_rows<float>{b, ldb}, c);
}
template <index_t G, index_t MR, index_t NB, class Rows>
inline void f32_tile_row_blocks(index_t k, const float* a, index_t a_rs, index_t a_ks, index_t a_gs, const Rows& rows,
                                float* c, index_t ldc = NB) noexcept {
  for (index_t g = 0; g < G; ++g) f32_tile<MR, NB>(k, a + g * a_gs, a_rs, a_ks, rows, c + g * MR * ldc, ldc);
}

// Float depthwise taps on a wide plane (generic::depthwise_taps' contract) for 3x3 kernels, a
// kernel's only group: the nine weights in FPU registers and a pointer per tap, four outputs a
// step by fused multiply-adds, where the portable loop reloaded each tap's weight and offset for
// every four outputs and rounded twice. Other plans keep the portable loop.
namespace detail {
KILN_NOINLINE inline void f32_depthwise_taps9(index_t n, const float* w, const index_t* off, const float* x, float bias,
                                              float* acc) noexcept {
  constexpr index_t T = 9;
  float wt[T];
  const float* xt[T];
  KILN_UNROLL for (index_t t = 0; t < T; ++t) {
    wt[t] = w[t];
    xt[t] = x + off[t];
  }
  index_t i = 0;
  for (; i + 4 <= n; i += 4) {
    float a[4] = {bias, bias, bias, bias};
    KILN_UNROLL for (index_t t = 0; t < T; ++t)
      KILN_UNROLL for (index_t j = 0; j < 4; ++j) a[j] = multiply_add(wt[t], xt[t][i + j], a[j]);
    KILN_UNROLL for (index_t j = 0; j < 4; ++j) acc[i + j] = a[j];
  }
  for (; i < n; ++i) {
    float a = bias;
    KILN_UNROLL for (index_t t = 0; t < T; ++t) a = multiply_add(wt[t], xt[t][i], a);
    acc[i] = a;
  }
}
}  // namespace detail
inline void depthwise_taps(const generic::depthwise_tap_plan<float>& plan, index_t n, const float* w, const float* x,
                           float bias, bool accumulate, float* acc) noexcept {
  if (plan.taps == 9 && !accumulate) detail::f32_depthwise_taps9(n, w, plan.off, x, bias, acc);
  else generic::depthwise_taps(n, plan.taps, w, plan.off, x, bias, accumulate, acc);
}

// Float depthwise over channel lanes (generic::depthwise_lane_taps' contract): P positions by 4
// lanes of accumulators (P = 4, then 1 for the rest), each tap's 4 weights loaded once for the P
// positions, fused multiply-adds; the portable loop's one position by 16 lanes loaded a weight
// per multiply-add.
namespace detail {
template <index_t P>
inline void f32_lane_taps(index_t j, const index_t* base, index_t taps, const float* w, const index_t* off,
                          const float* x, const float* bias, float* out) noexcept {
  constexpr index_t L = depthwise_lanes, C = 4;
  for (index_t l0 = 0; l0 < L; l0 += C) {
    float a[P][C];
    const float* xp[P];
    KILN_UNROLL for (index_t q = 0; q < P; ++q) {
      xp[q] = x + base[j + q] + l0;
      KILN_UNROLL for (index_t c = 0; c < C; ++c) a[q][c] = bias[l0 + c];
    }
    for (index_t t = 0; t < taps; ++t) {
      const float* const wt = w + t * L + l0;
      const index_t o = off[t];
      float wv[C];
      KILN_UNROLL for (index_t c = 0; c < C; ++c) wv[c] = wt[c];
      KILN_UNROLL for (index_t q = 0; q < P; ++q) {
        // One add a position, then loads at immediate offsets (VLDR has no register offset): left
        // to itself GCC shared o + c among the positions and added each position's base to each.
        const float* xq = xp[q] + o;
        __asm__("" : "+r"(xq));
        KILN_UNROLL for (index_t c = 0; c < C; ++c) a[q][c] = multiply_add(wv[c], xq[c], a[q][c]);
      }
    }
    KILN_UNROLL for (index_t q = 0; q < P; ++q)
      KILN_UNROLL for (index_t c = 0; c < C; ++c) out[(j + q) * L + l0 + c] = a[q][c];
  }
}
}  // namespace detail
inline void depthwise_lane_taps(index_t count, const index_t* base, index_t taps, const float* w, const index_t* off,
                                const float* x, const float* bias, float* out) noexcept {
  index_t j = 0;
  for (; j + 4 <= count; j += 4) detail::f32_lane_taps<4>(j, base, taps, w, off, x, bias, out);
  for (; j < count; ++j) detail::f32_lane_taps<1>(j, base, taps, w, off, x, bias, out);
}

// The channel-blocked pointwise tile (generic::f32_block_tile's contract): 4 positions by a block
// of 16 channels, as four passes of 4 x 4 accumulators, where the portable tile's one position
// loaded the 16 weights of every input channel for 16 multiply-adds. Out of line: inlined into
// the pointwise kernel of every activation kind and layout pair, it added 8.5 KB to MobileNet
// float's firmware for 0.4 % fewer instructions.
inline constexpr index_t f32_block_tile_rows = 4;
inline constexpr index_t f32_block_tile_cols = depthwise_lanes;
template <index_t MR, index_t NB>
KILN_NOINLINE void f32_block_tile(index_t k, const float* x, index_t x_bs, index_t x_ls, index_t x_ps, const float* w,
                                  index_t w_bs, const float* bias, float* y, index_t y_bs) noexcept {
  constexpr index_t L = depthwise_lanes;
  static_assert(NB % L == 0, "whole channel blocks");
  for (index_t j0 = 0; j0 < NB; j0 += 4) {
    const float* const wj = w + (j0 / L) * w_bs + j0 % L;
    float acc[MR][4];
    KILN_UNROLL for (index_t r = 0; r < MR; ++r)
      KILN_UNROLL for (index_t j = 0; j < 4; ++j) acc[r][j] = bias ? bias[j0 + j] : 0.f;
    const float* xb = x;
    for (index_t k0 = 0; k0 < k; k0 += L, xb += x_bs) {
      const index_t n = k - k0 < L ? k - k0 : L;
      for (index_t l = 0; l < n; ++l) {
        float wv[4];
        KILN_UNROLL for (index_t j = 0; j < 4; ++j) wv[j] = wj[(k0 + l) * L + j];
        KILN_UNROLL for (index_t r = 0; r < MR; ++r) {
          const float a = xb[l * x_ls + r * x_ps];
          KILN_UNROLL for (index_t j = 0; j < 4; ++j) acc[r][j] = detail::multiply_add(a, wv[j], acc[r][j]);
        }
      }
    }
    KILN_UNROLL for (index_t r = 0; r < MR; ++r)
      KILN_UNROLL for (index_t j = 0; j < 4; ++j) y[((j0 + j) / L) * y_bs + r * L + (j0 + j) % L] = acc[r][j];
  }
}

// Requantization, saturate(round_half_even(float32(acc) * scale) + zero_point) as ONNX Runtime
// computes it. With a single-precision FPU (M4F, M7, M33F) that is the float product rounded by
// vcvtr, which rounds in the FPSCR's mode: round to nearest even, the reset default that C code
// assumes. Five instructions where the integer-only emulation (core/requantize.hpp), which
// FPU-less cores keep, spends ~80 on the 64-bit variable shifts. vcvtr saturates to int32, __qadd
// keeps the zero point from wrapping, __ssat / __usat clamp to the output type.
#if defined(__ARM_FP) && (__ARM_FP & 4)
namespace detail {
inline std::int32_t round_product(std::int32_t acc, float scale) noexcept {
  return round_to_int32_not_nan(static_cast<float>(acc) * scale);  // finite operands: never NaN
}
// rounded + zero_point, saturated to Y's range: __qadd, then __ssat / __usat.
template <class Y> inline Y add_saturate(std::int32_t rounded, std::int32_t zero_point) noexcept {
  static_assert(sizeof(Y) <= 2, "8- and 16-bit outputs");
  const std::int32_t v = __qadd(rounded, zero_point);
  if constexpr (std::is_signed_v<Y>) return static_cast<Y>(__ssat(v, std::numeric_limits<Y>::digits + 1));
  else return static_cast<Y>(__usat(v, std::numeric_limits<Y>::digits));
}
template <class Y> inline Y requantize_to(std::int32_t acc, float scale, std::int32_t zero_point) noexcept {
  return add_saturate<Y>(round_product(acc, scale), zero_point);
}
}  // namespace detail

// QuantizeLinear's row, generic::quantize_row's values: the quotient rounded by vcvtr (NaN to
// int32's minimum, which saturates to the type's), the zero point added and the range clamped by
// the saturating instructions, where the portable form widens to 64 bits for its clamp
// (MobileNet int8 on the M4: its 27,648-element input 442 k -> 304 k instructions).
template <class Y> inline void quantize_row(const float* x, index_t n, float scale, float zero_point, Y* y) noexcept {
  const auto zp = static_cast<std::int32_t>(zero_point);
  for (index_t i = 0; i < n; ++i) y[i] = detail::add_saturate<Y>(round_to_int32(x[i] / scale), zp);
}

inline std::int32_t requantize_saturate(std::int32_t acc, float scale, const requant_params&, std::int32_t zero_point,
                                        std::int32_t lo, std::int32_t hi) noexcept {
  const std::int32_t v = __qadd(detail::round_product(acc, scale), zero_point);
  return v < lo ? lo : (v > hi ? hi : v);
}

template <class Y>
inline void requantize_row(const std::int32_t* acc, index_t n, float scale, const requant_params&,
                           std::int32_t zero_point, Y* y) noexcept {
  for (index_t i = 0; i < n; ++i) y[i] = detail::requantize_to<Y>(acc[i], scale, zero_point);
}

// Four outputs a pass: MobileNet int8's blocked depthwise outputs, 12 -> 10 instructions each
// (2 and 8 a pass did less, and so did requantize_row's loop unrolled; the integer emulation of
// the FPU-less cores stays rolled, where unrolled it added 12 KB to DS-CNN int8's firmware).
template <class Y>
inline void requantize_row_strided(const std::int32_t* acc, index_t n, float scale, const requant_params&,
                                   std::int32_t zero_point, Y* y, index_t ys) noexcept {
  KILN_UNROLL_BY(4) for (index_t i = 0; i < n; ++i) y[i * ys] = detail::requantize_to<Y>(acc[i], scale, zero_point);
}

template <class Y>
inline void requantize_lanes(const std::int32_t* acc, index_t count, const float* scale, const requant_params*,
                             std::int32_t zero_point, Y* y) noexcept {
  constexpr index_t L = depthwise_lanes;
  for (index_t j = 0; j < count; ++j, acc += L, y += L)
    for (index_t l = 0; l < L; ++l) y[l] = detail::requantize_to<Y>(acc[l], scale[l], zero_point);
}

template <index_t TW, class Y>
inline void requantize_tile(std::int32_t* c, index_t rows, index_t n, const std::int32_t* bias,
                            const std::int32_t* wz, const std::int32_t* colsum, const float* scale,
                            const requant_params* rq, std::int32_t zero_point, Y* y, index_t y_stride) noexcept {
  // A whole tile of the 2-column window and panel tiles: each row's outputs written out, where
  // the loops of add_column_term and requantize_row over 2 columns cost 22 instructions an output
  // (ResNet-8 int8's 3x3 layers).
  if constexpr (TW <= 4) {
    if (n == TW) {
      for (index_t r = 0; r < rows; ++r) {
        const std::int32_t b = bias[r], w = wz[r];
        const float s = scale[r];
        KILN_UNROLL for (index_t j = 0; j < TW; ++j)
          y[r * y_stride + j] = detail::requantize_to<Y>(c[r * TW + j] + (b - w * colsum[j]), s, zero_point);
      }
      return;
    }
  }
  // Inlined: a function of its own (one per output type) took MobileNet int8 from 25.2 to 28.1 M
  // instructions for 0.4 KB less code.
  generic::requantize_tile_by_rows(c, TW, rows, n, bias, wz, colsum, scale, rq, zero_point, y, y_stride,
                                   [](auto... a) { requantize_row<Y>(a...); });
}
#else
using generic::quantize_row;  // the reference loop, its rounding by vcvtr where the FPU has it
using generic::requantize_lanes;
using generic::requantize_row;
using generic::requantize_row_strided;
using generic::requantize_saturate;  // no FPU: the integer-only emulation
using generic::requantize_tile;
#endif

}  // namespace kiln::arch::cortex_m

// Dense int8 tile (packed/qdense.hpp): uint8 activation quads broadcast, int8 weight quads as the
// vector. int8_tile above already splits each operand by its own signedness (__uxtb16 for the
// uint8 side, __sxtb16 for the int8 side), so the dense tile is that tile with the types swapped.
namespace kiln::arch::cortex_m {

inline constexpr index_t s8_dense_nb = 2;

// The activation rows are split into halfword pairs once, as they are packed (split_dense_row:
// bytes 0,2 then 1,3 of each quad, 8 bytes a quad), so the tile, which reads each row for every
// pair of weight columns, splits only the weights. 2 rows x 2 columns: 4 accumulators, the weight
// halves, a row's two words and the pointers fit the registers: 17 instructions a step of 16
// multiply-adds, each row's two words and the two weight quads one LDRD apiece (where 4 LDRs, an
// LDR pair and an add took 21). The 4 x 2 tile that split both sides kept accumulators on the
// stack, 64 instructions a step of 32: MobileNet int8 20.43 -> 18.79 M instructions,
// fc_autoencoder int8 0.72 -> 0.65 M (DS-CNN int8's build of the old tile spilled less: 5.78 ->
// 5.73 M).
inline constexpr index_t dense_a_quad_bytes = 8;
inline constexpr index_t dense_tile_rows = 2;

inline void split_dense_row(std::uint8_t* row, index_t k4) noexcept {
  for (index_t q = k4 - 1; q >= 0; --q) {  // backwards: quad q's halves land on quads 2q and 2q + 1
    const std::uint32_t w = detail::load_quad(row + 4 * q);
    const std::uint32_t halves[2] = {detail::even_halves<std::uint8_t>(w), detail::odd_halves<std::uint8_t>(w)};
    std::memcpy(row + 8 * q, halves, 8);
  }
}

namespace detail {
// The dense tile with the weights' row pitch Ldb an immediate of the weights' LDRD (their pointer
// advanced by it): as a register, with the loop's end and the row pointers, it spilled an
// accumulator (21 instructions a step where 17). One copy a panel width, but only of this loop:
// the whole qdense loop a width (with_panel_width) had cost 4-6 KB of code a model. Out of line:
// inlined into qdense's flattened loop, the registers of the whole loop moved with it (MobileNet
// int8's 8 -> 16 layer 1.17 -> 1.53 M instructions); a call costs less than that.
template <index_t MR, index_t Ldb>
KILN_NOINLINE void int8_dense_tile_2(index_t k4, const std::uint8_t* a, index_t a_rs, const std::int8_t* b,
                                     std::int32_t* c) noexcept {
  constexpr int step = static_cast<int>(dense_a_quad_bytes);
  std::int32_t acc[MR][2] = {};
  const std::uint8_t* row[MR];  // a pointer per row, advanced by its LDRD
  KILN_UNROLL for (index_t r = 0; r < MR; ++r) row[r] = a + r * a_rs;
  const std::uint8_t* wb = reinterpret_cast<const std::uint8_t*>(b);
  for (const std::uint8_t* const end = a + k4 * step; row[0] != end;) {
    std::uint32_t w[2];
    load_words_advance<static_cast<int>(Ldb)>(wb, w[0], w[1]);
    std::uint32_t b02[2], b13[2];
    KILN_UNROLL for (index_t j = 0; j < 2; ++j) {
      b02[j] = even_halves<std::int8_t>(w[j]);
      b13[j] = odd_halves<std::int8_t>(w[j]);
    }
    KILN_UNROLL for (index_t r = 0; r < MR; ++r) {
      std::uint32_t a02, a13;
      load_words_advance<step>(row[r], a02, a13);
      KILN_UNROLL for (index_t j = 0; j < 2; ++j) {
        acc[r][j] = __smlad(static_cast<std::int32_t>(a02), static_cast<std::int32_t>(b02[j]), acc[r][j]);
        acc[r][j] = __smlad(static_cast<std::int32_t>(a13), static_cast<std::int32_t>(b13[j]), acc[r][j]);
      }
    }
  }
  KILN_UNROLL for (index_t r = 0; r < MR; ++r)
    KILN_UNROLL for (index_t j = 0; j < 2; ++j) c[r * 2 + j] = acc[r][j];
}
}  // namespace detail

// a_ks is dense_a_quad_bytes (qdense packs the rows so); ldb is 4 x the panel's width, one of the
// four panel widths (packed/layout.hpp dense_nr, dense_tail).
template <index_t MR, index_t NB>
inline void int8_dense_tile(index_t k4, const std::uint8_t* a, index_t a_rs, index_t a_ks, const std::int8_t* b,
                            index_t ldb, std::int32_t* c) noexcept {
  static_assert(NB == 2, "the tile's two weight columns are one LDRD");
  (void)a_ks;
  switch (ldb) {
    case 64: detail::int8_dense_tile_2<MR, 64>(k4, a, a_rs, b, c); break;
    case 128: detail::int8_dense_tile_2<MR, 128>(k4, a, a_rs, b, c); break;
    case 192: detail::int8_dense_tile_2<MR, 192>(k4, a, a_rs, b, c); break;
    default: detail::int8_dense_tile_2<MR, 256>(k4, a, a_rs, b, c); break;
  }
}

}  // namespace kiln::arch::cortex_m
