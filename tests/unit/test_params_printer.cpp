// Params and weights print as literals that read back to the same bits.
#include <doctest/doctest.h>

#include "params_reflect.hpp"

#include <cstdlib>
#include <cstring>
#include <random>

using namespace kiln::cg;

static std::uint32_t bits(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

TEST_CASE("float literals round-trip exactly") {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::uint32_t b = rng();
    float f;
    std::memcpy(&f, &b, 4);
    if (f != f || f - f != 0) continue;  // nan and inf print as builtins
    std::string s = print_float(f, true);
    REQUIRE(s.back() == 'f');
    s.pop_back();
    CHECK(bits(std::strtof(s.c_str(), nullptr)) == b);
  }
  CHECK(print_float(-0.0, true) == "-0.0f");
  CHECK(print_float(1.0, true) == "1.0f");
  CHECK(print_float(1.0 / 0.0, true) == "__builtin_inff()");
}

TEST_CASE("params print as aggregate initializers with implied trailing zeros") {
  kiln::conv_params p{};
  p.batch = 1;
  p.in_channels = 3;
  p.out_channels = 8;
  p.group = 1;
  p.in[0] = 1; p.in[1] = 32; p.in[2] = 32;
  p.act = {kiln::act_kind::relu, 0.f, 0.f};
  CHECK(print_params(p) == "{1, 3, 8, 1, {1, 32, 32}, {}, {}, {}, {}, {}, {kiln::act_kind::relu, 0.0f, 0.0f}}");
  kiln::binary_params b{};
  b.rank = 2;
  b.strides[1][0] = 5;
  CHECK(print_params(b) == "{2, 0, {}, {{}, {5}}, 0, 0}");
}
