// The reference kernels of include/kiln/ops on small inputs whose results are worked out by hand
// (in the comments), plus the SIMD instructions the fast kernels build on, run on the target (the
// host, or aarch64 under qemu). Every expected value is a small integer or half-integer, exact in
// float, so the comparisons are exact.
#include <doctest/doctest.h>

#include <kiln/kiln.hpp>

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

#if defined(__ARM_NEON)
#include <arm_neon.h>
#endif
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif
#if defined(KILN_HAVE_XSIMD)
#include <xsimd/xsimd.hpp>
#endif

namespace {

template <class T>
void expect_values(const T* got, std::initializer_list<T> want) {
  std::size_t i = 0;
  for (const T w : want) {
    INFO("element " << i);
    CHECK(got[i] == w);
    ++i;
  }
}

kiln::conv_params conv2d(kiln::index_t cin, kiln::index_t cout, kiln::index_t group, kiln::index_t h,
                         kiln::index_t w, kiln::index_t k, kiln::index_t stride, kiln::index_t pad,
                         kiln::act_kind act = kiln::act_kind::none) {
  const kiln::index_t oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
  return kiln::conv_params{1, cin, cout, group, {1, h, w}, {1, oh, ow}, {1, k, k}, {1, stride, stride},
                           {1, 1, 1}, {0, pad, pad}, {act, 0.f, 0.f}};
}

}  // namespace

TEST_CASE("conv 1x1: two input channels, three output channels, bias and fused relu") {
  // x (NCHW, 1x2x2x2): channel 0 = 1 2 3 4, channel 1 = -1 0 1 2.
  const float x[] = {1, 2, 3, 4, -1, 0, 1, 2};
  // w[m][c]: m0 = x0 + x1, m1 = 2*x0 - x1, m2 = -x0.
  const float w[] = {1, 1, 2, -1, -1, 0};
  const float bias[] = {0.5f, 0, 2.5f};
  float y[12] = {};
  kiln::conv(conv2d(2, 3, 1, 2, 2, 1, 1, 0, kiln::act_kind::relu), x, w, bias, y);
  // m0: 0 2 4 6 + 0.5; m1: 3 4 5 6; m2: 2.5 - (1 2 3 4) = 1.5 0.5 -0.5 -1.5, relu -> 1.5 0.5 0 0.
  expect_values(y, {0.5f, 2.5f, 4.5f, 6.5f, 3.f, 4.f, 5.f, 6.f, 1.5f, 0.5f, 0.f, 0.f});
}

TEST_CASE("conv 3x3 with zero padding: window sums and tap orientation, stride 1 and 2") {
  // One 3x3 input channel:  1 2 3 / 4 5 6 / 7 8 9.
  const float x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  // m0: all ones (sum of the 3x3 neighbourhood); m1: only the top-left tap, so y(i,j) = x(i-1,j-1),
  // which tells correlation (ONNX) from a flipped kernel.
  const float w[] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0};
  SUBCASE("stride 1") {
    float y[18] = {};
    kiln::conv(conv2d(1, 2, 1, 3, 3, 3, 1, 1), x, w, static_cast<const float*>(nullptr), y);
    expect_values(y, {12.f, 21.f, 16.f, 27.f, 45.f, 33.f, 24.f, 39.f, 28.f,  // neighbourhood sums
                      0.f, 0.f, 0.f, 0.f, 1.f, 2.f, 0.f, 4.f, 5.f});         // shifted down-right
  }
  SUBCASE("stride 2") {
    float y[8] = {};
    kiln::conv(conv2d(1, 2, 1, 3, 3, 3, 2, 1), x, w, static_cast<const float*>(nullptr), y);
    expect_values(y, {12.f, 16.f, 24.f, 28.f, 0.f, 0.f, 0.f, 5.f});  // the corners of the above
  }
}

TEST_CASE("depthwise conv 2x2 (group = channels), no padding") {
  // channel 0: 1..9 row-major; channel 1: 9..1.
  const float x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  // channel 0: x(i,j) - x(i+1,j+1) = -4 everywhere; channel 1: x(i,j+1) + 2*x(i+1,j).
  const float w[] = {1, 0, 0, -1, 0, 1, 2, 0};
  const float bias[] = {1, -1};
  float y[8] = {};
  kiln::conv(conv2d(2, 2, 2, 3, 3, 2, 1, 0), x, w, bias, y);
  // channel 1: 8+2*6=20, 7+2*5=17, 5+2*3=11, 4+2*2=8, minus 1.
  expect_values(y, {-3.f, -3.f, -3.f, -3.f, 19.f, 16.f, 10.f, 7.f});
}

TEST_CASE("gemm: transposed B, alpha, beta, C broadcast along rows, fused relu") {
  const float a[] = {1, 2, 3, 4, 5, 6};   // 2x3
  const float bt[] = {1, 0, -1, 2, 1, 0};  // B stored transposed (2x3), so op(B) = [[1 2] [0 1] [-1 0]]
  const float c[] = {10, -40};            // one row, broadcast to both rows
  float y[4] = {};
  const kiln::gemm_params p{2, 2, 3, false, true, 2.0, 0.5, 0, 1, {kiln::act_kind::relu, 0.f, 0.f}};
  kiln::gemm(p, a, bt, c, y);
  // A op(B) = [[-2 4] [-2 13]]; 2*that + 0.5*C = [[1 -12] [1 6]]; relu -> [[1 0] [1 6]].
  expect_values(y, {1.f, 0.f, 1.f, 6.f});
}

TEST_CASE("matmul: two batches of A against one broadcast B") {
  const float a[] = {1, 2, 3, -1};    // batch 0: [1 2], batch 1: [3 -1] (each 1x2)
  const float b[] = {1, 1, 0, 2};     // [[1 1] [0 2]], shared (batch stride 0)
  float y[4] = {};
  kiln::matmul_params p{};
  p.m = 1;
  p.n = 2;
  p.k = 2;
  p.batch_rank = 1;
  p.batch_count = 2;
  p.batch_dims[0] = 2;
  p.batch_strides[0][0] = 2;
  p.batch_strides[1][0] = 0;
  kiln::matmul(p, a, b, y);
  expect_values(y, {1.f, 5.f, 3.f, 1.f});  // [1 1+4], [3 3-2]
}

TEST_CASE("relu and a broadcast add") {
  const float x[] = {-2, -0.5f, 0, 3};
  float r[4] = {1, 1, 1, 1};
  kiln::unary<kiln::op::relu>(kiln::unary_params{4, 0, 0, 0}, x, r);
  expect_values(r, {0.f, 0.f, 0.f, 3.f});

  const float a[] = {0, 1, 2, 3, 4, 5};  // 2x3
  const float b[] = {10, 20, 30};        // 1x3, broadcast over rows
  float y[6] = {};
  kiln::binary_params p{};
  p.rank = 2;
  p.count = 6;
  p.dims[0] = 2;
  p.dims[1] = 3;
  p.strides[0][0] = 3;
  p.strides[0][1] = 1;
  p.strides[1][0] = 0;
  p.strides[1][1] = 1;
  p.a_count = 6;
  p.b_count = 3;
  kiln::binary<kiln::op::add>(p, a, b, y);
  expect_values(y, {10.f, 21.f, 32.f, 13.f, 24.f, 35.f});
}

TEST_CASE("requantize rounds half to even and saturates") {
  const kiln::requant_params half = kiln::requant_from_float(0.5f);
  CHECK(kiln::requantize(3, half) == 2);    // 1.5
  CHECK(kiln::requantize(5, half) == 2);    // 2.5
  CHECK(kiln::requantize(7, half) == 4);    // 3.5
  CHECK(kiln::requantize(-3, half) == -2);  // -1.5
  CHECK(kiln::requantize(-5, half) == -2);  // -2.5
  CHECK(kiln::requantize_saturate(1000, half, 10, -128, 127) == 127);
  CHECK(kiln::requantize_saturate(-1000, half, 10, -128, 127) == -128);
  CHECK(kiln::requantize_saturate(20, half, 10, -128, 127) == 20);
}

TEST_CASE("qlinear_conv int8 1x1 with zero points, ties and saturation") {
  // Two input channels over five positions, x_zp = 2, w = [2 -3], bias 4, scale 0.25, y_zp = -3:
  // acc = 4 + 2*(x0 - 2) - 3*(x1 - 2) = 2*x0 - 3*x1 + 6.
  const std::int8_t x[] = {10, 20, 30, 127, 18, -5, 0, 5, -128, 0};
  const std::int8_t x_zp[] = {2};
  const std::int8_t w[] = {2, -3};
  const std::int8_t w_zp[] = {0};
  const float scale[] = {0.25f};
  const std::int32_t bias[] = {4};
  const std::int8_t y_zp[] = {-3};
  std::int8_t y[5] = {};
  const kiln::qconv_params p{1, 2, 1, 1, {1, 1, 5}, {1, 1, 5}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {0, 0, 0}, 1, 1};
  kiln::qlinear_conv(p, x, x_zp, w, w_zp, scale, bias, y_zp, y);
  // acc 41 46 51 644 42 -> x0.25: 10.25 11.5 12.75 161 10.5 -> half to even: 10 12 13 161 10
  // -> plus y_zp: 7 9 10 158 (saturates to 127) 7.
  const std::int8_t want[] = {7, 9, 10, 127, 7};
  for (int i = 0; i < 5; ++i) {
    INFO("position " << i);
    CHECK(int(y[i]) == int(want[i]));
  }
}

#if defined(__has_include)
#if __has_include(<kiln/arch/dispatch.hpp>)
#include <kiln/arch/dispatch.hpp>
// The fast kernels this build must run (kiln/arch/dispatch.hpp picks them): the portable ones when
// KILN_ARCH_GENERIC is set, the xsimd ones on AVX2/AVX-512/NEON targets when the build made xsimd
// visible (KILN_HAVE_XSIMD, tests/arch/CMakeLists.txt). This fails if, say, the aarch64 build
// quietly fell back to the generic kernels, leaving the NEON paths compiled but never run.
TEST_CASE("the build runs the architecture kernels it was configured for") {
#if defined(KILN_ARCH_GENERIC)
  const std::string want = "generic";
#elif defined(KILN_HAVE_XSIMD) && (defined(__AVX2__) || defined(__AVX512F__) || defined(__ARM_NEON))
  const std::string want = "xsimd";
#else
  const std::string want = "generic";
#endif
  const std::string active = kiln::arch::active_name;
  MESSAGE("active kernels: " << active);
  CHECK(active == want);
}
#endif
#endif

#if defined(__ARM_FEATURE_DOTPROD) || defined(__ARM_NEON) || (defined(__AVX2__) && defined(__FMA__))
TEST_CASE("the target executes the SIMD instructions the fast kernels use") {
  std::int8_t a[16], b[16];
  float fa[8], fb[8], fc[8];
  for (int i = 0; i < 16; ++i) {
    a[i] = static_cast<std::int8_t>(i * 17 - 128);  // -128 .. 127
    b[i] = static_cast<std::int8_t>(100 - i * 13);   // 100 .. -95
  }
  for (int i = 0; i < 8; ++i) {
    fa[i] = float(i + 1);
    fb[i] = float(3 - i);
    fc[i] = float(10 * i);
  }
#if defined(__ARM_FEATURE_DOTPROD)
  SUBCASE("SDOT: four int8 dot products of length 4") {
    std::int32_t got[4];
    vst1q_s32(got, vdotq_s32(vdupq_n_s32(1), vld1q_s8(a), vld1q_s8(b)));
    for (int lane = 0; lane < 4; ++lane) {
      std::int32_t want = 1;
      for (int j = 0; j < 4; ++j) want += std::int32_t(a[4 * lane + j]) * std::int32_t(b[4 * lane + j]);
      INFO("lane " << lane);
      CHECK(got[lane] == want);
    }
  }
#endif
#if defined(__ARM_NEON) && defined(__aarch64__)
  SUBCASE("NEON: fused multiply-add and widening int8 multiply") {
    float got[4];
    vst1q_f32(got, vfmaq_f32(vld1q_f32(fc), vld1q_f32(fa), vld1q_f32(fb)));
    for (int i = 0; i < 4; ++i) CHECK(got[i] == fc[i] + fa[i] * fb[i]);
    std::int16_t wide[8];
    vst1q_s16(wide, vmull_s8(vld1_s8(a), vld1_s8(b)));
    for (int i = 0; i < 8; ++i) CHECK(int(wide[i]) == int(a[i]) * int(b[i]));
  }
#endif
#if defined(__AVX2__) && defined(__FMA__)
  SUBCASE("AVX2: fused multiply-add and int16 multiply-add pairs") {
    float got[8];
    _mm256_storeu_ps(got, _mm256_fmadd_ps(_mm256_loadu_ps(fa), _mm256_loadu_ps(fb), _mm256_loadu_ps(fc)));
    for (int i = 0; i < 8; ++i) CHECK(got[i] == fc[i] + fa[i] * fb[i]);
    std::int16_t s[16], t[16];
    for (int i = 0; i < 16; ++i) {
      s[i] = a[i];
      t[i] = b[i];
    }
    std::int32_t pairs[8];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(pairs),
                        _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(s)),
                                          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t))));
    for (int i = 0; i < 8; ++i) CHECK(pairs[i] == s[2 * i] * t[2 * i] + s[2 * i + 1] * t[2 * i + 1]);
  }
#endif
}
#endif

#if defined(KILN_HAVE_XSIMD)
TEST_CASE("xsimd: a float dot product over full batches and a scalar tail") {
  using batch = xsimd::batch<float>;
  constexpr std::size_t n = 37;  // not a multiple of any batch width
  float x[n], y[n];
  float want = 0;
  for (std::size_t i = 0; i < n; ++i) {
    x[i] = float(int(i % 7) - 3);
    y[i] = float(int(i % 5) + 1);
    want += x[i] * y[i];
  }
  batch acc(0.f);
  std::size_t i = 0;
  for (; i + batch::size <= n; i += batch::size) acc = xsimd::fma(batch::load_unaligned(x + i), batch::load_unaligned(y + i), acc);
  float got = xsimd::hadd(acc);
  for (; i < n; ++i) got += x[i] * y[i];
  const std::string arch = xsimd::default_arch::name();
  INFO("xsimd arch " << arch << ", batch of " << batch::size);
  CHECK(got == want);
}
#endif
