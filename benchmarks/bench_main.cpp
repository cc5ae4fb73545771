// kiln vs ONNX Runtime, same ONNX file, same input, same process, one thread each.
// BM_model/<model> runs the header kiln generated (--kernels fast) and the ONNX file in ONNX
// Runtime (one intra-op and one inter-op thread, sequential, all optimizations) in alternating
// blocks. Every run is timed on its own; the medians go into the counters and the final table.
#include "bench_registry.hpp"
#include "ort_peer.hpp"
#include "peak.hpp"

#include <benchmark/benchmark.h>
#include <kiln/host/fill.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln_bench {
namespace {

double peak_gflops = 0;

struct aligned_buffer {
  std::vector<unsigned char> raw;
  void* data = nullptr;
  explicit aligned_buffer(std::size_t bytes) : raw(bytes + 64) {
    data = raw.data() + (64 - reinterpret_cast<std::uintptr_t>(raw.data()) % 64) % 64;
  }
};

onnx_type to_onnx(kiln::dtype t) {
  switch (t) {
    case kiln::dtype::f32: return onnx_type::f32;
    case kiln::dtype::f64: return onnx_type::f64;
    case kiln::dtype::i8: return onnx_type::i8;
    case kiln::dtype::u8: return onnx_type::u8;
    case kiln::dtype::i16: return onnx_type::i16;
    case kiln::dtype::u16: return onnx_type::u16;
    case kiln::dtype::i32: return onnx_type::i32;
    case kiln::dtype::u32: return onnx_type::u32;
    case kiln::dtype::i64: return onnx_type::i64;
    case kiln::dtype::u64: return onnx_type::u64;
    case kiln::dtype::boolean: return onnx_type::boolean;
  }
  return onnx_type::f32;
}

// Per model: one input set shared by both runtimes, separate outputs, kiln's arena, the ORT session.
struct fixture {
  const model_entry* e;
  std::vector<aligned_buffer> inputs, kiln_out, ort_out;
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;
  aligned_buffer arena;
  std::unique_ptr<ort_session> ort;
  std::string ort_error;
  bool ort_tried = false;

  explicit fixture(const model_entry& m) : e(&m), arena(m.info->arena_bytes) {
    const auto& info = *m.info;
    for (std::size_t i = 0; i < info.input_count; ++i) {
      inputs.emplace_back(info.inputs[i].bytes);
      kiln::host::fill_input(info.inputs[i], i, inputs.back().data);  // the same inputs as `kiln bench`
      in_ptrs.push_back(inputs.back().data);
    }
    for (std::size_t i = 0; i < info.output_count; ++i) {
      kiln_out.emplace_back(info.outputs[i].bytes);
      ort_out.emplace_back(info.outputs[i].bytes);
      out_ptrs.push_back(kiln_out.back().data);
    }
  }

  static std::vector<ort_binding> bindings(const kiln::tensor_info* t, std::size_t n, std::vector<aligned_buffer>& bufs) {
    std::vector<ort_binding> b;
    for (std::size_t i = 0; i < n; ++i)
      b.push_back({t[i].name, to_onnx(t[i].type), std::vector<std::int64_t>(t[i].dims, t[i].dims + t[i].rank),
                   bufs[i].data, t[i].bytes});
    return b;
  }

  ort_session* session() {
    if (!ort_tried) {
      ort_tried = true;
      try {
        ort = std::make_unique<ort_session>(e->onnx, bindings(e->info->inputs, e->info->input_count, inputs),
                                            bindings(e->info->outputs, e->info->output_count, ort_out));
      } catch (const std::exception& ex) {
        ort_error = ex.what();
      }
    }
    return ort.get();
  }
};

std::map<std::string, std::unique_ptr<fixture>> fixtures;
std::map<std::string, double> kiln_median, ort_median;

fixture& get_fixture(const model_entry& e) {
  auto& f = fixtures[e.name];
  if (!f) f = std::make_unique<fixture>(e);
  return *f;
}

double median_of(std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Runs `body` once untimed, then `timed` times with each run's microseconds appended to `us`.
// The untimed run refills the caches the other runtime's block evicted, so both are timed warm.
template <class F>
void timed_block(int timed, std::vector<double>& us, F&& body) {
  body();
  for (int i = 0; i < timed; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    body();
    const auto t1 = std::chrono::steady_clock::now();
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    benchmark::ClobberMemory();
  }
}

void rate_counters(benchmark::State& st, const model_entry& e, const char* who, double median_us) {
  if (e.macs <= 0) return;
  const double gops = 2 * e.macs / (median_us * 1e-6) / 1e9;
  st.counters[std::string(who) + (e.int8 ? "_GOP/s" : "_GFLOP/s")] = gops;
  if (peak_gflops > 0) st.counters[std::string(who) + "_peak_share"] = gops / peak_gflops;
}

// One benchmark per model times both runtimes, alternating blocks of runs: the host's speed drifts
// by tens of percent over seconds (shared cores, clocks), and timing kiln and ORT seconds apart
// put that drift into the ratio. Alternating short blocks gives both the same drift.
constexpr int runs_per_block = 4;

void bm_model(benchmark::State& st, const model_entry* e) {
  auto& f = get_fixture(*e);
  ort_session* s = f.session();
  std::vector<double> kiln_us, ort_us;
  for (auto _ : st) {
    timed_block(runs_per_block, kiln_us, [&] { e->info->run(f.in_ptrs.data(), f.out_ptrs.data(), f.arena.data); });
    if (s) timed_block(runs_per_block, ort_us, [&] { s->run(); });
  }
  if (kiln_us.empty()) return;
  const double k = kiln_median[e->name] = median_of(kiln_us);
  st.counters["kiln_us"] = k;
  rate_counters(st, *e, "kiln", k);
  if (!s) {
    st.SetLabel("ORT not run: " + f.ort_error);
    return;
  }
  const double o = ort_median[e->name] = median_of(ort_us);
  st.counters["ort_us"] = o;
  st.counters["kiln/ORT"] = k / o;
  rate_counters(st, *e, "ort", o);
}

void print_tables() {
  std::printf("\nkiln vs ONNX Runtime %s, one thread, medians of runs timed in alternating blocks\n",
              [] { try { return ort_version(); } catch (...) { return std::string("(not loaded)"); } }().c_str());
  std::printf("\n| model | kiln median us | ORT median us | kiln/ORT |\n|---|---:|---:|---:|\n");
  auto cell = [](const std::map<std::string, double>& m, const std::string& k) {
    auto it = m.find(k);
    return it == m.end() ? std::string("n/a") : [&] { char b[32]; std::snprintf(b, sizeof b, "%.1f", it->second); return std::string(b); }();
  };
  for (const auto& e : registry()) {
    if (!kiln_median.count(e.name) && !ort_median.count(e.name)) continue;
    std::string ratio = "n/a";
    if (kiln_median.count(e.name) && ort_median.count(e.name)) {
      char b[32];
      std::snprintf(b, sizeof b, "%.2f", kiln_median[e.name] / ort_median[e.name]);
      ratio = b;
    }
    std::printf("| %s | %s | %s | %s |\n", e.name.c_str(), cell(kiln_median, e.name).c_str(), cell(ort_median, e.name).c_str(),
                ratio.c_str());
  }
  std::printf("\nkernels: GFLOP/s (float) or GOP/s (int8) = 2 x MACs / median; %% of the measured float FMA peak (%.1f GFLOP/s)\n",
              peak_gflops);
  std::printf("\n| kernel | MACs | kiln G(FL)OP/s | kiln %% peak | ORT G(FL)OP/s | ORT %% peak |\n|---|---:|---:|---:|---:|---:|\n");
  for (const auto& e : registry()) {
    if (e.group != "kernel" || (!kiln_median.count(e.name) && !ort_median.count(e.name))) continue;
    auto rate = [&](const std::map<std::string, double>& m, bool share) {
      auto it = m.find(e.name);
      if (it == m.end()) return std::string("n/a");
      const double g = 2 * e.macs / (it->second * 1e-6) / 1e9;
      char b[32];
      std::snprintf(b, sizeof b, share ? "%.1f%%" : "%.1f", share ? 100 * g / peak_gflops : g);
      return std::string(b);
    };
    std::printf("| %s | %.0f | %s | %s | %s | %s |\n", e.name.c_str(), e.macs, rate(kiln_median, false).c_str(),
                rate(kiln_median, true).c_str(), rate(ort_median, false).c_str(), rate(ort_median, true).c_str());
  }
}

}  // namespace
}  // namespace kiln_bench

int main(int argc, char** argv) {
  using namespace kiln_bench;
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const auto peak = measure_peak_gflops();
  peak_gflops = peak.gflops;
  std::printf("single-core peak: %.1f GFLOP/s (%s loop)\n", peak.gflops, peak.isa);
  benchmark::AddCustomContext("peak_gflops", std::to_string(peak.gflops));
  benchmark::AddCustomContext("peak_isa", peak.isa);
  try {
    benchmark::AddCustomContext("onnxruntime", ort_version());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "warning: %s\n", e.what());
  }
  std::sort(registry().begin(), registry().end(), [](const model_entry& a, const model_entry& b) {
    return a.group != b.group ? a.group == "model" : a.name < b.name;
  });
  for (const auto& e : registry())
    benchmark::RegisterBenchmark(("BM_model/" + e.name).c_str(), bm_model, &e)->Unit(benchmark::kMicrosecond);
  benchmark::RunSpecifiedBenchmarks();
  print_tables();
  std::fflush(stdout);
  fixtures.clear();
  benchmark::Shutdown();
  return 0;
}
