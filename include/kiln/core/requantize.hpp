// Integer-only requantization that is bit-exact with ONNX Runtime's float32 requantization.
//
// Why: ONNX Runtime (MLAS) requantizes an int32 accumulator as
//     y = saturate(round_half_even(float32(acc) * scale) + zero_point)
// with every step in IEEE float32, where scale = float32(x_scale * w_scale / y_scale). The usual
// fixed-point form (int32 multiplier + shift) approximates that product and can land 1 LSB away
// from it, and FPU-less MCUs cannot afford the float path. So we keep float32 *semantics* but
// emulate them with integers: the scale is stored as its exact float32 significand and exponent
// (scale = mantissa * 2^exponent, |mantissa| < 2^24), and at run time
//   (1) float32(acc):  |acc| is rounded to 24 significant bits, half to even;
//   (2) the float32 product: the two <= 24-bit significands multiply exactly in 64 bits (<= 49
//       bits) and the product is rounded half to even to 24 significant bits, or to a multiple of
//       2^-149 when it falls in float32's subnormal range (tiny scales underflow the same way);
//   (3) the integer rounding: that value is rounded half to even to an integer.
// Each step reproduces the corresponding float32 operation exactly (float32 overflow to infinity
// saturates), so the result equals ONNX Runtime's for every acc and every finite scale.
#pragma once

#include <cstdint>
#include <cstring>

namespace kiln {

// scale = mantissa * 2^exponent exactly: a normal float32 has mantissa in [2^23, 2^24) and
// exponent in [-149, 104]; a subnormal one has mantissa < 2^23 and exponent -149. The sign of
// the scale is the sign of mantissa; a zero scale has mantissa 0.
struct requant_params {
  std::int32_t mantissa;
  std::int32_t exponent;
};

// The exact decomposition of a finite float32 (integer bit manipulation only). Infinity and NaN
// are not meaningful scales; callers reject them (they decompose as a huge finite scale).
inline requant_params requant_from_float(float scale) noexcept {
  std::uint32_t bits;
  std::memcpy(&bits, &scale, sizeof bits);
  const std::int32_t biased = static_cast<std::int32_t>((bits >> 23) & 0xffu);
  std::int32_t m = static_cast<std::int32_t>(bits & 0x7fffffu);
  std::int32_t e = -149;
  if (biased != 0) {
    m |= 0x800000;
    e = biased - 150;
  }
  return {(bits >> 31) ? -m : m, e};
}

// The float32 that requant_from_float decomposed (exact): kernels that requantize with the FPU
// take the scale as a float where a params struct keeps only the decomposition.
inline float requant_scale(const requant_params& rq) noexcept {
  const std::uint32_t m = static_cast<std::uint32_t>(rq.mantissa < 0 ? -rq.mantissa : rq.mantissa);
  // Normal: the implicit bit set, exponent + 150 biased; subnormal (and zero): biased 0.
  const std::uint32_t biased = (m & 0x800000u) != 0 ? static_cast<std::uint32_t>(rq.exponent + 150) : 0u;
  const std::uint32_t bits = (rq.mantissa < 0 ? 0x80000000u : 0u) | (biased << 23) | (m & 0x7fffffu);
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return scale;
}

namespace detail {

inline int bit_length(std::uint64_t v) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  return v == 0 ? 0 : 64 - __builtin_clzll(v);
#else
  int n = 0;
  while (v) {
    ++n;
    v >>= 1;
  }
  return n;
#endif
}

// v / 2^s rounded half to even (s >= 0).
inline std::uint64_t shift_round_even(std::uint64_t v, int s) noexcept {
  if (s <= 0) return v;
  if (s >= 64) return 0;  // callers' values stay below 2^50, so this is < 1/2
  const std::uint64_t q = v >> s;
  const std::uint64_t rem = v & ((std::uint64_t(1) << s) - 1);
  const std::uint64_t half = std::uint64_t(1) << (s - 1);
  return q + ((rem > half || (rem == half && (q & 1))) ? 1 : 0);
}

}  // namespace detail

// round_half_even(float32(acc) * float32 scale), computed with integers only. Results beyond
// +-2^40 (including float32 overflow to infinity) are clamped to +-2^40, which every caller
// saturates further to an 8/16/32-bit range.
inline std::int64_t requantize(std::int32_t acc, const requant_params& rq) noexcept {
  constexpr std::int64_t limit = std::int64_t(1) << 40;
  if (acc == 0 || rq.mantissa == 0) return 0;
  const bool negative = (acc < 0) != (rq.mantissa < 0);
  std::uint64_t a = acc < 0 ? std::uint64_t(0) - static_cast<std::uint64_t>(static_cast<std::int64_t>(acc))
                            : static_cast<std::uint64_t>(acc);
  const std::uint64_t ms = rq.mantissa < 0 ? static_cast<std::uint64_t>(-static_cast<std::int64_t>(rq.mantissa))
                                           : static_cast<std::uint64_t>(rq.mantissa);
  // (1) float32(acc): keep 24 significant bits (a may round up to exactly 2^24; still exact).
  int e = rq.exponent;
  const int la = detail::bit_length(a);
  if (la > 24) {
    a = detail::shift_round_even(a, la - 24);
    e += la - 24;
  }
  // (2) the float32 product: exact 64-bit product, then rounded to the float32 quantum of its
  // magnitude, 2^(E-23) for a value in [2^E, 2^(E+1)), but never finer than 2^-149 (subnormals).
  std::uint64_t p = a * ms;  // < 2^25 * 2^24
  const int top = detail::bit_length(p) - 1 + e;  // E, the value's binary exponent
  const int quantum = top - 23 > -149 ? top - 23 : -149;
  if (quantum > e) {
    p = detail::shift_round_even(p, quantum - e);
    e = quantum;
  }
  if (p == 0) return 0;                                      // underflow to (signed) zero
  if (detail::bit_length(p) - 1 + e > 127) return negative ? -limit : limit;  // float32 overflow: inf
  // (3) round the float32 value p * 2^e to an integer, half to even.
  std::int64_t r;
  if (e >= 0) {
    r = detail::bit_length(p) + e > 41 ? limit : static_cast<std::int64_t>(p << e);
  } else {
    r = static_cast<std::int64_t>(detail::shift_round_even(p, -e));
  }
  if (r > limit) r = limit;
  return negative ? -r : r;
}

// requantize, add the output zero point and saturate to [lo, hi].
inline std::int32_t requantize_saturate(std::int32_t acc, const requant_params& rq, std::int32_t zero_point,
                                        std::int32_t lo, std::int32_t hi) noexcept {
  const std::int64_t v = requantize(acc, rq) + zero_point;
  return v < lo ? lo : v > hi ? hi : static_cast<std::int32_t>(v);
}

}  // namespace kiln
