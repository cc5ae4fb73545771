// Many independent multiply-add chains keep every FMA pipe busy: the loop is bound by throughput,
// not by the latency of one chain. The widest vector ISA enabled at compile time (-march=native)
// is used, so the figure matches what the kernels under test can use.
#include "peak.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>

#if defined(__AVX512F__) || defined(__FMA__)
#include <immintrin.h>
#endif

namespace kiln_bench {

namespace {

constexpr int chains = 12;  // > FMA latency (4) x pipes (2) on current x86 cores

#if defined(__AVX512F__)
using vec = __m512;
constexpr int lanes = 16;
constexpr const char* isa_name = "AVX-512 FMA";
inline vec splat(float f) { return _mm512_set1_ps(f); }
inline vec madd(vec a, vec b, vec c) { return _mm512_fmadd_ps(a, b, c); }
inline float sum(vec v) { return _mm512_reduce_add_ps(v); }
#elif defined(__FMA__)
using vec = __m256;
constexpr int lanes = 8;
constexpr const char* isa_name = "AVX2 FMA";
inline vec splat(float f) { return _mm256_set1_ps(f); }
inline vec madd(vec a, vec b, vec c) { return _mm256_fmadd_ps(a, b, c); }
inline float sum(vec v) {
  alignas(32) float t[8];
  _mm256_store_ps(t, v);
  float s = 0;
  for (float x : t) s += x;
  return s;
}
#else
using vec = float;
constexpr int lanes = 1;
constexpr const char* isa_name = "scalar";
inline vec splat(float f) { return f; }
inline vec madd(vec a, vec b, vec c) { return a * b + c; }
inline float sum(vec v) { return v; }
#endif

volatile float sink;

double run_loop(std::int64_t iterations) {
  vec acc[chains];
  for (int k = 0; k < chains; ++k) acc[k] = splat(0.001f * static_cast<float>(k));
  const vec a = splat(0.999999f), b = splat(1e-7f);
  const auto t0 = std::chrono::steady_clock::now();
  for (std::int64_t i = 0; i < iterations; ++i) {
#if defined(__GNUC__)
#pragma GCC unroll 12
#endif
    for (int k = 0; k < chains; ++k) acc[k] = madd(acc[k], a, b);
  }
  const auto t1 = std::chrono::steady_clock::now();
  float s = 0;
  for (int k = 0; k < chains; ++k) s += sum(acc[k]);
  sink = s;
  const double seconds = std::chrono::duration<double>(t1 - t0).count();
  return static_cast<double>(iterations) * chains * lanes * 2 / seconds / 1e9;
}

}  // namespace

peak_result measure_peak_gflops() {
  double best = 0;
  run_loop(1 << 20);  // wake the core up
  // Many short loops, keep the best: on a shared machine some of them get the core to themselves.
  for (int r = 0; r < 40; ++r) best = std::max(best, run_loop(std::int64_t{1} << 20));
  return {best, isa_name};
}

}  // namespace kiln_bench
