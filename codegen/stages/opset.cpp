// Stage: bring old models to kiln's canonical opset.
// Lowerings read the operator forms of opsets 13 to 17 (their differences are small and handled
// per op); anything older is converted up to 13 with ONNX's version converter, after the
// operators it converts wrongly are rewritten or marked (see below).
#include "../stages.hpp"

#include <fmt/format.h>
#include <onnx/defs/schema.h>
#include <onnx/version_converter/convert.h>

#include <set>

namespace kiln::cg {

inline constexpr int canonical_opset = 13;
inline constexpr int newest_opset = 17;

static int default_domain_opset(const onnx::ModelProto& m) {
  for (const auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") return static_cast<int>(o.version());
  return 0;
}

void check_opset_version(const onnx::ModelProto& model) {
  const int v = default_domain_opset(model);
  if (v > newest_opset)
    throw unsupported_error::of_model(fmt::format(
        "opset {} of the ai.onnx domain: kiln reads opsets up to {} (export the model at opset {} or lower)", v, newest_opset,
        newest_opset));
}

namespace {

bool default_domain(const onnx::NodeProto& n) { return n.domain().empty() || n.domain() == "ai.onnx"; }

const onnx::AttributeProto* attribute(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return &a;
  return nullptr;
}

// Tensor names not yet used in the graph, from `stem`.
class fresh_names {
 public:
  explicit fresh_names(const onnx::GraphProto& g) {
    for (const auto& t : g.initializer()) used_.insert(t.name());
    for (const auto& i : g.input()) used_.insert(i.name());
    for (const auto& n : g.node())
      for (const auto& o : n.output()) used_.insert(o);
  }
  std::string operator()(const std::string& stem) {
    std::string name = stem;
    for (int k = 1; !used_.insert(name).second; ++k) name = fmt::format("{}_{}", stem, k);
    return name;
  }

 private:
  std::set<std::string> used_;
};

// Softmax, LogSoftmax and Hardmax below opset 13 normalize over everything from `axis` on (the
// input seen as 2-D); from 13 over `axis` alone. ONNX 1.12's converter needs the input's shape
// for the first two, which an exporter need not store (torch writes none), and leaves Hardmax as
// it is, changing its meaning. Written as Flatten(axis) -> op(axis 1) -> Reshape(Shape(x)), the
// node means the same in every opset; its input is declared 2-D, which is all the converter reads.
// (Reshape takes its shape as an input from opset 5; older models keep the converter's path.)
void flatten_legacy_normalizers(onnx::GraphProto& g, int v) {
  static const std::set<std::string> ops = {"Softmax", "LogSoftmax", "Hardmax"};
  if (v < 5 || v >= canonical_opset) return;
  fresh_names fresh(g);
  google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
  for (auto& n : *g.mutable_node()) {
    if (!default_domain(n) || !ops.count(n.op_type()) || n.input_size() != 1 || n.output_size() != 1 ||
        n.input(0).empty() || n.output(0).empty()) {
      *nodes.Add() = std::move(n);
      continue;
    }
    const auto* a = attribute(n, "axis");
    const std::int64_t axis = a ? a->i() : 1;
    const std::string x = n.input(0), y = n.output(0), stem = n.name().empty() ? y : n.name();
    const std::string flat = fresh(stem + "/flattened"), norm = fresh(stem + "/normalized"), shape = fresh(stem + "/shape");
    auto* f = nodes.Add();
    f->set_op_type("Flatten");
    f->set_name(stem + "/flatten");
    f->add_input(x);
    f->add_output(flat);
    auto* fa = f->add_attribute();
    fa->set_name("axis");
    fa->set_type(onnx::AttributeProto::INT);
    fa->set_i(axis);
    auto* vi = g.add_value_info();
    vi->set_name(flat);
    auto* dims = vi->mutable_type()->mutable_tensor_type()->mutable_shape();
    dims->add_dim();
    dims->add_dim();
    auto* sh = nodes.Add();
    sh->set_op_type("Shape");
    sh->set_name(stem + "/shape");
    sh->add_input(x);
    sh->add_output(shape);
    auto* r = nodes.Add();
    r->set_op_type("Reshape");
    r->set_name(stem + "/reshape");
    r->add_input(norm);
    r->add_input(shape);
    r->add_output(y);
    n.set_input(0, flat);
    n.set_output(0, norm);
    for (auto& at : *n.mutable_attribute())
      if (at.name() == "axis") at.set_i(1);
    *nodes.Add() = std::move(n);
  }
  g.mutable_node()->Swap(&nodes);
}

// Resize 10 and Upsample take asymmetric coordinates, and their nearest mode rounds down when
// enlarging and up when shrinking (ONNX Runtime's reading); the converter makes them Resize 11
// with its defaults (half_pixel, round_prefer_floor), and an Upsample a new node with a new
// output. Below opset 11 every Resize after conversion is one of them: each gets the attribute
// legacy_resize_attribute, the model's old opset, for lower_resize.
void mark_legacy_resizes(onnx::GraphProto& g, int v) {
  if (v >= 11) return;
  for (auto& n : *g.mutable_node()) {
    if (!default_domain(n) || n.op_type() != "Resize") continue;
    auto* a = n.add_attribute();
    a->set_name(legacy_resize_attribute);
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
}

}  // namespace

void convert_opset(onnx::ModelProto& model) {
  const int v = default_domain_opset(model);
  check_opset_version(model);
  if (v == 0 || v >= canonical_opset) return;
  // The converter rebuilds subgraphs (If, Loop, Scan bodies) without checking them and crashes on
  // an output that refers to the enclosing graph. kiln runs no control flow, so refuse up front.
  for (const auto& n : model.graph().node())
    for (const auto& a : n.attribute())
      if (a.has_g() || a.graphs_size() > 0)
        throw unsupported_error({fmt::format("{} node '{}': attribute '{}' holds a subgraph, and kiln runs no control flow",
                                             n.op_type(), n.name(), a.name())});
  flatten_legacy_normalizers(*model.mutable_graph(), v);
  try {
    model = onnx::version_conversion::ConvertVersion(model, canonical_opset);
  } catch (const std::exception& e) {
    throw unsupported_error::of_model(
        fmt::format("converting the model from opset {} to {} failed: {}", v, canonical_opset, e.what()));
  }
  mark_legacy_resizes(*model.mutable_graph(), v);
}

}  // namespace kiln::cg
