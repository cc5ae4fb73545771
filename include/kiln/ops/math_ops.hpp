// The functors plugged into kiln::unary and kiln::binary. Each names the ONNX operator it implements.
#pragma once

#include "elementwise.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace kiln::op {

// ---- binary
struct add { template <class T> constexpr T operator()(T a, T b) const noexcept { return T(a + b); } };
struct sub { template <class T> constexpr T operator()(T a, T b) const noexcept { return T(a - b); } };
struct mul { template <class T> constexpr T operator()(T a, T b) const noexcept { return T(a * b); } };
struct div {
  template <class T> constexpr T operator()(T a, T b) const noexcept {
    if constexpr (std::is_integral_v<T>) return b == T(0) ? T(0) : T(a / b);  // ONNX leaves it undefined
    else return a / b;
  }
};
struct pow {
  template <class T> T operator()(T a, T b) const noexcept {
    return static_cast<T>(std::pow(static_cast<double>(a), static_cast<double>(b)));
  }
};
struct max { template <class T> constexpr T operator()(T a, T b) const noexcept {
  if constexpr (std::is_floating_point_v<T>) { if (a != a) return a; if (b != b) return b; }
  return a < b ? b : a; } };
struct min { template <class T> constexpr T operator()(T a, T b) const noexcept {
  if constexpr (std::is_floating_point_v<T>) { if (a != a) return a; if (b != b) return b; }
  return b < a ? b : a; } };
struct mod {  // integer Mod follows the divisor's sign (Python), fmod=1 follows C
  template <class T> T operator()(T a, T b) const noexcept {
    if constexpr (std::is_integral_v<T>) {
      if (b == 0) return 0;
      T r = T(a % b);
      if (r != 0 && ((r < 0) != (b < 0))) r = T(r + b);
      return r;
    } else {
      return std::fmod(a, b);
    }
  }
};
struct fmod { template <class T> T operator()(T a, T b) const noexcept {
  if constexpr (std::is_integral_v<T>) return b == 0 ? T(0) : T(a % b); else return std::fmod(a, b); } };
struct prelu { template <class T> constexpr T operator()(T x, T slope) const noexcept { return x < T(0) ? T(slope * x) : x; } };
struct equal { template <class T> constexpr bool operator()(T a, T b) const noexcept { return a == b; } };
struct less { template <class T> constexpr bool operator()(T a, T b) const noexcept { return a < b; } };
struct less_equal { template <class T> constexpr bool operator()(T a, T b) const noexcept { return a <= b; } };
struct greater { template <class T> constexpr bool operator()(T a, T b) const noexcept { return a > b; } };
struct greater_equal { template <class T> constexpr bool operator()(T a, T b) const noexcept { return a >= b; } };
struct logical_and { constexpr bool operator()(bool a, bool b) const noexcept { return a && b; } };
struct logical_or { constexpr bool operator()(bool a, bool b) const noexcept { return a || b; } };
struct logical_xor { constexpr bool operator()(bool a, bool b) const noexcept { return a != b; } };
struct bit_and { template <class T> constexpr T operator()(T a, T b) const noexcept { return T(a & b); } };
struct bit_or { template <class T> constexpr T operator()(T a, T b) const noexcept { return T(a | b); } };
struct bit_xor { template <class T> constexpr T operator()(T a, T b) const noexcept { return T(a ^ b); } };

// ---- unary; each takes the params so constants are converted once, outside the loop
#define KILN_UNARY(NAME, EXPR)                                                   \
  struct NAME {                                                                  \
    explicit constexpr NAME(const unary_params&) noexcept {}                     \
    template <class T> T operator()(T x) const noexcept { return EXPR; }         \
  }

KILN_UNARY(identity, x);
KILN_UNARY(neg, T(-x));
KILN_UNARY(abs, x < T(0) ? T(-x) : x);
KILN_UNARY(relu, x < T(0) ? T(0) : x);
KILN_UNARY(sigmoid, T(1) / (T(1) + std::exp(-x)));
KILN_UNARY(tanh, std::tanh(x));
KILN_UNARY(exp, std::exp(x));
KILN_UNARY(log, std::log(x));
KILN_UNARY(sqrt, std::sqrt(x));
KILN_UNARY(erf, std::erf(x));
KILN_UNARY(reciprocal, T(1) / x);
KILN_UNARY(floor, std::floor(x));
KILN_UNARY(ceil, std::ceil(x));
KILN_UNARY(round, std::nearbyint(x));  // half to even under the default rounding mode
KILN_UNARY(sign, T(x > T(0) ? 1 : (x < T(0) ? -1 : 0)));
KILN_UNARY(softsign, x / (T(1) + std::fabs(x)));
KILN_UNARY(sin, std::sin(x));
KILN_UNARY(cos, std::cos(x));
KILN_UNARY(tan, std::tan(x));
KILN_UNARY(asin, std::asin(x));
KILN_UNARY(acos, std::acos(x));
KILN_UNARY(atan, std::atan(x));
KILN_UNARY(sinh, std::sinh(x));
KILN_UNARY(cosh, std::cosh(x));
KILN_UNARY(asinh, std::asinh(x));
KILN_UNARY(acosh, std::acosh(x));
KILN_UNARY(atanh, std::atanh(x));
KILN_UNARY(logical_not, !x);
KILN_UNARY(bit_not, T(~x));
KILN_UNARY(is_nan, x != x);
#undef KILN_UNARY

// Softplus: log(1 + e^x), computed without overflow for large x.
struct softplus {
  explicit constexpr softplus(const unary_params&) noexcept {}
  template <class T> T operator()(T x) const noexcept { return x > T(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
};

#define KILN_UNARY_P(NAME, INIT, EXPR)                                           \
  struct NAME {                                                                  \
    double a, b, c;                                                              \
    explicit constexpr NAME(const unary_params& p) noexcept : a(p.alpha), b(p.beta), c(p.gamma) { INIT; } \
    template <class T> T operator()(T x) const noexcept { return EXPR; }         \
  }

KILN_UNARY_P(leaky_relu, (void)b, x < T(0) ? T(T(a) * x) : x);
KILN_UNARY_P(elu, (void)b, x < T(0) ? T(T(a) * (std::exp(x) - T(1))) : x);
KILN_UNARY_P(selu, (void)b, x <= T(0) ? T(T(c) * (T(a) * std::exp(x) - T(a))) : T(T(c) * x));  // a=alpha, c=gamma
KILN_UNARY_P(celu, (void)b, (x > T(0) ? x : T(0)) + (x < T(0) ? T(T(a) * (std::exp(x / T(a)) - T(1))) : T(0)));
KILN_UNARY_P(thresholded_relu, (void)b, x > T(a) ? x : T(0));
KILN_UNARY_P(hard_sigmoid, (void)c,
             T(T(a) * x + T(b)) < T(0) ? T(0) : (T(T(a) * x + T(b)) > T(1) ? T(1) : T(T(a) * x + T(b))));
KILN_UNARY_P(hard_swish, (void)c,
             x * (T(x / T(6) + T(0.5)) < T(0) ? T(0) : (T(x / T(6) + T(0.5)) > T(1) ? T(1) : T(x / T(6) + T(0.5)))));
KILN_UNARY_P(shrink, (void)c, x < T(-a) ? T(x + T(b)) : (x > T(a) ? T(x - T(b)) : T(0)));  // a=lambd, b=bias
#undef KILN_UNARY_P

// Clip: bounds arrive as doubles; comparing in double would lose 64-bit integers, so each bound is
// converted to T, saturating at T's range (an int64 "no maximum" is 2^63 as a double).
struct clip {
  double a, b;
  explicit constexpr clip(const unary_params& p) noexcept : a(p.alpha), b(p.beta) {}
  template <class T> static constexpr T bound(double v) noexcept {
    if constexpr (std::is_integral_v<T>) {
      if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
      if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
    }
    return static_cast<T>(v);
  }
  template <class T> T operator()(T x) const noexcept {
    const T lo = bound<T>(a), hi = bound<T>(b);
    return x < lo ? lo : (x > hi ? hi : x);
  }
};

// Cast between element types; float to integer truncates toward zero like ONNX Runtime.
template <class To>
struct cast_to {
  explicit constexpr cast_to(const unary_params&) noexcept {}
  template <class T> constexpr To operator()(T x) const noexcept { return static_cast<To>(x); }
};

}  // namespace kiln::op
