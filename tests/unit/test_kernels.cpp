// Runtime kernels against direct definitions on small random cases.
#include <doctest/doctest.h>

#include <kiln/kiln.hpp>

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
