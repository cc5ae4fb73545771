// Stage: pin graph input shapes (--input-shape), run ONNX shape inference, and refuse symbolic
// dimensions that remain on inputs, naming them: a static memory plan needs every size.
#include "../stages.hpp"

#include <fmt/format.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <map>
#include <set>
#include <string_view>

namespace kiln::cg {

namespace {

// ONNX 1.12's shape inference for convolutions and pools takes the kernel's rank from the weight,
// then indexes the input's axes, strides, dilations and pads by it, and divides by the strides,
// checking neither: a weight whose rank is not the input's, or a zero stride, reads out of bounds
// or traps (found by the fuzzer). These ops' inference runs behind the checks it lacks.
struct conv_like_op {
  std::string_view op;
  int weight;  // input index of the weight, -1 for pools
};
constexpr conv_like_op conv_like_ops[] = {{"Conv", 1},     {"ConvInteger", 1}, {"QLinearConv", 3}, {"ConvTranspose", 1},
                                          {"MaxPool", -1}, {"AveragePool", -1}, {"LpPool", -1}};

int rank_of_input(onnx::InferenceContext& ctx, int i) {
  if (i < 0 || !onnx::hasInputShape(ctx, static_cast<std::size_t>(i))) return -1;
  return ctx.getInputType(static_cast<std::size_t>(i))->tensor_type().shape().dim_size();
}

void check_conv_like(onnx::InferenceContext& ctx, int weight) {
  const int rank = rank_of_input(ctx, 0);
  const int weight_rank = rank_of_input(ctx, weight);
  if (rank >= 0 && weight_rank >= 0 && weight_rank != rank)
    fail_shape_inference("the weight (input ", weight, ") has rank ", weight_rank, " but the input has rank ", rank);
  for (const char* name : {"strides", "dilations", "kernel_shape"})
    if (const auto* a = ctx.getAttribute(name))
      for (auto v : a->ints())
        if (v <= 0) fail_shape_inference("attribute '", name, "' holds ", v, "; it must be positive");
}

// The ONNX schemas, with conv_like_ops' inference functions wrapped in check_conv_like.
class guarded_schemas final : public onnx::ISchemaRegistry {
 public:
  const onnx::OpSchema* GetSchema(const std::string& op, int version, const std::string& domain) const override {
    const onnx::OpSchema* s = onnx::OpSchemaRegistry::Schema(op, version, domain);
    if (!s || !s->has_type_and_shape_inference_function() || !(domain.empty() || domain == "ai.onnx")) return s;
    for (const auto& c : conv_like_ops) {
      if (c.op != op) continue;
      auto [it, fresh] = guarded_.try_emplace(s, *s);
      if (fresh)
        it->second.TypeAndShapeInferenceFunction(
            [infer = s->GetTypeAndShapeInferenceFunction(), weight = c.weight](onnx::InferenceContext& ctx) {
              check_conv_like(ctx, weight);
              infer(ctx);
            });
      return &it->second;
    }
    return s;
  }

 private:
  mutable std::map<const onnx::OpSchema*, onnx::OpSchema> guarded_;
};

}  // namespace

void infer_shapes(onnx::ModelProto& model, const std::map<std::string, dims_t>& input_shapes) {
  auto* g = model.mutable_graph();
  std::set<std::string> initializers;
  for (const auto& t : g->initializer()) initializers.insert(t.name());
  std::set<std::string> seen;
  for (auto& in : *g->mutable_input()) {
    if (initializers.count(in.name())) continue;
    auto it = input_shapes.find(in.name());
    if (!in.type().has_tensor_type())
      throw unsupported_error::of_model(fmt::format("graph input '{}': only tensor inputs are supported", in.name()));
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
    const guarded_schemas schemas;
    onnx::shape_inference::InferShapes(model, &schemas, opts);
  } catch (const std::exception& e) {
    throw error(fmt::format("shape inference failed: {}", e.what()));
  }
}

}  // namespace kiln::cg
