// Window geometry shared by convolution and pooling: output sizes and pads for every auto_pad mode.
#pragma once

#include "common.hpp"

namespace kiln::cg {

struct window_geometry {
  std::vector<std::int64_t> kernel, stride, dilation, pad_begin, pad_end, out;
};

// `in` and `kernel` are the spatial extents; reads auto_pad, pads, strides, dilations, ceil_mode.
window_geometry window_for(const lower_context& ctx, const dims_t& in, const std::vector<std::int64_t>& kernel,
                           bool ceil_mode);

// Copies up to three spatial values into a 3-slot array, right-aligned, filling the front with `fill`.
void to3(const std::vector<std::int64_t>& v, index_t* out, index_t fill, const lower_context& ctx);

// The fused activation a fusion pass attached to the node (see stages/fuse.cpp), or none.
kiln::activation fused_activation(const node& n);

}  // namespace kiln::cg
