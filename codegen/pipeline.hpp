// The whole compile: model file in, header text and facts about it out.
#pragma once

#include "stages.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace kiln::cg {

struct compile_options {
  std::filesystem::path model;
  std::string ns = "model";
  std::map<std::string, dims_t> input_shapes;                       // --input-shape overrides
  std::map<std::string, std::vector<std::uint8_t>> frozen_inputs;   // graph inputs made constants
  // --weights-blob: the weights go to compile_result::blob, and the header pulls this file in with
  // .incbin instead of holding constexpr arrays. Empty: constexpr arrays.
  std::filesystem::path weights_blob;
  // --kernels: "reference" calls the plain kernels on ONNX-layout weights; "fast" pre-packs the
  // weights of Conv/Gemm/MatMul layers for the packed kernels (include/kiln/packed/), which run
  // on the architecture chosen at compile time (include/kiln/arch/dispatch.hpp).
  std::string kernels = "reference";
  // --specialize: every layer's kernel is inlined into its call with the layer's constexpr params
  // (a per-layer instantiation: constant shapes, unrolled loops, more flash); default: one shared
  // instance per kernel that reads its shapes at run time.
  bool specialize = false;
  // --winograd (with --kernels fast): float 3x3 stride-1 convs by Winograd F(2x2, 3x3) or
  // F(4x4, 3x3) (include/kiln/packed/winograd.hpp): 2.25x to 4x fewer multiply-adds, for 16/9 or
  // 4x the weight bytes and a larger scratch; a host's choice. "off"; "auto": the layers where
  // it measured faster, with the tile that did (ops/nn.cpp winograd_tile); "2x2" or "4x4":
  // every such conv, with that tile.
  std::string winograd = "off";
  // --layer-probes: run() calls KILN_LAYER_PROBE(k) after layer k, a macro the including code may
  // define (a timestamp, a cycle counter read); the header also lists layer_names.
  bool layer_probes = false;
};

struct compile_result {
  std::string header;
  std::string blob;  // the weights, when compile_options::weights_blob is set
  graph g;
  lowered l;
  buffer_plan plan;
  std::size_t weight_bytes = 0;
  std::vector<std::string> float_fallback;  // quantized model: layers that still run in float
};

compile_result compile(const compile_options& o);
// The same on a model already parsed (parse_model); o.model only names it and its folder.
compile_result compile_model(onnx::ModelProto model, const compile_options& o);

// Writes `text` to `file` through a temporary in the same folder and a rename, so a failed or
// interrupted run never leaves a half-written file behind.
void write_file_atomically(const std::filesystem::path& file, const std::string& text);

// "1x3x96x96" → {1, 3, 96, 96}
dims_t parse_dims(const std::string& text);

}  // namespace kiln::cg
