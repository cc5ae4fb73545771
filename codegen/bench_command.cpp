// kiln bench: compile each model into a header, build a small driver around it with the host
// compiler at -O3 -march=native, and time `run` with steady_clock. One driver per model, so every
// model is built with the same flags and timed in a fresh process.
#include "bench_command.hpp"

#include "host_build.hpp"
#include "pipeline.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace kiln::cg {

namespace fs = std::filesystem;

namespace {

// Above this size the weights go to an .incbin blob: compilers are slow on huge literal arrays.
constexpr std::uintmax_t blob_threshold_bytes = 4u << 20;

std::vector<fs::path> collect_models(const std::vector<std::string>& paths) {
  std::vector<fs::path> models;
  for (const auto& p : paths) {
    const fs::path path(p);
    if (fs::is_regular_file(path)) {
      models.push_back(path);
      continue;
    }
    if (!fs::is_directory(path)) throw error(fmt::format("'{}' is neither a model file nor a folder", p));
    if (fs::is_regular_file(path / "model.onnx")) {
      models.push_back(path / "model.onnx");
      continue;
    }
    std::vector<fs::path> found;
    for (const auto& e : fs::recursive_directory_iterator(path))
      if (e.is_regular_file() && e.path().filename() == "model.onnx") found.push_back(e.path());
    if (found.empty()) throw error(fmt::format("no model.onnx in or below '{}'", p));
    std::sort(found.begin(), found.end());
    models.insert(models.end(), found.begin(), found.end());
  }
  return models;
}

// The driver: fills every input with a fixed pseudo-random pattern that is valid for its type
// (kiln/host/fill.hpp, through the -I to kiln's include folder), warms up, then times `runs` calls
// of run() one by one and prints the median and the minimum. With KILN_BENCH_LAYERS (the header
// compiled with layer probes, probe_prelude below) it also prints each layer's median, the time
// from the previous probe (or from the start of run) to its own.
const char* const probe_prelude = R"(#include <chrono>
namespace kiln_bench {
inline std::chrono::steady_clock::time_point* marks = nullptr;  // marks[0]: start of run, [k + 1]: layer k done
}
#define KILN_LAYER_PROBE(k) (kiln_bench::marks[(k) + 1] = std::chrono::steady_clock::now())
#define KILN_BENCH_LAYERS 1
)";

const char* const driver_body = R"(
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <kiln/host/fill.hpp>

namespace {

void* align(std::vector<unsigned char>& v) {
  const auto a = kiln::arena_alignment;
  return v.data() + (a - reinterpret_cast<std::uintptr_t>(v.data()) % a) % a;
}

double median(std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const int runs = std::atoi(argv[1]);
  if (runs < 1) return 2;
  const kiln::model_info& m = MODEL_NS::info;
  std::vector<std::vector<unsigned char>> in(m.input_count), out(m.output_count);
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;
  for (std::size_t i = 0; i < m.input_count; ++i) {
    in[i].resize(m.inputs[i].bytes + kiln::arena_alignment);
    kiln::host::fill_input(m.inputs[i], i, align(in[i]));
    in_ptrs.push_back(align(in[i]));
  }
  for (std::size_t i = 0; i < m.output_count; ++i) {
    out[i].resize(m.outputs[i].bytes + kiln::arena_alignment);
    out_ptrs.push_back(align(out[i]));
  }
  std::vector<unsigned char> arena(m.arena_bytes + kiln::arena_alignment);
  void* a = align(arena);
  using clock = std::chrono::steady_clock;
#ifdef KILN_BENCH_LAYERS
  constexpr std::size_t layers = MODEL_NS::layer_count;
  std::vector<clock::time_point> marks(layers + 1);
  kiln_bench::marks = marks.data();
  std::vector<std::vector<double>> layer_us(layers, std::vector<double>(static_cast<std::size_t>(runs)));
#endif
  const int warmup = std::min(std::max(3, runs / 10), 50);
  for (int r = 0; r < warmup; ++r) m.run(in_ptrs.data(), out_ptrs.data(), a);
  std::vector<double> us(static_cast<std::size_t>(runs));
  for (int r = 0; r < runs; ++r) {
    const auto t0 = clock::now();
#ifdef KILN_BENCH_LAYERS
    marks[0] = t0;
#endif
    m.run(in_ptrs.data(), out_ptrs.data(), a);
    const auto t1 = clock::now();
    us[static_cast<std::size_t>(r)] = std::chrono::duration<double, std::micro>(t1 - t0).count();
#ifdef KILN_BENCH_LAYERS
    for (std::size_t k = 0; k < layers; ++k)
      layer_us[k][static_cast<std::size_t>(r)] = std::chrono::duration<double, std::micro>(marks[k + 1] - marks[k]).count();
#endif
  }
  const double total = median(us);
  std::printf("median_us=%.3f min_us=%.3f\n", total, us[0]);
#ifdef KILN_BENCH_LAYERS
  for (std::size_t k = 0; k < layers; ++k) {
    const double t = median(layer_us[k]);
    std::printf("layer=%zu median_us=%.3f share=%.1f%% %s\n", k, t, total > 0 ? 100 * t / total : 0.0,
                MODEL_NS::layer_names[k]);
  }
#endif
  return 0;
}
)";

// Compiles, builds and runs one model; returns the "median_us=.. min_us=.." line, then with
// --layers one "layer=K median_us=.. share=..% NAME" line per layer.
std::string bench_one(const fs::path& model, const bench_options& o, const fs::path& include, const fs::path& work) {
  compile_options co;
  co.model = model;
  co.ns = "kiln_bench_model";
  co.kernels = o.kernels;
  co.layer_probes = o.layers;
  co.specialize = o.specialize;
  co.winograd = o.winograd;
  const fs::path header = work / "model.hpp";
  std::error_code ec;
  const auto size = fs::file_size(model, ec);
  if (!ec && size > blob_threshold_bytes) co.weights_blob = work / "model.weights.bin";
  const auto r = compile(co);
  if (!co.weights_blob.empty()) write_all(co.weights_blob, r.blob.data(), r.blob.size());
  write_all(header, r.header.data(), r.header.size());

  const std::string src = std::string("// kiln bench driver\n") + (o.layers ? probe_prelude : "") +
                          "#include \"model.hpp\"\n#define MODEL_NS " + co.ns + "\n" + driver_body;
  write_all(work / "driver.cpp", src.data(), src.size());
  const std::string flags = o.cxxflags.empty() ? "-std=c++17 -O3 -march=native -DNDEBUG" : o.cxxflags;
  const auto exe = work / "driver", log = work / "build.log", result = work / "result.txt";
  const std::string build = fmt::format("{} {} -I{} -I{} {} -o {} > {} 2>&1", host_compiler(o.cxx), flags,
                                        shell_quote(include.string()), shell_quote(work.string()),
                                        shell_quote((work / "driver.cpp").string()), shell_quote(exe.string()),
                                        shell_quote(log.string()));
  if (std::system(build.c_str()) != 0)
    throw error(fmt::format("the timing driver does not compile:\n{}", read_all(log).substr(0, 4000)));
  const std::string run = fmt::format("{} {} > {} 2>&1", shell_quote(exe.string()), o.runs, shell_quote(result.string()));
  const int rc = std::system(run.c_str());
  std::string text = read_all(result);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (rc != 0 || text.rfind("median_us=", 0) != 0)
    throw error(fmt::format("the timing driver failed (status {}): {}", rc, text.substr(0, 2000)));
  return text;
}

}  // namespace

int run_bench(const bench_options& o) {
  if (o.runs < 1) throw error("--runs must be at least 1");
  const auto include = find_include_dir(o.include_dir);
  const auto models = collect_models(o.paths);
  int failures = 0;
  for (const auto& model : models) {
    const auto work = make_temp_dir("kiln-bench-");
    try {
      const auto text = bench_one(model, o, include, work);
      auto eol = text.find('\n');
      std::printf("%s %s runs=%d\n", model.string().c_str(), text.substr(0, eol).c_str(), o.runs);
      while (eol != std::string::npos) {  // layer lines, indented under their model
        const auto next = text.find('\n', eol + 1);
        std::printf("  %s\n", text.substr(eol + 1, next == std::string::npos ? next : next - eol - 1).c_str());
        eol = next;
      }
      std::fflush(stdout);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "kiln: error: %s: %s\n", model.string().c_str(), e.what());
      ++failures;
    }
    std::error_code ec;
    fs::remove_all(work, ec);
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace kiln::cg
