// The architecture tiles on the target, against the portable ones (arch/generic) that the host
// tests check against the reference kernels. On a Cortex-M with the DSP extension these are the
// real instructions (__smlad, __smlatb, LDRD, VFMA): the int8 window tile quad by quad, the
// panel tile, the dense (QGemm) tile on split rows, the int8 depthwise taps on int16 planes (3x3
// rows at stride 1 and 2, other plans, accumulating groups), the 2-column int8 tile's
// requantization, and the FPU's float kernels (panel and window tiles, the channel-blocked
// pointwise tile, depthwise taps on wide planes and on lanes), at sizes below, at and above the
// tiles', with the edges the models in the zoo do not reach. Integers must be equal; float sums
// may differ by rounding only (fused multiply-adds): |got - want| <= 1e-5 (1 + sum |terms|).
// qemu's exit status is the number of mismatches (0: pass).
#include <kiln/arch/dispatch.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>

#include "semihost.hpp"

namespace {

using kiln::index_t;
namespace active = kiln::arch::active;
namespace generic = kiln::arch::generic;

struct lcg {
  std::uint32_t s;
  std::uint32_t next() { return s = s * 1664525u + 1013904223u; }
  int range(int lo, int hi) { return lo + static_cast<int>((next() >> 8) % static_cast<std::uint32_t>(hi - lo + 1)); }
  float unit() { return static_cast<float>(range(-1000, 1000)) / 1000.f; }
};

int failures = 0;
lcg rng{12345};

void fail(const char* what, long a, long b, long c) {
  if (++failures > 20) return;
  kiln_fw::print("FAIL ");
  kiln_fw::print(what);
  for (long v : {a, b, c}) {
    kiln_fw::print(" ");
    kiln_fw::print_int(v);
  }
  kiln_fw::print("\n");
}

bool close(float got, float want, float magnitude) {
  return std::fabs(got - want) <= 1e-5f * (1.f + magnitude);  // a NaN fails
}

// ---- float tiles: k steps of rows, MR x NB, panel rows and window rows -----------------------
constexpr index_t max_k = 40, max_mr = 4;
float fa[max_k * max_mr], fb[max_k * 160], fabs_b[max_k * 160];

template <index_t MR, index_t NB> void check_f32_tile(index_t k) {
  for (auto& v : fa) v = rng.unit();
  for (index_t i = 0; i < static_cast<index_t>(sizeof fb / sizeof fb[0]); ++i) fabs_b[i] = std::fabs(fb[i] = rng.unit());
  float got[MR * NB], want[MR * NB];
  // Panel rows: step s reads b + s * ldb; weights a[s * MR + r].
  const index_t ldb = NB + 3;
  active::f32_tile<MR, NB>(k, fa, 1, MR, fb, ldb, got);
  generic::f32_tile<MR, NB>(k, fa, 1, MR, fb, ldb, want);
  for (index_t i = 0; i < MR * NB; ++i) {
    float magnitude = 0;
    for (index_t s = 0; s < k; ++s) magnitude += std::fabs(fa[s * MR + i / NB]) * fabs_b[s * ldb + i % NB];
    if (!close(got[i], want[i], magnitude)) fail("f32_tile panel MR NB k", MR, NB, k);
  }
  // Window rows: quads of 1 channel, taps at offsets off[t], channels cs apart.
  const index_t taps = 3, off[taps] = {0, 5, 11}, cs = 2 * NB + 13, steps = k / taps > 0 ? k / taps : 1;
  const kiln::arch::window_rows<float> rows{fb, cs, taps, off};
  active::f32_tile<MR, NB>(steps, fa, 1, MR, rows, got);
  generic::f32_tile<MR, NB>(steps, fa, 1, MR, rows, want);
  for (index_t i = 0; i < MR * NB; ++i)
    if (!close(got[i], want[i], 4.f * static_cast<float>(steps * taps))) fail("f32_tile window MR NB steps", MR, NB, steps);
}

template <index_t MR> void check_f32_block_tile(index_t k, bool blocked, bool with_bias) {
  constexpr index_t L = generic::depthwise_lanes, NB = L, positions = 7;
  static float x[max_k * L * positions], w[max_k * L], bias[L];
  float got[L * positions], want[L * positions];
  for (auto& v : x) v = rng.unit();
  for (auto& v : w) v = rng.unit();
  for (auto& v : bias) v = rng.unit();
  const index_t x_bs = L * positions, x_ls = blocked ? 1 : positions, x_ps = blocked ? L : 1;
  std::memset(got, 0, sizeof got);
  std::memset(want, 0, sizeof want);
  active::f32_block_tile<MR, NB>(k, x, x_bs, x_ls, x_ps, w, k * L, with_bias ? bias : nullptr, got, positions * L);
  generic::f32_block_tile<MR, NB>(k, x, x_bs, x_ls, x_ps, w, k * L, with_bias ? bias : nullptr, want, positions * L);
  for (index_t i = 0; i < L * positions; ++i)
    if (!close(got[i], want[i], static_cast<float>(k + 1))) fail("f32_block_tile MR k blocked", MR, k, blocked);
}

// Float depthwise: the wide plane's taps (a plan of `taps` offsets) and the lanes' taps.
void check_f32_depthwise(index_t taps, index_t n, bool accumulate) {
  static float x[1024], acc_got[256], acc_want[256];
  float w[16];
  index_t off[16];
  for (auto& v : x) v = rng.unit();
  for (index_t t = 0; t < taps; ++t) {
    w[t] = rng.unit();
    off[t] = t / 3 * 37 + t % 3;  // rows of three taps, as a 3x3 kernel's on a plane 37 wide
  }
  for (index_t i = 0; i < n; ++i) acc_got[i] = acc_want[i] = rng.unit();
  const auto plan = active::plan_depthwise_taps<float>(taps, off);
  active::depthwise_taps(plan, n, w, x, 0.25f, accumulate, acc_got);
  generic::depthwise_taps(n, taps, w, off, x, 0.25f, accumulate, acc_want);
  for (index_t i = 0; i < n; ++i)
    if (!close(acc_got[i], acc_want[i], static_cast<float>(taps + 2))) fail("f32 depthwise taps n accumulate", taps, n, accumulate);
}

void check_f32_lane_taps(index_t taps, index_t count) {
  constexpr index_t L = generic::depthwise_lanes;
  static float x[64 * L], w[9 * L], got[16 * L], want[16 * L];
  float bias[L];
  index_t base[16], off[9];
  for (auto& v : x) v = rng.unit();
  for (auto& v : w) v = rng.unit();
  for (auto& v : bias) v = rng.unit();
  for (index_t j = 0; j < count; ++j) base[j] = (j * 3 % 7) * L;  // positions in any order
  for (index_t t = 0; t < taps; ++t) off[t] = (t % 3 + t / 3 * 9) * L;
  active::depthwise_lane_taps(count, base, taps, w, off, x, bias, got);
  generic::depthwise_lane_taps(count, base, taps, w, off, x, bias, want);
  for (index_t i = 0; i < count * L; ++i)
    if (!close(got[i], want[i], static_cast<float>(taps + 1))) fail("f32 lane taps taps count i", taps, count, i);
}

// ---- int8: the window tile, the 2-column requantization, the depthwise taps -----------------
alignas(16) std::int8_t wa[16 * 9 * 4 * 4];  // word-aligned, as kiln's weights (LDRD)
alignas(16) std::uint8_t band[4096];  // word-aligned, as the convs' bands (LDRD)

void check_int8_window_tile(index_t quads, index_t taps) {
  constexpr index_t MR = 4, NB = active::s8_window_nb;
  for (auto& v : wa) v = static_cast<std::int8_t>(rng.range(-128, 127));
  for (auto& v : band) v = static_cast<std::uint8_t>(rng.range(0, 255));
  index_t off[9];
  for (index_t t = 0; t < taps; ++t) off[t] = 4 * (t * 7 + t % 3);  // quads: multiples of 4 bytes
  const index_t cs = 4 * 80;
  const kiln::arch::window_rows<std::uint8_t> rows{band, cs, taps, off};
  std::int32_t got[MR * NB], want[MR * NB];
  active::int8_tile<MR, NB>(quads, wa, 4, 4 * MR, rows, got);
  generic::int8_tile<MR, NB>(quads, wa, 4, 4 * MR, rows, want);
  for (index_t i = 0; i < MR * NB; ++i)
    if (got[i] != want[i]) fail("int8 window tile quads taps i", quads, taps, i);
}

// The dense (QGemm) tile: rows of uint8 quads, packed as packed/qdense.hpp packs them for the
// target (split_dense_row where its quads are wider than 4 bytes), against the portable tile on
// the 4-byte quads. The weights' panel is W columns wide (the four widths qdense packs); the tile
// takes NB of them at j0.
alignas(16) std::uint8_t dense_rows[4][16 * 4], dense_split[4][16 * 8];
alignas(16) std::int8_t dense_panel[16 * 64 * 4];

template <index_t MR, index_t W> void check_int8_dense_tile(index_t k4) {
  constexpr index_t NB = active::s8_dense_nb, QB = active::dense_a_quad_bytes;
  for (auto& row : dense_rows)
    for (auto& v : row) v = static_cast<std::uint8_t>(rng.range(0, 255));
  for (auto& v : dense_panel) v = static_cast<std::int8_t>(rng.range(-128, 127));
  for (index_t r = 0; r < MR; ++r) {
    std::memcpy(dense_split[r], dense_rows[r], static_cast<std::size_t>(4 * k4));
    active::split_dense_row(dense_split[r], k4);
  }
  std::int32_t want[MR * W];
  generic::int8_dense_tile<MR, W>(k4, dense_rows[0], 16 * 4, 4, dense_panel, 4 * W, want);
  for (index_t j0 = 0; j0 < W; j0 += NB) {
    std::int32_t got[MR * NB];
    active::int8_dense_tile<MR, NB>(k4, dense_split[0], 16 * 8, QB, dense_panel + 4 * j0, 4 * W, got);
    for (index_t r = 0; r < MR; ++r)
      for (index_t j = 0; j < NB; ++j)
        if (got[r * NB + j] != want[r * W + j0 + j]) fail("int8 dense tile k4 width row*100+column", k4, W, r * 100 + j0 + j);
  }
}

// The int8 panel tile (im2col convs): k4 rows of the panel ldb bytes apart, weights [k4][MR][4].
void check_int8_panel_tile(index_t k4, index_t ldb) {
  constexpr index_t MR = 4, NB = active::s8_nb;
  for (auto& v : wa) v = static_cast<std::int8_t>(rng.range(-128, 127));
  for (auto& v : band) v = static_cast<std::uint8_t>(rng.range(0, 255));
  std::int32_t got[MR * NB], want[MR * NB];
  active::int8_tile<MR, NB>(k4, wa, 4, 4 * MR, band + 8, ldb, got);
  generic::int8_tile<MR, NB>(k4, wa, 4, 4 * MR, band + 8, ldb, want);
  for (index_t i = 0; i < MR * NB; ++i)
    if (got[i] != want[i]) fail("int8 panel tile k4 ldb i", k4, ldb, i);
}

template <class Y> void check_requantize_tile(index_t rows, index_t n) {
  constexpr index_t TW = active::s8_window_nb, MR = 4;
  if (rows > MR) return;  // not called so; where not inlined into main, GCC 12 warned
                          // (-Wstringop-overflow) of stores past `got` for such rows
  std::int32_t c[MR * TW], c2[MR * TW], bias[MR], wz[MR], colsum[TW];
  float scale[MR];
  kiln::requant_params rq[MR];
  for (index_t i = 0; i < MR * TW; ++i) c[i] = c2[i] = rng.range(-200000, 200000);
  for (index_t r = 0; r < MR; ++r) {
    bias[r] = rng.range(-5000, 5000);
    wz[r] = rng.range(-3, 3);
    scale[r] = std::ldexp(1.f + static_cast<float>(rng.range(0, 1000)) / 1000.f, rng.range(-14, -6));
    rq[r] = kiln::requant_from_float(scale[r]);
  }
  for (auto& v : colsum) v = rng.range(0, 4000);
  const std::int32_t zp = rng.range(-20, 20);
  Y got[MR * 8] = {}, want[MR * 8] = {};
  active::requantize_tile<TW>(c, rows, n, bias, wz, colsum, scale, rq, zp, got, 8);
  generic::requantize_tile<TW>(c2, rows, n, bias, wz, colsum, scale, rq, zp, want, 8);
  for (index_t i = 0; i < MR * 8; ++i)
    if (got[i] != want[i]) fail("requantize_tile rows n i", rows, n, i);
}

// Offsets of a kh x kw kernel on phase planes of width wq (stride s, dilation d), as
// packed::detail::plan_tap_group lays them out.
index_t kernel_offsets(index_t kh, index_t kw, index_t wq, index_t s, index_t d, index_t phase, index_t* off) {
  index_t t = 0;
  for (index_t r = 0; r < kh; ++r)
    for (index_t c = 0; c < kw; ++c, ++t) off[t] = (c * d % s) * phase + r * d * wq + c * d / s;
  return t;
}

void check_depthwise(index_t kh, index_t kw, index_t wq, index_t s, index_t d, index_t phase, index_t n) {
  using T = active::depthwise_int8_plane;
  index_t off[25];
  const index_t taps = kernel_offsets(kh, kw, wq, s, d, phase, off);
  static T x[2048];
  static std::int32_t x32[2048];
  for (index_t i = 0; i < 2048; ++i) x32[i] = x[i] = static_cast<T>(rng.range(-255, 255));
  for (index_t g = 0; g < taps; g += active::depthwise_max_taps) {  // groups as depthwise_plane sends them
    const index_t count = taps - g < active::depthwise_max_taps ? taps - g : active::depthwise_max_taps;
    T w[16];
    std::int32_t w32[16];
    for (index_t t = 0; t < count; ++t) w32[t] = w[t] = static_cast<T>(rng.range(-255, 255));
    std::int32_t got[256], want[256];
    for (index_t i = 0; i < n; ++i) got[i] = want[i] = rng.range(-100000, 100000);
    const bool accumulate = g > 0;
    const auto plan = active::plan_depthwise_taps<T>(count, off + g);
    active::depthwise_taps(plan, n, w, x, 77, accumulate, got);
    generic::depthwise_taps(n, count, w32, off + g, x32, std::int32_t(77), accumulate, want);
    for (index_t i = 0; i < n; ++i)
      if (got[i] != want[i]) fail("depthwise kh kw n", kh, kw, n);
  }
}

}  // namespace

int main() {
  for (index_t k : {1, 2, 3, 7, 16, 33, 40}) {
    check_f32_tile<1, 4>(k);
    check_f32_tile<4, 4>(k);
    check_f32_tile<4, 8>(k);
    check_f32_tile<2, 16>(k);
    check_f32_tile<3, 8>(k);
    check_f32_tile<4, 16>(k);  // more blocks than two: a loop over them
    check_f32_tile<1, 48>(k);
    check_f32_tile<4, 3>(k);   // not whole blocks of 4 columns: the portable tile
    for (bool blocked : {false, true})
      for (bool with_bias : {false, true}) {
        check_f32_block_tile<1>(k, blocked, with_bias);
        check_f32_block_tile<2>(k, blocked, with_bias);
        check_f32_block_tile<3>(k, blocked, with_bias);
        check_f32_block_tile<4>(k, blocked, with_bias);
      }
  }
  for (index_t taps : {1, 4, 9, 16})
    for (index_t n : {1, 3, 4, 5, 8, 13, 46})
      for (bool accumulate : {false, true}) check_f32_depthwise(taps, n, accumulate);
  for (index_t taps : {1, 2, 9})
    for (index_t count = 1; count <= 9; ++count) check_f32_lane_taps(taps, count);
  for (index_t quads : {1, 2, 3, 4, 16})
    for (index_t taps : {1, 2, 3, 9}) check_int8_window_tile(quads, taps);
  for (index_t k4 : {1, 2, 3, 10, 40})
    for (index_t ldb : {8, 24, 100}) check_int8_panel_tile(k4, ldb);
  for (index_t k4 : {1, 2, 3, 16}) {
    check_int8_dense_tile<1, 16>(k4);
    check_int8_dense_tile<2, 16>(k4);
    check_int8_dense_tile<4, 16>(k4);
    check_int8_dense_tile<2, 32>(k4);
    check_int8_dense_tile<2, 48>(k4);
    check_int8_dense_tile<4, 64>(k4);
  }
  for (index_t rows = 1; rows <= 4; ++rows)
    for (index_t n = 1; n <= active::s8_window_nb; ++n) {
      check_requantize_tile<std::uint8_t>(rows, n);
      check_requantize_tile<std::int8_t>(rows, n);
    }
  for (index_t n : {1, 2, 3, 4, 5, 7, 8, 13, 46, 101}) {
    check_depthwise(3, 3, 10, 1, 1, 100, n);  // stride 1: the row kernel, singles beside pairs
    check_depthwise(3, 3, 6, 2, 1, 40, n);    // stride 2: singles a phase plane on
    check_depthwise(3, 3, 12, 1, 2, 150, n);  // dilation 2: no pairs
    check_depthwise(5, 5, 12, 1, 1, 150, n);  // 25 taps: a second, accumulating group
    check_depthwise(3, 6, 12, 1, 1, 150, n);  // 18 taps: a second group of 2
    check_depthwise(1, 7, 40, 1, 1, 40, n);
  }
  kiln_fw::print(failures == 0 ? "tiles: all match\n" : "tiles: mismatches\n");
  return failures;
}
