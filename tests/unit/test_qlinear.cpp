// The com.microsoft QOperator kernels (kiln/ops/qlinear.hpp) on rounding corner cases: .5 ties,
// saturation, and the places where ONNX Runtime's float32 order differs from exact arithmetic.
// The straightforward references use doubles where every value involved is exact (power-of-two
// scales), so round half to even of the exact value is the expected answer.
#include <doctest/doctest.h>

#include <kiln/kiln.hpp>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace {

kiln::qlinear_binary_params same_shape(kiln::index_t n, float sa, int za, float sb, int zb, float sc, int zc) {
  kiln::qlinear_binary_params p{};
  p.rank = 1;
  p.count = n;
  p.dims[0] = n;
  p.strides[0][0] = p.strides[1][0] = 1;
  p.ratio_a = sa / sc;
  p.ratio_b = sb / sc;
  p.fixed = static_cast<float>(zc) - std::fma(p.ratio_a, static_cast<float>(za), p.ratio_b * static_cast<float>(zb));
  p.ratio = sa * sb / sc;
  p.a_zp = za;
  p.b_zp = zb;
  p.c_zp = zc;
  return p;
}

template <class T> std::int32_t sat(double v) {
  const double lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  return static_cast<std::int32_t>(v < lo ? lo : v > hi ? hi : v);
}

}  // namespace

TEST_CASE("qlinear_add: ties round half to even, saturation, every uint8 pair against exact arithmetic") {
  // Power-of-two scales: (a/4 + b/2) / (1/2) = a/2 + b is exact in float32, so every odd a - a_zp
  // is a .5 tie, and the range exceeds uint8's.
  std::vector<std::uint8_t> a, b;
  for (int i = 0; i < 256; ++i)
    for (int j = 0; j < 256; j += 3) {
      a.push_back(static_cast<std::uint8_t>(i));
      b.push_back(static_cast<std::uint8_t>(j));
    }
  const auto n = static_cast<kiln::index_t>(a.size());
  const auto p = same_shape(n, 0.25f, 128, 0.5f, 120, 0.5f, 128);
  std::vector<std::uint8_t> y(a.size());
  kiln::qlinear_add<std::uint8_t>(p, a.data(), b.data(), y.data());
  int ties = 0, saturated = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double v = (0.25 * (a[i] - 128) + 0.5 * (b[i] - 120)) / 0.5;
    if (v - std::floor(v) == 0.5) ++ties;
    const std::int32_t want = sat<std::uint8_t>(std::nearbyint(v) + 128);
    if (want == 0 || want == 255) ++saturated;
    REQUIRE(static_cast<int>(y[i]) == want);
  }
  CHECK(ties > 1000);
  CHECK(saturated > 1000);
}

TEST_CASE("qlinear_add: int8 with a broadcast scalar") {
  kiln::qlinear_binary_params p = same_shape(4, 0.5f, 0, 0.5f, 1, 1.0f, -3);
  p.strides[1][0] = 0;  // b is one element
  const std::int8_t a[] = {1, 3, -1, 127};
  const std::int8_t b[] = {2};
  std::int8_t y[4];
  kiln::qlinear_add<std::int8_t>(p, a, b, y);
  // (a + 1) / 2: 1 -> 1, 2 -> 2, 0 -> 0, 64 -> 64; + (-3)
  CHECK(y[0] == -2);  // 0.5 + 0.5 = 1 -> 1 - 3
  CHECK(y[1] == -1);  // 1.5 + 0.5 = 2
  CHECK(y[2] == -3);  // -0.5 + 0.5 = 0
  CHECK(y[3] == 61);  // 63.5 + 0.5 = 64
}

TEST_CASE("qlinear_mul: ratio 1/2 ties, saturation, and ONNX Runtime's float add of the zero point") {
  std::vector<std::uint8_t> a, b;
  for (int i = 0; i < 256; i += 5)
    for (int j = 0; j < 256; j += 7) {
      a.push_back(static_cast<std::uint8_t>(i));
      b.push_back(static_cast<std::uint8_t>(j));
    }
  const auto p = same_shape(static_cast<kiln::index_t>(a.size()), 0.5f, 128, 0.25f, 126, 0.25f, 128);
  REQUIRE(p.ratio == 0.5f);
  std::vector<std::uint8_t> y(a.size());
  kiln::qlinear_mul<std::uint8_t>(p, a.data(), b.data(), y.data());
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double v = 0.5 * (a[i] - 128) * (b[i] - 126);
    REQUIRE(static_cast<int>(y[i]) == sat<std::uint8_t>(std::nearbyint(v) + 128));
  }
  // MLAS adds the zero point in float32 before rounding: 0.5 + 2^-24 is above the tie, but
  // 128 + 0.5 + 2^-24 rounds to the float 128.5, a tie that rounds to 128, not 129.
  auto q = same_shape(1, 1.f, 0, 1.f, 0, 1.f, 128);
  q.ratio = 0.5f + std::ldexp(1.0f, -24);
  const std::uint8_t one = 1;
  std::uint8_t out = 0;
  kiln::qlinear_mul<std::uint8_t>(q, &one, &one, &out);
  CHECK(static_cast<int>(out) == 128);
}

namespace {

// The kernels' per-element math as it was before the flat paths, with the branching cvtps2dq.
std::int32_t cvtps2dq_ref(float v) {
  if (!(v >= -2147483648.f && v < 2147483648.f)) return std::numeric_limits<std::int32_t>::min();
  return static_cast<std::int32_t>(std::nearbyint(v));
}

template <class T> int add_ref(const kiln::qlinear_binary_params& p, T a, T b) {
  const float rx = p.swap ? p.ratio_b : p.ratio_a, ry = p.swap ? p.ratio_a : p.ratio_b;
  const float x = static_cast<float>(p.swap ? b : a), y = static_cast<float>(p.swap ? a : b);
  return kiln::detail::sat<T>(cvtps2dq_ref(std::fma(x, rx, std::fma(y, ry, p.fixed))));
}

template <class T> int mul_ref(const kiln::qlinear_binary_params& p, T a, T b) {
  const std::int32_t prod = (static_cast<std::int32_t>(a) - p.a_zp) * (static_cast<std::int32_t>(b) - p.b_zp);
  return kiln::detail::sat<T>(cvtps2dq_ref(static_cast<float>(prod) * p.ratio + static_cast<float>(p.c_zp)));
}

// Same-shape and scalar operands take the flat loops; the same data laid out so the strides are not
// trivial (rows with a gap; the scalar repeated per row, stride 0 only along rows) takes the walker.
// Both must give the same bytes as the reference, whatever the scales (saturation, huge, NaN).
template <class T> void flat_matches_walker(bool mul, float ra, float rb, float fixed, float ratio, int za, int zb,
                                            int zc, bool ordinary) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> byte(std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
  const kiln::index_t rows = 7, cols = 143, pitch = cols + 3, n = rows * cols;  // n: 7 blocks of 128 + a tail
  for (int mode = 0; mode < 3; ++mode)  // 0: same shape, 1: scalar b, 2: scalar a
    for (int swap = 0; swap < 2; ++swap) {
      CAPTURE(mode);
      CAPTURE(swap);
      std::vector<T> a(n), b(n), ga(rows * pitch), gb(rows * pitch);
      for (auto& v : a) v = static_cast<T>(byte(rng));
      for (auto& v : b) v = static_cast<T>(byte(rng));
      if (mode == 1) b.assign(1, b[0]);
      if (mode == 2) a.assign(1, a[0]);
      kiln::qlinear_binary_params flat{};
      flat.rank = 2;
      flat.count = n;
      flat.dims[0] = rows;
      flat.dims[1] = cols;
      flat.ratio_a = ra;
      flat.ratio_b = rb;
      flat.fixed = fixed;
      flat.ratio = ratio;
      flat.a_zp = za;
      flat.b_zp = zb;
      flat.c_zp = zc;
      flat.swap = swap != 0;
      kiln::qlinear_binary_params walk = flat;
      const T* src[2] = {a.data(), b.data()};
      std::vector<T>* gapped[2] = {&ga, &gb};
      for (int k = 0; k < 2; ++k) {
        const bool scalar = (mode == 1 && k == 1) || (mode == 2 && k == 0);
        flat.strides[k][0] = scalar ? 0 : cols;
        flat.strides[k][1] = scalar ? 0 : 1;
        walk.strides[k][0] = scalar ? 1 : pitch;
        walk.strides[k][1] = scalar ? 0 : 1;
        for (kiln::index_t r = 0; r < rows; ++r)
          for (kiln::index_t c = 0; c < cols; ++c)
            if (scalar) (*gapped[k])[r] = src[k][0];
            else (*gapped[k])[r * pitch + c] = src[k][r * cols + c];
      }
      using L = kiln::detail::operand_layout;
      for (int k = 0; k < 2; ++k) {
        REQUIRE(kiln::detail::qlinear_layout(flat, k) == (mode == 2 - k ? L::scalar : L::contiguous));
        REQUIRE(kiln::detail::qlinear_layout(walk, k) == L::strided);
      }
      std::vector<T> y_flat(n), y_walk(n), y_inplace(mode == 2 ? b : a);
      if (mul) {
        kiln::qlinear_mul<T>(flat, a.data(), b.data(), y_flat.data());
        kiln::qlinear_mul<T>(walk, ga.data(), gb.data(), y_walk.data());
      } else {
        kiln::qlinear_add<T>(flat, a.data(), b.data(), y_flat.data());
        kiln::qlinear_add<T>(walk, ga.data(), gb.data(), y_walk.data());
      }
      // in place over the full-size operand, as the planner may place it
      T* io = y_inplace.data();
      const T* ia = mode == 2 ? a.data() : io;
      const T* ib = mode == 2 ? io : b.data();
      if (mul) kiln::qlinear_mul<T>(flat, ia, ib, io);
      else kiln::qlinear_add<T>(flat, ia, ib, io);
      int low = 0, high = 0;
      for (kiln::index_t i = 0; i < n; ++i) {
        const T av = a[mode == 2 ? 0 : i], bv = b[mode == 1 ? 0 : i];
        const int want = mul ? mul_ref<T>(flat, av, bv) : add_ref<T>(flat, av, bv);
        REQUIRE(static_cast<int>(y_walk[i]) == want);
        REQUIRE(static_cast<int>(y_flat[i]) == want);
        REQUIRE(static_cast<int>(y_inplace[i]) == want);
        low += want == std::numeric_limits<T>::min();
        high += want == std::numeric_limits<T>::max();
      }
      if (ordinary && mode == 0) {  // ordinary scales saturate at both ends, some of the time
        CHECK(low > 0);
        CHECK(high > 0);
        CHECK(low + high < n);
      }
    }
}

}  // namespace

TEST_CASE("qlinear_add/qlinear_mul: the flat paths match the broadcast walker bit for bit") {
  // cvtps2dq's corners: ties to even, NaN and everything outside int32 give INT32_MIN.
  const float corners[] = {0.5f, 1.5f, -0.5f, -2.5f, 2147483520.f, 2147483648.f, -2147483648.f, -2147483904.f,
                           std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                           std::numeric_limits<float>::quiet_NaN(), 1e20f, -1e20f};
  for (float v : corners) CHECK(kiln::detail::cvtps2dq(v) == cvtps2dq_ref(v));
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int mul = 0; mul < 2; ++mul) {
    CAPTURE(mul);
    // ordinary scales that reach past both ends of the range, then huge values (INT32_MIN: the
    // minimum, even for large positive ones) and NaN
    flat_matches_walker<std::uint8_t>(mul != 0, 0.75f, 0.6f, -42.25f, 0.013f, 131, 120, 128, true);
    flat_matches_walker<std::int8_t>(mul != 0, 0.8f, 0.55f, -1.65f, 0.011f, 3, -5, -2, true);
    flat_matches_walker<std::uint8_t>(mul != 0, 3e7f, 2e7f, 1e9f, 2e5f, 128, 100, 7, false);
    flat_matches_walker<std::int8_t>(mul != 0, -3e7f, 2e7f, 0.f, -2e5f, 0, -9, 3, false);
    flat_matches_walker<std::int8_t>(mul != 0, 0.5f, 0.5f, nan, nan, 0, 0, 0, false);
  }
}

TEST_CASE("qlinear_global_average_pool: 1/2 scale ties, NCHW and channels_last agree") {
  // x_scale / (y_scale * image) = 1 / (0.5 * 4) = 1/2
  const float scale = 1.0f / (0.5f * 4.0f);
  const auto rq = kiln::requant_from_float(scale);
  kiln::qlinear_gap_params p{1, 3, 4, false, -128 * 4, rq.mantissa, rq.exponent, 128};
  const std::uint8_t x[] = {129, 128, 128, 128,   // sum - 512 = 1 -> 0.5 -> 0
                            130, 129, 128, 128,   // 3 -> 1.5 -> 2
                            255, 255, 255, 255};  // 508 -> 254 -> saturates
  std::uint8_t y[3];
  kiln::qlinear_global_average_pool<std::uint8_t>(p, x, y);
  CHECK(y[0] == 128);
  CHECK(y[1] == 130);
  CHECK(y[2] == 255);
  // The same data channels-last: x[pixel][channel].
  std::uint8_t xt[12];
  for (int c = 0; c < 3; ++c)
    for (int i = 0; i < 4; ++i) xt[i * 3 + c] = x[c * 4 + i];
  p.channels_last = true;
  std::uint8_t yt[3];
  kiln::qlinear_global_average_pool<std::uint8_t>(p, xt, yt);
  CHECK(yt[0] == y[0]);
  CHECK(yt[1] == y[1]);
  CHECK(yt[2] == y[2]);
}

TEST_CASE("qlinear_global_average_pool: 70 channels, two images, both layouts against a direct sum") {
  using kiln::index_t;
  const index_t batch = 2, channels = 70, image = 13;
  const auto rq = kiln::requant_from_float(0.37f / static_cast<float>(image));
  kiln::qlinear_gap_params p{batch, channels, image, false, -17 * image, rq.mantissa, rq.exponent, 3};
  std::vector<std::int8_t> x(static_cast<std::size_t>(batch * channels * image)), xt(x.size());
  std::uint32_t state = 7;
  for (auto& v : x) v = static_cast<std::int8_t>((state = state * 1664525u + 1013904223u) >> 24);
  for (index_t n = 0; n < batch; ++n)
    for (index_t c = 0; c < channels; ++c)
      for (index_t i = 0; i < image; ++i)
        xt[static_cast<std::size_t>((n * image + i) * channels + c)] = x[static_cast<std::size_t>((n * channels + c) * image + i)];
  std::vector<std::int8_t> y(static_cast<std::size_t>(batch * channels)), yt(y.size());
  kiln::qlinear_global_average_pool<std::int8_t>(p, x.data(), y.data());
  p.channels_last = true;
  kiln::qlinear_global_average_pool<std::int8_t>(p, xt.data(), yt.data());
  for (index_t n = 0; n < batch; ++n)
    for (index_t c = 0; c < channels; ++c) {
      std::int32_t sum = -17 * image;
      for (index_t i = 0; i < image; ++i) sum += x[static_cast<std::size_t>((n * channels + c) * image + i)];
      const auto want = static_cast<std::int8_t>(kiln::requantize_saturate(sum, rq, 3, -128, 127));
      CAPTURE(n);
      CAPTURE(c);
      CHECK(y[static_cast<std::size_t>(n * channels + c)] == want);
      CHECK(yt[static_cast<std::size_t>(n * channels + c)] == want);
    }
}

TEST_CASE("qlinear_average_pool: count_include_pad and clipped windows against a direct average") {
  // 1x1x3x3, kernel 2x2, stride 1, pad 1 on every side: output 4x4.
  kiln::qlinear_avgpool_params p{};
  p.batch = p.channels = 1;
  p.in[0] = 1, p.in[1] = 3, p.in[2] = 3;
  p.out[0] = 1, p.out[1] = 4, p.out[2] = 4;
  p.kernel[0] = 1, p.kernel[1] = 2, p.kernel[2] = 2;
  p.stride[0] = p.stride[1] = p.stride[2] = 1;
  p.pad[1] = p.pad[2] = 1;
  p.y_scale = 0.25f;
  p.y_zp = 0;
  float table[256];
  for (int i = 0; i < 256; ++i) table[i] = 0.25f * static_cast<float>(static_cast<std::int8_t>(i));
  const std::int8_t x[] = {1, 2, 3, -4, 5, 6, 7, 127, -128};
  for (bool include : {false, true}) {
    p.count_include_pad = include;
    std::int8_t y[16];
    kiln::qlinear_average_pool<std::int8_t>(p, x, table, y);
    for (int oh = 0; oh < 4; ++oh)
      for (int ow = 0; ow < 4; ++ow) {
        double sum = 0;
        int n = 0;
        for (int h = oh - 1; h <= oh; ++h)
          for (int w = ow - 1; w <= ow; ++w)
            if (h >= 0 && h < 3 && w >= 0 && w < 3) {
              sum += 0.25 * x[h * 3 + w];
              ++n;
            }
        const double avg = sum / (include ? 4 : n);  // exact: quarters over 1, 2 or 4
        CHECK(static_cast<int>(y[oh * 4 + ow]) == sat<std::int8_t>(std::nearbyint(avg / 0.25)));
      }
  }
}

TEST_CASE("qlinear_softmax: int8 outputs saturate at 127 as in ONNX Runtime 1.30") {
  // Two equal maxima and a tiny third: each gets about 128/256 of floor(1/y_scale) = 256.
  kiln::qlinear_softmax_params p{1, 2, 1, 256.0f, -128};
  float table[256];
  for (int i = 0; i < 256; ++i) table[i] = 0.0f;
  table[127] = 1.0f;  // the row maximum always reads entry 127 (int8)
  const std::int8_t x[] = {5, 5};
  std::int8_t y[2];
  kiln::qlinear_softmax<std::int8_t>(p, x, table, y);
  CHECK(y[0] == 0);  // 128 - 128
  CHECK(y[1] == 0);
  const std::int8_t one[] = {9};
  p.axis = 1;
  std::int8_t y1[1];
  kiln::qlinear_softmax<std::int8_t>(p, one, table, y1);
  CHECK(y1[0] == 127);  // 256 - 128 = 128, saturated
}

TEST_CASE("qgemm: integer accumulation with transposes, per-column zero points and a broadcast bias") {
  std::mt19937 gen(7);
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127);
  const int m = 3, n = 4, k = 5;
  std::vector<std::uint8_t> a(m * k);
  std::vector<std::int8_t> b(n * k);  // transposed: [n][k]
  for (auto& v : a) v = static_cast<std::uint8_t>(u8(gen));
  for (auto& v : b) v = static_cast<std::int8_t>(s8(gen));
  const std::uint8_t a_zp = 131;
  const std::int8_t b_zp[] = {1, -2, 3, 0};
  const std::int32_t c[] = {10, -20, 30};  // (M, 1)
  kiln::qgemm_params p{m, n, k, false, true, 1, 0, 4, 1};
  const float scale = 0.5f;
  const std::vector<float> scales = {scale};
  std::vector<float> y(m * n);
  kiln::qgemm_float<std::uint8_t, std::int8_t>(p, a.data(), &a_zp, b.data(), b_zp, c, scales.data(), y.data());
  const auto rq = kiln::requant_from_float(scale);
  const std::int32_t rqv[] = {rq.mantissa, rq.exponent};
  const std::uint8_t y_zp = 128;
  std::vector<std::uint8_t> yq(m * n);
  kiln::qgemm<std::uint8_t, std::int8_t, std::uint8_t>(p, a.data(), &a_zp, b.data(), b_zp, c, rqv, &y_zp, yq.data());
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      std::int64_t acc = c[i];
      for (int kk = 0; kk < k; ++kk) acc += (a[i * k + kk] - a_zp) * (b[j * k + kk] - b_zp[j]);
      CHECK(y[i * n + j] == static_cast<float>(acc) * 0.5f);
      CHECK(static_cast<int>(yq[i * n + j]) == sat<std::uint8_t>(std::nearbyint(acc * 0.5) + 128));
    }
}

TEST_CASE("qlinear_lookup and qlinear_concat_part index tables by the raw byte") {
  std::uint8_t table[256];
  for (int i = 0; i < 256; ++i) table[i] = static_cast<std::uint8_t>(255 - i);
  const std::int8_t x[] = {-128, -1, 0, 127};
  std::int8_t y[4];
  kiln::qlinear_lookup<std::int8_t>(kiln::qlinear_lookup_params{4}, x, table, y);
  CHECK(y[0] == static_cast<std::int8_t>(127));  // byte 0x80 -> 255 - 128 = 127
  CHECK(y[1] == static_cast<std::int8_t>(0));     // byte 0xff -> 0
  CHECK(y[2] == static_cast<std::int8_t>(-1));    // byte 0 -> 255
  CHECK(y[3] == static_cast<std::int8_t>(-128));  // byte 0x7f -> 128
  std::int8_t out[8] = {};
  kiln::qlinear_concat_part<std::int8_t>(kiln::qlinear_concat_params{2, 2, 4, 1}, x, table, out);
  CHECK(out[1] == 127);
  CHECK(out[2] == 0);
  CHECK(out[5] == -1);
  CHECK(out[6] == -128);
}
