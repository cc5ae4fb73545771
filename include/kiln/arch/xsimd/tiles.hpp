// Host SIMD tiles: float through xsimd (AVX2, AVX-512, NEON: whichever the compiler targets).
// int8 through the best exact instruction the target has:
//   AVX-512 VNNI  vpdpbusd: four uint8 x int8 products per 32-bit lane, summed in int32;
//   AVX2          bytes widened to int16, vpmaddwd: two products per 32-bit lane;
//   NEON          bytes widened to int16, vmulq_s16 + vpadalq_s16 (widening multiply-accumulate).
#pragma once

#include "../generic/tiles.hpp"
#include "rows.hpp"

#include <xsimd/xsimd.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>
#if defined(__AVX2__)
#include <immintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

namespace kiln::arch::simd {

using f32_batch = xsimd::batch<float>;
// Two vectors per row and MR = 4 rows: 8 accumulators keep both FMA ports busy through the FMA
// latency, leaving registers for the two column loads and the broadcast.
inline constexpr index_t f32_nb = 2 * static_cast<index_t>(f32_batch::size);
// Vector registers of the target: 32 on AVX-512 and NEON, 16 on x86 below AVX-512.
#if (defined(__x86_64__) || defined(__i386__)) && !defined(__AVX512F__)
inline constexpr index_t vector_registers = 16;
#else
inline constexpr index_t vector_registers = 32;
#endif
// Accumulators a tile keeps in registers: half the register file, the rest for the column loads
// and the broadcast. Wider tiles run as column chunks of that many (detail::register_tile):
// with all 16 AVX2 registers as accumulators the window tile spilled (Zen 1: a 32-channel 56x56
// 3x3 layer 2660 us, in chunks of 8 1640 us), and so did the small-plane 1x1 kernel's 4 x 64
// tile (32 accumulators; MobileNet's 6x6 pointwise layers 68 -> 41 us, ORT 39).
inline constexpr index_t f32_max_accumulators = vector_registers / 2;
// The direct path's window tile: as many columns as 4 rows of accumulators hold (see
// generic::f32_window_nb), 64 on AVX-512, 16 on AVX2 and NEON.
inline constexpr index_t f32_window_nb = f32_max_accumulators / 4 * static_cast<index_t>(f32_batch::size);
inline constexpr index_t f32_window_step = static_cast<index_t>(f32_batch::size);  // a band's last tile
// A 1-row tile has a quarter of the independent multiply-adds to hide their latency: rows in even
// tiles (generic::even_row_tiles).
inline constexpr bool even_row_tiles = true;

namespace detail {
// The register tile every instruction set below shares: per step, V vectors of columns (b) and MR
// broadcast row elements (a), all MR x V accumulators in registers; row r of the result at
// c + r * ldc. Ops is the instruction set: load(b) one vector of columns (Ops::bytes elements of
// b), broadcast(a) one row element (a float, or an int8 quad), madd(acc, a, b), store(row of V
// accumulators, c) Ops::cols columns per accumulator; pin(acc) after every step keeps them in
// registers where an instruction set needs it (see pin_on_any_steps).
// Rows come in groups of RG (all MR by default), a_gs apart: row r's element at
// a + (r / RG) * a_gs + (r % RG) * a_rs.
// Inlined into a kernel, the VNNI tile's accumulators went through the stack every step (GCC 12)
// unless pinned, but a pin on a run-time step count helps panels only: over a window's taps and
// quads it caused the very stores it prevents elsewhere. So: pinned where the count is a
// compile-time constant (--specialize; ResNet-8 int8 114 -> 89 us), and on panels always
// (unspecialized DS-CNN int8 with requantize_tile: 39 -> 31 us; pinning windows too, ResNet-8
// int8 88 -> 154 us).
template <class Rows> inline constexpr bool pin_on_any_steps = false;
template <class T> inline constexpr bool pin_on_any_steps<panel_rows<T>> = true;

template <class Ops, index_t MR, index_t V, index_t RG = MR, class A, class Rows, class C>
KILN_ALWAYS_INLINE inline void tile_in_registers(index_t steps, const A* a, index_t a_rs, index_t a_ks,
                                                 const Rows& rows, C* c, index_t ldc, index_t a_gs = 0) noexcept {
  using B = typename Rows::value_type;
  typename Ops::acc acc[MR][V];
  KILN_UNROLL for (index_t r = 0; r < MR; ++r)
    KILN_UNROLL for (index_t v = 0; v < V; ++v) acc[r][v] = Ops::zero();
  rows.each(steps, [&](const B* b) KILN_ALWAYS_INLINE {
    typename Ops::column bv[V];
    KILN_UNROLL for (index_t v = 0; v < V; ++v) bv[v] = Ops::load(b + Ops::bytes * v);
    KILN_UNROLL for (index_t r = 0; r < MR; ++r) {
      const auto av = Ops::broadcast(a + r / RG * a_gs + r % RG * a_rs);
      KILN_UNROLL for (index_t v = 0; v < V; ++v) acc[r][v] = Ops::madd(acc[r][v], av, bv[v]);
    }
    if (KILN_KNOWN_CONSTANT(steps) || pin_on_any_steps<Rows>) Ops::pin(acc);
    a += a_ks;
  });
  KILN_UNROLL for (index_t r = 0; r < MR; ++r) Ops::template store<V>(acc[r], c + r * ldc);
}

// An MR x V tile (vectors [V0, V) here) in column chunks of at most Ops::max_accumulators, a
// multiple of Ops::vector_group vectors (the ones store() joins), each a pass over the steps.
template <class Ops, index_t MR, index_t V, index_t V0 = 0, class A, class Rows, class C>
inline void register_tile(index_t steps, const A* a, index_t a_rs, index_t a_ks, const Rows& rows, C* c,
                          index_t ldc = Ops::cols * V) noexcept {
  constexpr index_t group = Ops::vector_group, fit = Ops::max_accumulators / MR / group * group;
  constexpr index_t chunk = fit > group ? fit : group, n = V - V0 < chunk ? V - V0 : chunk;
  Rows part = rows;
  part.b += Ops::bytes * V0;
  tile_in_registers<Ops, MR, n>(steps, a, a_rs, a_ks, part, c + Ops::cols * V0, ldc);
  if constexpr (V0 + n < V) register_tile<Ops, MR, V, V0 + n>(steps, a, a_rs, a_ks, rows, c, ldc);
}

// A vector loaded into a register that stays there: GCC 12 otherwise folds the load into every
// multiply-add that uses it, one load per use (see f32_ops::load).
template <class B> inline B load_in_register(const typename B::value_type* p) noexcept {
  B v = B::load_unaligned(p);
#if defined(__x86_64__) || defined(__i386__)
  auto r = static_cast<typename B::register_type>(v);
  asm("" : "+v"(r));
  v = r;
#endif
  return v;
}

struct f32_ops {
  using acc = f32_batch;
  using column = f32_batch;
  static constexpr index_t bytes = static_cast<index_t>(f32_batch::size), cols = bytes;
  static constexpr index_t max_accumulators = f32_max_accumulators, vector_group = 1;
  template <index_t MR, index_t V> static void pin(acc (&)[MR][V]) noexcept {}
  static acc zero() noexcept { return f32_batch(0.f); }
  // Each column vector loaded once into a register. Left to itself GCC 12 folded the load into
  // every row's multiply-add, MR loads of it per step: 20 loads for 16 FMAs in the 4 x 64 tile,
  // more than AVX-512's two loads a cycle can feed (the 64-channel 1x1 kernel at 49 % of peak).
  static column load(const float* b) noexcept { return load_in_register<f32_batch>(b); }
  static f32_batch broadcast(const float* a) noexcept { return f32_batch(*a); }
  static acc madd(acc s, f32_batch a, column b) noexcept { return xsimd::fma(a, b, s); }
  template <index_t V> static void store(const acc* row, float* c) noexcept {
    KILN_UNROLL for (index_t v = 0; v < V; ++v) row[v].store_unaligned(c + cols * v);
  }
};
}  // namespace detail

template <index_t MR, index_t NB, class Rows>
inline void f32_tile(index_t k, const float* a, index_t a_rs, index_t a_ks, const Rows& rows, float* c,
                     index_t ldc = NB) noexcept {
  constexpr index_t lanes = static_cast<index_t>(f32_batch::size);
  if constexpr (NB % lanes != 0) generic::f32_tile<MR, NB>(k, a, a_rs, a_ks, rows, c, ldc);
  else detail::register_tile<detail::f32_ops, MR, NB / lanes>(k, a, a_rs, a_ks, rows, c, ldc);
}
// G blocks of MR rows (block g's at a + g * a_gs) over NB columns in one tile: a narrow tile
// keeps as many accumulators as a full one (see packed/conv.hpp conv_direct).
template <index_t G, index_t MR, index_t NB, class Rows>
inline void f32_tile_row_blocks(index_t k, const float* a, index_t a_rs, index_t a_ks, index_t a_gs, const Rows& rows,
                                float* c, index_t ldc = NB) noexcept {
  constexpr index_t lanes = static_cast<index_t>(f32_batch::size);
  static_assert(NB % lanes == 0 && G * MR * (NB / lanes) <= f32_max_accumulators, "one pass in registers");
  detail::tile_in_registers<detail::f32_ops, G * MR, NB / lanes, MR>(k, a, a_rs, a_ks, rows, c, ldc, a_gs);
}
template <index_t MR, index_t NB>
inline void f32_tile(index_t k, const float* a, index_t a_rs, index_t a_ks, const float* b, index_t ldb,
                     float* c) noexcept {
  f32_tile<MR, NB>(k, a, a_rs, a_ks, panel_rows<float>{b, ldb}, c);
}

// Pointwise over channel blocks (see generic::f32_block_tile): each input element broadcast
// against the weight vectors of NB output channels, MR x NB / lanes accumulators. AVX-512: 12
// positions x 32 channels (24 accumulators, 2 weight vectors, the broadcast); 16-register AVX2
// and NEON: 6 x 16.
inline constexpr index_t f32_block_tile_cols =
    static_cast<index_t>(f32_batch::size) >= 16 ? 2 * generic::depthwise_lanes : generic::depthwise_lanes;
inline constexpr index_t f32_block_tile_rows =
    (vector_registers - 2 * f32_block_tile_cols / static_cast<index_t>(f32_batch::size)) /
                (f32_block_tile_cols / static_cast<index_t>(f32_batch::size)) >= 12
        ? 12
        : 6;
template <index_t MR, index_t NB>
inline void f32_block_tile(index_t k, const float* x, index_t x_bs, index_t x_ls, index_t x_ps, const float* w,
                           index_t w_bs, const float* bias, float* y, index_t y_bs) noexcept {
  constexpr index_t L = generic::depthwise_lanes, S = static_cast<index_t>(f32_batch::size);
  constexpr index_t V = NB / S, VB = L / S;  // vectors per tile row, per channel block
  static_assert(NB % L == 0 && L % S == 0, "whole channel blocks of whole vectors");
  f32_batch acc[MR][V];
  KILN_UNROLL for (index_t v = 0; v < V; ++v) {
    const f32_batch b = bias ? f32_batch::load_unaligned(bias + v * S) : f32_batch(0.f);
    KILN_UNROLL for (index_t r = 0; r < MR; ++r) acc[r][v] = b;
  }
  for (index_t k0 = 0; k0 < k; k0 += L, x += x_bs) {
    const index_t n = k - k0 < L ? k - k0 : L;
    const float* wk = w + k0 * L;
    for (index_t l = 0; l < n; ++l, wk += L) {
      f32_batch wv[V];
      KILN_UNROLL for (index_t v = 0; v < V; ++v) wv[v] = detail::f32_ops::load(wk + (v / VB) * w_bs + (v % VB) * S);
      const float* xl = x + l * x_ls;
      KILN_UNROLL for (index_t r = 0; r < MR; ++r) {
        const f32_batch a(xl[r * x_ps]);
        KILN_UNROLL for (index_t v = 0; v < V; ++v) acc[r][v] = xsimd::fma(a, wv[v], acc[r][v]);
      }
    }
  }
  KILN_UNROLL for (index_t r = 0; r < MR; ++r)
    KILN_UNROLL for (index_t v = 0; v < V; ++v) acc[r][v].store_unaligned(y + (v / VB) * y_bs + r * L + (v % VB) * S);
}

// Depthwise taps (see generic::depthwise_taps), every tap accumulated in registers. V vectors of
// outputs at a time: four independent chains cover the multiply-add latency. int32 multiplies are
// exact, float ones fused.
namespace detail {
// c + a * b: fused for float, exact for int32.
template <class B> inline B madd(const B& a, const B& b, const B& c) noexcept {
  if constexpr (std::is_floating_point_v<typename B::value_type>) return xsimd::fma(a, b, c);
  else return a * b + c;
}

template <index_t V, class A>
inline index_t depthwise_taps_by(index_t i, index_t n, index_t taps, const A* w, const index_t* off, const A* x,
                                 A bias, bool accumulate, A* acc) noexcept {
  using batch = xsimd::batch<A>;
  constexpr index_t L = static_cast<index_t>(batch::size);
  for (; i + V * L <= n; i += V * L) {
    batch a[V];
    KILN_UNROLL for (index_t v = 0; v < V; ++v) a[v] = accumulate ? batch::load_unaligned(acc + i + v * L) : batch(bias);
    for (index_t t = 0; t < taps; ++t) {
      const batch wv(w[t]);
      const A* xt = x + off[t] + i;
      KILN_UNROLL for (index_t v = 0; v < V; ++v) a[v] = madd(wv, batch::load_unaligned(xt + v * L), a[v]);
    }
    KILN_UNROLL for (index_t v = 0; v < V; ++v) a[v].store_unaligned(acc + i + v * L);
  }
  return i;
}

#if defined(__AVX512F__)
// Float taps whose offsets come in runs of R consecutive ones: a kernel row of the per-channel
// wide plane at stride 1, dilation 1 (packed/depthwise.hpp). Each run loads an input vector once
// and shifts the next one's first lanes in (valignd) for the run's other R - 1 operands, where
// depthwise_taps_by loads every operand, most of them across two cache lines (the plane's pitch
// is its padded width): MobileNet's 8-channel 48x48 layer 6.4 -> 4.6 us. V vectors of outputs
// (independent chains) at a time; the last vector's successor is loaded under a mask of the R - 1
// lanes it gives, so nothing past the taps' last entry is read.
template <index_t R> inline bool taps_in_runs(index_t taps, const index_t* off) noexcept {
  if (taps % R != 0) return false;
  for (index_t t = 0; t < taps; t += R)
    for (index_t k = 1; k < R; ++k)
      if (off[t + k] != off[t] + k) return false;
  return true;
}
// Lanes K.. of cur, then next's first K. All lanes under a mask: GCC 12's unmasked
// _mm512_alignr_epi32 passes an undefined vector to its builtin and warns of it.
template <int K> inline __m512 lanes_from(__m512i cur, __m512i next) noexcept {
  if constexpr (K == 0) return _mm512_castsi512_ps(cur);
  else return _mm512_castsi512_ps(_mm512_maskz_alignr_epi32(static_cast<__mmask16>(0xffff), next, cur, K));
}
template <index_t R, index_t V, int... K>
inline index_t depthwise_tap_runs_by(index_t i, index_t n, index_t taps, const float* w, const index_t* off,
                                     const float* x, float bias, bool accumulate, float* acc,
                                     std::integer_sequence<int, K...>) noexcept {
  static_assert(sizeof...(K) == R && R <= 16, "a run's shifts stay within the next vector");
  constexpr auto tail = static_cast<__mmask16>((1u << (R - 1)) - 1);
  for (; i + V * 16 <= n; i += V * 16) {
    __m512 a[V];
    KILN_UNROLL for (index_t v = 0; v < V; ++v) a[v] = accumulate ? _mm512_loadu_ps(acc + i + v * 16) : _mm512_set1_ps(bias);
    for (index_t t = 0; t < taps; t += R) {
      const __m512 wk[R] = {_mm512_set1_ps(w[t + K])...};
      const float* xt = x + off[t] + i;
      __m512i cur = _mm512_castps_si512(_mm512_loadu_ps(xt));
      KILN_UNROLL for (index_t v = 0; v < V; ++v) {
        const float* at = xt + (v + 1) * 16;
        const __m512i next = _mm512_castps_si512(v + 1 < V ? _mm512_loadu_ps(at) : _mm512_maskz_loadu_ps(tail, at));
        ((a[v] = _mm512_fmadd_ps(wk[K], lanes_from<K>(cur, next), a[v])), ...);
        cur = next;
      }
    }
    KILN_UNROLL for (index_t v = 0; v < V; ++v) _mm512_storeu_ps(acc + i + v * 16, a[v]);
  }
  return i;
}
template <index_t R, int... K>
inline index_t depthwise_tap_runs(index_t n, index_t taps, const float* w, const index_t* off, const float* x,
                                  float bias, bool accumulate, float* acc, std::integer_sequence<int, K...> k) noexcept {
  const index_t i = depthwise_tap_runs_by<R, 8>(0, n, taps, w, off, x, bias, accumulate, acc, k);
  return depthwise_tap_runs_by<R, 1>(i, n, taps, w, off, x, bias, accumulate, acc, k);
}
#endif
}  // namespace detail

template <class A>
inline void depthwise_taps(index_t n, index_t taps, const A* w, const index_t* off, const A* x, A bias,
                           bool accumulate, A* acc) noexcept {
  index_t i = 0;
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<A, float>) {
    // 3x3 windows; a 5x5 one's first group of depthwise_max_taps taps ends inside a kernel row.
    if (detail::taps_in_runs<3>(taps, off))
      i = detail::depthwise_tap_runs<3>(n, taps, w, off, x, bias, accumulate, acc, std::make_integer_sequence<int, 3>{});
  }
#endif
  i = detail::depthwise_taps_by<4>(i, n, taps, w, off, x, bias, accumulate, acc);
  i = detail::depthwise_taps_by<1>(i, n, taps, w, off, x, bias, accumulate, acc);
  generic::depthwise_taps(n - i, taps, w, off, x + i, bias, accumulate, acc + i);
}

using generic::depthwise_max_taps;
using generic::depthwise_tap_plan;
using generic::plan_depthwise_taps;
template <class A>
inline void depthwise_taps(const depthwise_tap_plan<A>& plan, index_t n, const A* w, const A* x, A bias, bool accumulate,
                           A* acc) noexcept {
  depthwise_taps(n, plan.taps, w, plan.off, x, bias, accumulate, acc);
}

using generic::depthwise_lanes_max_plane;
using generic::depthwise_int8_plane;

#if defined(__SSE2__)
// Byte lanes move between channel rows and lane groups by 16 x 16 transposes in registers, where
// the portable loops move one element at a time. Blocks narrower than 16 go through a tile.
namespace detail {
using bytes16 = xsimd::batch<std::uint8_t, xsimd::sse2>;
// r[i][j] becomes r[j][i]: four rounds of interleaving rows k and k + 8.
inline void transpose_16x16(bytes16 (&r)[16]) noexcept {
  bytes16 t[16];
  KILN_UNROLL for (int round = 0; round < 4; ++round) {
    KILN_UNROLL for (index_t k = 0; k < 8; ++k) {
      t[2 * k] = xsimd::zip_lo(r[k], r[k + 8]);
      t[2 * k + 1] = xsimd::zip_hi(r[k], r[k + 8]);
    }
    KILN_UNROLL for (index_t k = 0; k < 16; ++k) r[k] = t[k];
  }
}
// The first n <= 8 bytes at p as the low bytes of an integer (x86 is little-endian), zero above:
// fixed-size loads, no access past n.
inline std::uint64_t load_upto_8(const std::uint8_t* p, index_t n) noexcept {
  std::uint64_t v = 0;
  if (n == 8) {
    std::memcpy(&v, p, 8);
    return v;
  }
  index_t i = 0;
  if (n & 4) {
    std::uint32_t w;
    std::memcpy(&w, p, 4);
    v = w;
    i = 4;
  }
  if (n & 2) {
    std::uint16_t h;
    std::memcpy(&h, p + i, 2);
    v |= static_cast<std::uint64_t>(h) << (8 * i);
    i += 2;
  }
  if (n & 1) v |= static_cast<std::uint64_t>(p[i]) << (8 * i);
  return v;
}
// The first n <= 16 bytes at p, zero past them; and the way back. Short loads are masked (no
// access past n) with AVX-512BW, else assembled in general registers: filling a stack tile byte
// by byte and loading it as a vector stalls on store forwarding (a 5-column plane's interleave
// spent most of its time there), and a variable-length memcpy is a library call per row.
inline bytes16 load_partial(const std::uint8_t* p, index_t n) noexcept {
  if (n == 16) return bytes16::load_unaligned(p);
#if defined(__AVX512BW__) && defined(__AVX512VL__)
  return _mm_maskz_loadu_epi8(static_cast<__mmask16>((1u << n) - 1), p);
#else
  const std::uint64_t lo = n >= 8 ? load_upto_8(p, 8) : load_upto_8(p, n);
  const std::uint64_t hi = n > 8 ? load_upto_8(p + 8, n - 8) : 0;
  return _mm_set_epi64x(static_cast<long long>(hi), static_cast<long long>(lo));
#endif
}
inline void store_partial(const bytes16& v, std::uint8_t* p, index_t n) noexcept {
  if (n == 16) return v.store_unaligned(p);
#if defined(__AVX512BW__) && defined(__AVX512VL__)
  _mm_mask_storeu_epi8(p, static_cast<__mmask16>((1u << n) - 1), v);
#else
  alignas(16) std::uint8_t tile[16];
  v.store_aligned(tile);
  for (index_t i = 0; i < n; ++i) p[i] = tile[i];
#endif
}
// Float lanes go by 4 x 4 transposes (four lanes by four columns per step): the same for n <= 4
// floats.
inline __m128 load_partial(const float* p, index_t n) noexcept {
  if (n == 4) return _mm_loadu_ps(p);
#if defined(__AVX512F__) && defined(__AVX512VL__)
  return _mm_maskz_loadu_ps(static_cast<__mmask8>((1u << n) - 1), p);
#else
  if (n <= 0) return _mm_setzero_ps();
  if (n == 1) return _mm_load_ss(p);
  const __m128 two = _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
  return n == 2 ? two : _mm_movelh_ps(two, _mm_load_ss(p + 2));
#endif
}
inline void store_partial(__m128 v, float* p, index_t n) noexcept {
  if (n == 4) return _mm_storeu_ps(p, v);
#if defined(__AVX512F__) && defined(__AVX512VL__)
  _mm_mask_storeu_ps(p, static_cast<__mmask8>((1u << n) - 1), v);
#else
  alignas(16) float tile[4];
  _mm_store_ps(tile, v);
  for (index_t i = 0; i < n; ++i) p[i] = tile[i];
#endif
}
#if defined(__AVX2__)
// The same for 8 floats.
inline __m256 load_partial8(const float* p, index_t n) noexcept {
  if (n == 8) return _mm256_loadu_ps(p);
#if defined(__AVX512F__) && defined(__AVX512VL__)
  return _mm256_maskz_loadu_ps(static_cast<__mmask8>((1u << n) - 1), p);
#else
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  return _mm256_maskload_ps(p, mask);
#endif
}
inline void store_partial8(__m256 v, float* p, index_t n) noexcept {
  if (n == 8) return _mm256_storeu_ps(p, v);
#if defined(__AVX512F__) && defined(__AVX512VL__)
  _mm256_mask_storeu_ps(p, static_cast<__mmask8>((1u << n) - 1), v);
#else
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  _mm256_maskstore_ps(p, mask, v);
#endif
}
// transpose_4x4 in 8 x 8: out[k] holds element k of the first `rows` rows (n elements each, zero
// past them and in the rows after).
inline void transpose_8x8(const float* src, index_t stride, index_t rows, index_t n, __m256 (&out)[8]) noexcept {
  __m256 t[8], u[8];
  KILN_UNROLL for (index_t i = 0; i < 8; ++i) out[i] = i < rows ? load_partial8(src + i * stride, n) : _mm256_setzero_ps();
  KILN_UNROLL for (index_t i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(out[i], out[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(out[i], out[i + 1]);
  }
  KILN_UNROLL for (index_t i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  KILN_UNROLL for (index_t i = 0; i < 4; ++i) {
    out[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    out[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}
#endif
// out[k] = element k of src, src + stride, ... (the first `rows` of four rows of n elements,
// zero past them), transposed: out[k] holds element k of each row.
inline void transpose_4x4(const float* src, index_t stride, index_t rows, index_t n, __m128 (&out)[4]) noexcept {
  KILN_UNROLL for (index_t i = 0; i < 4; ++i) out[i] = i < rows ? load_partial(src + i * stride, n) : _mm_setzero_ps();
  _MM_TRANSPOSE4_PS(out[0], out[1], out[2], out[3]);
}
// The float lane transposes in blocks of size x size: 8 x 8 where the target has 8-float vectors
// (per element half the loads and stores of 4 x 4, and rows a few columns wide, DS-CNN's 5, leave
// fewer partial blocks: its depthwise layers about 0.7 us faster each), else 4 x 4.
struct f32_block4 {
  using vec = __m128;
  static constexpr index_t size = 4;
  static vec splat(float v) noexcept { return _mm_set1_ps(v); }
  static vec sub(vec a, vec b) noexcept { return _mm_sub_ps(a, b); }
  static void transpose(const float* src, index_t stride, index_t rows, index_t n, vec (&out)[4]) noexcept {
    transpose_4x4(src, stride, rows, n, out);
  }
  static void store(vec v, float* p, index_t n) noexcept { store_partial(v, p, n); }
};
#if defined(__AVX2__)
struct f32_block8 {
  using vec = __m256;
  static constexpr index_t size = 8;
  static vec splat(float v) noexcept { return _mm256_set1_ps(v); }
  static vec sub(vec a, vec b) noexcept { return _mm256_sub_ps(a, b); }
  static void transpose(const float* src, index_t stride, index_t rows, index_t n, vec (&out)[8]) noexcept {
    transpose_8x8(src, stride, rows, n, out);
  }
  static void store(vec v, float* p, index_t n) noexcept { store_partial8(v, p, n); }
};
using f32_block = f32_block8;
#else
using f32_block = f32_block4;
#endif
// r[i] = bytes [0, n) of row i (rows `stride` apart), zero past n; rows from `rows` on are zero.
inline void load_rows_16(const std::uint8_t* x, index_t stride, index_t rows, index_t n, bytes16 (&r)[16]) noexcept {
  for (index_t i = 0; i < rows; ++i) r[i] = load_partial(x + i * stride, n);
  for (index_t i = rows; i < 16; ++i) r[i] = bytes16(std::uint8_t(0));
}
// load_rows_16, transposed: r[j][i] = byte j of row i.
inline void load_transposed_16(const std::uint8_t* x, index_t stride, index_t rows, index_t n,
                               bytes16 (&r)[16]) noexcept {
  load_rows_16(x, stride, rows, n, r);
  transpose_16x16(r);
}

// The 16 bytes of v (lanes, of type X) as 16 A values minus zp at d. Written out per instruction
// set, not as a loop for the compiler to vectorize: with a layer's width a constant
// (kiln compile --specialize) GCC 12 turned that loop into byte inserts through the stack
// (DS-CNN int8 depthwise about half again slower than unspecialized).
template <class X, class A> inline void widen_lanes(bytes16 v, A zp, A* d) noexcept {
#if defined(__AVX512F__)
  if constexpr (std::is_same_v<A, std::int32_t>) {
    // The zero-masked forms: GCC 12's unmasked ones start from an undefined vector that
    // -Wmaybe-uninitialized reports, a false positive.
    const __m512i w = std::is_signed_v<X> ? _mm512_maskz_cvtepi8_epi32(0xffff, v) : _mm512_maskz_cvtepu8_epi32(0xffff, v);
    _mm512_storeu_si512(d, _mm512_sub_epi32(w, _mm512_set1_epi32(zp)));
    return;
  }
#elif defined(__AVX2__)
  if constexpr (std::is_same_v<A, std::int32_t>) {
    const __m128i hi = _mm_unpackhi_epi64(v, v);
    const __m256i w0 = std::is_signed_v<X> ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v);
    const __m256i w1 = std::is_signed_v<X> ? _mm256_cvtepi8_epi32(hi) : _mm256_cvtepu8_epi32(hi);
    const __m256i z = _mm256_set1_epi32(zp);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d), _mm256_sub_epi32(w0, z));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + 8), _mm256_sub_epi32(w1, z));
    return;
  }
#endif
  if constexpr (std::is_same_v<A, std::uint8_t>) {  // the bytes as they are, less zp modulo 256 (lane quads)
    (v - bytes16(zp)).store_unaligned(d);
    return;
  }
  alignas(16) X lane[16];
  v.store_aligned(reinterpret_cast<std::uint8_t*>(lane));
  for (index_t l = 0; l < 16; ++l) d[l] = static_cast<A>(static_cast<A>(lane[l]) - zp);
}
}  // namespace detail

// generic::interleave_lanes for 16 full lanes: byte inputs in blocks of up to 16 columns
// transposed in registers, then widened by a loop the compiler vectorizes; floats in blocks of
// detail::f32_block.
template <class X, class A>
inline void interleave_lanes(const X* x, index_t row_stride, index_t lanes, index_t width, A zero_point,
                             A* dst) noexcept {
  constexpr index_t L = generic::depthwise_lanes;
  if constexpr (sizeof(X) == 1 && L == 16) {
    if (lanes == L) {
      for (index_t iw = 0; iw < width; iw += 16) {
        const index_t n = width - iw < 16 ? width - iw : 16;
        detail::bytes16 r[16];
        detail::load_transposed_16(reinterpret_cast<const std::uint8_t*>(x + iw), row_stride, 16, n, r);
        A* d = dst + iw * L;
        for (index_t i = 0; i < n; ++i) detail::widen_lanes<X>(r[i], zero_point, d + i * L);  // column iw + i
      }
      return;
    }
  }
  if constexpr (std::is_same_v<X, float> && std::is_same_v<A, float> && L % detail::f32_block::size == 0) {
    if (lanes == L) {
      using block = detail::f32_block;
      constexpr index_t B = block::size;
      const typename block::vec zp = block::splat(zero_point);
      for (index_t iw = 0; iw < width; iw += B) {
        const index_t n = width - iw < B ? width - iw : B;
        for (index_t l = 0; l < L; l += B) {
          typename block::vec c[B];  // c[i]: column iw + i of lanes l .. l + B - 1
          block::transpose(x + l * row_stride + iw, row_stride, B, n, c);
          for (index_t i = 0; i < n; ++i) block::store(block::sub(c[i], zp), dst + (iw + i) * L + l, B);
        }
      }
      return;
    }
  }
  generic::interleave_lanes(x, row_stride, lanes, width, zero_point, dst);
}

// generic::deinterleave_lanes for 16 full lanes: bytes in blocks of up to 16 positions
// transposed in registers, floats in blocks of detail::f32_block.
template <class Y>
inline void deinterleave_lanes(const Y* q, index_t count, index_t lanes, Y* y, index_t row_stride) noexcept {
  constexpr index_t L = generic::depthwise_lanes;
  if constexpr (sizeof(Y) == 1 && L == 16) {
    if (lanes == L) {
      for (index_t j = 0; j < count; j += 16) {
        const index_t n = count - j < 16 ? count - j : 16;
        detail::bytes16 r[16];
        detail::load_transposed_16(reinterpret_cast<const std::uint8_t*>(q + j * L), L, n, 16, r);
        for (index_t l = 0; l < L; ++l)
          detail::store_partial(r[l], reinterpret_cast<std::uint8_t*>(y + l * row_stride + j), n);
      }
      return;
    }
  }
  if constexpr (std::is_same_v<Y, float> && L % detail::f32_block::size == 0) {
    if (lanes == L) {
      using block = detail::f32_block;
      constexpr index_t B = block::size;
      for (index_t j = 0; j < count; j += B) {
        const index_t n = count - j < B ? count - j : B;
        for (index_t l = 0; l < L; l += B) {
          typename block::vec r[B];  // r[k]: positions j .. j + B - 1 of lane l + k
          block::transpose(q + j * L + l, L, n, B, r);
          for (index_t k = 0; k < B; ++k) block::store(r[k], y + (l + k) * row_stride + j, n);
        }
      }
      return;
    }
  }
  generic::deinterleave_lanes(q, count, lanes, y, row_stride);
}
#else
using generic::deinterleave_lanes;
using generic::interleave_lanes;
#endif
using generic::depthwise_lanes;

// Depthwise over channel lanes (see generic::depthwise_lane_taps): J positions at a time, so J
// independent multiply-add chains per vector of lanes, J * V accumulators within half the
// register file (AVX-512: 8 positions, AVX2 and NEON: 4). Positions left over run four, then one
// at a time, still in vectors: the generic loop's inner sum over taps is what a compiler
// vectorizes, with gathers, at a tenth of the speed.
namespace detail {
template <class A> constexpr index_t lane_vectors() noexcept {
  return generic::depthwise_lanes / static_cast<index_t>(xsimd::batch<A>::size);
}
template <class A>
inline constexpr index_t lane_positions = f32_max_accumulators / lane_vectors<A>() < 8
                                              ? f32_max_accumulators / lane_vectors<A>()
                                              : 8;

// Stores J positions' accumulators (V vectors of lanes each) to out[p * L ...], activated.
template <index_t J, class A, index_t V, class Act>
inline void store_lanes_activated(xsimd::batch<A> (&a)[J][V], A* out, Act act) noexcept {
  using batch = xsimd::batch<A>;
  constexpr index_t L = generic::depthwise_lanes;
  KILN_UNROLL for (index_t p = 0; p < J; ++p)
    KILN_UNROLL for (index_t v = 0; v < V; ++v) {
      A* const o = out + p * L + v * static_cast<index_t>(batch::size);
      if constexpr (std::is_invocable_v<Act, batch>) {
        batch(act(a[p][v])).store_unaligned(o);
      } else {  // an activation of scalars only (sigmoid, tanh, ...)
        a[p][v].store_unaligned(o);
        for (std::size_t i = 0; i < batch::size; ++i) o[i] = act(o[i]);
      }
    }
}

template <index_t J, class A, class Act>
inline index_t depthwise_lane_taps_by(index_t j, index_t count, const index_t* base, index_t taps, const A* w,
                                      const index_t* off, const A* x, const A* bias, A* out, Act act) noexcept {
  using batch = xsimd::batch<A>;
  constexpr index_t L = generic::depthwise_lanes, V = lane_vectors<A>();
  static_assert(V * static_cast<index_t>(batch::size) == L, "lanes fill whole vectors");
  for (; j + J <= count; j += J) {
    A* const oj = out + j * L;
    const A* xj[J];
    KILN_UNROLL for (index_t p = 0; p < J; ++p) xj[p] = x + base[j + p];
    batch a[J][V];
    KILN_UNROLL for (index_t v = 0; v < V; ++v) {
      const batch b = batch::load_unaligned(bias + v * batch::size);
      KILN_UNROLL for (index_t p = 0; p < J; ++p) a[p][v] = b;
    }
    for (index_t t = 0; t < taps; ++t)
      KILN_UNROLL for (index_t v = 0; v < V; ++v) {
        const batch wv = batch::load_unaligned(w + t * L + v * batch::size);
        KILN_UNROLL for (index_t p = 0; p < J; ++p)
          a[p][v] = madd(wv, batch::load_unaligned(xj[p] + off[t] + v * batch::size), a[p][v]);
      }
    store_lanes_activated<J>(a, oj, act);
  }
  return j;
}

// Depthwise over channel lanes straight from the rows of a blocked input, where
// depthwise_lane_taps reads a window the rows were copied into: see depthwise_lane_row. S, D and
// KW are the stride, dilation and kernel width as template constants, or 0 for the run-time s, d
// and kw. With them constant, each input vector of a kernel row is loaded once for every
// position and kernel column that reads it: at stride 1, J positions of a 3-wide row take J + 2
// loads for 3 J multiply-adds, where depthwise_lane_taps loads once per multiply-add.
template <index_t J, index_t S, index_t D, index_t KW, class A, class Act>
inline index_t depthwise_lane_row_by(index_t j, index_t n, const A* x, index_t pitch, index_t rows, const A* w,
                                     const A* bias, A* out, Act act, index_t s, index_t d, index_t kw) noexcept {
  using batch = xsimd::batch<A>;
  constexpr index_t L = generic::depthwise_lanes, V = lane_vectors<A>(), B = static_cast<index_t>(batch::size);
  if constexpr (S > 0) s = S;
  if constexpr (D > 0) d = D;
  if constexpr (KW > 0) kw = KW;
  for (; j + J <= n; j += J) {
    batch a[J][V];
    KILN_UNROLL for (index_t v = 0; v < V; ++v) {
      const batch b = batch::load_unaligned(bias + v * B);
      KILN_UNROLL for (index_t p = 0; p < J; ++p) a[p][v] = b;
    }
    for (index_t i = 0; i < rows; ++i) {
      const A* const r = x + i * pitch + j * s * L;
      const A* const wr = w + i * kw * L;
      if constexpr (S > 0 && D > 0 && KW > 0) {
        batch wv[KW][V];
        KILN_UNROLL for (index_t k = 0; k < KW; ++k)
          KILN_UNROLL for (index_t v = 0; v < V; ++v) wv[k][v] = batch::load_unaligned(wr + k * L + v * B);
        // Column c of the J positions' span feeds position (c - k D) / S with weight k.
        KILN_UNROLL for (index_t c = 0; c < (J - 1) * S + (KW - 1) * D + 1; ++c)
          KILN_UNROLL for (index_t v = 0; v < V; ++v) {
            // Once into a register for every tap that reads it (GCC would fold it into each).
            const batch xv = load_in_register<batch>(r + c * L + v * B);
            KILN_UNROLL for (index_t k = 0; k < KW; ++k) {
              const index_t q = c - k * D;
              if (q >= 0 && q % S == 0 && q / S < J) a[q / S][v] = madd(wv[k][v], xv, a[q / S][v]);
            }
          }
      } else {
        for (index_t k = 0; k < kw; ++k)
          KILN_UNROLL for (index_t v = 0; v < V; ++v) {
            const batch wv = batch::load_unaligned(wr + k * L + v * B);
            KILN_UNROLL for (index_t p = 0; p < J; ++p)
              a[p][v] = madd(wv, batch::load_unaligned(r + (p * s + k * d) * L + v * B), a[p][v]);
          }
      }
    }
    store_lanes_activated<J>(a, out + j * L, act);
  }
  return j;
}
}  // namespace detail

// The activation is applied as the outputs are stored (see generic::depthwise_lane_taps_activate).
inline constexpr bool depthwise_lane_taps_activate = true;

// From J positions on, the last ones are one more block of J overlapping the block before (its
// first outputs computed twice, to the same values): in blocks of 4 and 1, DS-CNN's 35-position
// groups left 3 positions a group to one-position blocks, chains of dependent multiply-adds.
template <class A, class Act = generic::keep>
inline void depthwise_lane_taps(index_t count, const index_t* base, index_t taps, const A* w, const index_t* off,
                                const A* x, const A* bias, A* out, Act act = {}) noexcept {
  constexpr index_t J = detail::lane_positions<A>;
  if (count >= J) {
    if (detail::depthwise_lane_taps_by<J>(0, count, base, taps, w, off, x, bias, out, act) < count)
      detail::depthwise_lane_taps_by<J>(count - J, count, base, taps, w, off, x, bias, out, act);
    return;
  }
  index_t j = 0;
  if constexpr (J > 4) j = detail::depthwise_lane_taps_by<4>(j, count, base, taps, w, off, x, bias, out, act);
  // GCC 12 (-O2, a specialized layer's constant count) warns of iterations of this tail that
  // never run: fewer than 4 positions remain.
  KILN_BEGIN_IGNORE_DEAD_PATH_BOUNDS
  detail::depthwise_lane_taps_by<1>(j, count, base, taps, w, off, x, bias, out, act);
  KILN_END_IGNORE_DEAD_PATH_BOUNDS
}

// Depthwise over channel lanes straight from the rows of a blocked input (see
// generic::depthwise_lane_row). Blocks of as many positions as half the register file holds
// accumulators for (AVX-512: 16; the loads a position shares with its neighbours leave registers
// enough), where depthwise_lane_taps stops at 8: MobileNet's 6x6 layers 1.57 -> 1.17 us. Then
// blocks of J (8) as depthwise_lane_taps, the last one overlapping the one before, which reads
// nothing the blocks before wrote: they write at least depthwise_lane_row_lead positions behind
// what they read. S, D and KW: the stride, dilation and kernel width where the caller knows them
// at compile time (0: the run-time s, d, kw), so loads serve several taps.
using generic::depthwise_lane_row_lead;
inline constexpr bool depthwise_lane_rows = true;
// Stride-1 layers by bands (packed::depthwise_band) only where a lane group is one register
// (AVX-512): with AVX2's two halves, MobileNet's 128-channel 6x6 layer went 2.1 -> 3.1 us and
// DS-CNN's 64-channel 25x5 ones 3.5 -> 6.4 us against the window path (x86-64-v3 on Zen 5),
// where the strided rows gained (MobileNet's 16-channel 48x48 stride-2 layer 5.9 -> 4.7 us).
inline constexpr bool depthwise_lane_row_bands = detail::lane_vectors<float>() == 1;
template <index_t S = 0, index_t D = 0, index_t KW = 0, class A, class Act>
inline void depthwise_lane_row(index_t n, const A* x, index_t pitch, index_t rows, const A* w, const A* bias, A* out,
                               Act act, index_t s, index_t d, index_t kw) noexcept {
  constexpr index_t J = detail::lane_positions<A>, wide = f32_max_accumulators / detail::lane_vectors<A>();
  static_assert(J <= wide && wide <= depthwise_lane_row_lead, "an output written in place is not read again");
  index_t j = 0;
  if constexpr (wide > J) j = detail::depthwise_lane_row_by<wide, S, D, KW>(j, n, x, pitch, rows, w, bias, out, act, s, d, kw);
  if (n >= J) {
    if (detail::depthwise_lane_row_by<J, S, D, KW>(j, n, x, pitch, rows, w, bias, out, act, s, d, kw) < n)
      detail::depthwise_lane_row_by<J, S, D, KW>(n - J, n, x, pitch, rows, w, bias, out, act, s, d, kw);
    return;
  }
  if constexpr (J > 4) j = detail::depthwise_lane_row_by<4, S, D, KW>(j, n, x, pitch, rows, w, bias, out, act, s, d, kw);
  KILN_BEGIN_IGNORE_DEAD_PATH_BOUNDS
  detail::depthwise_lane_row_by<1, S, D, KW>(j, n, x, pitch, rows, w, bias, out, act, s, d, kw);
  KILN_END_IGNORE_DEAD_PATH_BOUNDS
}

#if defined(__AVX512VBMI__)
namespace detail {
// vpermb indices that interleave four 16-byte rows into quads: byte 4 i + k of the result is
// byte i of row k (byte 16 k + i of the source).
alignas(64) inline constexpr std::uint8_t rows_to_quads[64] = {
    0, 16, 32, 48, 1, 17, 33, 49, 2,  18, 34, 50, 3,  19, 35, 51, 4,  20, 36, 52, 5,  21, 37, 53, 6,  22, 38, 54, 7,  23, 39, 55,
    8, 24, 40, 56, 9, 25, 41, 57, 10, 26, 42, 58, 11, 27, 43, 59, 12, 28, 44, 60, 13, 29, 45, 61, 14, 30, 46, 62, 15, 31, 47, 63};
}  // namespace detail
#endif

// int8 depthwise over lane quads (see generic::depthwise_lane_quads) by vpdpbusd: one instruction
// per four taps of 16 channels, J positions at a time. A 3x3 layer's output takes 3 of them
// (a quad per kernel row, its fourth weight 0) where the int32 lanes take 9 multiplies and 9 adds.
// Only with VBMI's byte permute for the quads (not on VNNI cores without it, Cascade Lake): the
// portable quad assembly costs more than the int32 lanes' multiplies it saves.
#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VBMI__) && defined(__BMI2__)
inline constexpr bool depthwise_int8_quads = true;
#define KILN_LANE_QUADS(packed) (packed)  // see arch/dispatch.hpp

// generic::lane_quads by one byte permute (AVX-512 VBMI) of the 64 bytes of four adjacent
// columns (d = 1), loaded under a mask of the columns inside the row (the others take the fill),
// straight from the input row: assembling the padded row in a buffer first made every one of
// those loads wait for the buffer's narrower stores (a store-forwarding stall per column).
inline void lane_quads(const std::uint8_t* x, index_t first, index_t width, index_t n, index_t d, std::uint8_t fill,
                       std::uint8_t flip, std::uint32_t* dst) noexcept {
  constexpr index_t L = generic::depthwise_lanes;
  static_assert(L == 16, "a column of lanes is one 16-byte vector");
  if (d == 1) {
    const __m512i idx = _mm512_load_si512(detail::rows_to_quads), flips = _mm512_set1_epi8(static_cast<char>(flip));
    const __m512i fills = _mm512_set1_epi8(static_cast<char>(fill ^ flip));
    const auto quads = [&](index_t iw, __m512i v) {
      // The zero-masked form: GCC 12's unmasked one warns of its undefined source (-Wmaybe-uninitialized).
      _mm512_storeu_si512(dst + iw * L, _mm512_maskz_permutexvar_epi8(~__mmask64{0}, idx, _mm512_xor_si512(v, flips)));
    };
    // Columns whose four reads all lie inside the row: [lo, hi); the ones before and after take
    // masks (masked-off bytes are not read, so the address may lie outside the row).
    const index_t lo = -first < 0 ? 0 : -first < n ? -first : n;
    const index_t hi = width - 3 - first < lo ? lo : width - 3 - first < n ? width - 3 - first : n;
    const auto edge = [&](index_t iw) {  // bytes of the columns c + k in [0, width), k < 4
      const index_t c = first + iw;
      const index_t below = -c < 0 ? 0 : -c < 4 ? -c : 4, end = width - c < 0 ? 0 : width - c < 4 ? width - c : 4;
      const auto bits = [](index_t k) {  // the low 16k bits (bzhi keeps all 64 at 64)
        return _bzhi_u64(~std::uint64_t{0}, static_cast<unsigned>(16 * k));
      };
      quads(iw, _mm512_mask_loadu_epi8(fills, bits(end) & ~bits(below), x + c * L));
    };
    for (index_t iw = 0; iw < lo; ++iw) edge(iw);
    for (index_t iw = lo; iw < hi; ++iw) quads(iw, _mm512_loadu_si512(x + (first + iw) * L));
    for (index_t iw = hi; iw < n; ++iw) edge(iw);
    return;
  }
  generic::lane_quads(x, first, width, n, d, fill, flip, dst);
}

namespace detail {
template <index_t J>
inline index_t depthwise_lane_quads_by(index_t j, index_t count, const index_t* base, index_t steps,
                                       const std::uint32_t* w, const index_t* off, const std::uint32_t* x,
                                       const std::int32_t* bias, std::int32_t* out) noexcept {
  const __m512i b = _mm512_loadu_si512(bias);
  for (; j + J <= count; j += J) {
    const std::uint32_t* xj[J];
    __m512i a[J];
    KILN_UNROLL for (index_t p = 0; p < J; ++p) {
      xj[p] = x + base[j + p];
      a[p] = b;
    }
    for (index_t t = 0; t < steps; ++t) {
      const __m512i wv = _mm512_loadu_si512(w + t * 16);
      KILN_UNROLL for (index_t p = 0; p < J; ++p)
        a[p] = _mm512_dpbusd_epi32(a[p], _mm512_loadu_si512(xj[p] + off[t]), wv);
    }
    KILN_UNROLL for (index_t p = 0; p < J; ++p) _mm512_storeu_si512(out + (j + p) * 16, a[p]);
  }
  return j;
}
}  // namespace detail

// 16 positions at a time (16 independent chains cover the instruction's latency at two per
// cycle), the last ones as one more block overlapping the one before (see depthwise_lane_taps);
// under 16 positions, blocks of 4 (the last overlapping too), then 1.
inline void depthwise_lane_quads(index_t count, const index_t* base, index_t steps, const std::uint32_t* w,
                                 const index_t* off, const std::uint32_t* x, const std::int32_t* bias,
                                 std::int32_t* out) noexcept {
  const auto blocks = [&](auto j_block) {
    constexpr index_t J = decltype(j_block)::value;
    if (detail::depthwise_lane_quads_by<J>(0, count, base, steps, w, off, x, bias, out) < count)
      detail::depthwise_lane_quads_by<J>(count - J, count, base, steps, w, off, x, bias, out);
  };
  if (count >= 16) blocks(std::integral_constant<index_t, 16>{});
  else if (count >= 4) blocks(std::integral_constant<index_t, 4>{});
  else detail::depthwise_lane_quads_by<1>(0, count, base, steps, w, off, x, bias, out);
}
#else
using generic::depthwise_int8_quads;
using generic::depthwise_lane_quads;
using generic::lane_quads;
#endif

#if defined(__SSE4_1__) || defined(__aarch64__)
// The float32 product rounded by one instruction (roundss / frintn, half to even in the default
// rounding mode): the very operations ONNX Runtime performs, so the same integers as the
// integer-only emulation, an order of magnitude faster. Results beyond +-2^40 clamp there too.
inline std::int32_t requantize_saturate(std::int32_t acc, float scale, const requant_params&, std::int32_t zero_point,
                                        std::int32_t lo, std::int32_t hi) noexcept {
  constexpr float limit = 1099511627776.f;  // 2^40
  float r = std::nearbyint(static_cast<float>(acc) * scale);
  r = r < -limit ? -limit : r > limit ? limit : r;
  const std::int64_t v = static_cast<std::int64_t>(r) + zero_point;
  return v < lo ? lo : v > hi ? hi : static_cast<std::int32_t>(v);
}

// Rows of 8/16-bit outputs in blocks of 16 or 8, in GCC/clang vector types (compiled to whatever
// vectors the target has): clamping to [lo - zp, hi - zp] (small integers, exact in float) before
// rounding is the same saturation without 64-bit steps, and rounding half to even (round_even)
// then is exact. The clamp sits between the product and the rounding, so no contraction into an
// FMA can skip the product's rounding. A short row or
// tail goes through whole blocks (the last overlapping the one before), where a
// compiler-vectorized loop would leave rows of 6 to 47 outputs largely to its scalar epilogue;
// only rows under 8 are padded, since a padded block is assembled through memory (a store-forwarding
// stall) and GCC leaves its clamps scalar: an 8-wide tile row through a padded 16-block took half
// of an AVX2 1x1 layer's time. -ffast-math, which may fold the addition away, gets
// std::nearbyint one element at a time.
namespace detail {
template <index_t N> struct requant_vectors;
template <> struct requant_vectors<8> {
  using f32 = float __attribute__((vector_size(32)));
  using i32 = std::int32_t __attribute__((vector_size(32)));
};
template <> struct requant_vectors<16> {
  using f32 = float __attribute__((vector_size(64)));
  using i32 = std::int32_t __attribute__((vector_size(64)));
};

// N outputs of type Y as one vector.
template <class Y, index_t N> struct narrow_vector {
  typedef Y type __attribute__((vector_size(N * sizeof(Y))));
};

// v (|v| < 2^22) rounded half to even (the default rounding mode) to int32: vcvtps2dq on
// AVX-512, else adding and subtracting 1.5 * 2^23, then the truncating conversion (two
// instructions more per vector, of a requantization's eleven).
// (By reference: 64-byte vectors by value change the ABI where AVX-512 is off, -Wpsabi.)
template <index_t N>
inline void round_even(const typename requant_vectors<N>::f32& v, typename requant_vectors<N>::i32& r) noexcept {
#if defined(__AVX512F__)
  if constexpr (N == 16) {
    __m512 f;
    std::memcpy(&f, &v, sizeof f);
    const __m512i rounded = _mm512_maskz_cvtps_epi32(0xffff, f);  // zero-masked: GCC 12 warns of the unmasked form
    std::memcpy(&r, &rounded, sizeof r);
    return;
  }
#endif
  using f32 = typename requant_vectors<N>::f32;
  const f32 magic = 12582912.f - f32{};
  r = __builtin_convertvector((v + magic) - magic, typename requant_vectors<N>::i32);
}

// count <= N outputs from acc; whole when count == N.
template <index_t N, class Y>
inline void requantize_block(const std::int32_t* acc, index_t count, const typename requant_vectors<N>::f32& scale,
                             float lo, float hi, std::int32_t zero_point, Y* y) noexcept {
  using f32 = typename requant_vectors<N>::f32;
  using i32 = typename requant_vectors<N>::i32;
#if defined(__FAST_MATH__)
  for (index_t k = 0; k < count; ++k) {
    float v = std::nearbyint(static_cast<float>(acc[k]) * scale[k]);
    v = v < lo ? lo : (v > hi ? hi : v);
    y[k] = static_cast<Y>(static_cast<std::int32_t>(v) + zero_point);
  }
#else
  // Partial blocks go by m, never above N; GCC 12 still warns of overflows past N on paths that
  // never run (see KILN_BEGIN_IGNORE_DEAD_PATH_BOUNDS). Rewriting the copy as N steps of a
  // conditional load silenced it, but left this block scalar (ResNet-8 int8 1.6x slower).
  KILN_BEGIN_IGNORE_DEAD_PATH_BOUNDS
  const index_t m = count < N ? count : N;
  i32 a = {};
  if (m == N) std::memcpy(&a, acc, sizeof a);
  else
    for (index_t k = 0; k < m; ++k) a[k] = acc[k];
  const f32 lov = lo - f32{}, hiv = hi - f32{};
  f32 v = __builtin_convertvector(a, f32) * scale;
  v = v < lov ? lov : v;
  v = v > hiv ? hiv : v;
  i32 r;
  round_even<N>(v, r);
  r += zero_point;
  if (m == N) {  // narrowed as a vector (vpmovdb): as a loop of N stores GCC 12 stored byte by byte
    using yv = typename narrow_vector<Y, N>::type;
    const yv narrow = __builtin_convertvector(r, yv);
    std::memcpy(y, &narrow, sizeof narrow);
  } else {
    for (index_t k = 0; k < m; ++k) y[k] = static_cast<Y>(r[k]);
  }
  KILN_END_IGNORE_DEAD_PATH_BOUNDS
#endif
}

// Outputs [0, n), n >= N, in whole N-blocks; the last one ends at n, overlapping the one before
// (the same values rewritten).
template <index_t N, class Y>
inline void requantize_blocks(const std::int32_t* acc, index_t n, float scale, float lo, float hi,
                              std::int32_t zero_point, Y* y) noexcept {
  using f32 = typename requant_vectors<N>::f32;
  const f32 s = scale - f32{};
  for (index_t i = 0;; i += N) {
    const index_t at = i + N <= n ? i : n - N;
    requantize_block<N>(acc + at, N, s, lo, hi, zero_point, y + at);
    if (at + N == n) break;
  }
}
}  // namespace detail

template <class Y>
inline void requantize_row(const std::int32_t* acc, index_t n, float scale, const requant_params& rq,
                           std::int32_t zero_point, Y* y) noexcept {
  static_assert(sizeof(Y) <= 2, "8- and 16-bit outputs");
  static_cast<void>(rq);
  const float lo = static_cast<float>(std::numeric_limits<Y>::min() - zero_point);
  const float hi = static_cast<float>(std::numeric_limits<Y>::max() - zero_point);
  if (n >= 16) detail::requantize_blocks<16>(acc, n, scale, lo, hi, zero_point, y);
  else if (n >= 8) detail::requantize_blocks<8>(acc, n, scale, lo, hi, zero_point, y);
  else detail::requantize_block<8>(acc, n, scale - detail::requant_vectors<8>::f32{}, lo, hi, zero_point, y);
}

// requantize_row with a scale per lane (generic::requantize_lanes): one block per position.
template <class Y>
inline void requantize_lanes(const std::int32_t* acc, index_t count, const float* scale, const requant_params* rq,
                             std::int32_t zero_point, Y* y) noexcept {
  static_assert(sizeof(Y) <= 2, "8- and 16-bit outputs");
  static_assert(generic::depthwise_lanes == 16, "a block of lanes is one vector block");
  static_cast<void>(rq);
  const float lo = static_cast<float>(std::numeric_limits<Y>::min() - zero_point);
  const float hi = static_cast<float>(std::numeric_limits<Y>::max() - zero_point);
  detail::requant_vectors<16>::f32 s;
  std::memcpy(&s, scale, sizeof s);
  for (index_t j = 0; j < count; ++j) detail::requantize_block<16>(acc + 16 * j, 16, s, lo, hi, zero_point, y + 16 * j);
}

namespace detail {
// The first m of a block's N outputs (m < N): a masked store where AVX-512BW has one.
template <class V, class Y> inline void store_prefix(Y* y, V v, index_t m) noexcept {
#if defined(__AVX512BW__) && defined(__AVX512VL__)
  if constexpr (sizeof(V) == 16 && sizeof(Y) == 1) {
    __m128i bytes;
    std::memcpy(&bytes, &v, sizeof v);
    _mm_mask_storeu_epi8(y, static_cast<__mmask16>((1u << m) - 1), bytes);
    return;
  }
#endif
  for (index_t k = 0; k < m; ++k) y[k] = v[k];
}
}  // namespace detail

// generic::requantize_tile with each block of accumulators taken from c through the offsets and
// requantization (requantize_block's steps) in registers, set up once per tile: a call of
// add_column_term and requantize_row per 32-column row spent as long as the VNNI tile itself on
// DS-CNN's 64-channel 1x1 layers (a fifth of the model). Blocks of 16, or 8 for 8-wide tiles.
template <index_t TW, class Y>
inline void requantize_tile(std::int32_t* c, index_t rows, index_t n, const std::int32_t* bias,
                            const std::int32_t* wz, const std::int32_t* colsum, const float* scale,
                            const requant_params* rq, std::int32_t zero_point, Y* y, index_t y_stride) noexcept {
  static_assert(sizeof(Y) <= 2, "8- and 16-bit outputs");
#if !defined(__FAST_MATH__)
  if constexpr (TW % 8 == 0) {
    constexpr index_t N = TW % 16 == 0 ? 16 : 8;
    using f32 = typename detail::requant_vectors<N>::f32;
    using i32 = typename detail::requant_vectors<N>::i32;
    using yv = typename detail::narrow_vector<Y, N>::type;
    const f32 lo = static_cast<float>(std::numeric_limits<Y>::min() - zero_point) - f32{};
    const f32 hi = static_cast<float>(std::numeric_limits<Y>::max() - zero_point) - f32{};
    for (index_t r = 0; r < rows; ++r) {
      const f32 s = scale[r] - f32{};
      const i32 b = bias[r] - i32{}, w = wz[r] - i32{};
      KILN_UNROLL for (index_t j = 0; j < TW; j += N) {
        if (j >= n) break;
        i32 a, sums;
        std::memcpy(&a, c + r * TW + j, sizeof a);
        std::memcpy(&sums, colsum + j, sizeof sums);
        f32 v = __builtin_convertvector(a + (b - w * sums), f32) * s;
        v = v < lo ? lo : v;
        v = v > hi ? hi : v;
        i32 rounded;
        detail::round_even<N>(v, rounded);
        const yv q = __builtin_convertvector(rounded + zero_point, yv);
        if (n - j >= N) std::memcpy(y + r * y_stride + j, &q, sizeof q);
        else detail::store_prefix(y + r * y_stride + j, q, n - j);
      }
    }
    return;
  }
#endif
  generic::requantize_tile_by_rows(c, TW, rows, n, bias, wz, colsum, scale, rq, zero_point, y, y_stride,
                                   [](auto... a) { requantize_row<Y>(a...); });
}

// generic::quantize_row in blocks of 16: clamped to [min - zp, max - zp] first (integers, so the
// same saturation; NaN fails the comparison to the minimum, as there), then rounded half to even
// by 1.5 * 2^23 as above. The tail and -ffast-math go through the portable loop, and so does all
// of AVX2: GCC 12 splits 16-float vectors' selects there into one scalar compare per element
// (2.4x slower than the portable loop it vectorizes itself).
template <class Y> inline void quantize_row(const float* x, index_t n, float scale, float zero_point, Y* y) noexcept {
  index_t i = 0;
#if !defined(__FAST_MATH__) && (defined(__AVX512F__) || defined(__aarch64__))
  using f32 = detail::requant_vectors<16>::f32;
  using i32 = detail::requant_vectors<16>::i32;
  using yv = typename detail::narrow_vector<Y, 16>::type;
  const f32 lo = (kiln::detail::float_min<Y>() - zero_point) - f32{}, hi = (kiln::detail::float_max<Y>() - zero_point) - f32{};
  const f32 magic = 12582912.f - f32{};
  for (; i + 16 <= n; i += 16) {
    f32 v;
    std::memcpy(&v, x + i, sizeof v);
    v = v / scale;
    v = v >= lo ? v : lo;
    v = v <= hi ? v : hi;
    v = (v + magic) - magic;
    const yv q = __builtin_convertvector(__builtin_convertvector(v + zero_point, i32), yv);
    std::memcpy(y + i, &q, sizeof q);
  }
#endif
  generic::quantize_row(x + i, n - i, scale, zero_point, y + i);
}

#if defined(__AVX512F__) && !defined(__FAST_MATH__)
// generic::qlinear_add_row in blocks of 16 on AVX-512: bytes widened by vpmovsxbd/vpmovzxbd (GCC
// 12 turned __builtin_convertvector from bytes into a byte-by-byte extraction), both
// multiply-adds fused by vfmadd (xsimd 8's AVX-512 fma is a * b + c, which GCC did not fuse for
// a hoisted loop-invariant product: one off with a scalar operand), vcvtps2dq (cvtps2dq itself:
// NaN and out of range to INT32_MIN), and a saturating narrow, uint8 clamped at 0 first. At -Os
// the portable loop stays scalar with a libm nearbyintf per element (ResNet-8 int8 5x its -O3
// time); at -O3 GCC vectorizes it about as well. Elsewhere (AVX2, NEON) the portable blocks,
// which GCC vectorizes at -O2 and -O3: rows of 16-float vectors there were split and partly
// scalarized (AVX2 8x slower).
template <index_t SX, index_t SZ, class T>
inline void qlinear_add_row(const T* x, const T* z, index_t n, float rx, float rz, float fixed, T* y) noexcept {
  static_assert(sizeof(T) == 1, "8-bit values");
  // The zero-masked forms throughout: GCC 12's unmasked ones start from an undefined vector that
  // -Wmaybe-uninitialized reports, a false positive.
  constexpr __mmask16 all = 0xffff;
  const auto load = [](const T* row, index_t i, auto step) {
    if constexpr (decltype(step)::value == 0) {
      return _mm512_set1_ps(static_cast<float>(row[0]));
    } else {
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + i));
      return _mm512_maskz_cvtepi32_ps(all, std::is_signed_v<T> ? _mm512_maskz_cvtepi8_epi32(all, b) : _mm512_maskz_cvtepu8_epi32(all, b));
    }
  };
  const __m512 rxv = _mm512_set1_ps(rx), rzv = _mm512_set1_ps(rz), fixedv = _mm512_set1_ps(fixed);
  index_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 xv = load(x, i, std::integral_constant<index_t, SX>{});
    const __m512 zv = load(z, i, std::integral_constant<index_t, SZ>{});
    const __m512i r = _mm512_maskz_cvtps_epi32(all, _mm512_fmadd_ps(xv, rxv, _mm512_fmadd_ps(zv, rzv, fixedv)));
    const __m128i q = std::is_signed_v<T>
                          ? _mm512_maskz_cvtsepi32_epi8(all, r)
                          : _mm512_maskz_cvtusepi32_epi8(all, _mm512_maskz_max_epi32(all, r, _mm512_setzero_si512()));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), q);
  }
  generic::qlinear_add_row<SX, SZ>(x + i * SX, z + i * SZ, n - i, rx, rz, fixed, y + i);
}
#else
// The reference's blocks of 128, which GCC vectorizes at -O2 and -O3 (the portable row's loop,
// whose output may be an input, only at -O3; on microcontrollers that loop is the smaller code).
template <index_t SX, index_t SZ, class T>
inline void qlinear_add_row(const T* x, const T* z, index_t n, float rx, float rz, float fixed, T* y) noexcept {
  auto add = [rx, rz, fixed](T xv, T zv) { return kiln::detail::qlinear_add_value(xv, zv, rx, rz, fixed); };
  kiln::detail::qlinear_blocks<SX, SZ>(n, x, z, y, add);
}
#endif
#else
using generic::qlinear_add_row;
using generic::requantize_lanes;
using generic::requantize_row;
using generic::requantize_tile;
using generic::quantize_row;
using generic::requantize_saturate;
#endif
using generic::requantize_row_strided;  // Cortex-M's depthwise planes: x86 and NEON go by lanes

#if defined(__AVX2__) || defined(__ARM_NEON)
namespace detail {
template <class T> inline std::int32_t load_quad(const T* p) noexcept {
  std::int32_t quad;
  std::memcpy(&quad, p, 4);
  return quad;
}
}  // namespace detail
#endif

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
namespace detail {
// vpdpbusd multiplies unsigned bytes by signed bytes, four per 32-bit lane, summed exactly into
// int32: UnsignedBroadcast says whether the broadcast quads (a: conv weights are int8, dense
// activations uint8) or the vector quads (b) are the unsigned operand.
template <bool UnsignedBroadcast> struct vnni_ops {
  using acc = __m512i;
  using column = __m512i;
  static constexpr index_t bytes = 64, cols = 16, max_accumulators = vector_registers / 2, vector_group = 1;
  static acc zero() noexcept { return _mm512_setzero_si512(); }
  // Loaded once into a register, as f32_ops::load: folded into each row's vpdpbusd, the 4 x 64
  // dense tile made 20 loads per 16 multiply-adds.
  template <class B> static column load(const B* b) noexcept {
    __m512i v = _mm512_loadu_si512(b);
    asm("" : "+v"(v));
    return v;
  }
  template <class A> static __m512i broadcast(const A* a) noexcept { return _mm512_set1_epi32(load_quad(a)); }
  template <index_t MR, index_t V> KILN_ALWAYS_INLINE static void pin(acc (&a)[MR][V]) noexcept {
    KILN_UNROLL for (index_t r = 0; r < MR; ++r)
      KILN_UNROLL for (index_t v = 0; v < V; ++v) asm("" : "+v"(a[r][v]));
  }
  static acc madd(acc s, __m512i a, column b) noexcept {
    return UnsignedBroadcast ? _mm512_dpbusd_epi32(s, a, b) : _mm512_dpbusd_epi32(s, b, a);
  }
  template <index_t V> static void store(const acc* row, std::int32_t* c) noexcept {
    KILN_UNROLL for (index_t v = 0; v < V; ++v) _mm512_storeu_si512(c + cols * v, row[v]);
  }
};
}  // namespace detail

inline constexpr index_t s8_nb = 32;  // two 16-lane vectors of column quads per row
inline constexpr index_t s8_window_nb = 2 * s8_nb;
inline constexpr index_t s8_window_step = 16;  // a band's last tile: any multiple of one vector
inline constexpr const char* int8_tile_name = "avx512_vnni";

template <index_t MR, index_t NB, class A, class Rows>
inline void int8_tile(index_t k4, const A* a, index_t a_rs, index_t a_ks, const Rows& rows, std::int32_t* c) noexcept {
  // vpdpbusd multiplies unsigned bytes by signed bytes: the vector side must be uint8 and the
  // broadcast side int8 (the layout packed weights and activation panels are given in).
  using B = typename Rows::value_type;
  if constexpr (!std::is_same_v<A, std::int8_t> || !std::is_same_v<B, std::uint8_t> || NB % 16 != 0)
    generic::int8_tile<MR, NB>(k4, a, a_rs, a_ks, rows, c);
  else
    detail::register_tile<detail::vnni_ops<false>, MR, NB / 16>(k4, a, a_rs, a_ks, rows, c);
}
// G blocks of MR rows, block g's quads at a + g * a_gs, in one tile of NB columns: a panel
// narrower than s8_nb keeps a full tile's accumulators (packed/conv.hpp qlinear_conv).
inline constexpr bool s8_row_blocks = true;
template <index_t G, index_t MR, index_t NB>
inline void int8_tile_row_blocks(index_t k4, const std::int8_t* a, index_t a_rs, index_t a_ks, index_t a_gs,
                                 const std::uint8_t* b, index_t ldb, std::int32_t* c) noexcept {
  static_assert(NB % 16 == 0 && G * MR * (NB / 16) <= vector_registers / 2, "one pass in registers");
  detail::tile_in_registers<detail::vnni_ops<false>, G * MR, NB / 16, MR>(
      k4, a, a_rs, a_ks, panel_rows<std::uint8_t>{b, ldb}, c, NB, a_gs);
}
#elif defined(__AVX2__)
namespace detail {
// Bytes widened to int16 by their own signedness, then vpmaddwd: a vector holds four column quads,
// multiplied by the broadcast quad with product pairs added, so each column keeps two partial sums
// (|2 * 255 * 255| fits int32: exact) that one vphaddd joins at the end. Any signedness.
struct avx2_ops {
  using acc = __m256i;
  using column = __m256i;
  static constexpr index_t bytes = 16, cols = 4, max_accumulators = vector_registers / 2, vector_group = 2;
  template <index_t MR, index_t V> static void pin(acc (&)[MR][V]) noexcept {}
  static acc zero() noexcept { return _mm256_setzero_si256(); }
  template <class B> static column load(const B* b) noexcept {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
    if constexpr (std::is_signed_v<B>) return _mm256_cvtepi8_epi16(v);
    else return _mm256_cvtepu8_epi16(v);
  }
  template <class A> static __m256i broadcast(const A* a) noexcept {  // the quad as 4 int16, repeated
    const __m128i v = _mm_cvtsi32_si128(load_quad(a));
    return _mm256_broadcastq_epi64(std::is_signed_v<A> ? _mm_cvtepi8_epi16(v) : _mm_cvtepu8_epi16(v));
  }
  static acc madd(acc s, __m256i a, column b) noexcept { return _mm256_add_epi32(s, _mm256_madd_epi16(b, a)); }
  // vphaddd of the vectors of columns 0-3 and 4-7 gives columns 0 1 4 5 | 2 3 6 7: one 64-bit
  // lane permute puts them in order. V is even.
  template <index_t V> static void store(const acc* row, std::int32_t* c) noexcept {
    KILN_UNROLL for (index_t v = 0; v < V; v += 2)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + cols * v),
                          _mm256_permute4x64_epi64(_mm256_hadd_epi32(row[v], row[v + 1]), 0xd8));
  }
};
}  // namespace detail

inline constexpr index_t s8_nb = 8;  // two vectors of four column quads per row
inline constexpr index_t s8_window_nb = 2 * s8_nb;
inline constexpr index_t s8_window_step = 8;  // store() joins vectors in pairs
using generic::int8_tile_row_blocks;
using generic::s8_row_blocks;
inline constexpr const char* int8_tile_name = "avx2_vpmaddwd";

template <index_t MR, index_t NB, class A, class Rows>
inline void int8_tile(index_t k4, const A* a, index_t a_rs, index_t a_ks, const Rows& rows, std::int32_t* c) noexcept {
  if constexpr (NB % 8 != 0) generic::int8_tile<MR, NB>(k4, a, a_rs, a_ks, rows, c);
  else detail::register_tile<detail::avx2_ops, MR, NB / 4>(k4, a, a_rs, a_ks, rows, c);
}
#elif defined(__ARM_NEON)
namespace detail {
// Widening multiply-accumulate: both operands become int16, whose products still fit int16 when
// one side is signed (|.| <= 255 * 128); vpadalq adds adjacent product pairs into int32 lanes, so
// each column quad leaves two partial sums (columns 0-1 and 2-3 of each 4) that one pairwise add
// joins at the end. Exact.
struct neon_ops {
  struct acc {
    int32x4_t lo, hi;
  };
  struct column {
    int16x8_t lo, hi;
  };
  // Each accumulator is two registers, so this admits the 4 x 16 window tile whole, as before
  // the limit existed (not timed here: the NEON build runs under qemu).
  static constexpr index_t bytes = 16, cols = 4, max_accumulators = 16, vector_group = 1;
  template <index_t MR, index_t V> static void pin(acc (&)[MR][V]) noexcept {}
  template <class T> static int16x8_t widen(uint8x8_t v) noexcept {
    if constexpr (std::is_signed_v<T>) return vmovl_s8(vreinterpret_s8_u8(v));
    else return vreinterpretq_s16_u16(vmovl_u8(v));
  }
  static acc zero() noexcept { return {vdupq_n_s32(0), vdupq_n_s32(0)}; }
  template <class B> static column load(const B* b) noexcept {
    const uint8x16_t v = vld1q_u8(reinterpret_cast<const std::uint8_t*>(b));
    return {widen<B>(vget_low_u8(v)), widen<B>(vget_high_u8(v))};
  }
  template <class A> static int16x8_t broadcast(const A* a) noexcept {  // the quad, twice
    return widen<A>(vreinterpret_u8_s32(vdup_n_s32(load_quad(a))));
  }
  static acc madd(acc s, int16x8_t a, const column& b) noexcept {
    return {vpadalq_s16(s.lo, vmulq_s16(a, b.lo)), vpadalq_s16(s.hi, vmulq_s16(a, b.hi))};
  }
  template <index_t V> static void store(const acc* row, std::int32_t* c) noexcept {
    KILN_UNROLL for (index_t v = 0; v < V; ++v) vst1q_s32(c + cols * v, vpaddq_s32(row[v].lo, row[v].hi));
  }
};
}  // namespace detail

inline constexpr index_t s8_nb = 8;  // two vectors of four column quads per row
inline constexpr index_t s8_window_nb = 2 * s8_nb;
inline constexpr index_t s8_window_step = 4;
using generic::int8_tile_row_blocks;
using generic::s8_row_blocks;
inline constexpr const char* int8_tile_name = "neon_widening";

template <index_t MR, index_t NB, class A, class Rows>
inline void int8_tile(index_t k4, const A* a, index_t a_rs, index_t a_ks, const Rows& rows, std::int32_t* c) noexcept {
  using B = typename Rows::value_type;
  // uint8 x uint8 products overflow int16: that pairing takes the portable tile.
  if constexpr ((!std::is_signed_v<A> && !std::is_signed_v<B>) || NB % 4 != 0)
    generic::int8_tile<MR, NB>(k4, a, a_rs, a_ks, rows, c);
  else
    detail::register_tile<detail::neon_ops, MR, NB / 4>(k4, a, a_rs, a_ks, rows, c);
}
#else
using generic::int8_tile;
using generic::int8_tile_name;
using generic::int8_tile_row_blocks;
using generic::s8_row_blocks;
using generic::s8_nb;
using generic::s8_window_nb;
using generic::s8_window_step;
#endif

#if defined(__AVX2__) || defined(__ARM_NEON)
template <index_t MR, index_t NB, class A, class B>
inline void int8_tile(index_t k4, const A* a, index_t a_rs, index_t a_ks, const B* b, index_t ldb,
                      std::int32_t* c) noexcept {
  int8_tile<MR, NB>(k4, a, a_rs, a_ks, panel_rows<B>{b, ldb}, c);
}
#endif

}  // namespace kiln::arch::simd

// Dense int8 tile (packed/qdense.hpp): uint8 activation quads broadcast, int8 weight quads as the
// vector, which is vpdpbusd's own order (first operand unsigned, second signed). One call covers
// a whole weight panel (up to 64 columns: four vectors per row, 16 accumulators at MR = 4).
namespace kiln::arch::simd {

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
inline constexpr index_t s8_dense_nb = 64;

template <index_t MR, index_t NB>
inline void int8_dense_tile(index_t k4, const std::uint8_t* a, index_t a_rs, index_t a_ks, const std::int8_t* b,
                            index_t ldb, std::int32_t* c) noexcept {
  if constexpr (NB % 16 != 0)
    generic::int8_dense_tile<MR, NB>(k4, a, a_rs, a_ks, b, ldb, c);
  else
    detail::register_tile<detail::vnni_ops<true>, MR, NB / 16>(k4, a, a_rs, a_ks, panel_rows<std::int8_t>{b, ldb}, c);
}
#elif defined(__AVX2__) || defined(__ARM_NEON)
inline constexpr index_t s8_dense_nb = 16;

template <index_t MR, index_t NB>
inline void int8_dense_tile(index_t k4, const std::uint8_t* a, index_t a_rs, index_t a_ks, const std::int8_t* b,
                            index_t ldb, std::int32_t* c) noexcept {
  int8_tile<MR, NB>(k4, a, a_rs, a_ks, panel_rows<std::int8_t>{b, ldb}, c);  // the tile takes either signedness
}
#else
using generic::int8_dense_tile;
using generic::s8_dense_nb;
#endif
using generic::dense_a_quad_bytes;
using generic::dense_tile_rows;
using generic::split_dense_row;


// strided_rows (see generic) for float, strides 1 and 2: 16 (AVX-512) or 8 (AVX2) columns per
// step, loaded under a mask of the lanes inside the row (zeros elsewhere: the padding), a stride
// of 2 deinterleaved from two loads. Columns outer, rows inner, so each mask is made once. Row
// by row and phase by phase, the generic loops' short vector loops and scalar tails took a fifth
// of ResNet-8's stride-2 layers.
#if defined(__AVX512F__)
using generic::strided_rows;  // other element types
inline constexpr bool f32_strided_rows_in_vectors = true;
namespace detail {
// Bits i < 16 with 0 <= c + i < width: the lanes of a load at x + c that lie inside the row.
inline __mmask16 lanes_inside(index_t c, index_t width) noexcept {
  const index_t lo = c >= 0 ? 0 : -c < 16 ? -c : 16;
  const index_t hi = width - c < 0 ? 0 : width - c < 16 ? width - c : 16;
  if (hi <= lo) return 0;
  return static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
}
}  // namespace detail

inline void strided_rows(float* dst, index_t dst_stride, index_t count, index_t n, const float* x, index_t x_stride,
                         index_t width, index_t first, index_t s) noexcept {
  if (s > 2) return generic::strided_rows(dst, dst_stride, count, n, x, x_stride, width, first, s);
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (index_t q = 0; q < n; q += 16) {
    const index_t c = first + q * s;
    const __mmask16 in0 = detail::lanes_inside(c, width), in1 = detail::lanes_inside(c + 16, width);
    const __mmask16 out = static_cast<__mmask16>(n - q >= 16 ? 0xffff : (1u << (n - q)) - 1);
    // Masked-off lanes are not read, so x + c may lie outside the row.
    const float* xr = x + c;
    float* dr = dst + q;
    for (index_t r = 0; r < count; ++r, xr += x_stride, dr += dst_stride) {
      __m512 v = _mm512_maskz_loadu_ps(in0, xr);
      if (s == 2) v = _mm512_permutex2var_ps(v, even, _mm512_maskz_loadu_ps(in1, xr + 16));
      _mm512_mask_storeu_ps(dr, out, v);
    }
  }
}
#elif defined(__AVX2__)
using generic::strided_rows;  // other element types
inline constexpr bool f32_strided_rows_in_vectors = true;
namespace detail {
// All bits of lane i (of 8) set where lo <= i < hi.
inline __m256i lanes_between(index_t lo, index_t hi) noexcept {
  const __m256i i = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(lo)), i),
                             _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(hi)), i));
}
// The lanes of a load at x + c that lie inside the row.
inline __m256i lanes_inside(index_t c, index_t width) noexcept {
  const index_t lo = c >= 0 ? 0 : -c < 8 ? -c : 8;
  const index_t hi = width - c < 0 ? 0 : width - c < 8 ? width - c : 8;
  return lanes_between(lo, hi);
}
}  // namespace detail

inline void strided_rows(float* dst, index_t dst_stride, index_t count, index_t n, const float* x, index_t x_stride,
                         index_t width, index_t first, index_t s) noexcept {
  if (s > 2) return generic::strided_rows(dst, dst_stride, count, n, x, x_stride, width, first, s);
  for (index_t q = 0; q < n; q += 8) {
    const index_t c = first + q * s;
    const __m256i in0 = detail::lanes_inside(c, width), in1 = detail::lanes_inside(c + 8, width);
    const __m256i out = detail::lanes_between(0, n - q);
    // Masked-off lanes are not read, so x + c may lie outside the row.
    const float* xr = x + c;
    float* dr = dst + q;
    for (index_t r = 0; r < count; ++r, xr += x_stride, dr += dst_stride) {
      __m256 v = _mm256_maskload_ps(xr, in0);
      if (s == 2) {  // even lanes of v and w: [v0 v2 w0 w2 | v4 v6 w4 w6], then the 64-bit pairs in order
        const __m256 w = _mm256_maskload_ps(xr + 8, in1);
        v = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(v, w, _MM_SHUFFLE(2, 0, 2, 0))),
                                                   _MM_SHUFFLE(3, 1, 2, 0)));
      }
      _mm256_maskstore_ps(dr, out, v);
    }
  }
}
#else
using generic::strided_rows;
using generic::f32_strided_rows_in_vectors;
#endif

// strided_quad_rows (see generic) on AVX-512BW, strides 1 and 2: 16 quads per step. Each
// channel's 16 bytes (a stride of 2: the even bytes of 32, vpmovwb) are loaded under a mask of
// the lanes inside the row, the others taking the padding, then the four channels interleave
// into quads (one byte permute with VBMI, else 8- then 16-bit unpacks: eight unpacks and three
// inserts where the permute is one, ResNet-8 int8 0.96x). Byte by byte, a stride-2 band had
// taken a third of ResNet-8 int8's stride-2 layers.
#if defined(__AVX512BW__) && defined(__AVX512VL__)
namespace detail {
// Bits i < L with 0 <= c + i < width (L = 16 or 32).
template <index_t L> inline std::uint32_t lanes_inside_bits(index_t c, index_t width) noexcept {
  const index_t lo = c >= 0 ? 0 : -c < L ? -c : L;
  const index_t hi = width - c < 0 ? 0 : width - c < L ? width - c : L;
  if (hi <= lo) return 0;
  const std::uint64_t below_hi = (std::uint64_t{1} << hi) - 1, below_lo = (std::uint64_t{1} << lo) - 1;
  return static_cast<std::uint32_t>(below_hi & ~below_lo);
}
}  // namespace detail

template <class X>
inline void strided_quad_rows(std::uint8_t* dst, index_t dst_stride, index_t count, index_t n, const X* const x[4],
                              index_t x_stride, index_t width, index_t first, index_t s, const std::uint8_t pad[4],
                              std::int32_t offset) noexcept {
  static_assert(sizeof(X) == 1, "int8 or uint8 activations");
  if (s > 2) return generic::strided_quad_rows(dst, dst_stride, count, n, x, x_stride, width, first, s, pad, offset);
#if defined(__AVX512VBMI__)
  const __m512i off = _mm512_set1_epi8(static_cast<char>(offset));
  const __m512i to_quads = _mm512_load_si512(detail::rows_to_quads);  // channel k's 16 bytes: row k
#else
  const __m128i off = _mm_set1_epi8(static_cast<char>(offset));
#endif
  __m128i fill[4];  // pad[k] - offset: the offset added to every lane brings it back to pad[k]
  KILN_UNROLL for (index_t k = 0; k < 4; ++k) fill[k] = _mm_set1_epi8(static_cast<char>(pad[k] - offset));
  for (index_t q = 0; q < n; q += 16) {
    const index_t c = first + q * s;
    const std::uint32_t in = s == 1 ? detail::lanes_inside_bits<16>(c, width) : detail::lanes_inside_bits<32>(c, width);
    const index_t quads = n - q < 16 ? n - q : 16;
    const __mmask64 out = quads == 16 ? ~__mmask64{0} : (__mmask64{1} << (4 * quads)) - 1;
    for (index_t r = 0; r < count; ++r) {
      __m128i v[4];
      KILN_UNROLL for (index_t k = 0; k < 4; ++k) {
        if (!x[k]) {
          v[k] = fill[k];
        } else {
          // Masked-off lanes are not read, so the address may lie outside the row.
          const auto* src = reinterpret_cast<const char*>(x[k] + r * x_stride + c);
          if (s == 1)
            v[k] = _mm_mask_loadu_epi8(fill[k], static_cast<__mmask16>(in), src);
          else
            // maskz with all lanes: GCC 12's _mm256_cvtepi16_epi8 warns of its undefined source
            v[k] = _mm256_maskz_cvtepi16_epi8(
                0xffff, _mm256_mask_loadu_epi8(_mm256_cvtepu8_epi16(fill[k]), static_cast<__mmask32>(in), src));
        }
#if defined(__AVX512VBMI__)
      }
      // The four channels side by side, then one byte permute into quads (maskz: GCC 12 warns
      // of the unmasked form's undefined source).
      __m512i quad = _mm512_castsi128_si512(v[0]);
      quad = _mm512_inserti32x4(quad, v[1], 1);
      quad = _mm512_inserti32x4(quad, v[2], 2);
      quad = _mm512_inserti32x4(quad, v[3], 3);
      quad = _mm512_maskz_permutexvar_epi8(~__mmask64{0}, to_quads, _mm512_add_epi8(quad, off));
#else
        v[k] = _mm_add_epi8(v[k], off);
      }
      const __m128i lo01 = _mm_unpacklo_epi8(v[0], v[1]), hi01 = _mm_unpackhi_epi8(v[0], v[1]);
      const __m128i lo23 = _mm_unpacklo_epi8(v[2], v[3]), hi23 = _mm_unpackhi_epi8(v[2], v[3]);
      __m512i quad = _mm512_castsi128_si512(_mm_unpacklo_epi16(lo01, lo23));
      quad = _mm512_inserti32x4(quad, _mm_unpackhi_epi16(lo01, lo23), 1);
      quad = _mm512_inserti32x4(quad, _mm_unpacklo_epi16(hi01, hi23), 2);
      quad = _mm512_inserti32x4(quad, _mm_unpackhi_epi16(hi01, hi23), 3);
#endif
      _mm512_mask_storeu_epi8(dst + r * dst_stride + 4 * q, out, quad);
    }
  }
}
#else
using generic::strided_quad_rows;
#endif

// generic::interleave_rows and deinterleave_rows for M = 2 or 4 by full-width zips and unzips:
// one zip interleaves two rows, a zip of two zipped pairs (rows 0 and 2, rows 1 and 3) four; an
// unzip splits even and odd elements, twice over for four phases. (xsimd 8's zip_lo on AVX zips
// within 128-bit halves, so these are written per instruction set.)
#if defined(__AVX512F__) || defined(__AVX2__) || defined(__SSE2__) || (defined(__ARM_NEON) && defined(__aarch64__))
namespace detail {
#if defined(__AVX512F__)
using zip_vec = __m512;
inline zip_vec zip_load(const float* p) noexcept { return _mm512_loadu_ps(p); }
inline void zip_store(float* p, zip_vec v) noexcept { _mm512_storeu_ps(p, v); }
inline void zip(zip_vec a, zip_vec b, zip_vec& lo, zip_vec& hi) noexcept {
  const __m512i l = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i h = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
  lo = _mm512_permutex2var_ps(a, l, b);
  hi = _mm512_permutex2var_ps(a, h, b);
}
inline void unzip(zip_vec a, zip_vec b, zip_vec& even, zip_vec& odd) noexcept {
  const __m512i e = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i o = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
  even = _mm512_permutex2var_ps(a, e, b);
  odd = _mm512_permutex2var_ps(a, o, b);
}
#elif defined(__AVX2__)
using zip_vec = __m256;
inline zip_vec zip_load(const float* p) noexcept { return _mm256_loadu_ps(p); }
inline void zip_store(float* p, zip_vec v) noexcept { _mm256_storeu_ps(p, v); }
inline void zip(zip_vec a, zip_vec b, zip_vec& lo, zip_vec& hi) noexcept {
  const __m256 l = _mm256_unpacklo_ps(a, b), h = _mm256_unpackhi_ps(a, b);  // within 128-bit halves
  lo = _mm256_permute2f128_ps(l, h, 0x20);
  hi = _mm256_permute2f128_ps(l, h, 0x31);
}
inline void unzip(zip_vec a, zip_vec b, zip_vec& even, zip_vec& odd) noexcept {
  // within 128-bit halves: a0 a2 b0 b2 | a4 a6 b4 b6, then 64-bit pairs reordered 0 2 1 3
  const __m256 e = _mm256_shuffle_ps(a, b, 0x88), o = _mm256_shuffle_ps(a, b, 0xdd);
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xd8));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xd8));
}
#elif defined(__SSE2__)
using zip_vec = __m128;
inline zip_vec zip_load(const float* p) noexcept { return _mm_loadu_ps(p); }
inline void zip_store(float* p, zip_vec v) noexcept { _mm_storeu_ps(p, v); }
inline void zip(zip_vec a, zip_vec b, zip_vec& lo, zip_vec& hi) noexcept {
  lo = _mm_unpacklo_ps(a, b);
  hi = _mm_unpackhi_ps(a, b);
}
inline void unzip(zip_vec a, zip_vec b, zip_vec& even, zip_vec& odd) noexcept {
  even = _mm_shuffle_ps(a, b, 0x88);
  odd = _mm_shuffle_ps(a, b, 0xdd);
}
#else
using zip_vec = float32x4_t;
inline zip_vec zip_load(const float* p) noexcept { return vld1q_f32(p); }
inline void zip_store(float* p, zip_vec v) noexcept { vst1q_f32(p, v); }
inline void zip(zip_vec a, zip_vec b, zip_vec& lo, zip_vec& hi) noexcept {
  lo = vzip1q_f32(a, b);
  hi = vzip2q_f32(a, b);
}
inline void unzip(zip_vec a, zip_vec b, zip_vec& even, zip_vec& odd) noexcept {
  even = vuzp1q_f32(a, b);
  odd = vuzp2q_f32(a, b);
}
#endif
inline constexpr index_t zip_size = static_cast<index_t>(sizeof(zip_vec) / sizeof(float));
}  // namespace detail

template <index_t M> inline void interleave_rows(const float* src, index_t stride, float* dst) noexcept {
  constexpr index_t S = detail::zip_size;
  static_assert((M == 2 || M == 4) && 16 % S == 0, "two or four rows of whole vectors");
  using detail::zip_load;
  using detail::zip_store;
  KILN_UNROLL for (index_t l = 0; l < 16; l += S) {
    detail::zip_vec lo, hi;
    if constexpr (M == 2) {
      detail::zip(zip_load(src + l), zip_load(src + stride + l), lo, hi);
      zip_store(dst + 2 * l, lo);
      zip_store(dst + 2 * l + S, hi);
    } else {
      detail::zip_vec ac_lo, ac_hi, bd_lo, bd_hi;
      detail::zip(zip_load(src + l), zip_load(src + 2 * stride + l), ac_lo, ac_hi);
      detail::zip(zip_load(src + stride + l), zip_load(src + 3 * stride + l), bd_lo, bd_hi);
      detail::zip(ac_lo, bd_lo, lo, hi);
      zip_store(dst + 4 * l, lo);
      zip_store(dst + 4 * l + S, hi);
      detail::zip(ac_hi, bd_hi, lo, hi);
      zip_store(dst + 4 * l + 2 * S, lo);
      zip_store(dst + 4 * l + 3 * S, hi);
    }
  }
}

template <index_t M, index_t P = M>
inline void deinterleave_rows(const float* src, float* dst, index_t stride) noexcept {
  constexpr index_t S = detail::zip_size;
  static_assert((M == 2 || M == 4) && 16 % S == 0, "two or four rows of whole vectors");
  static_assert(M <= P && P <= 2 * M, "a window reaches at most one group of M on");
  using detail::zip_load;
  using detail::zip_store;
  KILN_UNROLL for (index_t l = 0; l < 16; l += S) {
    const float* const s = src + l * M;
    detail::zip_vec phase[M];
    if constexpr (M == 2) {
      detail::unzip(zip_load(s), zip_load(s + S), phase[0], phase[1]);
    } else {
      detail::zip_vec e0, o0, e1, o1;  // even and odd elements of the first and second pair of vectors
      detail::unzip(zip_load(s), zip_load(s + S), e0, o0);
      detail::unzip(zip_load(s + 2 * S), zip_load(s + 3 * S), e1, o1);
      detail::unzip(e0, e1, phase[0], phase[2]);
      detail::unzip(o0, o1, phase[1], phase[3]);
    }
    KILN_UNROLL for (index_t k = 0; k < M; ++k) zip_store(dst + k * stride + l, phase[k]);
#if defined(__AVX512F__)
    // Phase k >= M is phase k - M one lane on, its last lane the next group's.
    KILN_UNROLL for (index_t k = M; k < P; ++k) {
      const __m512i next = _mm512_set_epi32(16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
      zip_store(dst + k * stride + l, _mm512_permutex2var_ps(phase[k - M], next, _mm512_set1_ps(src[16 * M + k - M])));
    }
#endif
  }
#if !defined(__AVX512F__)
  if constexpr (P > M) {  // phases k >= M are those of the next group: split it aside, keep P - M
    float next[M * 16];
    deinterleave_rows<M>(src + M, next, 16);
    for (index_t k = M; k < P; ++k) std::memcpy(dst + k * stride, next + (k - M) * 16, 16 * sizeof(float));
  }
#endif
}
#else
using generic::deinterleave_rows;
using generic::interleave_rows;
#endif

}  // namespace kiln::arch::simd
