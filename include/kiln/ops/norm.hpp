// Normalizations: standardisation over a set of axes (InstanceNormalization, LayerNormalization,
// MeanVarianceNormalization) and LRN across channels.
#pragma once

#include "../core/shape.hpp"

#include <cmath>

namespace kiln {

// y = (x - mean) * inv_std * scale + bias, with mean and variance taken over the reduced axes.
// The axes are split as for reductions: a walk over the kept axes picks each group, a walk over
// the reduced axes visits its members. Operand 0 is x (and y, which has x's layout), 1 is scale
// and 2 is bias: their strides broadcast them (0 along axes they do not vary on).
struct normalize_params {
  double epsilon;
  bool eps_after_sqrt;  // inv_std = 1/(sqrt(var) + eps) (MeanVarianceNormalization) instead of 1/sqrt(var + eps)
  index_t out_count;    // groups = product of out_dims
  index_t out_rank;
  index_t out_dims[max_rank];
  index_t out_strides[3][max_rank];
  index_t red_count;    // elements per group
  index_t red_rank;
  index_t red_dims[max_rank];
  index_t red_strides[3][max_rank];
};

// scale and bias may be null (1 and 0); mean and inv_std, when not null, receive one value per group.
template <class T>
inline void normalize(const normalize_params& p, const T* x, const T* scale, const T* bias, T* y, T* mean,
                      T* inv_std) noexcept {
  strided_walker<3> ow{p.out_rank, p.out_dims, p.out_strides};
  const T n = T(p.red_count > 0 ? p.red_count : 1);
  for (index_t o = 0; o < p.out_count; ++o, ow.next()) {
    const T* xb = x + ow.offset[0];
    T s = T(0);
    {
      strided_walker<3> w{p.red_rank, p.red_dims, p.red_strides};
      for (index_t r = 0; r < p.red_count; ++r, w.next()) s += xb[w.offset[0]];
    }
    const T m = s / n;
    T v = T(0);
    {
      strided_walker<3> w{p.red_rank, p.red_dims, p.red_strides};
      for (index_t r = 0; r < p.red_count; ++r, w.next()) {
        const T d = xb[w.offset[0]] - m;
        v += d * d;
      }
    }
    v /= n;
    const T eps = static_cast<T>(p.epsilon);
    const T inv = p.eps_after_sqrt ? T(1) / (std::sqrt(v) + eps) : T(1) / std::sqrt(v + eps);
    if (mean) mean[o] = m;
    if (inv_std) inv_std[o] = inv;
    T* yb = y + ow.offset[0];
    const T* sb = scale ? scale + ow.offset[1] : nullptr;
    const T* bb = bias ? bias + ow.offset[2] : nullptr;
    strided_walker<3> w{p.red_rank, p.red_dims, p.red_strides};
    for (index_t r = 0; r < p.red_count; ++r, w.next()) {
      T t = (xb[w.offset[0]] - m) * inv;
      if (sb) t *= sb[w.offset[1]];
      if (bb) t += bb[w.offset[2]];
      yb[w.offset[0]] = t;
    }
  }
}

// Local response normalization across channels:
// y = x / (bias + alpha / size * sum_{c' near c} x[c']^2) ^ beta, the window spanning
// c - floor((size - 1) / 2) .. c + ceil((size - 1) / 2).
struct lrn_params {
  index_t batch;
  index_t channels;
  index_t inner;  // spatial elements per channel
  index_t size;
  double alpha;
  double beta;
  double bias;
};

template <class T>
inline void lrn(const lrn_params& p, const T* x, T* y) noexcept {
  const index_t before = (p.size - 1) / 2;
  const index_t after = p.size - 1 - before;
  const T scale = static_cast<T>(p.alpha / static_cast<double>(p.size));
  const T bias = static_cast<T>(p.bias), beta = static_cast<T>(p.beta);
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t c = 0; c < p.channels; ++c) {
      const index_t lo = c - before < 0 ? 0 : c - before;
      const index_t hi = c + after >= p.channels ? p.channels - 1 : c + after;
      const T* xn = x + n * p.channels * p.inner;
      T* yc = y + (n * p.channels + c) * p.inner;
      for (index_t i = 0; i < p.inner; ++i) {
        T sq = T(0);
        for (index_t k = lo; k <= hi; ++k) {
          const T v = xn[k * p.inner + i];
          sq += v * v;
        }
        yc[i] = xn[c * p.inner + i] / std::pow(bias + scale * sq, beta);
      }
    }
}

}  // namespace kiln
