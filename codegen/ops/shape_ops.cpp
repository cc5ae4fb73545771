// Lowerings of operators that only relabel data (views) or describe it (Shape, Size, Constant).
// Views cost nothing at run time: their output shares the input's storage.
#include "common.hpp"

#include "../params_reflect.hpp"
#include "../tensor_data.hpp"

#include <fmt/format.h>

namespace kiln::cg {

namespace {

void view(lower_context& ctx, const dims_t& out) {
  const auto& x = ctx.in(0);
  std::int64_t n = 1;
  for (auto d : out) n *= d;
  if (n != x.count()) ctx.fail(fmt::format("cannot view {} elements ({}) as {}", x.count(), dims_string(x.dims), dims_string(out)));
  ctx.set_output(0, x.type, out);
  ctx.alias(0, 0);
}

dims_t reshape_target(const lower_context& ctx) {
  const auto& x = ctx.in(0);
  const auto shape = ctx.const_ints(1, "Reshape's shape");
  const bool allow_zero = ctx.n().get_int("allowzero", 0) != 0;
  dims_t out;
  int infer = -1;
  std::int64_t known = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    std::int64_t d = shape[i];
    if (d == 0 && !allow_zero) {
      if (i >= x.dims.size()) ctx.fail("shape copies a dimension the input does not have");
      d = x.dims[i];
    }
    if (d == -1) {
      if (infer >= 0) ctx.fail("shape has more than one -1");
      infer = static_cast<int>(i);
      out.push_back(1);
      continue;
    }
    if (d < 0) ctx.fail(fmt::format("shape has invalid dimension {}", d));
    known *= d;
    out.push_back(d);
  }
  if (infer >= 0) {
    if (known == 0 || x.count() % known != 0) ctx.fail(fmt::format("cannot infer -1 reshaping {} to {}", dims_string(x.dims), dims_string(shape)));
    out[static_cast<std::size_t>(infer)] = x.count() / known;
  }
  return out;
}

std::vector<std::int64_t> axes_of(const lower_context& ctx, std::size_t rank, bool from_input_since13) {
  std::vector<std::int64_t> axes;
  if (from_input_since13 && ctx.n().opset >= 13) {
    if (ctx.has_input(1)) axes = ctx.const_ints(1, "axes");
  } else {
    axes = ctx.n().get_ints("axes");
  }
  for (auto& a : axes) a = ctx.axis(a, rank);
  return axes;
}

}  // namespace

void register_shape_ops(registry& r) {
  r.add(entry("Reshape", "all", "shape must be constant (folded or frozen)", [](lower_context& ctx) { view(ctx, reshape_target(ctx)); }));
  r.add(entry("Flatten", "all", "", [](lower_context& ctx) {
    const auto& x = ctx.in(0);
    // axis lies in [-r, r]; a negative one counts from the end like any other (r + axis).
    const auto r = static_cast<std::int64_t>(x.dims.size());
    std::int64_t axis = ctx.n().get_int("axis", 1);
    if (axis < -r || axis > r) ctx.fail(fmt::format("axis {} is out of range for rank {}", axis, r));
    if (axis < 0) axis += r;
    std::int64_t a = 1, b = 1;
    for (std::size_t i = 0; i < x.dims.size(); ++i) (static_cast<std::int64_t>(i) < axis ? a : b) *= x.dims[i];
    view(ctx, {a, b});
  }));
  r.add(entry("Squeeze", "all", "axes must be constant", [](lower_context& ctx) {
    const auto& x = ctx.in(0);
    const auto axes = axes_of(ctx, x.dims.size(), true);
    dims_t out;
    for (std::size_t i = 0; i < x.dims.size(); ++i) {
      const bool listed = std::find(axes.begin(), axes.end(), static_cast<std::int64_t>(i)) != axes.end();
      if (listed && x.dims[i] != 1) ctx.fail(fmt::format("cannot squeeze axis {} of size {}", i, x.dims[i]));
      if (!(listed || (axes.empty() && x.dims[i] == 1))) out.push_back(x.dims[i]);
    }
    view(ctx, out);
  }));
  r.add(entry("Unsqueeze", "all", "axes must be constant", [](lower_context& ctx) {
    const auto& x = ctx.in(0);
    std::vector<std::int64_t> raw = ctx.n().opset >= 13 ? ctx.const_ints(1, "Unsqueeze's axes") : ctx.n().get_ints("axes");
    const std::size_t rank = x.dims.size() + raw.size();
    std::vector<bool> inserted(rank, false);
    for (auto a : raw) {
      const int ax = ctx.axis(a, rank);
      if (inserted[static_cast<std::size_t>(ax)]) ctx.fail("axes repeat");
      inserted[static_cast<std::size_t>(ax)] = true;
    }
    dims_t out;
    std::size_t j = 0;
    for (std::size_t i = 0; i < rank; ++i) out.push_back(inserted[i] ? 1 : x.dims[j++]);
    view(ctx, out);
  }));
  auto identity = entry("Identity", "all", "tensors only", [](lower_context& ctx) { view(ctx, ctx.in(0).dims); });
  identity.excluded_tests = {{"test_identity_opt", "optional type: kiln handles tensors only"},
                             {"test_identity_sequence", "sequence type: kiln handles tensors only"}};
  r.add(identity);
  auto dropout = entry("Dropout", "float, double", "inference: identity; the mask output is all true", [](lower_context& ctx) {
    if (ctx.has_input(2) && ctx.is_constant(2) && ctx.const_ints(2, "training_mode").at(0) != 0)
      ctx.unsupported("training mode");
    if (ctx.has_input(2) && !ctx.is_constant(2)) ctx.const_ints(2, "Dropout's training_mode");
    view(ctx, ctx.in(0).dims);
    if (ctx.has_output(1)) {
      const auto n = static_cast<std::size_t>(ctx.in(0).count());
      ctx.set_constant_output(1, dtype::boolean, ctx.in(0).dims, std::vector<std::uint8_t>(n, 1));
    }
  });
  dropout.excluded_tests = {{"test_training_dropout", "training mode"},
                            {"test_training_dropout_default", "training mode"},
                            {"test_training_dropout_default_mask", "training mode"},
                            {"test_training_dropout_mask", "training mode"},
                            {"test_training_dropout_zero_ratio", "training mode"},
                            {"test_training_dropout_zero_ratio_mask", "training mode"}};
  r.add(dropout);
  r.add(entry("Shape", "all", "computed at codegen time; start/end honoured", [](lower_context& ctx) {
    const auto& x = ctx.in(0);
    const auto r = static_cast<std::int64_t>(x.dims.size());
    auto clampi = [&](std::int64_t v) { if (v < 0) v += r; return std::max<std::int64_t>(0, std::min(r, v)); };
    const auto start = clampi(ctx.n().get_int("start", 0));
    const auto end = clampi(ctx.n().get_int("end", r));
    std::vector<std::int64_t> v;
    for (auto i = start; i < end; ++i) v.push_back(x.dims[static_cast<std::size_t>(i)]);
    ctx.set_constant_output(0, dtype::i64, {static_cast<std::int64_t>(v.size())}, to_bytes(v));
  }));
  r.add(entry("Size", "all", "computed at codegen time", [](lower_context& ctx) {
    ctx.set_constant_output(0, dtype::i64, {}, to_bytes(std::vector<std::int64_t>{ctx.in(0).count()}));
  }));
  auto constant = entry("Constant", "all", "value, value_float(s), value_int(s)", [](lower_context& ctx) {
    const auto& n = ctx.n();
    if (n.has("value")) {
      const auto& a = n.attrs.at("value");
      ctx.set_constant_output(0, a.tensor_type, a.tensor_dims, a.tensor_value);
    } else if (n.has("value_float")) {
      ctx.set_constant_output(0, dtype::f32, {}, to_bytes(std::vector<float>{static_cast<float>(n.get_float("value_float", 0))}));
    } else if (n.has("value_int")) {
      ctx.set_constant_output(0, dtype::i64, {}, to_bytes(std::vector<std::int64_t>{n.get_int("value_int", 0)}));
    } else if (n.has("value_floats")) {
      std::vector<float> v;
      for (auto f : n.get_floats("value_floats")) v.push_back(static_cast<float>(f));
      ctx.set_constant_output(0, dtype::f32, {static_cast<std::int64_t>(v.size())}, to_bytes(v));
    } else if (n.has("value_ints")) {
      const auto v = n.get_ints("value_ints");
      ctx.set_constant_output(0, dtype::i64, {static_cast<std::int64_t>(v.size())}, to_bytes(v));
    } else {
      ctx.unsupported("Constant without a tensor, float or int value (sparse or string)");
    }
  });
  r.add(constant);
}

}  // namespace kiln::cg
