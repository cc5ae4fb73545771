// arch/generic/rows.hpp in xsimd vectors; the last n % size elements by the portable loops.
// quantize_row is in tiles.hpp, beside the requantization blocks whose vector types it shares.
#pragma once

#include "../generic/rows.hpp"

#include <xsimd/xsimd.hpp>

#include <cstdint>
#include <type_traits>

namespace kiln::arch::simd {

namespace detail {
// Whether Act takes a vector of floats (act_any's kinds take floats only: generic loops).
template <class Act> inline constexpr bool vector_activation = std::is_invocable_v<Act, xsimd::batch<float>>;
}  // namespace detail

template <class Act>
inline void store_row(float* y, const float* r, const float* c, float b, index_t n, Act act) noexcept {
  using V = xsimd::batch<float>;
  constexpr index_t S = static_cast<index_t>(V::size);
  index_t i = 0;
  if constexpr (detail::vector_activation<Act>) {
    const V bv(b);
    if (r)
      for (; i + S <= n; i += S) V(act((V::load_unaligned(c + i) + bv) + V::load_unaligned(r + i))).store_unaligned(y + i);
    else
      for (; i + S <= n; i += S) V(act(V::load_unaligned(c + i) + bv)).store_unaligned(y + i);
  }
  generic::store_row(y + i, r ? r + i : nullptr, c + i, b, n - i, act);
}

template <class Act> inline void activate_row(float* y, const float* x, index_t n, Act act) noexcept {
  using V = xsimd::batch<float>;
  constexpr index_t S = static_cast<index_t>(V::size);
  index_t i = 0;
  if constexpr (detail::vector_activation<Act>)
    for (; i + S <= n; i += S) V(act(V::load_unaligned(x + i))).store_unaligned(y + i);
  generic::activate_row(y + i, x + i, n - i, act);
}

inline void add_column_term(std::int32_t* c, index_t n, std::int32_t offset, std::int32_t weight,
                            const std::int32_t* colsum) noexcept {
  using V = xsimd::batch<std::int32_t>;
  constexpr index_t S = static_cast<index_t>(V::size);
  const V o(offset), w(weight);
  index_t j = 0;
  for (; j + S <= n; j += S) (V::load_unaligned(c + j) + (o - w * V::load_unaligned(colsum + j))).store_unaligned(c + j);
  generic::add_column_term(c + j, n - j, offset, weight, colsum + j);
}

}  // namespace kiln::arch::simd
