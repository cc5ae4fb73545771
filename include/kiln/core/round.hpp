// Round half to even to an int32: the rounding ONNX's quantization specifies.
#pragma once

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

}  // namespace kiln
