// kiln compile --layer-probes: run() calls KILN_LAYER_PROBE(k) once per layer, k = 0, 1, ... in
// order, layer_names names every layer, and the probed header computes the same bits as the
// header compiled without probes (tests/CMakeLists.txt builds both from one model).
#include <cstdio>
#include <cstring>
#include <vector>

static std::vector<long> probes;  // the k of every probe call, in call order
#define KILN_LAYER_PROBE(k) probes.push_back(static_cast<long>(k))
#include "probed_model.hpp"
#undef KILN_LAYER_PROBE
#include "plain_model.hpp"

#include <kiln/host/fill.hpp>

namespace {

// Runs model m on the fixed input pattern; returns its outputs' bytes, end to end.
std::vector<unsigned char> run_once(const kiln::model_info& m) {
  std::vector<std::vector<unsigned char>> in(m.input_count), out(m.output_count);
  std::vector<const void*> in_ptrs;
  std::vector<void*> out_ptrs;
  for (std::size_t i = 0; i < m.input_count; ++i) {
    in[i].resize(m.inputs[i].bytes);
    kiln::host::fill_input(m.inputs[i], i, in[i].data());
    in_ptrs.push_back(in[i].data());
  }
  for (std::size_t i = 0; i < m.output_count; ++i) {
    out[i].assign(m.outputs[i].bytes, 0xA5);
    out_ptrs.push_back(out[i].data());
  }
  alignas(kiln::arena_alignment) static unsigned char arena[1 << 20];
  if (m.arena_bytes > sizeof arena) return {};
  m.run(in_ptrs.data(), out_ptrs.data(), arena);
  std::vector<unsigned char> all;
  for (const auto& o : out) all.insert(all.end(), o.begin(), o.end());
  return all;
}

}  // namespace

int main() {
  int failures = 0;
  const auto probed_out = run_once(probed_model::info);
  if (probes.size() != probed_model::layer_count) {
    std::printf("FAIL: %zu probe calls for %zu layers\n", probes.size(), probed_model::layer_count);
    ++failures;
  }
  for (std::size_t k = 0; k < probes.size(); ++k)
    if (probes[k] != static_cast<long>(k)) {
      std::printf("FAIL: probe call %zu passed %ld\n", k, probes[k]);
      ++failures;
    }
  for (std::size_t k = 0; k < probed_model::layer_count; ++k)
    if (!probed_model::layer_names[k] || !*probed_model::layer_names[k]) {
      std::printf("FAIL: layer %zu has no name\n", k);
      ++failures;
    }
  if (probed_model::layer_names[probed_model::layer_count] != nullptr) {
    std::printf("FAIL: layer_names does not end with nullptr\n");
    ++failures;
  }
  const auto plain_out = run_once(plain_model::info);
  if (probed_out.empty() || probed_out != plain_out) {
    std::printf("FAIL: the probed header's outputs differ from the plain header's\n");
    ++failures;
  }
  std::printf("%zu layers probed in order: %s\n", probed_model::layer_count, failures ? "FAIL" : "ok");
  return failures ? 1 : 0;
}
