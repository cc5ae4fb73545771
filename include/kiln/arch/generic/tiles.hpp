// Portable C++ register tiles: the reference every SIMD and DSP tile is tested against, and the
// tiles of every target without one (Cortex-M0/M3, plain x86-64, KILN_ARCH_GENERIC).
//
// A tile computes an MR x NB block of a matrix product, c = a * b, over k steps:
//   float:  c[r][j] = sum_kk a[kk*a_ks + r*a_rs] * b[kk*ldb + j]
//   int8:   c[r][j] = sum_kk A(r, kk) * B(kk, j) in int32, k in quads of 4 (K rounded up to a
//           multiple of 4 with zero weights): A(r, kk) = a[(kk/4)*a_ks + r*a_rs + kk%4],
//           B(kk, j) = b[(kk/4)*ldb + 4*j + kk%4]. Quads are what VNNI (vpdpbusd), SDOT and the
//           Cortex-M DSP (two __smlad per quad) consume in one step.
// c is a dense MR x NB array; the caller adds bias, activation or requantization and stores.
#pragma once

#include "../../core/requantize.hpp"
#include "../../core/shape.hpp"

#include <cstdint>
#include <limits>

namespace kiln::arch::generic {

inline constexpr index_t f32_nb = 8;  // columns per float tile
inline constexpr index_t s8_nb = 8;   // columns per int8 tile

template <index_t MR, index_t NB>
inline void f32_tile(index_t k, const float* a, index_t a_rs, index_t a_ks, const float* b, index_t ldb,
                     float* c) noexcept {
  float acc[MR][NB] = {};
  for (index_t kk = 0; kk < k; ++kk, a += a_ks, b += ldb)
    for (index_t r = 0; r < MR; ++r) {
      const float av = a[r * a_rs];
      for (index_t j = 0; j < NB; ++j) acc[r][j] += av * b[j];
    }
  for (index_t r = 0; r < MR; ++r)
    for (index_t j = 0; j < NB; ++j) c[r * NB + j] = acc[r][j];
}

template <index_t MR, index_t NB, class A, class B>
inline void int8_tile(index_t k4, const A* a, index_t a_rs, index_t a_ks, const B* b, index_t ldb,
                      std::int32_t* c) noexcept {
  std::int32_t acc[MR][NB] = {};
  for (index_t q = 0; q < k4; ++q, a += a_ks, b += ldb)
    for (index_t r = 0; r < MR; ++r)
      for (index_t j = 0; j < NB; ++j)
        for (index_t i = 0; i < 4; ++i)
          acc[r][j] += static_cast<std::int32_t>(a[r * a_rs + i]) * static_cast<std::int32_t>(b[4 * j + i]);
  for (index_t r = 0; r < MR; ++r)
    for (index_t j = 0; j < NB; ++j) c[r * NB + j] = acc[r][j];
}

// ONNX Runtime's requantization, saturate(round_half_even(float32(acc) * scale) + zero_point),
// in integers only (core/requantize.hpp): exact without an FPU. `scale` is rq as a float, for
// targets that round in float instead.
inline std::int32_t requantize_saturate(std::int32_t acc, float scale, const requant_params& rq,
                                        std::int32_t zero_point, std::int32_t lo, std::int32_t hi) noexcept {
  static_cast<void>(scale);
  return kiln::requantize_saturate(acc, rq, zero_point, lo, hi);
}

}  // namespace kiln::arch::generic

// Dense int8 tile (packed/qdense.hpp): the roles of int8_tile the other way round. The broadcast
// side is uint8 (rows of the activation matrix, packed as quads at run time), the vector side int8
// (weight columns packed as quads at codegen): c[r][j] = sum_q sum_i a[q*a_ks + r*a_rs + i] *
// b[q*ldb + 4*j + i] over k4 quads, exact in int32. s8_dense_nb columns per call; a width of 64
// or more means "the whole weight panel" (16, 32, 48 or 64 columns).
namespace kiln::arch::generic {

inline constexpr index_t s8_dense_nb = 16;

template <index_t MR, index_t NB>
inline void int8_dense_tile(index_t k4, const std::uint8_t* a, index_t a_rs, index_t a_ks, const std::int8_t* b,
                            index_t ldb, std::int32_t* c) noexcept {
  // One accumulator per byte of the quads (acc[r][4j + i] += a_i * b[4j + i]): a plain
  // element-wise loop that compilers vectorize; the four partial sums of a column add up at the end.
  std::int32_t acc[MR][4 * NB] = {};
  for (index_t q = 0; q < k4; ++q, a += a_ks, b += ldb)
    for (index_t r = 0; r < MR; ++r) {
      const std::int32_t a0 = a[r * a_rs], a1 = a[r * a_rs + 1], a2 = a[r * a_rs + 2], a3 = a[r * a_rs + 3];
      std::int32_t* ar = acc[r];
      for (index_t j = 0; j < 4 * NB; j += 4) {
        ar[j] += a0 * b[j];
        ar[j + 1] += a1 * b[j + 1];
        ar[j + 2] += a2 * b[j + 2];
        ar[j + 3] += a3 * b[j + 3];
      }
    }
  for (index_t r = 0; r < MR; ++r)
    for (index_t j = 0; j < NB; ++j)
      c[r * NB + j] = acc[r][4 * j] + acc[r][4 * j + 1] + acc[r][4 * j + 2] + acc[r][4 * j + 3];
}

// y[i] = requantize_saturate(acc[i]) into Y's range, for a row of n accumulators.
template <class Y>
inline void requantize_row(const std::int32_t* acc, index_t n, float scale, const requant_params& rq,
                           std::int32_t zero_point, Y* y) noexcept {
  static_cast<void>(scale);
  constexpr std::int32_t lo = std::numeric_limits<Y>::min(), hi = std::numeric_limits<Y>::max();
  for (index_t i = 0; i < n; ++i) y[i] = static_cast<Y>(kiln::requantize_saturate(acc[i], rq, zero_point, lo, hi));
}

}  // namespace kiln::arch::generic
