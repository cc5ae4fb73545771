// The packed int8 dense kernel (packed/qdense.hpp) on whichever architecture this build selected
// against the reference kernels kiln::qgemm, kiln::qgemm_float and kiln::qlinear_matmul, bit for
// bit: int8 and uint8 A and B, 8-bit and float outputs, per-tensor and per-column scales and zero
// points, C folded (per column, scalar) or added at run time (per row, full), transposes, and row,
// column and depth counts around the tile, panel and quad widths.
#include <kiln/ops/qlinear.hpp>
#include <kiln/ops/quant.hpp>
#include <kiln/packed/qdense.hpp>

#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using kiln::index_t;

struct lcg {
  std::uint32_t s;
  std::uint32_t next() { return s = s * 1664525u + 1013904223u; }
  float uniform() { return static_cast<float>(next() >> 8) / 16777216.f; }  // [0, 1)
  int range(int lo, int hi) { return lo + static_cast<int>((next() >> 8) % static_cast<std::uint32_t>(hi - lo + 1)); }
  template <class T> T value() { return static_cast<T>(range(std::numeric_limits<T>::min(), std::numeric_limits<T>::max())); }
};

const index_t ms[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
const index_t ns[] = {1, 15, 16, 17, 63, 64, 65, 130};
const index_t ks[] = {1, 3, 4, 5, 64, 300};

enum class c_kind { none, scalar, column, row, full };

struct options {
  bool per_column = false;  // scales and b zero points per column
  bool b_zero_points = true;  // false: no b zero point tensor
  bool trans_a = false, trans_b = false;
  c_kind c = c_kind::none;
};

std::string describe(index_t m, index_t n, index_t k) {
  return "m" + std::to_string(m) + " n" + std::to_string(n) + " k" + std::to_string(k);
}

// Scales that spread the outputs over the 8-bit range for accumulators of k terms.
float random_scale(lcg& rng, index_t k) { return (0.5f + rng.uniform()) / (64.f * static_cast<float>(k) + 256.f); }

// QGemm: reference qgemm / qgemm_float against packed::qdense, prepared as codegen prepares it.
template <class A, class B, class Y> void check_qgemm(const options& o) {
  lcg rng{42};
  constexpr bool float_out = std::is_same_v<Y, float>;
  for (index_t m : ms)
    for (index_t n : ns)
      for (index_t k : ks) {
        CAPTURE(describe(m, n, k));
        kiln::qgemm_params p{m, n, k, o.trans_a, o.trans_b, 0, 0, o.per_column ? n : 1, o.per_column ? n : 1};
        std::vector<A> a(static_cast<std::size_t>(m * k));
        std::vector<B> b(static_cast<std::size_t>(k * n)), b_zp(static_cast<std::size_t>(p.b_zp_count));
        for (auto& v : a) v = rng.value<A>();
        for (auto& v : b) v = rng.value<B>();
        for (auto& v : b_zp) v = rng.value<B>();
        const A a_zp = rng.value<A>();
        const Y y_zp = float_out ? Y(0) : static_cast<Y>(rng.range(std::numeric_limits<Y>::min(), std::numeric_limits<Y>::max()));
        std::vector<std::int32_t> c;
        switch (o.c) {
          case c_kind::none: break;
          case c_kind::scalar: c.resize(1); break;
          case c_kind::column: c.resize(static_cast<std::size_t>(n)), p.c_stride_n = 1; break;
          case c_kind::row: c.resize(static_cast<std::size_t>(m)), p.c_stride_m = 1; break;
          case c_kind::full: c.resize(static_cast<std::size_t>(m * n)), p.c_stride_m = n, p.c_stride_n = 1; break;
        }
        for (auto& v : c) v = rng.range(-20000, 20000);
        std::vector<float> scales(static_cast<std::size_t>(p.scale_count));
        for (auto& v : scales) v = random_scale(rng, k);
        std::vector<std::int32_t> rq;
        for (float s : scales) {
          const auto r = kiln::requant_from_float(s);
          rq.push_back(r.mantissa);
          rq.push_back(r.exponent);
        }
        const B* bzp = o.b_zero_points ? b_zp.data() : nullptr;
        const std::int32_t* cp = c.empty() ? nullptr : c.data();
        std::vector<Y> want(static_cast<std::size_t>(m * n)), got(want.size());
        if constexpr (float_out)
          kiln::qgemm_float(p, a.data(), &a_zp, b.data(), bzp, cp, scales.data(), want.data());
        else
          kiln::qgemm(p, a.data(), &a_zp, b.data(), bzp, cp, rq.data(), &y_zp, want.data());
        // Codegen folds a C that does not vary along M and passes the others at run time.
        const bool fold_c = cp && p.c_stride_m == 0;
        std::vector<std::int8_t> packed(kiln::packed::qdense_weight_count(n, k));
        std::vector<std::int32_t> zp(static_cast<std::size_t>(p.b_zp_count)), bias(static_cast<std::size_t>(n));
        bool fits = true;
        const bool any = kiln::packed::prepare_qdense(b.data(), n, k, o.trans_b ? 1 : n, o.trans_b ? k : 1, bzp,
                                                      p.b_zp_count, fold_c ? cp : nullptr, p.c_stride_n, a_zp,
                                                      std::is_signed_v<A>, packed.data(), zp.data(), bias.data(), &fits);
        CHECK(fits);
        std::vector<std::int32_t> scratch(kiln::packed::qdense_scratch_bytes(m, k) / 4 + 1);
        kiln::packed::qdense(p, a.data(), packed.data(), any ? zp.data() : nullptr, bias.data(),
                             fold_c ? nullptr : cp, scales.data(), float_out ? nullptr : &y_zp, got.data(),
                             scratch.data());
        for (std::size_t i = 0; i < want.size(); ++i) {
          if constexpr (float_out) {
            REQUIRE(std::memcmp(&got[i], &want[i], sizeof(float)) == 0);
          } else {
            REQUIRE(+got[i] == +want[i]);
          }
        }
      }
}

// QLinearMatMul with a constant 2-D B: reference qlinear_matmul against packed::qdense; a batch
// of A's rows folds into m.
template <class A, class B, class Y> void check_qmatmul(bool per_column, bool b_zero_points, index_t batch) {
  lcg rng{9};
  for (index_t m : ms)
    for (index_t n : ns)
      for (index_t k : ks) {
        CAPTURE(describe(m, n, k));
        kiln::qmatmul_params p{};
        p.m = m;
        p.n = n;
        p.k = k;
        p.batch_rank = 1;
        p.batch_count = batch;
        p.batch_dims[0] = batch;
        p.batch_strides[0][0] = m * k;
        p.batch_strides[1][0] = 0;
        p.a_zp_count = 1;
        p.b_zp_count = per_column ? n : 1;
        p.rq_count = per_column ? n : 1;
        std::vector<A> a(static_cast<std::size_t>(batch * m * k));
        std::vector<B> b(static_cast<std::size_t>(k * n)), b_zp(static_cast<std::size_t>(p.b_zp_count));
        for (auto& v : a) v = rng.value<A>();
        for (auto& v : b) v = rng.value<B>();
        for (auto& v : b_zp) v = rng.value<B>();
        const A a_zp = rng.value<A>();
        const Y y_zp = rng.value<Y>();
        std::vector<float> scales(static_cast<std::size_t>(p.rq_count));
        for (auto& v : scales) v = random_scale(rng, k);
        const B* bzp = b_zero_points ? b_zp.data() : nullptr;
        std::vector<Y> want(static_cast<std::size_t>(batch * m * n)), got(want.size());
        kiln::qlinear_matmul(p, a.data(), &a_zp, b.data(), bzp, scales.data(), &y_zp, want.data());
        const kiln::qgemm_params q{batch * m, n, k, false, false, 0, 0, p.b_zp_count, p.rq_count};
        std::vector<std::int8_t> packed(kiln::packed::qdense_weight_count(n, k));
        std::vector<std::int32_t> zp(static_cast<std::size_t>(p.b_zp_count)), bias(static_cast<std::size_t>(n));
        const bool any = kiln::packed::prepare_qdense(b.data(), n, k, n, 1, bzp, p.b_zp_count,
                                                      static_cast<const std::int32_t*>(nullptr), 0, a_zp,
                                                      std::is_signed_v<A>, packed.data(), zp.data(), bias.data());
        std::vector<std::int32_t> scratch(kiln::packed::qdense_scratch_bytes(q.m, k) / 4 + 1);
        kiln::packed::qdense(q, a.data(), packed.data(), any ? zp.data() : nullptr, bias.data(), nullptr,
                             scales.data(), &y_zp, got.data(), scratch.data());
        for (std::size_t i = 0; i < want.size(); ++i) REQUIRE(+got[i] == +want[i]);
      }
}

}  // namespace

TEST_CASE("packed QGemm equals the reference bit for bit") {
  using u8 = std::uint8_t;
  using s8 = std::int8_t;
  SUBCASE("u8 a, s8 b, u8 y, per tensor, column C") { check_qgemm<u8, s8, u8>({false, true, false, false, c_kind::column}); }
  SUBCASE("u8 a, s8 b, u8 y, per column, no C, no b zero point") { check_qgemm<u8, s8, u8>({true, false, false, false, c_kind::none}); }
  SUBCASE("u8 a, u8 b, u8 y, per column, scalar C, transB") { check_qgemm<u8, u8, u8>({true, true, false, true, c_kind::scalar}); }
  SUBCASE("u8 a, u8 b, u8 y, per tensor, no b zero point") { check_qgemm<u8, u8, u8>({false, false, false, false, c_kind::column}); }
  SUBCASE("s8 a, s8 b, s8 y, per tensor, transA, row C") { check_qgemm<s8, s8, s8>({false, true, true, false, c_kind::row}); }
  SUBCASE("s8 a, s8 b, s8 y, per column, transA and transB, full C") { check_qgemm<s8, s8, s8>({true, true, true, true, c_kind::full}); }
  SUBCASE("u8 a, s8 b, float y, per column, column C") { check_qgemm<u8, s8, float>({true, true, false, true, c_kind::column}); }
  SUBCASE("s8 a, s8 b, float y, per tensor, no C") { check_qgemm<s8, s8, float>({false, true, false, false, c_kind::none}); }
  SUBCASE("u8 a, u8 b, float y, per tensor, full C") { check_qgemm<u8, u8, float>({false, true, true, false, c_kind::full}); }
}

TEST_CASE("packed QLinearMatMul equals the reference bit for bit") {
  using u8 = std::uint8_t;
  using s8 = std::int8_t;
  SUBCASE("u8 a, s8 b, u8 y, per tensor") { check_qmatmul<u8, s8, u8>(false, true, 1); }
  SUBCASE("u8 a, u8 b, s8 y, per column") { check_qmatmul<u8, u8, s8>(true, true, 1); }
  SUBCASE("s8 a, s8 b, s8 y, per column, no b zero point") { check_qmatmul<s8, s8, s8>(true, false, 1); }
  SUBCASE("s8 a, u8 b, u8 y, per tensor, batch of 3") { check_qmatmul<s8, u8, u8>(false, true, 3); }
  SUBCASE("u8 a, s8 b, s8 y, per column, batch of 5 (more than qdense_rows rows)") { check_qmatmul<u8, s8, s8>(true, true, 5); }
}

TEST_CASE("the dense int8 tile equals the generic one") {
  lcg rng{17};
  constexpr index_t k4 = 37, W = 64;
  std::vector<std::uint8_t> a(4 * k4 * 4);
  std::vector<std::int8_t> b(static_cast<std::size_t>(k4 * W * 4));
  for (auto& v : a) v = rng.value<std::uint8_t>();
  for (auto& v : b) v = rng.value<std::int8_t>();
  a[0] = 255;
  b[0] = -128;
  std::int32_t want[4 * W], got[4 * W];
  kiln::arch::generic::int8_dense_tile<4, W>(k4, a.data(), k4 * 4, 4, b.data(), 4 * W, want);
  constexpr index_t NB = kiln::arch::active::s8_dense_nb >= W ? W : kiln::arch::active::s8_dense_nb;
  for (index_t j0 = 0; j0 < W; j0 += NB) {
    std::int32_t t[4 * NB];
    kiln::arch::active::int8_dense_tile<4, NB>(k4, a.data(), k4 * 4, 4, b.data() + 4 * j0, 4 * W, t);
    for (index_t r = 0; r < 4; ++r)
      for (index_t j = 0; j < NB; ++j) got[r * W + j0 + j] = t[r * NB + j];
  }
  for (index_t i = 0; i < 4 * W; ++i) REQUIRE(got[i] == want[i]);
  // and the scalar cores' tile (Cortex-M without vector units), 2 columns at a time
  for (index_t j0 = 0; j0 < W; j0 += 2) {
    std::int32_t t[4 * 2];
    kiln::arch::generic::int8_dense_tile_scalar<4, 2>(k4, a.data(), k4 * 4, 4, b.data() + 4 * j0, 4 * W, t);
    for (index_t r = 0; r < 4; ++r)
      for (index_t j = 0; j < 2; ++j) REQUIRE(t[r * 2 + j] == want[r * W + j0 + j]);
  }
}
