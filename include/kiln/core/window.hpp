// Walking the taps of one sliding window (pooling, direct convolution) over up to three spatial axes.
#pragma once

#include "shape.hpp"

namespace kiln {

// The steps q < n of a strided walk whose element first + q * s (s > 0) lies in [0, width):
// [lo, hi), empty (lo == hi) when none does. A padded row's columns inside the input row, a
// band's rows inside the input plane.
struct index_span {
  index_t lo, hi;
};
constexpr index_span inside_span(index_t first, index_t s, index_t width, index_t n) noexcept {
  const index_t lo = first >= 0 ? 0 : (s - 1 - first) / s;
  index_t hi = first >= width ? 0 : (width - first + s - 1) / s;
  hi = hi < n ? hi : n;
  return {lo < hi ? lo : hi, hi};
}

// Calls f(input_offset, tap) for every tap of the window at output position (od, oh, ow) that falls
// inside the input; padding taps are skipped. `input_offset` is within one D*H*W plane, `tap` is
// the tap's index in the kernel. P is any params struct with in, kernel, stride, pad, dilation.
template <class P, class F>
inline void for_each_window_tap(const P& p, index_t od, index_t oh, index_t ow, F&& f) noexcept {
  for (index_t kd = 0; kd < p.kernel[0]; ++kd) {
    const index_t id = od * p.stride[0] - p.pad[0] + kd * p.dilation[0];
    if (id < 0 || id >= p.in[0]) continue;
    for (index_t kh = 0; kh < p.kernel[1]; ++kh) {
      const index_t ih = oh * p.stride[1] - p.pad[1] + kh * p.dilation[1];
      if (ih < 0 || ih >= p.in[1]) continue;
      for (index_t kw = 0; kw < p.kernel[2]; ++kw) {
        const index_t iw = ow * p.stride[2] - p.pad[2] + kw * p.dilation[2];
        if (iw < 0 || iw >= p.in[2]) continue;
        f((id * p.in[1] + ih) * p.in[2] + iw, (kd * p.kernel[1] + kh) * p.kernel[2] + kw);
      }
    }
  }
}

}  // namespace kiln
