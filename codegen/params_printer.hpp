// Prints runtime params structs as C++ aggregate initializers for the generated header.
// A struct becomes printable with one KILN_PARAMS line naming its members in declaration order.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>

#include <fmt/format.h>

namespace kiln::cg {

template <class P> struct params_traits;  // specialised by KILN_PARAMS

#define KILN_PARAMS(Type, ...)                                                       \
  template <> struct params_traits<Type> {                                          \
    static constexpr const char* name = #Type;                                      \
    static auto tie(const Type& p) { return std::tie(__VA_ARGS__); }                 \
  }

template <class P> std::string params_type_name() { return params_traits<P>::name; }

template <class T, class = void> struct has_params_traits : std::false_type {};
template <class T> struct has_params_traits<T, std::void_t<decltype(params_traits<T>::name)>> : std::true_type {};

// Floats print as the shortest decimal that round-trips, so headers are exact and stable.
inline std::string print_float(double v, bool single) {
  if (std::isnan(v)) return single ? "__builtin_nanf(\"\")" : "__builtin_nan(\"\")";
  if (std::isinf(v)) return std::string(v < 0 ? "-" : "") + (single ? "__builtin_inff()" : "__builtin_inf()");
  if (single) {
    std::string s = fmt::format("{}", static_cast<float>(v));
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s + "f";
  }
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

template <class T> std::string print_value(const T& v);

template <class T> bool is_zero(const T& v) {
  if constexpr (std::is_array_v<T>) {
    for (const auto& e : v)
      if (!is_zero(e)) return false;
    return true;
  } else if constexpr (std::is_floating_point_v<T>) {
    return v == T{} && !std::signbit(v);  // -0.0 must still be printed
  } else if constexpr (std::is_arithmetic_v<T> || std::is_enum_v<T>) {
    return v == T{};
  } else {
    return false;
  }
}

template <class T, std::size_t N> std::string print_array(const T (&a)[N]) {
  std::size_t used = N;  // trailing zeros are implied by aggregate initialization
  while (used > 0 && is_zero(a[used - 1])) --used;
  std::string s = "{";
  for (std::size_t i = 0; i < used; ++i) s += (i ? ", " : "") + print_value(a[i]);
  return s + "}";
}

template <class T> std::string print_value(const T& v) {
  if constexpr (std::is_array_v<T>) {
    return print_array(v);
  } else if constexpr (has_params_traits<T>::value) {
    std::string s = "{";
    bool first = true;
    std::apply([&](const auto&... m) { ((s += (first ? "" : ", ") + print_value(m), first = false), ...); },
               params_traits<T>::tie(v));
    return s + "}";
  } else if constexpr (std::is_enum_v<T>) {
    return enum_literal(v);
  } else if constexpr (std::is_same_v<T, bool>) {
    return v ? "true" : "false";
  } else if constexpr (std::is_same_v<T, float>) {
    return print_float(v, true);
  } else if constexpr (std::is_same_v<T, double>) {
    return print_float(v, false);
  } else if constexpr (std::is_same_v<T, std::int64_t>) {
    // INT64_MIN has no literal form; everything else prints as a suffixed literal.
    return v == INT64_MIN ? "(-9223372036854775807LL - 1)" : fmt::format("{}LL", v);
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    return fmt::format("{}ULL", v);
  } else if constexpr (std::is_same_v<T, std::int32_t>) {
    return v == INT32_MIN ? "(-2147483647 - 1)" : fmt::format("{}", v);
  } else {
    return fmt::format("{}", v);
  }
}

template <class P> std::string print_params(const P& p) { return print_value(p); }

}  // namespace kiln::cg
