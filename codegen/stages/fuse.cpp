// Stage: fusion on the folded graph.
// - Conv followed by BatchNormalization: the statistics fold into the conv's weights and bias.
// - Conv or Gemm followed by an activation (Relu, Clip with constant bounds, LeakyRelu, Sigmoid,
//   HardSigmoid, Tanh): the activation runs in the producer's output loop.
// - Conv followed by an Add of a tensor shaped as its output (a residual block's join; group 1):
//   the other operand becomes the conv's fourth input, added in its output loop before any
//   activation fused after the Add (kiln::conv_residual). The operand must be ready before the
//   conv runs: a graph input, a constant, or produced by an earlier node.
// All apply only when the intermediate tensor has no other reader and is not a graph output.
#include "../stages.hpp"

#include "../ops/common.hpp"

#include <fmt/format.h>

#include <cmath>
#include <set>

namespace kiln::cg {

namespace {

std::map<tensor_id, int> reader_counts(const graph& g) {
  std::map<tensor_id, int> n;
  for (const auto& nd : g.nodes)
    for (auto i : nd.inputs)
      if (i != no_tensor) ++n[i];
  for (auto o : g.outputs) n[o] += 1;
  return n;
}

bool all_constant(const graph& g, const node& n, std::size_t from) {
  for (std::size_t i = from; i < n.inputs.size(); ++i)
    if (n.inputs[i] == no_tensor || !g.at(n.inputs[i]).is_constant()) return false;
  return true;
}

tensor_id add_constant(graph& g, const std::string& name, const tensor& like, std::vector<float> v) {
  tensor t;
  t.name = name;
  while (g.find(t.name) != no_tensor) t.name += "_";
  t.type = dtype::f32;
  t.dims = like.dims;
  t.known = true;
  t.value = to_bytes(v);
  return g.add_tensor(std::move(t));
}

// Folds BN(x) = (x - mean) * scale / sqrt(var + eps) + bias into the conv before it.
bool fold_batch_norm(graph& g, node& conv, const node& bn) {
  if (bn.inputs.size() < 5 || bn.outputs.size() != 1 || bn.get_int("training_mode", 0) != 0) return false;
  if (!all_constant(g, bn, 1) || !g.at(conv.inputs[1]).is_constant()) return false;
  if (conv.inputs.size() > 2 && conv.inputs[2] != no_tensor && !g.at(conv.inputs[2]).is_constant()) return false;
  const auto& w = g.at(conv.inputs[1]);
  if (w.type != dtype::f32 || w.dims.empty()) return false;
  const auto m = static_cast<std::size_t>(w.dims[0]);
  const auto scale = g.at(bn.inputs[1]).as_doubles(), beta = g.at(bn.inputs[2]).as_doubles();
  const auto mean = g.at(bn.inputs[3]).as_doubles(), var = g.at(bn.inputs[4]).as_doubles();
  if (scale.size() != m || beta.size() != m || mean.size() != m || var.size() != m) return false;
  const float eps = static_cast<float>(bn.get_float("epsilon", 1e-5));
  std::vector<float> bias(m, 0.f);
  if (conv.inputs.size() > 2 && conv.inputs[2] != no_tensor) {
    const auto b = g.at(conv.inputs[2]).as_doubles();
    if (b.size() != m) return false;
    for (std::size_t i = 0; i < m; ++i) bias[i] = static_cast<float>(b[i]);
  }
  const std::size_t per = static_cast<std::size_t>(w.count()) / m;
  std::vector<float> nw(static_cast<std::size_t>(w.count()));
  const float* wv = w.data<float>();
  for (std::size_t i = 0; i < m; ++i) {
    const float s = static_cast<float>(scale[i]) / std::sqrt(static_cast<float>(var[i]) + eps);
    for (std::size_t k = 0; k < per; ++k) nw[i * per + k] = wv[i * per + k] * s;
    bias[i] = (bias[i] - static_cast<float>(mean[i])) * s + static_cast<float>(beta[i]);
  }
  const std::string base = conv.name.empty() ? "conv" : conv.name;
  const auto wid = add_constant(g, base + "_weight_bn", w, std::move(nw));
  tensor like;
  like.dims = {static_cast<std::int64_t>(m)};
  const auto bid = add_constant(g, base + "_bias_bn", like, std::move(bias));
  conv.inputs.resize(3);
  conv.inputs[1] = wid;
  conv.inputs[2] = bid;
  conv.outputs[0] = bn.outputs[0];
  return true;
}

bool has_residual(const node& conv) { return conv.inputs.size() > 3; }

// The Conv whose output an Add's operand `a` is, when the Add can fold into it with residual `r`
// (see the top of this file); the node's index, or -1.
long residual_conv(const graph& g, const std::map<tensor_id, std::size_t>& producer,
                   const std::map<tensor_id, int>& readers, const std::set<std::size_t>& removed, tensor_id a,
                   tensor_id r, tensor_id out) {
  if (a == no_tensor || r == no_tensor || a == r) return -1;
  const auto pa = producer.find(a);
  const auto ra = readers.find(a);
  if (pa == producer.end() || removed.count(pa->second) || ra == readers.end() || ra->second != 1) return -1;
  const node& conv = g.nodes[pa->second];
  if (conv.op_type != "Conv" || !conv.domain.empty() || conv.outputs.size() != 1 || conv.has("__kiln_act") ||
      has_residual(conv) || conv.get_int("group", 1) != 1)
    return -1;
  const auto &ta = g.at(a), &tr = g.at(r), &to = g.at(out);
  if (ta.type != dtype::f32 || tr.type != dtype::f32 || to.type != dtype::f32) return -1;
  if (ta.dims.empty() || ta.dims != tr.dims || ta.dims != to.dims) return -1;
  const auto pr = producer.find(r);
  if (pr != producer.end() && pr->second >= pa->second) return -1;  // computed after the conv
  return static_cast<long>(pa->second);
}

// Folds Add(conv, r) into the conv (the later conv when both operands are convs).
bool fold_residual_add(graph& g, std::map<tensor_id, std::size_t>& producer, const std::map<tensor_id, int>& readers,
                       const std::set<std::size_t>& removed, const node& add) {
  if (add.op_type != "Add" || add.inputs.size() != 2 || add.outputs.size() != 1) return false;
  long best = -1;
  tensor_id residual = no_tensor;
  for (int side = 0; side < 2; ++side) {
    const auto a = add.inputs[static_cast<std::size_t>(side)], r = add.inputs[static_cast<std::size_t>(1 - side)];
    const long c = residual_conv(g, producer, readers, removed, a, r, add.outputs[0]);
    if (c > best) {
      best = c;
      residual = r;
    }
  }
  if (best < 0) return false;
  node& conv = g.nodes[static_cast<std::size_t>(best)];
  conv.inputs.resize(3, no_tensor);
  conv.inputs.push_back(residual);
  conv.outputs[0] = add.outputs[0];
  producer[add.outputs[0]] = static_cast<std::size_t>(best);
  return true;
}

// The activation an op computes, when it can run inside a producer's output loop.
bool as_activation(const graph& g, const node& n, kiln::activation& a) {
  a = {act_kind::none, 0.f, 0.f};
  if (!n.domain.empty() || n.inputs.empty()) return false;
  if (n.op_type == "Relu") a.kind = act_kind::relu;
  else if (n.op_type == "Sigmoid") a.kind = act_kind::sigmoid;
  else if (n.op_type == "Tanh") a.kind = act_kind::tanh;
  else if (n.op_type == "LeakyRelu") { a.kind = act_kind::leaky_relu; a.alpha = static_cast<float>(n.get_float("alpha", 0.01)); }
  else if (n.op_type == "HardSigmoid") {
    a.kind = act_kind::hard_sigmoid;
    a.alpha = static_cast<float>(n.get_float("alpha", 0.2));
    a.beta = static_cast<float>(n.get_float("beta", 0.5));
  } else if (n.op_type == "Clip") {
    a.kind = act_kind::clip;
    a.alpha = -HUGE_VALF;
    a.beta = HUGE_VALF;
    if (n.opset < 11) {
      a.alpha = static_cast<float>(n.get_float("min", a.alpha));
      a.beta = static_cast<float>(n.get_float("max", a.beta));
    }
    for (std::size_t i = 1; i < n.inputs.size() && i < 3; ++i) {
      if (n.inputs[i] == no_tensor) continue;
      if (!g.at(n.inputs[i]).is_constant() || g.at(n.inputs[i]).count() != 1) return false;
      (i == 1 ? a.alpha : a.beta) = static_cast<float>(g.at(n.inputs[i]).as_doubles()[0]);
    }
  } else {
    return false;
  }
  return true;
}

}  // namespace

void fuse(graph& g) {
  auto readers = reader_counts(g);
  std::map<tensor_id, std::size_t> producer;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    for (auto o : g.nodes[i].outputs)
      if (o != no_tensor) producer[o] = i;
  std::set<std::size_t> removed;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    auto& n = g.nodes[i];
    if (removed.count(i) || !n.domain.empty() || n.inputs.empty()) continue;
    if (fold_residual_add(g, producer, readers, removed, n)) {
      removed.insert(i);
      continue;
    }
    const auto x = n.inputs[0];
    auto p = producer.find(x);
    if (p == producer.end() || readers[x] != 1 || removed.count(p->second)) continue;
    auto& prod = g.nodes[p->second];
    if (!prod.domain.empty() || prod.outputs.size() != 1 || g.at(x).type != dtype::f32) continue;
    if (n.op_type == "BatchNormalization" && prod.op_type == "Conv" && !prod.has("__kiln_act") && !has_residual(prod)) {
      if (fold_batch_norm(g, prod, n)) {
        removed.insert(i);
        producer[prod.outputs[0]] = p->second;
      }
      continue;
    }
    kiln::activation a;
    if ((prod.op_type == "Conv" || prod.op_type == "Gemm") && !prod.has("__kiln_act") && as_activation(g, n, a)) {
      attribute k, al, be;
      k.type = attribute::kind::i;
      k.i = static_cast<int>(a.kind);
      al.type = be.type = attribute::kind::f;
      al.f = a.alpha;
      be.f = a.beta;
      prod.attrs["__kiln_act"] = k;
      prod.attrs["__kiln_act_alpha"] = al;
      prod.attrs["__kiln_act_beta"] = be;
      prod.outputs[0] = n.outputs[0];
      producer[n.outputs[0]] = p->second;
      removed.insert(i);
    }
  }
  std::vector<node> kept;
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (!removed.count(i)) kept.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept);
}

}  // namespace kiln::cg
