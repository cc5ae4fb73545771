// The layout stage on small hand-built graphs: which tensors between depthwise and pointwise convs
// stay in channel blocks (stages/layout.cpp), and the kernels lowering then picks. The numbers of
// the blocked kernels are checked in tests/arch (against the reference conv) and on the zoo's
// DS-CNN and MobileNet (against ONNX Runtime).
#include <doctest/doctest.h>

#include "graph_builder.hpp"

#include <cstring>
#include <string>
#include <vector>

using namespace kiln::cg;

namespace {

struct builder : kiln::cg::test::builder {
  using kiln::cg::test::builder::conv;
  tensor_id depthwise(tensor_id x, const std::string& name) {
    const auto& d = g.at(x).dims;
    return conv(x, name, d, 3, d[1], 1);
  }
  tensor_id pointwise(tensor_id x, const std::string& name, std::int64_t m, std::int64_t stride = 1) {
    const auto& d = g.at(x).dims;
    return conv(x, name, {d[0], m, (d[2] - 1) / stride + 1, (d[3] - 1) / stride + 1}, 1, 1, 0, stride);
  }
  tensor_id pool(tensor_id x) {
    const auto y = value("pooled", {g.at(x).dims[0], g.at(x).dims[1], 1, 1});
    add("GlobalAveragePool", {x}, {y});
    output(y);
    return y;
  }
  // An AveragePool of a k x k window, stride k, no padding.
  tensor_id average_pool(tensor_id x, std::int64_t k) {
    const auto& d = g.at(x).dims;
    const auto y = value("averaged", {d[0], d[1], d[2] / k, d[3] / k});
    node& n = add("AveragePool", {x}, {y});
    n.attrs["kernel_shape"] = ints({k, k});
    n.attrs["strides"] = ints({k, k});
    output(y);
    return y;
  }
  tensor_id relu(tensor_id x) {
    const auto y = value("relu", g.at(x).dims);
    add("Relu", {x}, {y});
    output(y);
    return y;
  }
  bool blocked(tensor_id t) const { return g.at(t).channel_blocked; }
};

}  // namespace

TEST_CASE("tensors between depthwise and pointwise convs and a global pool are blocked") {
  builder b;
  const auto x = b.input("x", {1, 16, 10, 10});
  const auto t0 = b.conv(x, "stem", {1, 32, 10, 10}, 3, 1, 1);
  const auto t1 = b.depthwise(t0, "dw1");
  const auto t2 = b.pointwise(t1, "pw1", 32);
  const auto t3 = b.depthwise(t2, "dw2");
  const auto t4 = b.pointwise(t3, "pw2", 48);
  const auto t5 = b.depthwise(t4, "dw3");
  const auto t6 = b.pointwise(t5, "pw3", 32);
  const auto y = b.pool(t6);
  b.g.packed_kernels = true;
  block_channels(b.g);
  CHECK_FALSE(b.blocked(x));
  CHECK_FALSE(b.blocked(t0));  // written by a 3x3 conv
  for (auto t : {t1, t2, t3, t4, t5, t6}) CHECK(b.blocked(t));
  CHECK_FALSE(b.blocked(y));  // a graph output

  // Each layer then lowers to the kernel for its pair of layouts.
  const auto l = lower_graph(b.g, registry::builtin());
  std::vector<std::string> kernels;
  for (const auto& layer : l.layers) kernels.push_back(layer.kernel);
  const std::string planar = "kiln::packed::channel_layout::planar", blocked = "kiln::packed::channel_layout::blocked";
  REQUIRE(kernels.size() == 8);
  CHECK(kernels[0] == "kiln::packed::conv");
  CHECK(kernels[1] == "kiln::packed::depthwise_by_layout<" + planar + ", " + blocked + ">");
  CHECK(kernels[2] == "kiln::packed::pointwise<" + blocked + ">");
  CHECK(kernels[3] == "kiln::packed::depthwise_by_layout<" + blocked + ", " + blocked + ">");
  CHECK(kernels[4] == "kiln::packed::pointwise<" + blocked + ">");
  CHECK(kernels[5] == "kiln::packed::depthwise_by_layout<" + blocked + ", " + blocked + ">");
  CHECK(kernels[6] == "kiln::packed::pointwise<" + blocked + ">");
  CHECK(kernels[7] == "kiln::packed::global_average_pool_blocked");
}

TEST_CASE("an AveragePool over the whole plane reads blocks; a smaller window does not") {
  for (std::int64_t k : {6, 3}) {
    CAPTURE(k);
    builder b;
    const auto t1 = b.depthwise(b.input("x", {1, 16, 6, 6}), "dw1");
    const auto t2 = b.depthwise(t1, "dw2");
    b.average_pool(t2, k);
    block_channels(b.g);
    CHECK(b.blocked(t1));
    CHECK(b.blocked(t2) == (k == 6));
  }
}

TEST_CASE("a chain of pointwise convs ending in a planar reader stays planar throughout") {
  builder b;
  const auto x = b.input("x", {1, 16, 4, 4});
  const auto t1 = b.pointwise(x, "pw1", 16);
  const auto t2 = b.pointwise(t1, "pw2", 32);
  const auto t3 = b.pointwise(t2, "pw3", 16);
  b.relu(t3);
  b.g.packed_kernels = true;
  block_channels(b.g);
  // pw3 writes for a Relu, so reads planar; then so must pw2 write, and pw1.
  CHECK_FALSE(b.blocked(t1));
  CHECK_FALSE(b.blocked(t2));
  CHECK_FALSE(b.blocked(t3));
}

// dw1 -> t1 -> dw2 -> t2 -> (a pool), on `channels` channels; `extra` adds readers or outputs of
// t1 before the stage runs. Returns whether t1 ends up blocked.
template <class Extra> bool between_depthwise_pair_blocked(std::int64_t channels, Extra&& extra) {
  builder b;
  const auto t1 = b.depthwise(b.input("x", {1, channels, 6, 6}), "dw1");
  b.pool(b.depthwise(t1, "dw2"));
  extra(b, t1);
  block_channels(b.g);
  return b.blocked(t1);
}

TEST_CASE("graph outputs, other readers, partial blocks and other geometries keep a tensor planar") {
  CHECK(between_depthwise_pair_blocked(16, [](builder&, tensor_id) {}));  // the control
  CHECK_FALSE(between_depthwise_pair_blocked(16, [](builder& b, tensor_id t1) { b.output(t1); }));
  CHECK_FALSE(between_depthwise_pair_blocked(16, [](builder& b, tensor_id t1) { b.relu(t1); }));
  CHECK_FALSE(between_depthwise_pair_blocked(24, [](builder&, tensor_id) {}));  // not whole blocks
  SUBCASE("a strided 1x1 conv is not a pointwise one") {
    builder b;
    const auto t1 = b.depthwise(b.input("x", {1, 16, 6, 6}), "dw1");
    const auto t2 = b.pointwise(t1, "pw", 16, 2);
    b.pool(b.depthwise(t2, "dw2"));
    block_channels(b.g);
    CHECK_FALSE(b.blocked(t1));
    CHECK_FALSE(b.blocked(t2));
  }
}

TEST_CASE("a zero Pad before the pool (PyTorch's AveragePool export) is looked through") {
  for (std::int64_t pad : {0, 1}) {
    CAPTURE(pad);
    builder b;
    const auto t1 = b.depthwise(b.input("x", {1, 16, 6, 6}), "dw1");
    const auto t2 = b.depthwise(t1, "dw2");
    const auto padded = b.value("padded", {1, 16, 6 + 2 * pad, 6 + 2 * pad});
    const auto pads = b.value("pads", {8});
    b.g.at(pads).type = kiln::dtype::i64;
    b.g.at(pads).value = to_bytes(std::vector<std::int64_t>{0, 0, pad, pad, 0, 0, pad, pad});
    b.add("Pad", {t2, pads}, {padded});
    b.average_pool(padded, 6 + 2 * pad);
    block_channels(b.g);
    CHECK(b.blocked(t2) == (pad == 0));
    CHECK(b.blocked(padded) == (pad == 0));
  }
}

TEST_CASE("pointwise convs on small planes take blocks too (MobileNet's 3x3 tail)") {
  for (std::int64_t side : {1, 3, 4}) {
    CAPTURE(side);
    builder b;
    const auto t1 = b.depthwise(b.input("x", {1, 16, side, side}), "dw1");
    const auto t2 = b.pointwise(t1, "pw", 32);
    b.pool(t2);
    b.g.packed_kernels = true;
    block_channels(b.g);
    CHECK(b.blocked(t1));
    CHECK(b.blocked(t2));
    const auto l = lower_graph(b.g, registry::builtin());
    REQUIRE(l.layers.size() == 3);
    CHECK(l.layers[1].kernel == "kiln::packed::pointwise<kiln::packed::channel_layout::blocked>");
  }
}

namespace {

// QLinearConv graphs: uint8 activations (scale 0.05, zero point 128), int8 weights (scale 0.01,
// zero point 0), int32 bias; `x_zp` replaces a layer's input zero point (a non-constant one).
struct qbuilder : builder {
  tensor_id scalar(const std::string& name, kiln::dtype t, std::int64_t v) {
    const auto id = value(name, {});
    g.at(id).type = t;
    if (t == kiln::dtype::u8) g.at(id).value = std::vector<std::uint8_t>{static_cast<std::uint8_t>(v)};
    else g.at(id).value = std::vector<std::uint8_t>{static_cast<std::uint8_t>(static_cast<std::int8_t>(v))};
    return id;
  }
  tensor_id qconv(tensor_id x, const std::string& name, const dims_t& out, std::int64_t k, std::int64_t group,
                  std::int64_t pad, tensor_id x_zp = no_tensor) {
    const std::int64_t c = g.at(x).dims[1], m = out[1];
    const auto w = value(name + "_w", {m, c / group, k, k});
    g.at(w).type = kiln::dtype::i8;
    g.at(w).value = std::vector<std::uint8_t>(static_cast<std::size_t>(g.at(w).count()), 3);
    const auto bias = value(name + "_b", {m});
    g.at(bias).type = kiln::dtype::i32;
    g.at(bias).value = to_bytes(std::vector<std::int32_t>(static_cast<std::size_t>(m), 100));
    const auto y = value(name, out);
    g.at(y).type = kiln::dtype::u8;
    node& n = add("QLinearConv",
                  {x, constant(name + "_xs", {}, 0.05f), x_zp == no_tensor ? scalar(name + "_xz", kiln::dtype::u8, 128) : x_zp,
                   w, constant(name + "_ws", {}, 0.01f), scalar(name + "_wz", kiln::dtype::i8, 0),
                   constant(name + "_ys", {}, 0.05f), scalar(name + "_yz", kiln::dtype::u8, 128), bias},
                  {y});
    n.opset = 10;
    n.attrs["pads"] = ints({pad, pad, pad, pad});
    attribute grp;
    grp.type = attribute::kind::i;
    grp.i = group;
    n.attrs["group"] = grp;
    return y;
  }
  tensor_id qdepthwise(tensor_id x, const std::string& name) {
    const auto& d = g.at(x).dims;
    return qconv(x, name, d, 3, d[1], 1);
  }
  tensor_id qpointwise(tensor_id x, const std::string& name, std::int64_t m, tensor_id x_zp = no_tensor) {
    const auto& d = g.at(x).dims;
    return qconv(x, name, {d[0], m, d[2], d[3]}, 1, 1, 0, x_zp);
  }
  tensor_id qinput(const std::string& name, dims_t dims) {
    const auto x = input(name, std::move(dims));
    g.at(x).type = kiln::dtype::u8;
    return x;
  }
};

}  // namespace

TEST_CASE("int8 tensors between depthwise and pointwise QLinearConvs are blocked") {
  qbuilder b;
  const auto x = b.qinput("x", {1, 16, 10, 10});
  const auto t0 = b.qconv(x, "stem", {1, 32, 10, 10}, 3, 1, 1);
  const auto t1 = b.qdepthwise(t0, "dw1");
  const auto t2 = b.qpointwise(t1, "pw1", 48);
  const auto t3 = b.qdepthwise(t2, "dw2");
  const auto t4 = b.qpointwise(t3, "pw2", 32);
  b.output(t4);
  b.g.packed_kernels = true;
  block_channels(b.g);
  CHECK_FALSE(b.blocked(x));
  CHECK_FALSE(b.blocked(t0));  // written by a 3x3 conv
  CHECK(b.blocked(t1));
  CHECK(b.blocked(t2));
  CHECK_FALSE(b.blocked(t3));  // read by a pointwise conv that writes a planar tensor
  CHECK_FALSE(b.blocked(t4));  // a graph output

  const auto l = lower_graph(b.g, registry::builtin());
  std::vector<std::string> kernels;
  for (const auto& layer : l.layers) kernels.push_back(layer.kernel);
  const std::string planar = "kiln::packed::channel_layout::planar", blocked = "kiln::packed::channel_layout::blocked";
  const std::string types = "std::uint8_t, std::int8_t, std::uint8_t";
  REQUIRE(kernels.size() == 5);
  CHECK(kernels[0] == "kiln::packed::qlinear_conv<std::uint8_t, std::uint8_t>");
  CHECK(kernels[1] == "kiln::packed::qlinear_depthwise_by_layout<" + planar + ", " + blocked + ", " + types + ">");
  CHECK(kernels[2] == "kiln::packed::qlinear_pointwise<" + blocked + ", std::uint8_t, std::uint8_t>");
  CHECK(kernels[3] == "kiln::packed::qlinear_depthwise_by_layout<" + blocked + ", " + planar + ", " + types + ">");
  CHECK(kernels[4] == "kiln::packed::qlinear_conv<std::uint8_t, std::uint8_t>");  // writes the planar output
  // Both depthwise layers also get their weights and bias packed as lane quads (constant, int8
  // weights): arguments 4 and 5, which the call passes through KILN_LANE_QUADS.
  for (std::size_t i : {1, 3}) {
    CAPTURE(i);
    const auto& dw = l.layers[i];
    REQUIRE(dw.lane_quad_args == std::vector<int>{4, 5});
    const auto channels = static_cast<std::size_t>(b.g.at(dw.args[0]).dims[1]);  // 32, then 48
    const auto& quads = b.g.at(dw.args[4]);
    const auto& quad_bias = b.g.at(dw.args[5]);
    REQUIRE(quads.type == kiln::dtype::u32);
    REQUIRE(quads.value->size() == channels * 3 * 4);  // a word per kernel row and channel
    REQUIRE(quad_bias.value->size() == channels * 4);
    // Every weight 3 (zero point 0): a row's quad holds 3, 3, 3 and a zero fourth byte; the bias
    // folds the input zero point 128 over the 9 taps: 100 - 128 * 27.
    std::uint32_t word;
    std::int32_t folded;
    std::memcpy(&word, quads.value->data() + 4 * (channels * 3 - 1), 4);
    std::memcpy(&folded, quad_bias.value->data() + 4 * (channels - 1), 4);
    CHECK(word == 0x00030303u);
    CHECK(folded == 100 - 128 * 27);
  }
}

TEST_CASE("int8 pointwise convs on a 3x3 plane and the QLinearGlobalAveragePool after them take blocks") {
  // MobileNet int8's tail.
  qbuilder b;
  const auto t1 = b.qdepthwise(b.qinput("x", {1, 16, 3, 3}), "dw1");
  const auto t2 = b.qpointwise(t1, "pw1", 32);
  const auto t3 = b.qdepthwise(t2, "dw2");
  const auto t4 = b.qpointwise(t3, "pw2", 32);
  const auto y = b.value("pooled", {1, 32, 1, 1});
  b.g.at(y).type = kiln::dtype::u8;
  node& gap = b.add("QLinearGlobalAveragePool",
                    {t4, b.constant("gap_xs", {}, 0.05f), b.scalar("gap_xz", kiln::dtype::u8, 128),
                     b.constant("gap_ys", {}, 0.05f), b.scalar("gap_yz", kiln::dtype::u8, 128)},
                    {y});
  gap.domain = "com.microsoft";
  gap.opset = 1;
  b.output(y);
  b.g.packed_kernels = true;
  block_channels(b.g);
  for (auto t : {t1, t2, t3, t4}) CHECK(b.blocked(t));
  CHECK_FALSE(b.blocked(y));

  const auto l = lower_graph(b.g, registry::builtin());
  REQUIRE(l.layers.size() == 5);
  const std::string blocked = "kiln::packed::channel_layout::blocked";
  CHECK(l.layers[1].kernel == "kiln::packed::qlinear_pointwise<" + blocked + ", std::uint8_t, std::uint8_t>");
  CHECK(l.layers[3].kernel == "kiln::packed::qlinear_pointwise<" + blocked + ", std::uint8_t, std::uint8_t>");
  CHECK(l.layers[4].kernel == "kiln::packed::qlinear_global_average_pool_blocked<std::uint8_t>");
}

TEST_CASE("an int8 pointwise conv with a zero point known only at run time keeps its tensors planar") {
  for (bool constant_zp : {true, false}) {
    CAPTURE(constant_zp);
    qbuilder b;
    const auto t1 = b.qdepthwise(b.qinput("x", {1, 16, 6, 6}), "dw1");
    const auto zp = constant_zp ? no_tensor : b.qinput("zp", {});
    const auto t2 = b.qpointwise(t1, "pw", 32, zp);
    b.output(b.qdepthwise(t2, "dw2"));
    b.g.packed_kernels = true;
    block_channels(b.g);
    CHECK(b.blocked(t1) == constant_zp);
    CHECK(b.blocked(t2) == constant_zp);
  }
}
