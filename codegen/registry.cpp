#include "registry.hpp"

#include <fmt/format.h>

namespace kiln::cg {

const tensor& lower_context::in(std::size_t i) const {
  if (!has_input(i)) fail(fmt::format("input {} is required", i));
  return g_.at(n_.inputs[i]);
}

void lower_context::set_output(std::size_t i, dtype t, dims_t dims) {
  if (!has_output(i)) return;
  for (auto d : dims)
    if (d < 0) fail(fmt::format("output '{}' would have negative dimension {}", g_.at(out_id(i)).name, d));
  auto& o = g_.at(n_.outputs[i]);
  tensor shaped;  // checked before the graph changes: every output's size must be computable and addressable
  shaped.name = o.name;
  shaped.type = t;
  shaped.dims = dims;
  checked_or_fail(shaped);
  o.type = t;
  o.dims = std::move(dims);
  o.known = true;
}

void lower_context::checked_or_fail(const tensor& t) const {
  try {
    (void)t.bytes();
    t.check_addressable();
  } catch (const error& e) {
    fail(e.what());
  }
}

std::vector<std::int64_t> lower_context::const_ints(std::size_t i, const char* what) const {
  const auto& t = in(i);
  if (!t.is_constant()) throw needs_constant_error(t.name, n_.label(), what);
  return t.as_ints();
}

std::vector<double> lower_context::const_doubles(std::size_t i, const char* what) const {
  const auto& t = in(i);
  if (!t.is_constant()) throw needs_constant_error(t.name, n_.label(), what);
  return t.as_doubles();
}

tensor_id lower_context::temp(dtype t, dims_t dims) {
  tensor tmp;
  tmp.name = fmt::format("{}__tmp{}", n_.name.empty() ? n_.op_type : n_.name, g_.tensors.size());
  tmp.type = t;
  tmp.dims = std::move(dims);
  tmp.known = true;
  checked_or_fail(tmp);
  return g_.add_tensor(std::move(tmp));
}

tensor_id lower_context::constant(const std::string& suffix, dtype t, dims_t dims, std::vector<std::uint8_t> bytes) {
  tensor c;
  c.name = fmt::format("{}_{}", n_.name.empty() ? n_.op_type : n_.name, suffix);
  while (g_.find(c.name) != no_tensor) c.name += "_";
  c.type = t;
  c.dims = std::move(dims);
  c.known = true;
  c.value = std::move(bytes);
  checked_or_fail(c);
  if (c.value->size() != c.bytes())
    fail(fmt::format("constant '{}' holds {} bytes, its dims {} need {}", c.name, c.value->size(), dims_string(c.dims), c.bytes()));
  return g_.add_tensor(std::move(c));
}

void lower_context::set_constant_output(std::size_t i, dtype t, dims_t dims, std::vector<std::uint8_t> bytes) {
  set_output(i, t, std::move(dims));
  if (has_output(i)) g_.at(out_id(i)).value = std::move(bytes);
}

void lower_context::fail(const std::string& why) const { throw error(fmt::format("{}: {}", n_.label(), why)); }
void lower_context::unsupported(const std::string& why) const { throw unsupported_node(why); }

int lower_context::axis(std::int64_t a, std::size_t rank) const {
  const auto r = static_cast<std::int64_t>(rank);
  if (a < -r || a >= r) fail(fmt::format("axis {} is out of range for rank {}", a, rank));
  return static_cast<int>(a < 0 ? a + r : a);
}

void registry::add(op_entry e) {
  auto key = std::make_pair(e.domain, e.op_type);
  ops_[key] = std::move(e);
}

const op_entry* registry::find(const std::string& domain, const std::string& op_type) const {
  const std::string d = domain == "ai.onnx" ? "" : domain;
  auto it = ops_.find({d, op_type});
  return it == ops_.end() ? nullptr : &it->second;
}

const registry& registry::builtin() {
  static const registry r = [] {
    registry reg;
    register_elementwise(reg);
    register_nn(reg);
    register_shape_ops(reg);
    register_tensor_ops(reg);
    register_reduce(reg);
    register_norm(reg);
    register_quant(reg);
    register_qlinear(reg);  // after register_quant: reuses its QLinearConv
    return reg;
  }();
  return r;
}

}  // namespace kiln::cg
