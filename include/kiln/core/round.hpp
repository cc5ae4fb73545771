// Rounding to integers as ONNX's quantization specifies (half to even) and as ONNX Runtime's
// float kernels do it (cvtps2dq, saturation, products rounded on their own), and the QLinearAdd
// element both the reference op (ops/qlinear.hpp) and the architecture rows compute.
#pragma once

#include "shape.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace kiln {

// v (not NaN) rounded half to even (the default rounding mode), saturated to int32's range. On
// Cortex-M with a single-precision FPU one vcvtr does the rounding and the saturation, where
// std::nearbyint is a libm call of some 30 instructions.
#if defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M') && defined(__ARM_FP) && (__ARM_FP & 4)
#define KILN_ROUND_BY_VCVTR 1
#endif

inline std::int32_t round_to_int32_not_nan(float v) noexcept {
#if defined(KILN_ROUND_BY_VCVTR)
  float r;
  __asm__("vcvtr.s32.f32 %0, %1" : "=t"(r) : "t"(v));
  std::int32_t i;
  std::memcpy(&i, &r, 4);  // the integer the instruction left in the register
  return i;
#else
  const float r = std::nearbyint(v);
  if (r <= -2147483648.f) return std::numeric_limits<std::int32_t>::min();
  if (r >= 2147483648.f) return std::numeric_limits<std::int32_t>::max();
  return static_cast<std::int32_t>(r);
#endif
}

// As round_to_int32_not_nan; NaN gives int32's minimum, so a quantized NaN saturates to the
// type's minimum as in ONNX Runtime's kernels (which clamp with maxps, where NaN loses).
inline std::int32_t round_to_int32(float v) noexcept {
  return v != v ? std::numeric_limits<std::int32_t>::min() : round_to_int32_not_nan(v);
}

namespace detail {
template <class Y> constexpr float float_min() noexcept { return static_cast<float>(std::numeric_limits<Y>::min()); }
template <class Y> constexpr float float_max() noexcept { return static_cast<float>(std::numeric_limits<Y>::max()); }
// float32 v to Y: round half to even, add the zero point, saturate, NaN to the minimum (as ONNX
// Runtime does). Where one instruction rounds to an integer (vcvtr) the sum is an integer one;
// elsewhere it stays in float (exact: a rounded value plus a Y), which keeps the loop vectorized,
// and NaN fails the first comparison.
template <class Y> inline Y quantize_value(float v, float zero_point) noexcept {
#if defined(KILN_ROUND_BY_VCVTR)
  const std::int64_t r = static_cast<std::int64_t>(round_to_int32(v)) + static_cast<std::int64_t>(zero_point);
  constexpr std::int64_t lo = std::numeric_limits<Y>::min(), hi = std::numeric_limits<Y>::max();
  return static_cast<Y>(r < lo ? lo : (r > hi ? hi : r));
#else
  float r = std::nearbyint(v) + zero_point;  // half to even under the default rounding mode
  r = r >= float_min<Y>() ? r : float_min<Y>();
  r = r <= float_max<Y>() ? r : float_max<Y>();
  return static_cast<Y>(r);
#endif
}

// x * y rounded to float on its own, never fused into a following addition. GCC contracts
// a * b + c into one fused multiply-add wherever the target has one (-ffp-contract=fast, its
// default in ISO C++ modes too), which skips the product's rounding that ONNX Runtime's kernels
// perform (QLinearMul on an FMA host: 2,122 of 6.3 M results off by one). An FMA with a -0
// addend is the product rounded alone, sign of zero kept; where there is no FMA instruction
// (__FP_FAST_FMAF undefined) nothing is contracted and a plain product serves.
inline float rounded_product(float x, float y) noexcept {
#if defined(__FP_FAST_FMAF)
  return std::fma(x, y, -0.f);
#else
  return x * y;
#endif
}

// cvtps2dq: round half to even; NaN and values outside int32 give INT32_MIN. Branch-free (those
// select -2^31, which converts exactly) so the elementwise loops vectorize; one vcvtr where the
// FPU has it (std::nearbyint is a libm call there).
inline std::int32_t cvtps2dq(float v) noexcept {
  const bool in_range = (v >= -2147483648.f) & (v < 2147483648.f);
#if defined(KILN_ROUND_BY_VCVTR)
  return round_to_int32_not_nan(in_range ? v : -2147483648.f);
#else
  return static_cast<std::int32_t>(std::nearbyint(in_range ? v : -2147483648.f));
#endif
}
template <class T> constexpr std::int32_t qmin() noexcept { return std::numeric_limits<T>::min(); }
template <class T> constexpr std::int32_t qmax() noexcept { return std::numeric_limits<T>::max(); }
template <class T> inline T sat(std::int32_t v) noexcept {
  return static_cast<T>(v < qmin<T>() ? qmin<T>() : v > qmax<T>() ? qmax<T>() : v);
}

// Elementwise over blocks, x and z stepping SX and SZ (1 or 0) per element. Each block goes through a
// local buffer: y may be x or z (in place), which sends a runtime overlap check (clang's) to its
// scalar loop. Full blocks have a constant trip count, which GCC vectorizes at -O2 too.
template <index_t SX, index_t SZ, class T, class F>
inline void qlinear_blocks(index_t count, const T* x, const T* z, T* y, F& f) noexcept {
  constexpr index_t block = 128;
  T out[block];
  const auto run = [&](index_t i0, index_t n) {
    for (index_t i = 0; i < n; ++i) out[i] = f(x[(i0 + i) * SX], z[(i0 + i) * SZ]);
    for (index_t i = 0; i < n; ++i) y[i0 + i] = out[i];
  };
  index_t i0 = 0;
  for (; count - i0 >= block; i0 += block) run(i0, block);
  if (i0 < count) run(i0, count - i0);
}

// One element of QLinearAdd as MLAS's AVX2 kernel computes it (ops/qlinear.hpp qlinear_add): x, z
// its operands in its order, rx, rz their scale ratios, fixed the folded zero points.
template <class T> inline T qlinear_add_value(T x, T z, float rx, float rz, float fixed) noexcept {
  return sat<T>(cvtps2dq(std::fma(static_cast<float>(x), rx, std::fma(static_cast<float>(z), rz, fixed))));
}
}  // namespace detail

}  // namespace kiln
