// The operator registry: the single source of truth for which ONNX operators kiln supports,
// how each lowers to runtime kernels, which node tests cover it, and the supported-ops doc.
#pragma once

#include "ir.hpp"
#include "layer.hpp"

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace kiln::cg {

// A node this op cannot handle (a dtype, an attribute value): reported with all others, exit 2.
struct unsupported_node : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class lower_context {
 public:
  lower_context(graph& g, node& n, std::vector<layer>& out, std::map<tensor_id, tensor_id>& aliases)
      : g_(g), n_(n), layers_(out), aliases_(aliases) {}

  graph& g() { return g_; }
  const node& n() const { return n_; }
  std::size_t input_count() const { return n_.inputs.size(); }
  std::size_t output_count() const { return n_.outputs.size(); }
  bool has_input(std::size_t i) const { return i < n_.inputs.size() && n_.inputs[i] != no_tensor; }
  bool has_output(std::size_t i) const { return i < n_.outputs.size() && n_.outputs[i] != no_tensor; }
  const tensor& in(std::size_t i) const;   // throws error when the input is missing
  tensor_id in_id(std::size_t i) const { return has_input(i) ? n_.inputs[i] : no_tensor; }
  tensor_id out_id(std::size_t i) const { return has_output(i) ? n_.outputs[i] : no_tensor; }

  // Declares output i's type and shape; must be called for every present output.
  void set_output(std::size_t i, dtype t, dims_t dims);

  // Values that shape the computation (Reshape's shape, Slice's starts, ...) must be constant.
  std::vector<std::int64_t> const_ints(std::size_t i, const char* what) const;
  std::vector<double> const_doubles(std::size_t i, const char* what) const;
  bool is_constant(std::size_t i) const { return has_input(i) && in(i).is_constant(); }

  // Adds a kernel call; `make_layer(...)` builds it.
  void emit(layer l) {
    l.origin = n_.label();
    l.node_name = n_.name;
    l.op_type = n_.op_type;
    layers_.push_back(std::move(l));
  }
  // Output `out` shares its input's storage (Reshape, Squeeze, Identity, ...).
  void alias(std::size_t out, std::size_t in) { aliases_[out_id(out)] = in_id(in); }
  // A temporary tensor for multi-kernel lowerings.
  tensor_id temp(dtype t, dims_t dims);
  // A constant computed at codegen time (e.g. BatchNormalization's folded scale).
  tensor_id constant(const std::string& suffix, dtype t, dims_t dims, std::vector<std::uint8_t> bytes);
  // Output i is known at codegen time (Shape, Size): no kernel is emitted for it.
  void set_constant_output(std::size_t i, dtype t, dims_t dims, std::vector<std::uint8_t> bytes);

  [[noreturn]] void fail(const std::string& why) const;         // bad model: error naming the node
  [[noreturn]] void unsupported(const std::string& why) const;  // valid model kiln cannot run
  int axis(std::int64_t a, std::size_t rank) const;              // normalises a negative axis, checks range
  // Fails naming the node when t's size overflows or exceeds the 32-bit index type (set_output, temp, constant).
  void checked_or_fail(const tensor& t) const;

 private:
  graph& g_;
  node& n_;
  std::vector<layer>& layers_;
  std::map<tensor_id, tensor_id>& aliases_;
};

struct op_entry {
  std::string op_type;
  std::string domain;  // "" for ai.onnx
  std::string types;   // element types, for the docs: "float, double" etc.
  std::string notes;   // limits worth knowing, for the docs
  std::function<void(lower_context&)> lower;
  // ONNX node tests of this op kiln does not claim, with the reason; every other node test
  // whose ops are all registered must pass.
  std::vector<std::pair<std::string, std::string>> excluded_tests;
};

class registry {
 public:
  static const registry& builtin();
  void add(op_entry e);
  const op_entry* find(const std::string& domain, const std::string& op_type) const;
  const std::map<std::pair<std::string, std::string>, op_entry>& entries() const { return ops_; }

 private:
  std::map<std::pair<std::string, std::string>, op_entry> ops_;
};

// Each operator family registers itself from its own file under codegen/ops/.
void register_elementwise(registry& r);   // ops/elementwise.cpp
void register_nn(registry& r);            // ops/nn.cpp
void register_shape_ops(registry& r);      // ops/shape_ops.cpp
void register_tensor_ops(registry& r);     // ops/tensor_ops.cpp
void register_reduce(registry& r);         // ops/reduce.cpp
void register_norm(registry& r);           // ops/norm.cpp (with ConvTranspose)
void register_quant(registry& r);          // ops/quant.cpp (QuantizeLinear, QLinearConv, ...)
void register_qlinear(registry& r);        // ops/qlinear.cpp (com.microsoft QLinearAdd, QGemm, ...)

}  // namespace kiln::cg
