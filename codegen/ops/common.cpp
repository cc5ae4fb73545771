#include "common.hpp"

#include <fmt/format.h>

#include <limits>

namespace kiln::cg {

template <class... Ts> static std::string cpp_type_in(type_list<Ts...>, dtype t) {
  std::string s;
  ((dtype_of<Ts>::value == t ? (s = cpp_name<Ts>(), true) : false) || ...);
  return s;
}

std::string cpp_type(dtype t) { return cpp_type_in(all_types{}, t); }

op_entry entry(const char* name, const char* types, const char* notes, std::function<void(lower_context&)> lower) {
  op_entry e;
  e.op_type = name;
  e.types = types;
  e.notes = notes;
  e.lower = std::move(lower);
  return e;
}

std::string tmpl(const std::string& name, std::initializer_list<std::string> args) {
  std::string s = name + "<";
  bool first = true;
  for (const auto& a : args) {
    s += (first ? "" : ", ") + a;
    first = false;
  }
  return s + ">";
}

dims_t broadcast_shape(const lower_context& ctx, const dims_t& a, const dims_t& b) {
  const std::size_t r = std::max(a.size(), b.size());
  dims_t out(r);
  for (std::size_t i = 0; i < r; ++i) {
    const std::int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const std::int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      ctx.fail(fmt::format("shapes {} and {} do not broadcast", dims_string(a), dims_string(b)));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

void broadcast_strides(const dims_t& in, const dims_t& out, index_t* strides) {
  const std::size_t off = out.size() - in.size();
  index_t s = 1;
  for (std::size_t i = out.size(); i-- > 0;) {
    if (i < off) { strides[i] = 0; continue; }
    const auto d = in[i - off];
    strides[i] = d == 1 ? 0 : s;
    s *= static_cast<index_t>(d);
  }
}

index_t to_index(const lower_context& ctx, std::int64_t v) {
  if (v < std::numeric_limits<index_t>::min() || v > std::numeric_limits<index_t>::max())
    ctx.fail(fmt::format("value {} does not fit the kernel's 32-bit index type", v));
  return static_cast<index_t>(v);
}

dims_t dims_of(const tensor& t) { return t.dims; }

}  // namespace kiln::cg
