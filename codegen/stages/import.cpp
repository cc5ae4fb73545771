// Stage: ModelProto → kiln IR. Resolves names to tensor ids, decodes initializers and attributes,
// and sorts nodes topologically, rejecting dangling inputs, double producers and cycles by name.
#include "../stages.hpp"
#include "../tensor_data.hpp"

#include <fmt/format.h>

#include <deque>
#include <set>

namespace kiln::cg {

namespace {

attribute import_attribute(const onnx::AttributeProto& a, const std::filesystem::path& dir, const std::string& where) {
  attribute r;
  using A = onnx::AttributeProto;
  switch (a.type()) {
    case A::INT: r.type = attribute::kind::i; r.i = a.i(); break;
    case A::FLOAT: r.type = attribute::kind::f; r.f = a.f(); break;
    case A::STRING: r.type = attribute::kind::s; r.s = a.s(); break;
    case A::INTS: r.type = attribute::kind::ints; r.ints.assign(a.ints().begin(), a.ints().end()); break;
    case A::FLOATS: r.type = attribute::kind::floats; r.floats.assign(a.floats().begin(), a.floats().end()); break;
    case A::STRINGS: r.type = attribute::kind::strings; r.strings.assign(a.strings().begin(), a.strings().end()); break;
    case A::TENSOR: {
      r.type = attribute::kind::tensor;
      auto d = decode_tensor(a.t(), dir, where + " attribute '" + a.name() + "'");
      r.tensor_type = d.type;
      r.tensor_dims = std::move(d.dims);
      r.tensor_value = std::move(d.bytes);
      break;
    }
    case A::GRAPH: case A::GRAPHS: r.type = attribute::kind::graph; break;
    default: r.type = attribute::kind::none; break;
  }
  return r;
}

void set_type_from_proto(tensor& t, const onnx::TypeProto& type) {
  if (!type.has_tensor_type()) {
    t.unsupported_type = "a non-tensor type (sequence, map or optional)";
    return;
  }
  const auto& tt = type.tensor_type();
  std::string name;
  if (auto d = from_onnx_type(tt.elem_type(), &name)) t.type = *d;
  else t.unsupported_type = name;
  if (!tt.has_shape()) return;
  t.dims.clear();
  for (const auto& d : tt.shape().dim()) {
    if (!d.has_dim_value()) return;
    t.dims.push_back(d.dim_value());
  }
  t.known = t.unsupported_type.empty();
}

}  // namespace

graph import_graph(onnx::ModelProto& model, const std::filesystem::path& dir,
                   const std::map<std::string, std::vector<std::uint8_t>>& frozen) {
  const auto& pg = model.graph();
  graph g;
  g.name = pg.name();
  for (const auto& o : model.opset_import()) g.opsets[o.domain() == "ai.onnx" ? "" : o.domain()] = static_cast<int>(o.version());

  for (auto& init : *model.mutable_graph()->mutable_initializer()) {
    if (g.find(init.name()) != no_tensor) throw error(fmt::format("initializer '{}' is defined twice", init.name()));
    auto d = decode_tensor(init, dir, init.name());
    delete init.release_raw_data();  // frees the payload now (clearing would keep its capacity)
    tensor t;
    t.name = init.name();
    t.type = d.type;
    t.dims = std::move(d.dims);
    t.value = std::move(d.bytes);
    t.known = true;
    g.add_tensor(std::move(t));
  }
  for (const auto& in : pg.input()) {
    if (g.find(in.name()) != no_tensor) continue;  // an initializer with a default value: a constant
    tensor t;
    t.name = in.name();
    set_type_from_proto(t, in.type());
    if (!t.known && t.unsupported_type.empty())
      throw error(fmt::format("graph input '{}' has no static shape after shape inference", in.name()));
    // Inputs become caller buffers indexed with 32 bits: the size must be computable and addressable.
    // (Zero-size inputs are valid ONNX and work: ONNX's node tests have some.)
    t.check_addressable("graph input");
    auto f = frozen.find(in.name());
    if (f != frozen.end()) {
      if (f->second.size() != t.bytes()) throw error(fmt::format("frozen value of input '{}' has the wrong size", in.name()));
      t.value = f->second;
    } else {
      t.is_input = true;
    }
    const auto id = g.add_tensor(std::move(t));
    if (!g.at(id).is_constant()) g.inputs.push_back(id);
  }
  if (g.inputs.empty() && pg.node_size() == 0) throw error("the graph is empty: no inputs and no nodes");

  // Shapes ONNX inferred, kept to cross-check kiln's own shape computation in lowering.
  std::map<std::string, const onnx::TypeProto*> inferred;
  for (const auto& vi : pg.value_info()) inferred[vi.name()] = &vi.type();
  for (const auto& vi : pg.output()) inferred[vi.name()] = &vi.type();

  std::map<std::string, int> producer;  // tensor name → node index
  std::vector<node> nodes;
  for (int ni = 0; ni < pg.node_size(); ++ni) {
    const auto& pn = pg.node(ni);
    node n;
    n.name = pn.name();
    n.op_type = pn.op_type();
    n.domain = pn.domain() == "ai.onnx" ? "" : pn.domain();
    auto ov = g.opsets.find(n.domain);
    if (ov == g.opsets.end()) throw error(fmt::format("{}: domain '{}' is not imported by the model", n.label(), n.domain));
    n.opset = ov->second;
    for (const auto& a : pn.attribute()) n.attrs[a.name()] = import_attribute(a, dir, n.label());
    for (const auto& o : pn.output()) {
      if (o.empty()) { n.outputs.push_back(no_tensor); continue; }
      if (producer.count(o) || g.find(o) != no_tensor)
        throw error(fmt::format("{}: tensor '{}' is produced more than once", n.label(), o));
      producer[o] = ni;
      tensor t;
      t.name = o;
      n.outputs.push_back(g.add_tensor(std::move(t)));
    }
    nodes.push_back(std::move(n));
  }
  // Inputs resolve after all outputs exist, so an unsorted model still imports; sorting follows.
  for (int ni = 0; ni < pg.node_size(); ++ni)
    for (const auto& i : pg.node(ni).input()) {
      if (i.empty()) { nodes[ni].inputs.push_back(no_tensor); continue; }
      const auto id = g.find(i);
      if (id == no_tensor) throw error(fmt::format("{}: input '{}' is produced by no node, input or initializer", nodes[ni].label(), i));
      nodes[ni].inputs.push_back(id);
    }

  // Kahn's algorithm, keeping the model's order among ready nodes so output is deterministic.
  std::vector<int> pending(nodes.size(), 0);
  std::map<tensor_id, std::vector<int>> consumers;
  for (std::size_t ni = 0; ni < nodes.size(); ++ni)
    for (auto id : nodes[ni].inputs)
      if (id != no_tensor && producer.count(g.at(id).name)) { ++pending[ni]; consumers[id].push_back(static_cast<int>(ni)); }
  std::set<int> ready;
  for (std::size_t ni = 0; ni < nodes.size(); ++ni)
    if (pending[ni] == 0) ready.insert(static_cast<int>(ni));
  while (!ready.empty()) {
    const int ni = *ready.begin();
    ready.erase(ready.begin());
    g.nodes.push_back(nodes[ni]);
    for (auto o : nodes[ni].outputs)
      if (o != no_tensor)
        for (int c : consumers[o])
          if (--pending[c] == 0) ready.insert(c);
  }
  if (g.nodes.size() != nodes.size()) {
    for (std::size_t ni = 0; ni < nodes.size(); ++ni)
      if (pending[ni] > 0) throw error(fmt::format("{} is part of a cycle", nodes[ni].label()));
  }

  for (const auto& o : pg.output()) {
    const auto id = g.find(o.name());
    if (id == no_tensor) throw error(fmt::format("graph output '{}' is produced by no node", o.name()));
    if (!o.type().has_tensor_type())
      throw unsupported_error::of_model(fmt::format("graph output '{}': only tensor outputs are supported", o.name()));
    g.at(id).is_output = true;
    g.outputs.push_back(id);
  }
  if (g.outputs.empty()) throw error("the graph has no outputs");
  return g;
}

}  // namespace kiln::cg
