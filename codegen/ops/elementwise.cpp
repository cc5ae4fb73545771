// Lowerings of elementwise operators: unary maps, broadcasting binaries, variadics, Where, Cast.
#include "common.hpp"

#include "../params_reflect.hpp"
#include "../tensor_data.hpp"

#include <fmt/format.h>

namespace kiln::cg {

namespace {

unary_params unary_for(const lower_context& ctx, const tensor& x, double a = 0, double b = 0, double c = 0) {
  return {to_index(ctx, x.count()), a, b, c};
}

// An ONNX unary op with its functor; `Types` lists the element types it accepts.
template <class Op, class Types>
op_entry unary_op(const char* onnx, const char* functor, const char* types_doc,
                  std::function<void(const lower_context&, unary_params&)> attrs = {}) {
  op_entry e;
  e.op_type = onnx;
  e.types = types_doc;
  e.lower = [functor, attrs](lower_context& ctx) {
    const auto& x = ctx.in(0);
    ctx.set_output(0, x.type, x.dims);
    auto p = unary_for(ctx, x);
    if (attrs) attrs(ctx, p);
    dispatch(Types{}, x.type, ctx, [&](auto tag) {
      using T = typename decltype(tag)::type;
      emit_unary<Op, T>(ctx, functor, p, ctx.in_id(0), ctx.out_id(0));
    });
  };
  return e;
}

binary_params binary_for(const lower_context& ctx, const tensor& a, const tensor& b, const dims_t& out) {
  binary_params p{};
  p.rank = static_cast<index_t>(out.size());
  if (out.size() > static_cast<std::size_t>(max_rank)) ctx.unsupported(fmt::format("rank {} above {}", out.size(), max_rank));
  std::int64_t n = 1;
  for (std::size_t i = 0; i < out.size(); ++i) {
    p.dims[i] = to_index(ctx, out[i]);
    n *= out[i];
  }
  p.count = to_index(ctx, n);
  broadcast_strides(a.dims, out, p.strides[0]);
  broadcast_strides(b.dims, out, p.strides[1]);
  p.a_count = to_index(ctx, a.count());
  p.b_count = to_index(ctx, b.count());
  return p;
}

// Emits y = Op(a, b) with broadcasting; U is the result type (bool for comparisons).
template <class Op, class Types, bool Compare = false>
void lower_binary(lower_context& ctx, const char* functor, tensor_id a_id, tensor_id b_id, tensor_id y_id) {
  const auto& a = ctx.g().at(a_id);
  const auto& b = ctx.g().at(b_id);
  if (a.type != b.type)
    ctx.fail(fmt::format("inputs have different element types ({} and {})", dtype_name(a.type), dtype_name(b.type)));
  const auto out = broadcast_shape(ctx, a.dims, b.dims);
  auto& y = ctx.g().at(y_id);
  y.type = Compare ? dtype::boolean : a.type;
  y.dims = out;
  y.known = true;
  const auto p = binary_for(ctx, a, b, out);
  dispatch(Types{}, a.type, ctx, [&](auto tag) {
    using T = typename decltype(tag)::type;
    using U = std::conditional_t<Compare, bool, T>;
    layer l = make_layer(tmpl("kiln::binary", {functor, cpp_name<T>(), cpp_name<U>()}), &kiln::binary<Op, T, U>, p,
                         {a_id, b_id, y_id});
    // An operand with all the output's elements is not broadcast (its offset in every path of
    // kiln::binary is i), so y[i] may overwrite it; a broadcast operand is read again later.
    if (std::is_same_v<T, U>) {
      if (p.a_count == p.count) l.inplace_ok.push_back(0);
      if (p.b_count == p.count) l.inplace_ok.push_back(1);
    }
    ctx.emit(std::move(l));
  });
}

template <class Op, class Types, bool Compare = false>
op_entry binary_op(const char* onnx, const char* functor, const char* types_doc) {
  op_entry e;
  e.op_type = onnx;
  e.types = types_doc;
  e.notes = "numpy broadcasting";
  e.lower = [functor](lower_context& ctx) {
    lower_binary<Op, Types, Compare>(ctx, functor, ctx.in_id(0), ctx.in_id(1), ctx.out_id(0));
  };
  return e;
}

// Sum, Mean, Max, Min over any number of inputs: a chain of broadcasting binaries.
template <class Op, class Types>
op_entry variadic_op(const char* onnx, const char* functor, bool mean) {
  op_entry e;
  e.op_type = onnx;
  e.types = mean ? "float, double" : "float, double, integers";
  e.notes = "any number of inputs, numpy broadcasting";
  e.lower = [functor, mean](lower_context& ctx) {
    const std::size_t n = ctx.input_count();
    if (n == 0) ctx.fail("needs at least one input");
    dims_t out = ctx.in(0).dims;
    for (std::size_t i = 1; i < n; ++i) out = broadcast_shape(ctx, out, ctx.in(i).dims);
    const dtype t = ctx.in(0).type;
    if (n == 1 && !mean) {
      ctx.set_output(0, t, out);
      dispatch(Types{}, t, ctx, [&](auto tag) {
        using T = typename decltype(tag)::type;
        ctx.emit(make_layer(tmpl("kiln::copy", {cpp_name<T>()}), &kiln::copy<T>, unary_for(ctx, ctx.in(0)), {ctx.in_id(0), ctx.out_id(0)}));
      });
      return;
    }
    tensor_id acc = ctx.in_id(0);
    for (std::size_t i = 1; i < n; ++i) {
      const bool last = i + 1 == n && !mean;
      const auto dst = last ? ctx.out_id(0) : ctx.temp(t, broadcast_shape(ctx, ctx.g().at(acc).dims, ctx.in(i).dims));
      lower_binary<Op, Types>(ctx, functor, acc, ctx.in_id(i), dst);
      acc = dst;
    }
    if (mean) {
      // Mean = (sum) * (1/n), with 1/n as a broadcast scalar constant.
      dispatch(float_types{}, t, ctx, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const auto inv = ctx.constant("inv_count", t, {}, to_bytes(std::vector<T>{T(1) / T(n)}));
        lower_binary<kiln::op::mul, float_types>(ctx, "kiln::op::mul", acc, inv, ctx.out_id(0));
      });
    }
  };
  return e;
}

// Emits a Cast layer from tensor `x` (any kiln type) to the already-typed tensor `y`.
void emit_cast(lower_context& ctx, tensor_id x_id, tensor_id y_id) {
  const auto& x = ctx.g().at(x_id);
  const dtype to = ctx.g().at(y_id).type;
  dispatch(all_types{}, x.type, ctx, [&](auto from_tag) {
    using F = typename decltype(from_tag)::type;
    dispatch(all_types{}, to, ctx, [&](auto to_tag) {
      using T = typename decltype(to_tag)::type;
      ctx.emit(make_layer(tmpl("kiln::unary", {tmpl("kiln::op::cast_to", {cpp_name<T>()}), cpp_name<F>(), cpp_name<T>()}),
                          &kiln::unary<kiln::op::cast_to<T>, F, T>, unary_for(ctx, x), {x_id, y_id}));
    });
  });
}

}  // namespace

void register_elementwise(registry& r) {
  using namespace kiln::op;
  const char* fl = "float, double";
  const char* sn = "float, double, signed integers";
  r.add(unary_op<relu, signed_numeric_types>("Relu", "kiln::op::relu", sn));
  r.add(unary_op<neg, signed_numeric_types>("Neg", "kiln::op::neg", sn));
  r.add(unary_op<abs, numeric_types>("Abs", "kiln::op::abs", "float, double, integers"));
  r.add(unary_op<sign, numeric_types>("Sign", "kiln::op::sign", "float, double, integers"));
  r.add(unary_op<sigmoid, float_types>("Sigmoid", "kiln::op::sigmoid", fl));
  r.add(unary_op<tanh, float_types>("Tanh", "kiln::op::tanh", fl));
  r.add(unary_op<exp, float_types>("Exp", "kiln::op::exp", fl));
  r.add(unary_op<log, float_types>("Log", "kiln::op::log", fl));
  r.add(unary_op<sqrt, float_types>("Sqrt", "kiln::op::sqrt", fl));
  r.add(unary_op<erf, float_types>("Erf", "kiln::op::erf", fl));
  r.add(unary_op<reciprocal, float_types>("Reciprocal", "kiln::op::reciprocal", fl));
  r.add(unary_op<floor, float_types>("Floor", "kiln::op::floor", fl));
  r.add(unary_op<ceil, float_types>("Ceil", "kiln::op::ceil", fl));
  r.add(unary_op<round, float_types>("Round", "kiln::op::round", fl));
  r.add(unary_op<softplus, float_types>("Softplus", "kiln::op::softplus", fl));
  r.add(unary_op<softsign, float_types>("Softsign", "kiln::op::softsign", fl));
  r.add(unary_op<sin, float_types>("Sin", "kiln::op::sin", fl));
  r.add(unary_op<cos, float_types>("Cos", "kiln::op::cos", fl));
  r.add(unary_op<tan, float_types>("Tan", "kiln::op::tan", fl));
  r.add(unary_op<asin, float_types>("Asin", "kiln::op::asin", fl));
  r.add(unary_op<acos, float_types>("Acos", "kiln::op::acos", fl));
  r.add(unary_op<atan, float_types>("Atan", "kiln::op::atan", fl));
  r.add(unary_op<sinh, float_types>("Sinh", "kiln::op::sinh", fl));
  r.add(unary_op<cosh, float_types>("Cosh", "kiln::op::cosh", fl));
  r.add(unary_op<asinh, float_types>("Asinh", "kiln::op::asinh", fl));
  r.add(unary_op<acosh, float_types>("Acosh", "kiln::op::acosh", fl));
  r.add(unary_op<atanh, float_types>("Atanh", "kiln::op::atanh", fl));
  r.add(unary_op<logical_not, type_list<bool>>("Not", "kiln::op::logical_not", "bool"));
  r.add(unary_op<leaky_relu, float_types>("LeakyRelu", "kiln::op::leaky_relu", fl,
                                          [](const lower_context& c, unary_params& p) { p.alpha = c.n().get_float("alpha", 0.01); }));
  r.add(unary_op<elu, float_types>("Elu", "kiln::op::elu", fl,
                                   [](const lower_context& c, unary_params& p) { p.alpha = c.n().get_float("alpha", 1.0); }));
  r.add(unary_op<celu, float_types>("Celu", "kiln::op::celu", fl,
                                    [](const lower_context& c, unary_params& p) { p.alpha = c.n().get_float("alpha", 1.0); }));
  r.add(unary_op<selu, float_types>("Selu", "kiln::op::selu", fl, [](const lower_context& c, unary_params& p) {
    p.alpha = c.n().get_float("alpha", 1.67326319217681884765625);
    p.gamma = c.n().get_float("gamma", 1.05070102214813232421875);
  }));
  r.add(unary_op<thresholded_relu, float_types>("ThresholdedRelu", "kiln::op::thresholded_relu", fl,
                                                [](const lower_context& c, unary_params& p) { p.alpha = c.n().get_float("alpha", 1.0); }));
  r.add(unary_op<hard_sigmoid, float_types>("HardSigmoid", "kiln::op::hard_sigmoid", fl, [](const lower_context& c, unary_params& p) {
    p.alpha = c.n().get_float("alpha", 0.2);
    p.beta = c.n().get_float("beta", 0.5);
  }));
  r.add(unary_op<hard_swish, float_types>("HardSwish", "kiln::op::hard_swish", fl));
  r.add(unary_op<shrink, float_types>("Shrink", "kiln::op::shrink", fl, [](const lower_context& c, unary_params& p) {
    p.alpha = c.n().get_float("lambd", 0.5);
    p.beta = c.n().get_float("bias", 0.0);
  }));

  // Clip: bounds are attributes before opset 11 and optional constant inputs after.
  {
    op_entry e;
    e.op_type = "Clip";
    e.types = "float, double, integers";
    e.notes = "min/max inputs must be constants";
    e.lower = [](lower_context& ctx) {
      const auto& x = ctx.in(0);
      ctx.set_output(0, x.type, x.dims);
      dispatch(numeric_types{}, x.type, ctx, [&](auto tag) {
        using T = typename decltype(tag)::type;
        double lo = static_cast<double>(std::numeric_limits<T>::lowest());
        double hi = static_cast<double>(std::numeric_limits<T>::max());
        if (ctx.n().opset < 11) {
          lo = ctx.n().get_float("min", lo);
          hi = ctx.n().get_float("max", hi);
        }
        if (ctx.has_input(1)) lo = ctx.const_doubles(1, "Clip's min").at(0);
        if (ctx.has_input(2)) hi = ctx.const_doubles(2, "Clip's max").at(0);
        emit_unary<kiln::op::clip, T>(ctx, "kiln::op::clip", unary_for(ctx, x, lo, hi), ctx.in_id(0), ctx.out_id(0));
      });
    };
    r.add(std::move(e));
  }

  const char* num = "float, double, integers";
  r.add(binary_op<add, numeric_types>("Add", "kiln::op::add", num));
  r.add(binary_op<sub, numeric_types>("Sub", "kiln::op::sub", num));
  r.add(binary_op<mul, numeric_types>("Mul", "kiln::op::mul", num));
  r.add(binary_op<kiln::op::div, numeric_types>("Div", "kiln::op::div", num));
  r.add(binary_op<prelu, signed_numeric_types>("PRelu", "kiln::op::prelu", sn));
  r.add(binary_op<equal, all_types, true>("Equal", "kiln::op::equal", "all"));
  r.add(binary_op<less, numeric_types, true>("Less", "kiln::op::less", num));
  r.add(binary_op<less_equal, numeric_types, true>("LessOrEqual", "kiln::op::less_equal", num));
  r.add(binary_op<greater, numeric_types, true>("Greater", "kiln::op::greater", num));
  r.add(binary_op<greater_equal, numeric_types, true>("GreaterOrEqual", "kiln::op::greater_equal", num));
  r.add(binary_op<logical_and, type_list<bool>>("And", "kiln::op::logical_and", "bool"));
  r.add(binary_op<logical_or, type_list<bool>>("Or", "kiln::op::logical_or", "bool"));
  r.add(binary_op<logical_xor, type_list<bool>>("Xor", "kiln::op::logical_xor", "bool"));
  r.add(binary_op<bit_and, int_types>("BitwiseAnd", "kiln::op::bit_and", "integers"));
  r.add(binary_op<bit_or, int_types>("BitwiseOr", "kiln::op::bit_or", "integers"));
  r.add(binary_op<bit_xor, int_types>("BitwiseXor", "kiln::op::bit_xor", "integers"));
  r.add(unary_op<bit_not, int_types>("BitwiseNot", "kiln::op::bit_not", "integers"));

  // Pow: the exponent may have its own type. Same types use one kernel; mixed types compute in
  // double (as numpy promotes them) and convert the result to the base's type.
  {
    op_entry e = binary_op<kiln::op::pow, numeric_types>("Pow", "kiln::op::pow", "float, double, integers; any exponent type");
    auto same = e.lower;
    e.lower = [same](lower_context& ctx) {
      const auto& a = ctx.in(0);
      const auto& b = ctx.in(1);
      if (a.type == b.type) return same(ctx);
      dispatch(numeric_types{}, a.type, ctx, [](auto) {});
      dispatch(numeric_types{}, b.type, ctx, [](auto) {});
      const auto out = broadcast_shape(ctx, a.dims, b.dims);
      ctx.set_output(0, a.type, out);
      auto as_f64 = [&](std::size_t i) {
        if (ctx.in(i).type == dtype::f64) return ctx.in_id(i);
        const auto t = ctx.temp(dtype::f64, ctx.in(i).dims);
        emit_cast(ctx, ctx.in_id(i), t);
        return t;
      };
      const auto fa = as_f64(0), fb = as_f64(1);
      const auto y = a.type == dtype::f64 ? ctx.out_id(0) : ctx.temp(dtype::f64, out);
      lower_binary<kiln::op::pow, float_types>(ctx, "kiln::op::pow", fa, fb, y);
      if (y != ctx.out_id(0)) emit_cast(ctx, y, ctx.out_id(0));
    };
    r.add(std::move(e));
  }
  {
    op_entry e;
    e.op_type = "Mod";
    e.types = num;
    e.notes = "fmod attribute honoured";
    e.lower = [](lower_context& ctx) {
      if (ctx.n().get_int("fmod", 0)) lower_binary<kiln::op::fmod, numeric_types>(ctx, "kiln::op::fmod", ctx.in_id(0), ctx.in_id(1), ctx.out_id(0));
      else lower_binary<kiln::op::mod, numeric_types>(ctx, "kiln::op::mod", ctx.in_id(0), ctx.in_id(1), ctx.out_id(0));
    };
    e.excluded_tests = {{"test_mod_mixed_sign_float16", "float16: kiln has no float16 type"}};
    r.add(std::move(e));
  }

  r.add(variadic_op<add, numeric_types>("Sum", "kiln::op::add", false));
  r.add(variadic_op<add, float_types>("Mean", "kiln::op::add", true));
  {
    auto mx = variadic_op<kiln::op::max, numeric_types>("Max", "kiln::op::max", false);
    mx.excluded_tests = {{"test_max_float16", "float16: kiln has no float16 type"}};
    r.add(std::move(mx));
    auto mn = variadic_op<kiln::op::min, numeric_types>("Min", "kiln::op::min", false);
    mn.excluded_tests = {{"test_min_float16", "float16: kiln has no float16 type"}};
    r.add(std::move(mn));
  }

  {
    op_entry e;
    e.op_type = "Where";
    e.types = "all";
    e.notes = "numpy broadcasting of all three inputs";
    e.lower = [](lower_context& ctx) {
      const auto &c = ctx.in(0), &a = ctx.in(1), &b = ctx.in(2);
      const auto out = broadcast_shape(ctx, broadcast_shape(ctx, c.dims, a.dims), b.dims);
      ctx.set_output(0, a.type, out);
      where_params p{};
      p.rank = static_cast<index_t>(out.size());
      for (std::size_t i = 0; i < out.size(); ++i) p.dims[i] = to_index(ctx, out[i]);
      p.count = to_index(ctx, ctx.g().at(ctx.out_id(0)).count());
      broadcast_strides(c.dims, out, p.strides[0]);
      broadcast_strides(a.dims, out, p.strides[1]);
      broadcast_strides(b.dims, out, p.strides[2]);
      dispatch(all_types{}, a.type, ctx, [&](auto tag) {
        using T = typename decltype(tag)::type;
        ctx.emit(make_layer(tmpl("kiln::where", {cpp_name<T>()}), &kiln::where<T>, p, {ctx.in_id(0), ctx.in_id(1), ctx.in_id(2), ctx.out_id(0)}));
      });
    };
    r.add(std::move(e));
  }
  {
    op_entry e;
    e.op_type = "Cast";
    e.types = "all kiln types (no float16, bfloat16, string)";
    // The CastLike expansions are plain Casts, so their exclusions live here too.
    for (const char* t : {"test_cast_BFLOAT16_to_FLOAT", "test_cast_FLOAT_to_BFLOAT16", "test_castlike_BFLOAT16_to_FLOAT_expanded",
                          "test_castlike_FLOAT_to_BFLOAT16_expanded"})
      e.excluded_tests.emplace_back(t, "bfloat16: kiln has no bfloat16 type");
    for (const char* t : {"test_cast_DOUBLE_to_FLOAT16", "test_cast_FLOAT16_to_DOUBLE", "test_cast_FLOAT16_to_FLOAT",
                          "test_cast_FLOAT_to_FLOAT16", "test_castlike_DOUBLE_to_FLOAT16_expanded",
                          "test_castlike_FLOAT16_to_DOUBLE_expanded", "test_castlike_FLOAT16_to_FLOAT_expanded",
                          "test_castlike_FLOAT_to_FLOAT16_expanded"})
      e.excluded_tests.emplace_back(t, "float16: kiln has no float16 type");
    for (const char* t : {"test_cast_FLOAT_to_STRING", "test_cast_STRING_to_FLOAT", "test_castlike_FLOAT_to_STRING_expanded",
                          "test_castlike_STRING_to_FLOAT_expanded"})
      e.excluded_tests.emplace_back(t, "string: kiln has no string type");
    e.lower = [](lower_context& ctx) {
      const auto& x = ctx.in(0);
      std::string name;
      const auto to = from_onnx_type(static_cast<int>(ctx.n().get_int("to", 1)), &name);
      if (!to) ctx.unsupported("cast to " + name);
      ctx.set_output(0, *to, x.dims);
      dispatch(all_types{}, x.type, ctx, [&](auto from_tag) {
        using F = typename decltype(from_tag)::type;
        dispatch(all_types{}, *to, ctx, [&](auto to_tag) {
          using T = typename decltype(to_tag)::type;
          ctx.emit(make_layer(tmpl("kiln::unary", {tmpl("kiln::op::cast_to", {cpp_name<T>()}), cpp_name<F>(), cpp_name<T>()}),
                              &kiln::unary<kiln::op::cast_to<T>, F, T>, unary_for(ctx, x), {ctx.in_id(0), ctx.out_id(0)}));
        });
      });
    };
    r.add(std::move(e));
  }
}

}  // namespace kiln::cg
