// Stage: kiln's own checks of what the ONNX checker trusts or gets wrong, then ONNX's model checker,
// so malformed models fail with a precise message.
#include "../stages.hpp"

#include <fmt/format.h>
#include <onnx/checker.h>

#include <climits>
#include <map>
#include <vector>

namespace kiln::cg {

namespace {

std::string node_label(const onnx::NodeProto& n) {
  return n.name().empty() ? fmt::format("{} node", n.op_type()) : fmt::format("{} node '{}'", n.op_type(), n.name());
}

// Dangling inputs, tensors produced twice and cycles, named plainly (the ONNX checker reports all
// of them as "not topologically sorted" or "not in SSA form").
void check_structure(const onnx::GraphProto& g) {
  std::map<std::string, int> producer;  // tensor → node index, -1 for graph inputs and initializers
  for (const auto& t : g.initializer()) producer.emplace(t.name(), -1);
  for (const auto& i : g.input()) producer.emplace(i.name(), -1);
  for (int ni = 0; ni < g.node_size(); ++ni)
    for (const auto& o : g.node(ni).output()) {
      if (o.empty()) continue;
      auto [it, fresh] = producer.emplace(o, ni);
      if (fresh) continue;
      if (it->second < 0)
        throw error(fmt::format("{}: output '{}' is also a graph input or initializer", node_label(g.node(ni)), o));
      throw error(fmt::format("tensor '{}' is produced twice, by {} and by {}", o, node_label(g.node(it->second)),
                              node_label(g.node(ni))));
    }
  // ONNX's checker (1.12) lets an undefined graph output through; its version converter then
  // dereferences a null value for it.
  for (const auto& o : g.output())
    if (!producer.count(o.name()))
      throw error(fmt::format("graph output '{}' is produced by no node, graph input or initializer", o.name()));
  std::vector<int> pending(static_cast<std::size_t>(g.node_size()), 0);
  std::map<std::string, std::vector<int>> consumers;
  for (int ni = 0; ni < g.node_size(); ++ni)
    for (const auto& i : g.node(ni).input()) {
      if (i.empty()) continue;
      auto it = producer.find(i);
      if (it == producer.end())
        throw error(fmt::format("{}: input '{}' is produced by no node, graph input or initializer", node_label(g.node(ni)), i));
      if (it->second >= 0) { ++pending[static_cast<std::size_t>(ni)]; consumers[i].push_back(ni); }
    }
  std::vector<int> ready;
  for (int ni = 0; ni < g.node_size(); ++ni)
    if (pending[static_cast<std::size_t>(ni)] == 0) ready.push_back(ni);
  for (std::size_t k = 0; k < ready.size(); ++k)
    for (const auto& o : g.node(ready[k]).output())
      for (int c : consumers[o])
        if (--pending[static_cast<std::size_t>(c)] == 0) ready.push_back(c);
  // Nodes still pending are on a cycle or downstream of one: walk back through pending producers
  // from the first until a node repeats; the nodes from its first visit on form the cycle.
  int start = -1;
  for (int ni = 0; ni < g.node_size() && start < 0; ++ni)
    if (pending[static_cast<std::size_t>(ni)] > 0) start = ni;
  if (start < 0) return;
  std::vector<int> path;
  std::map<int, std::size_t> seen;  // node → its position in path
  int ni = start;
  while (!seen.count(ni)) {
    seen[ni] = path.size();
    path.push_back(ni);
    for (const auto& i : g.node(ni).input()) {  // a pending node always has a pending producer
      const int p = i.empty() ? -1 : producer[i];
      if (p >= 0 && pending[static_cast<std::size_t>(p)] > 0) { ni = p; break; }
    }
  }
  std::string cycle;  // consumer <- producer <- ... <- the consumer again
  for (std::size_t k = seen[ni]; k < path.size(); ++k) cycle += node_label(g.node(path[k])) + " <- ";
  throw error(fmt::format("the graph has a cycle: {}{}", cycle, node_label(g.node(ni))));
}

// The checker multiplies dims in int64 without overflow checks (UB) and trusts opset versions;
// these are checked first, naming the tensor or domain.
void precheck(const onnx::ModelProto& model) {
  // Model-local functions' imports count too: inlining merges them into the model's.
  auto opsets_ok = [](const auto& imports, const std::string& who) {
    for (const auto& o : imports)
      if (o.version() < 1 || o.version() > INT_MAX)
        throw error(fmt::format("{} imports version {} of domain '{}', which is not a valid opset version", who,
                                o.version(), o.domain().empty() ? "ai.onnx" : o.domain()));
  };
  opsets_ok(model.opset_import(), "the model");
  for (const auto& f : model.functions()) opsets_ok(f.opset_import(), fmt::format("model-local function '{}'", f.name()));
  auto dims_ok = [](const onnx::TensorProto& t, const std::string& what) {
    (void)checked_count(dims_t(t.dims().begin(), t.dims().end()), what);
  };
  for (const auto& t : model.graph().initializer()) dims_ok(t, t.name());
  check_structure(model.graph());
  for (const auto& n : model.graph().node())
    for (const auto& a : n.attribute())
      if (a.has_t()) dims_ok(a.t(), fmt::format("{} node '{}' attribute '{}'", n.op_type(), n.name(), a.name()));
}

// ONNX's checker looks for external data files relative to the working directory (check_model on a
// ModelProto knows no model folder). kiln reads and validates external data itself, relative to the
// model (tensor_data.cpp), so the checker sees those tensors with their data stripped.
bool strip_external(onnx::TensorProto& t) {
  if (t.data_location() != onnx::TensorProto::EXTERNAL) return false;
  t.clear_external_data();
  t.set_data_location(onnx::TensorProto::DEFAULT);
  t.set_raw_data(std::string(1, '\0'));  // the checker wants a value field; it does not check its size
  return true;
}

}  // namespace

void check_model(const onnx::ModelProto& model) {
  precheck(model);
  bool external = false;
  for (const auto& t : model.graph().initializer()) external = external || t.data_location() == onnx::TensorProto::EXTERNAL;
  for (const auto& n : model.graph().node())
    for (const auto& a : n.attribute()) external = external || (a.has_t() && a.t().data_location() == onnx::TensorProto::EXTERNAL);
  try {
    if (!external) {
      onnx::checker::check_model(model);
      return;
    }
    onnx::ModelProto copy = model;
    for (auto& t : *copy.mutable_graph()->mutable_initializer()) strip_external(t);
    for (auto& n : *copy.mutable_graph()->mutable_node())
      for (auto& a : *n.mutable_attribute())
        if (a.has_t()) strip_external(*a.mutable_t());
    onnx::checker::check_model(copy);
  } catch (const std::exception& e) {
    throw error(fmt::format("the ONNX checker rejects the model: {}", e.what()));
  }
}

}  // namespace kiln::cg
