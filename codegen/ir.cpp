#include "ir.hpp"

#include <fmt/format.h>

namespace kiln::cg {

// Every offending node, up to a point: a function bomb can make 65536 of them, and megabytes of
// identical lines explain nothing more than the first ones and a count.
static std::string join_lines(const std::vector<std::string>& lines) {
  constexpr std::size_t max_lines = 200;
  std::string s;
  for (std::size_t i = 0; i < lines.size() && i < max_lines; ++i) s += "\n  " + lines[i];
  if (lines.size() > max_lines) s += fmt::format("\n  ... and {} more", lines.size() - max_lines);
  return s;
}

unsupported_error::unsupported_error(std::vector<std::string> lines)
    : unsupported_error(fmt::format("model uses {} unsupported node(s):{}", lines.size(), join_lines(lines)), lines) {}

unsupported_error::unsupported_error(const std::string& message, std::vector<std::string> lines)
    : std::runtime_error(message), items(std::move(lines)) {}

unsupported_error unsupported_error::of_model(const std::string& why) {
  return unsupported_error("unsupported model: " + why, {why});
}

needs_constant_error::needs_constant_error(const std::string& tensor_name, const std::string& node, const std::string& why)
    : error(fmt::format("{}: input '{}' ({}) must be known at codegen time, but it is computed at run time", node,
                        tensor_name, why)),
      tensor(tensor_name) {}

std::int64_t checked_count(const dims_t& dims, const std::string& what) {
  std::int64_t n = 1;
  bool overflow = false;
  for (auto d : dims) {
    if (d < 0) throw error(fmt::format("tensor '{}': negative dimension {} in {}", what, d, dims_string(dims)));
    if (!overflow && __builtin_mul_overflow(n, d, &n)) overflow = true;
  }
  if (overflow)  // a later zero dimension would make it empty, but such dims are hostile anyway
    throw error(fmt::format("tensor '{}': dims {} have more elements than a 64-bit count holds", what, dims_string(dims)));
  // An empty tensor's other dims are not bounded by its count; bounding each one keeps the shape
  // arithmetic of every lowering (dim times dim, in int64) from overflowing on dims like 0x2^62.
  for (auto d : dims)
    if (d > max_index_elements)
      throw error(fmt::format("tensor '{}': dimension {} in {} is more than kiln's 32-bit index type addresses ({})", what,
                              d, dims_string(dims), max_index_elements));
  return n;
}

std::size_t checked_bytes(std::int64_t count, dtype t, const std::string& what) {
  std::size_t b = 0;
  if (count < 0 || __builtin_mul_overflow(static_cast<std::uint64_t>(count), dtype_size(t), &b))
    throw error(fmt::format("tensor '{}': {} elements of {} bytes do not fit in memory", what, count, dtype_size(t)));
  return b;
}

void tensor::check_addressable(const std::string& context) const {
  const auto n = count();
  if (n > max_index_elements)
    throw error(fmt::format("{}tensor '{}' ({}) has {} elements; kiln's 32-bit index type addresses at most {}",
                            context.empty() ? "" : context + ": ", name, dims_string(dims), n, max_index_elements));
}

template <class F>
static void for_each_element(const tensor& t, F&& f) {
  if (!t.value) throw error(fmt::format("tensor '{}' is not a constant", t.name));
  const auto n = static_cast<std::size_t>(t.count());
  const auto need = t.bytes();
  if (t.value->size() < need)
    throw error(fmt::format("tensor '{}': holds {} bytes but its dims {} need {}", t.name, t.value->size(),
                            dims_string(t.dims), need));
  const auto* p = t.value->data();
  for (std::size_t i = 0; i < n; ++i) {
    switch (t.type) {
      case dtype::f32: f(static_cast<double>(reinterpret_cast<const float*>(p)[i])); break;
      case dtype::f64: f(reinterpret_cast<const double*>(p)[i]); break;
      case dtype::i8: f(reinterpret_cast<const std::int8_t*>(p)[i]); break;
      case dtype::u8: f(reinterpret_cast<const std::uint8_t*>(p)[i]); break;
      case dtype::i16: f(reinterpret_cast<const std::int16_t*>(p)[i]); break;
      case dtype::u16: f(reinterpret_cast<const std::uint16_t*>(p)[i]); break;
      case dtype::i32: f(reinterpret_cast<const std::int32_t*>(p)[i]); break;
      case dtype::u32: f(reinterpret_cast<const std::uint32_t*>(p)[i]); break;
      case dtype::i64: f(reinterpret_cast<const std::int64_t*>(p)[i]); break;
      case dtype::u64: f(reinterpret_cast<const std::uint64_t*>(p)[i]); break;
      case dtype::boolean: f(p[i] != 0 ? 1 : 0); break;  // any nonzero byte is true (no bool UB)
    }
  }
}

std::vector<std::int64_t> tensor::as_ints() const {
  std::vector<std::int64_t> out;
  for_each_element(*this, [&](auto v) { out.push_back(static_cast<std::int64_t>(v)); });
  return out;
}

std::vector<double> tensor::as_doubles() const {
  std::vector<double> out;
  for_each_element(*this, [&](auto v) { out.push_back(static_cast<double>(v)); });
  return out;
}

std::int64_t node::get_int(const std::string& a, std::int64_t def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.i;
}
double node::get_float(const std::string& a, double def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.f;
}
std::string node::get_string(const std::string& a, const std::string& def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.s;
}
std::vector<std::int64_t> node::get_ints(const std::string& a, std::vector<std::int64_t> def) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? def : it->second.ints;
}
std::vector<double> node::get_floats(const std::string& a) const {
  auto it = attrs.find(a);
  return it == attrs.end() ? std::vector<double>{} : it->second.floats;
}
std::string node::label() const {
  return name.empty() ? fmt::format("{} node", op_type) : fmt::format("{} node '{}'", op_type, name);
}

tensor_id graph::find(const std::string& n) const {
  auto it = by_name.find(n);
  return it == by_name.end() ? no_tensor : it->second;
}

tensor_id graph::add_tensor(tensor t) {
  const auto id = static_cast<tensor_id>(tensors.size());
  by_name.emplace(t.name, id);
  tensors.push_back(std::move(t));
  return id;
}

std::string dims_string(const dims_t& d) {
  if (d.empty()) return "scalar";
  std::string s;
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "x" : "") + std::to_string(d[i]);
  return s;
}

}  // namespace kiln::cg
