// Global average pooling: float from a channel-blocked tensor (packed/layout.hpp), a block's 16
// channels summed side by side, position after position, in vectors the compiler makes (the
// output, one value per channel, is the same in either layout); int8 from a planar one, each
// channel's plane summed by the architecture's row sum, or from a blocked one as the float.
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

// kiln::qlinear_global_average_pool with each planar channel summed by arch::active::sum_row and
// 16 channels' sums requantized by arch::active::requantize_row: the same int32 sums and the same
// rounding, so the same outputs, where the integer-only requantization of one sum took longer
// than summing a small plane. A channels-last input takes the reference loop.
template <class T>
inline void qlinear_global_average_pool(const qlinear_gap_params& p, const T* x, T* y) noexcept {
  if (p.channels_last) {
    kiln::qlinear_global_average_pool(p, x, y);
    return;
  }
  constexpr index_t chunk = 16;
  const requant_params rq{p.rq_mantissa, p.rq_exponent};
  const float scale = requant_scale(rq);
  const index_t channels = p.batch * p.channels;
  for (index_t c0 = 0; c0 < channels; c0 += chunk) {
    const index_t count = channels - c0 < chunk ? channels - c0 : chunk;
    std::int32_t acc[chunk];
    for (index_t c = 0; c < count; ++c) acc[c] = p.bias + arch::active::sum_row(x + (c0 + c) * p.image, p.image);
    arch::active::requantize_row(acc, count, scale, rq, p.y_zp, y + c0);
  }
}

// kiln::qlinear_global_average_pool from a channel-blocked input (p.channels in whole blocks): a
// block's 16 int32 sums side by side, position after position, then requantized as one row.
template <class T>
inline void qlinear_global_average_pool_blocked(const qlinear_gap_params& p, const T* x, T* y) noexcept {
  constexpr index_t L = channel_block;
  const requant_params rq{p.rq_mantissa, p.rq_exponent};
  const float scale = requant_scale(rq);
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t c0 = 0; c0 < p.channels; c0 += L) {
      const T* xb = x + (n * p.channels + c0) * p.image;
      std::int32_t sum[L];
      for (index_t l = 0; l < L; ++l) sum[l] = p.bias;
      for (index_t pos = 0; pos < p.image; ++pos)
        for (index_t l = 0; l < L; ++l) sum[l] += xb[pos * L + l];
      arch::active::requantize_row(sum, L, scale, rq, p.y_zp, y + n * p.channels + c0);
    }
}

}  // namespace kiln::packed
