// Max, average and Lp pooling over up to three spatial axes; global pooling is a full-size window.
#pragma once

#include "../core/shape.hpp"
#include "../core/types.hpp"
#include "../core/window.hpp"

#include <cmath>
#include <cstdint>

namespace kiln {

enum class pool_kind : int { max = 0, average = 1, lp = 2 };

struct pool_params {
  pool_kind kind;
  index_t batch;
  index_t channels;
  index_t in[3];
  index_t out[3];
  index_t kernel[3];
  index_t stride[3];
  index_t dilation[3];
  index_t pad[3];      // before each axis
  index_t pad_end[3];  // after each axis (explicit padding only; ceil_mode overhang is never counted)
  bool count_include_pad;
  index_t p;           // Lp norm order
  bool column_major_indices;  // MaxPool storage_order=1: Indices count the first spatial axis fastest
};

// With `indices` non-null (MaxPool's second output), also stores each max's flat input index.
template <class T>
inline void pool_with_indices(const pool_params& p, const T* x, T* y, std::int64_t* indices) noexcept {
  const index_t in_plane = p.in[0] * p.in[1] * p.in[2];
  const index_t out_plane = p.out[0] * p.out[1] * p.out[2];
  for (index_t nc = 0; nc < p.batch * p.channels; ++nc) {
    const T* xp = x + nc * in_plane;
    for (index_t od = 0; od < p.out[0]; ++od)
      for (index_t oh = 0; oh < p.out[1]; ++oh)
        for (index_t ow = 0; ow < p.out[2]; ++ow) {
          const index_t o[3] = {od, oh, ow};
          double acc = p.kind == pool_kind::max ? -HUGE_VAL : 0.0;
          T best = T(0);
          bool any = false;
          index_t best_at = 0;
          index_t counted = 0;  // window positions inside the input
          index_t padded = 1;   // window positions inside input plus explicit pads
          for (int a = 0; a < 3; ++a) {
            index_t n = 0;
            for (index_t k = 0; k < p.kernel[a]; ++k) {
              const index_t i = o[a] * p.stride[a] - p.pad[a] + k * p.dilation[a];
              if (i < p.in[a] + p.pad_end[a]) ++n;
            }
            padded *= n;
          }
          for_each_window_tap(p, od, oh, ow, [&](index_t at, index_t) {
            const T v = xp[at];
            ++counted;
            if (p.kind == pool_kind::max) {
              if (!any || v > best) { best = v; best_at = at; any = true; }
            } else if (p.kind == pool_kind::average) {
              acc += static_cast<double>(v);
            } else {
              acc += std::pow(std::fabs(static_cast<double>(v)), static_cast<double>(p.p));
            }
          });
          T* out = y + nc * out_plane + (od * p.out[1] + oh) * p.out[2] + ow;
          if (p.kind == pool_kind::max) {
            *out = best;
            if (indices) {
              index_t at = best_at;
              if (p.column_major_indices) {  // (d, h, w) -> d + D * (h + H * w)
                const index_t iw = at % p.in[2], ih = (at / p.in[2]) % p.in[1], id = at / (p.in[1] * p.in[2]);
                at = id + p.in[0] * (ih + p.in[1] * iw);
              }
              indices[out - y] = static_cast<std::int64_t>(nc * in_plane + at);
            }
          } else if (p.kind == pool_kind::average) {
            const index_t div = p.count_include_pad ? padded : counted;
            *out = static_cast<T>(div > 0 ? acc / div : 0.0);
          } else {
            *out = static_cast<T>(std::pow(acc, 1.0 / static_cast<double>(p.p)));
          }
        }
  }
}

namespace detail {
// Whether the one window covers each plane exactly (global pooling, or a kernel of the input's
// size without padding).
constexpr bool pool_window_is_plane(const pool_params& p) noexcept {
  for (int a = 0; a < 3; ++a)
    if (p.out[a] != 1 || p.kernel[a] != p.in[a] || p.pad[a] != 0 || p.pad_end[a] != 0 ||
        (p.in[a] > 1 && p.dilation[a] != 1))
      return false;
  return true;
}

// Max or average of each whole plane: a flat loop, where the window walk costs a callback per
// element (DS-CNN's 25x5 average pool: 5.5 us of a 125 us model). The average sums in 16
// partial sums of T (one vector of floats, the tail too), flushed into a double every 1024
// elements: each partial adds at most 64 terms in T, and the double sum keeps a large plane as
// exact as the window walk's. (Double partials throughout took DS-CNN's pool 2.5 us.)
template <class T> inline void pool_planes(const pool_params& p, const T* x, T* y) noexcept {
  const index_t n = p.in[0] * p.in[1] * p.in[2];
  constexpr index_t lanes = 16, flush = 1024;
  for (index_t nc = 0; nc < p.batch * p.channels; ++nc, x += n) {
    if (p.kind == pool_kind::max) {
      T best = x[0];
      for (index_t i = 1; i < n; ++i) best = x[i] > best ? x[i] : best;
      y[nc] = best;
      continue;
    }
    double sum = 0;
    for (index_t b = 0; b < n; b += flush) {
      const index_t e = n - b < flush ? n : b + flush;
      T part[lanes] = {};
      index_t i = b;
      for (; i + lanes <= e; i += lanes)
        for (index_t k = 0; k < lanes; ++k) part[k] += x[i + k];
      // The tail apart: adding it into part[k] at a variable k stalls on the vector just stored
      // (store forwarding), which cost more than the double partials saved. arm-none-eabi-g++ 12
      // at -O2 warns of an iteration 2^30 on 8x8 planes, where the tail loop never runs.
      KILN_BEGIN_IGNORE_DEAD_PATH_BOUNDS
      for (; i < e; ++i) sum += static_cast<double>(x[i]);
      KILN_END_IGNORE_DEAD_PATH_BOUNDS
      for (index_t k = 0; k < lanes; ++k) sum += static_cast<double>(part[k]);
    }
    y[nc] = static_cast<T>(sum / static_cast<double>(n));
  }
}

// out[j] = tap[j * stride] (the row's first tap) or the larger of the two; Stride 0: not known here.
template <index_t Stride, class T>
inline void max_pool_pass(const T* tap, T* out, index_t n, index_t stride, bool first) noexcept {
  const index_t s = Stride != 0 ? Stride : stride;
  if (first)
    for (index_t j = 0; j < n; ++j) out[j] = tap[j * s];
  else
    for (index_t j = 0; j < n; ++j) out[j] = tap[j * s] > out[j] ? tap[j * s] : out[j];
}

// out[j] folded with the KW taps tap[j * stride + kw * dilation], in order, as one pass: the
// same comparisons as KW passes, with out read and written once (ResNet-18's 3x3 stride-2 pool
// on 64x112x112: int8 121 -> 83 us, float 199 -> 113 us).
template <index_t KW, index_t Stride, class T>
inline void max_pool_row_taps(const T* tap, T* out, index_t n, index_t stride, index_t dilation, bool first) noexcept {
  const index_t s = Stride != 0 ? Stride : stride;
  for (index_t j = 0; j < n; ++j) {
    const T* t = tap + j * s;
    T m = first ? t[0] : (t[0] > out[j] ? t[0] : out[j]);
    KILN_UNROLL for (index_t kw = 1; kw < KW; ++kw) m = t[kw * dilation] > m ? t[kw * dilation] : m;
    out[j] = m;
  }
}

// Max pooling one output row at a time, the row being the accumulator. The columns whose windows
// lie wholly inside the input take each kernel row's taps as a pass over the row, a loop the
// compiler vectorizes (all of the row's taps in one pass where the width and stride are the usual
// ones, max_pool_row_taps; else a pass per tap); the few border columns walk their clipped windows. Each output sees its taps in the
// window walk's order with the same comparison, so results are identical to it, NaNs and signed
// zeros included. (ResNet-18's 3x3 stride-2 pool on 64x112x112 bytes: 1.8 ms by the window walk.)
template <class T> inline void max_pool_rows(const pool_params& p, const T* x, T* y) noexcept {
  const index_t in_w = p.in[2], out_w = p.out[2];
  const index_t sw = p.stride[2], dw = p.dilation[2], kw_n = p.kernel[2];
  // Interior columns: ow * sw - pad >= 0 and ow * sw - pad + (kw_n - 1) * dw < in_w.
  index_t lo = (p.pad[2] + sw - 1) / sw;
  index_t hi = in_w - 1 - (kw_n - 1) * dw + p.pad[2] < 0 ? 0 : (in_w - 1 - (kw_n - 1) * dw + p.pad[2]) / sw + 1;
  if (hi > out_w) hi = out_w;
  if (lo > hi) lo = hi;
  const index_t in_plane = p.in[0] * p.in[1] * in_w;
  for (index_t nc = 0; nc < p.batch * p.channels; ++nc) {
    const T* xp = x + nc * in_plane;
    for (index_t od = 0; od < p.out[0]; ++od)
      for (index_t oh = 0; oh < p.out[1]; ++oh) {
        T* row = y + ((nc * p.out[0] + od) * p.out[1] + oh) * out_w;
        bool first = true;
        for (index_t kd = 0; kd < p.kernel[0] && lo < hi; ++kd) {  // no interior columns: borders only
          const index_t id = od * p.stride[0] - p.pad[0] + kd * p.dilation[0];
          if (id < 0 || id >= p.in[0]) continue;
          for (index_t kh = 0; kh < p.kernel[1]; ++kh) {
            const index_t ih = oh * p.stride[1] - p.pad[1] + kh * p.dilation[1];
            if (ih < 0 || ih >= p.in[1]) continue;
            // The first interior column's taps, never left of the row: lo * sw >= pad.
            const T* in_row = xp + (id * p.in[1] + ih) * in_w + (lo * sw - p.pad[2]);
            T* out = row + lo;
            // The usual strides and widths as constants: the compiler vectorizes those far better.
            if (kw_n == 3 && sw == 2) max_pool_row_taps<3, 2>(in_row, out, hi - lo, 2, dw, first);
            else if (kw_n == 3 && sw == 1) max_pool_row_taps<3, 1>(in_row, out, hi - lo, 1, dw, first);
            else if (kw_n == 2 && sw == 2) max_pool_row_taps<2, 2>(in_row, out, hi - lo, 2, dw, first);
            else
              for (index_t kw = 0; kw < kw_n; ++kw, first = false) {
                const T* tap = in_row + kw * dw;
                if (sw == 1) max_pool_pass<1>(tap, out, hi - lo, 1, first);
                else if (sw == 2) max_pool_pass<2>(tap, out, hi - lo, 2, first);
                else max_pool_pass<0>(tap, out, hi - lo, sw, first);
              }
            first = false;
          }
        }
        if (first)  // every window of the row lies in the padding: the window walk's zero
          for (index_t ow = lo; ow < hi; ++ow) row[ow] = T(0);
        const auto border = [&](index_t ow) {
          bool any = false;
          T best = T(0);
          for_each_window_tap(p, od, oh, ow, [&](index_t at, index_t) {
            if (!any || xp[at] > best) best = xp[at];
            any = true;
          });
          row[ow] = best;
        };
        for (index_t ow = 0; ow < lo; ++ow) border(ow);
        for (index_t ow = hi; ow < out_w; ++ow) border(ow);
      }
  }
}
}  // namespace detail

template <class T>
inline void pool(const pool_params& p, const T* x, T* y) noexcept {
  if (p.kind != pool_kind::lp && detail::pool_window_is_plane(p)) return detail::pool_planes(p, x, y);
  if (p.kind == pool_kind::max) return detail::max_pool_rows(p, x, y);
  pool_with_indices<T>(p, x, y, nullptr);
}

}  // namespace kiln
