// Global average pooling: float from a channel-blocked tensor (packed/layout.hpp), a block's 16
// channels summed side by side, position after position, in vectors the compiler makes (the
// output, one value per channel, is the same in either layout); int8 from a planar one, each
// channel's plane summed by the architecture's row sum.
#pragma once

#include "../arch/dispatch.hpp"
#include "../core/requantize.hpp"
#include "../ops/pool.hpp"
#include "../ops/qlinear.hpp"
#include "layout.hpp"

namespace kiln::packed {

// y[n][c] = mean over the input positions of x(n, c, pos), x blocked; the window is the whole
// input (GlobalAveragePool, or an AveragePool whose kernel covers it without padding). As in
// kiln::pool, float partial sums of at most 64 terms go into a double, so large planes stay as
// exact as the reference's.
inline void global_average_pool_blocked(const pool_params& p, const float* x, float* y) noexcept {
  constexpr index_t L = channel_block, flush = 64;
  const index_t positions = p.in[0] * p.in[1] * p.in[2];
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t c0 = 0; c0 < p.channels; c0 += L) {
      const float* xb = x + (n * p.channels + c0) * positions;
      double sum[L] = {};
      for (index_t b = 0; b < positions; b += flush) {
        const index_t e = positions - b < flush ? positions : b + flush;
        float part[L] = {};
        for (index_t pos = b; pos < e; ++pos)
          for (index_t l = 0; l < L; ++l) part[l] += xb[pos * L + l];
        for (index_t l = 0; l < L; ++l) sum[l] += static_cast<double>(part[l]);
      }
      for (index_t l = 0; l < L; ++l)
        y[n * p.channels + c0 + l] = static_cast<float>(sum[l] / static_cast<double>(positions));
    }
}

// kiln::qlinear_global_average_pool with each planar channel summed by arch::active::sum_row: the
// same int32 sums, so the same outputs. A channels-last input takes the reference loop.
template <class T>
inline void qlinear_global_average_pool(const qlinear_gap_params& p, const T* x, T* y) noexcept {
  if (p.channels_last) {
    kiln::qlinear_global_average_pool(p, x, y);
    return;
  }
  const requant_params rq{p.rq_mantissa, p.rq_exponent};
  for (index_t c = 0; c < p.batch * p.channels; ++c) {
    const std::int32_t acc = p.bias + arch::active::sum_row(x + c * p.image, p.image);
    y[c] = static_cast<T>(requantize_saturate(acc, rq, p.y_zp, kiln::detail::qmin<T>(), kiln::detail::qmax<T>()));
  }
}

}  // namespace kiln::packed
