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

// A convolution's checked shapes: input/weight ranks, channels, group and kernel agree.
struct conv_shape {
  std::int64_t batch, in_channels, out_channels, group;
  dims_t in, kernel;  // spatial extents
  window_geometry window;
};
// Validates x and w for a convolution (Conv, QLinearConv, ConvInteger) and declares output 0.
conv_shape conv_shape_for(lower_context& ctx, const tensor& x, const tensor& w, dtype out_type);

// Copies up to three spatial values into a 3-slot array, right-aligned, filling the front with `fill`.
void to3(const std::vector<std::int64_t>& v, index_t* out, index_t fill, const lower_context& ctx);

// Fills the geometry fields every convolution params struct shares.
template <class P> void fill_conv_geometry(const lower_context& ctx, const conv_shape& s, P& p) {
  p.batch = to_index(ctx, s.batch);
  p.in_channels = to_index(ctx, s.in_channels);
  p.out_channels = to_index(ctx, s.out_channels);
  p.group = to_index(ctx, s.group);
  to3(s.in, p.in, 1, ctx);
  to3(s.window.out, p.out, 1, ctx);
  to3(s.kernel, p.kernel, 1, ctx);
  to3(s.window.stride, p.stride, 1, ctx);
  to3(s.window.dilation, p.dilation, 1, ctx);
  to3(s.window.pad_begin, p.pad, 0, ctx);
}

// The fused activation a fusion pass attached to the node (see stages/fuse.cpp), or none.
kiln::activation fused_activation(const node& n);

}  // namespace kiln::cg
