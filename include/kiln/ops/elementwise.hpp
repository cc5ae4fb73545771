// Elementwise kernels: unary maps and binary ops with numpy-style broadcasting.
// The operation is a functor type parameter, so one kernel template serves every op and dtype.
#pragma once

#include "../core/shape.hpp"

#include <cmath>
#include <cstdint>

namespace kiln {

struct unary_params {
  index_t count;
  double alpha;  // op-specific constants (Clip bounds, LeakyRelu slope, Elu alpha, ...)
  double beta;
  double gamma;
};

// Walks `count` elements; each functor is built once from params so constants hoist out of the loop.
template <class Op, class T, class U = T>
inline void unary(const unary_params& p, const T* x, U* y) noexcept {
  const Op op(p);
  for (index_t i = 0; i < p.count; ++i) y[i] = op(x[i]);
}

struct binary_params {
  index_t rank;              // of the output; 0 when both operands are scalars
  index_t count;             // output elements
  index_t dims[max_rank];    // output shape
  index_t strides[2][max_rank];  // per operand; 0 along broadcast axes
  index_t a_count;           // elements of a and b, to pick the fast paths
  index_t b_count;
};

template <class Op, class T, class U = T>
inline void binary(const binary_params& p, const T* a, const T* b, U* y) noexcept {
  const Op op{};
  if (p.a_count == p.count && p.b_count == p.count) {
    for (index_t i = 0; i < p.count; ++i) y[i] = op(a[i], b[i]);
  } else if (p.b_count == 1 && p.a_count == p.count) {
    const T s = b[0];
    for (index_t i = 0; i < p.count; ++i) y[i] = op(a[i], s);
  } else if (p.a_count == 1 && p.b_count == p.count) {
    const T s = a[0];
    for (index_t i = 0; i < p.count; ++i) y[i] = op(s, b[i]);
  } else {
    strided_walker<2> w{p.rank, p.dims, p.strides};
    for (index_t i = 0; i < p.count; ++i, w.next()) y[i] = op(a[w.offset[0]], b[w.offset[1]]);
  }
}

// Where(cond, a, b): a ternary with the same broadcasting rules.
struct where_params {
  index_t rank;
  index_t count;
  index_t dims[max_rank];
  index_t strides[3][max_rank];
};

template <class T>
inline void where(const where_params& p, const bool* c, const T* a, const T* b, T* y) noexcept {
  strided_walker<3> w{p.rank, p.dims, p.strides};
  for (index_t i = 0; i < p.count; ++i, w.next()) y[i] = c[w.offset[0]] ? a[w.offset[1]] : b[w.offset[2]];
}

template <class T>
inline void copy(const unary_params& p, const T* x, T* y) noexcept {
  for (index_t i = 0; i < p.count; ++i) y[i] = x[i];
}

}  // namespace kiln
