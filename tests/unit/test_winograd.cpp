// Which 3x3 convs lower to the Winograd kernels under kiln compile --winograd (ops/nn.cpp), and
// with which output tile. Their numbers are checked in tests/arch (against the reference conv)
// and on the zoo (zoo_check_winograd_*: against ONNX Runtime).
#include <doctest/doctest.h>

#include "graph_builder.hpp"

#include <string>
#include <vector>

using namespace kiln::cg;

namespace {

// The kernel each conv of a graph lowers to: 3x3 same convs of (channels, plane) in sequence, one
// strided at the end, each on its own input.
std::vector<std::string> kernels(graph::winograd_mode mode, bool packed = true) {
  test::builder b;
  struct shape {
    std::int64_t channels, plane;
  };
  const shape shapes[] = {{16, 32}, {64, 8}, {64, 14}, {32, 16}, {256, 7}, {32, 56}, {16, 28}, {32, 14},
                          {8, 32},  {64, 6}, {32, 7},  {32, 8},  {16, 7},   {16, 8},  {16, 14}, {8, 16}};
  int k = 0;
  for (const auto& s : shapes) {
    const auto x = b.input("x" + std::to_string(k), {1, s.channels, s.plane, s.plane});
    b.output(b.conv(x, "conv" + std::to_string(k++), {1, s.channels, s.plane, s.plane}, 3, 1, 1));
  }
  const auto x = b.input("xs", {1, 64, 56, 56});
  b.output(b.conv(x, "strided", {1, 64, 28, 28}, 3, 1, 1, 2));
  b.g.packed_kernels = packed;
  b.g.winograd = mode;
  std::vector<std::string> names;
  for (const auto& layer : lower_graph(b.g, registry::builtin()).layers) names.push_back(layer.kernel);
  return names;
}

}  // namespace

TEST_CASE("--winograd auto takes the convs where the transforms measured faster") {
  const std::string direct = "kiln::packed::conv", f2 = "kiln::packed::conv_winograd<2>",
                    f4 = "kiln::packed::conv_winograd<4>";
  const auto measured = kernels(graph::winograd_mode::measured);
  REQUIRE(measured.size() == 17);
  CHECK(measured[0] == f4);       // 16 channels on 32x32
  CHECK(measured[1] == f2);       // 64 on 8x8
  CHECK(measured[2] == f4);       // 64 on 14x14
  CHECK(measured[3] == f2);       // 32 on 16x16
  CHECK(measured[4] == f2);       // 256 on 7x7
  CHECK(measured[5] == f4);       // 32 on 56x56
  CHECK(measured[6] == direct);   // 16 on 28x28
  CHECK(measured[7] == f4);       // 32 on 14x14
  CHECK(measured[8] == f4);       // 8 on 32x32
  CHECK(measured[9] == direct);   // 64 on 6x6
  CHECK(measured[10] == f2);      // 32 on 7x7
  CHECK(measured[11] == f2);      // 32 on 8x8
  CHECK(measured[12] == f2);      // 16 on 7x7
  CHECK(measured[13] == direct);  // 16 on 8x8
  CHECK(measured[14] == direct);  // 16 on 14x14
  CHECK(measured[15] == direct);  // 8 on 16x16
  CHECK(measured[16] == direct);  // stride 2: no Winograd form
}

TEST_CASE("--winograd 2x2 or 4x4 takes every 3x3 stride-1 conv; off and the reference kernels none") {
  const auto f2 = kernels(graph::winograd_mode::tile_2x2), f4 = kernels(graph::winograd_mode::tile_4x4);
  const auto off = kernels(graph::winograd_mode::off), reference = kernels(graph::winograd_mode::measured, false);
  REQUIRE(f2.size() == 17);
  REQUIRE(f4.size() == 17);
  for (std::size_t i = 0; i < 16; ++i) {
    CAPTURE(i);
    CHECK(f2[i] == "kiln::packed::conv_winograd<2>");
    CHECK(f4[i] == "kiln::packed::conv_winograd<4>");
    CHECK(off[i] == "kiln::packed::conv");
    CHECK(reference[i] == "kiln::conv<float>");
  }
  CHECK(f4[16] == "kiln::packed::conv");
}
