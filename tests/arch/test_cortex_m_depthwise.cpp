// The Cortex-M int8 depthwise taps (arch/cortex_m/depthwise.hpp: tap pairs, planned once, on int16 planes) against
// generic::depthwise_taps on the same values as int32. On the host the DSP instructions are
// emulated, so this tests the pairing and the output stepping; the Cortex-M firmware runs the real
// instructions on whole models (examples/cortex_m, bit for bit against ONNX Runtime).
#include <kiln/arch/cortex_m/depthwise.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using kiln::index_t;

struct lcg {
  std::uint32_t s;
  int range(int lo, int hi) {
    s = s * 1664525u + 1013904223u;
    return lo + static_cast<int>((s >> 8) % static_cast<std::uint32_t>(hi - lo + 1));
  }
};

// Offsets of a kh x kw kernel on phase planes of width wq, stride s, dilation d (as
// packed::detail::depthwise_plane lays them out).
std::vector<index_t> kernel_offsets(index_t kh, index_t kw, index_t wq, index_t s, index_t d, index_t phase_size) {
  std::vector<index_t> off;
  for (index_t r = 0; r < kh; ++r)
    for (index_t c = 0; c < kw; ++c) {
      const index_t col = c * d;
      off.push_back((col % s) * phase_size + r * d * wq + col / s);
    }
  return off;
}

void check(const std::vector<index_t>& off, index_t n, std::uint32_t seed) {
  lcg rng{seed};
  index_t reach = 0;
  for (index_t o : off) reach = o > reach ? o : reach;
  const auto taps = static_cast<index_t>(off.size());
  std::vector<std::int16_t> x16(static_cast<std::size_t>(reach + n)), w16(off.size());
  std::vector<std::int32_t> x32(x16.size()), w32(off.size());
  for (std::size_t i = 0; i < x16.size(); ++i) x32[i] = x16[i] = static_cast<std::int16_t>(rng.range(-255, 255));
  for (std::size_t t = 0; t < off.size(); ++t) w32[t] = w16[t] = static_cast<std::int16_t>(rng.range(-255, 255));
  x32[0] = x16[0] = -255;
  w32[0] = w16[0] = -255;
  for (bool accumulate : {false, true}) {
    CAPTURE(accumulate);
    std::vector<std::int32_t> want(static_cast<std::size_t>(n)), got(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) want[static_cast<std::size_t>(i)] = got[static_cast<std::size_t>(i)] = rng.range(-100000, 100000);
    kiln::arch::generic::depthwise_taps(n, taps, w32.data(), off.data(), x32.data(), std::int32_t(77), accumulate, want.data());
    const auto plan = kiln::arch::cortex_m::plan_depthwise_taps<std::int16_t>(taps, off.data());
    kiln::arch::cortex_m::depthwise_taps(plan, n, w16.data(), x16.data(), std::int32_t(77), accumulate, got.data());
    for (index_t i = 0; i < n; ++i) {
      CAPTURE(i);
      REQUIRE(got[static_cast<std::size_t>(i)] == want[static_cast<std::size_t>(i)]);
    }
  }
}

}  // namespace

TEST_CASE("Cortex-M int8 depthwise taps equal the portable ones") {
  const index_t ns[] = {1, 2, 3, 4, 5, 7, 8, 33};
  struct shape { const char* name; index_t kh, kw, wq, s, d, phase; };
  const shape shapes[] = {
      {"3x3 stride 1: horizontal pairs", 3, 3, 10, 1, 1, 100},
      {"3x3 stride 2: kw 0 and 2 pair in phase 0", 3, 3, 6, 2, 1, 40},
      {"5x5 stride 1", 5, 5, 12, 1, 1, 150},
      {"3x3 dilation 2: no neighbours, all single", 3, 3, 12, 1, 2, 150},
      {"1-D kernel of 7", 1, 7, 40, 1, 1, 40},
      {"4x4 stride 3", 4, 4, 5, 3, 1, 30},
      {"1x1", 1, 1, 8, 1, 1, 8}};
  for (const auto& sh : shapes) {
    CAPTURE(std::string(sh.name));
    const auto off = kernel_offsets(sh.kh, sh.kw, sh.wq, sh.s, sh.d, sh.phase);
    for (std::size_t g = 0; g < off.size(); g += 16) {  // groups of up to 16 taps, as depthwise_plane sends
      const std::vector<index_t> group(off.begin() + static_cast<std::ptrdiff_t>(g),
                                       off.begin() + static_cast<std::ptrdiff_t>(off.size() - g > 16 ? g + 16 : off.size()));
      for (index_t n : ns) {
        CAPTURE(n);
        check(group, n, static_cast<std::uint32_t>(n * 31 + static_cast<index_t>(g)));
      }
    }
  }
  SUBCASE("taps listed right to left pair too") { check({5, 4, 3, 20, 19}, 9, 3); }
}
