#include "common.hpp"

#include <fmt/format.h>

#include <limits>

namespace kiln::cg {

template <class... Ts> static std::string cpp_type_in(type_list<Ts...>, dtype t) {
  std::string s;
  (void)((dtype_of<Ts>::value == t ? (s = cpp_name<Ts>(), true) : false) || ...);
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

matmul_geometry matmul_shape(const lower_context& ctx, const dims_t& a, const dims_t& b) {
  if (a.empty() || b.empty()) ctx.fail("matrix product inputs must have rank 1 or more");
  dims_t ad = a, bd = b;
  const bool a_vec = ad.size() == 1, b_vec = bd.size() == 1;
  if (a_vec) ad.insert(ad.begin(), 1);
  if (b_vec) bd.push_back(1);
  matmul_geometry g;
  g.m = ad[ad.size() - 2];
  g.k = ad.back();
  g.n = bd.back();
  if (g.k != bd[bd.size() - 2])
    ctx.fail(fmt::format("inner dimensions differ: {} and {}", dims_string(a), dims_string(b)));
  g.a_batch.assign(ad.begin(), ad.end() - 2);
  g.b_batch.assign(bd.begin(), bd.end() - 2);
  g.batch = broadcast_shape(ctx, g.a_batch, g.b_batch);
  if (g.batch.size() > static_cast<std::size_t>(max_rank)) ctx.unsupported("batch rank too high");
  g.batch_count = 1;
  for (auto d : g.batch) g.batch_count *= d;
  g.out = g.batch;
  if (!a_vec) g.out.push_back(g.m);
  if (!b_vec) g.out.push_back(g.n);
  return g;
}

void fill_matmul_batch(const lower_context& ctx, const matmul_geometry& g, index_t& rank, index_t& count,
                       index_t (&dims)[max_rank], index_t (&strides)[2][max_rank]) {
  rank = static_cast<index_t>(g.batch.size());
  for (std::size_t i = 0; i < g.batch.size(); ++i) dims[i] = to_index(ctx, g.batch[i]);
  count = to_index(ctx, g.batch_count);
  broadcast_strides(g.a_batch, g.batch, strides[0]);
  broadcast_strides(g.b_batch, g.batch, strides[1]);
  for (std::size_t i = 0; i < g.batch.size(); ++i) {
    strides[0][i] = to_index(ctx, static_cast<std::int64_t>(strides[0][i]) * g.m * g.k);
    strides[1][i] = to_index(ctx, static_cast<std::int64_t>(strides[1][i]) * g.k * g.n);
  }
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

std::string layout_name(bool blocked) {
  return blocked ? "kiln::packed::channel_layout::blocked" : "kiln::packed::channel_layout::planar";
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
