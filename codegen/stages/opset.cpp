// Stage: bring old models to kiln's canonical opset.
// Lowerings read the operator forms of opsets 13 to 17 (their differences are small and handled
// per op); anything older is converted up to 13 with ONNX's version converter.
#include "../stages.hpp"

#include <fmt/format.h>
#include <onnx/defs/schema.h>
#include <onnx/version_converter/convert.h>

namespace kiln::cg {

inline constexpr int canonical_opset = 13;
inline constexpr int newest_opset = 17;

static int default_domain_opset(const onnx::ModelProto& m) {
  for (const auto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") return static_cast<int>(o.version());
  return 0;
}

void convert_opset(onnx::ModelProto& model) {
  const int v = default_domain_opset(model);
  const auto& known = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  const auto range = known.find(onnx::ONNX_DOMAIN);
  if (range != known.end() && v > range->second.second)
    throw error(fmt::format("the model imports opset {} of the ai.onnx domain, which does not exist (the newest is {})", v,
                            range->second.second));
  if (v > newest_opset)
    throw unsupported_error({fmt::format("opset {} of the ai.onnx domain (kiln reads opsets up to {})", v, newest_opset)});
  if (v == 0 || v >= canonical_opset) return;
  // The converter rebuilds subgraphs (If, Loop, Scan bodies) without checking them and crashes on
  // an output that refers to the enclosing graph. kiln runs no control flow, so refuse up front.
  for (const auto& n : model.graph().node())
    for (const auto& a : n.attribute())
      if (a.has_g() || a.graphs_size() > 0)
        throw unsupported_error({fmt::format("{} node '{}': attribute '{}' holds a subgraph, and kiln runs no control flow",
                                             n.op_type(), n.name(), a.name())});
  try {
    model = onnx::version_conversion::ConvertVersion(model, canonical_opset);
  } catch (const std::exception& e) {
    throw unsupported_error({fmt::format("converting the model from opset {} to {} failed: {}", v, canonical_opset, e.what())});
  }
}

}  // namespace kiln::cg
