// Stage: write the model header. Output depends only on the lowered graph and the plan, never on
// pointers or hash order, so the same model always gives the same bytes.
#include "../stages.hpp"

#include "../names.hpp"
#include "../ops/common.hpp"

#include <fmt/format.h>

#include <algorithm>

#include <cctype>
#include <cstring>

namespace kiln::cg {

namespace {

std::string literal(dtype t, const std::uint8_t* p) {
  switch (t) {
    case dtype::f32: { float v; std::memcpy(&v, p, 4); return print_value(v); }
    case dtype::f64: { double v; std::memcpy(&v, p, 8); return print_value(v); }
    case dtype::i8: return fmt::format("{}", *reinterpret_cast<const std::int8_t*>(p));
    case dtype::u8: return fmt::format("{}", *p);
    case dtype::i16: { std::int16_t v; std::memcpy(&v, p, 2); return fmt::format("{}", v); }
    case dtype::u16: { std::uint16_t v; std::memcpy(&v, p, 2); return fmt::format("{}", v); }
    case dtype::i32: { std::int32_t v; std::memcpy(&v, p, 4); return print_value(v); }
    case dtype::u32: { std::uint32_t v; std::memcpy(&v, p, 4); return fmt::format("{}u", v); }
    case dtype::i64: { std::int64_t v; std::memcpy(&v, p, 8); return print_value(v); }
    case dtype::u64: { std::uint64_t v; std::memcpy(&v, p, 8); return print_value(v); }
    case dtype::boolean: return *p ? "true" : "false";
  }
  return "0";
}

std::string dtype_enum(dtype t) {
  static const char* names[] = {"f32", "f64", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "boolean"};
  return fmt::format("kiln::dtype::{}", names[static_cast<int>(t)]);
}

void emit_array(std::string& out, const std::string& name, const tensor& t) {
  const auto n = static_cast<std::size_t>(t.count());
  const auto esize = dtype_size(t.type);
  out += fmt::format("// '{}' {} {}\nalignas(16) inline constexpr {} {}[{}] = {{", t.name, dtype_name(t.type),
                     dims_string(t.dims), cpp_type(t.type), name, std::max<std::size_t>(n, 1));
  std::size_t col = 1000;
  for (std::size_t i = 0; i < n; ++i) {
    std::string v = literal(t.type, t.value->data() + i * esize);
    if (i > 0) {
      out += ",";
      ++col;
    }
    if (col + v.size() + 1 > 110) {
      out += "\n    ";
      col = 4;
    } else {
      out += " ";
      ++col;
    }
    out += v;
    col += v.size();
  }
  out += n == 0 ? "};\n" : "\n};\n";
}

std::string c_string(const std::string& s) {
  std::string r = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') r += '\\', r += static_cast<char>(c);
    else if (c < 0x20 || c >= 0x7f) r += fmt::format("\\{:03o}", c);
    else r += static_cast<char>(c);
  }
  return r + "\"";
}

// A C identifier from the namespace ("a::b" → "a__b"), for the blob's linker symbol and macro.
std::string c_identifier(const std::string& ns) {
  std::string s;
  for (char c : ns) s += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return s;
}

// The blob is linked in by the assembler, so it works the same with GCC and Clang, on a PC and
// with arm-none-eabi (ELF), with no build step beyond compiling the header. The section is a
// COMDAT group, so a header included by several translation units still links one copy. The path
// is the blob's absolute path at codegen time; a build that moves the blob defines the macro.
// (`%` rather than `@` in section flags: `@` starts a comment in ARM assembly.)
std::string blob_preamble(const std::string& ns, const std::string& path, std::size_t bytes) {
  if (path.find_first_of("\\\"\n\r") != std::string::npos)
    throw error(fmt::format("the weights blob path '{}' cannot be named in an .incbin directive (it holds a quote, "
                            "backslash or line break)", path));
  const std::string id = c_identifier(ns), sym = "kiln_weights_" + id, macro = "KILN_WEIGHTS_FILE_" + id;
  return fmt::format(
      "// The weights: {0} bytes in the blob below, put in .rodata (flash) by the assembler's .incbin.\n"
      "#ifndef {1}\n#define {1} \"{2}\"\n#endif\n"
      "extern \"C\" const unsigned char {3}[];\n"
      "__asm__(\".pushsection .rodata.{3},\\\"aG\\\",%progbits,{3},comdat\\n\"\n"
      "        \".balign 16\\n.globl {3}\\n.type {3}, %object\\n{3}:\\n\"\n"
      "        \".incbin \\\"\" {1} \"\\\"\\n\"\n"
      "        \".size {3}, . - {3}\\n.popsection\\n\");\n\n",
      bytes, macro, path, sym);
}

// One weight inside the blob: an accessor, since a pointer computed from a symbol cannot be
// constexpr and an inline variable would need a static initializer.
void emit_blob_accessor(std::string& out, std::string& blob, const std::string& ns, const std::string& name,
                        const tensor& t) {
  blob.resize((blob.size() + 15) / 16 * 16, '\0');  // 16-byte aligned, like the constexpr arrays
  const auto offset = blob.size();
  blob.append(reinterpret_cast<const char*>(t.value->data()), t.bytes());
  out += fmt::format("// '{}' {} {}\ninline const {}* {}() noexcept {{ return reinterpret_cast<const {}*>(kiln_weights_{} + {}); }}\n",
                     t.name, dtype_name(t.type), dims_string(t.dims), cpp_type(t.type), name, cpp_type(t.type),
                     c_identifier(ns), offset);
}

std::string dims_list(const dims_t& d) {
  std::string s;
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s;
}

}  // namespace

std::set<tensor_id> used_constants(const graph& g, const lowered& l) {
  std::set<tensor_id> used;
  for (const auto& layer : l.layers)
    for (auto a : layer.args)
      if (a >= 0 && g.at(a).is_constant()) used.insert(a);
  return used;
}

std::size_t weight_bytes(const graph& g, const lowered& l) {
  std::set<tensor_id> target_only;
  for (const auto& layer : l.layers)
    for (int k : layer.lane_quad_args) target_only.insert(layer.args.at(static_cast<std::size_t>(k)));
  std::size_t bytes = 0;
  for (auto id : used_constants(g, l))
    if (!target_only.count(id)) bytes += g.at(id).bytes();
  return bytes;
}

std::string emit_header(const graph& g, const lowered& l, const buffer_plan& plan, const emit_options& o,
                        std::string* blob) {
  name_table names;
  std::map<tensor_id, std::string> var;  // how the run body spells each tensor
  std::string out;
  out += fmt::format("// Generated by kiln from {}. Do not edit: regenerate with `kiln compile`.\n", c_string(o.source_name));
  out += "#pragma once\n\n#include <kiln/kiln.hpp>\n\n#include <cstddef>\n#include <cstdint>\n\n";
  out += fmt::format("namespace {} {{\n\n", o.ns);

  // Interface names first, so they keep the model's spelling whenever it is a valid identifier.
  for (auto id : g.inputs) var[id] = names.unique(g.at(id).name);
  for (auto id : g.outputs) var[id] = names.unique(g.at(id).name);

  // ---- weights
  const std::size_t flash_weights = weight_bytes(g, l);
  std::string weights;
  if (blob) {  // sized once: growing by doubling would briefly hold up to three blobs' worth
    std::size_t total = 0;
    for (auto id : used_constants(g, l)) total = (total + 15) / 16 * 16 + g.at(id).bytes();
    blob->reserve(total);
  }
  for (auto id : used_constants(g, l)) {
    const auto& t = g.at(id);
    const std::string n = names.unique("w_" + t.name);
    if (blob) {
      var[id] = "weights::" + n + "()";
      emit_blob_accessor(weights, *blob, o.ns, n, t);
    } else {
      var[id] = "weights::" + n;
      emit_array(weights, n, t);
    }
  }
  if (blob && !weights.empty()) weights = blob_preamble(o.ns, o.weights_blob, blob->size()) + weights;

  out += "// Bytes the caller provides as the arena (aligned to kiln::arena_alignment).\n";
  out += fmt::format("inline constexpr std::size_t arena_bytes = {};\n", plan.arena_bytes);
  out += "// Bytes of constant weights, stored in flash / .rodata.\n";
  if (std::any_of(l.layers.begin(), l.layers.end(), [](const layer& ly) { return !ly.lane_quad_args.empty(); }))
    out += "// (Not counting the lane-quad copies of int8 depthwise weights, which only targets with\n"
           "// AVX-512 VNNI and VBMI read and keep: see KILN_LANE_QUADS.)\n";
  out += fmt::format("inline constexpr std::size_t weight_bytes = {};\n", flash_weights);
  std::size_t scratch_bytes = 0;
  for (const auto& layer : l.layers) scratch_bytes = std::max(scratch_bytes, layer.scratch_bytes);
  out += "// The largest scratch buffer of one layer (activation panel, padded plane); part of arena_bytes.\n";
  out += fmt::format("inline constexpr std::size_t scratch_bytes = {};\n", scratch_bytes);
  out += "using arena_t = kiln::arena_storage<arena_bytes>;\n\n";

  // ---- typed interface
  auto declare_type = [&](tensor_id id, const char* what) {
    const auto& t = g.at(id);
    out += fmt::format("// {} '{}': {} {}\n", what, t.name, dtype_name(t.type), dims_string(t.dims));
    std::string dims = dims_list(t.dims);
    out += fmt::format("using {}_t = kiln::tensor<{}{}{}>;\n", var[id], cpp_type(t.type), dims.empty() ? "" : ", ", dims);
  };
  for (auto id : g.inputs) declare_type(id, "input");
  for (auto id : g.outputs) declare_type(id, "output");
  out += "\n";

  if (!weights.empty()) out += "namespace weights {\n\n" + weights + "\n}  // namespace weights\n\n";

  // ---- params
  std::vector<std::string> param_names(l.layers.size());
  std::string params;
  for (std::size_t i = 0; i < l.layers.size(); ++i) {
    const auto& layer = l.layers[i];
    // Named after the ONNX node, or its op type when the node has no name: p_conv1, p_softmax_2.
    std::string base = layer.node_name;
    if (base.empty())
      for (char c : layer.op_type) base += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    param_names[i] = names.unique("p_" + base);
    params += fmt::format("inline constexpr {} {}{};\n", layer.params_type, param_names[i], layer.params_init);
  }
  if (!params.empty()) out += "namespace params {\n\n" + params + "\n}  // namespace params\n\n";

  // ---- run
  std::string sig;
  for (auto id : g.inputs) sig += fmt::format("const {}* {}, ", cpp_type(g.at(id).type), var[id]);
  for (auto id : g.outputs) sig += fmt::format("{}* {}, ", cpp_type(g.at(id).type), var[id]);
  if (o.layer_probes) {
    out += "// Layer probes (kiln compile --layer-probes): run() calls KILN_LAYER_PROBE(k) after layer k,\n"
           "// k = 0 .. layer_count - 1, which layer_names[k] names. Define the macro before including\n"
           "// this header (to read a clock or a cycle counter); left undefined, it does nothing.\n"
           "#ifndef KILN_LAYER_PROBE\n#define KILN_LAYER_PROBE(k) static_cast<void>(k)\n#endif\n";
    out += fmt::format("inline constexpr std::size_t layer_count = {};\n", l.layers.size());
    out += "inline constexpr const char* layer_names[layer_count + 1] = {  // ends with nullptr\n";
    for (const auto& layer : l.layers)
      out += fmt::format("    {},\n", c_string(fmt::format("{} {}", layer.origin, layer.kernel.substr(0, layer.kernel.find('<')))));
    out += "    nullptr};\n\n";
  }
  out += "// Runs the model. Buffers are dense, row-major; `arena` holds arena_bytes bytes aligned to\n";
  out += "// kiln::arena_alignment and may be reused between calls.\n";
  out += fmt::format("inline void run({}void* arena) noexcept {{\n", sig);
  out += "  auto* const base = static_cast<unsigned char*>(arena);\n  static_cast<void>(base);\n";
  for (const auto& [id, offset] : plan.offsets) {
    const auto& t = g.at(id);
    var[id] = names.unique(t.name);
    out += fmt::format("  {}* const {} = reinterpret_cast<{}*>(base + {});  // {} {}\n", cpp_type(t.type), var[id],
                       cpp_type(t.type), offset, dims_string(t.dims), t.bytes());
  }
  for (const auto& [view, src] : l.aliases) var[view] = var[src];
  // An interface tensor no kernel touches (an input the model ignores, an empty output) is still a
  // parameter; naming it keeps -Wunused-parameter quiet.
  std::set<tensor_id> touched;
  for (const auto& layer : l.layers)
    for (auto a : layer.args) touched.insert(a);
  for (const auto& ids : {g.inputs, g.outputs})
    for (auto id : ids)
      if (!touched.count(id)) out += fmt::format("  static_cast<void>({});\n", var[id]);
  for (std::size_t i = 0; i < l.layers.size(); ++i) {
    const auto& layer = l.layers[i];
    std::string args;
    for (std::size_t k = 0; k < layer.args.size(); ++k) {
      const auto a = layer.args[k];
      if (a == no_tensor) args += ", nullptr";
      else if (a == scratch_arg) args += fmt::format(", base + {}", plan.scratch_offsets.at(i));
      else if (layer.lane_quad_arg(k)) args += ", KILN_LANE_QUADS(" + var.at(a) + ")";
      else args += ", " + var.at(a);
    }
    if (o.specialize)
      out += fmt::format("  [&]() KILN_SPECIALIZED {{ {}(params::{}{}); }}();  // {}\n", layer.kernel, param_names[i], args,
                         layer.origin);
    else
      out += fmt::format("  {}(params::{}{});  // {}\n", layer.kernel, param_names[i], args, layer.origin);
    if (o.layer_probes) out += fmt::format("  KILN_LAYER_PROBE({});\n", i);
  }
  out += "}\n\n";

  // Typed overload: shapes checked by the compiler.
  std::string tsig, targs;
  for (auto id : g.inputs) { tsig += fmt::format("const {0}_t& {0}, ", var[id]); targs += var[id] + ".data, "; }
  for (auto id : g.outputs) { tsig += fmt::format("{0}_t& {0}, ", var[id]); targs += var[id] + ".data, "; }
  out += fmt::format("inline void run({}arena_t& arena) noexcept {{ run({}arena.data()); }}\n\n", tsig, targs);

  // ---- type-erased interface for generic drivers
  auto infos = [&](const std::vector<tensor_id>& ids, const char* kind) {
    std::string s;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto& t = g.at(ids[i]);
      s += fmt::format("inline constexpr std::int32_t {}_dims_{}[] = {{{}}};\n", kind, i, t.dims.empty() ? "0" : dims_list(t.dims));
    }
    if (ids.empty()) return s;
    s += fmt::format("inline constexpr kiln::tensor_info {}_info[] = {{\n", kind);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const auto& t = g.at(ids[i]);
      s += fmt::format("    {{{}, {}, {}, {}_dims_{}, {}, {}}},\n", c_string(t.name), dtype_enum(t.type), t.dims.size(), kind, i,
                       t.count(), t.bytes());
    }
    return s + "};\n";
  };
  out += infos(g.inputs, "input") + infos(g.outputs, "output");
  std::string eargs;
  for (std::size_t i = 0; i < g.inputs.size(); ++i)
    eargs += fmt::format("static_cast<const {}*>(inputs[{}]), ", cpp_type(g.at(g.inputs[i]).type), i);
  for (std::size_t i = 0; i < g.outputs.size(); ++i)
    eargs += fmt::format("static_cast<{}*>(outputs[{}]), ", cpp_type(g.at(g.outputs[i]).type), i);
  out += fmt::format("inline void run_erased(const void* const* inputs, void* const* outputs, void* arena) noexcept {{\n"
                     "  static_cast<void>(inputs);\n  run({}arena);\n}}\n",
                     eargs);
  out += fmt::format("inline constexpr kiln::model_info info{{{}, {}, {}, output_info, {}, arena_bytes, weight_bytes, &run_erased}};\n\n",
                     c_string(o.ns), g.inputs.empty() ? "nullptr" : "input_info", g.inputs.size(), g.outputs.size());
  out += fmt::format("}}  // namespace {}\n", o.ns);
  return out;
}

}  // namespace kiln::cg
