// Elementwise passes over a row: a kernel's outputs (bias, fused residual, activation, the int8
// kernels' column term), QuantizeLinear's and QLinearAdd's. The portable loops here are the
// reference; arch/xsimd/rows.hpp runs them in vectors. Left to the compiler, they were
// vectorized at -O3 only: at -O2 (GCC 12's very cheap cost model) they stayed scalar, DS-CNN's
// depthwise layers 4x slower.
//
// Act is an activation functor (packed/epilogue.hpp) callable on a float; the vector versions
// also call it on a vector of floats where it takes one.
#pragma once

#include "../../core/round.hpp"
#include "../../core/types.hpp"

#include <cstdint>

namespace kiln::arch::generic {

// y[i] = act(c[i] + b), or with a residual r: act((c[i] + b) + r[i]), rounded as the separate Add
// would. y may be c.
template <class Act>
inline void store_row(float* y, const float* r, const float* c, float b, index_t n, Act act) noexcept {
  if (r)
    for (index_t i = 0; i < n; ++i) y[i] = act((c[i] + b) + r[i]);
  else
    for (index_t i = 0; i < n; ++i) y[i] = act(c[i] + b);
}

// y[i] = act(x[i]); y may be x.
template <class Act> inline void activate_row(float* y, const float* x, index_t n, Act act) noexcept {
  for (index_t i = 0; i < n; ++i) y[i] = act(x[i]);
}

// The sum of n 8-bit values (an int8 global average pool's channel), exact in int32 for
// n < 2^23.
template <class T> inline std::int32_t sum_row(const T* x, index_t n) noexcept {
  std::int32_t sum = 0;
  for (index_t i = 0; i < n; ++i) sum += static_cast<std::int32_t>(x[i]);
  return sum;
}

// c[j] += offset - weight * colsum[j]: an int8 product's bias and weight zero point term.
inline void add_column_term(std::int32_t* c, index_t n, std::int32_t offset, std::int32_t weight,
                            const std::int32_t* colsum) noexcept {
  for (index_t j = 0; j < n; ++j) c[j] += offset - weight * colsum[j];
}

// y[i] = saturate(round_half_even(x[i] / scale) + zero_point), NaN to Y's minimum: the
// reference QuantizeLinear (ops/quant.hpp) on a row of one scale.
template <class Y> inline void quantize_row(const float* x, index_t n, float scale, float zero_point, Y* y) noexcept {
  for (index_t i = 0; i < n; ++i) y[i] = kiln::detail::quantize_value<Y>(x[i] / scale, zero_point);
}

// y[i] = QLinearAdd of x[i * SX] and z[i * SZ] (SX, SZ 1 or 0: a row or one scalar), MLAS's
// operands in its order (kiln::detail::qlinear_add_value). y may be x or z.
template <index_t SX, index_t SZ, class T>
inline void qlinear_add_row(const T* x, const T* z, index_t n, float rx, float rz, float fixed, T* y) noexcept {
  for (index_t i = 0; i < n; ++i) y[i] = kiln::detail::qlinear_add_value(x[i * SX], z[i * SZ], rx, rz, fixed);
}

}  // namespace kiln::arch::generic
