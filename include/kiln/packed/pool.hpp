// Global average pooling of a channel-blocked tensor (packed/layout.hpp): a block's 16 channels
// are summed side by side, position after position, in vectors the compiler makes. The output,
// one value per channel, is the same in either layout.
#pragma once

#include "../ops/pool.hpp"
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

}  // namespace kiln::packed
