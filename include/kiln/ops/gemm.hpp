// Matrix products: ONNX Gemm (2-D, transposes, alpha/beta, broadcast C) and MatMul (batched, broadcast).
#pragma once

#include "../core/activation.hpp"
#include "../core/shape.hpp"

namespace kiln {

struct gemm_params {
  index_t m, n, k;
  bool trans_a;
  bool trans_b;
  double alpha;
  double beta;
  index_t c_stride_m;  // C broadcast: 0 along broadcast axes
  index_t c_stride_n;
  activation act;
};

// Y = act(alpha * op(A) * op(B) + beta * C)
template <class T>
inline void gemm(const gemm_params& p, const T* a, const T* b, const T* c, T* y) noexcept {
  const index_t a_row = p.trans_a ? 1 : p.k, a_col = p.trans_a ? p.m : 1;  // strides of op(A)[i][kk]
  const index_t b_row = p.trans_b ? 1 : p.n, b_col = p.trans_b ? p.k : 1;  // strides of op(B)[kk][j]
  const T alpha = T(p.alpha), beta = T(p.beta);
  for (index_t i = 0; i < p.m; ++i) {
    T* yr = y + i * p.n;
    for (index_t j = 0; j < p.n; ++j) yr[j] = T(0);
    for (index_t kk = 0; kk < p.k; ++kk) {
      const T av = a[i * a_row + kk * a_col];
      const T* br = b + kk * b_row;
      for (index_t j = 0; j < p.n; ++j) yr[j] += av * br[j * b_col];
    }
    for (index_t j = 0; j < p.n; ++j) {
      T v = alpha * yr[j];
      if (c) v += beta * c[i * p.c_stride_m + j * p.c_stride_n];
      yr[j] = activate(p.act, v);
    }
  }
}

struct matmul_params {
  index_t m, n, k;
  index_t batch_rank;
  index_t batch_count;
  index_t batch_dims[max_rank];
  index_t batch_strides[2][max_rank];  // in elements, 0 along broadcast batch axes
};

template <class T>
inline void matmul(const matmul_params& p, const T* a, const T* b, T* y) noexcept {
  strided_walker<2> w{p.batch_rank, p.batch_dims, p.batch_strides};
  for (index_t bi = 0; bi < p.batch_count; ++bi, w.next()) {
    const T* ab = a + w.offset[0];
    const T* bb = b + w.offset[1];
    T* yb = y + bi * p.m * p.n;
    for (index_t i = 0; i < p.m; ++i) {
      T* yr = yb + i * p.n;
      for (index_t j = 0; j < p.n; ++j) yr[j] = T(0);
      for (index_t kk = 0; kk < p.k; ++kk) {
        const T av = ab[i * p.k + kk];
        const T* br = bb + kk * p.n;
        for (index_t j = 0; j < p.n; ++j) yr[j] += av * br[j];
      }
    }
  }
}

}  // namespace kiln
