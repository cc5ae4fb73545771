// Data-movement kernels: strided copies (Transpose, Slice, Expand, Tile, DepthToSpace, ...),
// block copies (Concat, Split), Pad, Gather, GatherElements, fills, Range, Resize and Trilu.
// Every kernel is one template over the element type; shapes and strides come from params.
#pragma once

#include "../core/shape.hpp"

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace kiln {

// y[i] = x[offset + sum over axes of counter[axis] * strides[0][axis]], walking the output
// row-major. Strides may be zero (broadcast) or negative (reversed slices).
struct strided_copy_params {
  index_t rank;
  index_t count;                 // output elements
  index_t dims[max_rank];        // output (view) shape
  index_t strides[1][max_rank];  // input element stride per output axis
  index_t offset;                // input element of the first output element
};

template <class T>
inline void strided_copy(const strided_copy_params& p, const T* x, T* y) noexcept {
  if (p.count <= 0) return;
  const T* base = x + p.offset;
  if (p.rank == 0) {
    y[0] = base[0];
    return;
  }
  const index_t inner = p.dims[p.rank - 1];
  const index_t step = p.strides[0][p.rank - 1];
  strided_walker<1> w{p.rank - 1, p.dims, p.strides};
  for (index_t i = 0; i < p.count; i += inner, w.next()) {
    const T* src = base + w.offset[0];
    T* dst = y + i;
    if (step == 1) {
      for (index_t j = 0; j < inner; ++j) dst[j] = src[j];
    } else {
      for (index_t j = 0; j < inner; ++j) dst[j] = src[j * step];
    }
  }
}

// `outer` blocks of `block` contiguous elements: y[dst_offset + o*dst_stride + j] =
// x[src_offset + o*src_stride + j]. Concat writes each input into its slot; Split reads each
// output's slot.
struct block_copy_params {
  index_t outer;
  index_t block;
  index_t src_stride;
  index_t src_offset;
  index_t dst_stride;
  index_t dst_offset;
};

template <class T>
inline void block_copy(const block_copy_params& p, const T* x, T* y) noexcept {
  for (index_t o = 0; o < p.outer; ++o) {
    const T* src = x + p.src_offset + o * p.src_stride;
    T* dst = y + p.dst_offset + o * p.dst_stride;
    for (index_t j = 0; j < p.block; ++j) dst[j] = src[j];
  }
}

enum class pad_mode : std::uint8_t { constant, reflect, edge };

struct pad_params {
  pad_mode mode;
  index_t rank;
  index_t count;                // output elements
  index_t out_dims[max_rank];
  index_t in_dims[max_rank];
  index_t in_strides[max_rank];
  index_t begin[max_rank];      // elements added before each axis; negative crops
};

// `value` points at the constant fill (one element) or is null for zero.
template <class T>
inline void pad(const pad_params& p, const T* x, const T* value, T* y) noexcept {
  const T fill = value ? value[0] : T{};
  index_t counter[max_rank] = {};
  for (index_t i = 0; i < p.count; ++i) {
    index_t off = 0;
    bool inside = true;
    for (index_t a = 0; a < p.rank; ++a) {
      const index_t n = p.in_dims[a];
      index_t s = counter[a] - p.begin[a];
      if (s < 0 || s >= n) {
        if (p.mode == pad_mode::constant) {
          inside = false;
          break;
        }
        if (p.mode == pad_mode::edge || n == 1) {
          s = s < 0 ? 0 : n - 1;
        } else {  // reflect: period 2(n-1), mirrored about the edge elements
          const index_t period = 2 * (n - 1);
          s %= period;
          if (s < 0) s += period;
          if (s >= n) s = period - s;
        }
      }
      off += s * p.in_strides[a];
    }
    y[i] = inside ? x[off] : fill;
    for (index_t a = p.rank - 1; a >= 0; --a) {
      if (++counter[a] < p.out_dims[a]) break;
      counter[a] = 0;
    }
  }
}

// Gather along one axis: x viewed as [outer, axis_dim, inner], y as [outer, indices, inner].
// Negative indices count from the end; out-of-range indices are clamped (memory safety).
struct gather_params {
  index_t outer;
  index_t axis_dim;
  index_t inner;
  index_t indices;  // number of index elements
};

namespace detail {
template <class I>
inline index_t wrap_index(I i, index_t n) noexcept {
  std::int64_t v = static_cast<std::int64_t>(i);
  if (v < 0) v += n;
  if (v < 0) v = 0;
  if (v >= n) v = n - 1;
  return static_cast<index_t>(v);
}
}  // namespace detail

template <class T, class I>
inline void gather(const gather_params& p, const T* x, const I* idx, T* y) noexcept {
  for (index_t o = 0; o < p.outer; ++o) {
    const T* src = x + o * p.axis_dim * p.inner;
    for (index_t k = 0; k < p.indices; ++k) {
      const T* row = src + detail::wrap_index(idx[k], p.axis_dim) * p.inner;
      for (index_t j = 0; j < p.inner; ++j) y[j] = row[j];
      y += p.inner;
    }
  }
}

// GatherElements: y has the indices' shape; y[..., i_axis, ...] = x[..., idx[...], ...].
struct gather_elements_params {
  index_t rank;
  index_t count;
  index_t dims[max_rank];        // indices / output shape
  index_t strides[1][max_rank];  // input strides, 0 along `axis`
  index_t axis_stride;
  index_t axis_dim;
};

template <class T, class I>
inline void gather_elements(const gather_elements_params& p, const T* x, const I* idx, T* y) noexcept {
  strided_walker<1> w{p.rank, p.dims, p.strides};
  for (index_t i = 0; i < p.count; ++i, w.next())
    y[i] = x[w.offset[0] + detail::wrap_index(idx[i], p.axis_dim) * p.axis_stride];
}

struct fill_params {
  index_t count;
};

// ConstantOfShape: every element is value[0].
template <class T>
inline void fill(const fill_params& p, const T* value, T* y) noexcept {
  const T v = value[0];
  for (index_t i = 0; i < p.count; ++i) y[i] = v;
}

// Range: y[i] = start + i * delta.
template <class T>
inline void range(const fill_params& p, const T* start, const T* delta, T* y) noexcept {
  const T s = start[0], d = delta[0];
  for (index_t i = 0; i < p.count; ++i) y[i] = static_cast<T>(s + static_cast<T>(i) * d);
}

// Trilu: keeps the upper (j - i >= k) or lower (j - i <= k) triangle of each matrix.
struct trilu_params {
  index_t batch;
  index_t rows;
  index_t cols;
  index_t k;
  bool upper;
};

template <class T>
inline void trilu(const trilu_params& p, const T* x, T* y) noexcept {
  for (index_t b = 0; b < p.batch; ++b)
    for (index_t i = 0; i < p.rows; ++i)
      for (index_t j = 0; j < p.cols; ++j, ++x, ++y) {
        const index_t d = j - i;
        *y = (p.upper ? d >= p.k : d <= p.k) ? *x : T{};
      }
}

enum class resize_mode : std::uint8_t { nearest, linear, cubic };
enum class resize_coord : std::uint8_t {
  half_pixel,
  pytorch_half_pixel,
  align_corners,
  asymmetric,
  tf_half_pixel_for_nn,
  tf_crop_and_resize
};
enum class resize_nearest : std::uint8_t { round_prefer_floor, round_prefer_ceil, floor, ceil };

// Resize of every axis (N-linear / N-cubic as tensor products of the 1-D interpolations).
struct resize_params {
  resize_mode mode;
  resize_coord coord;
  resize_nearest nearest;
  bool exclude_outside;  // cubic: drop taps outside the input and renormalise
  index_t rank;
  index_t count;
  index_t in_dims[max_rank];
  index_t out_dims[max_rank];
  index_t in_strides[max_rank];
  double scales[max_rank];     // out/in per axis, as given (or sizes/in)
  double roi_start[max_rank];  // tf_crop_and_resize only, normalised
  double roi_end[max_rank];
  double cubic_a;
  double extrapolation;  // tf_crop_and_resize: value outside the input
};

namespace detail {

struct resize_taps {
  index_t n;
  bool outside;
  index_t idx[4];
  double w[4];
};

inline index_t clamp_index(double v, index_t n) noexcept {
  if (v < 0) return 0;
  if (v > static_cast<double>(n - 1)) return n - 1;
  return static_cast<index_t>(v);
}

inline double cubic_weight(double t, double a) noexcept {
  t = std::fabs(t);
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

// The input taps and weights of output coordinate `x` along axis `a`.
inline void resize_axis(const resize_params& p, index_t a, index_t x, resize_taps& t) noexcept {
  const index_t in = p.in_dims[a];
  const double s = p.scales[a];
  // length_resized: the output length, as ONNX Runtime and PyTorch take it. ONNX's reference
  // (and its node tests) takes scale x input length, which differs where that is fractional: an
  // align_corners 2.5x upsample of 5 rows to 12 was off by up to 0.33 against both.
  const double len = static_cast<double>(p.out_dims[a]);
  const double xd = static_cast<double>(x);
  double src = 0;
  t.outside = false;
  switch (p.coord) {
    case resize_coord::half_pixel: src = (xd + 0.5) / s - 0.5; break;
    // Onto one element at 0, as the ONNX spec and ONNX Runtime: the reference's -0.5 gives the
    // same nearest and linear outputs (both clamp to element 0), other cubic ones.
    case resize_coord::pytorch_half_pixel: src = len > 1 ? (xd + 0.5) / s - 0.5 : 0; break;
    case resize_coord::align_corners: src = len == 1 ? 0 : xd * static_cast<double>(in - 1) / (len - 1); break;
    case resize_coord::asymmetric: src = xd / s; break;
    case resize_coord::tf_half_pixel_for_nn: src = (xd + 0.5) / s; break;
    case resize_coord::tf_crop_and_resize: {
      const double span = (p.roi_end[a] - p.roi_start[a]) * static_cast<double>(in - 1);
      src = len > 1 ? xd * span / (len - 1) : span / 2;
      src += p.roi_start[a] * static_cast<double>(in - 1);
      if (src < 0 || src > static_cast<double>(in - 1)) t.outside = true;
      break;
    }
  }
  const double fl = std::floor(src);
  const bool exact = fl == src;
  const double ratio = src - fl;
  if (p.mode == resize_mode::nearest || exact) {
    double pick = fl;
    if (!exact) {
      switch (p.nearest) {
        case resize_nearest::round_prefer_floor: pick = ratio <= 0.5 ? fl : fl + 1; break;
        case resize_nearest::round_prefer_ceil: pick = ratio < 0.5 ? fl : fl + 1; break;
        case resize_nearest::floor: pick = fl; break;
        case resize_nearest::ceil: pick = fl + 1; break;
      }
    }
    t.n = 1;
    t.idx[0] = clamp_index(pick, in);
    t.w[0] = 1;
    return;
  }
  if (p.mode == resize_mode::linear) {
    t.n = 2;
    t.idx[0] = clamp_index(fl, in);
    t.idx[1] = clamp_index(fl + 1, in);
    t.w[0] = 1 - ratio;
    t.w[1] = ratio;
    return;
  }
  // cubic: taps floor-1 .. floor+2, edge-clamped or (exclude_outside) dropped and renormalised
  t.n = 4;
  double sum = 0;
  for (int k = 0; k < 4; ++k) {
    const double pos = fl - 1 + k;
    double w = cubic_weight(src - pos, p.cubic_a);
    if (p.exclude_outside && (pos < 0 || pos > static_cast<double>(in - 1))) w = 0;
    t.idx[k] = clamp_index(pos, in);
    t.w[k] = w;
    sum += w;
  }
  if (p.exclude_outside && sum != 0)
    for (int k = 0; k < 4; ++k) t.w[k] /= sum;
}

}  // namespace detail

template <class T>
inline void resize(const resize_params& p, const T* x, T* y) noexcept {
  using acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;
  if (p.count <= 0) return;
  detail::resize_taps taps[max_rank] = {};
  index_t counter[max_rank] = {};
  index_t changed = 0;  // axes from here on need their taps recomputed
  for (index_t i = 0; i < p.count; ++i) {
    for (index_t a = changed; a < p.rank; ++a) detail::resize_axis(p, a, counter[a], taps[a]);
    bool outside = false;
    index_t base = 0;
    index_t combos = 1;
    for (index_t a = 0; a < p.rank; ++a) {
      outside = outside || taps[a].outside;
      if (taps[a].n == 1) base += taps[a].idx[0] * p.in_strides[a];
      else combos *= taps[a].n;
    }
    if (outside) {
      y[i] = static_cast<T>(p.extrapolation);
    } else if (combos == 1) {
      y[i] = x[base];
    } else {
      acc_t acc = 0;
      for (index_t c = 0; c < combos; ++c) {
        index_t rest = c, off = base;
        double w = 1;
        for (index_t a = p.rank - 1; a >= 0; --a) {
          if (taps[a].n == 1) continue;
          const index_t k = rest % taps[a].n;
          rest /= taps[a].n;
          off += taps[a].idx[k] * p.in_strides[a];
          w *= taps[a].w[k];
        }
        acc += static_cast<acc_t>(w) * static_cast<acc_t>(x[off]);
      }
      y[i] = static_cast<T>(acc);
    }
    changed = p.rank;
    for (index_t a = p.rank - 1; a >= 0; --a) {
      changed = a;
      if (++counter[a] < p.out_dims[a]) break;
      counter[a] = 0;
    }
  }
}

}  // namespace kiln
