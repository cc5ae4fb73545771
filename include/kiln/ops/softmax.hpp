// Softmax, LogSoftmax and Hardmax along one axis of a tensor viewed as [outer, axis, inner].
#pragma once

#include "../core/shape.hpp"

#include <cmath>

namespace kiln {

enum class softmax_kind : int { softmax = 0, log_softmax = 1, hardmax = 2 };

struct softmax_params {
  softmax_kind kind;
  index_t outer;
  index_t axis;  // length of the reduced axis
  index_t inner;
};

template <class T>
inline void softmax(const softmax_params& p, const T* x, T* y) noexcept {
  for (index_t o = 0; o < p.outer; ++o)
    for (index_t i = 0; i < p.inner; ++i) {
      const T* xp = x + o * p.axis * p.inner + i;
      T* yp = y + o * p.axis * p.inner + i;
      T mx = xp[0];
      index_t arg = 0;
      for (index_t a = 1; a < p.axis; ++a)
        if (xp[a * p.inner] > mx) { mx = xp[a * p.inner]; arg = a; }
      if (p.kind == softmax_kind::hardmax) {
        for (index_t a = 0; a < p.axis; ++a) yp[a * p.inner] = T(a == arg ? 1 : 0);
        continue;
      }
      T sum = T(0);
      for (index_t a = 0; a < p.axis; ++a) {
        const T e = std::exp(xp[a * p.inner] - mx);
        sum += e;
        if (p.kind == softmax_kind::softmax) yp[a * p.inner] = e;
      }
      if (p.kind == softmax_kind::softmax) {
        const T inv = T(1) / sum;
        for (index_t a = 0; a < p.axis; ++a) yp[a * p.inner] *= inv;
      } else {
        const T ls = std::log(sum);
        for (index_t a = 0; a < p.axis; ++a) yp[a * p.inner] = xp[a * p.inner] - mx - ls;
      }
    }
}

}  // namespace kiln
