#include "pipeline.hpp"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

namespace kiln::cg {

compile_result compile(const compile_options& o) { return compile_model(load_model(o.model), o); }

compile_result compile_model(onnx::ModelProto model, const compile_options& o) {
  check_opset_version(model);
  check_model(model);
  inline_functions(model);
  convert_opset(model);
  infer_shapes(model, o.input_shapes);
  compile_result r;
  r.g = import_graph(model, o.model.parent_path(), o.frozen_inputs);
  // The weights now live in the graph: dropping the protobuf copy keeps peak memory near one copy
  // of the weights (plus the blob or header text) on large models.
  onnx::ModelProto().Swap(&model);
  r.g.packed_kernels = o.kernels == "fast";
  r.g.winograd = !r.g.packed_kernels || o.winograd == "off" ? graph::winograd_mode::off
                 : o.winograd == "auto"                      ? graph::winograd_mode::measured
                 : o.winograd == "4x4"                       ? graph::winograd_mode::tile_4x4
                                                             : graph::winograd_mode::tile_2x2;
  const auto& reg = registry::builtin();
  lower_graph(r.g, reg, false);  // first pass: shapes everywhere, constants folded away (no output copies)
  if (has_quantize_nodes(r.g)) {
    lower_qdq(r.g, reg);
    lower_graph(r.g, reg, false);  // shapes of the integer operators; folds constants the rewrite exposed
  }
  fuse(r.g);
  if (r.g.packed_kernels) block_channels(r.g);
  r.l = lower_graph(r.g, reg);
  r.float_fallback = float_fallback_ops(r.g);
  order_layers(r.g, r.l);  // a topological order with a lower arena peak, when there is one
  r.plan = plan_memory(r.g, r.l);
  r.weight_bytes = weight_bytes(r.g, r.l);
  emit_options eo;
  eo.ns = o.ns;
  eo.source_name = o.model.filename().string();
  eo.weights_blob = o.weights_blob.string();
  eo.specialize = o.specialize;
  eo.layer_probes = o.layer_probes;
  r.header = emit_header(r.g, r.l, r.plan, eo, o.weights_blob.empty() ? nullptr : &r.blob);
  return r;
}

void write_file_atomically(const std::filesystem::path& file, const std::string& text) {
  const auto dir = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
  std::string tmpl = (dir / ("." + file.filename().string() + ".XXXXXX")).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw error(fmt::format("cannot create a temporary file next to '{}'", file.string()));
  ::fchmod(fd, 0644);  // mkstemp makes 0600; headers are ordinary source files
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok || std::rename(tmpl.c_str(), file.c_str()) != 0) {
    std::remove(tmpl.c_str());
    throw error(fmt::format("cannot write '{}'", file.string()));
  }
}

dims_t parse_dims(const std::string& text) {
  dims_t d;
  if (text.empty() || text == "scalar") return d;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    const auto x = text.find('x', pos);
    const std::string part = text.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos || part.size() > 12)
      throw error(fmt::format("bad shape '{}': expected dimensions like 1x3x96x96", text));
    d.push_back(std::stoll(part));
    if (x == std::string::npos) break;
    pos = x + 1;
  }
  return d;
}

}  // namespace kiln::cg
