// `kiln report`: the footprint of a compiled model, layer by layer — what each layer computes
// (MACs), which weights it reads, where its outputs sit in the arena, and how many arena bytes
// are live at each step — plus totals and an SVG of arena occupancy over time.
//
// Lifetimes are the planner's (stages/plan.cpp): an arena buffer lives from the first to the last
// layer touching its storage, views resolved through lowered::aliases; a layer's scratch lives for
// that layer only. Everything is derived from compile()'s result, so the figures are the header's.
#pragma once

#include "pipeline.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln::cg {

struct report_tensor {
  std::string name;
  dtype type = dtype::f32;
  dims_t dims;
  std::size_t bytes = 0;
  // "arena", "view" (shares another tensor's storage: view_of), "output" or "input" (caller's buffers)
  std::string location;
  std::string view_of;                // the storage's name, for views
  std::optional<std::size_t> offset;  // arena offset of the storage, when it is in the arena
};

struct report_layer {
  std::size_t index = 0;
  std::string op_type, node_name, kernel;
  std::vector<report_tensor> outputs;   // tensors whose storage this layer touches first (it writes them)
  std::uint64_t macs = 0;
  std::size_t weight_bytes = 0;         // constants first read by this layer (each constant counted once)
  std::size_t weight_bytes_read = 0;    // every constant this layer reads, shared ones included
  std::size_t scratch_bytes = 0;
  std::optional<std::size_t> scratch_offset;
  std::size_t live_bytes = 0;           // arena bytes live at this step (an in-place pair counted once)
};

struct report_buffer {  // one arena buffer of the plan
  std::string name;     // the tensor's name, or "scratch of layer N"
  bool scratch = false;
  std::size_t offset = 0, bytes = 0;
  std::size_t first = 0, last = 0;  // steps
};

struct footprint_report {
  std::string model;
  std::vector<report_tensor> inputs, outputs;
  std::vector<report_layer> layers;
  std::vector<report_buffer> buffers;  // in plan order: by offset, then first step, then name
  std::size_t arena_bytes = 0;              // the plan's arena (what the header asks for)
  std::size_t arena_lower_bound_bytes = 0;  // max over steps of live bytes: no plan with the same
                                            // lifetimes and in-place pairs can do better
  std::size_t peak_step = 0;                // a step where that maximum is reached
  std::size_t no_reuse_bytes = 0;           // every arena buffer in its own aligned slot
  std::size_t weight_bytes = 0;
  std::size_t input_bytes = 0, output_bytes = 0;
  std::uint64_t macs = 0;
};

footprint_report make_report(const compile_result& r, const std::string& model_name);

std::string report_markdown(const footprint_report& rep);
std::string report_json(const footprint_report& rep);
std::string report_svg(const footprint_report& rep);

// JSON string literal (with quotes): escapes quotes, backslashes and control characters, and
// replaces bytes that are not valid UTF-8 with U+FFFD so the output always parses.
std::string json_string(const std::string& s);

}  // namespace kiln::cg
