// The packed kernels (include/kiln/packed) on whichever architecture this build selected
// (arch/dispatch.hpp) against the reference kernels (include/kiln/ops): float within rounding,
// integers bit for bit. Geometries put the output count below, at, above and at multiples of
// the tile and panel widths, and the channel count below, at and above the weight panel rows.
#include <kiln/packed/conv.hpp>
#include <kiln/packed/dense.hpp>
#include <kiln/packed/depthwise.hpp>
#include <kiln/packed/qdense.hpp>
#include <kiln/packed/winograd.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using kiln::index_t;

// A small deterministic generator: the same values on every platform.
struct lcg {
  std::uint32_t s;
  std::uint32_t next() { return s = s * 1664525u + 1013904223u; }
  float uniform() { return static_cast<float>(next() >> 8) / 16777216.f * 2.f - 1.f; }
  int range(int lo, int hi) { return lo + static_cast<int>((next() >> 8) % static_cast<std::uint32_t>(hi - lo + 1)); }
};

struct geometry {
  index_t c, m, group, h, w, kh, kw, stride, pad, dilation;
};

std::string describe(const geometry& g) {
  return "C" + std::to_string(g.c) + " M" + std::to_string(g.m) + " G" + std::to_string(g.group) + " " +
         std::to_string(g.h) + "x" + std::to_string(g.w) + " k" + std::to_string(g.kh) + "x" + std::to_string(g.kw) +
         " s" + std::to_string(g.stride) + " p" + std::to_string(g.pad) + " d" + std::to_string(g.dilation);
}

template <class P> P make_geometry(const geometry& g) {
  P p{};
  p.batch = 1;
  p.in_channels = g.c;
  p.out_channels = g.m;
  p.group = g.group;
  const index_t in[3] = {1, g.h, g.w}, k[3] = {1, g.kh, g.kw};
  for (int a = 0; a < 3; ++a) {
    const index_t s = a == 0 ? 1 : g.stride, pd = a == 0 ? 0 : g.pad, d = a == 0 ? 1 : g.dilation;
    p.in[a] = in[a];
    p.kernel[a] = k[a];
    p.stride[a] = s;
    p.pad[a] = pd;
    p.dilation[a] = d;
    p.out[a] = (in[a] + 2 * pd - d * (k[a] - 1) - 1) / s + 1;
  }
  return p;
}

std::vector<geometry> geometries() {
  std::vector<geometry> gs;
  // Output planes of 1, 7, 8, 9, 16, 31, 32, 33, 64, 100 positions; channel counts around conv_mr.
  for (index_t hw : {1, 7, 8, 9, 16, 31, 32, 33, 64, 100})
    for (index_t m : {1, 3, 4, 5, 8, 13}) gs.push_back({3, m, 1, 1, hw, 1, 1, 1, 0, 1});
  gs.push_back({16, 16, 1, 10, 10, 3, 3, 1, 1, 1});  // 3x3 same
  gs.push_back({8, 12, 1, 11, 9, 3, 3, 2, 1, 1});    // strided
  gs.push_back({5, 6, 1, 12, 12, 3, 3, 1, 2, 2});    // dilated
  gs.push_back({8, 8, 2, 9, 9, 3, 3, 1, 1, 1});      // grouped
  gs.push_back({6, 9, 3, 7, 7, 1, 1, 1, 0, 1});      // grouped 1x1
  gs.push_back({1, 64, 1, 49, 10, 10, 4, 2, 1, 1});  // DS-CNN's stem
  // int8 convs with fewer than 3 channels per group pack from padded planes when those are small
  // (packed/panel.hpp pack_from_padded_planes): strided, dilated, grouped, an odd window; then a
  // plane too large for it, packed as before.
  gs.push_back({2, 5, 1, 9, 11, 3, 3, 2, 1, 1});
  gs.push_back({1, 4, 1, 12, 7, 3, 3, 1, 2, 2});
  gs.push_back({4, 6, 2, 8, 8, 3, 5, 1, 1, 1});
  gs.push_back({1, 3, 1, 70, 70, 3, 3, 1, 1, 1});
  // Kernel widths of whole quads read each quad as 4 bytes of a padded plane
  // (panel.hpp quads_from_planes): 2 channels, 8 wide, stride 1; stride 3; not where a dilation
  // spreads a quad's columns apart.
  gs.push_back({2, 7, 1, 9, 13, 3, 8, 1, 2, 1});
  gs.push_back({1, 5, 1, 12, 9, 2, 4, 1, 1, 2});
  gs.push_back({1, 6, 1, 20, 14, 4, 4, 3, 0, 1});
  gs.push_back({16, 32, 1, 8, 8, 1, 1, 1, 0, 1});    // pointwise
  // 1x1 windows with a stride or padding read x into the panel directly (packed/conv.hpp
  // pack_window_1x1_quads): ResNet's shortcuts (16x16 and 8x8 outputs, runs split across panels),
  // K not in quads, padding rows and columns, a stride of 3, a group.
  gs.push_back({16, 32, 1, 32, 32, 1, 1, 2, 0, 1});
  gs.push_back({32, 20, 1, 15, 15, 1, 1, 2, 0, 1});
  gs.push_back({7, 9, 1, 11, 13, 1, 1, 2, 1, 1});
  gs.push_back({5, 6, 1, 10, 40, 1, 1, 3, 2, 1});
  gs.push_back({8, 6, 2, 9, 9, 1, 1, 2, 0, 1});
  gs.push_back({7, 5, 1, 6, 33, 2, 5, 1, 3, 1});     // wide padding, odd kernel
  gs.push_back({4, 4, 1, 5, 5, 5, 5, 1, 0, 1});      // kernel equal to the input
  gs.push_back({37, 70, 1, 3, 3, 1, 1, 1, 0, 1});    // pointwise on a 3x3 plane: K not in quads, M over a dense panel
  gs.push_back({130, 24, 1, 4, 4, 1, 1, 1, 0, 1});   // pointwise on a 4x4 plane, K over 128
  // Pointwise on planes of whole window steps, read in place (packed/conv.hpp pointwise_in_place):
  // tiles of 64 then a narrower last one (144 = 64 + 64 + 16, 112 = 64 + 48), and groups.
  gs.push_back({24, 10, 1, 12, 12, 1, 1, 1, 0, 1});
  gs.push_back({9, 7, 1, 4, 28, 1, 1, 1, 0, 1});
  gs.push_back({12, 10, 2, 4, 8, 1, 1, 1, 0, 1});
  // 3x3 same on planes whose bands end in a partial tile of each width a SIMD target narrows it
  // to (packed/direct.hpp for_each_window_tile): 13, 22 and 46 wide positions in one band; 222
  // (three whole tiles of 64, then 30); two bands of 262 and 174 positions.
  for (index_t hw : {3, 4, 6, 14, 20}) gs.push_back({5, 9, 1, hw, hw, 3, 3, 1, 1, 1});
  // The narrow last tile takes G blocks of output channels at once (packed/conv.hpp conv_direct):
  // 14 channels fill a group of 4 blocks but the last only partly, 18 leave a block over.
  for (index_t hw : {3, 4, 6, 8})
    for (index_t m : {14, 18}) gs.push_back({6, m, 1, hw, hw, 3, 3, 1, 1, 1});
  // Planes wide enough that a float band keeps its column phases (packed/direct.hpp
  // direct_by_column: dropped columns under a tenth): same, strided, dilated, a 1-D window, a
  // strided 5x5, a group; most planes above take a plane per kernel column.
  gs.push_back({6, 7, 1, 24, 30, 3, 3, 1, 1, 1});
  gs.push_back({5, 6, 1, 25, 41, 3, 3, 2, 1, 1});
  gs.push_back({4, 5, 1, 12, 50, 3, 3, 1, 2, 2});
  gs.push_back({3, 9, 1, 3, 40, 1, 5, 1, 2, 1});
  gs.push_back({4, 6, 1, 30, 46, 5, 5, 2, 2, 1});
  gs.push_back({8, 6, 2, 6, 36, 3, 3, 1, 1, 1});
  // Output rows of whole 64-byte vectors take a plane per kernel column for aligned loads
  // (direct_by_column): 32 wide in four bands, strided to 16, and 16 wide with a dilation.
  gs.push_back({5, 6, 1, 32, 32, 3, 3, 1, 1, 1});
  gs.push_back({4, 7, 1, 31, 32, 3, 3, 2, 1, 1});
  gs.push_back({3, 5, 1, 9, 18, 3, 3, 1, 1, 2});
  // Windows whose wide band drops no column (a kernel one column wide; a stride as wide as the
  // kernel) without a plane per kernel column: the int8 tiles requantize straight into the output
  // rows as by column. 24 wide in bands of several rows; 13 wide by 2x2 stride 2.
  gs.push_back({6, 9, 1, 14, 22, 3, 1, 1, 1, 1});
  gs.push_back({8, 7, 1, 20, 26, 2, 2, 2, 0, 1});
  return gs;
}

// A layer's scratch as a reused arena hands it over: stale bytes, a start 16 bytes past a 64-byte
// boundary (the arena promises kiln::arena_alignment only) and guard bytes after the last byte,
// which a kernel writing past the scratch it asked for would change.
struct arena_scratch {
  static constexpr std::size_t guard = 64;
  std::vector<unsigned char> bytes;
  std::size_t at = 0, size;
  arena_scratch(std::size_t n, unsigned char stale) : bytes(n + 64 + guard, stale), size(n) {
    while ((reinterpret_cast<std::uintptr_t>(bytes.data()) + at) % 64 != 16) ++at;
    std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(at + n), bytes.end(), guard_byte);
  }
  template <class T = void> T* data() { return reinterpret_cast<T*>(bytes.data() + at); }
  bool guard_intact() const {
    return std::all_of(bytes.begin() + static_cast<std::ptrdiff_t>(at + size), bytes.end(),
                       [](unsigned char b) { return b == guard_byte; });
  }
  static constexpr unsigned char guard_byte = 0x5a;
};

// NaN floats, as stale float scratch: an output that reads any of it unwritten is NaN.
arena_scratch nan_scratch(std::size_t n) {
  arena_scratch s(n, 0);
  const float nan = std::nanf("");
  for (std::size_t i = 0; i + sizeof(float) <= n; i += sizeof(float)) std::memcpy(s.data<unsigned char>() + i, &nan, sizeof nan);
  return s;
}

// Depthwise: strides 1 and 2, dilation, uneven padding, planes narrower and wider than a vector.
std::vector<geometry> depthwise_geometries() {
  return {{8, 8, 8, 9, 9, 3, 3, 1, 1, 1},   {5, 5, 5, 12, 7, 3, 3, 2, 1, 1}, {3, 3, 3, 6, 6, 5, 5, 1, 2, 1},
          {4, 4, 4, 25, 5, 3, 3, 1, 1, 1},  {2, 2, 2, 1, 40, 1, 3, 1, 1, 1}, {6, 6, 6, 48, 48, 3, 3, 2, 1, 1},
          {3, 3, 3, 10, 10, 3, 3, 1, 2, 2}, {2, 2, 2, 7, 9, 3, 3, 2, 0, 1},  {1, 1, 1, 33, 33, 3, 3, 1, 1, 1},
          // More channels than one block of 16 lanes (a full block and a partial one), short planes
          // with padding on both sides: the lanes path, input rows wider than 16 columns included.
          {20, 20, 20, 6, 6, 3, 3, 1, 1, 1}, {18, 18, 18, 12, 20, 3, 3, 2, 1, 1},
          // 7x7: more tap groups than a layer plans once (packed/depthwise.hpp plane_taps), the
          // last ones planned channel by channel.
          {3, 3, 3, 11, 9, 7, 7, 1, 3, 1}};
}

}  // namespace

TEST_CASE("packed float depthwise equals the reference conv") {
  lcg rng{5};
  for (const auto& g : depthwise_geometries()) {
    CAPTURE(describe(g));
    auto p = make_geometry<kiln::conv_params>(g);
    p.act = {kiln::act_kind::relu, 0, 0};
    REQUIRE(kiln::packed::depthwise_applies(p));
    std::vector<float> x(static_cast<std::size_t>(g.c * g.h * g.w)), w(static_cast<std::size_t>(g.m * g.kh * g.kw)),
        bias(static_cast<std::size_t>(g.m));
    for (auto& v : x) v = rng.uniform();
    for (auto& v : w) v = rng.uniform();
    for (auto& v : bias) v = rng.uniform();
    std::vector<float> want(static_cast<std::size_t>(g.m * p.out[1] * p.out[2])), got(want.size(), -99.f);
    kiln::conv<float>(p, x.data(), w.data(), bias.data(), want.data());
    // Stale scratch (as in a reused arena): an output that reads any of it unwritten is NaN.
    std::vector<float> scratch(kiln::packed::depthwise_scratch_bytes(p) / sizeof(float), std::nanf(""));
    kiln::packed::depthwise(p, x.data(), w.data(), bias.data(), got.data(), scratch.data());
    for (std::size_t i = 0; i < want.size(); ++i) REQUIRE(got[i] == doctest::Approx(want[i]).epsilon(1e-4).scale(1));
  }
}

TEST_CASE("packed float conv equals the reference conv") {
  lcg rng{1};
  int small_plane_cases = 0, by_column_cases = 0, by_phase_cases = 0, vector_row_cases = 0;
  for (const auto& g : geometries()) {
    CAPTURE(describe(g));
    const auto p = make_geometry<kiln::conv_params>(g);
    if (kiln::packed::direct_geometry(p)) {
      ++(kiln::packed::direct_by_column(p) ? by_column_cases : by_phase_cases);
      vector_row_cases += p.out[2] % kiln::packed::direct_vector == 0;
    }
    const index_t cin_g = g.c / g.group, k = cin_g * g.kh * g.kw;
    const index_t out_plane = p.out[1] * p.out[2];
    std::vector<float> x(static_cast<std::size_t>(g.c * g.h * g.w)), w(static_cast<std::size_t>(g.m * k)),
        bias(static_cast<std::size_t>(g.m));
    for (auto& v : x) v = rng.uniform();
    for (auto& v : w) v = rng.uniform();
    for (auto& v : bias) v = rng.uniform();
    for (auto act : {kiln::activation{kiln::act_kind::none, 0, 0}, kiln::activation{kiln::act_kind::relu, 0, 0}}) {
      auto q = p;
      q.act = act;
      std::vector<float> want(static_cast<std::size_t>(g.m * out_plane)), got(want.size(), -99.f);
      kiln::conv<float>(q, x.data(), w.data(), bias.data(), want.data());
      std::vector<float> packed(kiln::packed::conv_weight_count(g.m, g.group, k, 1));
      kiln::packed::pack_conv_weights(w.data(), g.m, g.group, k, 1, packed.data(), [](float v) { return v; });
      // Stale scratch (as in a reused arena): a kept output that reads any of it unwritten is NaN.
      arena_scratch panel = nan_scratch(kiln::packed::conv_scratch_bytes(q));
      kiln::packed::conv(q, x.data(), packed.data(), bias.data(), got.data(), panel.data());
      for (std::size_t i = 0; i < want.size(); ++i) REQUIRE(got[i] == doctest::Approx(want[i]).epsilon(1e-4).scale(1));
      REQUIRE(panel.guard_intact());
      if (kiln::packed::conv1x1_small_plane_applies(q)) {  // the same layer with the roles swapped
        std::vector<float> dense(kiln::packed::dense_weight_count(g.m, g.c));
        kiln::packed::pack_dense_weights(w.data(), g.m, g.c, 1, g.c, dense.data());
        std::fill(got.begin(), got.end(), -99.f);
        kiln::packed::conv1x1_small_plane(q, x.data(), dense.data(), bias.data(), got.data());
        for (std::size_t i = 0; i < want.size(); ++i) REQUIRE(got[i] == doctest::Approx(want[i]).epsilon(1e-4).scale(1));
        ++small_plane_cases;
      }
    }
  }
  CHECK(small_plane_cases > 50);
  CHECK(by_column_cases >= 10);  // both float band layouts (packed/direct.hpp)
  CHECK(by_phase_cases >= 6);
  CHECK(vector_row_cases >= 3);
}

// F(M x M, 3 x 3) on planes of one tile up to several passes (bands of tile rows, up to
// winograd_band positions: 32x32 by 2x2 in two of 8 rows, 30x45 by 2x2 in bands of 4 rows and a
// last of 3; a row of 150 tiles, wider than a band), padding 0 to 2 (an output larger than the
// input) and padding after only, channel counts below, at and above conv_mr and a group of blocks, batches of 2 and a
// fused residual; each against the reference conv.
template <index_t M> void winograd_cases(lcg& rng) {
  const geometry shapes[] = {{1, 1, 1, 1, 1, 3, 3, 1, 1, 1},    {3, 5, 1, 3, 3, 3, 3, 1, 1, 1},
                             {16, 16, 1, 8, 8, 3, 3, 1, 1, 1},  {4, 18, 1, 5, 7, 3, 3, 1, 0, 1},
                             {20, 14, 1, 9, 9, 3, 3, 1, 2, 1},  {5, 9, 1, 13, 11, 3, 3, 1, 1, 1},
                             {8, 4, 1, 32, 32, 3, 3, 1, 1, 1},  {6, 7, 1, 30, 45, 3, 3, 1, 1, 1},
                             {2, 3, 1, 4, 40, 3, 3, 1, 1, 1},   {2, 5, 1, 3, 600, 3, 3, 1, 1, 1}};
  int cases = 0;
  for (const auto& g : shapes) {
    auto p = make_geometry<kiln::conv_params>(g);
    p.batch = ++cases % 2 == 0 ? 2 : 1;
    if (cases == 6) {  // TF's SAME_UPPER: no padding before, one after (13x11 in, 12x10 out)
      p.pad[1] = p.pad[2] = 0;
      p.out[1] = g.h - 1;
      p.out[2] = g.w - 1;
    }
    CAPTURE(describe(g));
    CAPTURE(M);
    REQUIRE(kiln::packed::winograd_applies(p));
    const std::size_t out_count = static_cast<std::size_t>(p.batch * g.m * p.out[1] * p.out[2]);
    std::vector<float> x(static_cast<std::size_t>(p.batch * g.c * g.h * g.w)), w(static_cast<std::size_t>(g.m * g.c * 9)),
        bias(static_cast<std::size_t>(g.m)), residual(out_count), plain(out_count);
    for (auto& v : x) v = rng.uniform();
    for (auto& v : w) v = rng.uniform();
    for (auto& v : bias) v = rng.uniform();
    for (auto& v : residual) v = 4.f * rng.uniform();
    kiln::conv<float>(p, x.data(), w.data(), bias.data(), plain.data());
    std::vector<float> u(kiln::packed::winograd_weight_count<M>(g.m, g.c), std::nanf(""));
    kiln::packed::pack_winograd_weights<M>(w.data(), g.m, g.c, u.data());
    for (bool with_residual : {false, true})
      for (auto act : {kiln::activation{kiln::act_kind::none, 0, 0}, kiln::activation{kiln::act_kind::relu, 0, 0},
                       kiln::activation{kiln::act_kind::clip, -0.5f, 1.5f}}) {
        CAPTURE(with_residual);
        auto q = p;
        q.act = act;
        std::vector<float> got(out_count, -99.f);
        // Stale scratch (as in a reused arena): a kept output that reads any of it unwritten is NaN.
        std::vector<float> scratch(kiln::packed::winograd_scratch_bytes<M>(q) / sizeof(float), std::nanf(""));
        if (with_residual)
          kiln::packed::conv_winograd_residual<M>(q, x.data(), u.data(), bias.data(), residual.data(), got.data(),
                                                  scratch.data());
        else kiln::packed::conv_winograd<M>(q, x.data(), u.data(), bias.data(), got.data(), scratch.data());
        for (std::size_t i = 0; i < out_count; ++i) {
          const float want = kiln::activate(act, with_residual ? plain[i] + residual[i] : plain[i]);
          CAPTURE(i);
          REQUIRE(got[i] == doctest::Approx(want).epsilon(1e-4).scale(1));
        }
      }
  }
}

TEST_CASE("Winograd convs equal the reference conv") {
  lcg rng{5};
  winograd_cases<2>(rng);
  winograd_cases<4>(rng);
}

TEST_CASE("a conv with a fused residual equals the conv, then the add, then the activation") {
  lcg rng{3};
  int small_plane_cases = 0, cases = 0;
  for (const auto& g : geometries()) {
    auto p = make_geometry<kiln::conv_params>(g);
    p.batch = ++cases % 3 == 0 ? 2 : 1;  // the residual's batch offset too
    CAPTURE(describe(g));
    CAPTURE(p.batch);
    const index_t cin_g = g.c / g.group, k = cin_g * g.kh * g.kw;
    const std::size_t out_count = static_cast<std::size_t>(p.batch * g.m * p.out[1] * p.out[2]);
    std::vector<float> x(static_cast<std::size_t>(p.batch * g.c * g.h * g.w)), w(static_cast<std::size_t>(g.m * k)),
        bias(static_cast<std::size_t>(g.m)), residual(out_count), plain(out_count);
    for (auto& v : x) v = rng.uniform();
    for (auto& v : w) v = rng.uniform();
    for (auto& v : bias) v = rng.uniform();
    for (auto& v : residual) v = 4.f * rng.uniform();  // flips the sign of many sums: relu after the add matters
    kiln::conv<float>(p, x.data(), w.data(), bias.data(), plain.data());  // no activation
    std::vector<float> packed(kiln::packed::conv_weight_count(g.m, g.group, k, 1));
    kiln::packed::pack_conv_weights(w.data(), g.m, g.group, k, 1, packed.data(), [](float v) { return v; });
    for (auto act : {kiln::activation{kiln::act_kind::none, 0, 0}, kiln::activation{kiln::act_kind::relu, 0, 0},
                     kiln::activation{kiln::act_kind::clip, -0.5f, 1.5f}}) {
      auto q = p;
      q.act = act;
      std::vector<float> want(out_count), got(out_count, -99.f);
      for (std::size_t i = 0; i < out_count; ++i) want[i] = kiln::activate(act, plain[i] + residual[i]);
      const auto expect_want = [&] {
        for (std::size_t i = 0; i < out_count; ++i) REQUIRE(got[i] == doctest::Approx(want[i]).epsilon(1e-4).scale(1));
      };
      kiln::conv_residual<float>(q, x.data(), w.data(), bias.data(), residual.data(), got.data());
      expect_want();
      std::fill(got.begin(), got.end(), -99.f);
      arena_scratch scratch = nan_scratch(kiln::packed::conv_scratch_bytes(q));
      kiln::packed::conv_residual(q, x.data(), packed.data(), bias.data(), residual.data(), got.data(),
                                  scratch.data());
      expect_want();
      REQUIRE(scratch.guard_intact());
      if (kiln::packed::conv1x1_small_plane_applies(q)) {
        std::vector<float> dense(kiln::packed::dense_weight_count(g.m, g.c));
        kiln::packed::pack_dense_weights(w.data(), g.m, g.c, 1, g.c, dense.data());
        std::fill(got.begin(), got.end(), -99.f);
        kiln::packed::conv1x1_small_plane_residual(q, x.data(), dense.data(), bias.data(), residual.data(), got.data());
        expect_want();
        ++small_plane_cases;
      }
    }
  }
  CHECK(small_plane_cases > 50);
}

template <class X, class W, class Y> void check_qconv(bool per_channel, bool weight_zero_points, bool depthwise) {
  lcg rng{7};
  int small_plane_cases = 0, padded_plane_cases = 0, unpadded_panel_cases = 0, window_1x1_cases = 0;
  int plane_quad_cases = 0;
  std::vector<geometry> gs = geometries();
  if (depthwise) gs = depthwise_geometries();
  for (const auto& g : gs) {
    CAPTURE(describe(g));
    auto p = make_geometry<kiln::qconv_params>(g);
    const index_t cin_g = g.c / g.group, k = cin_g * g.kh * g.kw;
    const index_t out_plane = p.out[1] * p.out[2];
    p.w_zp_count = per_channel ? g.m : 1;
    p.rq_count = per_channel ? g.m : 1;
    auto rand_of = [&](auto tag) {
      using T = decltype(tag);
      return static_cast<T>(rng.range(std::numeric_limits<T>::min(), std::numeric_limits<T>::max()));
    };
    std::vector<X> x(static_cast<std::size_t>(g.c * g.h * g.w));
    std::vector<W> w(static_cast<std::size_t>(g.m * k)), w_zp(static_cast<std::size_t>(p.w_zp_count));
    std::vector<std::int32_t> bias(static_cast<std::size_t>(g.m));
    std::vector<float> scale(static_cast<std::size_t>(p.rq_count));
    for (auto& v : x) v = rand_of(X{});
    for (auto& v : w) v = rand_of(W{});
    for (auto& v : w_zp) v = weight_zero_points ? rand_of(W{}) : W(std::is_signed_v<W> ? 0 : 128);
    for (auto& v : bias) v = rng.range(-5000, 5000);
    for (auto& v : scale) v = 0.0005f + 0.002f * (rng.uniform() + 1.f) / static_cast<float>(k);
    const X x_zp = rand_of(X{});
    const Y y_zp = rand_of(Y{});
    std::vector<Y> want(static_cast<std::size_t>(g.m * out_plane)), got(want.size());
    kiln::qlinear_conv(p, x.data(), &x_zp, w.data(), w_zp.data(), scale.data(), bias.data(), &y_zp, want.data());
    if (depthwise) {
      REQUIRE(kiln::packed::depthwise_applies(p));
      // Stale scratch (as in a reused arena): a kernel reading any of it unwritten overflows.
      std::vector<std::int32_t> acc(kiln::packed::depthwise_scratch_bytes(p) / 4, 0x3fffffff);
      kiln::packed::qlinear_depthwise(p, x.data(), &x_zp, w.data(), w_zp.data(), scale.data(), bias.data(), &y_zp,
                                      got.data(), acc.data());
    } else {
      std::vector<std::int8_t> packed(kiln::packed::qconv_weight_count(p));
      std::vector<std::int32_t> zp(static_cast<std::size_t>(p.w_zp_count)), folded(static_cast<std::size_t>(g.m));
      const bool any = kiln::packed::prepare_qconv(w.data(), w_zp.data(), p.w_zp_count, bias.data(), x_zp,
                                                  std::is_signed_v<X>, g.m, g.group, k, packed.data(), zp.data(),
                                                  folded.data(), kiln::packed::qconv_channel_quad_taps(p));
      CHECK(any == weight_zero_points);
      if (!kiln::packed::qconv_direct(p) && !kiln::packed::detail::is_pointwise(p))
        ++(kiln::packed::detail::is_window_1x1_2d(p)      ? window_1x1_cases
           : kiln::packed::detail::quads_from_planes(p)       ? plane_quad_cases
           : kiln::packed::detail::pack_from_padded_planes(p) ? padded_plane_cases
                                                              : unpadded_panel_cases);
      arena_scratch panel(kiln::packed::qconv_scratch_bytes(p), 0xab);
      kiln::packed::qlinear_conv(p, x.data(), &x_zp, packed.data(), any ? zp.data() : nullptr, scale.data(),
                                 folded.data(), &y_zp, got.data(), panel.data());
      REQUIRE(panel.guard_intact());
      if (kiln::packed::qlinear_conv1x1_small_plane_applies(p)) {  // the same layer as a QGemm of positions
        for (std::size_t i = 0; i < want.size(); ++i) REQUIRE(+got[i] == +want[i]);
        kiln::qgemm_params q{out_plane, g.m, k, true, true, 0, 0, p.w_zp_count, p.rq_count};
        std::vector<std::int8_t> dense(kiln::packed::qdense_weight_count(g.m, k));
        const bool dense_any = kiln::packed::prepare_qdense(w.data(), g.m, k, 1, k, w_zp.data(), p.w_zp_count,
                                                            bias.data(), 1, x_zp, std::is_signed_v<X>, dense.data(),
                                                            zp.data(), folded.data());
        CHECK(dense_any == weight_zero_points);
        std::vector<std::uint8_t> rows(kiln::packed::qdense_scratch_bytes(q.m, q.k), 0xab);  // stale scratch
        std::fill(got.begin(), got.end(), Y(0));
        kiln::packed::qlinear_conv1x1_small_plane(q, x.data(), dense.data(), dense_any ? zp.data() : nullptr,
                                                  folded.data(), scale.data(), &y_zp, got.data(), rows.data());
        ++small_plane_cases;
      }
    }
    for (std::size_t i = 0; i < want.size(); ++i) REQUIRE(+got[i] == +want[i]);
  }
  if (!depthwise) {
    CHECK(small_plane_cases > 25);
    CHECK(padded_plane_cases >= 4);
    CHECK(unpadded_panel_cases >= 1);
    CHECK(window_1x1_cases >= 5);
    CHECK(plane_quad_cases >= 3);
  }
}

TEST_CASE("packed QLinearConv equals the reference bit for bit") {
  SUBCASE("u8 x, s8 w, u8 y, per tensor") { check_qconv<std::uint8_t, std::int8_t, std::uint8_t>(false, false, false); }
  SUBCASE("s8 x, s8 w, s8 y, per channel") { check_qconv<std::int8_t, std::int8_t, std::int8_t>(true, false, false); }
  SUBCASE("u8 x, u8 w, u8 y, weight zero points") { check_qconv<std::uint8_t, std::uint8_t, std::uint8_t>(false, true, false); }
  SUBCASE("s8 x, s8 w, u8 y, per-channel weight zero points") { check_qconv<std::int8_t, std::int8_t, std::uint8_t>(true, true, false); }
  SUBCASE("depthwise u8") { check_qconv<std::uint8_t, std::int8_t, std::uint8_t>(true, false, true); }
  SUBCASE("depthwise s8 with weight zero points") { check_qconv<std::int8_t, std::int8_t, std::int8_t>(true, true, true); }
}

TEST_CASE("packed dense equals the reference gemm") {
  lcg rng{3};
  for (index_t m : {1, 2, 3, 4, 5, 7, 9, 13})  // row tiles of 1 to 4 (packed::detail::for_each_row_tile)
    for (index_t n : {1, 10, 16, 17, 48, 63, 64, 65, 130})
      for (index_t k : {1, 7, 64})
        for (bool trans_a : {false, true})
          for (bool trans_b : {false, true}) {
            CAPTURE(m);
            CAPTURE(n);
            CAPTURE(k);
            CAPTURE(trans_a);
            CAPTURE(trans_b);
            kiln::gemm_params p{m, n, k, trans_a, trans_b, 0.5, 2.0, 0, 1, {kiln::act_kind::relu, 0, 0}};
            std::vector<float> a(static_cast<std::size_t>(m * k)), b(static_cast<std::size_t>(k * n)),
                c(static_cast<std::size_t>(n));
            for (auto& v : a) v = rng.uniform();
            for (auto& v : b) v = rng.uniform();
            for (auto& v : c) v = rng.uniform();
            std::vector<float> want(static_cast<std::size_t>(m * n)), got(want.size());
            kiln::gemm<float>(p, a.data(), b.data(), c.data(), want.data());
            std::vector<float> packed(kiln::packed::dense_weight_count(n, k));
            kiln::packed::pack_dense_weights(b.data(), n, k, trans_b ? 1 : n, trans_b ? k : 1, packed.data());
            kiln::packed::dense(p, a.data(), packed.data(), c.data(), got.data());
            for (std::size_t i = 0; i < want.size(); ++i) REQUIRE(got[i] == doctest::Approx(want[i]).epsilon(1e-4).scale(1));
          }
}

TEST_CASE("the architecture's requantization equals the integer-only emulation") {
  lcg rng{11};
  auto check = [](std::int32_t acc, float scale, std::int32_t zp, std::int32_t lo, std::int32_t hi) {
    const auto rq = kiln::requant_from_float(scale);
    CAPTURE(acc);
    CAPTURE(scale);
    REQUIRE(kiln::arch::active::requantize_saturate(acc, scale, rq, zp, lo, hi) ==
            kiln::requantize_saturate(acc, rq, zp, lo, hi));
  };
  // Ties: odd accumulators times 1/2, 1/4 and 3/2 land exactly on .5 values.
  for (std::int32_t acc = -1001; acc <= 1001; acc += 2)
    for (float s : {0.5f, 0.25f, 1.5f, -0.5f}) check(acc, s, 3, -128, 127);
  // Random accumulators and scales over many magnitudes, int8/uint8/int32 output ranges.
  for (int i = 0; i < 200000; ++i) {
    const std::int32_t acc = static_cast<std::int32_t>(rng.next());
    const float scale = std::ldexp(rng.uniform() + 1.5f, rng.range(-60, 10));
    check(acc >> rng.range(0, 31), scale, rng.range(-128, 255), -128, 127);
    check(acc >> rng.range(0, 31), scale, 0, std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max());
  }
  check(std::numeric_limits<std::int32_t>::min(), 1e30f, 0, -128, 127);  // float32 overflow saturates
  check(7, 1e-40f, 0, -128, 127);                                        // subnormal scale
}

TEST_CASE("the architecture's row requantization equals the integer-only emulation") {
  lcg rng{13};
  std::vector<std::int32_t> acc(67);
  std::vector<std::uint8_t> got_u(acc.size()), want_u(acc.size());
  std::vector<std::int8_t> got_s(acc.size()), want_s(acc.size());
  for (int round = 0; round < 3000; ++round) {
    const float scale = std::ldexp(rng.uniform() + 1.5f, rng.range(-40, 2));
    for (auto& v : acc) v = static_cast<std::int32_t>(rng.next()) >> rng.range(0, 31);
    if (round % 3 == 0)  // ties: odd values times a power-of-two half
      for (auto& v : acc) v = (v | 1) % 4001;
    const float s = round % 3 == 0 ? 0.5f : scale;
    const auto rq = kiln::requant_from_float(s);
    const auto n = static_cast<index_t>(rng.range(1, static_cast<int>(acc.size())));
    const std::int32_t zu = rng.range(0, 255), zs = rng.range(-128, 127);
    kiln::arch::active::requantize_row(acc.data(), n, s, rq, zu, got_u.data());
    kiln::arch::active::requantize_row(acc.data(), n, s, rq, zs, got_s.data());
    for (index_t i = 0; i < n; ++i) {
      CAPTURE(acc[static_cast<std::size_t>(i)]);
      CAPTURE(s);
      REQUIRE(+got_u[static_cast<std::size_t>(i)] == kiln::requantize_saturate(acc[static_cast<std::size_t>(i)], rq, zu, 0, 255));
      REQUIRE(+got_s[static_cast<std::size_t>(i)] == kiln::requantize_saturate(acc[static_cast<std::size_t>(i)], rq, zs, -128, 127));
    }
  }
}

// requantize_lanes: one scale per lane, the lanes' blocks in place of a row; 8- and 16-bit outputs.
template <class Y> void check_lane_requantization(lcg& rng) {
  constexpr index_t L = kiln::arch::generic::depthwise_lanes, count = 5;
  std::vector<std::int32_t> acc(static_cast<std::size_t>(L * count));
  std::vector<Y> got(acc.size());
  float scale[L];
  kiln::requant_params rq[L];
  for (int round = 0; round < 500; ++round) {
    for (index_t l = 0; l < L; ++l) {
      // Up to 40: a product past int32's range must saturate (scales of 1 and more take the
      // float clamp, smaller ones the saturating narrow on AVX-512).
      scale[l] = round % 4 == 0 ? 0.5f : std::ldexp(rng.uniform() + 1.5f, rng.range(-30, 4));
      rq[l] = kiln::requant_from_float(scale[l]);
    }
    for (auto& v : acc) v = static_cast<std::int32_t>(rng.next()) >> rng.range(0, 31);
    if (round % 4 == 0)
      for (auto& v : acc) v = (v | 1) % 4001;  // ties
    const std::int32_t zp = rng.range(std::numeric_limits<Y>::min(), std::numeric_limits<Y>::max());
    kiln::arch::active::requantize_lanes(acc.data(), count, scale, rq, zp, got.data());
    for (std::size_t i = 0; i < acc.size(); ++i) {
      CAPTURE(acc[i]);
      CAPTURE(scale[i % L]);
      REQUIRE(+got[i] == kiln::requantize_saturate(acc[i], rq[i % L], zp, std::numeric_limits<Y>::min(),
                                                   std::numeric_limits<Y>::max()));
    }
  }
}

TEST_CASE("the architecture's lane requantization equals the integer-only emulation") {
  lcg rng{19};
  SUBCASE("uint8") { check_lane_requantization<std::uint8_t>(rng); }
  SUBCASE("int8") { check_lane_requantization<std::int8_t>(rng); }
  SUBCASE("int16") { check_lane_requantization<std::int16_t>(rng); }
  SUBCASE("uint16") { check_lane_requantization<std::uint16_t>(rng); }
}

// requantize_tile (the int8 conv tile's epilogue): rows of accumulators through the offsets
// bias[r] - wz[r] * colsum[j] and a scale per row, against add_column_term + the integer-only
// emulation; tile widths of the 8-, 16- and 32-column tiles, every kept width and row count, rows
// written out_stride apart and nothing written past a row's width.
template <index_t TW, class Y> void check_tile_requantization(lcg& rng) {
  constexpr index_t MR = 4, stride = TW + 3;
  std::vector<std::int32_t> acc(static_cast<std::size_t>(MR * TW)), colsum(static_cast<std::size_t>(TW));
  std::int32_t bias[MR], wz[MR];
  float scale[MR];
  kiln::requant_params rq[MR];
  for (int round = 0; round < 40; ++round)
    for (index_t rows = 1; rows <= MR; ++rows)
      for (index_t n = 1; n <= TW; ++n) {
        for (index_t r = 0; r < MR; ++r) {
          scale[r] = round % 4 == 0 ? 0.5f : std::ldexp(rng.uniform() + 1.5f, rng.range(-24, 4));  // as the lanes'
          rq[r] = kiln::requant_from_float(scale[r]);
          bias[r] = rng.range(-100000, 100000);
          wz[r] = round % 2 ? rng.range(-128, 127) : 0;
        }
        for (auto& v : acc) v = static_cast<std::int32_t>(rng.next()) >> rng.range(2, 31);  // room for the offsets
        if (round % 4 == 0)
          for (auto& v : acc) v = (v | 1) % 4001;  // ties (with an even bias and no column term)
        if (round % 4 == 0)
          for (auto& b : bias) b &= ~1;
        for (auto& v : colsum) v = round % 2 ? rng.range(0, 255 * 64) : 0;
        const std::int32_t zp = rng.range(std::numeric_limits<Y>::min(), std::numeric_limits<Y>::max());
        std::vector<Y> got(static_cast<std::size_t>(MR * stride), Y(42));
        auto c = acc;
        kiln::arch::active::requantize_tile<TW>(c.data(), rows, n, bias, wz, colsum.data(), scale, rq, zp, got.data(),
                                                stride);
        for (index_t r = 0; r < MR; ++r)
          for (index_t j = 0; j < stride; ++j) {
            const Y g = got[static_cast<std::size_t>(r * stride + j)];
            if (r >= rows || j >= n) {
              REQUIRE(g == Y(42));
              continue;
            }
            const std::int32_t sum = acc[static_cast<std::size_t>(r * TW + j)] + (bias[r] - wz[r] * colsum[static_cast<std::size_t>(j)]);
            CAPTURE(sum);
            CAPTURE(scale[r]);
            REQUIRE(+g == kiln::requantize_saturate(sum, rq[r], zp, std::numeric_limits<Y>::min(),
                                                    std::numeric_limits<Y>::max()));
          }
      }
}

TEST_CASE("the architecture's tile requantization equals the column term and the integer-only emulation") {
  lcg rng{23};
  SUBCASE("uint8, 32 wide") { check_tile_requantization<32, std::uint8_t>(rng); }
  SUBCASE("int8, 16 wide") { check_tile_requantization<16, std::int8_t>(rng); }
  SUBCASE("uint8, 8 wide") { check_tile_requantization<8, std::uint8_t>(rng); }
  SUBCASE("int16, 16 wide") { check_tile_requantization<16, std::int16_t>(rng); }
  SUBCASE("int8, 12 wide (no vector blocks)") { check_tile_requantization<12, std::int8_t>(rng); }
}

// interleave_lanes (the depthwise lanes' input copy): the architecture's against the portable
// one, byte and float inputs, all 16 lanes and fewer, widths around the 8- and 16-column blocks.
template <class X, class A> void check_interleave(lcg& rng) {
  constexpr index_t L = kiln::arch::generic::depthwise_lanes, stride = 53;
  std::vector<X> x(static_cast<std::size_t>(L * stride));
  for (auto& v : x) v = static_cast<X>(rng.range(std::is_floating_point_v<X> ? -1000 : std::numeric_limits<X>::min(),
                                                 std::is_floating_point_v<X> ? 1000 : std::numeric_limits<X>::max()));
  for (index_t lanes : {index_t(16), index_t(5)})
    for (index_t width : {index_t(1), index_t(2), index_t(5), index_t(6), index_t(7), index_t(8), index_t(9), index_t(15), index_t(16), index_t(17), index_t(32), index_t(47)}) {
      CAPTURE(lanes);
      CAPTURE(width);
      std::vector<A> want(static_cast<std::size_t>(width * L), A(-7)), got = want;
      const A zp = static_cast<A>(rng.range(-20, 20));
      kiln::arch::generic::interleave_lanes(x.data(), stride, lanes, width, zp, want.data());
      kiln::arch::active::interleave_lanes(x.data(), stride, lanes, width, zp, got.data());
      for (std::size_t i = 0; i < want.size(); ++i) {
        CAPTURE(i);
        REQUIRE(got[i] == want[i]);
      }
    }
}

TEST_CASE("the architecture's lane interleave equals the portable one") {
  lcg rng{23};
  SUBCASE("uint8 to int32") { check_interleave<std::uint8_t, std::int32_t>(rng); }
  SUBCASE("int8 to int32") { check_interleave<std::int8_t, std::int32_t>(rng); }
  SUBCASE("float") { check_interleave<float, float>(rng); }
  SUBCASE("uint8 to uint8 (the lane quads' planar rows)") { check_interleave<std::uint8_t, std::uint8_t>(rng); }
  SUBCASE("int8 to uint8") { check_interleave<std::int8_t, std::uint8_t>(rng); }
}

// deinterleave_rows and interleave_rows (the Winograd split and its way back): the architecture's
// against the definition, every phase window a tile can have; the rows' entries beyond the
// window keep their fill.
template <index_t M, index_t P> void check_row_split(lcg& rng) {
  constexpr index_t stride = 21;  // not a multiple of a vector: the planes' pitch is whatever a band makes it
  std::vector<float> src(17 * M + 5), got(static_cast<std::size_t>((P + 1) * stride + 16), -7.f);
  for (auto& v : src) v = rng.uniform();
  kiln::arch::active::deinterleave_rows<M, P>(src.data() + 1, got.data(), stride);
  for (index_t k = 0; k <= P; ++k)
    for (index_t l = 0; l < stride; ++l) {
      CAPTURE(k);
      CAPTURE(l);
      const float want = k < P && l < 16 ? src[static_cast<std::size_t>(1 + l * M + k)] : -7.f;
      if (k * stride + l < static_cast<index_t>(got.size())) REQUIRE(got[static_cast<std::size_t>(k * stride + l)] == want);
    }
  std::vector<float> zipped(16 * M, -7.f);
  kiln::arch::active::interleave_rows<M>(got.data(), stride, zipped.data());
  for (index_t i = 0; i < 16 * M; ++i) REQUIRE(zipped[static_cast<std::size_t>(i)] == src[static_cast<std::size_t>(1 + i)]);
}

TEST_CASE("the architecture's row split into column phases equals its definition") {
  lcg rng{29};
  check_row_split<2, 2>(rng);
  check_row_split<2, 3>(rng);
  check_row_split<2, 4>(rng);
  check_row_split<4, 4>(rng);
  check_row_split<4, 6>(rng);
  check_row_split<4, 8>(rng);
}

// lane_quads and depthwise_lane_quads (int8 depthwise by dot products, where a target has them):
// the architecture's against their definitions. Rows whose quads reach past either end (the
// fill), dilations 1 to 3, both flips; position counts around the kernel's steps of 16, 4 and 1.
TEST_CASE("the architecture's lane quads equal their definition") {
  constexpr index_t L = kiln::arch::generic::depthwise_lanes;
  lcg rng{29};
  for (index_t width : {1, 3, 7, 20})
    for (index_t first : {-3, -1, 0, 2})
      for (index_t d : {1, 2, 3})
        for (index_t n : {1, 5, 24}) {
          CAPTURE(width);
          CAPTURE(first);
          CAPTURE(d);
          CAPTURE(n);
          std::vector<std::uint8_t> x(static_cast<std::size_t>(width * L));
          for (auto& v : x) v = static_cast<std::uint8_t>(rng.range(0, 255));
          const auto fill = static_cast<std::uint8_t>(rng.range(0, 255));
          const auto flip = static_cast<std::uint8_t>(n % 2 ? 0x80 : 0);
          std::vector<std::uint32_t> want(static_cast<std::size_t>(n * L + 3), 0xdeadbeef), got = want;
          kiln::arch::generic::lane_quads(x.data(), first, width, n, d, fill, flip, want.data());
          kiln::arch::active::lane_quads(x.data(), first, width, n, d, fill, flip, got.data());
          REQUIRE(got == want);
        }
  for (index_t steps : {1, 3, 6})
    for (index_t count : {1, 3, 4, 5, 16, 17, 21, 35}) {
      CAPTURE(steps);
      CAPTURE(count);
      std::vector<index_t> base(static_cast<std::size_t>(count)), off(static_cast<std::size_t>(steps));
      for (index_t j = 0; j < count; ++j) base[static_cast<std::size_t>(j)] = (j * 3 % 11) * L;
      for (index_t t = 0; t < steps; ++t) off[static_cast<std::size_t>(t)] = (5 * t + 2) * L;
      std::vector<std::uint32_t> x(static_cast<std::size_t>((11 + 5 * steps + 2) * L)), w(static_cast<std::size_t>(steps * L));
      for (auto& v : x) v = static_cast<std::uint32_t>(rng.next());
      for (auto& v : w) v = static_cast<std::uint32_t>(rng.next());
      std::vector<std::int32_t> bias(L);
      for (auto& v : bias) v = rng.range(-100000, 100000);
      std::vector<std::int32_t> want(static_cast<std::size_t>(count * L), 7), got = want;
      kiln::arch::generic::depthwise_lane_quads(count, base.data(), steps, w.data(), off.data(), x.data(), bias.data(),
                                                want.data());
      kiln::arch::active::depthwise_lane_quads(count, base.data(), steps, w.data(), off.data(), x.data(), bias.data(),
                                               got.data());
      REQUIRE(got == want);
    }
}

// deinterleave_lanes (the depthwise lanes' output copy): the architecture's against the portable
// one, all 16 lanes and fewer, position counts around the 8- and 16-position blocks; nothing outside a
// lane's `count` outputs is written.
template <class Y> void check_deinterleave(lcg& rng) {
  constexpr index_t L = kiln::arch::generic::depthwise_lanes, stride = 53;
  for (index_t lanes : {index_t(16), index_t(5)})
    for (index_t count : {index_t(1), index_t(5), index_t(7), index_t(8), index_t(9), index_t(15), index_t(16), index_t(17), index_t(32), index_t(47)}) {
      CAPTURE(lanes);
      CAPTURE(count);
      std::vector<Y> q(static_cast<std::size_t>(count * L));
      for (auto& v : q)
        v = static_cast<Y>(std::is_floating_point_v<Y> ? rng.range(-1000, 1000)
                                                       : rng.range(std::numeric_limits<Y>::min(), std::numeric_limits<Y>::max()));
      std::vector<Y> want(static_cast<std::size_t>(L * stride), Y(7)), got = want;
      kiln::arch::generic::deinterleave_lanes(q.data(), count, lanes, want.data(), stride);
      kiln::arch::active::deinterleave_lanes(q.data(), count, lanes, got.data(), stride);
      for (std::size_t i = 0; i < want.size(); ++i) {
        CAPTURE(i);
        REQUIRE(+got[i] == +want[i]);
      }
    }
}

TEST_CASE("the architecture's row interleave equals its definition") {
  std::vector<float> src(4 * 20);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) + 0.5f;
  const auto check = [&](auto m) {
    constexpr index_t M = decltype(m)::value;
    std::vector<float> got(16 * M + 1, -1.f);
    kiln::arch::active::interleave_rows<M>(src.data(), 20, got.data());
    for (index_t l = 0; l < 16; ++l)
      for (index_t k = 0; k < M; ++k) CHECK(got[static_cast<std::size_t>(l * M + k)] == src[static_cast<std::size_t>(k * 20 + l)]);
    CHECK(got[16 * M] == -1.f);  // nothing past the rows
  };
  check(std::integral_constant<index_t, 2>{});
  check(std::integral_constant<index_t, 4>{});
}

TEST_CASE("the architecture's row deinterleave equals its definition") {
  std::vector<float> src(4 * 16);
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i) + 0.5f;
  const auto check = [&](auto m) {
    constexpr index_t M = decltype(m)::value;
    std::vector<float> got(static_cast<std::size_t>(M * 20), -1.f);
    kiln::arch::active::deinterleave_rows<M>(src.data(), got.data(), 20);
    for (index_t k = 0; k < M; ++k) {
      for (index_t l = 0; l < 16; ++l) CHECK(got[static_cast<std::size_t>(k * 20 + l)] == src[static_cast<std::size_t>(l * M + k)]);
      for (index_t l = 16; l < 20; ++l) CHECK(got[static_cast<std::size_t>(k * 20 + l)] == -1.f);  // only 16 a row
    }
  };
  check(std::integral_constant<index_t, 2>{});
  check(std::integral_constant<index_t, 4>{});
}

TEST_CASE("the architecture's lane deinterleave equals the portable one") {
  lcg rng{29};
  SUBCASE("uint8") { check_deinterleave<std::uint8_t>(rng); }
  SUBCASE("int8") { check_deinterleave<std::int8_t>(rng); }
  SUBCASE("int16") { check_deinterleave<std::int16_t>(rng); }
  SUBCASE("float") { check_deinterleave<float>(rng); }
}

// depthwise_taps on floats (the per-channel wide plane, packed/depthwise.hpp) against the
// portable loop: offsets of 3x3 windows at stride 1 (in kernel-row runs, which AVX-512 takes by
// lane shifts) on pitches around a vector, at stride 2 and with dilation (no runs), and a run
// broken in its middle; counts below, at and past the 1- and 8-vector blocks. The input holds
// exactly the entries the taps read, so a read past them is out of the vector's bounds (and the
// sanitizer build's), and its entries are values, not zeros, that a wrong shift would pick up.
TEST_CASE("the architecture's float depthwise taps equal the portable ones") {
  lcg rng{41};
  const auto window = [](index_t wq, index_t s, index_t d, index_t phase) {
    std::vector<index_t> off;
    for (index_t r = 0; r < 3; ++r)
      for (index_t c = 0; c < 3; ++c) off.push_back((c * d % s) * phase + r * d * wq + c * d / s);
    return off;
  };
  std::vector<std::vector<index_t>> offsets;
  for (index_t wq : {3, 15, 16, 17, 50}) offsets.push_back(window(wq, 1, 1, 0));
  offsets.push_back(window(25, 2, 1, 26 * 25));
  offsets.push_back(window(20, 1, 2, 0));
  offsets.push_back({0, 1, 2, 40, 42, 43, 80, 81, 82});
  const index_t counts[] = {1, 5, 15, 16, 17, 31, 127, 128, 129, 143, 144, 255, 256, 300, 2398};
  for (const auto& off : offsets)
    for (index_t n : counts) {
      CAPTURE(off[1]);
      CAPTURE(off[3]);
      CAPTURE(n);
      const auto taps = static_cast<index_t>(off.size());
      const index_t reach = *std::max_element(off.begin(), off.end());
      std::vector<float> x(static_cast<std::size_t>(reach + n)), w(off.size());
      for (auto& v : x) v = rng.uniform();
      for (auto& v : w) v = rng.uniform();
      for (bool accumulate : {false, true}) {
        CAPTURE(accumulate);
        std::vector<float> want(static_cast<std::size_t>(n));
        for (auto& v : want) v = rng.uniform();
        auto got = want;
        kiln::arch::generic::depthwise_taps(n, taps, w.data(), off.data(), x.data(), 0.25f, accumulate, want.data());
        kiln::arch::active::depthwise_taps(n, taps, w.data(), off.data(), x.data(), 0.25f, accumulate, got.data());
        for (index_t i = 0; i < n; ++i) {
          CAPTURE(i);
          REQUIRE(got[static_cast<std::size_t>(i)] == doctest::Approx(want[static_cast<std::size_t>(i)]).epsilon(1e-5));
        }
      }
    }
}

// strided_rows (a direct conv's band rows, packed/direct.hpp) against its definition: strides 1
// to 3, rows starting before, at and past the input's first column, widths and row lengths around
// the 8- and 16-column vectors. The input holds exactly the rows read (so a read past a row's
// last element lands in the next row's guard values, a wrong value) and nothing outside each
// output row's n columns is written.
TEST_CASE("the architecture's strided rows equal their definition") {
  lcg rng{29};
  constexpr float guard = 1e9f, untouched = -7.f;
  const index_t widths[] = {1, 5, 8, 15, 16, 17, 31, 32, 33, 49};
  const index_t lengths[] = {1, 5, 8, 15, 16, 17, 25, 31, 33, 40};
  for (index_t s : {index_t(1), index_t(2), index_t(3)})
    for (index_t first : {index_t(-3), index_t(-1), index_t(0), index_t(1), index_t(2)})
      for (index_t width : widths)
        for (index_t n : lengths) {
          CAPTURE(s);
          CAPTURE(first);
          CAPTURE(width);
          CAPTURE(n);
          constexpr index_t count = 3, gap = 2;  // input rows width + gap apart, guard values between
          const index_t x_stride = width + gap, dst_stride = n + 3;
          std::vector<float> x(static_cast<std::size_t>((count - 1) * x_stride + width), guard);
          for (index_t r = 0; r < count; ++r)
            for (index_t c = 0; c < width; ++c) x[static_cast<std::size_t>(r * x_stride + c)] = rng.uniform();
          std::vector<float> got(static_cast<std::size_t>(count * dst_stride), untouched);
          kiln::arch::active::strided_rows(got.data(), dst_stride, count, n, x.data(), x_stride, width, first, s);
          for (index_t r = 0; r < count; ++r)
            for (index_t q = 0; q < dst_stride; ++q) {
              CAPTURE(r);
              CAPTURE(q);
              const index_t c = first + q * s;
              const float want = q >= n ? untouched : c >= 0 && c < width ? x[static_cast<std::size_t>(r * x_stride + c)] : 0.f;
              REQUIRE(got[static_cast<std::size_t>(r * dst_stride + q)] == want);
            }
        }
}

// strided_quad_rows (an int8 direct conv's band of channel quads) against its definition, as
// above, for int8 (offset 128) and uint8 (offset 0) activations, four channels and fewer (a null
// row: a channel past the last, read as its pad).
template <class X> void check_strided_quads(lcg& rng, std::int32_t offset) {
  const index_t widths[] = {1, 5, 15, 16, 17, 31, 32, 33, 49};
  const index_t lengths[] = {1, 5, 15, 16, 17, 25, 33, 40};
  for (index_t channels : {index_t(4), index_t(3), index_t(1)})
    for (index_t s : {index_t(1), index_t(2), index_t(3)})
      for (index_t first : {index_t(-3), index_t(-1), index_t(0), index_t(1), index_t(2)})
        for (index_t width : widths)
          for (index_t n : lengths) {
            CAPTURE(channels);
            CAPTURE(s);
            CAPTURE(first);
            CAPTURE(width);
            CAPTURE(n);
            constexpr index_t count = 3, gap = 2;
            constexpr std::uint8_t untouched = 0x5a;
            const index_t x_stride = width + gap, dst_stride = 4 * n + 5;
            std::vector<std::vector<X>> planes(4);
            const X* x[4] = {};
            std::uint8_t pad[4] = {};
            for (index_t k = 0; k < 4; ++k) {
              auto& v = planes[static_cast<std::size_t>(k)];
              v.assign(static_cast<std::size_t>((count - 1) * x_stride + width), X(0));
              for (auto& e : v) e = static_cast<X>(rng.range(std::numeric_limits<X>::min(), std::numeric_limits<X>::max()));
              if (k < channels) x[k] = v.data();
              pad[k] = k < channels ? static_cast<std::uint8_t>(rng.range(0, 255)) : 0;
            }
            std::vector<std::uint8_t> got(static_cast<std::size_t>(count * dst_stride), untouched);
            kiln::arch::active::strided_quad_rows(got.data(), dst_stride, count, n, x, x_stride, width, first, s, pad,
                                                  offset);
            for (index_t r = 0; r < count; ++r)
              for (index_t b = 0; b < dst_stride; ++b) {
                CAPTURE(r);
                CAPTURE(b);
                const index_t q = b / 4, k = b % 4, c = first + q * s;
                std::uint8_t want = untouched;
                if (q < n)
                  want = x[k] && c >= 0 && c < width
                             ? static_cast<std::uint8_t>(static_cast<std::int32_t>(x[k][r * x_stride + c]) + offset)
                             : pad[k];
                REQUIRE(+got[static_cast<std::size_t>(r * dst_stride + b)] == +want);
              }
          }
}

TEST_CASE("the architecture's strided quad rows equal their definition") {
  lcg rng{31};
  SUBCASE("int8") { check_strided_quads<std::int8_t>(rng, 128); }
  SUBCASE("uint8") { check_strided_quads<std::uint8_t>(rng, 0); }
}
