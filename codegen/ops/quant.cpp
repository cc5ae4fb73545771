// Lowerings of the ONNX quantization operators. QuantizeLinear, DequantizeLinear and
// DynamicQuantizeLinear are float math by definition; QLinearConv, QLinearMatMul, ConvInteger and
// MatMulInteger accumulate in int32 and requantize with integers only (kiln/core/requantize.hpp):
// constant scales become exact float32 (mantissa, exponent) pairs here, at codegen time.
#include "spatial.hpp"

#include "../params_reflect.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace kiln::cg {

namespace {

using q8_types = type_list<std::int8_t, std::uint8_t>;


void require_f32(const lower_context& ctx, std::size_t i, const char* what) {
  if (ctx.in(i).type != dtype::f32) ctx.unsupported(fmt::format("{} of type {}", what, dtype_name(ctx.in(i).type)));
}

// A constant scale of Quantize/DequantizeLinear must be finite, and QuantizeLinear's (a divisor)
// non-zero. Calibration over a -inf attention mask writes scale inf; what such a quantization
// computes is NaN or 0 by the order of operations, and ONNX Runtime's fused kernels and kiln's
// would disagree silently, so the model is refused with the tensor named.
void require_usable_scales(const lower_context& ctx, bool divisor) {
  if (!ctx.is_constant(1)) return;
  for (double s : ctx.const_doubles(1, "scale"))
    if (!std::isfinite(s) || (divisor && s == 0))
      ctx.unsupported(fmt::format("scale '{}' holds {} (a quantization scale must be finite{})", ctx.in(1).name, s,
                                  divisor ? " and non-zero" : ""));
}

// Scale/zero-point layout of Quantize/DequantizeLinear: per tensor or along `axis` (opset 13).
quant_params quant_layout(lower_context& ctx, const tensor& x) {
  const auto& s = ctx.in(1);
  if (ctx.has_input(2) && ctx.in(2).count() != s.count())
    ctx.fail(fmt::format("zero point has {} elements, scale has {}", ctx.in(2).count(), s.count()));
  quant_params p{1, 1, to_index(ctx, x.count())};
  if (s.dims.empty() || (s.count() == 1 && ctx.n().opset < 13)) return p;
  if (s.dims.size() != 1) ctx.fail("scale must be a scalar or 1-D");
  if (ctx.n().opset < 13) ctx.fail("per-axis scales need opset 13");
  const int axis = ctx.axis(ctx.n().get_int("axis", 1), x.dims.size());
  if (s.count() != x.dims[static_cast<std::size_t>(axis)])
    ctx.fail(fmt::format("scale has {} elements, axis {} has {}", s.count(), axis, x.dims[static_cast<std::size_t>(axis)]));
  std::int64_t outer = 1, inner = 1;
  for (std::size_t i = 0; i < x.dims.size(); ++i) {
    if (static_cast<int>(i) < axis) outer *= x.dims[i];
    else if (static_cast<int>(i) > axis) inner *= x.dims[i];
  }
  return {to_index(ctx, outer), to_index(ctx, s.count()), to_index(ctx, inner)};
}

void lower_quantize(lower_context& ctx) {
  const auto& x = ctx.in(0);
  require_f32(ctx, 1, "scale");
  require_usable_scales(ctx, true);
  const dtype yt = ctx.has_input(2) ? ctx.in(2).type : dtype::u8;
  ctx.set_output(0, yt, x.dims);
  const quant_params p = quant_layout(ctx, x);
  dispatch(type_list<float, std::int32_t>{}, x.type, ctx, [&](auto xtag) {
    using X = typename decltype(xtag)::type;
    dispatch(q8_types{}, yt, ctx, [&](auto ytag) {
      using Y = typename decltype(ytag)::type;
      const std::vector<tensor_id> args{ctx.in_id(0), ctx.in_id(1), ctx.in_id(2), ctx.out_id(0)};
      if constexpr (std::is_same_v<X, float>)
        if (ctx.g().packed_kernels)
          return ctx.emit(make_layer(tmpl("kiln::packed::quantize_linear", {cpp_name<Y>()}),
                                     &kiln::packed::quantize_linear<Y>, p, args));
      ctx.emit(make_layer(tmpl("kiln::quantize_linear", {cpp_name<X>(), cpp_name<Y>()}), &kiln::quantize_linear<X, Y>,
                          p, args));
    });
  });
}

void lower_dequantize(lower_context& ctx) {
  const auto& x = ctx.in(0);
  require_f32(ctx, 1, "scale");
  require_usable_scales(ctx, false);
  if (ctx.has_input(2) && ctx.in(2).type != x.type) ctx.fail("zero point and input types differ");
  ctx.set_output(0, dtype::f32, x.dims);
  const quant_params p = quant_layout(ctx, x);
  dispatch(type_list<std::int8_t, std::uint8_t, std::int32_t>{}, x.type, ctx, [&](auto tag) {
    using X = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::dequantize_linear", {cpp_name<X>()}), &kiln::dequantize_linear<X>, p,
                        {ctx.in_id(0), ctx.in_id(1), ctx.in_id(2), ctx.out_id(0)}));
  });
}

void lower_dynamic_quantize(lower_context& ctx) {
  const auto& x = ctx.in(0);
  if (x.type != dtype::f32) ctx.unsupported(fmt::format("input of type {}", dtype_name(x.type)));
  ctx.set_output(0, dtype::u8, x.dims);
  ctx.set_output(1, dtype::f32, {});
  ctx.set_output(2, dtype::u8, {});
  const tensor_id s = ctx.has_output(1) ? ctx.out_id(1) : ctx.temp(dtype::f32, {});
  const tensor_id z = ctx.has_output(2) ? ctx.out_id(2) : ctx.temp(dtype::u8, {});
  const dynamic_quant_params p{to_index(ctx, x.count())};
  ctx.emit(make_layer("kiln::dynamic_quantize_linear<float, std::uint8_t>",
                      &kiln::dynamic_quantize_linear<float, std::uint8_t>, p, {ctx.in_id(0), ctx.out_id(0), s, z}));
}

// The requantization scales of a QLinear op: `count` float32(a_scale * b_scale[i] / y_scale),
// combined in ONNX Runtime's order, folded here when the scales are constants. Kernels read their
// exact significand and exponent (kiln/core/requantize.hpp): 4 bytes per channel, like the
// model's own weight scales.
tensor_id requant_table(lower_context& ctx, std::size_t a_scale, std::size_t b_scale, std::size_t y_scale,
                        std::int64_t count) {
  for (auto i : {a_scale, b_scale, y_scale}) require_f32(ctx, i, "scale");
  if (ctx.in(a_scale).count() != 1 || ctx.in(y_scale).count() != 1)
    ctx.unsupported("per-row input scales or per-element output scales (only per-tensor)");
  if (ctx.in(b_scale).count() != count) ctx.fail(fmt::format("weight scale has {} elements, expected 1 or {}", ctx.in(b_scale).count(), count));
  if (ctx.is_constant(a_scale) && ctx.is_constant(b_scale) && ctx.is_constant(y_scale)) {
    const float a = static_cast<float>(ctx.const_doubles(a_scale, "scale")[0]);
    const float y = static_cast<float>(ctx.const_doubles(y_scale, "scale")[0]);
    std::vector<float> scales;
    for (double bv : ctx.const_doubles(b_scale, "scale")) {
      const float s = a * static_cast<float>(bv) / y;  // float32, in ONNX Runtime's order
      if (!std::isfinite(s)) ctx.fail(fmt::format("combined scale {} * {} / {} is not finite", a, bv, y));
      scales.push_back(s);
    }
    return ctx.constant("requant", dtype::f32, {count}, to_bytes(scales));
  }
  const tensor_id t = ctx.temp(dtype::f32, {count});
  const requant_scales_params p{to_index(ctx, count)};
  ctx.emit(make_layer("kiln::requant_scales<float>", &kiln::requant_scales<float>, p,
                      {ctx.in_id(a_scale), ctx.in_id(b_scale), ctx.in_id(y_scale), t}));
  return t;
}

std::int64_t type_lo(dtype t) { return t == dtype::i8 ? -128 : 0; }
std::int64_t type_hi(dtype t) { return t == dtype::i8 ? 127 : 255; }

// Largest |v - zp| over the values of type `t` and the (constant, else any) zero points.
std::int64_t max_centered(const lower_context& ctx, dtype t, std::size_t zp) {
  if (!ctx.has_input(zp)) return std::max(-type_lo(t), type_hi(t));
  if (!ctx.is_constant(zp)) return type_hi(t) - type_lo(t);
  std::int64_t m = 0;
  for (auto z : ctx.const_ints(zp, "zero point"))
    m = std::max({m, type_hi(t) - z, z - type_lo(t)});
  return m;
}

// Refuses a node whose int32 accumulator could overflow: max|x - x_zp| times the largest sum of
// |w - w_zp| over one output (from the constant weights when known, else k * max|w - w_zp|),
// plus the largest constant bias. `column(i)` maps a flat weight index to its output column and
// `zp_index(col)` to that column's weight zero point.
template <class Column, class ZpIndex>
void check_accumulator(const lower_context& ctx, std::int64_t k, dtype xt, std::size_t x_zp, std::size_t w,
                       std::size_t w_zp, std::size_t bias, Column column, ZpIndex zp_index) {
  const std::int64_t dx = max_centered(ctx, xt, x_zp);
  const dtype wt = ctx.in(w).type;
  std::int64_t wsum;
  if (ctx.is_constant(w) && (!ctx.has_input(w_zp) || ctx.is_constant(w_zp))) {
    const auto wv = ctx.const_ints(w, "weight");
    const auto zps = ctx.has_input(w_zp) ? ctx.const_ints(w_zp, "zero point") : std::vector<std::int64_t>{0};
    std::map<std::int64_t, std::int64_t> sums;
    for (std::size_t i = 0; i < wv.size(); ++i) {
      const std::int64_t c = column(static_cast<std::int64_t>(i));
      sums[c] += std::abs(wv[i] - zps[static_cast<std::size_t>(zp_index(c))]);
    }
    wsum = 0;
    for (const auto& s : sums) wsum = std::max(wsum, s.second);
  } else {
    wsum = k * max_centered(ctx, wt, w_zp);
  }
  std::int64_t b = 0;
  if (ctx.has_input(bias) && ctx.is_constant(bias))
    for (auto v : ctx.const_ints(bias, "bias")) b = std::max<std::int64_t>(b, std::abs(v));
  const std::int64_t worst = dx * wsum + b;
  if (worst > std::numeric_limits<std::int32_t>::max())
    ctx.unsupported(fmt::format("the int32 accumulator could overflow: {} terms, worst case |acc| = {} * {} + {} = {} "
                                "> 2^31-1",
                                k, dx, wsum, b, worst));
}

// Convolution geometry shared by QLinearConv and ConvInteger; sets output 0 (type `yt`).
qconv_params conv_geometry(lower_context& ctx, const tensor& x, const tensor& w, dtype yt) {
  qconv_params p{};
  fill_conv_geometry(ctx, conv_shape_for(ctx, x, w, yt), p);
  p.w_zp_count = 1;
  p.rq_count = 1;
  return p;
}

std::uint64_t conv_macs(const tensor& w, const qconv_params& p) {
  std::uint64_t macs = static_cast<std::uint64_t>(w.count() / p.out_channels);
  macs *= static_cast<std::uint64_t>(p.batch) * static_cast<std::uint64_t>(p.out_channels);
  for (int i = 0; i < 3; ++i) macs *= static_cast<std::uint64_t>(p.out[i]);
  return macs;
}

std::int64_t zp_count(lower_context& ctx, std::size_t i, std::int64_t per_channel, const char* what) {
  if (!ctx.has_input(i)) return 1;
  const auto n = ctx.in(i).count();
  if (n != 1 && n != per_channel) ctx.fail(fmt::format("{} zero point has {} elements, expected 1 or {}", what, n, per_channel));
  return n;
}

// A QLinearConv's constant inputs, for packing at codegen time: weights, weight zero points and
// bias (empty when absent), and the input zero point (0 when absent).
template <class W> struct qconv_constant_inputs {
  std::vector<W> w, w_zp;
  std::vector<std::int32_t> bias;
  std::int32_t x_zp;
};
template <class W> qconv_constant_inputs<W> qconv_constants(lower_context& ctx) {
  qconv_constant_inputs<W> c;
  for (auto v : ctx.const_ints(3, "weight")) c.w.push_back(static_cast<W>(v));
  if (ctx.has_input(5))
    for (auto v : ctx.const_ints(5, "weight zero point")) c.w_zp.push_back(static_cast<W>(v));
  if (ctx.has_input(8))
    for (auto v : ctx.const_ints(8, "bias")) c.bias.push_back(static_cast<std::int32_t>(v));
  c.x_zp = ctx.has_input(2) ? static_cast<std::int32_t>(ctx.const_ints(2, "zero point")[0]) : 0;
  return c;
}

// A QLinearConv reading or writing a channel-blocked tensor (stages/layout.cpp chose which; the
// kernels take every layout pair the stage can produce).
template <class X, class W, class Y>
void lower_blocked_qconv(lower_context& ctx, const qconv_params& p, tensor_id rq) {
  using kiln::packed::channel_layout;
  constexpr auto planar = channel_layout::planar, blocked = channel_layout::blocked;
  const bool in = ctx.in(0).channel_blocked, out = ctx.g().at(ctx.out_id(0)).channel_blocked;
  if (kiln::packed::depthwise_applies(p) && p.out_channels % kiln::packed::channel_block == 0) {
    auto fn = in ? (out ? &kiln::packed::qlinear_depthwise_by_layout<blocked, blocked, X, W, Y>
                        : &kiln::packed::qlinear_depthwise_by_layout<blocked, planar, X, W, Y>)
                 : (out ? &kiln::packed::qlinear_depthwise_by_layout<planar, blocked, X, W, Y>
                        : &kiln::packed::qlinear_depthwise_by_layout<planar, planar, X, W, Y>);
    // The weights and bias also as lane quads for the targets that run on them (KILN_LANE_QUADS:
    // packed here, not gathered block by block at run time; DS-CNN int8 0.95x), where they are
    // constants and fit.
    tensor_id quads = no_tensor, quad_bias = no_tensor;
    bool constant = ctx.is_constant(3);
    for (std::size_t i : {2, 5, 8}) constant = constant && (!ctx.has_input(i) || ctx.is_constant(i));
    if (constant) {
      const auto [w, w_zp, bias, x_zp] = qconv_constants<W>(ctx);
      if (kiln::packed::detail::lane_quad_weights_fit(p, w.data(), w_zp.empty() ? nullptr : w_zp.data())) {
        std::vector<std::uint32_t> words(kiln::packed::lane_quad_words(p));
        std::vector<std::int32_t> biases(kiln::packed::lane_quad_biases(p));
        kiln::packed::pack_lane_quads(p, w.data(), w_zp.empty() ? nullptr : w_zp.data(),
                                      bias.empty() ? nullptr : bias.data(), static_cast<X>(x_zp), words.data(),
                                      biases.data());
        quads = ctx.constant("lane_quads", dtype::u32, {static_cast<std::int64_t>(words.size())}, to_bytes(words));
        quad_bias = ctx.constant("lane_quad_bias", dtype::i32, {static_cast<std::int64_t>(biases.size())}, to_bytes(biases));
      }
    }
    layer l = make_layer(tmpl("kiln::packed::qlinear_depthwise_by_layout",
                              {layout_name(in), layout_name(out), cpp_name<X>(), cpp_name<W>(), cpp_name<Y>()}),
                         fn, p,
                         {ctx.in_id(0), ctx.in_id(2), ctx.in_id(3), ctx.in_id(5), quads, quad_bias, rq, ctx.in_id(8),
                          ctx.in_id(7), ctx.out_id(0), scratch_arg});
    if (quads != no_tensor) l.lane_quad_args = {4, 5};
    l.scratch_bytes = kiln::packed::depthwise_scratch_bytes(p);
    // As the float depthwise: a lane block's output rows trail its input rows.
    if (in == out && std::is_same_v<X, Y> && ctx.in(0).dims == ctx.g().at(ctx.out_id(0)).dims) l.inplace_ok = {0};
    l.macs = conv_macs(ctx.in(3), p);
    ctx.emit(std::move(l));
    return;
  }
  for (std::size_t i : {2, 3, 5, 8})
    if (ctx.has_input(i) && !ctx.is_constant(i)) throw std::logic_error(ctx.n().label() + ": blocked QLinearConv without constant weights");
  if (!out || !kiln::packed::qlinear_pointwise_applies(p) || p.in_channels > 16384)
    throw std::logic_error(ctx.n().label() + ": no kernel for its channel-blocked tensors");
  // Positions as QGemm rows, as qlinear_conv1x1_small_plane: B is W^T, the bias folds as C.
  qgemm_params q{};
  q.m = p.out[1] * p.out[2];
  q.n = p.out_channels;
  q.k = p.in_channels;
  q.trans_a = q.trans_b = true;
  q.b_zp_count = p.w_zp_count;
  q.scale_count = p.rq_count;
  const auto [w, w_zp, bias, x_zp] = qconv_constants<W>(ctx);
  std::vector<std::int8_t> packed(kiln::packed::qdense_weight_count(q.n, q.k));
  std::vector<std::int32_t> zp_out(static_cast<std::size_t>(q.b_zp_count)), bias_out(static_cast<std::size_t>(q.n));
  // A folded bias outside int32 is kept modulo 2^32, as the kernel adds (packed/qdense.hpp): only
  // the final accumulator must fit, which check_accumulator bounded.
  const bool any_zp = kiln::packed::prepare_qdense(w.data(), q.n, q.k, 1, q.k, w_zp.empty() ? nullptr : w_zp.data(),
                                                   q.b_zp_count, bias.empty() ? nullptr : bias.data(), 1, x_zp,
                                                   std::is_signed_v<X>, packed.data(), zp_out.data(), bias_out.data());
  const auto wid = ctx.constant("packed", dtype::i8, {static_cast<std::int64_t>(packed.size())}, to_bytes(packed));
  const auto zid = any_zp ? ctx.constant("packed_zp", dtype::i32, {q.b_zp_count}, to_bytes(zp_out)) : no_tensor;
  const auto bid = ctx.constant("packed_bias", dtype::i32, {q.n}, to_bytes(bias_out));
  layer l = make_layer(tmpl("kiln::packed::qlinear_pointwise", {layout_name(in), cpp_name<X>(), cpp_name<Y>()}),
                       in ? &kiln::packed::qlinear_pointwise<blocked, X, Y> : &kiln::packed::qlinear_pointwise<planar, X, Y>,
                       q, {ctx.in_id(0), wid, zid, bid, rq, ctx.in_id(7), ctx.out_id(0), scratch_arg});
  l.scratch_bytes = kiln::packed::qlinear_pointwise_scratch_bytes(q.m, q.n, q.k);
  l.macs = conv_macs(ctx.in(3), p);
  ctx.emit(std::move(l));
}

// QLinearConv on the packed kernels (kiln compile --kernels fast); false leaves the node to the
// reference kernel. Depthwise runs direct; any other conv needs constant weights, zero points and
// bias so the weights can be packed and the zero-point terms folded (packed::prepare_qconv).
template <class X, class W, class Y>
bool lower_packed_qconv(lower_context& ctx, const qconv_params& p, tensor_id rq) {
  const index_t cin_g = p.in_channels / p.group;
  const index_t taps = p.kernel[0] * p.kernel[1] * p.kernel[2], k = cin_g * taps;
  if (ctx.in(0).channel_blocked || ctx.g().at(ctx.out_id(0)).channel_blocked) {
    lower_blocked_qconv<X, W, Y>(ctx, p, rq);
    return true;
  }
  if (kiln::packed::depthwise_applies(p)) {
    layer l = make_layer(tmpl("kiln::packed::qlinear_depthwise", {cpp_name<X>(), cpp_name<W>(), cpp_name<Y>()}),
                         &kiln::packed::qlinear_depthwise<X, W, Y>, p,
                         {ctx.in_id(0), ctx.in_id(2), ctx.in_id(3), ctx.in_id(5), rq, ctx.in_id(8), ctx.in_id(7),
                          ctx.out_id(0), scratch_arg});
    l.scratch_bytes = kiln::packed::depthwise_scratch_bytes(p);
    // As the float depthwise: a channel's input is in the scratch before its output is written.
    if (std::is_same_v<X, Y> && ctx.in(0).dims == ctx.g().at(ctx.out_id(0)).dims) l.inplace_ok = {0};
    l.macs = conv_macs(ctx.in(3), p);
    ctx.emit(std::move(l));
    return true;
  }
  for (std::size_t i : {2, 3, 5, 8})
    if (ctx.has_input(i) && !ctx.is_constant(i)) return false;
  if (k > 16384) return false;  // keeps sum x'w' (|x'w'| <= 255 * 128 per term) inside int32
  const auto [w, w_zp, bias, x_zp] = qconv_constants<W>(ctx);
  // The folded bias must fit int32 too: bound it in 64 bits before folding in 32.
  const std::int64_t zx = x_zp + (std::is_signed_v<X> ? 128 : 0), shift = std::is_signed_v<W> ? 0 : 128;
  for (index_t m = 0; m < p.out_channels; ++m) {
    std::int64_t sum = 0;
    for (index_t i = 0; i < k; ++i) sum += static_cast<std::int64_t>(w[static_cast<std::size_t>(m * k + i)]) - shift;
    const std::int64_t wz = (w_zp.empty() ? 0 : w_zp[p.w_zp_count > 1 ? static_cast<std::size_t>(m) : 0]) - shift;
    const std::int64_t folded = (bias.empty() ? 0 : bias[static_cast<std::size_t>(m)]) - zx * sum + k * zx * wz;
    if (folded > std::numeric_limits<std::int32_t>::max() / 2 || folded < std::numeric_limits<std::int32_t>::min() / 2)
      return false;
  }
  if (kiln::packed::qlinear_conv1x1_small_plane_applies(p)) {
    // Positions as QGemm rows: B is W^T (element (c, m) at w[m * k + c]), the bias folds as C.
    qgemm_params q{};
    q.m = p.out[0] * p.out[1] * p.out[2];
    q.n = p.out_channels;
    q.k = k;
    q.trans_a = q.trans_b = true;
    q.b_zp_count = p.w_zp_count;
    q.scale_count = p.rq_count;
    std::vector<std::int8_t> packed(kiln::packed::qdense_weight_count(q.n, q.k));
    std::vector<std::int32_t> zp_out(static_cast<std::size_t>(q.b_zp_count)), bias_out(static_cast<std::size_t>(q.n));
    bool fits = true;
    const bool any_zp = kiln::packed::prepare_qdense(
        w.data(), q.n, q.k, 1, q.k, w_zp.empty() ? nullptr : w_zp.data(), q.b_zp_count,
        bias.empty() ? nullptr : bias.data(), 1, x_zp, std::is_signed_v<X>, packed.data(), zp_out.data(),
        bias_out.data(), &fits);
    if (fits) {
      const auto wid = ctx.constant("packed", dtype::i8, {static_cast<std::int64_t>(packed.size())}, to_bytes(packed));
      const auto zid = any_zp ? ctx.constant("packed_zp", dtype::i32, {q.b_zp_count}, to_bytes(zp_out)) : no_tensor;
      const auto bid = ctx.constant("packed_bias", dtype::i32, {q.n}, to_bytes(bias_out));
      layer l = make_layer(tmpl("kiln::packed::qlinear_conv1x1_small_plane", {cpp_name<X>(), cpp_name<Y>()}),
                           &kiln::packed::qlinear_conv1x1_small_plane<X, Y>, q,
                           {ctx.in_id(0), wid, zid, bid, rq, ctx.in_id(7), ctx.out_id(0), scratch_arg});
      l.scratch_bytes = kiln::packed::qdense_scratch_bytes(q.m, q.k);
      l.macs = conv_macs(ctx.in(3), p);
      ctx.emit(std::move(l));
      return true;
    }
  }
  std::vector<std::int8_t> packed(kiln::packed::qconv_weight_count(p));
  std::vector<std::int32_t> zp_out(static_cast<std::size_t>(p.w_zp_count)), bias_out(static_cast<std::size_t>(p.out_channels));
  const bool any_zp = kiln::packed::prepare_qconv(w.data(), w_zp.empty() ? nullptr : w_zp.data(), p.w_zp_count,
                                                  bias.empty() ? nullptr : bias.data(), x_zp, std::is_signed_v<X>,
                                                  p.out_channels, p.group, k, packed.data(), zp_out.data(), bias_out.data(),
                                                  kiln::packed::qconv_channel_quad_taps(p));
  const auto wid = ctx.constant("packed", dtype::i8, {static_cast<std::int64_t>(packed.size())}, to_bytes(packed));
  const auto zid = any_zp ? ctx.constant("packed_zp", dtype::i32, {p.w_zp_count}, to_bytes(zp_out)) : no_tensor;
  const auto bid = ctx.constant("packed_bias", dtype::i32, {p.out_channels}, to_bytes(bias_out));
  layer l = make_layer(tmpl("kiln::packed::qlinear_conv", {cpp_name<X>(), cpp_name<Y>()}),
                       &kiln::packed::qlinear_conv<X, Y>, p,
                       {ctx.in_id(0), ctx.in_id(2), wid, zid, rq, bid, ctx.in_id(7), ctx.out_id(0), scratch_arg});
  l.scratch_bytes = kiln::packed::qconv_scratch_bytes(p);
  l.macs = conv_macs(ctx.in(3), p);
  ctx.emit(std::move(l));
  return true;
}

// QLinearConv (qlinear) or ConvInteger: inputs (x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B)
// or (x, w, x_zp, w_zp).
void lower_qconv(lower_context& ctx, bool qlinear) {
  const std::size_t ix = 0, ixz = 2, iw = qlinear ? 3 : 1, iwz = qlinear ? 5 : 3;
  const auto& x = ctx.in(ix);
  const auto& w = ctx.in(iw);
  if (ctx.has_input(ixz) && (ctx.in(ixz).type != x.type || ctx.in(ixz).count() != 1))
    ctx.fail("input zero point must be a scalar of the input's type");
  if (ctx.has_input(iwz) && ctx.in(iwz).type != w.type) ctx.fail("weight zero point and weight types differ");
  const dtype yt = qlinear ? ctx.in(7).type : dtype::i32;
  qconv_params p = conv_geometry(ctx, x, w, yt);
  const std::int64_t m = p.out_channels;
  p.w_zp_count = to_index(ctx, zp_count(ctx, iwz, m, "weight"));
  const std::int64_t k = w.count() / m;
  const std::size_t ib = qlinear ? 8 : 99;
  if (qlinear && ctx.has_input(8)) {
    if (ctx.in(8).type != dtype::i32 || ctx.in(8).count() != m) ctx.fail(fmt::format("bias must be int32 with {} elements", m));
  }
  check_accumulator(ctx, k, x.type, ixz, iw, iwz, ib, [k](std::int64_t i) { return i / k; },
                    [&](std::int64_t c) { return p.w_zp_count > 1 ? c : 0; });
  tensor_id rq = no_tensor;
  if (qlinear) {
    if (ctx.in(7).count() != 1) ctx.unsupported("per-channel output zero points");
    const std::int64_t n_scales = ctx.in(4).count();
    if (n_scales != 1 && n_scales != m) ctx.fail(fmt::format("weight scale has {} elements, expected 1 or {}", n_scales, m));
    rq = requant_table(ctx, 1, 4, 6, n_scales);
    p.rq_count = to_index(ctx, n_scales);
  }
  dispatch(q8_types{}, x.type, ctx, [&](auto xtag) {
    using X = typename decltype(xtag)::type;
    dispatch(q8_types{}, w.type, ctx, [&](auto wtag) {
      using W = typename decltype(wtag)::type;
      if (!qlinear) {
        layer l = make_layer(tmpl("kiln::conv_integer", {cpp_name<X>(), cpp_name<W>()}), &kiln::conv_integer<X, W>, p,
                             {ctx.in_id(ix), ctx.in_id(ixz), ctx.in_id(iw), ctx.in_id(iwz), ctx.out_id(0)});
        l.macs = conv_macs(w, p);
        ctx.emit(std::move(l));
        return;
      }
      dispatch(q8_types{}, yt, ctx, [&](auto ytag) {
        using Y = typename decltype(ytag)::type;
        if (ctx.g().packed_kernels && lower_packed_qconv<X, W, Y>(ctx, p, rq)) return;
        layer l = make_layer(tmpl("kiln::qlinear_conv", {cpp_name<X>(), cpp_name<W>(), cpp_name<Y>()}),
                             &kiln::qlinear_conv<X, W, Y>, p,
                             {ctx.in_id(ix), ctx.in_id(ixz), ctx.in_id(iw), ctx.in_id(iwz), rq, ctx.in_id(8),
                              ctx.in_id(7), ctx.out_id(0)});
        l.macs = conv_macs(w, p);
        ctx.emit(std::move(l));
      });
    });
  });
}

// QLinearMatMul on the packed int8 dense kernel (kiln compile --kernels fast); false leaves the node
// to the reference kernel. Needs a constant 2-D B (no batch axes of its own: a batch of A's rows is
// one taller matrix) and constant zero points: B is packed and the zero-point terms folded into a
// per-column bias (packed::prepare_qdense). rq: the float32 requantization scales (constant or not).
template <class A, class B, class Y>
bool lower_packed_qmatmul(lower_context& ctx, const qmatmul_params& p, tensor_id rq, std::uint64_t macs) {
  for (std::size_t i : {2, 3, 5})
    if (ctx.has_input(i) && !ctx.is_constant(i)) return false;
  if (!ctx.is_constant(3) || p.a_zp_count != 1) return false;
  const std::int64_t m = static_cast<std::int64_t>(p.batch_count) * p.m;
  if (ctx.in(3).count() != static_cast<std::int64_t>(p.k) * p.n || ctx.in(0).count() != m * p.k) return false;
  if (m <= 0 || p.n <= 0 || p.k <= 0 || m > std::numeric_limits<index_t>::max()) return false;
  if (p.k > 16384) return false;  // keeps the tile's sum of a'b' (|a'b'| <= 255 * 128 per term) inside int32
  std::vector<B> b;
  for (auto v : ctx.const_ints(3, "b")) b.push_back(static_cast<B>(v));
  std::vector<B> b_zp;
  if (ctx.has_input(5))
    for (auto v : ctx.const_ints(5, "b zero point")) b_zp.push_back(static_cast<B>(v));
  const std::int32_t a_zp = ctx.has_input(2) ? static_cast<std::int32_t>(ctx.const_ints(2, "a zero point")[0]) : 0;
  std::vector<std::int8_t> packed(kiln::packed::qdense_weight_count(p.n, p.k));
  std::vector<std::int32_t> zp_out(static_cast<std::size_t>(p.b_zp_count)), bias_out(static_cast<std::size_t>(p.n));
  bool fits = true;
  const bool any_zp = kiln::packed::prepare_qdense(b.data(), p.n, p.k, p.n, 1, b_zp.empty() ? nullptr : b_zp.data(),
                                                   p.b_zp_count, static_cast<const std::int32_t*>(nullptr), 0, a_zp,
                                                   std::is_signed_v<A>, packed.data(), zp_out.data(), bias_out.data(),
                                                   &fits);
  if (!fits) return false;  // a folded bias outside int32
  const auto wid = ctx.constant("packed", dtype::i8, {static_cast<std::int64_t>(packed.size())}, to_bytes(packed));
  const auto zid = any_zp ? ctx.constant("packed_zp", dtype::i32, {p.b_zp_count}, to_bytes(zp_out)) : no_tensor;
  const auto bid = ctx.constant("packed_bias", dtype::i32, {p.n}, to_bytes(bias_out));
  const qgemm_params q{static_cast<index_t>(m), p.n, p.k, false, false, 0, 0, p.b_zp_count, p.rq_count};
  layer l = make_layer(tmpl("kiln::packed::qdense", {cpp_name<A>(), cpp_name<Y>()}), &kiln::packed::qdense<A, Y>, q,
                       {ctx.in_id(0), wid, zid, bid, no_tensor, rq, ctx.in_id(7), ctx.out_id(0), scratch_arg});
  l.scratch_bytes = kiln::packed::qdense_scratch_bytes(q.m, q.k);
  l.macs = macs;
  ctx.emit(std::move(l));
  return true;
}

// QLinearMatMul (qlinear) or MatMulInteger: inputs (a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp)
// or (A, B, a_zp, b_zp).
void lower_qmatmul(lower_context& ctx, bool qlinear) {
  const std::size_t ia = 0, iaz = 2, ib = qlinear ? 3 : 1, ibz = qlinear ? 5 : 3;
  const auto& a = ctx.in(ia);
  const auto& b = ctx.in(ib);
  if (ctx.has_input(iaz) && ctx.in(iaz).type != a.type) ctx.fail("a zero point and a types differ");
  if (ctx.has_input(ibz) && ctx.in(ibz).type != b.type) ctx.fail("b zero point and b types differ");
  const auto geo = matmul_shape(ctx, a.dims, b.dims);
  const auto m = geo.m, n = geo.n, k = geo.k, count = geo.batch_count;
  const dtype yt = qlinear ? ctx.in(7).type : dtype::i32;
  ctx.set_output(0, yt, geo.out);
  qmatmul_params p{};
  p.m = to_index(ctx, geo.m);
  p.n = to_index(ctx, geo.n);
  p.k = to_index(ctx, geo.k);
  fill_matmul_batch(ctx, geo, p.batch_rank, p.batch_count, p.batch_dims, p.batch_strides);
  p.a_zp_count = to_index(ctx, zp_count(ctx, iaz, m, "a"));
  p.b_zp_count = to_index(ctx, zp_count(ctx, ibz, n, "b"));
  p.rq_count = 1;
  if (qlinear && p.a_zp_count != 1) ctx.unsupported("per-row a zero points");
  // Flat index of B [..., k, n] -> its (batch, column) output column; zero points are per column.
  check_accumulator(ctx, k, a.type, iaz, ib, ibz, 99, [k, n](std::int64_t i) { return i / (k * n) * n + i % n; },
                    [&](std::int64_t c) { return p.b_zp_count > 1 ? c % n : 0; });
  tensor_id rq = no_tensor;
  if (qlinear) {
    if (ctx.in(7).count() != 1) ctx.unsupported("per-row output zero points");
    const std::int64_t n_scales = ctx.in(4).count();
    if (n_scales != 1 && n_scales != n) ctx.fail(fmt::format("b scale has {} elements, expected 1 or {}", n_scales, n));
    rq = requant_table(ctx, 1, 4, 6, n_scales);
    p.rq_count = to_index(ctx, n_scales);
  }
  const std::uint64_t macs = static_cast<std::uint64_t>(count) * static_cast<std::uint64_t>(m) *
                             static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(k);
  dispatch(q8_types{}, a.type, ctx, [&](auto atag) {
    using A = typename decltype(atag)::type;
    dispatch(q8_types{}, b.type, ctx, [&](auto btag) {
      using B = typename decltype(btag)::type;
      if (!qlinear) {
        layer l = make_layer(tmpl("kiln::matmul_integer", {cpp_name<A>(), cpp_name<B>()}), &kiln::matmul_integer<A, B>,
                             p, {ctx.in_id(ia), ctx.in_id(iaz), ctx.in_id(ib), ctx.in_id(ibz), ctx.out_id(0)});
        l.macs = macs;
        ctx.emit(std::move(l));
        return;
      }
      dispatch(q8_types{}, yt, ctx, [&](auto ytag) {
        using Y = typename decltype(ytag)::type;
        if (ctx.g().packed_kernels && lower_packed_qmatmul<A, B, Y>(ctx, p, rq, macs)) return;
        layer l = make_layer(tmpl("kiln::qlinear_matmul", {cpp_name<A>(), cpp_name<B>(), cpp_name<Y>()}),
                             &kiln::qlinear_matmul<A, B, Y>, p,
                             {ctx.in_id(ia), ctx.in_id(iaz), ctx.in_id(ib), ctx.in_id(ibz), rq, ctx.in_id(7),
                              ctx.out_id(0)});
        l.macs = macs;
        ctx.emit(std::move(l));
      });
    });
  });
}

}  // namespace

void register_quant(registry& r) {
  r.add(entry("QuantizeLinear", "float, int32 -> int8, uint8",
              "per tensor or per axis (opset 13); round half to even, saturate (float math)", lower_quantize));
  r.add(entry("DequantizeLinear", "int8, uint8, int32 -> float", "per tensor or per axis (opset 13)", lower_dequantize));
  r.add(entry("DynamicQuantizeLinear", "float -> uint8", "ONNX Runtime's scale/zero point (scale 1 for an all-zero input)",
              lower_dynamic_quantize));
  r.add(entry("QLinearConv", "int8, uint8 (x, w, y independently)",
              "1-D to 3-D, groups (depthwise), dilations, pads, every auto_pad; per-tensor or per-channel weight scales "
              "and zero points; integer-only requantization bit-exact with ONNX Runtime's float32; int32 overflow "
              "checked at codegen",
              [](lower_context& c) { lower_qconv(c, true); }));
  r.add(entry("ConvInteger", "int8, uint8 -> int32",
              "1-D to 3-D, groups, dilations, pads, every auto_pad; per-channel weight zero points; int32 overflow "
              "checked at codegen",
              [](lower_context& c) { lower_qconv(c, false); }));
  r.add(entry("QLinearMatMul", "int8, uint8 (a, b, y independently)",
              "batched, broadcast batch axes; per-tensor a/y, per-tensor or per-column b scales and zero points; "
              "integer-only requantization bit-exact with ONNX Runtime's float32; int32 overflow checked at codegen",
              [](lower_context& c) { lower_qmatmul(c, true); }));
  r.add(entry("MatMulInteger", "int8, uint8 -> int32",
              "batched, broadcast batch axes; per-row a and per-column b zero points; int32 overflow checked at codegen",
              [](lower_context& c) { lower_qmatmul(c, false); }));
}

}  // namespace kiln::cg
