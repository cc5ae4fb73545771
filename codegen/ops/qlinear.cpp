// Lowerings of ONNX Runtime's com.microsoft QOperator ops (the QDQ -> QOperator forms ONNX Runtime's
// quantizer writes), bit-exact with ONNX Runtime's CPU kernels on x86-64 (kiln/ops/qlinear.hpp says
// which run in integers, which are table lookups built here and which need float32 at run time).
// Every scale and zero point must be a constant: they are folded into params and tables here.
#include "spatial.hpp"

#include "../params_reflect.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace kiln::cg {

namespace {

constexpr const char* ms = "com.microsoft";
using q8_types = type_list<std::int8_t, std::uint8_t>;

op_entry ms_entry(const char* name, const char* types, const char* notes, std::function<void(lower_context&)> lower) {
  op_entry e = entry(name, types, notes, std::move(lower));
  e.domain = ms;
  return e;
}

void require_q8(const lower_context& ctx, const tensor& t, const char* what) {
  if (t.type != dtype::i8 && t.type != dtype::u8)
    ctx.unsupported(fmt::format("{} of type {} (only int8 and uint8)", what, dtype_name(t.type)));
}

// A per-tensor float32 scale that must be a constant one-element tensor.
float const_scale(const lower_context& ctx, std::size_t i, const char* what) {
  const auto& t = ctx.in(i);
  if (t.type != dtype::f32) ctx.unsupported(fmt::format("{} of type {}", what, dtype_name(t.type)));
  if (t.count() != 1) ctx.unsupported(fmt::format("{} with {} elements (only per-tensor scales)", what, t.count()));
  if (!t.is_constant()) ctx.unsupported(fmt::format("{} '{}' is not a constant (scales are folded at codegen)", what, t.name));
  const float s = static_cast<float>(t.as_doubles()[0]);
  if (!std::isfinite(s) || !(s > 0.f)) ctx.unsupported(fmt::format("{} {} (must be finite and positive)", what, s));
  return s;
}

// A per-tensor zero point of type `t` (absent: 0) that must be a constant one-element tensor.
std::int32_t const_zp(const lower_context& ctx, std::size_t i, dtype t, const char* what) {
  if (!ctx.has_input(i)) return 0;
  const auto& z = ctx.in(i);
  if (z.type != t) ctx.fail(fmt::format("{} has type {}, expected {}", what, dtype_name(z.type), dtype_name(t)));
  if (z.count() != 1) ctx.unsupported(fmt::format("{} with {} elements (only per-tensor zero points)", what, z.count()));
  if (!z.is_constant()) ctx.unsupported(fmt::format("{} '{}' is not a constant (zero points are folded at codegen)", what, z.name));
  return static_cast<std::int32_t>(z.as_ints()[0]);
}

std::int64_t product(const dims_t& d, std::size_t from, std::size_t to) {
  std::int64_t p = 1;
  for (std::size_t i = from; i < to && i < d.size(); ++i) p *= d[i];
  return p;
}

// The 8-bit value whose byte is b (the tables are indexed by the raw byte).
std::int32_t byte_value(int b, dtype t) { return t == dtype::i8 ? static_cast<std::int8_t>(static_cast<std::uint8_t>(b)) : b; }

// MlasQuantizeLinear of one value: round_half_even(v / scale) + zp, saturated.
std::uint8_t quantize_byte(float v, float scale, std::int32_t zp, dtype t) {
  const float lo = t == dtype::i8 ? -128.f : 0.f, hi = t == dtype::i8 ? 127.f : 255.f;
  float r = std::nearbyint(v / scale) + static_cast<float>(zp);
  r = r < lo ? lo : r > hi ? hi : r;
  return static_cast<std::uint8_t>(static_cast<std::int32_t>(r) & 0xff);
}

// The table transform of a pure requantization (QLinearConcat's inputs, Requantize).
void identity_transform(const float* in, float* out) { std::copy(in, in + 256, out); }

// ONNX Runtime's QlinearBuildLookupTable: dequantize each of the 256 bytes (x_scale * (x - x_zp) in
// float32), transform the 256 floats, requantize with MlasQuantizeLinear.
template <class F>
std::vector<std::uint8_t> lookup_table(float xs, std::int32_t xzp, float ys, std::int32_t yzp, dtype t, F&& transform) {
  float in[256], out[256];
  for (int b = 0; b < 256; ++b) in[b] = xs * static_cast<float>(byte_value(b, t) - xzp);
  transform(in, out);
  std::vector<std::uint8_t> table(256);
  for (int b = 0; b < 256; ++b) table[static_cast<std::size_t>(b)] = quantize_byte(out[b], ys, yzp, t);
  return table;
}

// MLAS's logistic kernel as ONNX Runtime runs it on x86-64 with FMA3 (MlasLogisticKernelFma3): Eigen's
// rational approximation on x clamped to [-18, 18], both polynomials in x^2 evaluated with fused
// multiply-adds, p/q + 0.5 clamped below at 0, all in float32.
float mlas_logistic_fma3(float x) {
  x = std::max(-18.0f, x);
  x = std::min(18.0f, x);
  const float x2 = x * x;
  float p = std::fma(x2, 4.37031012579801e-11f, 1.15627324459942e-07f);
  p = std::fma(x2, p, 6.08574864600143e-05f);
  p = std::fma(x2, p, 8.51377133304701e-03f);
  p = std::fma(x2, p, 2.48287947061529e-01f);
  float q = std::fma(x2, 6.10247389755681e-13f, 5.76102136993427e-09f);
  q = std::fma(x2, q, 6.29106785017040e-06f);
  q = std::fma(x2, q, 1.70198817374094e-03f);
  q = std::fma(x2, q, 1.16817656904453e-01f);
  q = std::fma(x2, q, 9.93151921023180e-01f);
  p = x * p;
  const float r = p / q + 0.5f;
  return std::max(0.0f, r);
}

// ---- QLinearAdd, QLinearMul --------------------------------------------------------------
// Inputs (A, A_scale, A_zero_point?, B, B_scale, B_zero_point?, C_scale, C_zero_point?).
void lower_qlinear_binary(lower_context& ctx, bool mul) {
  const auto& a = ctx.in(0);
  const auto& b = ctx.in(3);
  require_q8(ctx, a, "A");
  if (b.type != a.type) ctx.fail(fmt::format("A is {} but B is {}", dtype_name(a.type), dtype_name(b.type)));
  const float sa = const_scale(ctx, 1, "A_scale"), sb = const_scale(ctx, 4, "B_scale"), sc = const_scale(ctx, 6, "C_scale");
  qlinear_binary_params p{};
  p.a_zp = const_zp(ctx, 2, a.type, "A_zero_point");
  p.b_zp = const_zp(ctx, 5, a.type, "B_zero_point");
  p.c_zp = const_zp(ctx, 7, a.type, "C_zero_point");
  // float32 in MLAS's order (qladd_avx2.cpp, qlmul.cpp).
  p.ratio_a = sa / sc;
  p.ratio_b = sb / sc;
  p.ratio = sa * sb / sc;
  const dims_t out = broadcast_shape(ctx, a.dims, b.dims);
  if (out.size() > static_cast<std::size_t>(max_rank)) ctx.unsupported(fmt::format("rank {} > {}", out.size(), max_rank));
  ctx.set_output(0, a.type, out);
  p.rank = static_cast<index_t>(out.size());
  p.count = to_index(ctx, product(out, 0, out.size()));
  for (std::size_t i = 0; i < out.size(); ++i) p.dims[i] = to_index(ctx, out[i]);
  broadcast_strides(a.dims, out, p.strides[0]);
  broadcast_strides(b.dims, out, p.strides[1]);
  // ONNX Runtime's broadcaster (InputBroadcaster) looks at the innermost output axis longer than 1:
  // an input of extent 1 there is a scalar for each span. A scalar A (checked first) is passed to
  // MLAS as its second operand, which swaps the roles in MLAS's float32 expression.
  auto dim_of = [&](const dims_t& d, std::size_t axis_from_end) -> std::int64_t {
    return axis_from_end < d.size() ? d[d.size() - 1 - axis_from_end] : 1;
  };
  p.swap = a.count() == 1;  // a scalar A (also when both are): ONNX Runtime's input0-scalar loop
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[out.size() - 1 - i] <= 1) continue;
    p.swap = dim_of(a.dims, i) == 1;
    break;
  }
  const float rx = p.swap ? p.ratio_b : p.ratio_a, ry = p.swap ? p.ratio_a : p.ratio_b;
  const float zx = static_cast<float>(p.swap ? p.b_zp : p.a_zp), zy = static_cast<float>(p.swap ? p.a_zp : p.b_zp);
  p.fixed = static_cast<float>(p.c_zp) - std::fma(rx, zx, ry * zy);
  dispatch(q8_types{}, a.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const std::vector<tensor_id> args{ctx.in_id(0), ctx.in_id(3), ctx.out_id(0)};
    // QLinearAdd with --kernels fast: by the architecture's rows (packed/qlinear.hpp).
    layer l = mul ? make_layer(tmpl("kiln::qlinear_mul", {cpp_name<T>()}), &kiln::qlinear_mul<T>, p, args)
              : ctx.g().packed_kernels
                  ? make_layer(tmpl("kiln::packed::qlinear_add", {cpp_name<T>()}), &kiln::packed::qlinear_add<T>, p, args)
                  : make_layer(tmpl("kiln::qlinear_add", {cpp_name<T>()}), &kiln::qlinear_add<T>, p, args);
    if (a.dims == out) l.inplace_ok.push_back(0);
    if (b.dims == out) l.inplace_ok.push_back(1);
    ctx.emit(std::move(l));
  });
}

// ---- QLinearGlobalAveragePool and the global case of QLinearAveragePool --------------------
void emit_global_pool(lower_context& ctx, std::int64_t n, std::int64_t c, std::int64_t image, bool channels_last,
                      float xs, std::int32_t xzp, float ys, std::int32_t yzp) {
  const dtype t = ctx.in(0).type;
  if (image >= 0x1000000) ctx.unsupported(fmt::format("image size {} >= 2^24 (ONNX Runtime refuses it)", image));
  if (image * 255 > std::numeric_limits<std::int32_t>::max())
    ctx.unsupported(fmt::format("image size {}: the int32 sum could overflow", image));
  const float scale = xs / (ys * static_cast<float>(image));  // float32, MLAS's order
  if (scale < 0x1.0p-32f || scale >= 256.0f)
    ctx.unsupported(fmt::format("x_scale / (y_scale * {}) = {} is outside [2^-32, 256) (ONNX Runtime refuses it)", image, scale));
  const requant_params rq = requant_from_float(scale);
  qlinear_gap_params p{};
  p.batch = to_index(ctx, n);
  p.channels = to_index(ctx, c);
  p.image = to_index(ctx, image);
  p.channels_last = channels_last;
  p.bias = static_cast<std::int32_t>(-static_cast<std::int64_t>(xzp) * image);
  p.rq_mantissa = rq.mantissa;
  p.rq_exponent = rq.exponent;
  p.y_zp = yzp;
  const bool blocked = ctx.in(0).channel_blocked;  // stages/layout.cpp: channels first, 4-D
  if (blocked && (channels_last || c % kiln::packed::channel_block != 0))
    throw std::logic_error(ctx.n().label() + ": no kernel for its channel-blocked input");
  dispatch(q8_types{}, t, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (blocked) {
      ctx.emit(make_layer(tmpl("kiln::packed::qlinear_global_average_pool_blocked", {cpp_name<T>()}),
                          &kiln::packed::qlinear_global_average_pool_blocked<T>, p, {ctx.in_id(0), ctx.out_id(0)}));
      return;
    }
    ctx.emit(ctx.g().packed_kernels
                 ? make_layer(tmpl("kiln::packed::qlinear_global_average_pool", {cpp_name<T>()}),
                              &kiln::packed::qlinear_global_average_pool<T>, p, {ctx.in_id(0), ctx.out_id(0)})
                 : make_layer(tmpl("kiln::qlinear_global_average_pool", {cpp_name<T>()}),
                              &kiln::qlinear_global_average_pool<T>, p, {ctx.in_id(0), ctx.out_id(0)}));
  });
}

// Inputs (X, x_scale, x_zero_point, y_scale, y_zero_point); attribute channels_last.
void lower_qlinear_gap(lower_context& ctx) {
  const auto& x = ctx.in(0);
  require_q8(ctx, x, "X");
  if (x.dims.size() < 3) ctx.fail(fmt::format("input has rank {}, expected at least 3", x.dims.size()));
  const bool cl = ctx.n().get_int("channels_last", 0) != 0;
  const float xs = const_scale(ctx, 1, "x_scale"), ys = const_scale(ctx, 3, "y_scale");
  const std::int32_t xzp = const_zp(ctx, 2, x.type, "x_zero_point"), yzp = const_zp(ctx, 4, x.type, "y_zero_point");
  const std::size_t r = x.dims.size();
  const std::size_t s0 = cl ? 1 : 2;
  dims_t out = x.dims;
  for (std::size_t i = s0; i < s0 + r - 2; ++i) out[i] = 1;
  ctx.set_output(0, x.type, out);
  emit_global_pool(ctx, x.dims[0], cl ? x.dims[r - 1] : x.dims[1], product(x.dims, s0, s0 + r - 2), cl, xs, xzp, ys, yzp);
}

// ---- QLinearAveragePool --------------------------------------------------------------------
// Inputs (X, x_scale, x_zero_point?, y_scale, y_zero_point?); AveragePool's attributes plus channels_last.
void lower_qlinear_avgpool(lower_context& ctx) {
  const auto& x = ctx.in(0);
  require_q8(ctx, x, "X");
  const std::size_t r = x.dims.size();
  if (r < 3) ctx.fail(fmt::format("input has rank {}, expected at least 3", r));
  if (r > 5) ctx.unsupported(fmt::format("{} spatial axes (ONNX Runtime pools 1 to 3)", r - 2));
  const bool cl = ctx.n().get_int("channels_last", 0) != 0;
  const float xs = const_scale(ctx, 1, "x_scale"), ys = const_scale(ctx, 3, "y_scale");
  const std::int32_t xzp = const_zp(ctx, 2, x.type, "x_zero_point"), yzp = const_zp(ctx, 4, x.type, "y_zero_point");
  const std::int64_t n = x.dims[0], c = cl ? x.dims[r - 1] : x.dims[1];
  const dims_t sp(x.dims.begin() + (cl ? 1 : 2), x.dims.begin() + (cl ? 1 : 2) + static_cast<long>(r - 2));
  const auto kernel = ctx.n().get_ints("kernel_shape");
  if (kernel.size() != r - 2) ctx.fail(fmt::format("kernel_shape has {} values for {} spatial axes", kernel.size(), r - 2));
  for (auto d : ctx.n().get_ints("dilations", std::vector<std::int64_t>(r - 2, 1)))
    if (d != 1) ctx.unsupported("dilations (ONNX Runtime's QLinearAveragePool ignores them)");
  const auto geo = window_for(ctx, sp, kernel, ctx.n().get_int("ceil_mode", 0) != 0);
  dims_t out_sp = geo.out;
  dims_t out;
  out.push_back(n);
  if (!cl) out.push_back(c);
  out.insert(out.end(), out_sp.begin(), out_sp.end());
  if (cl) out.push_back(c);
  ctx.set_output(0, x.type, out);
  // ONNX Runtime falls back to its (integer) global average pool when the kernel covers the whole
  // unpadded image.
  bool global = sp == kernel;
  for (std::size_t i = 0; i < r - 2; ++i) global = global && geo.pad_begin[i] == 0 && geo.pad_end[i] == 0;
  if (global) {
    emit_global_pool(ctx, n, c, product(sp, 0, sp.size()), cl, xs, xzp, ys, yzp);
    return;
  }
  const bool include_pad = ctx.n().get_int("count_include_pad", 0) != 0;
  qlinear_avgpool_params p{};
  p.batch = to_index(ctx, n);
  p.channels = to_index(ctx, c);
  to3(sp, p.in, 1, ctx);
  to3(out_sp, p.out, 1, ctx);
  to3(geo.kernel, p.kernel, 1, ctx);
  to3(geo.stride, p.stride, 1, ctx);
  to3(geo.pad_begin, p.pad, 0, ctx);
  p.count_include_pad = include_pad;
  p.channels_last = cl;
  p.y_scale = ys;
  p.y_zp = yzp;
  // Every window must hold an input element (ONNX Runtime would divide by zero otherwise).
  for (int i = 0; i < 3; ++i) {
    const std::int64_t last_start = static_cast<std::int64_t>(p.out[i] - 1) * p.stride[i] - p.pad[i];
    if (p.out[i] > 0 && (last_start >= p.in[i] || static_cast<std::int64_t>(p.kernel[i]) - p.pad[i] <= 0))
      ctx.unsupported("a pooling window lies entirely in the padding");
  }
  std::vector<float> table(256);
  for (int b = 0; b < 256; ++b) table[static_cast<std::size_t>(b)] = xs * static_cast<float>(byte_value(b, x.type) - xzp);
  const tensor_id tid = ctx.constant("dequant", dtype::f32, {256}, to_bytes(table));
  dispatch(q8_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::qlinear_average_pool", {cpp_name<T>()}), &kiln::qlinear_average_pool<T>, p,
                        {ctx.in_id(0), tid, ctx.out_id(0)}));
  });
}

// ---- QLinearConcat -------------------------------------------------------------------------
// Inputs (Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) triples); attribute axis.
void lower_qlinear_concat(lower_context& ctx) {
  const std::size_t nin = ctx.input_count();
  if (nin < 5 || (nin - 2) % 3 != 0) ctx.fail("inputs must be Y_scale, Y_zero_point and (X, X_scale, X_zero_point) triples");
  const auto& first = ctx.in(2);
  require_q8(ctx, first, "X");
  const dtype t = first.type;
  const float ys = const_scale(ctx, 0, "Y_scale");
  const std::int32_t yzp = const_zp(ctx, 1, t, "Y_zero_point");
  const std::size_t r = first.dims.size();
  if (r == 0) ctx.fail("cannot concatenate scalars");
  const auto axis = static_cast<std::size_t>(ctx.axis(ctx.n().get_int("axis", 0), r));
  dims_t out = first.dims;
  out[axis] = 0;
  for (std::size_t i = 2; i < nin; i += 3) {
    const auto& x = ctx.in(i);
    if (x.type != t) ctx.fail(fmt::format("input {} is {}, input 2 is {}", i, dtype_name(x.type), dtype_name(t)));
    if (x.dims.size() != r) ctx.fail(fmt::format("input {} has rank {}, input 2 rank {}", i, x.dims.size(), r));
    for (std::size_t a = 0; a < r; ++a)
      if (a != axis && x.dims[a] != first.dims[a])
        ctx.fail(fmt::format("input {} has shape {}, incompatible with {}", i, dims_string(x.dims), dims_string(first.dims)));
    out[axis] += x.dims[axis];
  }
  ctx.set_output(0, t, out);
  const std::int64_t outer = product(out, 0, axis), inner = product(out, axis + 1, r);
  std::int64_t at = 0;
  for (std::size_t i = 2; i < nin; i += 3) {
    const auto& x = ctx.in(i);
    const float xs = const_scale(ctx, i + 1, "X_scale");
    if (!ctx.has_input(i + 2)) ctx.fail(fmt::format("input {} (X_zero_point) is required", i + 2));
    const std::int32_t xzp = const_zp(ctx, i + 2, t, "X_zero_point");
    const auto table = lookup_table(xs, xzp, ys, yzp, t, identity_transform);
    const tensor_id tid = ctx.constant(fmt::format("table{}", (i - 2) / 3), dtype::u8, {256}, table);
    qlinear_concat_params p{};
    p.outer = to_index(ctx, outer);
    p.block = to_index(ctx, x.dims[axis] * inner);
    p.dst_stride = to_index(ctx, out[axis] * inner);
    p.dst_offset = to_index(ctx, at * inner);
    at += x.dims[axis];
    if (p.block == 0 || p.outer == 0) continue;
    dispatch(q8_types{}, t, ctx, [&](auto tag) {
      using T = typename decltype(tag)::type;
      ctx.emit(make_layer(tmpl("kiln::qlinear_concat_part", {cpp_name<T>()}), &kiln::qlinear_concat_part<T>, p,
                          {ctx.in_id(i), tid, ctx.out_id(0)}));
    });
  }
}

// ---- QLinearSigmoid, QLinearLeakyRelu: a byte table -----------------------------------------
// Inputs (X, X_scale, X_zero_point?, Y_scale, Y_zero_point?).
template <class F> void lower_qlinear_lookup(lower_context& ctx, F&& transform) {
  const auto& x = ctx.in(0);
  require_q8(ctx, x, "X");
  const float xs = const_scale(ctx, 1, "X_scale"), ys = const_scale(ctx, 3, "Y_scale");
  const std::int32_t xzp = const_zp(ctx, 2, x.type, "X_zero_point"), yzp = const_zp(ctx, 4, x.type, "Y_zero_point");
  ctx.set_output(0, x.type, x.dims);
  const auto table = lookup_table(xs, xzp, ys, yzp, x.type, transform);
  const tensor_id tid = ctx.constant("table", dtype::u8, {256}, table);
  const qlinear_lookup_params p{to_index(ctx, x.count())};
  dispatch(q8_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    layer l = make_layer(tmpl("kiln::qlinear_lookup", {cpp_name<T>()}), &kiln::qlinear_lookup<T>, p,
                         {ctx.in_id(0), tid, ctx.out_id(0)});
    l.inplace_ok = {0};
    ctx.emit(std::move(l));
  });
}

// ---- QLinearSoftmax ------------------------------------------------------------------------
// Inputs (X, X_scale, x_zero_point?, y_scale, y_zero_point); attributes axis, opset (required).
void lower_qlinear_softmax(lower_context& ctx) {
  const auto& x = ctx.in(0);
  require_q8(ctx, x, "X");
  const std::int64_t opset = ctx.n().get_int("opset", -1);
  if (opset < 0) ctx.fail("attribute 'opset' is required");
  const std::size_t r = x.dims.size();
  if (r == 0) ctx.fail("input must have rank 1 or more");
  const auto axis = static_cast<std::size_t>(ctx.axis(ctx.n().get_int("axis", opset < 13 ? 1 : -1), r));
  const float xs = const_scale(ctx, 1, "X_scale"), ys = const_scale(ctx, 3, "y_scale");
  const std::int32_t yzp = const_zp(ctx, 4, x.type, "y_zero_point");
  (void)const_zp(ctx, 2, x.type, "x_zero_point");  // checked; ONNX Runtime does not use it
  ctx.set_output(0, x.type, x.dims);
  qlinear_softmax_params p{};
  std::int64_t d;
  if (opset < 13) {
    d = product(x.dims, axis, r);
    p.outer = to_index(ctx, product(x.dims, 0, axis));
    p.axis = to_index(ctx, d);
    p.inner = 1;
  } else {
    d = x.dims[axis];
    p.outer = to_index(ctx, product(x.dims, 0, axis));
    p.axis = to_index(ctx, d);
    p.inner = to_index(ctx, product(x.dims, axis + 1, r));
  }
  if (d <= 0) ctx.unsupported("an empty softmax axis");
  p.y_scale_inv = std::floor(1.0f / ys);
  p.y_zp = yzp;
  // ONNX Runtime's table (QlinearBuildLookupTableUint32): exp((i - 255 + shift) * x_scale) in double,
  // stored as float32, where shift keeps the sum of d values below FLT_MAX with 5 bits to spare.
  double shift = std::log(static_cast<double>(std::numeric_limits<float>::max() / static_cast<float>(d)));
  shift = std::max(0.0, shift - 5.0) / static_cast<double>(xs);
  std::vector<float> table(256);
  for (int i = 0; i < 256; ++i) {
    const double e = std::exp((static_cast<double>(i) - 255 + shift) * static_cast<double>(xs));
    const auto index = static_cast<std::uint8_t>(x.type == dtype::i8 ? i - 128 : i);
    table[index] = static_cast<float>(e);
  }
  const tensor_id tid = ctx.constant("exp", dtype::f32, {256}, to_bytes(table));
  dispatch(q8_types{}, x.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    ctx.emit(make_layer(tmpl("kiln::qlinear_softmax", {cpp_name<T>()}), &kiln::qlinear_softmax<T>, p,
                        {ctx.in_id(0), tid, ctx.out_id(0)}));
  });
}

// ---- QGemm ---------------------------------------------------------------------------------
// QGemm on the packed int8 dense kernel (kiln compile --kernels fast); false leaves the node to the
// reference kernel. Needs constant B (and zero points, C: already required): B is packed and the
// zero-point terms folded with a C that does not vary along M (packed::prepare_qdense); a C that
// does is added at run time. `scales`: the requantization scales (8-bit Y) or output scales (float Y).
template <class A, class B, class Y>
bool lower_packed_qgemm(lower_context& ctx, const qgemm_params& p, const std::vector<float>& scales, std::uint64_t macs) {
  if (!ctx.is_constant(3) || (ctx.has_input(5) && !ctx.is_constant(5)) || (ctx.has_input(6) && !ctx.is_constant(6)))
    return false;
  if (p.m <= 0 || p.n <= 0 || p.k <= 0) return false;
  if (p.k > 16384) return false;  // keeps the tile's sum of a'b' (|a'b'| <= 255 * 128 per term) inside int32
  std::vector<B> b;
  for (auto v : ctx.const_ints(3, "B")) b.push_back(static_cast<B>(v));
  std::vector<B> b_zp;
  if (ctx.has_input(5))
    for (auto v : ctx.const_ints(5, "b_zero_point")) b_zp.push_back(static_cast<B>(v));
  std::vector<std::int32_t> c;
  if (ctx.has_input(6))
    for (auto v : ctx.const_ints(6, "C")) c.push_back(static_cast<std::int32_t>(v));
  const bool fold_c = !c.empty() && p.c_stride_m == 0;
  const std::int32_t a_zp = const_zp(ctx, 2, ctx.in(0).type, "a_zero_point");
  std::vector<std::int8_t> packed(kiln::packed::qdense_weight_count(p.n, p.k));
  std::vector<std::int32_t> zp_out(static_cast<std::size_t>(p.b_zp_count)), bias_out(static_cast<std::size_t>(p.n));
  bool fits = true;
  const bool any_zp = kiln::packed::prepare_qdense(
      b.data(), p.n, p.k, p.trans_b ? 1 : p.n, p.trans_b ? p.k : 1, b_zp.empty() ? nullptr : b_zp.data(), p.b_zp_count,
      fold_c ? c.data() : nullptr, p.c_stride_n, a_zp, std::is_signed_v<A>, packed.data(), zp_out.data(),
      bias_out.data(), &fits);
  if (!fits) return false;  // a folded bias outside int32
  const auto wid = ctx.constant("packed", dtype::i8, {static_cast<std::int64_t>(packed.size())}, to_bytes(packed));
  const auto zid = any_zp ? ctx.constant("packed_zp", dtype::i32, {p.b_zp_count}, to_bytes(zp_out)) : no_tensor;
  const auto bid = ctx.constant("packed_bias", dtype::i32, {p.n}, to_bytes(bias_out));
  const auto sid = ctx.constant(std::is_same_v<Y, float> ? "packed_scale" : "packed_requant", dtype::f32,
                                {static_cast<std::int64_t>(scales.size())}, to_bytes(scales));
  qgemm_params q = p;
  if (fold_c) q.c_stride_m = q.c_stride_n = 0;
  layer l = make_layer(tmpl("kiln::packed::qdense", {cpp_name<A>(), cpp_name<Y>()}), &kiln::packed::qdense<A, Y>, q,
                       {ctx.in_id(0), wid, zid, bid, fold_c || c.empty() ? no_tensor : ctx.in_id(6), sid,
                        std::is_same_v<Y, float> ? no_tensor : ctx.in_id(8), ctx.out_id(0), scratch_arg});
  l.scratch_bytes = kiln::packed::qdense_scratch_bytes(p.m, p.k);
  l.macs = macs;
  ctx.emit(std::move(l));
  return true;
}

// Inputs (A, a_scale, a_zero_point, B, b_scale, b_zero_point, C?, y_scale?, y_zero_point?);
// attributes alpha, transA, transB.
void lower_qgemm(lower_context& ctx) {
  const auto& a = ctx.in(0);
  const auto& b = ctx.in(3);
  require_q8(ctx, a, "A");
  require_q8(ctx, b, "B");
  if (a.type == dtype::i8 && b.type != dtype::i8) ctx.unsupported("int8 A with uint8 B (ONNX Runtime has no such kernel)");
  if (a.dims.size() != 2 || b.dims.size() != 2) ctx.fail("A and B must be 2-D");
  const bool ta = ctx.n().get_int("transA", 0) != 0, tb = ctx.n().get_int("transB", 0) != 0;
  const float alpha = static_cast<float>(ctx.n().get_float("alpha", 1.0));
  const std::int64_t m = ta ? a.dims[1] : a.dims[0], k = ta ? a.dims[0] : a.dims[1];
  const std::int64_t kb = tb ? b.dims[1] : b.dims[0], n = tb ? b.dims[0] : b.dims[1];
  if (k != kb) ctx.fail(fmt::format("A is {} and B is {}: inner dimensions differ", dims_string(a.dims), dims_string(b.dims)));
  const bool quant_out = ctx.has_input(8);
  if (ctx.has_input(7) != quant_out) ctx.unsupported("y_scale without y_zero_point or the reverse");
  const float as = const_scale(ctx, 1, "a_scale");
  // b_scale and b_zero_point: per tensor or per column (N), with the same shape.
  const auto& bs_t = ctx.in(4);
  if (bs_t.type != dtype::f32) ctx.unsupported(fmt::format("b_scale of type {}", dtype_name(bs_t.type)));
  const std::int64_t ns = bs_t.count();
  if (ns != 1 && ns != n) ctx.fail(fmt::format("b_scale has {} elements, expected 1 or {}", ns, n));
  if (!bs_t.is_constant()) ctx.unsupported(fmt::format("b_scale '{}' is not a constant", bs_t.name));
  std::int64_t nz = 1;
  if (ctx.has_input(5)) {
    const auto& bz = ctx.in(5);
    if (bz.type != b.type) ctx.fail("b_zero_point and B types differ");
    nz = bz.count();
    if (nz != ns) ctx.fail("b_zero_point and b_scale have different sizes");
    if (!bz.is_constant()) ctx.unsupported(fmt::format("b_zero_point '{}' is not a constant", bz.name));
  }
  if (ctx.has_input(2)) (void)const_zp(ctx, 2, a.type, "a_zero_point");
  qgemm_params p{};
  p.m = to_index(ctx, m);
  p.n = to_index(ctx, n);
  p.k = to_index(ctx, k);
  p.trans_a = ta;
  p.trans_b = tb;
  p.b_zp_count = to_index(ctx, nz);
  p.scale_count = to_index(ctx, ns);
  std::int64_t cmax = 0;
  if (ctx.has_input(6)) {
    const auto& c = ctx.in(6);
    if (c.type != dtype::i32) ctx.fail(fmt::format("C must be int32, not {}", dtype_name(c.type)));
    const auto& cd = c.dims;
    if (c.count() == 1) {
      p.c_stride_m = p.c_stride_n = 0;
    } else if (cd.size() == 1 || (cd.size() == 2 && cd[0] == 1)) {
      if (cd.back() != n) ctx.fail(fmt::format("C {} does not broadcast to {}x{}", dims_string(cd), m, n));
      p.c_stride_m = 0;
      p.c_stride_n = 1;
    } else if (cd.size() == 2 && cd[1] == 1 && cd[0] == m) {
      p.c_stride_m = 1;
      p.c_stride_n = 0;
    } else if (cd.size() == 2 && cd[0] == m && cd[1] == n) {
      p.c_stride_m = to_index(ctx, n);
      p.c_stride_n = 1;
    } else {
      ctx.fail(fmt::format("C {} does not broadcast to {}x{}", dims_string(cd), m, n));
    }
    if (c.is_constant())
      for (auto v : c.as_ints()) cmax = std::max<std::int64_t>(cmax, std::abs(v));
    else
      cmax = std::numeric_limits<std::int32_t>::max();
  }
  // The int32 accumulator must not overflow (|a - a_zp| and |b - b_zp| are at most 255).
  if (k * 255 * 255 + cmax > std::numeric_limits<std::int32_t>::max())
    ctx.unsupported(fmt::format("the int32 accumulator could overflow ({} terms, bias up to {})", k, cmax));
  const auto bscales = bs_t.as_doubles();
  std::vector<float> scales;
  for (double bv : bscales) scales.push_back(alpha * as * static_cast<float>(bv));  // float32, ONNX Runtime's order
  const dtype yt = quant_out ? ctx.in(8).type : dtype::f32;
  if (quant_out && yt != a.type) ctx.fail(fmt::format("y_zero_point is {}, expected {}", dtype_name(yt), dtype_name(a.type)));
  ctx.set_output(0, yt, {m, n});
  std::vector<float> out_scales;  // the packed kernel's: float32 requantization scales, or the output scales
  if (quant_out) {
    const float ys = const_scale(ctx, 7, "y_scale");
    (void)const_zp(ctx, 8, yt, "y_zero_point");
    for (float s : scales) {
      const float v = s / ys;
      if (!std::isfinite(v)) ctx.fail(fmt::format("combined scale {} / {} is not finite", s, ys));
      out_scales.push_back(v);
    }
  } else {
    out_scales = scales;
  }
  const std::uint64_t macs = static_cast<std::uint64_t>(m) * static_cast<std::uint64_t>(n) * static_cast<std::uint64_t>(k);
  if (ctx.g().packed_kernels) {
    bool done = false;
    dispatch(q8_types{}, a.type, ctx, [&](auto atag) {
      using A = typename decltype(atag)::type;
      dispatch(q8_types{}, b.type, ctx, [&](auto btag) {
        using B = typename decltype(btag)::type;
        if (quant_out) {
          dispatch(q8_types{}, yt, ctx, [&](auto ytag) {
            using Y = typename decltype(ytag)::type;
            done = lower_packed_qgemm<A, B, Y>(ctx, p, out_scales, macs);
          });
        } else {
          done = lower_packed_qgemm<A, B, float>(ctx, p, out_scales, macs);
        }
      });
    });
    if (done) return;
  }
  tensor_id table;
  if (quant_out) {
    std::vector<std::int32_t> rq;
    for (float v : out_scales) {
      const requant_params r = requant_from_float(v);
      rq.push_back(r.mantissa);
      rq.push_back(r.exponent);
    }
    table = ctx.constant("requant", dtype::i32, {ns, 2}, to_bytes(rq));
  } else {
    table = ctx.constant("scale", dtype::f32, {ns}, to_bytes(scales));
  }
  dispatch(q8_types{}, a.type, ctx, [&](auto atag) {
    using A = typename decltype(atag)::type;
    dispatch(q8_types{}, b.type, ctx, [&](auto btag) {
      using B = typename decltype(btag)::type;
      layer l;
      if (quant_out) {
        dispatch(q8_types{}, yt, ctx, [&](auto ytag) {
          using Y = typename decltype(ytag)::type;
          l = make_layer(tmpl("kiln::qgemm", {cpp_name<A>(), cpp_name<B>(), cpp_name<Y>()}), &kiln::qgemm<A, B, Y>, p,
                         {ctx.in_id(0), ctx.in_id(2), ctx.in_id(3), ctx.in_id(5), ctx.in_id(6), table, ctx.in_id(8),
                          ctx.out_id(0)});
        });
      } else {
        l = make_layer(tmpl("kiln::qgemm_float", {cpp_name<A>(), cpp_name<B>()}), &kiln::qgemm_float<A, B>, p,
                       {ctx.in_id(0), ctx.in_id(2), ctx.in_id(3), ctx.in_id(5), ctx.in_id(6), table, ctx.out_id(0)});
      }
      l.macs = macs;
      ctx.emit(std::move(l));
    });
  });
}

}  // namespace

void register_qlinear(registry& r) {
  r.add(ms_entry("QLinearAdd", "int8, uint8",
                 "numpy broadcasting; constant per-tensor scales and zero points; float32 with fused multiply-adds at "
                 "run time (FPU), as MLAS's AVX2 kernel, in ONNX Runtime's operand order for broadcast spans",
                 [](lower_context& c) { lower_qlinear_binary(c, false); }));
  r.add(ms_entry("QLinearMul", "int8, uint8",
                 "numpy broadcasting; constant per-tensor scales and zero points; float32 at run time (FPU), as "
                 "MLAS's SSE2 kernel",
                 [](lower_context& c) { lower_qlinear_binary(c, true); }));
  r.add(ms_entry("QLinearGlobalAveragePool", "int8, uint8",
                 "channels_last; constant scales and zero points; integer-only", lower_qlinear_gap));
  r.add(ms_entry("QLinearAveragePool", "int8, uint8",
                 "1-D to 3-D, channels_last, ceil_mode, count_include_pad, auto_pad; no dilations; float32 at run "
                 "time (FPU), integer-only when the window is the whole unpadded image",
                 lower_qlinear_avgpool));
  r.add(ms_entry("QLinearConcat", "int8, uint8",
                 "per-input constant scales and zero points; one byte table per input, built at codegen",
                 lower_qlinear_concat));
  r.add(ms_entry("QLinearSigmoid", "int8, uint8",
                 "constant scales and zero points; byte table built at codegen with MLAS's FMA3 logistic",
                 [](lower_context& c) {
                   lower_qlinear_lookup(c, [](const float* in, float* out) {
                     for (int i = 0; i < 256; ++i) out[i] = mlas_logistic_fma3(in[i]);
                   });
                 }));
  // Not an ONNX Runtime op: the QDQ stage (stages/qdq.cpp) turns a DequantizeLinear →
  // QuantizeLinear pair with different quantizations into this byte table, so requantizing
  // between two layers needs no float tensor and no FPU.
  auto rq = entry("Requantize", "int8, uint8",
                  "kiln-internal (from DequantizeLinear → QuantizeLinear pairs of QDQ models): the same "
                  "float32 dequantize and quantize, folded into a byte table at codegen",
                  [](lower_context& c) { lower_qlinear_lookup(c, identity_transform); });
  rq.domain = "kiln.internal";
  r.add(std::move(rq));
  r.add(ms_entry("QLinearLeakyRelu", "int8, uint8", "constant scales and zero points; byte table built at codegen",
                 [](lower_context& c) {
                   const float alpha = static_cast<float>(c.n().get_float("alpha", 0.01));
                   lower_qlinear_lookup(c, [alpha](const float* in, float* out) {
                     for (int i = 0; i < 256; ++i) out[i] = in[i] >= 0.0f ? in[i] : alpha * in[i];
                   });
                 }));
  r.add(ms_entry("QLinearSoftmax", "int8, uint8",
                 "axis, opset (< 13 flattens from axis); constant scales; exp table built at codegen, float32 sums at "
                 "run time (FPU); outputs saturate (ONNX Runtime 1.30)",
                 lower_qlinear_softmax));
  r.add(ms_entry("QGemm", "uint8 x uint8/int8, int8 x int8 -> same 8-bit type or float",
                 "transA, transB, alpha, int32 C broadcast, per-tensor or per-column b scales and zero points; "
                 "integer-only requantization for 8-bit outputs, float32 multiply for float outputs",
                 lower_qgemm));
  // com.microsoft QLinearConv: the NCHW form is ai.onnx's QLinearConv, so reuse that lowering.
  if (const op_entry* onnx_conv = r.find("", "QLinearConv")) {
    auto lower = onnx_conv->lower;
    r.add(ms_entry("QLinearConv", "int8, uint8 (x, w, y independently)",
                   "as ai.onnx QLinearConv; channels_last = 1 (NHWC) is not supported",
                   [lower](lower_context& c) {
                     if (c.n().get_int("channels_last", 0) != 0)
                       c.unsupported("channels_last = 1 (NHWC); kiln's QLinearConv is NCHW only");
                     lower(c);
                   }));
  }
}

}  // namespace kiln::cg
