// The architecture's row passes (arch/*/rows.hpp: bias, residual, activation, the int8 column
// term; quantize_row, qlinear_add_row) against the portable loops and the reference ops, bit for
// bit: lengths below, at, above and at multiples of a vector, on values that include NaN,
// infinities, signed zeros and the clip bounds themselves.
#include <kiln/ops/quant.hpp>
#include <kiln/ops/qlinear.hpp>
#include <kiln/packed/epilogue.hpp>
#include <kiln/packed/pool.hpp>
#include <kiln/packed/qlinear.hpp>
#include <kiln/packed/quant.hpp>

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace {

using kiln::index_t;
namespace active = kiln::arch::active;
namespace generic = kiln::arch::generic;
namespace pd = kiln::packed::detail;

std::vector<float> row_values(index_t n, std::uint32_t seed) {
  static const float special[] = {std::numeric_limits<float>::quiet_NaN(), -0.f, 0.f, 6.f, -1.f,
                                  std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                                  1e-40f, -1e-40f};
  std::vector<float> v(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) {
    seed = seed * 1664525u + 1013904223u;
    v[static_cast<std::size_t>(i)] = (seed >> 28) < 3 ? special[(seed >> 8) % 9]
                                                        : static_cast<float>(static_cast<int>(seed >> 9) % 2001 - 1000) / 100.f;
  }
  return v;
}

// Equal bit patterns (NaN to NaN, -0 to -0).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

template <class Act> void check_float_rows(const char* name, Act act) {
  for (index_t n = 0; n <= 70; ++n)
    for (const float b : {0.f, -0.f, 0.25f}) {
      CAPTURE(name);
      CAPTURE(n);
      CAPTURE(b);
      const auto c = row_values(n, static_cast<std::uint32_t>(n) * 7u + 1u);
      const auto r = row_values(n, static_cast<std::uint32_t>(n) * 13u + 5u);
      std::vector<float> want(c.size() + 1, 42.f), got(c.size() + 1, 42.f);  // one past the row: untouched
      generic::store_row(want.data(), nullptr, c.data(), b, n, act);
      active::store_row(got.data(), nullptr, c.data(), b, n, act);
      CHECK(same_bits(got, want));
      generic::store_row(want.data(), r.data(), c.data(), b, n, act);
      active::store_row(got.data(), r.data(), c.data(), b, n, act);
      CHECK(same_bits(got, want));
      generic::activate_row(want.data(), c.data(), n, act);
      active::activate_row(got.data(), c.data(), n, act);
      CHECK(same_bits(got, want));
      auto in_place = c;  // y = x
      active::activate_row(in_place.data(), in_place.data(), n, act);
      CHECK(same_bits(in_place, std::vector<float>(want.begin(), want.end() - 1)));
    }
}

}  // namespace

TEST_CASE("the architecture's row passes equal the portable loops") {
  check_float_rows("none", pd::act_none{});
  check_float_rows("relu", pd::act_relu{});
  check_float_rows("clip", pd::act_clip{-1.f, 6.f});
  check_float_rows("leaky_relu", pd::act_any{kiln::activation{kiln::act_kind::leaky_relu, 0.125f, 0.f}});
}

TEST_CASE("the activation functors on a float follow ONNX Relu and Clip") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  CHECK(pd::act_relu{}(-2.f) == 0.f);
  CHECK(pd::act_relu{}(3.f) == 3.f);
  CHECK(std::signbit(pd::act_relu{}(-0.f)));  // max(-0, 0) as v < 0 ? 0 : v
  CHECK(std::isnan(pd::act_relu{}(nan)));
  CHECK(pd::act_clip{-1.f, 6.f}(-7.f) == -1.f);
  CHECK(pd::act_clip{-1.f, 6.f}(7.f) == 6.f);
  CHECK(pd::act_clip{-1.f, 6.f}(2.5f) == 2.5f);
  CHECK(std::isnan(pd::act_clip{-1.f, 6.f}(nan)));
}

TEST_CASE("the architecture's int8 column term equals the portable loop") {
  for (index_t n = 0; n <= 70; ++n) {
    CAPTURE(n);
    std::vector<std::int32_t> colsum(static_cast<std::size_t>(n)), want(static_cast<std::size_t>(n) + 1, 7);
    std::uint32_t s = static_cast<std::uint32_t>(n) + 11u;
    for (auto& v : colsum) v = static_cast<std::int32_t>((s = s * 1664525u + 1013904223u) >> 12) - (1 << 19);
    for (std::size_t j = 0; j < colsum.size(); ++j) want[j] = static_cast<std::int32_t>(j) * 1000 - 30000;
    auto got = want;
    generic::add_column_term(want.data(), n, -12345, 131, colsum.data());
    active::add_column_term(got.data(), n, -12345, 131, colsum.data());
    CHECK(got == want);
  }
}

namespace {
// Rows of every length to 200 (below, at and past one, two and three 64-byte vectors), starting
// at every offset within a vector, with the extreme values in runs: the int32 sum as the plain
// loop makes it, and nothing read but the row (the bytes around it are the extremes too).
template <class T> void check_sum_rows() {
  constexpr auto lo = std::numeric_limits<T>::min(), hi = std::numeric_limits<T>::max();
  std::vector<T> buffer(200 + 64 + 64);
  std::uint32_t s = 5;
  for (auto& v : buffer) {
    s = s * 1664525u + 1013904223u;
    v = (s >> 29) == 0 ? lo : (s >> 29) == 1 ? hi : static_cast<T>(s >> 20);
  }
  for (index_t n = 0; n <= 200; ++n)
    for (index_t offset : {0, 1, 31, 63}) {
      CAPTURE(n);
      CAPTURE(offset);
      const T* x = buffer.data() + offset;
      std::int32_t want = 0;
      for (index_t i = 0; i < n; ++i) want += static_cast<std::int32_t>(x[i]);
      CHECK(generic::sum_row(x, n) == want);
      CHECK(active::sum_row(x, n) == want);
    }
  std::vector<T> all_hi(4096, hi), all_lo(4096, lo);
  CHECK(active::sum_row(all_hi.data(), 4096) == 4096 * static_cast<std::int32_t>(hi));
  CHECK(active::sum_row(all_lo.data(), 4096) == 4096 * static_cast<std::int32_t>(lo));
}

// The packed int8 global average pool against the reference, planar, channels-last and from
// channel blocks, on planes of 1 to 130 positions (DS-CNN's is 125).
template <class T> void check_packed_gap() {
  for (index_t image : {1, 9, 63, 64, 65, 125, 130})
    for (bool channels_last : {false, true}) {
      CAPTURE(image);
      CAPTURE(channels_last);
      const index_t batch = 2, channels = 19;
      const auto rq = kiln::requant_from_float(0.61f / static_cast<float>(image));
      const kiln::qlinear_gap_params p{batch, channels, image, channels_last, -5 * image, rq.mantissa, rq.exponent, 2};
      std::vector<T> x(static_cast<std::size_t>(batch * channels * image));
      std::uint32_t s = static_cast<std::uint32_t>(image);
      for (auto& v : x) v = static_cast<T>((s = s * 1664525u + 1013904223u) >> 24);
      std::vector<T> want(static_cast<std::size_t>(batch * channels) + 1, T(9)), got = want;
      kiln::qlinear_global_average_pool<T>(p, x.data(), want.data());
      kiln::packed::qlinear_global_average_pool<T>(p, x.data(), got.data());
      CHECK(got == want);
      if (channels_last) continue;
      // From channel blocks ([C / 16][position][16]): two blocks of 16, the same sums.
      const index_t blocked_channels = 32, L = kiln::packed::channel_block;
      kiln::qlinear_gap_params pb = p;
      pb.channels = blocked_channels;
      std::vector<T> xp(static_cast<std::size_t>(batch * blocked_channels * image)), xb(xp.size());
      for (auto& v : xp) v = static_cast<T>((s = s * 1664525u + 1013904223u) >> 24);
      for (index_t n = 0; n < batch; ++n)
        for (index_t c = 0; c < blocked_channels; ++c)
          for (index_t i = 0; i < image; ++i)
            xb[static_cast<std::size_t>((n * blocked_channels + c - c % L) * image + i * L + c % L)] =
                xp[static_cast<std::size_t>((n * blocked_channels + c) * image + i)];
      std::vector<T> want_b(static_cast<std::size_t>(batch * blocked_channels) + 1, T(9)), got_b = want_b;
      kiln::qlinear_global_average_pool<T>(pb, xp.data(), want_b.data());
      kiln::packed::qlinear_global_average_pool_blocked<T>(pb, xb.data(), got_b.data());
      CHECK(got_b == want_b);
    }
}
}  // namespace

TEST_CASE("the architecture's 8-bit row sums equal the plain loop") {
  check_sum_rows<std::uint8_t>();
  check_sum_rows<std::int8_t>();
}

TEST_CASE("packed QLinearGlobalAveragePool equals the reference") {
  check_packed_gap<std::uint8_t>();
  check_packed_gap<std::int8_t>();
}

namespace {
template <class Y> void check_quantize_rows() {
  const float scales[] = {0.05f, 1.f / 3.f, 0.5f, 2.f};
  for (index_t n = 0; n <= 70; ++n)
    for (const float scale : scales)
      for (const int zp : {0, 1, 100, -100, 127}) {
        if (zp < std::numeric_limits<Y>::min() || zp > std::numeric_limits<Y>::max()) continue;
        CAPTURE(n);
        CAPTURE(scale);
        CAPTURE(zp);
        auto x = row_values(n, static_cast<std::uint32_t>(n) * 31u + 3u);
        for (index_t i = 0; i < n; i += 5) x[static_cast<std::size_t>(i)] = (static_cast<float>(i % 17) - 8.5f) * scale;  // ties
        if (n > 3) x[3] = 1e30f;
        const Y zero_point = static_cast<Y>(zp);
        std::vector<Y> want(static_cast<std::size_t>(n) + 1, Y(42)), got = want, fast = want;
        kiln::quantize_linear(kiln::quant_params{1, 1, n}, x.data(), &scale, &zero_point, want.data());
        active::quantize_row(x.data(), n, scale, static_cast<float>(zp), got.data());
        kiln::packed::quantize_linear(kiln::quant_params{1, 1, n}, x.data(), &scale, &zero_point, fast.data());
        CHECK(got == want);
        CHECK(fast == want);
      }
}
}  // namespace

TEST_CASE("the architecture's quantize rows equal the reference QuantizeLinear") {
  check_quantize_rows<std::uint8_t>();
  check_quantize_rows<std::int8_t>();
}

TEST_CASE("packed QuantizeLinear per axis equals the reference") {
  const index_t outer = 2, axis = 3, inner = 37;
  const auto x = row_values(outer * axis * inner, 99u);
  const float scale[axis] = {0.1f, 0.02f, 3.f};
  const std::int8_t zp[axis] = {-3, 0, 12};
  std::vector<std::int8_t> want(x.size()), got(x.size());
  kiln::quantize_linear(kiln::quant_params{outer, axis, inner}, x.data(), scale, zp, want.data());
  kiln::packed::quantize_linear(kiln::quant_params{outer, axis, inner}, x.data(), scale, zp, got.data());
  CHECK(got == want);
}

namespace {
struct add_ratios {
  float rx, rz, fixed;
};
// Ratios of real models' scales, extremes whose sums leave int32 (cvtps2dq's -2^31, then T's
// minimum), and a NaN constant.
const add_ratios add_cases[] = {{0.5f, 0.5f, 0.f},       {1.f / 3.f, 0.7f, -37.25f}, {0.01f, 2.1f, 130.5f},
                                {3.9f, 0.2f, -300.f},    {1.1f, 0.9f, -127.f},       {1e9f, 1.f, 0.f},
                                {1e9f, -1e9f, 0.5f},     {0.5f, 0.5f, std::numeric_limits<float>::quiet_NaN()}};

template <class T> std::vector<T> bytes(index_t n, std::uint32_t seed) {
  std::vector<T> v(static_cast<std::size_t>(n));
  for (auto& e : v) e = static_cast<T>((seed = seed * 1664525u + 1013904223u) >> 24);
  return v;
}

// The element without fused multiply-adds: what an unfused vector path would compute.
// volatile: each product rounded on its own (GCC contracts a * b + c into an FMA by default).
template <class T> T unfused_add(T x, T z, const add_ratios& r) {
  const volatile float zr = static_cast<float>(z) * r.rz;
  const volatile float inner = zr + r.fixed;
  const volatile float xr = static_cast<float>(x) * r.rx;
  const float v = xr + inner;
  return kiln::detail::sat<T>(kiln::detail::cvtps2dq(v));
}

template <index_t SX, index_t SZ, class T> void check_qlinear_add_rows() {
  for (index_t n = 0; n <= 70; ++n)
    for (const auto& r : add_cases) {
      CAPTURE(n);
      CAPTURE(SX);
      CAPTURE(SZ);
      CAPTURE(r.rx);
      const auto x = bytes<T>(n + 1, static_cast<std::uint32_t>(n) * 7u + 1u), z = bytes<T>(n + 1, static_cast<std::uint32_t>(n) + 99u);
      std::vector<T> want(static_cast<std::size_t>(n) + 1, T(42)), got = want;
      for (index_t i = 0; i < n; ++i)
        want[static_cast<std::size_t>(i)] = kiln::detail::qlinear_add_value(x[static_cast<std::size_t>(i * SX)],
                                                                            z[static_cast<std::size_t>(i * SZ)], r.rx, r.rz, r.fixed);
      active::qlinear_add_row<SX, SZ>(x.data(), z.data(), n, r.rx, r.rz, r.fixed, got.data());
      for (std::size_t i = 0; i <= static_cast<std::size_t>(n); ++i) {  // the element past n included: untouched
        CAPTURE(i);
        CHECK(+got[i] == +want[i]);
      }
      if (SX == 1) {  // in place over x
        auto y = x;
        active::qlinear_add_row<SX, SZ>(y.data(), z.data(), n, r.rx, r.rz, r.fixed, y.data());
        for (index_t i = 0; i < n; ++i) CHECK(+y[static_cast<std::size_t>(i)] == +want[static_cast<std::size_t>(i)]);
      }
    }
}

// Every pair of bytes through one row; the count of pairs where fusing the multiply-adds changes
// the result (so the test tells a fused row from an unfused one).
template <class T> int check_every_pair(const add_ratios& r) {
  std::vector<T> x, z;
  for (int i = 0; i < 256; ++i)
    for (int j = 0; j < 256; ++j) {
      x.push_back(static_cast<T>(i));
      z.push_back(static_cast<T>(j));
    }
  const auto n = static_cast<index_t>(x.size());
  std::vector<T> got(x.size());
  active::qlinear_add_row<1, 1>(x.data(), z.data(), n, r.rx, r.rz, r.fixed, got.data());
  int fusing_matters = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    CAPTURE(i);
    REQUIRE(+got[i] == +kiln::detail::qlinear_add_value(x[i], z[i], r.rx, r.rz, r.fixed));
    fusing_matters += got[i] != unfused_add(x[i], z[i], r);
  }
  return fusing_matters;
}
}  // namespace

TEST_CASE("the architecture's QLinearAdd rows equal the reference element, fused multiply-adds included") {
  check_qlinear_add_rows<1, 1, std::uint8_t>();
  check_qlinear_add_rows<1, 0, std::uint8_t>();
  check_qlinear_add_rows<0, 1, std::uint8_t>();
  check_qlinear_add_rows<1, 1, std::int8_t>();
  check_qlinear_add_rows<0, 1, std::int8_t>();
  int fusing_matters = 0;
  for (const auto& r : add_cases) {
    fusing_matters += check_every_pair<std::uint8_t>(r);
    fusing_matters += check_every_pair<std::int8_t>(r);
  }
  CHECK(fusing_matters > 0);
}

TEST_CASE("packed QLinearAdd equals the reference on every broadcast") {
  // [3, 37] outputs; b as the same shape, one scalar, one value per row (strided: the reference).
  kiln::qlinear_binary_params p{};
  p.rank = 2;
  p.count = 3 * 37;
  p.dims[0] = 3;
  p.dims[1] = 37;
  p.ratio_a = 0.37f;
  p.ratio_b = 1.3f;
  p.fixed = -21.5f;
  p.strides[0][0] = 37;
  p.strides[0][1] = 1;
  const index_t b_strides[][2] = {{37, 1}, {0, 0}, {1, 0}};
  const auto a = bytes<std::uint8_t>(p.count, 5u), b = bytes<std::uint8_t>(p.count, 6u);
  for (const auto& s : b_strides)
    for (const bool swap : {false, true}) {
      CAPTURE(s[0]);
      CAPTURE(swap);
      p.strides[1][0] = s[0];
      p.strides[1][1] = s[1];
      p.swap = swap;
      std::vector<std::uint8_t> want(a.size()), got(a.size());
      kiln::qlinear_add(p, a.data(), b.data(), want.data());
      kiln::packed::qlinear_add(p, a.data(), b.data(), got.data());
      CHECK(got == want);
      // And a scalar a, as ONNX Runtime hands it to MLAS second.
      p.strides[0][0] = p.strides[0][1] = 0;
      kiln::qlinear_add(p, a.data(), b.data(), want.data());
      kiln::packed::qlinear_add(p, a.data(), b.data(), got.data());
      CHECK(got == want);
      p.strides[0][0] = 37;
      p.strides[0][1] = 1;
    }
}

// MLAS's QLinearMul rounds the scaled product, then adds the output zero point (two float32
// roundings). Built for a host with FMA (these tests are -march=native), GCC contracted the two
// into one fused multiply-add unless the kernel rounds the product explicitly.
TEST_CASE("QLinearMul rounds the product before adding the zero point, as MLAS") {
  std::vector<std::uint8_t> a, b;
  for (int i = 0; i < 256; ++i)
    for (int j = 0; j < 256; ++j) {
      a.push_back(static_cast<std::uint8_t>(i));
      b.push_back(static_cast<std::uint8_t>(j));
    }
  kiln::qlinear_binary_params p{};
  p.rank = 1;
  p.count = static_cast<index_t>(a.size());
  p.dims[0] = p.count;
  p.strides[0][0] = p.strides[1][0] = 1;
  p.a_zp = p.b_zp = 128;
  std::vector<std::uint8_t> y(a.size());
  int fusing_matters = 0;
  for (const float ratio : {0.0123f, 0.00731f, 0.0456f, 0.1f, 0.0789f})
    for (const int zc : {0, 17, 128, 250}) {
      CAPTURE(ratio);
      CAPTURE(zc);
      p.ratio = ratio;
      p.c_zp = zc;
      kiln::qlinear_mul(p, a.data(), b.data(), y.data());
      for (std::size_t i = 0; i < a.size(); ++i) {
        const float prod = static_cast<float>((a[i] - 128) * (b[i] - 128));
        const volatile float scaled = prod * ratio;  // volatile: rounded on its own
        const auto want = kiln::detail::sat<std::uint8_t>(kiln::detail::cvtps2dq(scaled + static_cast<float>(zc)));
        CAPTURE(i);
        REQUIRE(+y[i] == +want);
        fusing_matters += want != kiln::detail::sat<std::uint8_t>(kiln::detail::cvtps2dq(std::fma(prod, ratio, static_cast<float>(zc))));
      }
    }
  CHECK(fusing_matters > 0);
}
