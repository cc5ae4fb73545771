// The fusion stage on small hand-built graphs: which Conv + Add pairs fold into one conv with a
// residual input (stages/fuse.cpp), and which must stay apart. The numbers the fused kernels give
// are checked in tests/arch (against conv, add, activation one after another) and on the zoo's
// ResNet-8 (against ONNX Runtime).
#include <doctest/doctest.h>

#include "graph_builder.hpp"

#include <string>
#include <vector>

using namespace kiln::cg;

namespace {

// A 3x3 same conv from 4 to 4 channels on 6x6.
struct builder : kiln::cg::test::builder {
  using kiln::cg::test::builder::conv;
  tensor_id conv(tensor_id x, const std::string& name, std::int64_t group = 1) {
    return conv(x, name, {1, 4, 6, 6}, 3, group, 1);
  }
};

const dims_t plane{1, 4, 6, 6};

}  // namespace

TEST_CASE("a Conv, the Add of a residual and a Relu become one conv") {
  for (int side = 0; side < 2; ++side) {  // the conv as either operand of the Add
    builder b;
    const auto x = b.input("x", plane), r = b.input("r", plane);
    const auto c = b.conv(x, "c");
    const auto a = b.value("a", plane), y = b.value("y", plane);
    b.add("Add", side == 0 ? std::vector<tensor_id>{c, r} : std::vector<tensor_id>{r, c}, {a});
    b.add("Relu", {a}, {y});
    b.output(y);
    fuse(b.g);
    REQUIRE(b.g.nodes.size() == 1);
    const auto& n = b.g.nodes[0];
    CHECK(n.op_type == "Conv");
    REQUIRE(n.inputs.size() == 4);
    CHECK(n.inputs[3] == r);
    CHECK(n.outputs[0] == y);
    CHECK(n.get_int("__kiln_act", 0) == static_cast<int>(kiln::act_kind::relu));  // applied after the add
  }
}

TEST_CASE("of two convs joined by an Add, the later one takes the other as its residual") {
  builder b;
  const auto x = b.input("x", plane);
  const auto c1 = b.conv(x, "c1"), c2 = b.conv(x, "c2");
  const auto y = b.value("y", plane);
  b.add("Add", {c1, c2}, {y});  // c2 is computed after c1: only c2's conv can add c1
  b.output(y);
  fuse(b.g);
  REQUIRE(b.g.nodes.size() == 2);
  CHECK(b.g.nodes[0].inputs.size() == 3);
  REQUIRE(b.g.nodes[1].inputs.size() == 4);
  CHECK(b.g.nodes[1].inputs[3] == c1);
  CHECK(b.g.nodes[1].outputs[0] == y);
}

TEST_CASE("an Add stays apart where folding it would change the result or the order") {
  // x -> Conv c (group `group`) -> Add(c, other) -> y; the node count fuse() leaves.
  const auto conv_add_nodes = [](std::int64_t group, bool broadcast, bool conv_output_read_too) {
    builder b;
    const auto c = b.conv(b.input("x", plane), "c", group);
    const auto y = b.value("y", plane);
    b.add("Add", {c, broadcast ? b.constant("shift", {1, 4, 1, 1}) : b.input("r", plane)}, {y});
    if (conv_output_read_too) b.output(c);
    b.output(y);
    fuse(b.g);
    return b.g.nodes.size();
  };
  SUBCASE("one thing changed from a Conv + Add that fuses") {
    CHECK(conv_add_nodes(1, false, false) == 1);  // the one that fuses
    CHECK(conv_add_nodes(1, true, false) == 2);   // a broadcast operand
    CHECK(conv_add_nodes(1, false, true) == 2);   // the conv's output read elsewhere too
    CHECK(conv_add_nodes(2, false, false) == 2);  // a grouped conv
  }
  SUBCASE("the residual computed after the conv") {
    builder b;
    const auto x = b.input("x", plane);
    const auto c = b.conv(x, "c");
    const auto r = b.value("r", plane), y = b.value("y", plane);
    b.add("Relu", {x}, {r});  // a node after the conv that the Add waits for
    b.add("Add", {c, r}, {y});
    b.output(y);
    fuse(b.g);
    CHECK(b.g.nodes.size() == 3);
  }
  SUBCASE("an activation already between the conv and the Add") {
    builder b;
    const auto c = b.conv(b.input("x", plane), "c");
    const auto h = b.value("h", plane), y = b.value("y", plane);
    b.add("Relu", {c}, {h});
    b.add("Add", {h, b.input("r", plane)}, {y});
    b.output(y);
    fuse(b.g);
    REQUIRE(b.g.nodes.size() == 2);  // Relu into the conv, the Add after it
    CHECK(b.g.nodes[1].op_type == "Add");
  }
  SUBCASE("a BatchNormalization after the fused Add does not fold into the conv") {
    builder b;
    const auto c = b.conv(b.input("x", plane), "c");
    const auto a = b.value("a", plane), y = b.value("y", plane);
    b.add("Add", {c, b.input("r", plane)}, {a});
    b.add("BatchNormalization",
          {a, b.constant("s", {4}, 2.f), b.constant("t", {4}), b.constant("m", {4}), b.constant("v", {4}, 1.f)}, {y});
    b.output(y);
    fuse(b.g);
    REQUIRE(b.g.nodes.size() == 2);  // the Add folded; the BN would scale the residual too
    CHECK(b.g.nodes[0].inputs.size() == 4);
    CHECK(b.g.nodes[1].op_type == "BatchNormalization");
  }
}
