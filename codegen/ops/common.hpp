// Shared helpers for op lowerings: dtype dispatch, C++ type names, broadcasting, axis handling.
#pragma once

#include "../registry.hpp"

#include <kiln/kiln.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

namespace kiln::cg {

template <class... Ts> struct type_list {};
using float_types = type_list<float, double>;
using signed_int_types = type_list<std::int8_t, std::int16_t, std::int32_t, std::int64_t>;
using int_types = type_list<std::int8_t, std::uint8_t, std::int16_t, std::uint16_t, std::int32_t, std::uint32_t,
                            std::int64_t, std::uint64_t>;
using numeric_types = type_list<float, double, std::int8_t, std::uint8_t, std::int16_t, std::uint16_t, std::int32_t,
                                std::uint32_t, std::int64_t, std::uint64_t>;
using all_types = type_list<float, double, std::int8_t, std::uint8_t, std::int16_t, std::uint16_t, std::int32_t,
                            std::uint32_t, std::int64_t, std::uint64_t, bool>;
using signed_numeric_types = type_list<float, double, std::int8_t, std::int16_t, std::int32_t, std::int64_t>;

template <class T> struct type_tag { using type = T; };

template <class T> constexpr const char* cpp_name() {
  if constexpr (std::is_same_v<T, float>) return "float";
  else if constexpr (std::is_same_v<T, double>) return "double";
  else if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_same_v<T, std::int8_t>) return "std::int8_t";
  else if constexpr (std::is_same_v<T, std::uint8_t>) return "std::uint8_t";
  else if constexpr (std::is_same_v<T, std::int16_t>) return "std::int16_t";
  else if constexpr (std::is_same_v<T, std::uint16_t>) return "std::uint16_t";
  else if constexpr (std::is_same_v<T, std::int32_t>) return "std::int32_t";
  else if constexpr (std::is_same_v<T, std::uint32_t>) return "std::uint32_t";
  else if constexpr (std::is_same_v<T, std::int64_t>) return "std::int64_t";
  else return "std::uint64_t";
}

std::string cpp_type(dtype t);

// Calls f(type_tag<T>{}) for the T in `List` matching `t`; any other type is unsupported.
template <class... Ts, class F>
void dispatch(type_list<Ts...>, dtype t, const lower_context& ctx, F&& f) {
  bool done = false;
  ((!done && dtype_of<Ts>::value == t ? (f(type_tag<Ts>{}), done = true) : false), ...);
  if (!done) ctx.unsupported(std::string("element type ") + dtype_name(t));
}

// A registry entry for an ai.onnx operator; `types` and `notes` feed docs/supported-ops.md.
op_entry entry(const char* name, const char* types, const char* notes, std::function<void(lower_context&)> lower);

// MatMul's numpy semantics, shared by float and integer matrix products: 1-D operands gain and
// lose a unit axis, batch axes broadcast.
struct matmul_geometry {
  std::int64_t m, n, k;
  dims_t a_batch, b_batch, batch;  // batch: the broadcast batch shape
  std::int64_t batch_count;
  dims_t out;
};
matmul_geometry matmul_shape(const lower_context& ctx, const dims_t& a, const dims_t& b);
// Fills a kernel's batch walk: per-operand strides in elements, 0 along broadcast axes.
void fill_matmul_batch(const lower_context& ctx, const matmul_geometry& g, index_t& rank, index_t& count,
                       index_t (&dims)[max_rank], index_t (&strides)[2][max_rank]);

// "kiln::unary<kiln::op::relu, float>" from pieces.
std::string tmpl(const std::string& name, std::initializer_list<std::string> args);
// The kiln::packed::channel_layout a kernel template takes for a (channel-blocked or planar) tensor.
std::string layout_name(bool blocked);

// numpy broadcasting of two shapes; fails naming the node when incompatible.
dims_t broadcast_shape(const lower_context& ctx, const dims_t& a, const dims_t& b);
// Strides of `in` broadcast to `out` (0 along broadcast axes), right-aligned.
void broadcast_strides(const dims_t& in, const dims_t& out, index_t* strides);

index_t to_index(const lower_context& ctx, std::int64_t v);  // checked narrowing for kernel params
dims_t dims_of(const tensor& t);

template <class T> std::vector<std::uint8_t> to_bytes(const std::vector<T>& v) {
  std::vector<std::uint8_t> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

// Element-wise layer helper: emits kiln::unary<Op, T, U> over the node's input 0 → output 0.
template <class Op, class T, class U = T>
void emit_unary(lower_context& ctx, const std::string& op_name, const unary_params& p, tensor_id x, tensor_id y) {
  layer l = make_layer(tmpl("kiln::unary", {op_name, cpp_name<T>(), cpp_name<U>()}), &kiln::unary<Op, T, U>, p, {x, y});
  if (std::is_same_v<T, U>) l.inplace_ok = {0};  // y[i] = op(x[i]): x[i] is read once, just before y[i] is written
  ctx.emit(std::move(l));
}

}  // namespace kiln::cg

namespace kiln::cg {
// dispatch over every dtype without a lowering context (for codegen-internal layers).
template <class... Ts, class F> void dispatch_in(type_list<Ts...>, dtype t, F&& f) {
  (void)((dtype_of<Ts>::value == t ? (f(type_tag<Ts>{}), true) : false) || ...);
}
template <class F> void all_types_dispatch(dtype t, F&& f) { dispatch_in(all_types{}, t, f); }
}  // namespace kiln::cg
