// Stage: integer lowering of QDQ models.
//
// A QDQ model spells every quantized operation in float: DequantizeLinear → op → QuantizeLinear.
// ONNX Runtime, the reference users compare against, rewrites those groups into integer
// operators before it runs them (its QDQ selector/action transformer), so kiln does the same
// rewrites and runs the same integer kernels:
//
//   1. Relu/Clip right before a QuantizeLinear is dropped when the quantization's own saturation
//      already clamps at least as hard (checked exactly: Q(lo) is the type's minimum, Q(hi) its
//      maximum), as ONNX Runtime's ReluQuantFusion/ClipQuantFusion do.
//   2. DequantizeLinear moves below ops that only move or select values (Reshape, Transpose,
//      MaxPool, Pad, Concat of equally quantized inputs, ...): DQ(op(q)) == op(DQ(q)) bit for bit,
//      so those ops run on the int8 data.
//   3. QuantizeLinear(DequantizeLinear(q)) with the same scale and zero point is q again; with
//      another quantization of the same type it is a 256-entry byte table built at codegen
//      (kiln.internal Requantize): no float tensor, no FPU.
//   4. DQ inputs → Conv / MatMul / Gemm / Add / Mul / pools / Sigmoid / LeakyRelu / Softmax → Q
//      becomes QLinearConv, QLinearMatMul or the com.microsoft QGemm / QLinearAdd / ... operator
//      (when the registry has it), with the op's float bias quantized to int32 the way ONNX
//      Runtime's WeightBiasQuantization does: round_half_even(float32(bias / float32(x_scale *
//      w_scale))).
//   5. Nodes nobody reads any more (the consumed DQ/Q nodes) are removed.
//
// What is left between DQ and Q runs in float, as in ONNX Runtime; `float_fallback_ops` lists it.
// DequantizeLinear of a constant weight is not constant-folded (stages/lower.cpp), so weights
// stay int8 in the header whether they end up in an integer kernel or are dequantized at run time.
#include "../stages.hpp"

#include "../ops/common.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <optional>
#include <set>

namespace kiln::cg {

namespace {

bool is_q8(dtype t) { return t == dtype::i8 || t == dtype::u8; }
std::int64_t q_min(dtype t) { return t == dtype::i8 ? -128 : 0; }
std::int64_t q_max(dtype t) { return t == dtype::i8 ? 127 : 255; }

// Where each tensor comes from and goes to, over the current node list.
struct graph_index {
  std::map<tensor_id, std::size_t> producer;
  std::map<tensor_id, std::vector<std::size_t>> readers;
  std::set<tensor_id> outputs;

  graph_index(const graph& g, const std::vector<node>& nodes) {
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      for (auto o : nodes[i].outputs)
        if (o != no_tensor) producer[o] = i;
      for (auto in : nodes[i].inputs)
        if (in != no_tensor) readers[in].push_back(i);
    }
    outputs.insert(g.outputs.begin(), g.outputs.end());
  }
  std::size_t reader_count(tensor_id t) const {
    auto it = readers.find(t);
    return (it == readers.end() ? 0 : it->second.size()) + outputs.count(t);
  }
};

// A (De)QuantizeLinear's quantization: constant scale and zero point (the zero point may be
// absent: 0 of the quantized type).
struct quantization {
  tensor_id data = no_tensor;  // the integer tensor (DQ's input, Q's output)
  tensor_id scale = no_tensor;
  tensor_id zero_point = no_tensor;
  dtype type = dtype::u8;
  std::vector<double> scales;
  std::vector<std::int64_t> zero_points;
  int axis = 1;  // per-axis quantization's axis, normalised

  bool per_tensor() const { return scales.size() == 1; }
  bool same_as(const quantization& o) const {
    return type == o.type && per_tensor() && o.per_tensor() && static_cast<float>(scales[0]) == static_cast<float>(o.scales[0]) &&
           zero_points == o.zero_points;
  }
};

class qdq_rewriter {
 public:
  qdq_rewriter(graph& g, const registry& reg) : g_(g), reg_(reg) {}

  void run() {
    drop_clamps_before_quantize();
    push_dequantize_down();
    fold_requantize_pairs();
    fuse_integer_ops();
    remove_dead_nodes();
  }

 private:
  graph& g_;
  const registry& reg_;

  // ---- helpers

  std::optional<quantization> quantization_of(const node& n, tensor_id data, std::size_t rank) const {
    if (!n.domain.empty() || n.inputs.size() < 2 || n.inputs[1] == no_tensor) return std::nullopt;
    const auto& s = g_.at(n.inputs[1]);
    if (!s.known || !s.is_constant() || s.type != dtype::f32 || s.dims.size() > 1) return std::nullopt;
    quantization q;
    q.data = data;
    q.scale = n.inputs[1];
    q.type = g_.at(data).type;
    q.scales = s.as_doubles();
    for (double v : q.scales)
      if (!(v > 0) || !std::isfinite(v)) return std::nullopt;  // DQ is monotonic only for positive scales
    if (n.inputs.size() > 2 && n.inputs[2] != no_tensor) {
      const auto& z = g_.at(n.inputs[2]);
      if (!z.is_constant() || z.count() != s.count()) return std::nullopt;
      q.zero_point = n.inputs[2];
      q.zero_points = z.as_ints();
    } else {
      q.zero_points.assign(q.scales.size(), 0);
    }
    if (!is_q8(q.type)) return std::nullopt;
    if (!q.per_tensor()) {
      if (s.dims.size() != 1 || rank == 0) return std::nullopt;
      std::int64_t a = n.get_int("axis", 1);
      if (a < 0) a += static_cast<std::int64_t>(rank);
      if (a < 0 || a >= static_cast<std::int64_t>(rank)) return std::nullopt;
      q.axis = static_cast<int>(a);
    }
    return q;
  }

  // The quantization of tensor t when a DequantizeLinear produces it.
  std::optional<quantization> dequantized(const std::vector<node>& nodes, const graph_index& ix, tensor_id t) const {
    if (t == no_tensor) return std::nullopt;
    auto p = ix.producer.find(t);
    if (p == ix.producer.end()) return std::nullopt;
    const node& d = nodes[p->second];
    if (d.op_type != "DequantizeLinear" || d.inputs.empty()) return std::nullopt;
    return quantization_of(d, d.inputs[0], g_.at(d.inputs[0]).dims.size());
  }

  // The quantization applied to t when its only reader is a per-tensor QuantizeLinear.
  std::optional<std::pair<std::size_t, quantization>> quantized_only(const std::vector<node>& nodes, const graph_index& ix,
                                                                     tensor_id t) const {
    if (ix.outputs.count(t) || ix.reader_count(t) != 1) return std::nullopt;
    const std::size_t r = ix.readers.at(t)[0];
    const node& q = nodes[r];
    if (q.op_type != "QuantizeLinear" || q.inputs[0] != t || q.outputs.empty() || q.outputs[0] == no_tensor) return std::nullopt;
    auto info = quantization_of(q, q.outputs[0], g_.at(t).dims.size());
    if (!info || !info->per_tensor()) return std::nullopt;
    return std::make_pair(r, *info);
  }

  // A new tensor under a name not yet taken; a constant when `bytes` is given.
  tensor_id add_tensor_like(const std::string& name, dtype t, dims_t dims,
                            std::optional<std::vector<std::uint8_t>> bytes = std::nullopt) {
    tensor c;
    c.name = name;
    while (g_.find(c.name) != no_tensor) c.name += "_";
    c.type = t;
    c.dims = std::move(dims);
    c.known = true;
    c.value = std::move(bytes);
    return g_.add_tensor(std::move(c));
  }
  tensor_id add_constant(const std::string& name, dtype t, dims_t dims, std::vector<std::uint8_t> bytes) {
    return add_tensor_like(name, t, std::move(dims), std::move(bytes));
  }

  // Per-tensor scale and zero point as rank-0 tensors (the QLinear operators' contract), the
  // zero point materialised when the model omitted it.
  tensor_id scalar_scale(const quantization& q) {
    if (g_.at(q.scale).dims.empty()) return q.scale;
    const auto v = *g_.at(q.scale).value;
    return add_constant(g_.at(q.scale).name + "_scalar", dtype::f32, {}, v);
  }
  tensor_id scalar_zero_point(const quantization& q) {
    if (q.zero_point != no_tensor && g_.at(q.zero_point).dims.empty()) return q.zero_point;
    const std::uint8_t byte = static_cast<std::uint8_t>(q.zero_points[0] & 0xff);
    return add_constant(g_.at(q.scale).name + "_zero_point", q.type, {}, {byte});
  }
  tensor_id zero_point_tensor(const quantization& q) {  // any layout, materialised when absent
    if (q.zero_point != no_tensor) return q.zero_point;
    std::vector<std::uint8_t> zeros(q.scales.size(), 0);
    return add_constant(g_.at(q.scale).name + "_zero_point", q.type, g_.at(q.scale).dims, zeros);
  }

  static node make_node(const node& like, const std::string& op, const std::string& domain, int opset) {
    node n;
    n.name = like.name;
    n.op_type = op;
    n.domain = domain;
    n.opset = opset;
    return n;
  }

  int default_opset() const {
    auto it = g_.opsets.find("");
    return it == g_.opsets.end() ? 13 : std::max(it->second, 13);
  }

  bool registered(const std::string& domain, const std::string& op) const { return reg_.find(domain, op) != nullptr; }

  // ---- 1. Relu/Clip that the quantization's saturation subsumes

  void drop_clamps_before_quantize() {
    graph_index ix(g_, g_.nodes);
    std::set<std::size_t> removed;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      node& q = g_.nodes[i];
      if (q.op_type != "QuantizeLinear" || !q.domain.empty() || q.outputs.empty() || q.outputs[0] == no_tensor) continue;
      auto p = ix.producer.find(q.inputs[0]);
      if (p == ix.producer.end() || removed.count(p->second)) continue;
      const node& act = g_.nodes[p->second];
      if (!act.domain.empty() || ix.reader_count(q.inputs[0]) != 1 || act.inputs.empty()) continue;
      float lo = -HUGE_VALF, hi = HUGE_VALF;
      if (act.op_type == "Relu") {
        lo = 0.f;
      } else if (act.op_type == "Clip" && act.opset >= 11) {
        bool constant = true;
        for (std::size_t k = 1; k < act.inputs.size() && k < 3; ++k) {
          if (act.inputs[k] == no_tensor) continue;
          const auto& b = g_.at(act.inputs[k]);
          if (!b.is_constant() || b.count() != 1) { constant = false; break; }
          (k == 1 ? lo : hi) = static_cast<float>(b.as_doubles()[0]);
        }
        if (!constant) continue;
      } else {
        continue;
      }
      const auto info = quantization_of(q, q.outputs[0], g_.at(q.inputs[0]).dims.size());
      if (!info || !info->per_tensor()) continue;
      // Exact: Q is monotonic, so when Q(lo) and Q(hi) already saturate, clamping first changes nothing.
      const float s = static_cast<float>(info->scales[0]);
      const float zp = static_cast<float>(info->zero_points[0]);
      auto quantized = [&](float v) -> double {
        if (std::isinf(v)) return v;
        return static_cast<double>(std::nearbyint(v / s) + zp);
      };
      if (quantized(lo) > static_cast<double>(q_min(info->type)) || quantized(hi) < static_cast<double>(q_max(info->type))) continue;
      q.inputs[0] = act.inputs[0];
      removed.insert(p->second);
    }
    erase(removed);
  }

  // ---- 2. DequantizeLinear below value-moving ops

  static bool moves_values(const node& n) {
    static const std::set<std::string> ops = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity",
                                              "MaxPool", "GlobalMaxPool", "Slice", "Gather", "Expand", "Tile",
                                              "DepthToSpace", "SpaceToDepth", "Pad", "Concat", "Split"};
    return n.domain.empty() && ops.count(n.op_type) != 0;
  }

  void push_dequantize_down() {
    std::vector<node> out;
    out.reserve(g_.nodes.size());
    std::map<tensor_id, std::size_t> producer;  // over `out`
    for (auto& n : g_.nodes) {
      std::vector<node> replacement;
      if (moves_values(n) && try_push(n, out, producer, replacement)) {
        for (auto& r : replacement) {
          for (auto o : r.outputs)
            if (o != no_tensor) producer[o] = out.size();
          out.push_back(std::move(r));
        }
        continue;
      }
      for (auto o : n.outputs)
        if (o != no_tensor) producer[o] = out.size();
      out.push_back(std::move(n));
    }
    g_.nodes = std::move(out);
  }

  std::optional<quantization> dq_of(const std::vector<node>& nodes, const std::map<tensor_id, std::size_t>& producer,
                                    tensor_id t) const {
    auto p = producer.find(t);
    if (p == producer.end()) return std::nullopt;
    const node& d = nodes[p->second];
    if (d.op_type != "DequantizeLinear" || !d.domain.empty()) return std::nullopt;
    auto q = quantization_of(d, d.inputs[0], g_.at(d.inputs[0]).dims.size());
    if (!q || !q->per_tensor()) return std::nullopt;
    return q;
  }

  bool try_push(const node& n, const std::vector<node>& nodes, const std::map<tensor_id, std::size_t>& producer,
                std::vector<node>& replacement) {
    if (n.inputs.empty() || n.inputs[0] == no_tensor) return false;
    if (n.op_type == "MaxPool" && (n.outputs.size() > 1 && n.outputs[1] != no_tensor)) return false;
    for (auto o : n.outputs)
      if (o != no_tensor && (!g_.at(o).known || g_.at(o).type != dtype::f32)) return false;
    // The inputs carrying data: all of Concat's, the first of the others.
    const std::size_t data_inputs = n.op_type == "Concat" ? n.inputs.size() : 1;
    std::optional<quantization> q;
    std::vector<tensor_id> ints;
    for (std::size_t i = 0; i < data_inputs; ++i) {
      auto qi = dq_of(nodes, producer, n.inputs[i]);
      if (!qi || (q && !q->same_as(*qi))) return false;
      if (!q) q = qi;
      ints.push_back(qi->data);
    }
    node moved = n;
    for (std::size_t i = 0; i < data_inputs; ++i) moved.inputs[i] = ints[i];
    if (n.op_type == "Pad" && !pad_in_integers(n, *q, moved)) return false;
    // Each float output becomes DQ(integer output).
    std::vector<node> dqs;
    for (auto& o : moved.outputs) {
      if (o == no_tensor) continue;
      const tensor_id f = o;
      o = add_tensor_like(g_.at(f).name + "_q", q->type, g_.at(f).dims);
      node d = make_node(n, "DequantizeLinear", "", default_opset());
      d.name = n.name.empty() ? "" : n.name + "_dequantize";
      d.inputs = {o, q->scale, q->zero_point};
      d.outputs = {f};
      dqs.push_back(std::move(d));
    }
    replacement.push_back(std::move(moved));
    for (auto& d : dqs) replacement.push_back(std::move(d));
    return true;
  }

  // Constant-mode Pad pads with 0.0, which is the zero point in the integer domain; any other pad
  // value stays in float. Edge and reflect modes copy values and need nothing.
  bool pad_in_integers(const node& n, const quantization& q, node& moved) {
    if (n.get_string("mode", "constant") != "constant") return true;
    if (n.opset < 11) return n.get_float("value", 0.0) == 0.0;
    if (n.inputs.size() > 2 && n.inputs[2] != no_tensor) {
      const auto& v = g_.at(n.inputs[2]);
      if (!v.is_constant() || v.count() != 1 || v.as_doubles()[0] != 0.0) return false;
      moved.inputs[2] = scalar_zero_point(q);
    } else {
      moved.inputs.resize(3, no_tensor);
      moved.inputs[2] = scalar_zero_point(q);
    }
    return true;
  }

  // ---- 3. Q(DQ(q)): q itself, or a requantizing byte table

  void fold_requantize_pairs() {
    graph_index ix(g_, g_.nodes);
    std::map<tensor_id, tensor_id> renamed;
    std::set<std::size_t> removed;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      const node& q = g_.nodes[i];
      if (q.op_type != "QuantizeLinear" || !q.domain.empty() || q.outputs.empty() || q.outputs[0] == no_tensor) continue;
      if (ix.outputs.count(q.outputs[0])) continue;
      auto in = dequantized(g_.nodes, ix, q.inputs[0]);
      auto out = quantization_of(q, q.outputs[0], g_.at(q.inputs[0]).dims.size());
      if (!in || !out || !in->per_tensor() || !out->per_tensor()) continue;
      if (in->same_as(*out)) {
        renamed[q.outputs[0]] = in->data;
        removed.insert(i);
      } else if (in->type == out->type && registered("kiln.internal", "Requantize")) {
        // Between two quantizations: a byte table (the same float32 math, evaluated at codegen).
        node r = make_node(q, "Requantize", "kiln.internal", 1);
        append_quantized(r, *in);
        append_output(r, *out);
        r.outputs = q.outputs;
        g_.nodes[i] = std::move(r);
      }
    }
    for (auto& n : g_.nodes)
      for (auto& t : n.inputs)
        if (auto r = renamed.find(t); r != renamed.end()) t = r->second;
    erase(removed);
  }

  // ---- 4. integer operators

  void fuse_integer_ops() {
    graph_index ix(g_, g_.nodes);
    std::set<std::size_t> removed;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      node& n = g_.nodes[i];
      if (!n.domain.empty() || n.outputs.size() != 1 || n.outputs[0] == no_tensor) continue;
      auto q = quantized_only(g_.nodes, ix, n.outputs[0]);
      std::optional<node> fused;
      if (n.op_type == "Conv") fused = fuse_conv(n, ix, q ? &q->second : nullptr);
      else if (n.op_type == "MatMul") fused = fuse_matmul(n, ix, q ? &q->second : nullptr);
      else if (n.op_type == "Gemm") fused = fuse_gemm(n, ix, q ? &q->second : nullptr);
      else if (n.op_type == "Add" || n.op_type == "Mul") fused = fuse_binary(n, ix, q ? &q->second : nullptr);
      else if (n.op_type == "Concat") fused = fuse_concat(n, ix, q ? &q->second : nullptr);
      else fused = fuse_unary(n, ix, q ? &q->second : nullptr);
      if (!fused) continue;
      fused->outputs = {g_.nodes[q->first].outputs[0]};
      n = std::move(*fused);
      removed.insert(q->first);
    }
    erase(removed);
  }

  // Inputs (x, x_scale, x_zero_point) of a QLinear operator for a per-tensor dequantized input.
  void append_quantized(node& n, const quantization& q) {
    n.inputs.push_back(q.data);
    n.inputs.push_back(scalar_scale(q));
    n.inputs.push_back(scalar_zero_point(q));
  }

  // Weight inputs (w, w_scale, w_zero_point), per tensor or per channel along `axis`.
  bool append_weight(node& n, const quantization& w, int axis) {
    if (!w.per_tensor() && w.axis != axis) return false;
    n.inputs.push_back(w.data);
    if (w.per_tensor()) {
      n.inputs.push_back(scalar_scale(w));
      n.inputs.push_back(scalar_zero_point(w));
    } else {
      n.inputs.push_back(w.scale);
      n.inputs.push_back(zero_point_tensor(w));
    }
    return true;
  }

  // The int32 bias of a fused Conv/Gemm: the integer input of a DequantizeLinear of int32 data
  // (used as is, as ONNX Runtime does), or a constant float bias quantized with scale
  // float32(x_scale * w_scale[c]) and round half to even.
  std::optional<tensor_id> int32_bias(const graph_index& ix, tensor_id b, const quantization& x, const quantization& w,
                                      std::int64_t channels) {
    if (auto p = ix.producer.find(b); p != ix.producer.end()) {
      const node& d = g_.nodes[p->second];
      if (d.op_type != "DequantizeLinear" || !d.domain.empty() || g_.at(d.inputs[0]).type != dtype::i32) return std::nullopt;
      if (d.inputs.size() > 2 && d.inputs[2] != no_tensor) {
        const auto& z = g_.at(d.inputs[2]);
        if (!z.is_constant()) return std::nullopt;
        for (auto v : z.as_ints())
          if (v != 0) return std::nullopt;
      }
      if (g_.at(d.inputs[0]).count() != channels) return std::nullopt;
      return d.inputs[0];
    }
    const auto& bt = g_.at(b);
    if (!bt.is_constant() || bt.type != dtype::f32 || bt.dims.size() != 1 || bt.count() != channels) return std::nullopt;
    const float xs = static_cast<float>(x.scales[0]);
    std::vector<std::int32_t> q(static_cast<std::size_t>(channels));
    const float* bv = bt.data<float>();
    for (std::size_t c = 0; c < q.size(); ++c) {
      const float ws = static_cast<float>(w.per_tensor() ? w.scales[0] : w.scales[c]);
      const float bias_scale = xs * ws;
      const float r = std::nearbyint(bv[c] / bias_scale);
      if (!(r >= -2147483648.f && r < 2147483648.f)) return std::nullopt;  // leave it in float
      q[c] = static_cast<std::int32_t>(r);
    }
    return add_constant(bt.name + "_int32", dtype::i32, {channels}, to_bytes(q));
  }

  void append_output(node& n, const quantization& y) {
    n.inputs.push_back(scalar_scale(y));
    n.inputs.push_back(scalar_zero_point(y));
  }

  std::optional<node> fuse_conv(const node& n, const graph_index& ix, const quantization* y) {
    if (!y || n.inputs.size() < 2) return std::nullopt;
    auto x = dequantized(g_.nodes, ix, n.inputs[0]);
    auto w = dequantized(g_.nodes, ix, n.inputs[1]);
    if (!x || !w || !x->per_tensor()) return std::nullopt;
    const auto& wt = g_.at(w->data);
    if (wt.dims.empty()) return std::nullopt;
    node f = make_node(n, "QLinearConv", "", default_opset());
    f.attrs = n.attrs;
    append_quantized(f, *x);
    if (!append_weight(f, *w, 0)) return std::nullopt;
    append_output(f, *y);
    if (n.inputs.size() > 2 && n.inputs[2] != no_tensor) {
      auto b = int32_bias(ix, n.inputs[2], *x, *w, wt.dims[0]);
      if (!b) return std::nullopt;
      f.inputs.push_back(*b);
    }
    return f;
  }

  std::optional<node> fuse_matmul(const node& n, const graph_index& ix, const quantization* y) {
    if (!y) return std::nullopt;
    auto a = dequantized(g_.nodes, ix, n.inputs[0]);
    auto b = dequantized(g_.nodes, ix, n.inputs[1]);
    if (!a || !b || !a->per_tensor()) return std::nullopt;
    const auto& bt = g_.at(b->data);
    if (!b->per_tensor() && bt.dims.size() != 2) return std::nullopt;  // per column of a 2-D B only
    node f = make_node(n, "QLinearMatMul", "", default_opset());
    append_quantized(f, *a);
    if (!append_weight(f, *b, 1)) return std::nullopt;
    append_output(f, *y);
    return f;
  }

  std::optional<node> fuse_gemm(const node& n, const graph_index& ix, const quantization* y) {
    if (!y || !registered("com.microsoft", "QGemm")) return std::nullopt;
    auto a = dequantized(g_.nodes, ix, n.inputs[0]);
    auto b = dequantized(g_.nodes, ix, n.inputs[1]);
    if (!a || !b || !a->per_tensor() || g_.at(b->data).dims.size() != 2) return std::nullopt;
    // QGemm's types (as ONNX Runtime's kernel): an 8-bit output of A's type, and no int8 A with a
    // uint8 B. Otherwise the Gemm stays in float between its DequantizeLinear and QuantizeLinear.
    if (y->type != a->type || (a->type == dtype::i8 && b->type != dtype::i8)) return std::nullopt;
    const bool trans_b = n.get_int("transB", 0) != 0;
    const std::int64_t cols = g_.at(b->data).dims[trans_b ? 0 : 1];
    node f = make_node(n, "QGemm", "com.microsoft", 1);
    for (const char* k : {"alpha", "transA", "transB"})
      if (n.has(k)) f.attrs[k] = n.attrs.at(k);
    append_quantized(f, *a);
    if (!append_weight(f, *b, trans_b ? 0 : 1)) return std::nullopt;
    if (n.inputs.size() > 2 && n.inputs[2] != no_tensor) {
      if (n.get_float("beta", 1.0) != 1.0) return std::nullopt;
      auto c = int32_bias(ix, n.inputs[2], *a, *b, cols);
      if (!c) return std::nullopt;
      f.inputs.push_back(*c);
    } else {
      f.inputs.push_back(no_tensor);
    }
    append_output(f, *y);
    return f;
  }

  std::optional<node> fuse_binary(const node& n, const graph_index& ix, const quantization* y) {
    const std::string op = n.op_type == "Add" ? "QLinearAdd" : "QLinearMul";
    if (!y || n.inputs.size() != 2 || !registered("com.microsoft", op)) return std::nullopt;
    auto a = dequantized(g_.nodes, ix, n.inputs[0]);
    auto b = dequantized(g_.nodes, ix, n.inputs[1]);
    if (!a || !b || !a->per_tensor() || !b->per_tensor() || a->type != y->type || b->type != y->type) return std::nullopt;
    node f = make_node(n, op, "com.microsoft", 1);
    append_quantized(f, *a);
    append_quantized(f, *b);
    append_output(f, *y);
    return f;
  }

  std::optional<node> fuse_concat(const node& n, const graph_index& ix, const quantization* y) {
    if (!y || !registered("com.microsoft", "QLinearConcat")) return std::nullopt;
    node f = make_node(n, "QLinearConcat", "com.microsoft", 1);
    f.attrs = n.attrs;
    append_output(f, *y);
    for (auto in : n.inputs) {
      auto x = dequantized(g_.nodes, ix, in);
      if (!x || !x->per_tensor() || x->type != y->type) return std::nullopt;
      append_quantized(f, *x);
    }
    return f;
  }

  std::optional<node> fuse_unary(const node& n, const graph_index& ix, const quantization* y) {
    static const std::set<std::string> ops = {"AveragePool", "GlobalAveragePool", "Sigmoid", "LeakyRelu", "Softmax"};
    if (!y || !ops.count(n.op_type) || n.inputs.size() != 1) return std::nullopt;
    const std::string op = "QLinear" + n.op_type;
    if (!registered("com.microsoft", op)) return std::nullopt;
    auto x = dequantized(g_.nodes, ix, n.inputs[0]);
    if (!x || !x->per_tensor() || x->type != y->type) return std::nullopt;
    node f = make_node(n, op, "com.microsoft", 1);
    f.attrs = n.attrs;
    if (n.op_type == "Softmax") {
      attribute a;
      a.type = attribute::kind::i;
      a.i = n.opset;
      f.attrs["opset"] = a;
    }
    append_quantized(f, *x);
    append_output(f, *y);
    return f;
  }

  // ---- 5. dead nodes

  void remove_dead_nodes() {
    std::map<tensor_id, int> readers;
    for (auto o : g_.outputs) ++readers[o];
    for (auto& n : g_.nodes)
      for (auto in : n.inputs)
        if (in != no_tensor) ++readers[in];
    std::set<std::size_t> removed;
    for (std::size_t k = g_.nodes.size(); k-- > 0;) {
      const node& n = g_.nodes[k];
      bool used = false;
      for (auto o : n.outputs) used = used || (o != no_tensor && readers[o] > 0);
      if (used) continue;
      removed.insert(k);
      for (auto in : n.inputs)
        if (in != no_tensor) --readers[in];
    }
    erase(removed);
  }

  void erase(const std::set<std::size_t>& removed) {
    if (removed.empty()) return;
    std::vector<node> kept;
    kept.reserve(g_.nodes.size() - removed.size());
    for (std::size_t i = 0; i < g_.nodes.size(); ++i)
      if (!removed.count(i)) kept.push_back(std::move(g_.nodes[i]));
    g_.nodes = std::move(kept);
  }
};

}  // namespace

void lower_qdq(graph& g, const registry& reg) { qdq_rewriter(g, reg).run(); }

bool has_quantize_nodes(const graph& g) {
  for (const auto& n : g.nodes)
    if (n.domain.empty() && (n.op_type == "DequantizeLinear" || n.op_type == "QuantizeLinear")) return true;
  return false;
}

std::vector<std::string> float_fallback_ops(const graph& g) {
  // Float layers that read a dequantized tensor: the quantized model runs them in float.
  std::set<tensor_id> dequantized;
  for (const auto& n : g.nodes)
    if (n.op_type == "DequantizeLinear" && n.domain.empty())
      for (auto o : n.outputs)
        if (o != no_tensor) dequantized.insert(o);
  std::vector<std::string> out;
  for (const auto& n : g.nodes) {
    if (n.op_type == "DequantizeLinear" || n.op_type == "QuantizeLinear") continue;
    bool reads = false;
    for (auto in : n.inputs) reads = reads || dequantized.count(in);
    if (reads) out.push_back(n.label());
  }
  return out;
}

}  // namespace kiln::cg
