// arch/generic/rows.hpp in xsimd vectors; the last n % size elements by the portable loops.
// quantize_row is in tiles.hpp, beside the requantization blocks whose vector types it shares.
#pragma once

#include "../generic/rows.hpp"

#include <xsimd/xsimd.hpp>

#include <cstdint>
#include <type_traits>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

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

// sum_row (see generic) by vpsadbw against zero, eight bytes into each 64-bit lane; int8 x as
// x ^ 0x80 = x + 128, the 128s taken off at the end. Left to the compiler, the remainder of a
// row past its last whole vector ran as scalar adds: a 125-byte row, DS-CNN int8's pool, cost
// 9x the vector sums.
template <class T> inline std::int32_t sum_row(const T* x, index_t n) noexcept {
  static_assert(sizeof(T) == 1, "8-bit rows");
  constexpr std::int64_t offset = std::is_signed_v<T> ? 128 : 0;
  [[maybe_unused]] const auto* b = reinterpret_cast<const std::uint8_t*>(x);
  index_t i = 0;
  std::int64_t sum = 0;
#if defined(__AVX512BW__) && defined(__BMI2__)
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(offset)), zero = _mm512_setzero_si512();
  __m512i acc = zero;
  for (; i + 64 <= n; i += 64)
    acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_xor_si512(_mm512_loadu_si512(b + i), flip), zero));
  if (i < n) {  // the rest under a mask, its lanes past n zero after the flip too
    const __mmask64 m = _bzhi_u64(~0ull, static_cast<unsigned>(n - i));
    const __m512i v = _mm512_maskz_mov_epi8(m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, b + i), flip));
    acc = _mm512_add_epi64(acc, _mm512_sad_epu8(v, zero));
    i = n;
  }
  // Halved by masked extracts: GCC 12's _mm512_reduce_add_epi64 and _mm512_castsi512_si256 pass
  // an undefined vector to theirs and warn of it (-Wmaybe-uninitialized).
  const __m256i half = _mm256_add_epi64(_mm512_maskz_extracti64x4_epi64(0xf, acc, 0),
                                        _mm512_maskz_extracti64x4_epi64(0xf, acc, 1));
  const __m128i quarter = _mm_add_epi64(_mm256_castsi256_si128(half), _mm256_maskz_extracti64x2_epi64(0x3, half, 1));
  sum = _mm_cvtsi128_si64(quarter) + _mm_extract_epi64(quarter, 1);
#elif defined(__AVX2__) && defined(__x86_64__)
  const __m256i flip = _mm256_set1_epi8(static_cast<char>(offset)), zero = _mm256_setzero_si256();
  __m256i acc = zero;
  for (; i + 32 <= n; i += 32)
    acc = _mm256_add_epi64(
        acc, _mm256_sad_epu8(_mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + i)), flip), zero));
  alignas(32) std::int64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc);
  sum = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_sad_epu8(_mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + i)),
                                                 _mm256_castsi256_si128(flip)),
                                   _mm_setzero_si128());
    sum += _mm_cvtsi128_si64(v) + _mm_extract_epi64(v, 1);
  }
#endif
  sum -= offset * i;
  return static_cast<std::int32_t>(sum) + generic::sum_row(x + i, n - i);
}

}  // namespace kiln::arch::simd
