// Fused activations for the packed kernels' output loops. `activate` switches on the kind per
// element, which keeps those loops scalar; calling the loop once per kind with a small functor
// lets the common ones (none, relu, clip) run in vectors: each takes a float or a vector of
// floats (arch::active::store_row's), with the float comparisons' results, NaN passed through.
#pragma once

#include "../arch/dispatch.hpp"
#include "../core/activation.hpp"
#include "../core/shape.hpp"

namespace kiln::packed::detail {

// c ? a : b on floats; on vectors the call finds the vector library's select by argument-dependent
// lookup (xsimd::select).
inline float select(bool c, float a, float b) noexcept { return c ? a : b; }

struct act_none {
  template <class V> V operator()(V v) const noexcept { return v; }
};
struct act_relu {
  template <class V> V operator()(V v) const noexcept { return select(v < V(0.f), V(0.f), v); }
};
struct act_clip {
  float lo, hi;
  template <class V> V operator()(V v) const noexcept { return select(v < V(lo), V(lo), select(v > V(hi), V(hi), v)); }
};
struct act_any {
  activation a;
  float operator()(float v) const noexcept { return activate(a, v); }
};

// f(functor) with the functor that applies `a`.
template <class F> inline void with_activation(const activation& a, F&& f) noexcept {
  switch (a.kind) {
    case act_kind::none: f(act_none{}); break;
    case act_kind::relu: f(act_relu{}); break;
    case act_kind::clip: f(act_clip{a.alpha, a.beta}); break;
    default: f(act_any{a}); break;
  }
}

// A row of a tile's outputs: y[i] = act(c[i] + b), or where a Conv and the Add after it were
// fused (conv_residual) act((c[i] + b) + r[i]) with r read at y's own index, rounded as the
// separate Add would. Adding in the output loop saves the Add's pass over the whole tensor.
template <class Act>
inline void store_row(float* y, const float* r, const float* c, float b, index_t n, Act act) noexcept {
  arch::active::store_row(y, r, c, b, n, act);
}

}  // namespace kiln::packed::detail
