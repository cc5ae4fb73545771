// Runtime kernels against direct definitions on small random cases.
#include <doctest/doctest.h>

#include <kiln/kiln.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

TEST_CASE("binary broadcasting matches the index formula") {
  // a: 2x1x4, b: 3x1 → y: 2x3x4
  kiln::binary_params p{};
  p.rank = 3;
  p.count = 24;
  p.dims[0] = 2; p.dims[1] = 3; p.dims[2] = 4;
  p.strides[0][0] = 4; p.strides[0][1] = 0; p.strides[0][2] = 1;
  p.strides[1][0] = 0; p.strides[1][1] = 1; p.strides[1][2] = 0;
  p.a_count = 8;
  p.b_count = 3;
  float a[8], b[3], y[24];
  for (int i = 0; i < 8; ++i) a[i] = static_cast<float>(i);
  for (int i = 0; i < 3; ++i) b[i] = static_cast<float>(100 * (i + 1));
  kiln::binary<kiln::op::add, float>(p, a, b, y);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 4; ++k) CHECK(y[(i * 3 + j) * 4 + k] == a[i * 4 + k] + b[j]);
}

TEST_CASE("conv matches the definition for pads, strides, dilations and groups") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int trial = 0; trial < 40; ++trial) {
    const int group = 1 + static_cast<int>(rng() % 3);
    const int cin = group * (1 + static_cast<int>(rng() % 2)), cout = group * (1 + static_cast<int>(rng() % 3));
    const int h = 3 + static_cast<int>(rng() % 6), w = 3 + static_cast<int>(rng() % 6);
    const int kh = 1 + static_cast<int>(rng() % 3), kw = 1 + static_cast<int>(rng() % 3);
    const int sh = 1 + static_cast<int>(rng() % 2), sw = 1 + static_cast<int>(rng() % 3);
    const int dh = 1 + static_cast<int>(rng() % 2), dw = 1 + static_cast<int>(rng() % 2);
    const int ph = static_cast<int>(rng() % 3), pw = static_cast<int>(rng() % 3);
    const int oh = (h + 2 * ph - ((kh - 1) * dh + 1)) / sh + 1, ow = (w + 2 * pw - ((kw - 1) * dw + 1)) / sw + 1;
    if (oh <= 0 || ow <= 0) continue;
    std::vector<float> x(static_cast<std::size_t>(cin * h * w)), wt(static_cast<std::size_t>(cout * (cin / group) * kh * kw)),
        bias(static_cast<std::size_t>(cout)), y(static_cast<std::size_t>(cout * oh * ow));
    for (auto* v : {&x, &wt, &bias})
      for (auto& e : *v) e = u(rng);
    kiln::conv_params p{1, cin, cout, group, {1, h, w}, {1, oh, ow}, {1, kh, kw}, {1, sh, sw}, {1, dh, dw}, {0, ph, pw},
                        {kiln::act_kind::none, 0.f, 0.f}};
    kiln::conv<float>(p, x.data(), wt.data(), bias.data(), y.data());
    const int cg = cin / group, mg = cout / group;
    for (int m = 0; m < cout; ++m)
      for (int i = 0; i < oh; ++i)
        for (int j = 0; j < ow; ++j) {
          double acc = bias[static_cast<std::size_t>(m)];
          for (int c = 0; c < cg; ++c)
            for (int a = 0; a < kh; ++a)
              for (int b = 0; b < kw; ++b) {
                const int ii = i * sh - ph + a * dh, jj = j * sw - pw + b * dw;
                if (ii < 0 || ii >= h || jj < 0 || jj >= w) continue;
                acc += static_cast<double>(wt[static_cast<std::size_t>(((m * cg + c) * kh + a) * kw + b)]) *
                       x[static_cast<std::size_t>(((m / mg * cg + c) * h + ii) * w + jj)];
              }
          CHECK(y[static_cast<std::size_t>((m * oh + i) * ow + j)] == doctest::Approx(acc).epsilon(1e-5));
        }
  }
}

TEST_CASE("round is half to even") {
  const kiln::unary_params p{6, 0, 0, 0};
  const float x[6] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 2.4f};
  float y[6];
  kiln::unary<kiln::op::round, float>(p, x, y);
  const float want[6] = {0.f, 2.f, 2.f, -0.f, -2.f, 2.f};
  for (int i = 0; i < 6; ++i) CHECK(y[i] == want[i]);
}

namespace {
// A max pooling case: random geometry over 1 to 3 spatial axes, with pads, dilations and the
// ceil_mode overhang (outputs whose window runs past the end), sometimes windows wholly in the pad.
kiln::pool_params random_max_pool(std::mt19937& rng) {
  kiln::pool_params p{};
  p.kind = kiln::pool_kind::max;
  p.batch = 1 + static_cast<kiln::index_t>(rng() % 2);
  p.channels = 1 + static_cast<kiln::index_t>(rng() % 3);
  const int axes = 1 + static_cast<int>(rng() % 3);
  for (int a = 0; a < 3; ++a) {
    if (a < 3 - axes) {
      p.in[a] = p.out[a] = p.kernel[a] = p.stride[a] = p.dilation[a] = 1;
      continue;
    }
    p.in[a] = 1 + static_cast<kiln::index_t>(rng() % 12);
    p.kernel[a] = 1 + static_cast<kiln::index_t>(rng() % 4);
    p.stride[a] = 1 + static_cast<kiln::index_t>(rng() % 3);
    p.dilation[a] = 1 + static_cast<kiln::index_t>(rng() % 2);
    p.pad[a] = static_cast<kiln::index_t>(rng() % 4);  // may exceed the window: all-pad windows
    p.pad_end[a] = static_cast<kiln::index_t>(rng() % 4);
    const kiln::index_t span = p.in[a] + p.pad[a] + p.pad_end[a] - (p.kernel[a] - 1) * p.dilation[a];
    p.out[a] = span <= 0 ? 1 : (span - 1) / p.stride[a] + 1 + static_cast<kiln::index_t>(rng() % 2);  // ceil overhang
  }
  return p;
}
}  // namespace

TEST_CASE("max pool matches a direct window max over pads, dilations and overhang") {
  std::mt19937 rng(11);
  for (int trial = 0; trial < 400; ++trial) {
    const kiln::pool_params p = random_max_pool(rng);
    const kiln::index_t in_plane = p.in[0] * p.in[1] * p.in[2], out_plane = p.out[0] * p.out[1] * p.out[2];
    std::vector<std::uint8_t> x(static_cast<std::size_t>(p.batch * p.channels * in_plane)),
        y(static_cast<std::size_t>(p.batch * p.channels * out_plane), 77);
    for (auto& v : x) v = static_cast<std::uint8_t>(1 + rng() % 255);
    kiln::pool<std::uint8_t>(p, x.data(), y.data());
    for (kiln::index_t nc = 0; nc < p.batch * p.channels; ++nc)
      for (kiln::index_t o = 0; o < out_plane; ++o) {
        const kiln::index_t o3[3] = {o / (p.out[1] * p.out[2]), o / p.out[2] % p.out[1], o % p.out[2]};
        int best = 0;  // no tap inside the input: 0, as ONNX Runtime and the window walk give
        for (kiln::index_t t = 0; t < p.kernel[0] * p.kernel[1] * p.kernel[2]; ++t) {
          const kiln::index_t k3[3] = {t / (p.kernel[1] * p.kernel[2]), t / p.kernel[2] % p.kernel[1], t % p.kernel[2]};
          kiln::index_t at = 0;
          bool inside = true;
          for (int a = 0; a < 3; ++a) {
            const kiln::index_t i = o3[a] * p.stride[a] - p.pad[a] + k3[a] * p.dilation[a];
            inside = inside && i >= 0 && i < p.in[a];
            at = at * p.in[a] + i;
          }
          if (inside) best = std::max(best, static_cast<int>(x[static_cast<std::size_t>(nc * in_plane + at)]));
        }
        CHECK(static_cast<int>(y[static_cast<std::size_t>(nc * out_plane + o)]) == best);
      }
  }
}

// The whole-plane average (pool_planes: float partial sums, flushed into a double) against a
// double sum, over planes around its 16-element vectors and 1024-element flushes; the values
// are large with small differences, where a single float sum would drift.
TEST_CASE("a whole-plane average pool matches a double-precision sum") {
  std::mt19937 rng(17);
  for (kiln::index_t n : {1, 5, 15, 16, 17, 125, 1023, 1024, 1025, 2048 + 37, 50176}) {
    CAPTURE(n);
    kiln::pool_params p{};
    p.kind = kiln::pool_kind::average;
    p.batch = 1;
    p.channels = 3;
    p.p = 2;
    const kiln::index_t shape[3] = {1, n % 7 == 0 ? 7 : 1, n % 7 == 0 ? n / 7 : n};
    for (int a = 0; a < 3; ++a) {
      p.in[a] = p.kernel[a] = p.stride[a] = shape[a];
      p.out[a] = p.dilation[a] = 1;
    }
    REQUIRE(kiln::detail::pool_window_is_plane(p));
    std::vector<float> x(static_cast<std::size_t>(3 * n)), y(3, -1.f);
    for (auto& v : x) v = 1000.f + static_cast<float>(static_cast<int>(rng() % 2001) - 1000) / 1024.f;
    kiln::pool<float>(p, x.data(), y.data());
    for (kiln::index_t c = 0; c < 3; ++c) {
      double sum = 0;
      for (kiln::index_t i = 0; i < n; ++i) sum += static_cast<double>(x[static_cast<std::size_t>(c * n + i)]);
      CHECK(static_cast<double>(y[static_cast<std::size_t>(c)]) == doctest::Approx(sum / static_cast<double>(n)).epsilon(1e-6));
    }
  }
}

// Planes wide enough for the row passes' vector loops and their tails (kernel widths 2 and 3 at
// strides 1 and 2 take one pass a kernel row), int8 and uint8, against the window walk.
template <class T> void check_wide_max_pools(std::mt19937& rng) {
  for (int trial = 0; trial < 60; ++trial) {
    kiln::pool_params p = random_max_pool(rng);
    p.in[2] = 60 + static_cast<kiln::index_t>(rng() % 240);
    p.kernel[2] = 2 + static_cast<kiln::index_t>(rng() % 2);
    p.stride[2] = 1 + static_cast<kiln::index_t>(rng() % 2);
    const kiln::index_t span = p.in[2] + p.pad[2] + p.pad_end[2] - (p.kernel[2] - 1) * p.dilation[2];
    p.out[2] = (span - 1) / p.stride[2] + 1;
    CAPTURE(p.in[2]);
    CAPTURE(p.kernel[2]);
    CAPTURE(p.stride[2]);
    const auto in = static_cast<std::size_t>(p.batch * p.channels * p.in[0] * p.in[1] * p.in[2]);
    const auto out = static_cast<std::size_t>(p.batch * p.channels * p.out[0] * p.out[1] * p.out[2]);
    std::vector<T> x(in), fast(out), walk(out);
    for (auto& v : x) v = static_cast<T>(rng());
    kiln::pool<T>(p, x.data(), fast.data());
    kiln::pool_with_indices<T>(p, x.data(), walk.data(), nullptr);
    CHECK(fast == walk);
  }
}

TEST_CASE("max pool on wide rows matches the window walk") {
  std::mt19937 rng(23);
  check_wide_max_pools<std::int8_t>(rng);
  check_wide_max_pools<std::uint8_t>(rng);
  check_wide_max_pools<float>(rng);
}

TEST_CASE("max pool keeps the window walk's order: NaNs and signed zeros as it leaves them") {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    const kiln::pool_params p = random_max_pool(rng);
    const auto in = static_cast<std::size_t>(p.batch * p.channels * p.in[0] * p.in[1] * p.in[2]);
    const auto out = static_cast<std::size_t>(p.batch * p.channels * p.out[0] * p.out[1] * p.out[2]);
    std::vector<float> x(in), fast(out), walk(out);
    for (auto& v : x) {
      const unsigned r = rng() % 8;
      v = r == 0 ? std::nanf("") : r == 1 ? -0.f : r == 2 ? 0.f : static_cast<float>(static_cast<int>(rng() % 5) - 2);
    }
    kiln::pool<float>(p, x.data(), fast.data());
    kiln::pool_with_indices<float>(p, x.data(), walk.data(), nullptr);
    for (std::size_t i = 0; i < out; ++i) {
      std::uint32_t a, b;
      std::memcpy(&a, &fast[i], 4);
      std::memcpy(&b, &walk[i], 4);
      CHECK(a == b);
    }
  }
}
