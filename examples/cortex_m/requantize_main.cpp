// Requantization on the target: the architecture kernels' requantize_saturate, requantize_row and
// requantize_lanes (arch/cortex_m: the FPU's vcvtr where there is one) against the integer-only
// emulation of ONNX Runtime's float32 requantization (core/requantize.hpp), which the host tests
// prove exact; and QuantizeLinear's rounding (core/round.hpp) on known values and its row
// (quantize_row) against the element function. Ties, random accumulators and scales over many
// magnitudes, the int8, uint8, 16-bit and int32 output ranges, float32 overflow and a subnormal
// scale. qemu's exit status is the number of mismatches (0: pass).
#include <kiln/arch/dispatch.hpp>
#include <kiln/core/requantize.hpp>
#include <kiln/core/round.hpp>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>

#include "semihost.hpp"

namespace {

struct lcg {
  std::uint32_t s;
  std::uint32_t next() { return s = s * 1664525u + 1013904223u; }
  int range(int lo, int hi) { return lo + static_cast<int>((next() >> 8) % static_cast<std::uint32_t>(hi - lo + 1)); }
};

int failures = 0;

void report(std::int32_t acc, float scale, std::int32_t got, std::int32_t want) {
  if (++failures > 10) return;
  kiln_fw::print("FAIL acc ");
  kiln_fw::print_int(acc);
  kiln_fw::print(" scale ");
  kiln_fw::print_float(scale);
  kiln_fw::print(": got ");
  kiln_fw::print_int(got);
  kiln_fw::print(", want ");
  kiln_fw::print_int(want);
  kiln_fw::print("\n");
}

void check(std::int32_t acc, float scale, std::int32_t zp, std::int32_t lo, std::int32_t hi) {
  const auto rq = kiln::requant_from_float(scale);
  const std::int32_t want = kiln::requantize_saturate(acc, rq, zp, lo, hi);
  const std::int32_t got = kiln::arch::active::requantize_saturate(acc, scale, rq, zp, lo, hi);
  if (got != want) report(acc, scale, got, want);
}

// A row and a block of lanes through the row and lane kernels, output type Y.
template <class Y> void check_rows(lcg& rng) {
  constexpr kiln::index_t L = kiln::arch::generic::depthwise_lanes, n = 3 * L;
  constexpr std::int32_t lo = std::numeric_limits<Y>::min(), hi = std::numeric_limits<Y>::max();
  std::int32_t acc[n];
  float scales[L];
  kiln::requant_params rqs[L];
  Y row[n], lanes[n];
  for (int round = 0; round < 200; ++round) {
    const float scale = std::ldexp(1.f + static_cast<float>(rng.range(0, 1 << 20)) / (1 << 20), rng.range(-20, 0));
    const std::int32_t zp = rng.range(lo, hi);
    for (auto& a : acc) a = static_cast<std::int32_t>(rng.next()) >> rng.range(8, 31);
    for (kiln::index_t l = 0; l < L; ++l) {
      scales[l] = scale * static_cast<float>(l + 1) * 0.25f;
      rqs[l] = kiln::requant_from_float(scales[l]);
    }
    const auto rq = kiln::requant_from_float(scale);
    kiln::arch::active::requantize_row(acc, n, scale, rq, zp, row);
    kiln::arch::active::requantize_lanes(acc, n / L, scales, rqs, zp, lanes);
    for (kiln::index_t i = 0; i < n; ++i) {
      const std::int32_t want_row = kiln::requantize_saturate(acc[i], rq, zp, lo, hi);
      const std::int32_t want_lane = kiln::requantize_saturate(acc[i], rqs[i % L], zp, lo, hi);
      if (row[i] != want_row) report(acc[i], scale, row[i], want_row);
      if (lanes[i] != want_lane) report(acc[i], scales[i % L], lanes[i], want_lane);
    }
  }
}

// QuantizeLinear's row (arch quantize_row; on the M4 the saturating instructions) against the
// element function it stands for (core/round.hpp), int8 and uint8: ties (multiples of half the
// scale), values past the range, infinities and NaN, random zero points.
template <class Y> void check_quantize_rows(lcg& rng) {
  constexpr kiln::index_t n = 48;
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  float x[n];
  Y got[n];
  for (int round = 0; round < 200; ++round) {
    const float scale = std::ldexp(1.f + static_cast<float>(rng.range(0, 1 << 20)) / (1 << 20), rng.range(-12, 4));
    const float zp = static_cast<float>(rng.range(std::numeric_limits<Y>::min(), std::numeric_limits<Y>::max()));
    for (kiln::index_t i = 0; i < n; ++i) x[i] = scale * 0.5f * static_cast<float>(rng.range(-700, 700));
    x[0] = inf;
    x[1] = -inf;
    x[2] = nan;
    x[3] = 1e30f;
    x[4] = -1e30f;
    kiln::arch::active::quantize_row(x, n, scale, zp, got);
    for (kiln::index_t i = 0; i < n; ++i) {
      const Y want = kiln::detail::quantize_value<Y>(x[i] / scale, zp);
      if (got[i] != want) report(static_cast<std::int32_t>(zp), x[i], got[i], want);
    }
  }
}

}  // namespace

int main() {
  kiln_fw::print("requantization: ");
  kiln_fw::print(kiln::arch::active_name);
  kiln_fw::print("\n");
  // Ties: odd accumulators times 1/2, 1/4 and 3/2 land exactly on .5 values.
  for (std::int32_t acc = -1001; acc <= 1001; acc += 2)
    for (float s : {0.5f, 0.25f, 1.5f, -0.5f}) check(acc, s, 3, -128, 127);
  lcg rng{11};
  for (int i = 0; i < 20000; ++i) {
    const std::int32_t acc = static_cast<std::int32_t>(rng.next());
    const float scale = std::ldexp(static_cast<float>(rng.range(1 << 23, (1 << 24) - 1)) / (1 << 23), rng.range(-60, 10));
    check(acc >> rng.range(0, 31), scale, rng.range(-128, 127), -128, 127);
    check(acc >> rng.range(0, 31), scale, rng.range(0, 255), 0, 255);
    check(acc >> rng.range(0, 31), scale, 0, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max());
  }
  check(std::numeric_limits<std::int32_t>::min(), 1e30f, 0, -128, 127);  // float32 overflow saturates
  check(std::numeric_limits<std::int32_t>::max(), 1e30f, 100, 0, 255);
  check(7, 1e-40f, 0, -128, 127);                                        // subnormal scale
  // QuantizeLinear's rounding (core/round.hpp: vcvtr here): ties to even, saturation, NaN.
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  constexpr std::int32_t lo32 = std::numeric_limits<std::int32_t>::min(), hi32 = std::numeric_limits<std::int32_t>::max();
  const struct { float v; std::int32_t want; } rounding[] = {
      {0.5f, 0},   {1.5f, 2},     {2.5f, 2},   {-0.5f, 0},  {-1.5f, -2}, {-2.5f, -2}, {2.4999998f, 2},
      {8388609.f, 8388609},       {2147483520.f, 2147483520}, {2147483648.f, hi32}, {-2147483648.f, lo32},
      {1e30f, hi32}, {-1e30f, lo32}, {inf, hi32}, {-inf, lo32}, {nan, lo32}};
  for (const auto& c : rounding) {
    const std::int32_t got = kiln::round_to_int32(c.v);
    if (got != c.want) report(0, c.v, got, c.want);
  }
  check_rows<std::int8_t>(rng);
  check_rows<std::uint8_t>(rng);
  check_rows<std::int16_t>(rng);
  check_rows<std::uint16_t>(rng);
  check_quantize_rows<std::int8_t>(rng);
  check_quantize_rows<std::uint8_t>(rng);
  kiln_fw::print(failures == 0 ? "requantization matches the integer emulation: PASS\n" : "requantization: FAIL\n");
  return failures < 250 ? failures : 249;
}
