// The codegen's own graph: typed, statically shaped tensors and the nodes between them.
// Every stage after loading works on this, not on protobuf.
#pragma once

#include <kiln/core/types.hpp>

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::cg {

using dims_t = std::vector<std::int64_t>;
using tensor_id = int;
inline constexpr tensor_id no_tensor = -1;

// A user-facing error: a message naming the node or tensor at fault. Exit status 1.
struct error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The model uses operators or types kiln does not support. Exit status 2.
struct unsupported_error : std::runtime_error {
  std::vector<std::string> items;  // one line per offending node
  // "model uses N unsupported node(s):" and the lines.
  explicit unsupported_error(std::vector<std::string> lines);
  // What the model as a whole uses (its opset, a graph input's type): "unsupported model: WHY".
  static unsupported_error of_model(const std::string& why);

 private:
  unsupported_error(const std::string& message, std::vector<std::string> lines);
};

// A graph input whose value determines shapes or attributes and must be known at codegen time.
struct needs_constant_error : error {
  std::string tensor;
  needs_constant_error(const std::string& tensor_name, const std::string& node, const std::string& why);
};

// Element counts and byte sizes, checked: every size computed from a model's dims goes through
// these. A negative dimension or a product past int64 (or, for bytes, past size_t) is an error
// naming `what` (a tensor name).
std::int64_t checked_count(const dims_t& dims, const std::string& what);
std::size_t checked_bytes(std::int64_t count, dtype t, const std::string& what);

// Kernels index tensors with kiln::index_t (32 bits): no tensor kiln runs may hold more elements.
inline constexpr std::int64_t max_index_elements = 2147483647;

struct tensor {
  std::string name;
  dtype type = dtype::f32;
  dims_t dims;
  bool known = false;                             // type and shape known
  std::optional<std::vector<std::uint8_t>> value;  // little-endian elements when constant
  bool is_input = false;
  bool is_output = false;
  std::string unsupported_type;  // ONNX element type kiln cannot hold (float16, string, ...), if any
  // Stored channel-blocked (kiln/packed/layout.hpp) between the layers of stages/layout.cpp.
  bool channel_blocked = false;

  std::int64_t count() const { return checked_count(dims, name); }  // throws error on overflow
  std::size_t bytes() const { return checked_bytes(count(), type, name); }
  // Throws an error naming the tensor when its element count exceeds max_index_elements.
  void check_addressable(const std::string& context = {}) const;
  bool is_constant() const { return value.has_value(); }
  template <class T> const T* data() const { return reinterpret_cast<const T*>(value->data()); }
  // Constant elements converted to int64 / double, whatever the stored integer or float type.
  std::vector<std::int64_t> as_ints() const;
  std::vector<double> as_doubles() const;
};

struct attribute {
  enum class kind { none, i, f, s, ints, floats, strings, tensor, graph } type = kind::none;
  std::int64_t i = 0;
  double f = 0;
  std::string s;
  std::vector<std::int64_t> ints;
  std::vector<double> floats;
  std::vector<std::string> strings;
  std::vector<std::uint8_t> tensor_value;  // raw, with tensor_type/tensor_dims
  dtype tensor_type = dtype::f32;
  dims_t tensor_dims;
};

// The attribute convert_opset (stages/opset.cpp) gives a Resize it converted from Resize 10 or
// Upsample: their old opset, for their coordinates and nearest rounding, which Resize 11's
// attributes do not all express.
inline constexpr const char* legacy_resize_attribute = "kiln_legacy_opset";

struct node {
  std::string name;
  std::string op_type;
  std::string domain;  // "" for the default ONNX domain
  int opset = 0;       // the opset version of this node's domain
  std::vector<tensor_id> inputs;   // no_tensor for an omitted optional input
  std::vector<tensor_id> outputs;  // no_tensor for an omitted optional output
  std::map<std::string, attribute> attrs;

  bool has(const std::string& a) const { return attrs.count(a) != 0; }
  std::int64_t get_int(const std::string& a, std::int64_t def) const;
  double get_float(const std::string& a, double def) const;
  std::string get_string(const std::string& a, const std::string& def) const;
  std::vector<std::int64_t> get_ints(const std::string& a, std::vector<std::int64_t> def = {}) const;
  std::vector<double> get_floats(const std::string& a) const;
  std::string label() const;  // "Conv 'conv1'" for messages
};

struct graph {
  std::string name;
  std::deque<tensor> tensors;  // a deque: references stay valid while lowerings add tensors
  std::vector<node> nodes;  // topologically sorted after loading
  std::vector<tensor_id> inputs;
  std::vector<tensor_id> outputs;
  std::map<std::string, int> opsets;  // domain -> version
  std::map<std::string, tensor_id> by_name;
  // kiln compile --kernels fast: Conv/Gemm/QLinearConv lower to the packed kernels (kiln/packed).
  bool packed_kernels = false;
  // kiln compile --winograd: which float 3x3 stride-1 convs lower to kiln::packed::conv_winograd.
  enum class winograd_mode { off, measured, tile_2x2, tile_4x4 } winograd = winograd_mode::off;

  tensor& at(tensor_id id) { return tensors.at(static_cast<std::size_t>(id)); }
  const tensor& at(tensor_id id) const { return tensors.at(static_cast<std::size_t>(id)); }
  tensor_id find(const std::string& name) const;
  tensor_id add_tensor(tensor t);
};

std::string dims_string(const dims_t& d);  // "1x3x32x32", "scalar" for rank 0

}  // namespace kiln::cg
