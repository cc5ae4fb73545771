// Stage: pin graph input shapes (--input-shape), run ONNX shape inference, and refuse symbolic
// dimensions that remain on inputs, naming them: a static memory plan needs every size.
#include "../stages.hpp"

#include <fmt/format.h>
#include <onnx/shape_inference/implementation.h>

#include <set>

namespace kiln::cg {

void infer_shapes(onnx::ModelProto& model, const std::map<std::string, dims_t>& input_shapes) {
  auto* g = model.mutable_graph();
  std::set<std::string> initializers;
  for (const auto& t : g->initializer()) initializers.insert(t.name());
  std::set<std::string> seen;
  for (auto& in : *g->mutable_input()) {
    if (initializers.count(in.name())) continue;
    auto it = input_shapes.find(in.name());
    if (!in.type().has_tensor_type())
      throw unsupported_error({fmt::format("graph input '{}': only tensor inputs are supported", in.name())});
    auto* shape = in.mutable_type()->mutable_tensor_type()->mutable_shape();
    if (it != input_shapes.end()) {
      seen.insert(in.name());
      if (in.type().tensor_type().has_shape() && shape->dim_size() != static_cast<int>(it->second.size()))
        throw error(fmt::format("--input-shape {}: the model declares rank {}, not {}", in.name(), shape->dim_size(),
                                it->second.size()));
      shape->clear_dim();
      for (auto d : it->second) shape->add_dim()->set_dim_value(d);
      continue;
    }
    if (!in.type().tensor_type().has_shape())
      throw error(fmt::format("graph input '{}' has no shape: pass --input-shape {}=DxDx...", in.name(), in.name()));
    for (int i = 0; i < shape->dim_size(); ++i) {
      const auto& d = shape->dim(i);
      if (d.has_dim_value() && d.dim_value() >= 0) continue;
      if (d.has_dim_value())
        throw error(fmt::format("graph input '{}' has negative dimension {} at axis {}", in.name(), d.dim_value(), i));
      const std::string sym = d.has_dim_param() ? fmt::format("'{}'", d.dim_param()) : std::string("unknown");
      throw error(fmt::format("graph input '{}' has symbolic dimension {} at axis {}: pass --input-shape {}=DxDx...",
                              in.name(), sym, i, in.name()));
    }
  }
  for (const auto& [name, dims] : input_shapes)
    if (!seen.count(name)) throw error(fmt::format("--input-shape names '{}', which is not a graph input", name));
  try {
    onnx::ShapeInferenceOptions opts(/*check_type=*/false, /*strict=*/0, /*data_prop=*/true);
    onnx::shape_inference::InferShapes(model, onnx::OpSchemaRegistry::Instance(), opts);
  } catch (const std::exception& e) {
    throw error(fmt::format("shape inference failed: {}", e.what()));
  }
}

}  // namespace kiln::cg
