// Activations fused into the output stage of Conv, Gemm and friends.
#pragma once

#include <cmath>

namespace kiln {

enum class act_kind : int { none = 0, relu = 1, clip = 2, leaky_relu = 3, sigmoid = 4, hard_sigmoid = 5, tanh = 6 };

struct activation {
  act_kind kind;
  float alpha;  // clip: min; leaky_relu / hard_sigmoid: alpha
  float beta;   // clip: max; hard_sigmoid: beta
};

template <class T>
constexpr T activate(const activation& a, T v) noexcept {
  switch (a.kind) {
    case act_kind::none: return v;
    case act_kind::relu: return v < T(0) ? T(0) : v;
    case act_kind::clip: return v < T(a.alpha) ? T(a.alpha) : (v > T(a.beta) ? T(a.beta) : v);
    case act_kind::leaky_relu: return v < T(0) ? T(a.alpha) * v : v;
    case act_kind::sigmoid: return T(1) / (T(1) + std::exp(-v));
    case act_kind::hard_sigmoid: {
      const T h = T(a.alpha) * v + T(a.beta);
      return h < T(0) ? T(0) : (h > T(1) ? T(1) : h);
    }
    case act_kind::tanh: return std::tanh(v);
  }
  return v;
}

}  // namespace kiln
