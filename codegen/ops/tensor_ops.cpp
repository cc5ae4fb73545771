// Lowerings of data-movement operators. Most become one strided copy (an output walk with one
// input stride per axis): Transpose, Slice, Expand, Tile, DepthToSpace, SpaceToDepth. Concat and
// Split are block copies; Pad, Gather, GatherElements, Resize and Trilu have their own kernels.
// Whatever does not move data is a view (ctx.alias): an identity Transpose or Slice (emit_strided),
// a one-input Concat, a Pad whose pads are all zero.
#include "common.hpp"

#include "../params_reflect.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace kiln::cg {

namespace {

std::vector<std::int64_t> strides_of(const dims_t& d) {
  std::vector<std::int64_t> s(d.size());
  std::int64_t acc = 1;
  for (std::size_t i = d.size(); i-- > 0;) {
    s[i] = acc;
    acc *= d[i];
  }
  return s;
}

std::int64_t product(const dims_t& d, std::size_t from = 0, std::size_t to = std::string::npos) {
  std::int64_t n = 1;
  for (std::size_t i = from; i < std::min(to, d.size()); ++i) n *= d[i];
  return n;
}

void check_rank(const lower_context& ctx, std::size_t rank) {
  if (rank > static_cast<std::size_t>(max_rank)) ctx.unsupported(fmt::format("rank {} above {}", rank, max_rank));
}

// Emits y = x viewed through (dims, strides, offset): y walks `dims` row-major and reads
// x[offset + sum(counter * stride)]. Unit axes are dropped and axes that are contiguous in the
// input merged, so views of any rank often fit max_rank; an identity view becomes an alias.
void emit_strided(lower_context& ctx, dims_t dims, std::vector<std::int64_t> strides, std::int64_t offset,
                  std::size_t in = 0, std::size_t out = 0) {
  const auto& x = ctx.in(in);
  dims_t d;
  std::vector<std::int64_t> s;
  std::int64_t count = 1;
  for (auto v : dims) count *= v;
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] == 1) continue;
    if (!d.empty() && s.back() == strides[i] * dims[i]) {
      d.back() *= dims[i];
      s.back() = strides[i];
      continue;
    }
    d.push_back(dims[i]);
    s.push_back(strides[i]);
  }
  if (count == 0) d.clear(), s.clear();  // an empty output: the kernel copies nothing
  if (count > 0 && offset == 0 && count == x.count() && (d.empty() || (d.size() == 1 && s[0] == 1))) {
    ctx.alias(out, in);
    return;
  }
  check_rank(ctx, d.size());
  strided_copy_params p{};
  p.rank = static_cast<index_t>(d.size());
  p.count = to_index(ctx, count);
  for (std::size_t i = 0; i < d.size(); ++i) {
    p.dims[i] = to_index(ctx, d[i]);
    p.strides[0][i] = to_index(ctx, s[i]);
  }
  p.offset = to_index(ctx, offset);
  dispatch(all_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::strided_copy", {cpp_name<T>()}), &kiln::strided_copy<T>, p, {ctx.in_id(in), ctx.out_id(out)}));
  });
}

void emit_block_copy(lower_context& ctx, dtype t, const block_copy_params& p, tensor_id src, tensor_id dst) {
  dispatch(all_types{}, t, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::block_copy", {cpp_name<T>()}), &kiln::block_copy<T>, p, {src, dst}));
  });
}

using index_types = type_list<std::int32_t, std::int64_t>;

// An input that is optional and may also be given as an empty tensor (Resize's roi/scales/sizes).
bool present(const lower_context& ctx, std::size_t i) { return ctx.has_input(i) && ctx.in(i).count() > 0; }

// ---- Transpose ----
void lower_transpose(lower_context& ctx) {
  const auto& x = ctx.in(0);
  const std::size_t r = x.dims.size();
  std::vector<std::int64_t> perm = ctx.n().get_ints("perm");
  if (perm.empty())
    for (std::size_t i = 0; i < r; ++i) perm.push_back(static_cast<std::int64_t>(r - 1 - i));
  if (perm.size() != r) ctx.fail(fmt::format("perm has {} entries for rank {}", perm.size(), r));
  std::vector<bool> seen(r, false);
  const auto in_strides = strides_of(x.dims);
  dims_t out;
  std::vector<std::int64_t> strides;
  for (auto pa : perm) {
    const auto a = static_cast<std::size_t>(ctx.axis(pa, r));
    if (seen[a]) ctx.fail("perm repeats an axis");
    seen[a] = true;
    out.push_back(x.dims[a]);
    strides.push_back(in_strides[a]);
  }
  ctx.set_output(0, x.type, out);
  emit_strided(ctx, out, strides, 0);
}

// ---- Concat ----
void lower_concat(lower_context& ctx) {
  if (ctx.input_count() == 0) ctx.fail("needs at least one input");
  const auto& first = ctx.in(0);
  const std::size_t r = first.dims.size();
  if (r == 0) ctx.fail("cannot concatenate scalars");
  const auto axis = static_cast<std::size_t>(ctx.axis(ctx.n().get_int("axis", 0), r));
  dims_t out = first.dims;
  out[axis] = 0;
  for (std::size_t i = 0; i < ctx.input_count(); ++i) {
    const auto& t = ctx.in(i);
    if (t.type != first.type) ctx.fail("inputs have different element types");
    if (t.dims.size() != r) ctx.fail(fmt::format("input {} has rank {}, input 0 rank {}", i, t.dims.size(), r));
    for (std::size_t a = 0; a < r; ++a)
      if (a != axis && t.dims[a] != first.dims[a])
        ctx.fail(fmt::format("input {} has shape {}, incompatible with {}", i, dims_string(t.dims), dims_string(first.dims)));
    out[axis] += t.dims[axis];
  }
  ctx.set_output(0, first.type, out);
  if (ctx.input_count() == 1) {
    ctx.alias(0, 0);
    return;
  }
  const std::int64_t outer = product(out, 0, axis), inner = product(out, axis + 1);
  std::int64_t at = 0;
  for (std::size_t i = 0; i < ctx.input_count(); ++i) {
    const auto n = ctx.in(i).dims[axis];
    block_copy_params p{};
    p.outer = to_index(ctx, outer);
    p.block = to_index(ctx, n * inner);
    p.src_stride = p.block;
    p.src_offset = 0;
    p.dst_stride = to_index(ctx, out[axis] * inner);
    p.dst_offset = to_index(ctx, at * inner);
    emit_block_copy(ctx, first.type, p, ctx.in_id(i), ctx.out_id(0));
    at += n;
  }
}

// ---- Split ----
void lower_split(lower_context& ctx) {
  const auto& x = ctx.in(0);
  const std::size_t r = x.dims.size();
  if (r == 0) ctx.fail("cannot split a scalar");
  const auto axis = static_cast<std::size_t>(ctx.axis(ctx.n().get_int("axis", 0), r));
  const std::size_t n = ctx.output_count();
  const std::int64_t dim = x.dims[axis];
  std::vector<std::int64_t> split;
  if (ctx.n().opset >= 13) {
    if (ctx.has_input(1)) split = ctx.const_ints(1, "Split's split");
  } else {
    split = ctx.n().get_ints("split");
  }
  if (split.empty()) {
    if (n == 0) ctx.fail("has no outputs");
    const auto num = static_cast<std::int64_t>(n);
    if (dim % num == 0) {
      split.assign(n, dim / num);
    } else if (ctx.n().has("num_outputs")) {  // opset 18: the last chunk is smaller
      const std::int64_t chunk = (dim + num - 1) / num;
      for (std::int64_t i = 0; i < num; ++i) split.push_back(std::max<std::int64_t>(0, std::min(chunk, dim - i * chunk)));
    } else {
      ctx.fail(fmt::format("cannot split dimension {} into {} equal parts", dim, n));
    }
  }
  if (split.size() != n) ctx.fail(fmt::format("split has {} entries for {} outputs", split.size(), n));
  std::int64_t total = 0;
  for (auto s : split) {
    if (s < 0) ctx.fail("split has a negative entry");
    total += s;
  }
  if (total != dim) ctx.fail(fmt::format("split sums to {}, the axis has {}", total, dim));
  const std::int64_t outer = product(x.dims, 0, axis), inner = product(x.dims, axis + 1);
  std::int64_t at = 0;
  for (std::size_t i = 0; i < n; ++i) {
    dims_t od = x.dims;
    od[axis] = split[i];
    ctx.set_output(i, x.type, od);
    if (ctx.has_output(i)) {
      block_copy_params p{};
      p.outer = to_index(ctx, outer);
      p.block = to_index(ctx, split[i] * inner);
      p.src_stride = to_index(ctx, dim * inner);
      p.src_offset = to_index(ctx, at * inner);
      p.dst_stride = p.block;
      p.dst_offset = 0;
      emit_block_copy(ctx, x.type, p, ctx.in_id(0), ctx.out_id(i));
    }
    at += split[i];
  }
}

// ---- Slice ----
void lower_slice(lower_context& ctx) {
  const auto& x = ctx.in(0);
  const std::size_t r = x.dims.size();
  std::vector<std::int64_t> starts, ends, axes, steps;
  if (ctx.n().opset >= 10) {
    starts = ctx.const_ints(1, "Slice's starts");
    ends = ctx.const_ints(2, "Slice's ends");
    if (ctx.has_input(3)) axes = ctx.const_ints(3, "Slice's axes");
    if (ctx.has_input(4)) steps = ctx.const_ints(4, "Slice's steps");
  } else {
    starts = ctx.n().get_ints("starts");
    ends = ctx.n().get_ints("ends");
    axes = ctx.n().get_ints("axes");
  }
  if (starts.size() != ends.size()) ctx.fail("starts and ends differ in length");
  if (axes.empty())
    for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<std::int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size()) ctx.fail("starts, ends, axes and steps differ in length");
  const auto in_strides = strides_of(x.dims);
  dims_t out = x.dims;
  std::vector<std::int64_t> strides = in_strides;
  std::vector<bool> seen(r, false);
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const auto a = static_cast<std::size_t>(ctx.axis(axes[i], r));
    if (seen[a]) ctx.fail("axes repeat");
    seen[a] = true;
    const std::int64_t dim = x.dims[a], step = steps[i];
    if (step == 0) ctx.fail("step is 0");
    auto norm = [&](std::int64_t v, std::int64_t lo, std::int64_t hi) {
      if (v < 0) v = v < -dim ? -1 - dim : v;  // avoid overflow on INT64_MIN, then shift
      if (v < 0) v += dim;
      return std::max(lo, std::min(hi, v));
    };
    std::int64_t start, end;
    if (step > 0) {
      start = norm(starts[i], 0, dim);
      end = norm(ends[i], 0, dim);
    } else {
      start = norm(starts[i], 0, dim - 1);
      end = norm(ends[i], -1, dim - 1);
    }
    std::int64_t n = 0;
    if (step > 0 && end > start) n = (end - start + step - 1) / step;
    if (step < 0 && start > end) n = (start - end + (-step) - 1) / (-step);
    out[a] = n;
    if (n > 0) offset += start * in_strides[a];
    strides[a] = in_strides[a] * step;
  }
  ctx.set_output(0, x.type, out);
  emit_strided(ctx, out, strides, product(out) == 0 ? 0 : offset);
}

// ---- Pad ----
void lower_pad(lower_context& ctx) {
  const auto& x = ctx.in(0);
  const std::size_t r = x.dims.size();
  const std::string mode_name = ctx.n().get_string("mode", "constant");
  pad_mode mode;
  if (mode_name == "constant") mode = pad_mode::constant;
  else if (mode_name == "reflect") mode = pad_mode::reflect;
  else if (mode_name == "edge") mode = pad_mode::edge;
  else ctx.unsupported("mode " + mode_name);
  std::vector<std::int64_t> pads;
  tensor_id value = no_tensor;
  if (ctx.n().opset >= 11) {
    pads = ctx.const_ints(1, "Pad's pads");
    if (ctx.has_input(2)) {
      if (ctx.in(2).type != x.type) ctx.fail("constant_value's type differs from the data's");
      if (ctx.in(2).count() != 1) ctx.fail("constant_value must hold one element");
      value = ctx.in_id(2);
    }
  } else {
    pads = ctx.n().get_ints("pads");
    const double v = ctx.n().get_float("value", 0.0);
    if (v != 0)
      dispatch(all_types{}, x.type, ctx, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T tv = static_cast<T>(v);
        std::vector<std::uint8_t> bytes(sizeof(T));
        std::memcpy(bytes.data(), &tv, sizeof(T));
        value = ctx.constant("value", x.type, {}, std::move(bytes));
      });
  }
  if (pads.size() != 2 * r) ctx.fail(fmt::format("pads has {} entries for rank {}", pads.size(), r));
  check_rank(ctx, r);
  pad_params p{};
  p.mode = mode;
  p.rank = static_cast<index_t>(r);
  dims_t out(r);
  const auto st = strides_of(x.dims);
  for (std::size_t a = 0; a < r; ++a) {
    out[a] = x.dims[a] + pads[a] + pads[a + r];
    if (out[a] < 0) ctx.fail(fmt::format("pads crop axis {} below zero", a));
    if (mode != pad_mode::constant && x.dims[a] == 0 && out[a] > 0) ctx.fail("cannot reflect or extend an empty axis");
    p.out_dims[a] = to_index(ctx, out[a]);
    p.in_dims[a] = to_index(ctx, x.dims[a]);
    p.in_strides[a] = to_index(ctx, st[a]);
    p.begin[a] = to_index(ctx, pads[a]);
  }
  p.count = to_index(ctx, product(out));
  ctx.set_output(0, x.type, out);
  // No padding in any mode (PyTorch's AveragePool export puts one before every pool): the output
  // is the input, so it becomes a view and the constant_value is never read.
  if (p.count > 0 && std::all_of(pads.begin(), pads.end(), [](std::int64_t v) { return v == 0; })) {
    ctx.alias(0, 0);
    return;
  }
  dispatch(all_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::pad", {cpp_name<T>()}), &kiln::pad<T>, p, {ctx.in_id(0), value, ctx.out_id(0)}));
  });
}

// ---- Gather / GatherElements ----
void lower_gather(lower_context& ctx) {
  const auto &x = ctx.in(0), &idx = ctx.in(1);
  const std::size_t r = x.dims.size();
  if (r == 0) ctx.fail("cannot gather from a scalar");
  const auto axis = static_cast<std::size_t>(ctx.axis(ctx.n().get_int("axis", 0), r));
  dims_t out(x.dims.begin(), x.dims.begin() + static_cast<std::ptrdiff_t>(axis));
  out.insert(out.end(), idx.dims.begin(), idx.dims.end());
  out.insert(out.end(), x.dims.begin() + static_cast<std::ptrdiff_t>(axis) + 1, x.dims.end());
  ctx.set_output(0, x.type, out);
  gather_params p{};
  p.outer = to_index(ctx, product(x.dims, 0, axis));
  p.axis_dim = to_index(ctx, x.dims[axis]);
  p.inner = to_index(ctx, product(x.dims, axis + 1));
  p.indices = to_index(ctx, idx.count());
  if (p.axis_dim == 0 && product(out) > 0) ctx.fail("gathers from an empty axis");
  dispatch(all_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch(index_types{}, idx.type, ctx, [&](auto itag) {
      using I = typename decltype(itag)::type;
      ctx.emit(make_layer(tmpl("kiln::gather", {cpp_name<T>(), cpp_name<I>()}), &kiln::gather<T, I>, p,
                          {ctx.in_id(0), ctx.in_id(1), ctx.out_id(0)}));
    });
  });
}

void lower_gather_elements(lower_context& ctx) {
  const auto &x = ctx.in(0), &idx = ctx.in(1);
  const std::size_t r = x.dims.size();
  if (r == 0) ctx.fail("cannot gather from a scalar");
  if (idx.dims.size() != r) ctx.fail("indices and data differ in rank");
  const auto axis = static_cast<std::size_t>(ctx.axis(ctx.n().get_int("axis", 0), r));
  ctx.set_output(0, x.type, idx.dims);
  check_rank(ctx, r);
  const auto st = strides_of(x.dims);
  gather_elements_params p{};
  p.rank = static_cast<index_t>(r);
  p.count = to_index(ctx, idx.count());
  for (std::size_t a = 0; a < r; ++a) {
    if (a != axis && idx.dims[a] > x.dims[a]) ctx.fail("indices are larger than the data off the gather axis");
    p.dims[a] = to_index(ctx, idx.dims[a]);
    p.strides[0][a] = a == axis ? 0 : to_index(ctx, st[a]);
  }
  p.axis_stride = to_index(ctx, st[axis]);
  p.axis_dim = to_index(ctx, x.dims[axis]);
  if (p.axis_dim == 0 && p.count > 0) ctx.fail("gathers from an empty axis");
  dispatch(all_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    dispatch(index_types{}, idx.type, ctx, [&](auto itag) {
      using I = typename decltype(itag)::type;
      ctx.emit(make_layer(tmpl("kiln::gather_elements", {cpp_name<T>(), cpp_name<I>()}), &kiln::gather_elements<T, I>, p,
                          {ctx.in_id(0), ctx.in_id(1), ctx.out_id(0)}));
    });
  });
}

// ---- Expand / Tile ----
void lower_expand(lower_context& ctx) {
  const auto& x = ctx.in(0);
  const auto shape = ctx.const_ints(1, "Expand's shape");
  const auto out = broadcast_shape(ctx, x.dims, shape);
  ctx.set_output(0, x.type, out);
  std::vector<std::int64_t> strides(out.size(), 0);
  const std::size_t off = out.size() - x.dims.size();
  const auto st = strides_of(x.dims);
  for (std::size_t i = 0; i < x.dims.size(); ++i) strides[i + off] = x.dims[i] == 1 ? 0 : st[i];
  emit_strided(ctx, out, strides, 0);
}

void lower_tile(lower_context& ctx) {
  const auto& x = ctx.in(0);
  const auto repeats = ctx.const_ints(1, "Tile's repeats");
  if (repeats.size() != x.dims.size()) ctx.fail(fmt::format("repeats has {} entries for rank {}", repeats.size(), x.dims.size()));
  const auto st = strides_of(x.dims);
  dims_t out, view;
  std::vector<std::int64_t> strides;
  for (std::size_t a = 0; a < x.dims.size(); ++a) {
    if (repeats[a] < 0) ctx.fail("repeats has a negative entry");
    out.push_back(x.dims[a] * repeats[a]);
    // Output axis a is [repeat, dim] row-major: the repeat index reads the same input (stride 0).
    view.push_back(repeats[a]);
    strides.push_back(0);
    view.push_back(x.dims[a]);
    strides.push_back(st[a]);
  }
  ctx.set_output(0, x.type, out);
  emit_strided(ctx, view, strides, 0);
}

// ---- DepthToSpace / SpaceToDepth ----
void lower_depth_to_space(lower_context& ctx) {
  const auto& x = ctx.in(0);
  if (x.dims.size() != 4) ctx.fail("input must be 4-D (N, C, H, W)");
  const std::int64_t b = ctx.n().get_int("blocksize", 0);
  if (b <= 0) ctx.fail("blocksize must be positive");
  const auto n = x.dims[0], c = x.dims[1], h = x.dims[2], w = x.dims[3];
  if (c % (b * b) != 0) ctx.fail(fmt::format("channels {} are not a multiple of blocksize² {}", c, b * b));
  const auto co = c / (b * b);
  const std::string mode = ctx.n().get_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") ctx.fail("mode must be DCR or CRD");
  ctx.set_output(0, x.type, {n, co, h * b, w * b});
  const auto hw = h * w;
  // Output viewed as [N, C', H, b1, W, b2].
  const std::int64_t sc = mode == "DCR" ? hw : b * b * hw;
  const std::int64_t sb1 = mode == "DCR" ? b * co * hw : b * hw;
  const std::int64_t sb2 = mode == "DCR" ? co * hw : hw;
  emit_strided(ctx, {n, co, h, b, w, b}, {c * hw, sc, w, sb1, 1, sb2}, 0);
}

void lower_space_to_depth(lower_context& ctx) {
  const auto& x = ctx.in(0);
  if (x.dims.size() != 4) ctx.fail("input must be 4-D (N, C, H, W)");
  const std::int64_t b = ctx.n().get_int("blocksize", 0);
  if (b <= 0) ctx.fail("blocksize must be positive");
  const auto n = x.dims[0], c = x.dims[1], h = x.dims[2], w = x.dims[3];
  if (h % b != 0 || w % b != 0) ctx.fail(fmt::format("spatial size {}x{} is not a multiple of blocksize {}", h, w, b));
  ctx.set_output(0, x.type, {n, c * b * b, h / b, w / b});
  // Output viewed as [N, b1, b2, C, H', W']; output channel = (b1*b + b2)*C + c.
  emit_strided(ctx, {n, b, b, c, h / b, w / b}, {c * h * w, w, 1, h * w, b * w, b}, 0);
}

// ---- ConstantOfShape / Range ----
void lower_constant_of_shape(lower_context& ctx) {
  const auto shape = ctx.const_ints(0, "ConstantOfShape's shape");
  dims_t out;
  for (auto d : shape) {
    if (d < 0) ctx.fail(fmt::format("shape has negative dimension {}", d));
    out.push_back(d);
  }
  dtype t = dtype::f32;
  std::vector<std::uint8_t> value(4, 0);
  if (ctx.n().has("value")) {
    const auto& a = ctx.n().attrs.at("value");
    if (a.tensor_value.size() != dtype_size(a.tensor_type)) ctx.fail("value must hold exactly one element");
    t = a.tensor_type;
    value = a.tensor_value;
  }
  ctx.set_output(0, t, out);
  const fill_params p{to_index(ctx, product(out))};
  const auto v = ctx.constant("value", t, {1}, value);
  dispatch(all_types{}, t, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::fill", {cpp_name<T>()}), &kiln::fill<T>, p, {v, ctx.out_id(0)}));
  });
}

void lower_range(lower_context& ctx) {
  const auto t = ctx.in(0).type;
  if (ctx.in(1).type != t || ctx.in(2).type != t) ctx.fail("start, limit and delta differ in type");
  std::int64_t n = 0;
  if (t == dtype::f32 || t == dtype::f64) {
    const double start = ctx.const_doubles(0, "Range's start").at(0);
    const double limit = ctx.const_doubles(1, "Range's limit").at(0);
    const double delta = ctx.const_doubles(2, "Range's delta").at(0);
    if (delta == 0) ctx.fail("delta is 0");
    n = static_cast<std::int64_t>(std::max(0.0, std::ceil((limit - start) / delta)));
  } else {
    const std::int64_t start = ctx.const_ints(0, "Range's start").at(0);
    const std::int64_t limit = ctx.const_ints(1, "Range's limit").at(0);
    const std::int64_t delta = ctx.const_ints(2, "Range's delta").at(0);
    if (delta == 0) ctx.fail("delta is 0");
    const std::int64_t span = limit - start;
    if ((span > 0 && delta > 0) || (span < 0 && delta < 0)) n = (span + delta + (delta > 0 ? -1 : 1)) / delta;
  }
  ctx.set_output(0, t, {n});
  const fill_params p{to_index(ctx, n)};
  dispatch(type_list<float, double, std::int16_t, std::int32_t, std::int64_t>{}, t, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::range", {cpp_name<T>()}), &kiln::range<T>, p, {ctx.in_id(0), ctx.in_id(2), ctx.out_id(0)}));
  });
}

// ---- Trilu ----
void lower_trilu(lower_context& ctx) {
  const auto& x = ctx.in(0);
  const std::size_t r = x.dims.size();
  if (r < 2) ctx.fail("input must have rank 2 or more");
  std::int64_t k = 0;
  if (ctx.has_input(1)) k = ctx.const_ints(1, "Trilu's k").at(0);
  ctx.set_output(0, x.type, x.dims);
  trilu_params p{};
  p.batch = to_index(ctx, product(x.dims, 0, r - 2));
  p.rows = to_index(ctx, x.dims[r - 2]);
  p.cols = to_index(ctx, x.dims[r - 1]);
  // Beyond ±(rows + cols) every k behaves alike; clamping keeps it in index_t.
  const std::int64_t lim = x.dims[r - 2] + x.dims[r - 1] + 1;
  p.k = to_index(ctx, std::max(-lim, std::min(lim, k)));
  p.upper = ctx.n().get_int("upper", 1) != 0;
  dispatch(all_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::trilu", {cpp_name<T>()}), &kiln::trilu<T>, p, {ctx.in_id(0), ctx.out_id(0)}));
  });
}

// ---- Resize / Upsample ----
struct resize_request {
  std::vector<double> scales;  // empty when sizes are given
  std::vector<std::int64_t> sizes;
  std::vector<double> roi;
};

void emit_resize(lower_context& ctx, resize_params p, const resize_request& rq) {
  const auto& x = ctx.in(0);
  const std::size_t r = x.dims.size();
  check_rank(ctx, r);
  dims_t out(r);
  for (std::size_t a = 0; a < r; ++a) {
    if (!rq.sizes.empty()) {
      out[a] = rq.sizes[a];
      if (out[a] < 0) ctx.fail("sizes has a negative entry");
      p.scales[a] = x.dims[a] == 0 ? 1.0 : static_cast<double>(out[a]) / static_cast<double>(x.dims[a]);
    } else {
      p.scales[a] = rq.scales[a];
      if (!(p.scales[a] > 0)) ctx.fail(fmt::format("scale {} is not positive", p.scales[a]));
      out[a] = static_cast<std::int64_t>(std::floor(p.scales[a] * static_cast<double>(x.dims[a])));
    }
    if (out[a] > 0 && x.dims[a] == 0) ctx.fail("cannot resize an empty axis to a non-empty one");
    if (!rq.roi.empty()) {
      p.roi_start[a] = rq.roi[a];
      p.roi_end[a] = rq.roi[a + r];
    }
  }
  const auto st = strides_of(x.dims);
  p.rank = static_cast<index_t>(r);
  for (std::size_t a = 0; a < r; ++a) {
    p.in_dims[a] = to_index(ctx, x.dims[a]);
    p.out_dims[a] = to_index(ctx, out[a]);
    p.in_strides[a] = to_index(ctx, st[a]);
  }
  p.count = to_index(ctx, product(out));
  ctx.set_output(0, x.type, out);
  auto emit = [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::resize", {cpp_name<T>()}), &kiln::resize<T>, p, {ctx.in_id(0), ctx.out_id(0)}));
  };
  if (p.mode == resize_mode::nearest) dispatch(all_types{}, x.type, ctx, emit);
  else dispatch(float_types{}, x.type, ctx, emit);
}

resize_mode mode_of(const lower_context& ctx, const std::string& m) {
  if (m == "nearest") return resize_mode::nearest;
  if (m == "linear" || m == "bilinear") return resize_mode::linear;
  if (m == "cubic") return resize_mode::cubic;
  ctx.fail("unknown mode " + m);
}

// Resize 10's and Upsample's nearest rounding, which their specifications leave open: ONNX
// Runtime takes the floor of the source coordinate on an axis it enlarges and the ceiling on one
// it shrinks. One rounding serves all axes here, so a node that does both is refused.
resize_nearest legacy_nearest(const lower_context& ctx, const std::vector<double>& scales) {
  bool enlarges = false, shrinks = false;
  for (double s : scales) {
    enlarges = enlarges || s > 1;
    shrinks = shrinks || s < 1;
  }
  if (enlarges && shrinks) ctx.unsupported("nearest mode (opset < 11) that enlarges one axis and shrinks another");
  return shrinks ? resize_nearest::ceil : resize_nearest::floor;
}

void lower_resize(lower_context& ctx) {
  const auto& x = ctx.in(0);
  const std::size_t r = x.dims.size();
  const auto& n = ctx.n();
  resize_params p{};
  p.mode = mode_of(ctx, n.get_string("mode", "nearest"));
  // Resize 10 (and Upsample, which convert_opset makes a Resize) in their own words, or marked
  // after conversion: asymmetric coordinates, nearest rounded as legacy_nearest.
  const bool legacy = n.opset < 11 || n.get_int(legacy_resize_attribute, 0) != 0;
  const std::string coord = legacy ? "asymmetric" : n.get_string("coordinate_transformation_mode", "half_pixel");
  if (coord == "half_pixel") p.coord = resize_coord::half_pixel;
  else if (coord == "pytorch_half_pixel") p.coord = resize_coord::pytorch_half_pixel;
  else if (coord == "align_corners") p.coord = resize_coord::align_corners;
  else if (coord == "asymmetric") p.coord = resize_coord::asymmetric;
  else if (coord == "tf_half_pixel_for_nn") p.coord = resize_coord::tf_half_pixel_for_nn;
  else if (coord == "tf_crop_and_resize") p.coord = resize_coord::tf_crop_and_resize;
  else ctx.fail("unknown coordinate_transformation_mode " + coord);
  const std::string nm = n.get_string("nearest_mode", "round_prefer_floor");
  if (nm == "round_prefer_floor") p.nearest = resize_nearest::round_prefer_floor;
  else if (nm == "round_prefer_ceil") p.nearest = resize_nearest::round_prefer_ceil;
  else if (nm == "floor") p.nearest = resize_nearest::floor;
  else if (nm == "ceil") p.nearest = resize_nearest::ceil;
  else ctx.fail("unknown nearest_mode " + nm);
  p.cubic_a = n.get_float("cubic_coeff_a", -0.75);
  p.exclude_outside = n.get_int("exclude_outside", 0) != 0;
  p.extrapolation = n.get_float("extrapolation_value", 0.0);
  if (n.has("antialias") && n.get_int("antialias", 0) != 0) ctx.unsupported("antialias");
  if (n.has("axes")) ctx.unsupported("axes attribute");
  resize_request rq;
  if (n.opset < 11) {
    rq.scales = ctx.const_doubles(1, "Resize's scales");
  } else {
    if (present(ctx, 3)) rq.sizes = ctx.const_ints(3, "Resize's sizes");
    else if (present(ctx, 2)) rq.scales = ctx.const_doubles(2, "Resize's scales");
    else ctx.fail("needs scales or sizes");
    if (p.coord == resize_coord::tf_crop_and_resize) {
      if (!present(ctx, 1)) ctx.fail("tf_crop_and_resize needs roi");
      rq.roi = ctx.const_doubles(1, "Resize's roi");
      if (rq.roi.size() != 2 * r) ctx.fail(fmt::format("roi has {} entries for rank {}", rq.roi.size(), r));
    }
  }
  if (!rq.sizes.empty() && rq.sizes.size() != r) ctx.fail(fmt::format("sizes has {} entries for rank {}", rq.sizes.size(), r));
  if (rq.sizes.empty() && rq.scales.size() != r) ctx.fail(fmt::format("scales has {} entries for rank {}", rq.scales.size(), r));
  if (legacy) p.nearest = legacy_nearest(ctx, rq.scales);
  emit_resize(ctx, p, rq);
}

void lower_upsample(lower_context& ctx) {
  const auto& x = ctx.in(0);
  resize_params p{};
  p.mode = mode_of(ctx, ctx.n().get_string("mode", "nearest"));
  if (p.mode == resize_mode::cubic) ctx.fail("Upsample has no cubic mode");
  p.coord = resize_coord::asymmetric;
  p.cubic_a = -0.75;
  resize_request rq;
  if (ctx.has_input(1)) rq.scales = ctx.const_doubles(1, "Upsample's scales");
  else rq.scales = ctx.n().get_floats("scales");
  if (rq.scales.size() != x.dims.size()) ctx.fail(fmt::format("scales has {} entries for rank {}", rq.scales.size(), x.dims.size()));
  p.nearest = legacy_nearest(ctx, rq.scales);
  emit_resize(ctx, p, rq);
}

}  // namespace

void register_tensor_ops(registry& r) {
  const char* all = "all";
  r.add(entry("Transpose", all, "strided copy; an identity permutation is a free view", lower_transpose));
  r.add(entry("Concat", all, "any number of inputs, one block copy each", lower_concat));
  r.add(entry("Split", all, "split sizes must be constant (input since 13, attribute before); equal parts without them",
              lower_split));
  r.add(entry("Slice", all, "starts/ends/axes/steps must be constant; negative steps, clamping", lower_slice));
  r.add(entry("Pad", all, "modes constant, reflect, edge; pads must be constant; constant_value may be a runtime tensor",
              lower_pad));
  r.add(entry("Gather", "all (indices int32/int64)",
              "any axis; indices may be runtime tensors, negative ones count from the end, out-of-range ones are clamped",
              lower_gather));
  r.add(entry("GatherElements", "all (indices int32/int64)",
              "indices may be runtime tensors; negative ones count from the end, out-of-range ones are clamped",
              lower_gather_elements));
  r.add(entry("Expand", all, "shape must be constant", lower_expand));
  r.add(entry("Tile", all, "repeats must be constant", lower_tile));
  r.add(entry("ConstantOfShape", all, "shape must be constant (computed at codegen time)", lower_constant_of_shape));
  {
    auto e = entry("Range", "float, double, int16, int32, int64",
                   "start/limit/delta must be constant (the output's length depends on them); computed at codegen time",
                   lower_range);
    const char* why = "Range's limit is computed at run time from the window-size graph input, so the output shape is not static";
    e.excluded_tests = {{"test_blackmanwindow_expanded", why}, {"test_blackmanwindow_symmetric_expanded", why},
                        {"test_hammingwindow_expanded", why}, {"test_hammingwindow_symmetric_expanded", why},
                        {"test_hannwindow_expanded", why},    {"test_hannwindow_symmetric_expanded", why}};
    r.add(std::move(e));
  }
  r.add(entry("DepthToSpace", all, "DCR and CRD modes, 4-D input", lower_depth_to_space));
  r.add(entry("SpaceToDepth", all, "4-D input", lower_space_to_depth));
  r.add(entry("Trilu", all, "k must be constant", lower_trilu));
  {
    auto e = entry("Resize", "float, double (nearest: all)",
                   "modes nearest (every nearest_mode), linear (N-linear), cubic (cubic_coeff_a, exclude_outside); "
                   "every coordinate_transformation_mode incl. tf_crop_and_resize; scales/sizes/roi must be constant; "
                   "no antialias; coordinates from the output length as ONNX Runtime (where scale x input length "
                   "is fractional, ONNX's reference differs)",
                   lower_resize);
    const char* why = "the scale gives a fractional output length: kiln computes align_corners coordinates from the "
                      "output length as ONNX Runtime and PyTorch do, these tests from scale x input length";
    e.excluded_tests = {{"test_resize_downsample_scales_cubic_align_corners", why},
                        {"test_resize_downsample_scales_linear_align_corners", why}};
    r.add(std::move(e));
  }
  r.add(entry("Upsample", "float, double (nearest: all)", "nearest and linear, scales must be constant", lower_upsample));
}

}  // namespace kiln::cg
