// Host SIMD tiles: float through xsimd (AVX2, AVX-512, NEON: whichever the compiler targets),
// int8 through VNNI (vpdpbusd: four uint8 x int8 products per 32-bit lane, exact int32 sums)
// where the CPU has it, else the portable tile.
#pragma once

#include "../generic/tiles.hpp"

#include <xsimd/xsimd.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
#include <immintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

namespace kiln::arch::simd {

using f32_batch = xsimd::batch<float>;
// Two vectors per row and MR = 4 rows: 8 accumulators keep both FMA ports busy through the FMA
// latency, leaving registers for the two column loads and the broadcast.
inline constexpr index_t f32_nb = 2 * static_cast<index_t>(f32_batch::size);

template <index_t MR, index_t NB>
inline void f32_tile(index_t k, const float* a, index_t a_rs, index_t a_ks, const float* b, index_t ldb,
                     float* c) noexcept {
  constexpr index_t lanes = static_cast<index_t>(f32_batch::size);
  if constexpr (NB % lanes != 0) {
    generic::f32_tile<MR, NB>(k, a, a_rs, a_ks, b, ldb, c);
  } else {
    constexpr index_t V = NB / lanes;
    f32_batch acc[MR][V];
    for (index_t r = 0; r < MR; ++r)
      for (index_t v = 0; v < V; ++v) acc[r][v] = f32_batch(0.f);
    for (index_t kk = 0; kk < k; ++kk, a += a_ks, b += ldb) {
      f32_batch bv[V];
      for (index_t v = 0; v < V; ++v) bv[v] = f32_batch::load_unaligned(b + v * lanes);
      for (index_t r = 0; r < MR; ++r) {
        const f32_batch av(a[r * a_rs]);
        for (index_t v = 0; v < V; ++v) acc[r][v] = xsimd::fma(av, bv[v], acc[r][v]);
      }
    }
    for (index_t r = 0; r < MR; ++r)
      for (index_t v = 0; v < V; ++v) acc[r][v].store_unaligned(c + r * NB + v * lanes);
  }
}

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

// A row of 8/16-bit outputs: clamping the rounded float to [lo - zp, hi - zp] (small integers,
// exact in float) before the conversion is the same saturation, and keeps the loop free of
// 64-bit steps so the compiler vectorizes it (vcvtdq2ps, vmulps, vroundps, vcvtps2dq).
template <class Y>
inline void requantize_row(const std::int32_t* acc, index_t n, float scale, const requant_params& rq,
                           std::int32_t zero_point, Y* y) noexcept {
  static_assert(sizeof(Y) <= 2, "8- and 16-bit outputs");
  static_cast<void>(rq);
  const float lo = static_cast<float>(std::numeric_limits<Y>::min() - zero_point);
  const float hi = static_cast<float>(std::numeric_limits<Y>::max() - zero_point);
  for (index_t i = 0; i < n; ++i) {
    float v = std::nearbyint(static_cast<float>(acc[i]) * scale);
    v = v < lo ? lo : (v > hi ? hi : v);
    y[i] = static_cast<Y>(static_cast<std::int32_t>(v) + zero_point);
  }
}
#else
using generic::requantize_row;
using generic::requantize_saturate;
#endif

#if defined(__AVX512VNNI__) && defined(__AVX512BW__)
namespace detail {
// The VNNI tile for both operand roles. vpdpbusd multiplies unsigned bytes by signed bytes, four
// per 32-bit lane: UnsignedBroadcast says whether the broadcast quads (a: conv weights are int8,
// dense activations uint8) or the vector quads (b) are the unsigned operand.
template <index_t MR, index_t NB, bool UnsignedBroadcast, class A, class B>
inline void vnni_tile(index_t k4, const A* a, index_t a_rs, index_t a_ks, const B* b, index_t ldb,
                      std::int32_t* c) noexcept {
  constexpr index_t V = NB / 16;
  __m512i acc[MR][V];
  for (index_t r = 0; r < MR; ++r)
    for (index_t v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_si512();
  for (index_t q = 0; q < k4; ++q, a += a_ks, b += ldb) {
    __m512i bv[V];
    for (index_t v = 0; v < V; ++v) bv[v] = _mm512_loadu_si512(b + 64 * v);
    for (index_t r = 0; r < MR; ++r) {
      std::int32_t quad;
      std::memcpy(&quad, a + r * a_rs, 4);
      const __m512i av = _mm512_set1_epi32(quad);
      for (index_t v = 0; v < V; ++v)
        acc[r][v] = UnsignedBroadcast ? _mm512_dpbusd_epi32(acc[r][v], av, bv[v]) : _mm512_dpbusd_epi32(acc[r][v], bv[v], av);
    }
  }
  for (index_t r = 0; r < MR; ++r)
    for (index_t v = 0; v < V; ++v) _mm512_storeu_si512(c + r * NB + 16 * v, acc[r][v]);
}
}  // namespace detail

inline constexpr index_t s8_nb = 32;  // two 16-lane vectors of column quads per row

template <index_t MR, index_t NB, class A, class B>
inline void int8_tile(index_t k4, const A* a, index_t a_rs, index_t a_ks, const B* b, index_t ldb,
                      std::int32_t* c) noexcept {
  // vpdpbusd multiplies unsigned bytes by signed bytes: the vector side must be uint8 and the
  // broadcast side int8 (the layout packed weights and activation panels are given in).
  if constexpr (!std::is_same_v<A, std::int8_t> || !std::is_same_v<B, std::uint8_t> || NB % 16 != 0)
    generic::int8_tile<MR, NB>(k4, a, a_rs, a_ks, b, ldb, c);
  else
    detail::vnni_tile<MR, NB, false>(k4, a, a_rs, a_ks, b, ldb, c);
}
#elif defined(__ARM_NEON)
inline constexpr index_t s8_nb = 8;  // two vectors of four column quads per row

template <index_t MR, index_t NB, class A, class B>
inline void int8_tile(index_t k4, const A* a, index_t a_rs, index_t a_ks, const B* b, index_t ldb,
                      std::int32_t* c) noexcept {
  // Widening multiply-accumulate: uint8 activations and int8 weights become int16, whose products
  // (|.| <= 255 * 128) still fit int16; vpadalq adds adjacent product pairs into int32 lanes, so
  // each column quad leaves two partial sums that one pairwise add joins at the end. Exact.
  if constexpr (!std::is_same_v<A, std::int8_t> || !std::is_same_v<B, std::uint8_t> || NB % 4 != 0) {
    generic::int8_tile<MR, NB>(k4, a, a_rs, a_ks, b, ldb, c);
  } else {
    constexpr index_t V = NB / 4;  // 16 bytes of b (4 column quads) per step
    int32x4_t lo[MR][V], hi[MR][V];  // partial sums of columns 0-1 and 2-3 of each 4
    for (index_t r = 0; r < MR; ++r)
      for (index_t v = 0; v < V; ++v) lo[r][v] = hi[r][v] = vdupq_n_s32(0);
    for (index_t q = 0; q < k4; ++q, a += a_ks, b += ldb) {
      int16x8_t b_lo[V], b_hi[V];
      for (index_t v = 0; v < V; ++v) {
        const uint8x16_t bv = vld1q_u8(b + 16 * v);
        b_lo[v] = vreinterpretq_s16_u16(vmovl_u8(vget_low_u8(bv)));
        b_hi[v] = vreinterpretq_s16_u16(vmovl_u8(vget_high_u8(bv)));
      }
      for (index_t r = 0; r < MR; ++r) {
        std::int32_t quad;
        std::memcpy(&quad, a + r * a_rs, 4);
        const int16x8_t av = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(quad)));  // the quad, twice
        for (index_t v = 0; v < V; ++v) {
          lo[r][v] = vpadalq_s16(lo[r][v], vmulq_s16(av, b_lo[v]));
          hi[r][v] = vpadalq_s16(hi[r][v], vmulq_s16(av, b_hi[v]));
        }
      }
    }
    for (index_t r = 0; r < MR; ++r)
      for (index_t v = 0; v < V; ++v) vst1q_s32(c + r * NB + 4 * v, vpaddq_s32(lo[r][v], hi[r][v]));
  }
}
#else
using generic::int8_tile;
using generic::s8_nb;
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
    detail::vnni_tile<MR, NB, true>(k4, a, a_rs, a_ks, b, ldb, c);
}
#else
using generic::int8_dense_tile;
using generic::s8_dense_nb;
#endif

}  // namespace kiln::arch::simd
