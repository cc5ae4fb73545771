// Lowerings of the neural-network operators: convolution, matrix products, pooling, softmax,
// batch normalization.
#include "spatial.hpp"

#include "../params_reflect.hpp"

#include <fmt/format.h>

#include <cmath>
#include <type_traits>

namespace kiln::cg {

namespace {

dims_t spatial(const dims_t& d) { return dims_t(d.begin() + 2, d.end()); }

// The conv's float weights (input 1) packed by pack(weights, out) into `count` elements, as a new
// constant: the kernels read them front to back.
template <class Pack>
tensor_id packed_weights(lower_context& ctx, std::size_t count, Pack&& pack) {
  const auto wv = ctx.const_doubles(1, "weight");
  const std::vector<float> wf(wv.begin(), wv.end());
  std::vector<float> packed(count);
  pack(wf.data(), packed.data());
  return ctx.constant("packed", dtype::f32, {static_cast<std::int64_t>(packed.size())}, to_bytes(packed));
}

// The Winograd output tile of a 3x3 conv (kiln compile --winograd), 0 for the direct kernel.
// "auto" takes it where it measured faster: the transforms cost per input and output channel
// what the products save per pair of them, so both counts must be large, and the plane large
// enough to fill the transforms' 16 lanes. Zen 5, single layers of C -> C channels on P x P
// planes (kiln bench, each tile against the direct kernel, medians of 200-300 runs; the grid in
// docs/performance.md). Taken where a tile was 10 % faster or more in every round: under that,
// the direct kernel's 16/9 to 4x smaller weights win.
// - C >= 64: F(4x4) 0.32-0.61 of the direct time from P = 14 up; F(2x2) 0.53-0.78 on 7x7 and
//   8x8, where F(4x4)'s 8x8 tiles waste up to a quarter and it is 1.3-2x slower.
// - C = 32: F(4x4) 0.53-0.79 from P = 28 up and 0.72-0.75 on 14x14; F(2x2) 0.65-0.82 on 16x16
//   and 0.77-0.81 on 7x7 and 8x8 (the 7x7 to 14x14 cells since the 2026-12-07 thirteenth
//   session's split; 0.85-1.16 and 0.91-0.95 before).
// - C = 16: F(2x2) 0.76-0.83 on 16x16 and 0.75-0.82 on 7x7, F(4x4) 0.58-0.81 on 32x32; 0.79-1.11
//   on 8x8, 0.87-1.46 on 14x14, 28x28 and 56x56.
// - C = 8: F(4x4) 0.71-0.80 on 32x32; 0.82-1.10 on 16x16, slower elsewhere.
// With 32 channels or more, planes between the measured ones take their neighbours' rule; with
// 16 or 8, only the measured cells take a tile.
index_t winograd_tile(graph::winograd_mode mode, const conv_params& p) {
  using mode_t = graph::winograd_mode;
  if (mode == mode_t::off) return 0;
  if (mode == mode_t::tile_2x2) return 2;
  if (mode == mode_t::tile_4x4) return 4;
  const index_t channels = p.in_channels < p.out_channels ? p.in_channels : p.out_channels;
  const index_t plane = p.out[1] < p.out[2] ? p.out[1] : p.out[2];
  if (channels >= 64) return plane >= 14 ? 4 : plane >= 7 ? 2 : 0;
  if (channels >= 32) return plane >= 28 || plane == 14 ? 4 : plane >= 7 ? 2 : 0;
  if (channels >= 16) return plane == 32 ? 4 : plane == 16 || plane == 7 ? 2 : 0;
  if (channels >= 8) return plane == 32 ? 4 : 0;
  return 0;
}

// A depthwise or pointwise conv reading or writing a channel-blocked tensor (stages/layout.cpp
// chose which; the kernels take every layout pair the stage can produce).
void lower_blocked_conv(lower_context& ctx, const conv_params& p) {
  using kiln::packed::channel_layout;
  constexpr auto planar = channel_layout::planar, blocked = channel_layout::blocked;
  const bool in = ctx.in(0).channel_blocked, out = ctx.g().at(ctx.out_id(0)).channel_blocked;
  const auto out_count = static_cast<std::uint64_t>(ctx.g().at(ctx.out_id(0)).count());
  const std::string layouts = "<" + layout_name(in) + ", " + layout_name(out) + ">";
  if (kiln::packed::depthwise_applies(p) && p.out_channels % kiln::packed::channel_block == 0 && !ctx.has_input(3)) {
    auto fn = in ? (out ? &kiln::packed::depthwise_by_layout<blocked, blocked>
                        : &kiln::packed::depthwise_by_layout<blocked, planar>)
                 : (out ? &kiln::packed::depthwise_by_layout<planar, blocked>
                        : &kiln::packed::depthwise_by_layout<planar, planar>);
    if (!ctx.is_constant(1)) throw std::logic_error(ctx.n().label() + ": blocked depthwise without constant weights");
    const index_t taps = p.kernel[1] * p.kernel[2];
    const auto wid = packed_weights(ctx, static_cast<std::size_t>(p.out_channels * taps), [&](const float* w, float* out) {
      kiln::packed::pack_depthwise_weights(w, p.out_channels, taps, out);
    });
    layer l = make_layer("kiln::packed::depthwise_by_layout" + layouts, fn, p,
                         {ctx.in_id(0), wid, ctx.in_id(2), ctx.out_id(0), scratch_arg});
    l.scratch_bytes = kiln::packed::depthwise_scratch_bytes(p);
    // A lane block's output rows trail its input rows (see kiln::packed::depthwise): in place
    // when both tensors are laid out alike.
    if (in == out && ctx.in(0).dims == ctx.g().at(ctx.out_id(0)).dims) l.inplace_ok = {0};
    l.macs = static_cast<std::uint64_t>(p.kernel[1] * p.kernel[2]) * out_count;
    ctx.emit(std::move(l));
    return;
  }
  if (!out || !kiln::packed::pointwise_applies(p) || !ctx.is_constant(1) || ctx.has_input(3))
    throw std::logic_error(ctx.n().label() + ": no kernel for its channel-blocked tensors");
  const auto wid = packed_weights(ctx, static_cast<std::size_t>(p.out_channels * p.in_channels),
                                  [&](const float* w, float* out) {
                                    kiln::packed::pack_pointwise_weights(w, p.out_channels, p.in_channels, out);
                                  });
  layer l = make_layer("kiln::packed::pointwise<" + layout_name(in) + ">",
                       in ? &kiln::packed::pointwise<blocked> : &kiln::packed::pointwise<planar>, p,
                       {ctx.in_id(0), wid, ctx.in_id(2), ctx.out_id(0)});
  l.macs = static_cast<std::uint64_t>(p.in_channels) * out_count;
  ctx.emit(std::move(l));
}

void lower_conv(lower_context& ctx) {
  const auto& x = ctx.in(0);
  const auto& w = ctx.in(1);
  const auto shape = conv_shape_for(ctx, x, w, x.type);
  const std::int64_t m = shape.out_channels;
  if (ctx.has_input(2) && ctx.in(2).count() != m) ctx.fail(fmt::format("bias has {} elements, expected {}", ctx.in(2).count(), m));
  conv_params p{};
  fill_conv_geometry(ctx, shape, p);
  p.act = fused_activation(ctx.n());
  const index_t cin_g = p.in_channels / p.group, mg = p.out_channels / p.group;
  // A fused Add's other operand (stages/fuse.cpp), added before the activation; the kernels' names
  // end in _residual and take it after the bias.
  const bool residual = ctx.has_input(3);
  if (residual && ctx.in(3).dims != ctx.g().at(ctx.out_id(0)).dims)
    ctx.fail(fmt::format("residual {} is not shaped as the output {}", dims_string(ctx.in(3).dims),
                         dims_string(ctx.g().at(ctx.out_id(0)).dims)));
  // The layer of kernel `plain` named name + targs, or of `fused` named name + "_residual" + targs.
  const auto conv_layer = [&](const std::string& name, auto plain, auto fused, std::vector<tensor_id> args,
                              const std::string& targs = {}) {
    if (!residual) return make_layer(name + targs, plain, p, std::move(args));
    args.insert(args.begin() + 3, ctx.in_id(3));
    return make_layer(name + "_residual" + targs, fused, p, std::move(args));
  };
  if (x.channel_blocked || ctx.g().at(ctx.out_id(0)).channel_blocked) {
    lower_blocked_conv(ctx, p);
    return;
  }
  if (ctx.g().packed_kernels && x.type == dtype::f32 && !residual && kiln::packed::depthwise_applies(p)) {
    layer l = make_layer("kiln::packed::depthwise", &kiln::packed::depthwise, p,
                         {ctx.in_id(0), ctx.in_id(1), ctx.in_id(2), ctx.out_id(0), scratch_arg});
    l.scratch_bytes = kiln::packed::depthwise_scratch_bytes(p);
    // Each channel's plane is copied into the scratch before that channel's output is written,
    // and never read again: the output may overwrite the input (TinyEngine's in-place depthwise).
    if (x.dims == ctx.g().at(ctx.out_id(0)).dims) l.inplace_ok = {0};
    l.macs = static_cast<std::uint64_t>(p.kernel[1] * p.kernel[2]) * static_cast<std::uint64_t>(ctx.g().at(ctx.out_id(0)).count());
    ctx.emit(std::move(l));
    return;
  }
  if (ctx.g().packed_kernels && x.type == dtype::f32 && ctx.is_constant(1) && kiln::packed::conv1x1_small_plane_applies(p)) {
    const auto wid = packed_weights(ctx, kiln::packed::dense_weight_count(p.out_channels, p.in_channels),
                                    [&](const float* w, float* out) {
                                      kiln::packed::pack_dense_weights(w, p.out_channels, p.in_channels, 1, p.in_channels, out);
                                    });
    layer l = conv_layer("kiln::packed::conv1x1_small_plane", &kiln::packed::conv1x1_small_plane,
                         &kiln::packed::conv1x1_small_plane_residual, {ctx.in_id(0), wid, ctx.in_id(2), ctx.out_id(0)});
    l.macs = static_cast<std::uint64_t>(p.in_channels) * static_cast<std::uint64_t>(ctx.g().at(ctx.out_id(0)).count());
    ctx.emit(std::move(l));
    return;
  }
  if (const index_t tile = ctx.g().packed_kernels && x.type == dtype::f32 && ctx.is_constant(1) &&
                                   kiln::packed::winograd_applies(p)
                               ? winograd_tile(ctx.g().winograd, p)
                               : 0) {
    const auto lower = [&](auto m) {
      constexpr index_t M = decltype(m)::value;
      const auto wid = packed_weights(ctx, kiln::packed::winograd_weight_count<M>(p.out_channels, p.in_channels),
                                      [&](const float* w, float* out) {
                                        kiln::packed::pack_winograd_weights<M>(w, p.out_channels, p.in_channels, out);
                                      });
      layer l = conv_layer("kiln::packed::conv_winograd", &kiln::packed::conv_winograd<M>,
                           &kiln::packed::conv_winograd_residual<M>,
                           {ctx.in_id(0), wid, ctx.in_id(2), ctx.out_id(0), scratch_arg}, fmt::format("<{}>", M));
      l.scratch_bytes = kiln::packed::winograd_scratch_bytes<M>(p);
      // the direct conv's multiply-adds, as every conv reports them (the transforms save a share)
      l.macs = static_cast<std::uint64_t>(9 * cin_g) * static_cast<std::uint64_t>(ctx.g().at(ctx.out_id(0)).count());
      ctx.emit(std::move(l));
    };
    if (tile == 4) lower(std::integral_constant<index_t, 4>{});
    else lower(std::integral_constant<index_t, 2>{});
    return;
  }
  if (ctx.g().packed_kernels && x.type == dtype::f32 && ctx.is_constant(1) && !(cin_g == 1 && mg == 1)) {
    const index_t k = cin_g * p.kernel[0] * p.kernel[1] * p.kernel[2];
    const auto wid = packed_weights(ctx, kiln::packed::conv_weight_count(p.out_channels, p.group, k, 1),
                                    [&](const float* w, float* out) {
                                      kiln::packed::pack_conv_weights(w, p.out_channels, p.group, k, 1, out,
                                                                      [](float v) { return v; });
                                    });
    layer l = conv_layer("kiln::packed::conv", &kiln::packed::conv, &kiln::packed::conv_residual,
                         {ctx.in_id(0), wid, ctx.in_id(2), ctx.out_id(0), scratch_arg});
    l.scratch_bytes = kiln::packed::conv_scratch_bytes(p);
    l.macs = static_cast<std::uint64_t>(k) * static_cast<std::uint64_t>(ctx.g().at(ctx.out_id(0)).count());
    ctx.emit(std::move(l));
    return;
  }
  dispatch(float_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    layer l = conv_layer("kiln::conv", &kiln::conv<T>, &kiln::conv_residual<T>,
                         {ctx.in_id(0), ctx.in_id(1), ctx.in_id(2), ctx.out_id(0)}, tmpl("", {cpp_name<T>()}));
    l.macs = static_cast<std::uint64_t>(w.count() / m);  // (C/group) * kernel taps per output element
    l.macs *= static_cast<std::uint64_t>(ctx.g().at(ctx.out_id(0)).count());
    ctx.emit(std::move(l));
  });
}

void lower_gemm(lower_context& ctx) {
  const auto& a = ctx.in(0);
  const auto& b = ctx.in(1);
  if (a.dims.size() != 2 || b.dims.size() != 2) ctx.fail("A and B must be 2-D");
  gemm_params p{};
  p.trans_a = ctx.n().get_int("transA", 0) != 0;
  p.trans_b = ctx.n().get_int("transB", 0) != 0;
  const auto m = p.trans_a ? a.dims[1] : a.dims[0];
  const auto k = p.trans_a ? a.dims[0] : a.dims[1];
  const auto kb = p.trans_b ? b.dims[1] : b.dims[0];
  const auto n = p.trans_b ? b.dims[0] : b.dims[1];
  if (k != kb) ctx.fail(fmt::format("inner dimensions differ: A {} and B {}", dims_string(a.dims), dims_string(b.dims)));
  ctx.set_output(0, a.type, {m, n});
  p.m = to_index(ctx, m);
  p.n = to_index(ctx, n);
  p.k = to_index(ctx, k);
  p.alpha = ctx.n().get_float("alpha", 1.0);
  p.beta = ctx.n().get_float("beta", 1.0);
  if (ctx.has_input(2)) {
    const auto& c = ctx.in(2);
    broadcast_shape(ctx, c.dims, {m, n});
    index_t s[2];
    broadcast_strides(c.dims, {m, n}, s);
    p.c_stride_m = s[0];
    p.c_stride_n = s[1];
  }
  p.act = fused_activation(ctx.n());
  if (ctx.g().packed_kernels && a.type == dtype::f32 && ctx.is_constant(1)) {
    const auto bv = ctx.const_doubles(1, "B");
    std::vector<float> bf(bv.begin(), bv.end());
    std::vector<float> packed(kiln::packed::dense_weight_count(p.n, p.k));
    kiln::packed::pack_dense_weights(bf.data(), p.n, p.k, p.trans_b ? 1 : p.n, p.trans_b ? p.k : 1, packed.data());
    const auto bid = ctx.constant("packed", dtype::f32, {static_cast<std::int64_t>(packed.size())}, to_bytes(packed));
    layer l = make_layer("kiln::packed::dense", &kiln::packed::dense, p, {ctx.in_id(0), bid, ctx.in_id(2), ctx.out_id(0)});
    l.macs = static_cast<std::uint64_t>(m) * static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(k);
    ctx.emit(std::move(l));
    return;
  }
  dispatch(float_types{}, a.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    layer l = make_layer(tmpl("kiln::gemm", {cpp_name<T>()}), &kiln::gemm<T>, p,
                         {ctx.in_id(0), ctx.in_id(1), ctx.in_id(2), ctx.out_id(0)});
    l.macs = static_cast<std::uint64_t>(m) * static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(k);
    ctx.emit(std::move(l));
  });
}

void lower_matmul(lower_context& ctx) {
  const auto& a = ctx.in(0);
  const auto& b = ctx.in(1);
  const auto geo = matmul_shape(ctx, a.dims, b.dims);
  ctx.set_output(0, a.type, geo.out);
  matmul_params p{};
  p.m = to_index(ctx, geo.m);
  p.n = to_index(ctx, geo.n);
  p.k = to_index(ctx, geo.k);
  fill_matmul_batch(ctx, geo, p.batch_rank, p.batch_count, p.batch_dims, p.batch_strides);
  const auto count = geo.batch_count;
  const auto m = geo.m, n = geo.n, k = geo.k;
  dispatch(numeric_types{}, a.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    layer l = make_layer(tmpl("kiln::matmul", {cpp_name<T>()}), &kiln::matmul<T>, p, {ctx.in_id(0), ctx.in_id(1), ctx.out_id(0)});
    l.macs = static_cast<std::uint64_t>(count) * static_cast<std::uint64_t>(m) * static_cast<std::uint64_t>(n) *
             static_cast<std::uint64_t>(k);
    ctx.emit(std::move(l));
  });
}

// Every pooling op: `global` uses the whole spatial extent as the window.
void lower_pool(lower_context& ctx, pool_kind kind, bool global) {
  const auto& x = ctx.in(0);
  if (x.dims.size() < 3) ctx.fail(fmt::format("input '{}' has rank {}, expected at least 3", x.name, x.dims.size()));
  const dims_t sp = spatial(x.dims);
  pool_params p{};
  p.kind = kind;
  p.batch = to_index(ctx, x.dims[0]);
  p.channels = to_index(ctx, x.dims[1]);
  p.p = to_index(ctx, ctx.n().get_int("p", 2));
  p.count_include_pad = ctx.n().get_int("count_include_pad", 0) != 0;
  window_geometry geo;
  if (global) {
    geo.kernel = sp;
    geo.out.assign(sp.size(), 1);
    geo.stride = geo.dilation = std::vector<std::int64_t>(sp.size(), 1);
    geo.pad_begin = geo.pad_end = std::vector<std::int64_t>(sp.size(), 0);
  } else {
    const auto kernel = ctx.n().get_ints("kernel_shape");
    if (kernel.size() != sp.size()) ctx.fail("kernel_shape must list every spatial axis");
    geo = window_for(ctx, sp, kernel, ctx.n().get_int("ceil_mode", 0) != 0);
  }
  p.column_major_indices = ctx.n().get_int("storage_order", 0) != 0;
  dims_t out{x.dims[0], x.dims[1]};
  out.insert(out.end(), geo.out.begin(), geo.out.end());
  ctx.set_output(0, x.type, out);
  to3(sp, p.in, 1, ctx);
  to3(geo.out, p.out, 1, ctx);
  to3(geo.kernel, p.kernel, 1, ctx);
  to3(geo.stride, p.stride, 1, ctx);
  to3(geo.dilation, p.dilation, 1, ctx);
  to3(geo.pad_begin, p.pad, 0, ctx);
  to3(geo.pad_end, p.pad_end, 0, ctx);
  const bool with_indices = ctx.has_output(1);
  if (with_indices) ctx.set_output(1, dtype::i64, out);
  if (x.channel_blocked) {  // stages/layout.cpp: an average over the whole plane
    if (kind != pool_kind::average || with_indices || x.type != dtype::f32 || p.out[0] * p.out[1] * p.out[2] != 1 ||
        p.pad[0] + p.pad[1] + p.pad[2] + p.pad_end[0] + p.pad_end[1] + p.pad_end[2] != 0)
      throw std::logic_error(ctx.n().label() + ": no kernel for its channel-blocked input");
    ctx.emit(make_layer("kiln::packed::global_average_pool_blocked", &kiln::packed::global_average_pool_blocked, p,
                        {ctx.in_id(0), ctx.out_id(0)}));
    return;
  }
  dispatch(numeric_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (kind != pool_kind::max && !std::is_floating_point_v<T>) ctx.unsupported("integer average/Lp pooling");
    if (with_indices)
      ctx.emit(make_layer(tmpl("kiln::pool_with_indices", {cpp_name<T>()}), &kiln::pool_with_indices<T>, p,
                          {ctx.in_id(0), ctx.out_id(0), ctx.out_id(1)}));
    else
      ctx.emit(make_layer(tmpl("kiln::pool", {cpp_name<T>()}), &kiln::pool<T>, p, {ctx.in_id(0), ctx.out_id(0)}));
  });
}

void lower_softmax(lower_context& ctx, softmax_kind kind) {
  const auto& x = ctx.in(0);
  ctx.set_output(0, x.type, x.dims);
  const bool coerce_2d = ctx.n().opset < 13;  // older opsets flatten to [outer, rest]
  const int axis = x.dims.empty() ? 0 : ctx.axis(ctx.n().get_int("axis", coerce_2d ? 1 : -1), x.dims.size());
  std::int64_t outer = 1, len = 1, inner = 1;
  for (std::size_t i = 0; i < x.dims.size(); ++i) {
    const auto ai = static_cast<int>(i);
    if (ai < axis) outer *= x.dims[i];
    else if (ai == axis || coerce_2d) len *= x.dims[i];
    else inner *= x.dims[i];
  }
  softmax_params p{kind, to_index(ctx, outer), to_index(ctx, len), to_index(ctx, inner)};
  dispatch(float_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::softmax", {cpp_name<T>()}), &kiln::softmax<T>, p, {ctx.in_id(0), ctx.out_id(0)}));
  });
}

void lower_batch_norm(lower_context& ctx) {
  const auto& x = ctx.in(0);
  if (ctx.n().get_int("training_mode", 0) != 0 || ctx.output_count() > 1)
    ctx.unsupported("training mode (running statistics outputs)");
  if (x.dims.size() < 2) ctx.fail("input must have a channel axis");
  ctx.set_output(0, x.type, x.dims);
  const auto scale = ctx.const_doubles(1, "BatchNormalization scale");
  const auto bias = ctx.const_doubles(2, "BatchNormalization bias");
  const auto mean = ctx.const_doubles(3, "BatchNormalization mean");
  const auto var = ctx.const_doubles(4, "BatchNormalization variance");
  const auto c = static_cast<std::size_t>(x.dims[1]);
  if (scale.size() != c || bias.size() != c || mean.size() != c || var.size() != c)
    ctx.fail(fmt::format("statistics must have {} elements, one per channel", c));
  const double eps = ctx.n().get_float("epsilon", 1e-5);
  std::int64_t inner = 1;
  for (std::size_t i = 2; i < x.dims.size(); ++i) inner *= x.dims[i];
  const channel_affine_params p{to_index(ctx, x.dims[0]), to_index(ctx, x.dims[1]), to_index(ctx, inner)};
  dispatch(float_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    // Folded in T's own precision, as ONNX Runtime computes BatchNormalization.
    std::vector<T> s(c), t(c);
    for (std::size_t i = 0; i < c; ++i) {
      s[i] = static_cast<T>(scale[i]) / std::sqrt(static_cast<T>(var[i]) + static_cast<T>(eps));
      t[i] = static_cast<T>(bias[i]) - static_cast<T>(mean[i]) * s[i];
    }
    const auto sid = ctx.constant("scale", x.type, {x.dims[1]}, to_bytes(s));
    const auto tid = ctx.constant("shift", x.type, {x.dims[1]}, to_bytes(t));
    layer l = make_layer(tmpl("kiln::channel_affine", {cpp_name<T>()}), &kiln::channel_affine<T>, p,
                         {ctx.in_id(0), sid, tid, ctx.out_id(0)});
    l.inplace_ok = {0};  // y[j] = x[j] * s + t, each x[j] read once just before y[j] is written
    ctx.emit(std::move(l));
  });
}

}  // namespace

void register_nn(registry& r) {
  const char* fl = "float, double";
  r.add(entry("Conv", fl, "1-D to 3-D, groups (depthwise), dilations, pads, every auto_pad", lower_conv));
  r.add(entry("Gemm", fl, "transA/transB, alpha/beta, broadcast C", lower_gemm));
  r.add(entry("MatMul", "float, double, integers", "batched, broadcast batch axes, 1-D operands", lower_matmul));
  auto mp = entry("MaxPool", "float, double, integers", "1-D to 3-D, ceil_mode, dilations, Indices output (either storage_order)",
                  [](lower_context& c) { lower_pool(c, pool_kind::max, false); });
  r.add(mp);
  r.add(entry("AveragePool", fl, "1-D to 3-D, ceil_mode, count_include_pad",
              [](lower_context& c) { lower_pool(c, pool_kind::average, false); }));
  r.add(entry("LpPool", fl, "1-D to 3-D", [](lower_context& c) { lower_pool(c, pool_kind::lp, false); }));
  r.add(entry("GlobalAveragePool", fl, "", [](lower_context& c) { lower_pool(c, pool_kind::average, true); }));
  r.add(entry("GlobalMaxPool", fl, "", [](lower_context& c) { lower_pool(c, pool_kind::max, true); }));
  r.add(entry("GlobalLpPool", fl, "", [](lower_context& c) { lower_pool(c, pool_kind::lp, true); }));
  r.add(entry("Softmax", fl, "opset < 13 flattens to 2-D", [](lower_context& c) { lower_softmax(c, softmax_kind::softmax); }));
  r.add(entry("LogSoftmax", fl, "opset < 13 flattens to 2-D", [](lower_context& c) { lower_softmax(c, softmax_kind::log_softmax); }));
  r.add(entry("Hardmax", fl, "", [](lower_context& c) { lower_softmax(c, softmax_kind::hardmax); }));
  auto bn = entry("BatchNormalization", fl, "inference only; statistics must be constants", lower_batch_norm);
  bn.excluded_tests = {{"test_batchnorm_epsilon_training_mode", "training mode"},
                       {"test_batchnorm_example_training_mode", "training mode"}};
  r.add(bn);
}

}  // namespace kiln::cg
