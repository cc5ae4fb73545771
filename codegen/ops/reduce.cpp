// Lowerings of reductions: the Reduce* family (one kiln::reduce kernel, the operation an enum)
// and ArgMax/ArgMin.
#include "axis_split.hpp"

#include "../params_reflect.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace kiln::cg {

namespace {

// The reduced axes, normalised and sorted; `noop` when empty axes mean "leave the input alone".
std::vector<int> reduce_axes(const lower_context& ctx, std::size_t rank, bool& noop) {
  const auto& n = ctx.n();
  // ReduceSum took axes as an input from opset 13, the other reductions from opset 18.
  const bool axes_input = n.opset >= (n.op_type == "ReduceSum" ? 13 : 18);
  std::vector<std::int64_t> raw;
  if (axes_input) {
    if (n.has("axes")) ctx.fail("axes is an input, not an attribute, at this opset");
    if (ctx.has_input(1)) raw = ctx.const_ints(1, "reduction axes");
  } else {
    raw = n.get_ints("axes", {});
  }
  noop = raw.empty() && n.get_int("noop_with_empty_axes", 0) != 0;
  std::vector<int> axes;
  if (raw.empty()) {
    for (std::size_t i = 0; i < rank; ++i) axes.push_back(static_cast<int>(i));
  } else {
    for (auto a : raw) axes.push_back(ctx.axis(a, rank));
  }
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) ctx.fail("axes lists an axis twice");
  return axes;
}

void lower_reduce(lower_context& ctx, reduce_kind kind) {
  const auto& x = ctx.in(0);
  const std::size_t rank = x.dims.size();
  bool noop = false;
  const auto axes = reduce_axes(ctx, rank, noop);
  if (noop) {
    ctx.set_output(0, x.type, x.dims);
    ctx.alias(0, 0);
    return;
  }
  const bool keepdims = ctx.n().get_int("keepdims", 1) != 0;
  std::vector<bool> reduced(rank, false);
  for (int a : axes) reduced[static_cast<std::size_t>(a)] = true;
  dims_t out;
  for (std::size_t i = 0; i < rank; ++i) {
    if (!reduced[i]) out.push_back(x.dims[i]);
    else if (keepdims) out.push_back(1);
  }
  ctx.set_output(0, x.type, out);

  const auto split = split_axes(x.dims, reduced, {dense_strides(x.dims)});
  reduce_params p{};
  p.kind = kind;
  fill_axis_set(ctx, split.kept, p.out_count, p.out_rank, p.out_dims, {p.out_strides});
  fill_axis_set(ctx, split.reduced, p.red_count, p.red_rank, p.red_dims, {p.red_strides});
  const bool float_only = kind == reduce_kind::l2 || kind == reduce_kind::log_sum || kind == reduce_kind::log_sum_exp;
  auto emit = [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::reduce", {cpp_name<T>()}), &kiln::reduce<T>, p, {ctx.in_id(0), ctx.out_id(0)}));
  };
  if (float_only) dispatch(float_types{}, x.type, ctx, emit);
  else dispatch(numeric_types{}, x.type, ctx, emit);
}

void lower_arg(lower_context& ctx, arg_kind kind) {
  const auto& x = ctx.in(0);
  const std::size_t rank = x.dims.size();
  if (rank == 0) ctx.fail("input must have rank 1 or more");
  const int axis = ctx.axis(ctx.n().get_int("axis", 0), rank);
  const bool keepdims = ctx.n().get_int("keepdims", 1) != 0;
  dims_t out;
  std::int64_t outer = 1, inner = 1;
  for (std::size_t i = 0; i < rank; ++i) {
    const auto ai = static_cast<int>(i);
    if (ai < axis) outer *= x.dims[i];
    if (ai > axis) inner *= x.dims[i];
    if (ai != axis) out.push_back(x.dims[i]);
    else if (keepdims) out.push_back(1);
  }
  const std::int64_t len = x.dims[static_cast<std::size_t>(axis)];
  if (len == 0 && outer * inner > 0) ctx.fail("cannot take the index of an extreme over an empty axis");
  ctx.set_output(0, dtype::i64, out);
  arg_reduce_params p{};
  p.kind = kind;
  p.select_last = ctx.n().get_int("select_last_index", 0) != 0;
  p.outer = to_index(ctx, outer);
  p.len = to_index(ctx, len);
  p.inner = to_index(ctx, inner);
  dispatch(numeric_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::arg_reduce", {cpp_name<T>()}), &kiln::arg_reduce<T>, p, {ctx.in_id(0), ctx.out_id(0)}));
  });
}

op_entry reduce_entry(const char* name, reduce_kind kind, const char* types, const char* notes) {
  op_entry e;
  e.op_type = name;
  e.types = types;
  e.notes = notes;
  e.lower = [kind](lower_context& ctx) { lower_reduce(ctx, kind); };
  return e;
}

}  // namespace

void register_reduce(registry& r) {
  const char* num = "float, double, integers";
  const char* fl = "float, double";
  const char* attr = "any axes, keepdims, noop_with_empty_axes; axes as a constant input from opset 18";
  r.add(reduce_entry("ReduceSum", reduce_kind::sum, num,
                     "any axes, keepdims, noop_with_empty_axes; axes input (opset 13+) must be a constant"));
  r.add(reduce_entry("ReduceMean", reduce_kind::mean, num, "any axes, keepdims, noop_with_empty_axes; axes as a constant input from opset 18; integer means truncate"));
  r.add(reduce_entry("ReduceMax", reduce_kind::max, num, attr));
  r.add(reduce_entry("ReduceMin", reduce_kind::min, num, attr));
  r.add(reduce_entry("ReduceProd", reduce_kind::prod, num, attr));
  r.add(reduce_entry("ReduceL1", reduce_kind::l1, num, attr));
  r.add(reduce_entry("ReduceL2", reduce_kind::l2, fl, attr));
  r.add(reduce_entry("ReduceLogSum", reduce_kind::log_sum, fl, attr));
  r.add(reduce_entry("ReduceLogSumExp", reduce_kind::log_sum_exp, fl, "any axes, keepdims, noop_with_empty_axes; axes as a constant input from opset 18; max factored out for stability"));
  r.add(reduce_entry("ReduceSumSquare", reduce_kind::sum_square, num, attr));
  for (auto [name, kind] : {std::pair{"ArgMax", arg_kind::max}, std::pair{"ArgMin", arg_kind::min}}) {
    op_entry e;
    e.op_type = name;
    e.types = num;
    e.notes = "keepdims, select_last_index; int64 indices";
    const arg_kind k = kind;
    e.lower = [k](lower_context& ctx) { lower_arg(ctx, k); };
    r.add(std::move(e));
  }
}

}  // namespace kiln::cg
