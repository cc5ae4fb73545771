// Which kernel QuantizeLinear lowers to (ops/quant.cpp): from float with the fast kernels the
// architecture's rows (packed/quant.hpp, checked against the reference in tests/arch/test_rows.cpp),
// otherwise the reference op.
#include <doctest/doctest.h>

#include "graph_builder.hpp"

#include <string>
#include <vector>

using namespace kiln::cg;

namespace {

std::vector<std::string> kernels(kiln::dtype x_type, bool packed) {
  test::builder b;
  const auto x = b.input("x", {1, 3, 8, 8});
  b.g.at(x).type = x_type;
  const auto scale = b.constant("scale", {}, 0.05f);
  const auto zp = b.value("zp", {});
  b.g.at(zp).type = kiln::dtype::u8;
  b.g.at(zp).value = std::vector<std::uint8_t>{128};
  const auto y = b.value("y", {1, 3, 8, 8});
  b.add("QuantizeLinear", {x, scale, zp}, {y});
  b.output(y);
  b.g.packed_kernels = packed;
  std::vector<std::string> names;
  for (const auto& layer : lower_graph(b.g, registry::builtin()).layers) names.push_back(layer.kernel);
  return names;
}

}  // namespace

TEST_CASE("QuantizeLinear from float lowers to the architecture's rows with the fast kernels only") {
  CHECK(kernels(kiln::dtype::f32, true) == std::vector<std::string>{"kiln::packed::quantize_linear<std::uint8_t>"});
  CHECK(kernels(kiln::dtype::f32, false) == std::vector<std::string>{"kiln::quantize_linear<float, std::uint8_t>"});
  CHECK(kernels(kiln::dtype::i32, true) == std::vector<std::string>{"kiln::quantize_linear<std::int32_t, std::uint8_t>"});
}
