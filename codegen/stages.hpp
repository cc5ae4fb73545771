// The codegen pipeline, one stage per file under stages/:
// load → check → inline functions → opset → shapes → import → lower/fold → fuse → layout → lower → plan → emit.
#pragma once

#include "ir.hpp"
#include "layer.hpp"
#include "onnx_fwd.hpp"
#include "registry.hpp"

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace kiln::cg {

// ---- front end (protobuf)
onnx::ModelProto load_model(const std::filesystem::path& file);                   // stages/load.cpp
// The same from bytes in memory (the fuzzer's entry point); `what` names them in errors.
onnx::ModelProto parse_model(const void* data, std::size_t size, const std::string& what);  // stages/load.cpp
void check_model(const onnx::ModelProto& model);                                   // stages/check.cpp
void inline_functions(onnx::ModelProto& model);                                    // stages/inline_functions.cpp
// Refuses opsets newer than kiln reads, before anything else reads the model.
void check_opset_version(const onnx::ModelProto& model);                           // stages/opset.cpp
void convert_opset(onnx::ModelProto& model);                                       // stages/opset.cpp
void infer_shapes(onnx::ModelProto& model, const std::map<std::string, dims_t>& input_shapes);  // stages/shapes.cpp
// Initializers' payloads move out of `model` as they are decoded: one copy of the weights, not two.
graph import_graph(onnx::ModelProto& model, const std::filesystem::path& model_dir,
                   const std::map<std::string, std::vector<std::uint8_t>>& frozen_inputs);  // stages/import.cpp

// ---- middle end (kiln IR)
struct lowered {
  std::vector<layer> layers;
  std::map<tensor_id, tensor_id> aliases;  // view → the tensor whose storage it shares
};
// Lowers every node; nodes whose inputs are all constant are evaluated now and disappear.
lowered lower_graph(graph& g, const registry& reg, bool output_copies = true);  // stages/lower.cpp
void fuse(graph& g);                                                               // stages/fuse.cpp
// With the packed kernels: marks the float tensors between depthwise and pointwise convs that the
// layers pass in channel blocks (kiln/packed/layout.hpp).
void block_channels(graph& g);                                                     // stages/layout.cpp
// QDQ groups (DequantizeLinear → op → QuantizeLinear) become integer operators, as in ONNX Runtime.
void lower_qdq(graph& g, const registry& reg);
bool has_quantize_nodes(const graph& g);                                     // stages/qdq.cpp
// The float layers of a quantized model (nodes reading a dequantized tensor), as "Op 'name'".
std::vector<std::string> float_fallback_ops(const graph& g);                       // stages/qdq.cpp

// ---- back end
struct buffer_plan {
  std::map<tensor_id, std::size_t> offsets;  // arena offset of each planned tensor
  std::map<std::size_t, std::size_t> scratch_offsets;  // layer index → scratch offset
  std::size_t arena_bytes = 0;
  // In-place pairs: output storage → the input storage it overwrites at the layer that writes it
  // (the input's last use). Both have the same offset; see stages/plan.cpp.
  std::map<tensor_id, tensor_id> inplace;
};
buffer_plan plan_memory(const graph& g, const lowered& l);                         // stages/plan.cpp
void order_layers(const graph& g, lowered& l);  // reorders layers to lower the arena; stages/order.cpp

struct emit_options {
  std::string ns = "model";
  std::string source_name;  // the model file's name, for the header comment
  std::string weights_blob;  // the path .incbin reads when the weights go to a blob
  bool specialize = false;   // each layer's call inlines its kernel with the layer's constant params
  bool layer_probes = false;  // run() calls KILN_LAYER_PROBE(k) after layer k (per-layer timing)
};
// The constants the layers read, in tensor order: what the header stores as weights.
std::set<tensor_id> used_constants(const graph& g, const lowered& l);                 // stages/emit.cpp
// Their bytes that flash holds on every target: all but the lane-quad copies (layer::lane_quad_args).
std::size_t weight_bytes(const graph& g, const lowered& l);                            // stages/emit.cpp
// With `blob`, the weights are appended there (each 16-byte aligned) and the header reads them
// through an .incbin of o.weights_blob; without, they are constexpr arrays in the header.
std::string emit_header(const graph& g, const lowered& l, const buffer_plan& plan, const emit_options& o,
                        std::string* blob = nullptr);  // stages/emit.cpp

}  // namespace kiln::cg
