// Splits a tensor's axes into kept and reduced sets for the reduction and normalization kernels,
// each set walked by a strided walker. Axes of extent 1 are dropped and neighbours in the same set
// are merged whenever every operand's strides allow it, so the usual [outer, reduced, inner] layout
// becomes at most two kept axes and one reduced axis.
#pragma once

#include "common.hpp"

#include <fmt/format.h>

namespace kiln::cg {

struct axis_set {
  std::vector<std::int64_t> dims;
  std::vector<std::vector<std::int64_t>> strides;  // [operand][axis]
  std::int64_t count = 1;
};

struct axis_split {
  axis_set kept, reduced;
};

// Row-major strides of a dense tensor.
inline std::vector<std::int64_t> dense_strides(const dims_t& dims) {
  std::vector<std::int64_t> s(dims.size(), 1);
  for (std::size_t i = dims.size(); i-- > 1;) s[i - 1] = s[i] * dims[i];
  return s;
}

// `strides[operand][axis]` gives every operand's stride along each axis of `dims`.
inline axis_split split_axes(const dims_t& dims, const std::vector<bool>& reduced,
                             const std::vector<std::vector<std::int64_t>>& strides) {
  axis_split r;
  r.kept.strides.resize(strides.size());
  r.reduced.strides.resize(strides.size());
  for (std::size_t a = 0; a < dims.size(); ++a) {
    axis_set& s = reduced[a] ? r.reduced : r.kept;
    s.count *= dims[a];
    if (dims[a] == 1) continue;
    bool merge = !s.dims.empty();
    for (std::size_t k = 0; merge && k < strides.size(); ++k)
      merge = s.strides[k].back() == strides[k][a] * dims[a];
    if (merge) {
      s.dims.back() *= dims[a];
      for (std::size_t k = 0; k < strides.size(); ++k) s.strides[k].back() = strides[k][a];
    } else {
      s.dims.push_back(dims[a]);
      for (std::size_t k = 0; k < strides.size(); ++k) s.strides[k].push_back(strides[k][a]);
    }
  }
  return r;
}

// Writes an axis set into a kernel's count/rank/dims and one strides row per operand.
inline void fill_axis_set(const lower_context& ctx, const axis_set& s, index_t& count, index_t& rank, index_t* dims,
                          const std::vector<index_t*>& strides) {
  if (s.dims.size() > static_cast<std::size_t>(max_rank))
    ctx.unsupported(fmt::format("{} non-contiguous axis groups (kiln handles up to {})", s.dims.size(), max_rank));
  count = to_index(ctx, s.count);
  rank = static_cast<index_t>(s.dims.size());
  for (std::size_t i = 0; i < s.dims.size(); ++i) {
    dims[i] = to_index(ctx, s.dims[i]);
    for (std::size_t k = 0; k < strides.size(); ++k) strides[k][i] = to_index(ctx, s.strides[k][i]);
  }
}

}  // namespace kiln::cg
