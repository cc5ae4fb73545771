// The architecture's int8 tiles (arch::active::int8_tile, int8_dense_tile) against the portable
// ones, exact: every pairing of int8 and uint8 operands, the extreme byte values, one and four
// rows, the panel and window widths, on panels and on windows. The packed conv and dense tests
// cover them inside whole kernels; these pin each tile down alone, so a wrong lane order or a
// saturating instruction shows here first.
#include <kiln/arch/dispatch.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace {

using kiln::index_t;

struct bytes_rng {
  std::uint32_t s;
  template <class T> T value() {
    s = s * 1664525u + 1013904223u;
    return static_cast<T>(static_cast<int>(s >> 24) + std::numeric_limits<T>::min());
  }
};

// Random quads with the first of each operand at its extreme, so the largest products occur.
template <class T> std::vector<T> quads(bytes_rng& rng, std::size_t n) {
  std::vector<T> v(n);
  for (auto& x : v) x = rng.value<T>();
  v[0] = std::numeric_limits<T>::min();
  v[1] = std::numeric_limits<T>::max();
  if (v.size() > 4) v[4] = std::numeric_limits<T>::min();
  return v;
}

template <index_t MR, index_t NB, class A, class B> void check_panel(index_t k4) {
  bytes_rng rng{7u + static_cast<std::uint32_t>(k4)};
  const index_t ldb = 4 * NB + 8;  // a row pitch wider than the tile, as in a packed panel
  const auto a = quads<A>(rng, static_cast<std::size_t>(4 * MR * k4));
  const auto b = quads<B>(rng, static_cast<std::size_t>(ldb * k4));
  std::int32_t want[MR * NB], got[MR * NB];
  const kiln::arch::panel_rows<B> rows{b.data(), ldb};
  kiln::arch::generic::int8_tile<MR, NB>(k4, a.data(), 4, 4 * MR, rows, want);
  kiln::arch::active::int8_tile<MR, NB>(k4, a.data(), 4, 4 * MR, rows, got);
  for (index_t i = 0; i < MR * NB; ++i) {
    CAPTURE(i);
    REQUIRE(got[i] == want[i]);
  }
}

template <class A, class B> void check_pairing() {
  constexpr index_t nb = kiln::arch::active::s8_nb, wnb = kiln::arch::active::s8_window_nb;
  for (index_t k4 : {1, 2, 3, 17, 64}) {
    CAPTURE(k4);
    check_panel<4, nb, A, B>(k4);
    check_panel<1, nb, A, B>(k4);
    check_panel<4, wnb, A, B>(k4);
    check_panel<2, wnb, A, B>(k4);
  }
}

}  // namespace

TEST_CASE("the int8 tile equals the portable one for every operand signedness") {
  MESSAGE("int8 tile: " << std::string(kiln::arch::active::int8_tile_name));
  SUBCASE("int8 weights, uint8 activations (conv)") { check_pairing<std::int8_t, std::uint8_t>(); }
  SUBCASE("uint8 broadcast, int8 vector (dense)") { check_pairing<std::uint8_t, std::int8_t>(); }
  SUBCASE("int8 both") { check_pairing<std::int8_t, std::int8_t>(); }
  SUBCASE("uint8 both") { check_pairing<std::uint8_t, std::uint8_t>(); }
}

TEST_CASE("the int8 tile reads windows: one row per tap at its offset, channel quads apart") {
  constexpr index_t NB = kiln::arch::active::s8_window_nb, MR = 4, taps = 3, steps = 5;
  const index_t off[taps] = {0, 4 * 3, 4 * 41};  // byte offsets of the tap rows within a channel quad
  const index_t cs = 4 * (41 + NB + 1);
  bytes_rng rng{99};
  const auto a = quads<std::int8_t>(rng, static_cast<std::size_t>(4 * MR * steps * taps));
  const auto b = quads<std::uint8_t>(rng, static_cast<std::size_t>(cs * steps));
  const kiln::arch::window_rows<std::uint8_t> rows{b.data(), cs, taps, off};
  std::int32_t want[MR * NB], got[MR * NB];
  kiln::arch::generic::int8_tile<MR, NB>(steps, a.data(), 4, 4 * MR, rows, want);  // k counts channel-quad steps
  kiln::arch::active::int8_tile<MR, NB>(steps, a.data(), 4, 4 * MR, rows, got);
  for (index_t i = 0; i < MR * NB; ++i) {
    CAPTURE(i);
    REQUIRE(got[i] == want[i]);
  }
}

// Which int8 tile this build must run: fails if, say, an AVX2-only build quietly fell back to the
// portable tile. The expectations follow the target macros, as dispatch.hpp does.
TEST_CASE("the build runs the int8 tile its target has") {
#if defined(KILN_ARCH_GENERIC) || !defined(KILN_HAVE_XSIMD)
  const std::string want = "generic";
#elif defined(__AVX512VNNI__) && defined(__AVX512BW__)
  const std::string want = "avx512_vnni";
#elif defined(__AVX2__)
  const std::string want = "avx2_vpmaddwd";
#elif defined(__ARM_NEON)
  const std::string want = "neon_widening";
#else
  const std::string want = "generic";
#endif
  CHECK(std::string(kiln::arch::active::int8_tile_name) == want);
}
