// Reductions (ReduceSum, ReduceMean, ReduceMax, ... ) and ArgMax/ArgMin.
// The code generator splits the input's axes into kept and reduced ones and merges neighbours
// that are contiguous, so one strided walk over each set serves every axes combination:
// typically [outer, reduced, inner] becomes two kept axes and one reduced axis.
#pragma once

#include "../core/shape.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace kiln {

enum class reduce_kind : int {
  sum = 0,
  mean = 1,
  max = 2,
  min = 3,
  prod = 4,
  l1 = 5,          // sum |x|
  l2 = 6,          // sqrt(sum x^2)
  log_sum = 7,     // log(sum x)
  log_sum_exp = 8, // log(sum exp(x)), computed with the maximum factored out
  sum_square = 9,  // sum x^2
};

struct reduce_params {
  reduce_kind kind;
  index_t out_count;              // output elements = product of out_dims
  index_t out_rank;               // kept axes, after merging
  index_t out_dims[max_rank];
  index_t out_strides[max_rank];  // input strides of the kept axes
  index_t red_count;              // elements reduced into each output
  index_t red_rank;               // reduced axes, after merging
  index_t red_dims[max_rank];
  index_t red_strides[max_rank];  // input strides of the reduced axes
};

namespace detail {

// Folds f over the reduced elements of one output position starting at `base`.
template <class T, class A, class F>
inline A reduce_fold(const reduce_params& p, const T* base, A acc, F f) noexcept {
  strided_walker<1> w{p.red_rank, p.red_dims, &p.red_strides};
  for (index_t r = 0; r < p.red_count; ++r, w.next()) acc = f(acc, base[w.offset[0]]);
  return acc;
}

// Calls y[o] = g(base of output o) for every output position.
template <class T, class G>
inline void reduce_each(const reduce_params& p, const T* x, T* y, G g) noexcept {
  strided_walker<1> w{p.out_rank, p.out_dims, &p.out_strides};
  for (index_t o = 0; o < p.out_count; ++o, w.next()) y[o] = g(x + w.offset[0]);
}

template <class T> constexpr T reduce_lowest() noexcept {
  if constexpr (std::numeric_limits<T>::has_infinity) return -std::numeric_limits<T>::infinity();
  else return std::numeric_limits<T>::lowest();
}
template <class T> constexpr T reduce_highest() noexcept {
  if constexpr (std::numeric_limits<T>::has_infinity) return std::numeric_limits<T>::infinity();
  else return std::numeric_limits<T>::max();
}

}  // namespace detail

template <class T>
inline void reduce(const reduce_params& p, const T* x, T* y) noexcept {
  const auto sum = [](T a, T v) noexcept { return T(a + v); };
  const auto abs_sum = [](T a, T v) noexcept { return T(a + (v < T(0) ? T(-v) : v)); };
  const auto sq_sum = [](T a, T v) noexcept { return T(a + v * v); };
  const auto mx = [](T a, T v) noexcept {
    if constexpr (std::is_floating_point_v<T>) { if (a != a) return a; if (v != v) return v; }
    return a < v ? v : a;
  };
  const auto mn = [](T a, T v) noexcept {
    if constexpr (std::is_floating_point_v<T>) { if (a != a) return a; if (v != v) return v; }
    return v < a ? v : a;
  };
  switch (p.kind) {
    case reduce_kind::sum:
      detail::reduce_each(p, x, y, [&](const T* b) noexcept { return detail::reduce_fold(p, b, T(0), sum); });
      break;
    case reduce_kind::mean:
      detail::reduce_each(p, x, y, [&](const T* b) noexcept {
        const T s = detail::reduce_fold(p, b, T(0), sum);
        if (p.red_count == 0) return s;
        if constexpr (std::is_floating_point_v<T>) return T(s / T(p.red_count));
        else if constexpr (std::is_signed_v<T>) return T(static_cast<std::int64_t>(s) / p.red_count);  // truncates
        else return T(static_cast<std::uint64_t>(s) / static_cast<std::uint64_t>(p.red_count));
      });
      break;
    case reduce_kind::max:
      detail::reduce_each(p, x, y, [&](const T* b) noexcept { return detail::reduce_fold(p, b, detail::reduce_lowest<T>(), mx); });
      break;
    case reduce_kind::min:
      detail::reduce_each(p, x, y, [&](const T* b) noexcept { return detail::reduce_fold(p, b, detail::reduce_highest<T>(), mn); });
      break;
    case reduce_kind::prod:
      detail::reduce_each(p, x, y, [&](const T* b) noexcept {
        return detail::reduce_fold(p, b, T(1), [](T a, T v) noexcept { return T(a * v); });
      });
      break;
    case reduce_kind::l1:
      detail::reduce_each(p, x, y, [&](const T* b) noexcept { return detail::reduce_fold(p, b, T(0), abs_sum); });
      break;
    case reduce_kind::sum_square:
      detail::reduce_each(p, x, y, [&](const T* b) noexcept { return detail::reduce_fold(p, b, T(0), sq_sum); });
      break;
    case reduce_kind::l2:
      detail::reduce_each(p, x, y, [&](const T* b) noexcept {
        return static_cast<T>(std::sqrt(detail::reduce_fold(p, b, T(0), sq_sum)));
      });
      break;
    case reduce_kind::log_sum:
      detail::reduce_each(p, x, y, [&](const T* b) noexcept {
        return static_cast<T>(std::log(detail::reduce_fold(p, b, T(0), sum)));
      });
      break;
    case reduce_kind::log_sum_exp:
      detail::reduce_each(p, x, y, [&](const T* b) noexcept {
        const T m = detail::reduce_fold(p, b, detail::reduce_lowest<T>(), mx);
        // An infinite or NaN maximum cannot be factored out; it also decides the result.
        const T shift = (m - m == T(0)) ? m : T(0);
        const T s = detail::reduce_fold(p, b, T(0), [shift](T a, T v) noexcept {
          return T(a + static_cast<T>(std::exp(v - shift)));
        });
        return static_cast<T>(std::log(s) + shift);
      });
      break;
  }
}

enum class arg_kind : int { max = 0, min = 1 };

struct arg_reduce_params {
  arg_kind kind;
  bool select_last;  // ties resolve to the last index instead of the first
  index_t outer;     // product of the axes before the reduced one
  index_t len;       // extent of the reduced axis
  index_t inner;     // product of the axes after it
};

// y[o][i] = index along the axis of the maximum (minimum) of x[o][:][i].
template <class T>
inline void arg_reduce(const arg_reduce_params& p, const T* x, std::int64_t* y) noexcept {
  for (index_t o = 0; o < p.outer; ++o)
    for (index_t i = 0; i < p.inner; ++i) {
      const T* xp = x + o * p.len * p.inner + i;
      index_t best = 0;
      for (index_t a = 1; a < p.len; ++a) {
        const T v = xp[a * p.inner], b = xp[best * p.inner];
        const bool better = p.kind == arg_kind::max ? (p.select_last ? !(v < b) : b < v)
                                                    : (p.select_last ? !(b < v) : v < b);
        if (better) best = a;
      }
      y[o * p.inner + i] = best;
    }
}

}  // namespace kiln
