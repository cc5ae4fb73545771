// Lowerings of the normalizations (InstanceNormalization, LayerNormalization,
// MeanVarianceNormalization: one kiln::normalize kernel; LRN) and ConvTranspose.
#include "axis_split.hpp"
#include "spatial.hpp"

#include "../params_reflect.hpp"
#include "../tensor_data.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kiln::cg {

namespace {

// Standardises x over the `reduced` axes; scale/bias (may be no_tensor) broadcast with the given
// strides; mean/inv_std (may be no_tensor) receive one value per kept position.
void emit_normalize(lower_context& ctx, const std::vector<bool>& reduced, double eps, bool eps_after_sqrt,
                    tensor_id scale, const std::vector<std::int64_t>& scale_strides, tensor_id bias,
                    const std::vector<std::int64_t>& bias_strides, tensor_id mean, tensor_id inv_std) {
  const auto& x = ctx.in(0);
  const auto split = split_axes(x.dims, reduced, {dense_strides(x.dims), scale_strides, bias_strides});
  normalize_params p{};
  p.epsilon = eps;
  p.eps_after_sqrt = eps_after_sqrt;
  fill_axis_set(ctx, split.kept, p.out_count, p.out_rank, p.out_dims, {p.out_strides[0], p.out_strides[1], p.out_strides[2]});
  fill_axis_set(ctx, split.reduced, p.red_count, p.red_rank, p.red_dims, {p.red_strides[0], p.red_strides[1], p.red_strides[2]});
  dispatch(float_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::normalize", {cpp_name<T>()}), &kiln::normalize<T>, p,
                        {ctx.in_id(0), scale, bias, ctx.out_id(0), mean, inv_std}));
  });
}

// Strides of a tensor of shape `dims` broadcast (numpy, right-aligned) against `out`.
std::vector<std::int64_t> broadcast_strides_of(const lower_context& ctx, const dims_t& dims, const dims_t& out) {
  if (broadcast_shape(ctx, dims, out) != out) ctx.fail(fmt::format("shape {} does not broadcast to {}", dims_string(dims), dims_string(out)));
  std::vector<std::int64_t> s(out.size(), 0);
  const auto dense = dense_strides(dims);
  const std::size_t off = out.size() - dims.size();
  for (std::size_t i = 0; i < dims.size(); ++i) s[off + i] = dims[i] == 1 ? 0 : dense[i];
  return s;
}

void lower_instance_norm(lower_context& ctx) {
  const auto& x = ctx.in(0);
  if (x.dims.size() < 2) ctx.fail("input must have a channel axis");
  ctx.set_output(0, x.type, x.dims);
  const auto c = x.dims[1];
  if (ctx.in(1).count() != c || ctx.in(2).count() != c)
    ctx.fail(fmt::format("scale and bias must have {} elements, one per channel", c));
  std::vector<bool> reduced(x.dims.size(), true);
  reduced[0] = reduced[1] = false;
  std::vector<std::int64_t> per_channel(x.dims.size(), 0);
  per_channel[1] = 1;
  emit_normalize(ctx, reduced, ctx.n().get_float("epsilon", 1e-5), false, ctx.in_id(1), per_channel, ctx.in_id(2),
                 per_channel, no_tensor, no_tensor);
}

void lower_layer_norm(lower_context& ctx) {
  const auto& x = ctx.in(0);
  const std::size_t rank = x.dims.size();
  if (rank == 0) ctx.fail("input must have rank 1 or more");
  const int axis = ctx.axis(ctx.n().get_int("axis", -1), rank);
  ctx.set_output(0, x.type, x.dims);
  dims_t stat = x.dims;
  for (std::size_t i = static_cast<std::size_t>(axis); i < rank; ++i) stat[i] = 1;
  if (ctx.has_output(1) || ctx.has_output(2)) {
    std::string name;
    const auto stash = from_onnx_type(static_cast<int>(ctx.n().get_int("stash_type", 1)), &name);
    if (!stash || *stash != x.type)
      ctx.unsupported(fmt::format("Mean/InvStdDev outputs with stash_type {} for {} input", stash ? dtype_name(*stash) : name, dtype_name(x.type)));
    ctx.set_output(1, x.type, stat);
    ctx.set_output(2, x.type, stat);
  }
  std::vector<bool> reduced(rank, false);
  for (std::size_t i = static_cast<std::size_t>(axis); i < rank; ++i) reduced[i] = true;
  const auto scale_strides = broadcast_strides_of(ctx, ctx.in(1).dims, x.dims);
  std::vector<std::int64_t> bias_strides(rank, 0);
  if (ctx.has_input(2)) bias_strides = broadcast_strides_of(ctx, ctx.in(2).dims, x.dims);
  emit_normalize(ctx, reduced, ctx.n().get_float("epsilon", 1e-5), false, ctx.in_id(1), scale_strides, ctx.in_id(2),
                 bias_strides, ctx.out_id(1), ctx.out_id(2));
}

void lower_mvn(lower_context& ctx) {
  const auto& x = ctx.in(0);
  const std::size_t rank = x.dims.size();
  ctx.set_output(0, x.type, x.dims);
  std::vector<bool> reduced(rank, false);
  for (auto a : ctx.n().get_ints("axes", {0, 2, 3})) {
    const auto i = static_cast<std::size_t>(ctx.axis(a, rank));
    if (reduced[i]) ctx.fail("axes lists an axis twice");
    reduced[i] = true;
  }
  const std::vector<std::int64_t> none(rank, 0);
  emit_normalize(ctx, reduced, 1e-9, true, no_tensor, none, no_tensor, none, no_tensor, no_tensor);
}

void lower_lrn(lower_context& ctx) {
  const auto& x = ctx.in(0);
  if (x.dims.size() < 2) ctx.fail("input must have a channel axis");
  ctx.set_output(0, x.type, x.dims);
  const auto size = ctx.n().get_int("size", 0);
  if (size <= 0) ctx.fail("size must be positive");
  std::int64_t inner = 1;
  for (std::size_t i = 2; i < x.dims.size(); ++i) inner *= x.dims[i];
  lrn_params p{};
  p.batch = to_index(ctx, x.dims[0]);
  p.channels = to_index(ctx, x.dims[1]);
  p.inner = to_index(ctx, inner);
  p.size = to_index(ctx, size);
  // The attributes are float32 in the model; keep their exact values.
  p.alpha = ctx.n().get_float("alpha", static_cast<double>(1e-4f));
  p.beta = ctx.n().get_float("beta", static_cast<double>(0.75f));
  p.bias = ctx.n().get_float("bias", 1.0);
  dispatch(float_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::lrn", {cpp_name<T>()}), &kiln::lrn<T>, p, {ctx.in_id(0), ctx.out_id(0)}));
  });
}

void lower_conv_transpose(lower_context& ctx) {
  const auto& x = ctx.in(0);
  const auto& w = ctx.in(1);
  const auto& n = ctx.n();
  if (x.dims.size() < 3) ctx.fail(fmt::format("input '{}' has rank {}, expected at least 3", x.name, x.dims.size()));
  if (w.dims.size() != x.dims.size()) ctx.fail(fmt::format("weight '{}' has rank {}, input has {}", w.name, w.dims.size(), x.dims.size()));
  const std::size_t r = x.dims.size() - 2;
  const std::int64_t group = n.get_int("group", 1);
  const std::int64_t c = x.dims[1];
  if (group <= 0 || c % group != 0 || w.dims[0] != c)
    ctx.fail(fmt::format("{} input channels and weight {} do not fit group {}", c, dims_string(w.dims), group));
  const std::int64_t m = w.dims[1] * group;
  const dims_t in(x.dims.begin() + 2, x.dims.end());
  const dims_t wk(w.dims.begin() + 2, w.dims.end());
  const auto kernel = n.get_ints("kernel_shape", wk);
  if (kernel != wk) ctx.fail("kernel_shape differs from the weight's shape");
  const auto stride = n.get_ints("strides", std::vector<std::int64_t>(r, 1));
  const auto dilation = n.get_ints("dilations", std::vector<std::int64_t>(r, 1));
  const auto out_pad = n.get_ints("output_padding", std::vector<std::int64_t>(r, 0));
  auto pads = n.get_ints("pads", std::vector<std::int64_t>(2 * r, 0));
  const auto out_shape = n.get_ints("output_shape", {});
  const std::string auto_pad = n.get_string("auto_pad", "NOTSET");
  if (stride.size() != r || dilation.size() != r || out_pad.size() != r || pads.size() != 2 * r ||
      (!out_shape.empty() && out_shape.size() != r))
    ctx.fail(fmt::format("strides, dilations, pads, output_padding or output_shape do not match {} spatial axes", r));
  if (auto_pad != "NOTSET" && auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER")
    ctx.fail(fmt::format("unknown auto_pad '{}'", auto_pad));
  std::vector<std::int64_t> pad_begin(r), out(r);
  for (std::size_t i = 0; i < r; ++i) {
    if (stride[i] <= 0 || dilation[i] <= 0 || kernel[i] <= 0) ctx.fail("strides, dilations and kernel sizes must be positive");
    if (out_pad[i] < 0) ctx.fail("output_padding must not be negative");
    const std::int64_t full = stride[i] * (in[i] - 1) + out_pad[i] + (kernel[i] - 1) * dilation[i] + 1;
    const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
    if (!out_shape.empty() || same) {
      // The output size is given (or in * stride); the pads are what remains, the odd one at the end
      // for SAME_UPPER and NOTSET, at the start for SAME_LOWER. A negative remainder extends the end.
      out[i] = out_shape.empty() ? in[i] * stride[i] : out_shape[i];
      const std::int64_t total = std::max<std::int64_t>(0, full - out[i]);
      pad_begin[i] = auto_pad == "SAME_LOWER" ? total - total / 2 : total / 2;
    } else if (auto_pad == "VALID") {
      pad_begin[i] = 0;
      out[i] = full;
    } else {
      pad_begin[i] = pads[i];
      out[i] = full - pads[i] - pads[i + r];
    }
    if (pad_begin[i] < 0) ctx.unsupported("negative pads");
  }
  dims_t y{x.dims[0], m};
  y.insert(y.end(), out.begin(), out.end());
  ctx.set_output(0, x.type, y);
  if (ctx.has_input(2) && ctx.in(2).count() != m) ctx.fail(fmt::format("bias has {} elements, expected {}", ctx.in(2).count(), m));

  conv_transpose_params p{};
  p.batch = to_index(ctx, x.dims[0]);
  p.in_channels = to_index(ctx, c);
  p.out_channels = to_index(ctx, m);
  p.group = to_index(ctx, group);
  to3(in, p.in, 1, ctx);
  to3(out, p.out, 1, ctx);
  to3(kernel, p.kernel, 1, ctx);
  to3(stride, p.stride, 1, ctx);
  to3(dilation, p.dilation, 1, ctx);
  to3(pad_begin, p.pad, 0, ctx);
  dispatch(float_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    layer l = make_layer(tmpl("kiln::conv_transpose", {cpp_name<T>()}), &kiln::conv_transpose<T>, p,
                         {ctx.in_id(0), ctx.in_id(1), ctx.in_id(2), ctx.out_id(0)});
    // Every input element meets every tap of its group's M/group output channels.
    l.macs = static_cast<std::uint64_t>(x.count()) * static_cast<std::uint64_t>(w.count() / c);
    ctx.emit(std::move(l));
  });
}

}  // namespace

void register_norm(registry& r) {
  const char* fl = "float, double";
  r.add(entry("InstanceNormalization", fl, "any rank >= 2", lower_instance_norm));
  r.add(entry("LayerNormalization", fl,
              "any axis, broadcast scale/bias; Mean/InvStdDev outputs only when stash_type is the input type",
              lower_layer_norm));
  r.add(entry("MeanVarianceNormalization", fl, "any axes", lower_mvn));
  r.add(entry("LRN", fl, "across channels", lower_lrn));
  r.add(entry("ConvTranspose", fl,
              "1-D to 3-D, groups, dilations, strides, pads, output_padding, output_shape, every auto_pad",
              lower_conv_transpose));
}

}  // namespace kiln::cg
