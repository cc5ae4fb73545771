// Integer-only requantization against the float32 computation it emulates (ONNX Runtime's):
// round_half_even(float32(acc) * scale), over millions of random and edge-case inputs.
#include <doctest/doctest.h>

#include <kiln/kiln.hpp>

#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ios>
#include <limits>
#include <random>
#include <vector>

namespace {

constexpr std::int64_t limit = std::int64_t(1) << 40;

// The reference, in float32 on the host FPU (SSE on x86-64: no excess precision).
std::int64_t reference(std::int32_t acc, float scale) {
  volatile float a = static_cast<float>(acc);
  volatile float prod = a * scale;
  const float r = std::nearbyint(static_cast<float>(prod));
  if (std::isinf(r) || std::fabs(r) >= static_cast<float>(limit)) return r < 0 ? -limit : limit;
  return static_cast<std::int64_t>(r);
}

float from_bits(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

int mismatches = 0;
void check_one(std::int32_t acc, float scale) {
  const std::int64_t want = reference(acc, scale);
  const std::int64_t got = kiln::requantize(acc, kiln::requant_from_float(scale));
  if (got != want) {
    if (++mismatches <= 10) {
      std::uint32_t bits;
      std::memcpy(&bits, &scale, sizeof bits);
      MESSAGE("acc " << acc << " scale " << scale << " (bits 0x" << std::hex << bits << std::dec << "): got " << got
                     << " want " << want);
    }
  }
}

}  // namespace

TEST_CASE("requant_from_float is the exact float32 decomposition") {
  for (float s : {1.f, 0.5f, 0.1f, 3.0e-3f, 1e-38f, 1e-45f, 3.4e38f, -0.25f, 0.f}) {
    const auto r = kiln::requant_from_float(s);
    CHECK(static_cast<double>(r.mantissa) * std::ldexp(1.0, r.exponent) == static_cast<double>(s));
    CHECK(std::abs(r.mantissa) < (1 << 24));
  }
}

TEST_CASE("requant_scale gives back the float requant_from_float decomposed, bit for bit") {
  std::mt19937 rng(7);
  std::vector<std::uint32_t> bits = {0x00000000u, 0x00000001u, 0x007fffffu, 0x00800000u, 0x00ffffffu,
                                     0x3f800000u, 0xbf800000u, 0x7f7fffffu, 0xff7fffffu, 0x80000001u, 0x2f800000u};
  for (int i = 0; i < 100000; ++i) {
    const std::uint32_t b = rng();
    if (((b >> 23) & 0xffu) != 0xffu && b != 0x80000000u) bits.push_back(b);  // finite; -0 decomposes as 0
  }
  int wrong = 0;
  for (std::uint32_t b : bits) {
    const float s = from_bits(b), back = kiln::requant_scale(kiln::requant_from_float(s));
    std::uint32_t got;
    std::memcpy(&got, &back, sizeof got);
    if (got != b && ++wrong <= 5) MESSAGE("bits 0x" << std::hex << b << " came back as 0x" << got);
  }
  CHECK(wrong == 0);
}

TEST_CASE("requantize matches float32 round_half_even(float(acc) * scale)") {
  REQUIRE(std::fegetround() == FE_TONEAREST);
  mismatches = 0;
  std::mt19937_64 rng(20240611);
  std::uniform_int_distribution<std::int32_t> any_acc(std::numeric_limits<std::int32_t>::min(),
                                                      std::numeric_limits<std::int32_t>::max());
  std::uniform_int_distribution<std::int32_t> small_acc(-70000, 70000);
  std::uniform_int_distribution<std::uint32_t> any_bits(0, 0x7f7fffffu);  // every positive finite float
  std::uniform_int_distribution<std::uint32_t> mant(0, 0x7fffffu);
  std::uniform_int_distribution<int> typical_exp(127 - 40, 127 + 4);   // scales 2^-40 .. 2^5
  std::uniform_int_distribution<int> shift(0, 31);

  SUBCASE("random accumulators and typical scales") {
    for (int i = 0; i < 2000000; ++i) {
      const float s = from_bits((static_cast<std::uint32_t>(typical_exp(rng)) << 23) | mant(rng));
      const std::int32_t acc = (i & 1) ? small_acc(rng) : any_acc(rng) >> shift(rng);
      check_one(acc, s);
      check_one(acc, -s);
    }
  }
  SUBCASE("random accumulators and every finite scale, including subnormals") {
    for (int i = 0; i < 2000000; ++i) check_one(any_acc(rng) >> shift(rng), from_bits(any_bits(rng)));
    for (int i = 0; i < 200000; ++i) check_one(any_acc(rng) >> shift(rng), from_bits(mant(rng)));  // subnormal
  }
  SUBCASE("exact .5 ties and near-ties") {
    // acc * 2^-e lands on or next to k + 1/2 for both parities of k.
    for (int e = 1; e <= 30; ++e) {
      const float s = std::ldexp(1.f, -e);
      for (std::int32_t base = -2000; base <= 2000; ++base) {
        // base * 2^e, not base << e: shifting a negative value left is undefined before C++20 (UBSan).
        const std::int64_t tie = static_cast<std::int64_t>(base) * (std::int64_t(1) << e) + (std::int64_t(1) << (e - 1));
        for (std::int64_t d = -2; d <= 2; ++d) {
          const std::int64_t acc = tie + d;
          if (acc < std::numeric_limits<std::int32_t>::min() || acc > std::numeric_limits<std::int32_t>::max()) continue;
          check_one(static_cast<std::int32_t>(acc), s);
          check_one(static_cast<std::int32_t>(acc), std::nextafter(s, 0.f));
          check_one(static_cast<std::int32_t>(acc), std::nextafter(s, 1.f));
        }
      }
    }
    // Scales with few significant bits make float products land exactly on ties (e.g. 3 * 0.5).
    for (float s : {0.5f, 1.5f, 0.75f, 0.25f, 0.375f, 2.5f, 0.125f, 0.625f})
      for (std::int32_t acc = -100000; acc <= 100000; ++acc) check_one(acc, s);
  }
  SUBCASE("accumulators that float32 cannot represent exactly") {
    // |acc| >= 2^24 rounds when converted to float32, including its own .5 ties.
    for (int b = 24; b <= 30; ++b)
      for (std::int32_t d = -300; d <= 300; ++d) {
        const std::int32_t acc = (std::int32_t(1) << b) + d * (std::int32_t(1) << (b - 24)) / 2 + (d & 3);
        for (float s : {1.f, 0.999999940f, 1.00000012f, 3.0e-5f, 0.0078125f, 7.62939453e-6f, 1e-10f}) {
          check_one(acc, s);
          check_one(-acc, s);
        }
      }
  }
  SUBCASE("edge values") {
    const std::int32_t accs[] = {0, 1, -1, 2, -2, 3, 127, -128, 255, 16777215, 16777216, 16777217, 16777219,
                                 -16777217, 2147483647, -2147483647 - 1, 2147483520, -2147483520};
    const float scales[] = {0.f, -0.f, 1.f, -1.f, 0.5f, 1e-45f, 1.4e-45f, 1.17549435e-38f, 1.17549421e-38f,
                            5.87747175e-39f, 3.40282347e38f, 1e30f, 1e10f, 2.f, 4.65661287e-10f, 2.32830644e-10f,
                            0.4999999701f, 0.50000006f, 1.e-7f};
    for (auto a : accs)
      for (auto s : scales) {
        check_one(a, s);
        check_one(a, -s);
      }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("requantize_saturate adds the zero point and saturates") {
  const auto rq = kiln::requant_from_float(0.5f);
  CHECK(kiln::requantize_saturate(5, rq, 10, -128, 127) == 12);   // 2.5 -> 2 (even)
  CHECK(kiln::requantize_saturate(7, rq, 10, -128, 127) == 14);   // 3.5 -> 4
  CHECK(kiln::requantize_saturate(1000, rq, 0, -128, 127) == 127);
  CHECK(kiln::requantize_saturate(-1000, rq, 0, 0, 255) == 0);
  const auto big = kiln::requant_from_float(3.0e38f);
  CHECK(kiln::requantize_saturate(2147483647, big, 0, 0, 255) == 255);  // float32 overflow -> inf
  CHECK(kiln::requantize_saturate(-2147483647, big, 0, 0, 255) == 0);
}

TEST_CASE("qlinear_conv and qlinear_matmul requantize per channel with zero points") {
  // 1x2x3x3 input, two depthwise 2x2 filters (group 2), per-channel scales, pads 1.
  kiln::qconv_params p{};
  p.batch = 1; p.in_channels = 2; p.out_channels = 2; p.group = 2;
  p.in[0] = 1; p.in[1] = 3; p.in[2] = 3;
  p.out[0] = 1; p.out[1] = 4; p.out[2] = 4;
  p.kernel[0] = 1; p.kernel[1] = 2; p.kernel[2] = 2;
  for (int i = 0; i < 3; ++i) { p.stride[i] = 1; p.dilation[i] = 1; }
  p.pad[1] = 1; p.pad[2] = 1;
  p.w_zp_count = 2;
  p.rq_count = 2;
  std::uint8_t x[18];
  for (int i = 0; i < 18; ++i) x[i] = static_cast<std::uint8_t>(i * 13 % 256);
  const std::uint8_t xzp = 7;
  const std::int8_t w[8] = {1, -2, 3, -4, 5, 6, -7, 8}, wzp[2] = {0, 1};
  const float xs = 0.02f, ws[2] = {0.1f, 0.03f}, ys = 0.05f;
  float rq[2];
  kiln::requant_scales<float>({2}, &xs, ws, &ys, rq);
  const std::int32_t bias[2] = {10, -20};
  const std::int8_t yzp = -3;
  std::int8_t y[32];
  kiln::qlinear_conv<std::uint8_t, std::int8_t, std::int8_t>(p, x, &xzp, w, wzp, rq, bias, &yzp, y);
  for (int m = 0; m < 2; ++m)
    for (int oh = 0; oh < 4; ++oh)
      for (int ow = 0; ow < 4; ++ow) {
        std::int32_t acc = bias[m];
        for (int kh = 0; kh < 2; ++kh)
          for (int kw = 0; kw < 2; ++kw) {
            const int ih = oh - 1 + kh, iw = ow - 1 + kw;
            if (ih < 0 || ih >= 3 || iw < 0 || iw >= 3) continue;
            acc += (x[m * 9 + ih * 3 + iw] - xzp) * (w[m * 4 + kh * 2 + kw] - wzp[m]);
          }
        const float s = xs * ws[m] / ys;
        float v = std::nearbyint(static_cast<float>(acc) * s) + yzp;
        v = std::fmax(-128.f, std::fmin(127.f, v));
        CHECK(y[m * 16 + oh * 4 + ow] == static_cast<std::int8_t>(v));
      }
}

// QuantizeLinear's rounding: half to even, saturated, NaN to the type's minimum (ONNX Runtime's
// kernels clamp with maxps before converting, and NaN loses to the bound).
TEST_CASE("round_to_int32 and quantize_value: ties to even, saturation, NaN") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  constexpr std::int32_t lo = std::numeric_limits<std::int32_t>::min(), hi = std::numeric_limits<std::int32_t>::max();
  const struct { float v; std::int32_t want; } cases[] = {
      {0.5f, 0},   {1.5f, 2},     {2.5f, 2},   {-0.5f, 0},  {-1.5f, -2}, {-2.5f, -2}, {2.4999998f, 2},
      {8388609.f, 8388609},       {16777216.f, 16777216},   {2147483520.f, 2147483520}, {2147483648.f, hi},
      {-2147483648.f, lo},        {1e30f, hi}, {-1e30f, lo}, {inf, hi}, {-inf, lo}, {nan, lo}};
  for (const auto& c : cases) {
    CAPTURE(c.v);
    CHECK(kiln::round_to_int32(c.v) == c.want);
  }
  CHECK(kiln::detail::quantize_value<std::uint8_t>(2.5f, 10.f) == 12);
  CHECK(kiln::detail::quantize_value<std::uint8_t>(-20.5f, 10.f) == 0);
  CHECK(kiln::detail::quantize_value<std::uint8_t>(1e9f, 10.f) == 255);
  CHECK(kiln::detail::quantize_value<std::uint8_t>(nan, 10.f) == 0);
  CHECK(kiln::detail::quantize_value<std::int8_t>(-3.5f, -1.f) == -5);
  CHECK(kiln::detail::quantize_value<std::int8_t>(nan, 5.f) == -128);
  CHECK(kiln::detail::quantize_value<std::int8_t>(-inf, 5.f) == -128);
  CHECK(kiln::detail::quantize_value<std::int8_t>(inf, 5.f) == 127);
}

// quantize_linear's loop (vectorized where the target allows) against a scalar reference:
// std::nearbyint, the zero point, saturation and NaN to the minimum, element by element. Ties,
// values near the saturation bounds, huge ones and non-finite ones, per tensor and per axis.
template <class Y> void check_quantize_linear(std::mt19937& rng) {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const kiln::quant_params p{2, 3, 37};  // 37: whole vectors and a tail
  std::vector<float> x(2 * 3 * 37);
  std::uniform_real_distribution<float> wide(-400.f, 400.f);
  std::uniform_int_distribution<int> ties(-600, 600);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = i % 3 == 0 ? static_cast<float>(ties(rng)) * 0.5f : wide(rng);
  x[5] = nan;
  x[6] = inf;
  x[7] = -inf;
  x[8] = 3e9f;
  x[9] = -3e9f;
  const float scale[3] = {0.5f, 1.f, 0.75f};
  const Y zp[3] = {Y(std::numeric_limits<Y>::min() / 2 + 3), Y(0), Y(std::numeric_limits<Y>::max() / 2)};
  std::vector<Y> got(x.size());
  kiln::quantize_linear(p, x.data(), scale, zp, got.data());
  for (std::size_t i = 0; i < x.size(); ++i) {
    const std::size_t a = i / 37 % 3;
    const float v = x[i] / scale[a];
    double want = std::isnan(v) ? -HUGE_VAL : static_cast<double>(std::nearbyint(v)) + zp[a];
    want = std::fmax(want, std::numeric_limits<Y>::min());
    want = std::fmin(want, std::numeric_limits<Y>::max());
    CAPTURE(i);
    CAPTURE(x[i]);
    CHECK(+got[i] == static_cast<int>(want));
  }
}

TEST_CASE("quantize_linear over runs equals element-wise rounding and saturation") {
  std::mt19937 rng(31);
  for (int round = 0; round < 20; ++round) {
    check_quantize_linear<std::uint8_t>(rng);
    check_quantize_linear<std::int8_t>(rng);
  }
}
