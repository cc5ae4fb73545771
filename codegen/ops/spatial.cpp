#include "spatial.hpp"

#include <fmt/format.h>

namespace kiln::cg {

window_geometry window_for(const lower_context& ctx, const dims_t& in, const std::vector<std::int64_t>& kernel,
                           bool ceil_mode) {
  const std::size_t r = in.size();
  const auto& n = ctx.n();
  window_geometry w;
  w.kernel = kernel;
  w.stride = n.get_ints("strides", std::vector<std::int64_t>(r, 1));
  w.dilation = n.get_ints("dilations", std::vector<std::int64_t>(r, 1));
  auto pads = n.get_ints("pads", std::vector<std::int64_t>(2 * r, 0));
  if (w.stride.size() != r || w.dilation.size() != r || pads.size() != 2 * r || kernel.size() != r)
    ctx.fail(fmt::format("strides, dilations, pads or kernel do not match {} spatial axes", r));
  const std::string auto_pad = n.get_string("auto_pad", "NOTSET");
  w.pad_begin.assign(pads.begin(), pads.begin() + static_cast<long>(r));
  w.pad_end.assign(pads.begin() + static_cast<long>(r), pads.end());
  for (std::size_t i = 0; i < r; ++i) {
    if (w.stride[i] <= 0 || w.dilation[i] <= 0 || kernel[i] <= 0)
      ctx.fail("strides, dilations and kernel sizes must be positive");
    // Bounded to 32 bits first, so the int64 arithmetic below cannot overflow (span < 2^62).
    for (auto v : {w.stride[i], w.dilation[i], kernel[i], w.pad_begin[i], w.pad_end[i]})
      if (v > max_index_elements || v < -max_index_elements)
        ctx.fail(fmt::format("stride, dilation, pad or kernel size {} does not fit 32 bits", v));
    const std::int64_t span = (kernel[i] - 1) * w.dilation[i] + 1;
    std::int64_t o;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      o = (in[i] + w.stride[i] - 1) / w.stride[i];
      const std::int64_t total = std::max<std::int64_t>(0, (o - 1) * w.stride[i] + span - in[i]);
      w.pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      w.pad_end[i] = total - w.pad_begin[i];
    } else if (auto_pad == "VALID") {
      w.pad_begin[i] = w.pad_end[i] = 0;
      o = in[i] >= span ? (in[i] - span) / w.stride[i] + 1 : 0;
    } else if (auto_pad == "NOTSET") {
      const std::int64_t avail = in[i] + w.pad_begin[i] + w.pad_end[i] - span;
      if (avail < 0) ctx.fail(fmt::format("window {} is larger than the padded input {}", span, in[i] + w.pad_begin[i] + w.pad_end[i]));
      o = (ceil_mode ? (avail + w.stride[i] - 1) / w.stride[i] : avail / w.stride[i]) + 1;
    } else {
      ctx.fail(fmt::format("unknown auto_pad '{}'", auto_pad));
    }
    w.out.push_back(o);
  }
  return w;
}

conv_shape conv_shape_for(lower_context& ctx, const tensor& x, const tensor& w, dtype out_type) {
  if (x.dims.size() < 3) ctx.fail(fmt::format("input '{}' has rank {}, expected at least 3", x.name, x.dims.size()));
  if (w.dims.size() != x.dims.size())
    ctx.fail(fmt::format("weight '{}' has rank {}, input has {}", w.name, w.dims.size(), x.dims.size()));
  conv_shape s;
  s.batch = x.dims[0];
  s.in_channels = x.dims[1];
  s.out_channels = w.dims[0];
  s.group = ctx.n().get_int("group", 1);
  const auto c = s.in_channels, m = s.out_channels, g = s.group;
  if (g <= 0 || g > max_index_elements || c % g != 0 || m % g != 0 || w.dims[1] * g != c)  // no overflow: g < 2^31
    ctx.fail(fmt::format("{} input channels, {} output channels and weight {} do not fit group {}", c, m,
                         dims_string(w.dims), g));
  s.in.assign(x.dims.begin() + 2, x.dims.end());
  const dims_t w_kernel(w.dims.begin() + 2, w.dims.end());
  s.kernel = ctx.n().get_ints("kernel_shape", w_kernel);
  if (s.kernel != w_kernel) ctx.fail("kernel_shape differs from the weight's shape");
  s.window = window_for(ctx, s.in, s.kernel, false);
  dims_t out{s.batch, m};
  out.insert(out.end(), s.window.out.begin(), s.window.out.end());
  ctx.set_output(0, out_type, out);
  return s;
}

void to3(const std::vector<std::int64_t>& v, index_t* out, index_t fill, const lower_context& ctx) {
  if (v.size() > 3) ctx.unsupported(fmt::format("{} spatial axes (kiln handles up to 3)", v.size()));
  const std::size_t off = 3 - v.size();
  for (std::size_t i = 0; i < 3; ++i) out[i] = i < off ? fill : to_index(ctx, v[i - off]);
}

kiln::activation fused_activation(const node& n) {
  kiln::activation a{act_kind::none, 0.f, 0.f};
  if (!n.has("__kiln_act")) return a;
  a.kind = static_cast<act_kind>(n.get_int("__kiln_act", 0));
  a.alpha = static_cast<float>(n.get_float("__kiln_act_alpha", 0));
  a.beta = static_cast<float>(n.get_float("__kiln_act_beta", 0));
  return a;
}

}  // namespace kiln::cg
