// Small kiln graphs built by hand for the codegen stages' unit tests (fusion, layout).
#pragma once

#include "ops/common.hpp"
#include "stages.hpp"

#include <string>
#include <vector>

namespace kiln::cg::test {

struct builder {
  graph g;

  tensor_id value(const std::string& name, dims_t dims) {
    tensor t;
    t.name = name;
    t.dims = std::move(dims);
    t.known = true;
    return g.add_tensor(std::move(t));
  }
  tensor_id input(const std::string& name, dims_t dims) {
    const auto id = value(name, std::move(dims));
    g.at(id).is_input = true;
    g.inputs.push_back(id);
    return id;
  }
  tensor_id constant(const std::string& name, dims_t dims, float v = 0.5f) {
    const auto id = value(name, dims);
    g.at(id).value = to_bytes(std::vector<float>(static_cast<std::size_t>(g.at(id).count()), v));
    return id;
  }
  void output(tensor_id id) {
    g.at(id).is_output = true;
    g.outputs.push_back(id);
  }
  node& add(const std::string& op, std::vector<tensor_id> in, std::vector<tensor_id> out) {
    node n;
    n.name = op + std::to_string(g.nodes.size());
    n.op_type = op;
    n.opset = 13;
    n.inputs = std::move(in);
    n.outputs = std::move(out);
    g.nodes.push_back(std::move(n));
    return g.nodes.back();
  }
  // A Conv of x to `out` (N x M x H x W) with a k x k window, `group` groups and `pad` on every
  // side; constant weights and bias.
  tensor_id conv(tensor_id x, const std::string& name, const dims_t& out, std::int64_t k, std::int64_t group,
                 std::int64_t pad, std::int64_t stride = 1) {
    const auto y = value(name, out);
    const std::int64_t c = g.at(x).dims[1], m = out[1];
    node& n = add("Conv", {x, constant(name + "_w", {m, c / group, k, k}), constant(name + "_b", {m})}, {y});
    n.attrs["pads"] = ints({pad, pad, pad, pad});
    n.attrs["strides"] = ints({stride, stride});
    attribute grp;
    grp.type = attribute::kind::i;
    grp.i = group;
    n.attrs["group"] = grp;
    return y;
  }
  static attribute ints(std::vector<std::int64_t> v) {
    attribute a;
    a.type = attribute::kind::ints;
    a.ints = std::move(v);
    return a;
  }
};

}  // namespace kiln::cg::test
