// The kiln command line: compile | check | bench | report | ops.
#include "bench_command.hpp"
#include "check_command.hpp"
#include "docs.hpp"
#include "pipeline.hpp"
#include "report.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <new>

using namespace kiln::cg;

namespace {

int report_errors(const std::function<int()>& body) {
  try {
    return body();
  } catch (const unsupported_error& e) {
    std::fprintf(stderr, "kiln: error: %s\n", e.what());
    return 2;
  } catch (const std::bad_alloc&) {  // what() would only say "std::bad_alloc"
    std::fprintf(stderr, "kiln: error: out of memory\n");
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kiln: error: %s\n", e.what());
    return 1;
  }
}

std::map<std::string, dims_t> parse_input_shapes(const std::vector<std::string>& specs) {
  std::map<std::string, dims_t> shapes;
  for (const auto& s : specs) {
    const auto eq = s.rfind('=');
    if (eq == std::string::npos || eq == 0) throw error(fmt::format("--input-shape '{}': expected NAME=1x3x96x96", s));
    shapes[s.substr(0, eq)] = parse_dims(s.substr(eq + 1));
  }
  return shapes;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kiln: compile ONNX models into self-contained C++ headers"};
  app.require_subcommand(1);

  compile_options co;
  std::string output;
  std::vector<std::string> shapes;
  auto* compile_cmd = app.add_subcommand("compile", "generate a C++ header from an ONNX model");
  compile_cmd->add_option("model", co.model, "the .onnx file")->required();
  compile_cmd->add_option("-o,--output", output, "the header to write")->required();
  compile_cmd->add_option("--namespace", co.ns, "C++ namespace of the generated code")->default_val("model");
  compile_cmd->add_option("--input-shape", shapes, "NAME=1x3x96x96: fix an input's shape (repeatable)");
  bool weights_blob = false;
  compile_cmd->add_option("--kernels", co.kernels,
                          "reference: plain kernels on ONNX-layout weights; fast: weights pre-packed for the "
                          "SIMD/DSP kernels")
      ->check(CLI::IsMember({"reference", "fast"}));
  compile_cmd->add_flag("--specialize", co.specialize,
                        "inline every layer's kernel with its constant shapes (faster, more code) instead of "
                        "sharing one kernel instance per kernel type");
  const auto winograd_modes = CLI::IsMember({"off", "auto", "2x2", "4x4"});
  compile_cmd
      ->add_option("--winograd", co.winograd,
                   "with --kernels fast, float 3x3 stride-1 convs by Winograd F(2x2,3x3) or F(4x4,3x3): 2.25-4x "
                   "fewer multiply-adds for 1.8-4x their weight bytes and a larger scratch (hosts). off; auto: the "
                   "layers where it measured faster; 2x2 or 4x4: every such conv with that output tile")
      ->check(winograd_modes)
      ->default_val("off");
  compile_cmd->add_flag("--layer-probes", co.layer_probes,
                        "call KILN_LAYER_PROBE(k) after layer k of run(), for per-layer timing; the header "
                        "lists layer_count and layer_names");
  compile_cmd->add_flag("--weights-blob", weights_blob,
                        "write the weights to OUTPUT's stem + .weights.bin, linked in with .incbin (large models)");

  check_options ko;
  auto* check_cmd = app.add_subcommand("check", "compile models in the ONNX backend-test layout and compare outputs");
  check_cmd->add_option("dirs", ko.dirs, "folders with model.onnx and test_data_set_N/")->required();
  check_cmd->add_option("--rtol", ko.rtol, "relative tolerance for floats")->default_val(1e-3);
  check_cmd->add_option("--atol", ko.atol, "absolute tolerance for floats")->default_val(1e-5);
  check_cmd->add_option("--max-lsb", ko.max_lsb,
                        "quantized outputs: pass when no element differs by more than this many quantization steps "
                        "(0: bit-exact); their share of equal elements is reported either way");
  check_cmd->add_option("--cxx", ko.cxx, "host C++ compiler (default: $CXX or c++)");
  check_cmd->add_option("--cxxflags", ko.cxxflags, "flags for the host compiler");
  check_cmd->add_option("--include", ko.include_dir, "kiln's include folder (default: found next to kiln)");
  check_cmd->add_option("--kernels", ko.kernels, "reference or fast (as kiln compile)")
      ->check(CLI::IsMember({"reference", "fast"}));
  check_cmd->add_flag("--specialize", ko.specialize, "compile with --specialize (as kiln compile)");
  check_cmd->add_option("--winograd", ko.winograd, "off, auto, 2x2 or 4x4 (as kiln compile)")
      ->check(winograd_modes)
      ->default_val("off");
  check_cmd->add_option("--keep", ko.work_dir, "keep generated headers and driver in this folder");

  bench_options bo;
  auto* bench_cmd = app.add_subcommand("bench", "time a model's generated code on the host (-O3 -march=native)");
  bench_cmd->add_option("models", bo.paths, "model files, or folders holding */model.onnx")->required();
  bench_cmd->add_option("--runs", bo.runs, "timed runs per model")->default_val(200);
  bench_cmd->add_option("--kernels", bo.kernels, "reference or fast")->check(CLI::IsMember({"reference", "fast"}));
  bench_cmd->add_option("--cxx", bo.cxx, "host C++ compiler (default: $CXX or c++)");
  bench_cmd->add_option("--cxxflags", bo.cxxflags, "flags for the host compiler");
  bench_cmd->add_flag("--layers", bo.layers,
                      "also print each layer's median time (run() with layer probes: a clock read per layer)");
  bench_cmd->add_flag("--specialize,!--no-specialize", bo.specialize,
                      "compile with --specialize, the default: each layer's kernel inlined with its constant params");
  bench_cmd->add_option("--winograd", bo.winograd, "as kiln compile; default auto: the host build")
      ->check(winograd_modes)
      ->default_val("auto");
  bench_cmd->add_option("--include", bo.include_dir, "kiln's include folder (default: found next to kiln)");

  compile_options ro;
  std::string report_format = "md", report_svg_file;
  std::vector<std::string> report_shapes;
  auto* report_cmd = app.add_subcommand("report", "print a model's footprint: per-layer MACs, weights, arena use and liveness");
  report_cmd->add_option("model", ro.model, "the .onnx file")->required();
  report_cmd->add_option("--format", report_format, "md or json")->check(CLI::IsMember({"md", "json"}));
  report_cmd->add_option("--svg", report_svg_file, "also write the arena occupancy over time to this SVG file");
  report_cmd->add_option("--input-shape", report_shapes, "NAME=1x3x96x96: fix an input's shape (repeatable)");

  std::string doc_format = "md";
  auto* ops_cmd = app.add_subcommand("ops", "print the supported operators (the generated docs)");
  ops_cmd->add_option("--format", doc_format, "md or names")->check(CLI::IsMember({"md", "names", "excluded"}));

  CLI11_PARSE(app, argc, argv);

  if (*compile_cmd) {
    return report_errors([&] {
      co.input_shapes = parse_input_shapes(shapes);
      const auto blob_file = std::filesystem::absolute(output).lexically_normal().replace_extension(".weights.bin");
      if (weights_blob) co.weights_blob = blob_file;
      auto r = compile(co);
      if (weights_blob) write_file_atomically(blob_file, r.blob);  // first: the header names it
      write_file_atomically(output, r.header);
      std::printf("kiln: wrote %s: %zu layers, arena %zu bytes, weights %zu bytes\n", output.c_str(), r.l.layers.size(),
                  r.plan.arena_bytes, r.weight_bytes);
      if (!r.float_fallback.empty()) {
        std::printf("kiln: %zu layers of this quantized model run in float (no integer kernel for them):\n",
                    r.float_fallback.size());
        for (const auto& f : r.float_fallback) std::printf("  %s\n", f.c_str());
      }
      return 0;
    });
  }
  if (*report_cmd) {
    return report_errors([&] {
      ro.input_shapes = parse_input_shapes(report_shapes);
      const auto rep = make_report(compile(ro), ro.model.string());
      if (!report_svg_file.empty()) write_file_atomically(report_svg_file, report_svg(rep));
      const std::string text = report_format == "json" ? report_json(rep) : report_markdown(rep);
      std::fputs(text.c_str(), stdout);
      return 0;
    });
  }
  if (*check_cmd) return report_errors([&] { return run_check(ko); });
  if (*bench_cmd) return report_errors([&] { return run_bench(bo); });
  if (*ops_cmd) return report_errors([&] {
    std::fputs(supported_ops_doc(doc_format).c_str(), stdout);
    return 0;
  });
  return 0;
}
