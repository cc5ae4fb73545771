// Cortex-M DSP depthwise taps for int8 layers (packed/depthwise.hpp), on planes of int16 values
// (input minus zero point, |.| <= 255) with int32 accumulators. Two taps whose rows sit side by
// side in the plane (off[u] == off[t] + 1: horizontal neighbours at stride 1, kw and kw + 2 in one
// stride-2 phase) share one word load and one __smlad per output: two multiply-adds. A tap left
// over multiplies one halfword of a word that holds two consecutive outputs' inputs (__smlabb,
// __smlabt). Four outputs per step keep the weights and offsets loaded once per four.
//
// Without the DSP extension (host tests) the same code runs on a portable emulation of those
// instructions, so the pairing is tested on the host against generic::depthwise_taps.
#pragma once

#include "../generic/tiles.hpp"

#include <cstdint>
#include <cstring>
#include <type_traits>
#if defined(__ARM_FEATURE_DSP)
#include <arm_acle.h>
#endif

namespace kiln::arch::cortex_m {

// The element type of an int8 layer's padded planes: two per word, for __smlad.
using depthwise_int8_plane = std::int16_t;

namespace dsp {
inline std::int32_t load_pair(const std::int16_t* p) noexcept {
  std::int32_t v;
  std::memcpy(&v, p, 4);  // one LDR: unaligned word loads are allowed on M4 and later
  return v;
}
inline std::int32_t pack_pair(std::int16_t lo, std::int16_t hi) noexcept {
  const std::uint32_t v = static_cast<std::uint16_t>(lo) | (static_cast<std::uint32_t>(static_cast<std::uint16_t>(hi)) << 16);
  std::int32_t r;
  std::memcpy(&r, &v, 4);
  return r;
}
#if defined(__ARM_FEATURE_DSP)
inline std::int32_t smlad(std::int32_t a, std::int32_t b, std::int32_t acc) noexcept { return __smlad(a, b, acc); }
inline std::int32_t smlabb(std::int32_t a, std::int32_t b, std::int32_t acc) noexcept { return __smlabb(a, b, acc); }
inline std::int32_t smlabt(std::int32_t a, std::int32_t b, std::int32_t acc) noexcept { return __smlabt(a, b, acc); }
inline std::int32_t smlatb(std::int32_t a, std::int32_t b, std::int32_t acc) noexcept { return __smlatb(a, b, acc); }
inline std::int32_t smlatt(std::int32_t a, std::int32_t b, std::int32_t acc) noexcept { return __smlatt(a, b, acc); }
#else
inline std::int32_t lo(std::int32_t v) noexcept { return static_cast<std::int16_t>(static_cast<std::uint32_t>(v) & 0xffffu); }
inline std::int32_t hi(std::int32_t v) noexcept { return static_cast<std::int16_t>(static_cast<std::uint32_t>(v) >> 16); }
// The instructions wrap modulo 2^32; so does this (unsigned arithmetic, no overflow UB).
inline std::int32_t wrap_add(std::int32_t acc, std::int32_t a, std::int32_t b) noexcept {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(acc) + static_cast<std::uint32_t>(a) + static_cast<std::uint32_t>(b));
}
inline std::int32_t smlad(std::int32_t a, std::int32_t b, std::int32_t acc) noexcept {
  return wrap_add(acc, lo(a) * lo(b), hi(a) * hi(b));
}
inline std::int32_t smlabb(std::int32_t a, std::int32_t b, std::int32_t acc) noexcept { return wrap_add(acc, lo(a) * lo(b), 0); }
inline std::int32_t smlabt(std::int32_t a, std::int32_t b, std::int32_t acc) noexcept { return wrap_add(acc, lo(a) * hi(b), 0); }
inline std::int32_t smlatb(std::int32_t a, std::int32_t b, std::int32_t acc) noexcept { return wrap_add(acc, hi(a) * lo(b), 0); }
inline std::int32_t smlatt(std::int32_t a, std::int32_t b, std::int32_t acc) noexcept { return wrap_add(acc, hi(a) * hi(b), 0); }
#endif

// Outputs [i, i + J) of depthwise_taps: pairs then single taps, all J accumulators in registers.
// NP / NS >= 0 fix the numbers of pairs and singles at compile time (loops unrolled, weights
// kept in registers across steps); -1 takes them from pairs / singles.
template <index_t J, index_t NP, index_t NS>
inline void taps_step(index_t i, index_t pairs, const std::int32_t* pw, const index_t* po, index_t singles,
                      const std::int32_t* sw, const index_t* so, const std::int16_t* x, std::int32_t bias,
                      bool accumulate, std::int32_t* acc) noexcept {
  if constexpr (NP >= 0) pairs = NP;
  if constexpr (NS >= 0) singles = NS;
  std::int32_t a[J];
  KILN_UNROLL for (index_t j = 0; j < J; ++j) a[j] = accumulate ? acc[i + j] : bias;
  for (index_t p = 0; p < pairs; ++p) {
    const std::int16_t* xp = x + po[p] + i;
    KILN_UNROLL for (index_t j = 0; j < J; ++j) a[j] = smlad(pw[p], load_pair(xp + j), a[j]);
  }
  for (index_t s = 0; s < singles; ++s) {
    const std::int16_t* xs = x + so[s] + i;
    if constexpr (J == 1) {
      a[0] = smlabb(sw[s], *xs, a[0]);
    } else {
      KILN_UNROLL for (index_t j = 0; j < J; j += 2) {
        const std::int32_t v = load_pair(xs + j);  // outputs j and j + 1
        a[j] = smlabb(sw[s], v, a[j]);
        a[j + 1] = smlabt(sw[s], v, a[j + 1]);
      }
    }
  }
  KILN_UNROLL for (index_t j = 0; j < J; ++j) acc[i + j] = a[j];
}

// taps_step for kernels of three rows of three taps (3x3, the common case), each row a pair and a
// single whose word is a fixed distance D on: row r's pair at xr[r], its single at xr[r] + D. At
// stride 1 (D = 2, Adjacent) the singles' words are the pairs' words two outputs on, which the
// compiler loads once: five words a row for four outputs, where taps_step loads six. At stride 2
// the single is the middle column, in the other phase plane (D = its size). Each row's words sit
// at fixed distances from its pointer, and the single weights of rows 0 and 1 share a word
// (halves picked by __smlab* / __smlat*), so the four accumulators, the five weight words and
// the three row pointers fit the registers. On the M4: 50 instructions a step at stride 1 where
// taps_step<4, 3, 3> took 65 (spilled weights and offsets); DS-CNN int8's depthwise layers
// 323 k -> 245 k instructions each.
template <bool Top> inline void single_pair(std::int32_t w, std::int32_t v, std::int32_t& lo_out, std::int32_t& hi_out) noexcept {
  if constexpr (Top) {
    lo_out = smlatb(w, v, lo_out);
    hi_out = smlatt(w, v, hi_out);
  } else {
    lo_out = smlabb(w, v, lo_out);
    hi_out = smlabt(w, v, hi_out);
  }
}
template <bool Top, index_t J>
KILN_ALWAYS_INLINE inline void rows3_row(const std::int16_t* xr, const std::int16_t* xs, std::int32_t pw,
                                         std::int32_t sw, std::int32_t (&a)[J]) noexcept {
  KILN_UNROLL for (index_t j = 0; j < J; ++j) a[j] = smlad(pw, load_pair(xr + j), a[j]);
  if constexpr (J == 1) {
    a[0] = Top ? smlatb(sw, xs[0], a[0]) : smlabb(sw, xs[0], a[0]);
  } else {
    KILN_UNROLL for (index_t j = 0; j < J; j += 2) single_pair<Top>(sw, load_pair(xs + j), a[j], a[j + 1]);
  }
}
template <index_t J, bool Adjacent>
KILN_ALWAYS_INLINE inline void rows3_step(const std::int16_t* x0, const std::int16_t* x1, const std::int16_t* x2,
                                          index_t d, const std::int32_t (&pw)[3], std::int32_t sw01,
                                          std::int32_t sw2, std::int32_t bias, std::int32_t* acc) noexcept {
  if constexpr (Adjacent) d = 2;
  std::int32_t a[J];
  KILN_UNROLL for (index_t j = 0; j < J; ++j) a[j] = bias;
  rows3_row<false>(x0, x0 + d, pw[0], sw01, a);
  rows3_row<true>(x1, x1 + d, pw[1], sw01, a);
  rows3_row<false>(x2, x2 + d, pw[2], sw2, a);
  KILN_UNROLL for (index_t j = 0; j < J; ++j) acc[j] = a[j];
}

template <index_t NP, index_t NS>
inline void taps_sweep(index_t n, index_t pairs, const std::int32_t* pw, const index_t* po, index_t singles,
                       const std::int32_t* sw, const index_t* so, const std::int16_t* x, std::int32_t bias,
                       bool accumulate, std::int32_t* acc) noexcept {
  index_t i = 0;
  for (; i + 4 <= n; i += 4) taps_step<4, NP, NS>(i, pairs, pw, po, singles, sw, so, x, bias, accumulate, acc);
  for (; i < n; ++i) taps_step<1, NP, NS>(i, pairs, pw, po, singles, sw, so, x, bias, accumulate, acc);
}
}  // namespace dsp

// The int16 taps of a layer paired once (generic::depthwise_tap_plan for the rest): tap pair_lo[p]
// in the low halfword of pair p, at offset po[p], its neighbour pair_hi[p] in the high one; the
// taps left over single. The weights, which change per channel, are packed per call.
struct int16_tap_plan {
  index_t taps, pairs, singles;
  index_t po[generic::depthwise_max_taps / 2], so[generic::depthwise_max_taps];
  std::uint8_t pair_lo[generic::depthwise_max_taps / 2], pair_hi[generic::depthwise_max_taps / 2];
  std::uint8_t single[generic::depthwise_max_taps];
};

// Out of line: it runs once per layer, and inlined GCC cloned it, unrolled, per call site.
KILN_NOINLINE inline int16_tap_plan plan_int16_taps(index_t taps, const index_t* off) noexcept {
  int16_tap_plan plan{};
  plan.taps = taps;
  bool paired[generic::depthwise_max_taps] = {};
  for (index_t t = 0; t < taps; ++t) {
    if (paired[t]) continue;
    index_t u = t + 1;
    while (u < taps && (paired[u] || (off[u] != off[t] + 1 && off[u] + 1 != off[t]))) ++u;
    if (u == taps) {
      plan.single[plan.singles] = static_cast<std::uint8_t>(t);
      plan.so[plan.singles++] = off[t];
      continue;
    }
    paired[u] = true;
    const bool t_first = off[u] == off[t] + 1;  // the pair's low halfword is the lower address
    plan.pair_lo[plan.pairs] = static_cast<std::uint8_t>(t_first ? t : u);
    plan.pair_hi[plan.pairs] = static_cast<std::uint8_t>(t_first ? u : t);
    plan.po[plan.pairs++] = t_first ? off[t] : off[u];
  }
  return plan;
}

template <class A>
using depthwise_tap_plan = std::conditional_t<std::is_same_v<A, std::int16_t>, int16_tap_plan, generic::depthwise_tap_plan<A>>;
using generic::depthwise_max_taps;

// A layer's plan for depthwise_taps: the int16 taps paired, others as generic.
template <class A> inline depthwise_tap_plan<A> plan_depthwise_taps(index_t taps, const index_t* off) noexcept {
  if constexpr (std::is_same_v<A, std::int16_t>) return plan_int16_taps(taps, off);
  else return generic::plan_depthwise_taps<A>(taps, off);
}

namespace dsp {
// depthwise_taps below with NP pairs and NS singles (-1: as the plan says).
template <index_t NP, index_t NS>
inline void planned_taps(const int16_tap_plan& plan, index_t n, const std::int16_t* w, const std::int16_t* x,
                         std::int32_t bias, bool accumulate, std::int32_t* acc) noexcept {
  const index_t pairs = NP >= 0 ? NP : plan.pairs, singles = NS >= 0 ? NS : plan.singles;
  // The weights packed and the offsets copied to locals: the int32 accumulator stores could alias
  // the plan's int32 offsets behind a reference, and GCC reloaded them every step.
  std::int32_t pw[generic::depthwise_max_taps / 2], sw[generic::depthwise_max_taps];
  index_t po[generic::depthwise_max_taps / 2], so[generic::depthwise_max_taps];
  for (index_t p = 0; p < pairs; ++p) {
    pw[p] = pack_pair(w[plan.pair_lo[p]], w[plan.pair_hi[p]]);
    po[p] = plan.po[p];
  }
  for (index_t s = 0; s < singles; ++s) {
    sw[s] = w[plan.single[s]];
    so[s] = plan.so[s];
  }
  taps_sweep<NP, NS>(n, pairs, pw, po, singles, sw, so, x, bias, accumulate, acc);
}

// depthwise_taps below for the three rows of rows3_step, singles d = plan.so[r] - plan.po[r] on,
// the sums started at bias (a kernel's first group of taps: a 3x3 kernel's only one).
inline void rows3_taps(const int16_tap_plan& plan, index_t d, index_t n, const std::int16_t* w, const std::int16_t* x,
                       std::int32_t bias, std::int32_t* acc) noexcept {
  const std::int32_t pw[3] = {pack_pair(w[plan.pair_lo[0]], w[plan.pair_hi[0]]),
                              pack_pair(w[plan.pair_lo[1]], w[plan.pair_hi[1]]),
                              pack_pair(w[plan.pair_lo[2]], w[plan.pair_hi[2]])};
  const std::int32_t sw01 = pack_pair(w[plan.single[0]], w[plan.single[1]]), sw2 = w[plan.single[2]];
  auto sweep = [&](auto adjacent) {
    constexpr bool Adjacent = decltype(adjacent)::value;
    const std::int16_t *x0 = x + plan.po[0], *x1 = x + plan.po[1], *x2 = x + plan.po[2];
    std::int32_t* out = acc;
    std::int32_t* const end4 = acc + (n - n % 4);
    for (; out != end4; out += 4, x0 += 4, x1 += 4, x2 += 4)
      rows3_step<4, Adjacent>(x0, x1, x2, d, pw, sw01, sw2, bias, out);
    for (; out != acc + n; ++out, ++x0, ++x1, ++x2)
      rows3_step<1, Adjacent>(x0, x1, x2, d, pw, sw01, sw2, bias, out);
  };
  if (d == 2) sweep(std::true_type{});
  else sweep(std::false_type{});
}
}  // namespace dsp

// acc[i] = (accumulate ? acc[i] : bias) + sum over t < taps of w[t] * x[off[t] + i],  i < n, as
// generic::depthwise_taps, with the taps and offsets of plan. Reads no x element that one does not.
// Out of line: a call per channel costs a few instructions, and inlined into every constant-
// propagated copy of the depthwise kernel it made DS-CNN int8's firmware 7.8 KB larger.
KILN_NOINLINE inline void depthwise_taps(const int16_tap_plan& plan, index_t n, const std::int16_t* w,
                                         const std::int16_t* x, std::int32_t bias, bool accumulate,
                                         std::int32_t* acc) noexcept {
  // 3x3 kernels, the common case, pair into 3 pairs and 3 singles at stride 1 and at stride 2,
  // each single a fixed distance past its pair (rows3_taps; MobileNet int8's stride-2 layers
  // 7-10 % fewer instructions than by planned_taps); other 3 + 3 plans keep their weights packed
  // and sums unrolled at a count the compiler sees.
  if (plan.pairs == 3 && plan.singles == 3) {
    const index_t d = plan.so[0] - plan.po[0];
    if (!accumulate && plan.so[1] - plan.po[1] == d && plan.so[2] - plan.po[2] == d)
      dsp::rows3_taps(plan, d, n, w, x, bias, acc);
    else
      dsp::planned_taps<3, 3>(plan, n, w, x, bias, accumulate, acc);
  } else {
    dsp::planned_taps<-1, -1>(plan, n, w, x, bias, accumulate, acc);
  }
}

}  // namespace kiln::arch::cortex_m
