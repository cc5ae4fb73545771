// Stage: lower every node to kernel calls, computing each output's type and shape as it goes.
// A node whose inputs are all constant runs here, on the host, through the very kernels it lowered
// to (its layers' `run`), and its outputs become constants: that is constant folding, and it is what
// turns exporters' Shape→Gather→Concat→Reshape chains into plain static shapes.
#include "../stages.hpp"

#include "../ops/common.hpp"

#include <fmt/format.h>

namespace kiln::cg {

namespace {

std::string describe(const graph& g, const node& n, const std::string& why) {
  const std::string domain = n.domain.empty() ? "ai.onnx" : n.domain;
  (void)g;
  return fmt::format("{} (domain {}, opset {}) node '{}': {}", n.op_type, domain, n.opset, n.name, why);
}

// DequantizeLinear of constant integers (quantized weights and biases) is not folded: the QDQ
// stage needs the integers, and the header must store weights as int8, never as float.
bool dequantizes_constant_integers(const graph& g, const node& n) {
  if (n.op_type != "DequantizeLinear" || !n.domain.empty() || n.inputs.empty()) return false;
  const auto& x = g.at(n.inputs[0]);
  return x.is_constant() && x.type != dtype::f32;
}

tensor_id root_of(const std::map<tensor_id, tensor_id>& aliases, tensor_id t) {
  for (auto it = aliases.find(t); it != aliases.end(); it = aliases.find(t)) t = it->second;
  return t;
}

// Runs a folded node's layers on host buffers; its outputs become constants.
// Folding allocates on the host: without a cap, a few hundred bytes of model (a ConstantOfShape of
// 2^30 elements) would make kiln allocate gigabytes. No model kiln targets folds anything close.
inline constexpr std::size_t max_folded_bytes = std::size_t{512} << 20;

void evaluate(graph& g, const node& n, const std::vector<layer>& layers, const std::map<tensor_id, tensor_id>& aliases) {
  std::map<tensor_id, std::vector<std::uint8_t>> buffers;
  auto storage = [&](tensor_id id) -> void* {
    auto& t = g.at(id);
    if (t.is_constant()) return t.value->data();
    auto& b = buffers[id];
    if (b.empty()) {
      if (t.bytes() > max_folded_bytes)
        throw error(fmt::format("{}: folding it at codegen time would make tensor '{}' ({}) of {} bytes; kiln folds at "
                                "most {} bytes", n.label(), t.name, dims_string(t.dims), t.bytes(), max_folded_bytes));
      b.resize(std::max<std::size_t>(t.bytes(), 1));
    }
    return b.data();
  };
  for (const auto& l : layers) {
    std::vector<std::uint8_t> scratch(std::max<std::size_t>(l.scratch_bytes, 1));
    std::vector<void*> ptrs;
    for (auto a : l.args)
      ptrs.push_back(a == no_tensor ? nullptr : a == scratch_arg ? scratch.data() : storage(root_of(aliases, a)));
    l.run(ptrs.data());
  }
  for (auto o : n.outputs) {
    if (o == no_tensor || g.at(o).is_constant()) continue;
    const auto src = root_of(aliases, o);
    auto& t = g.at(o);
    std::vector<std::uint8_t> v = g.at(src).is_constant() ? *g.at(src).value : buffers[src];
    v.resize(t.bytes());
    t.value = std::move(v);
  }
}

// Graph outputs must land in the caller's buffers; when one is a constant, a graph input, a view or
// listed twice, it gets its own tensor and a copy.
void add_output_copies(graph& g, lowered& out) {
  std::set<tensor_id> seen;
  for (auto& oid : g.outputs) {
    const bool needs_copy = g.at(oid).is_constant() || g.at(oid).is_input || out.aliases.count(oid) || seen.count(oid);
    seen.insert(oid);
    if (!needs_copy) continue;
    tensor copy = g.at(oid);
    copy.value.reset();
    copy.is_input = false;
    copy.is_output = true;
    const auto src = oid;
    const auto cid = g.add_tensor(std::move(copy));
    // The interface keeps the ONNX name; the internal source is renamed.
    g.by_name.erase(g.at(cid).name);
    g.at(src).name += "__source";
    g.by_name[g.at(src).name] = src;
    g.by_name[g.at(cid).name] = cid;
    g.at(src).is_output = std::count(g.outputs.begin(), g.outputs.end(), src) > 1;
    oid = cid;
    const kiln::unary_params p{static_cast<index_t>(g.at(cid).count()), 0, 0, 0};
    const auto& t = g.at(cid);
    all_types_dispatch(t.type, [&](auto tag) {
      using T = typename decltype(tag)::type;
      layer l = make_layer(tmpl("kiln::copy", {cpp_name<T>()}), &kiln::copy<T>, p, {src, cid});
      l.origin = fmt::format("graph output '{}'", t.name);
      l.op_type = "copy";
      out.layers.push_back(std::move(l));
    });
  }
  for (auto oid : g.outputs) g.at(oid).is_output = true;
}

}  // namespace

lowered lower_graph(graph& g, const registry& reg, bool output_copies) {
  lowered out;
  std::vector<std::string> unsupported;
  std::vector<node> kept;
  for (auto& n : g.nodes) {
    const op_entry* e = reg.find(n.domain, n.op_type);
    if (!e) {
      unsupported.push_back(describe(g, n, "operator not supported"));
      continue;
    }
    bool ready = true;
    for (auto i : n.inputs) {
      if (i == no_tensor) continue;
      const auto& t = g.at(i);
      if (!t.unsupported_type.empty()) {
        unsupported.push_back(describe(g, n, fmt::format("input '{}' has type {}", t.name, t.unsupported_type)));
        ready = false;
        break;
      }
      ready = ready && t.known;  // unknown only downstream of a node already reported
    }
    if (!ready) continue;
    std::vector<layer> layers;
    std::map<tensor_id, tensor_id> aliases;
    lower_context ctx(g, n, layers, aliases);
    try {
      e->lower(ctx);
    } catch (const unsupported_node& u) {
      unsupported.push_back(describe(g, n, u.what()));
      continue;
    }
    bool all_constant = true;
    for (auto i : n.inputs) all_constant = all_constant && (i == no_tensor || g.at(i).is_constant());
    for (auto o : n.outputs)
      if (o != no_tensor && !g.at(o).known) ctx.fail(fmt::format("lowering left output '{}' without a shape", g.at(o).name));
    bool outputs_constant = true;
    for (auto o : n.outputs) outputs_constant = outputs_constant && (o == no_tensor || g.at(o).is_constant());
    const bool fold = all_constant && !dequantizes_constant_integers(g, n);
    if (fold && !outputs_constant) evaluate(g, n, layers, aliases);
    if (fold || outputs_constant) continue;  // folded away
    for (auto& l : layers) out.layers.push_back(std::move(l));
    for (auto& a : aliases) out.aliases.insert(a);
    kept.push_back(n);
  }
  if (!unsupported.empty()) throw unsupported_error(unsupported);
  g.nodes = std::move(kept);
  // Chains of views point straight at their storage.
  for (auto& [view, src] : out.aliases) src = root_of(out.aliases, src);
  if (output_copies) add_output_copies(g, out);  // once, on the final pass: it rewires g.outputs
  return out;
}

}  // namespace kiln::cg
