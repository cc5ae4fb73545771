// Stage: expand calls of model-local functions (newer PyTorch exporters emit them) into plain nodes.
#include "../stages.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>

namespace kiln::cg {

namespace {

using function_map = std::map<std::pair<std::string, std::string>, const onnx::FunctionProto*>;

// Replaces one call node by the function body; names inside the body get a unique prefix.
void expand_call(const onnx::NodeProto& call, const onnx::FunctionProto& fn, int serial,
                 google::protobuf::RepeatedPtrField<onnx::NodeProto>& out) {
  std::map<std::string, std::string> rename;
  for (int i = 0; i < fn.input_size(); ++i) rename[fn.input(i)] = i < call.input_size() ? call.input(i) : "";
  for (int i = 0; i < fn.output_size(); ++i) rename[fn.output(i)] = i < call.output_size() ? call.output(i) : "";
  const std::string prefix = fmt::format("{}__{}{}__", call.name().empty() ? fn.name() : call.name(), fn.name(), serial);
  auto mapped = [&](const std::string& n) {
    if (n.empty()) return n;
    auto it = rename.find(n);
    if (it != rename.end()) return it->second;
    return rename[n] = prefix + n;
  };
  std::map<std::string, const onnx::AttributeProto*> actual;
  for (const auto& a : call.attribute()) actual[a.name()] = &a;
  for (const auto& body : fn.node()) {
    onnx::NodeProto n = body;
    n.set_name(prefix + body.name());
    for (auto& s : *n.mutable_input()) s = mapped(s);
    for (auto& s : *n.mutable_output()) s = mapped(s);
    // Attributes referring to the caller's attributes take their values, or vanish when unset.
    google::protobuf::RepeatedPtrField<onnx::AttributeProto> attrs;
    for (const auto& a : n.attribute()) {
      if (a.ref_attr_name().empty()) { *attrs.Add() = a; continue; }
      auto it = actual.find(a.ref_attr_name());
      if (it == actual.end()) continue;
      auto* copy = attrs.Add();
      *copy = *it->second;
      copy->set_name(a.name());
    }
    n.mutable_attribute()->Swap(&attrs);
    *out.Add() = std::move(n);
  }
}

}  // namespace

// Far above any model kiln targets (its zoo has at most a few hundred nodes; exported
// transformers a few thousand), and low enough that a function bomb fails in well under a second
// instead of feeding hundreds of thousands of nodes to the checker, shape inference and planner.
inline constexpr int max_inlined_nodes = 100000;
inline constexpr int max_nesting = 64;  // levels of calls inside calls

void inline_functions(onnx::ModelProto& model) {
  if (model.functions_size() == 0) return;
  function_map fns;
  // A second definition would silently replace the first, and with it which calls expand.
  for (const auto& f : model.functions())
    if (!fns.emplace(std::make_pair(f.domain(), f.name()), &f).second)
      throw error(fmt::format("model-local function '{}' (domain '{}') is defined twice", f.name(), f.domain()));
  // Nested calls can double the graph at every level, and a function may call itself: size the
  // fully expanded graph first (saturating), naming the call that is too big or recursive.
  // The recursion is as deep as calls nest, so nesting is capped here too (a chain of 100000
  // functions, each calling the next, would otherwise overflow the stack).
  std::map<const onnx::FunctionProto*, std::int64_t> sizes;  // -1 while being sized: a recursion
  std::function<std::int64_t(const onnx::FunctionProto&, int)> expanded_size = [&](const onnx::FunctionProto& f,
                                                                                 int depth) {
    auto [it, fresh] = sizes.try_emplace(&f, -1);
    if (!fresh) {
      if (it->second < 0) throw error(fmt::format("model-local function '{}' calls itself (recursion)", f.name()));
      return it->second;
    }
    if (depth > max_nesting) throw error(fmt::format("model-local functions nest more than {} levels deep", max_nesting));
    std::int64_t total = 0;
    for (const auto& b : f.node()) {
      auto callee = fns.find({b.domain(), b.op_type()});
      total += callee == fns.end() ? 1 : expanded_size(*callee->second, depth + 1);
      total = std::min<std::int64_t>(total, max_inlined_nodes + 1);
    }
    return sizes[&f] = total;
  };
  std::int64_t total = 0;
  for (const auto& n : model.graph().node()) {
    auto it = fns.find({n.domain(), n.op_type()});
    total += it == fns.end() ? 1 : expanded_size(*it->second, 1);
    if (total > max_inlined_nodes)
      throw error(fmt::format("node '{}' calls model-local function '{}', which expands to more than {} nodes", n.name(),
                              n.op_type(), max_inlined_nodes));
  }
  // Functions may call functions: expand until nothing is left.
  for (int round = 0;; ++round) {
    if (round > max_nesting) throw error(fmt::format("model-local functions nest more than {} levels deep", max_nesting));
    google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
    bool expanded = false;
    int serial = 0;
    for (const auto& n : model.graph().node()) {
      auto it = fns.find({n.domain(), n.op_type()});
      if (it == fns.end()) { *nodes.Add() = n; continue; }
      expand_call(n, *it->second, serial++, nodes);
      expanded = true;
    }
    model.mutable_graph()->mutable_node()->Swap(&nodes);
    if (!expanded) break;
  }
  // Their opset imports join the model's, so the expanded nodes resolve their schemas.
  for (const auto& f : model.functions())
    for (const auto& o : f.opset_import()) {
      bool have = false;
      for (const auto& m : model.opset_import()) have = have || m.domain() == o.domain();
      if (!have) *model.add_opset_import() = o;
    }
  model.clear_functions();
}

}  // namespace kiln::cg
