// A lowered layer: one call of a runtime kernel with a constexpr params struct.
// The same object both prints the call for the generated header and runs the kernel at codegen
// time (constant folding), so folded values come from exactly the code the model will run.
#pragma once

#include "ir.hpp"
#include "params_reflect.hpp"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace kiln::cg {

// Marks the argument slot that receives the layer's scratch buffer.
inline constexpr tensor_id scratch_arg = -2;

struct layer {
  std::string kernel;       // e.g. "kiln::conv<float>"
  std::string params_type;  // e.g. "kiln::conv_params"; empty when the kernel takes none
  std::string params_init;  // aggregate initializer, e.g. "{1, 3, ...}"
  std::vector<tensor_id> args;  // kernel pointer arguments in order; no_tensor means nullptr,
                                // scratch_arg the layer's arena scratch
  std::size_t scratch_bytes = 0;
  // Argument positions of inputs the output (the last argument, or the one before a trailing
  // scratch_arg) may share storage with:
  // the kernel reads element i of that input only before writing element i of the output, and
  // never again, and the input has the output's shape and element type (not broadcast). The
  // planner may then place the output over such an input whose storage dies at this layer.
  std::vector<int> inplace_ok;
  // Argument positions of constants only some targets read (int8 depthwise lane quads): the call
  // passes them as KILN_LANE_QUADS(arg), nullptr elsewhere, and weight_bytes leaves them out.
  std::vector<int> lane_quad_args;
  bool lane_quad_arg(std::size_t k) const {
    return std::find(lane_quad_args.begin(), lane_quad_args.end(), static_cast<int>(k)) != lane_quad_args.end();
  }
  std::uint64_t macs = 0;   // multiply-accumulates of one call (Conv, Gemm, MatMul, ConvTranspose), for `kiln report`
  std::function<void(void* const* ptrs)> run;  // evaluate on host buffers, one per arg
  std::string origin;     // the node this layer came from, for comments and messages
  std::string node_name;  // that node's ONNX name (may be empty) and type, for the params' name
  std::string op_type;
};

namespace detail {
template <class P, class... A, std::size_t... I>
void call_kernel(void (*fn)(const P&, A...) noexcept, const P& p, void* const* ptrs, std::index_sequence<I...>) {
  fn(p, static_cast<A>(ptrs[I])...);
}
}  // namespace detail

// Builds a layer from a kernel function pointer; `name` is how the header spells that function.
template <class P, class... A>
layer make_layer(std::string name, void (*fn)(const P&, A...) noexcept, const P& params, std::vector<tensor_id> args) {
  if (args.size() != sizeof...(A)) throw std::logic_error("kernel " + name + ": argument count mismatch");
  layer l;
  l.kernel = std::move(name);
  l.params_type = params_type_name<P>();
  l.params_init = print_params(params);
  l.args = std::move(args);
  l.run = [fn, params](void* const* ptrs) {
    detail::call_kernel(fn, params, ptrs, std::index_sequence_for<A...>{});
  };
  return l;
}

}  // namespace kiln::cg
