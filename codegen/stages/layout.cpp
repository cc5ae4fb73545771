// Stage: channel-blocked tensors between depthwise and pointwise convs (fast kernels only).
// The depthwise lanes kernel computes 16 channels side by side, so a planar (NCHW) tensor is
// transposed on its way in and out of it; between a pointwise conv and a depthwise one, or two
// depthwise ones, the tensor can instead stay in those blocks (kiln/packed/layout.hpp), and the
// pointwise kernel reads either layout and writes blocks. A float tensor, or an int8 one between
// QLinearConvs, is blocked when
//   - its producer and all its readers are such convs (depthwise: one channel per group; pointwise:
//     1x1, stride 1, no padding, one group), reading it as their data input, with channels in
//     whole blocks of 16, no fused residual (readers may also be averages over the whole plane,
//     whose 1x1 output is the same in either layout), and
//   - it is not a graph input or output, nor constant, and
//   - int8 (QLinearConv): constant zero points and bias; a pointwise one on one image,
//   - a zero Pad between (a view) is looked through,
//   - no pointwise reader writes a planar tensor (that layer runs the planar 1x1 kernel, which
//     reads planar input); dropping one such tensor may drop others, so this runs to a fixed point.
// A depthwise conv converts between layouts on the way (any input, any output).
#include "../stages.hpp"

#include <kiln/packed/layout.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <vector>

namespace kiln::cg {

namespace {

enum class conv_kind { other, depthwise, pointwise, global_pool };

bool all_equal(const std::vector<std::int64_t>& v, std::int64_t x) {
  for (auto e : v)
    if (e != x) return false;
  return true;
}

bool constant_or_absent(const graph& g, const node& n, std::size_t i) {
  return i >= n.inputs.size() || n.inputs[i] == no_tensor || g.at(n.inputs[i]).is_constant();
}

// An average over each whole plane: a float GlobalAveragePool, or AveragePool whose window is the
// input without padding, or an int8 QLinearGlobalAveragePool (channels first). It reads a blocked
// input; its N x C x 1 x 1 output is the same in either layout.
bool whole_plane_average(const graph& g, const node& n) {
  if (n.outputs.size() != 1 || n.inputs.empty() || n.inputs[0] == no_tensor) return false;
  const auto &x = g.at(n.inputs[0]), &y = g.at(n.outputs[0]);
  if (x.dims.size() != 4 || y.dims.size() != 4 || y.dims[2] != 1 || y.dims[3] != 1) return false;
  if (n.op_type == "QLinearGlobalAveragePool")  // int8, its scales and zero points constant
    return n.domain == "com.microsoft" && (x.type == dtype::u8 || x.type == dtype::i8) && n.inputs.size() == 5 &&
           n.get_int("channels_last", 0) == 0 && constant_or_absent(g, n, 1) && constant_or_absent(g, n, 2) &&
           constant_or_absent(g, n, 3) && constant_or_absent(g, n, 4);
  if (!n.domain.empty() || n.inputs.size() != 1 || x.type != dtype::f32) return false;
  if (n.op_type == "GlobalAveragePool") return true;
  const auto auto_pad = n.get_string("auto_pad", "NOTSET");
  return n.op_type == "AveragePool" && n.get_ints("kernel_shape") == dims_t{x.dims[2], x.dims[3]} &&
         all_equal(n.get_ints("pads"), 0) && all_equal(n.get_ints("dilations"), 1) &&
         (auto_pad == "NOTSET" || auto_pad == "VALID");
}

// A Pad that adds nothing (all pads zero): lowered as a view of its input.
bool is_zero_pad(const graph& g, const node& n) {
  if (n.op_type != "Pad" || !n.domain.empty() || n.inputs.empty() || n.inputs[0] == no_tensor ||
      n.outputs.size() != 1)
    return false;
  if (n.opset < 11) return all_equal(n.get_ints("pads"), 0);
  if (n.inputs.size() < 2 || n.inputs[1] == no_tensor || !g.at(n.inputs[1]).is_constant()) return false;
  if (n.inputs.size() > 3 && n.inputs[3] != no_tensor) return false;  // axes
  return all_equal(g.at(n.inputs[1]).as_ints(), 0);
}

// A QLinearConv the int8 blocked kernels take: the float conditions below, and for a pointwise
// conv one image, constant zero points and bias (packed::qlinear_pointwise folds them into its
// bias at codegen time) and K within the dense tile's int32 sums.
bool int8_conv(const graph& g, const node& n) {
  if (n.op_type != "QLinearConv" || !n.domain.empty() || n.inputs.size() < 8 || n.inputs.size() > 9 ||
      n.outputs.size() != 1 || n.inputs[0] == no_tensor || n.inputs[3] == no_tensor)
    return false;
  const auto& x = g.at(n.inputs[0]);
  if (x.type != dtype::u8 && x.type != dtype::i8) return false;
  for (std::size_t i : {2, 5, 7, 8})
    if (!constant_or_absent(g, n, i)) return false;
  return true;
}

// Which of the blocked kernels can run this node: a float 2-D Conv (or an int8 QLinearConv, see
// int8_conv) with constant weights whose channels come in whole blocks (the kernels' own *_applies
// checks the full geometry again), or a whole-plane average.
conv_kind blocked_kind(const graph& g, const node& n) {
  if (whole_plane_average(g, n)) return conv_kind::global_pool;
  const bool int8 = int8_conv(g, n);
  const std::size_t wi = int8 ? 3 : 1;
  if (!int8 && (n.op_type != "Conv" || !n.domain.empty() || n.inputs.size() < 2 || n.inputs.size() > 3 ||
                n.outputs.size() != 1 || n.inputs[0] == no_tensor || n.inputs[1] == no_tensor))
    return conv_kind::other;
  const auto &x = g.at(n.inputs[0]), &w = g.at(n.inputs[wi]), &y = g.at(n.outputs[0]);
  if ((!int8 && x.type != dtype::f32) || x.dims.size() != 4 || w.dims.size() != 4 || y.dims.size() != 4 ||
      !w.is_constant())
    return conv_kind::other;
  const std::int64_t c = x.dims[1], m = y.dims[1], group = n.get_int("group", 1);
  constexpr std::int64_t block = kiln::packed::channel_block;
  if (m % block != 0) return conv_kind::other;
  if (group == c && group == m && w.dims[1] == 1) return conv_kind::depthwise;
  const auto auto_pad = n.get_string("auto_pad", "NOTSET");
  // Pointwise on any plane: on small ones too the blocked tile beats the planar kernels
  // (conv1x1_small_plane, qlinear_conv1x1_small_plane) once it covers the plane's last positions
  // in one tile (packed::detail::with_rest_tile, float; for_each_row_tile, int8), and the
  // depthwise layer and the pool after it read blocks: MobileNet's 256 -> 256 layer on its 3x3
  // plane 6.3 against 5.6 us float; its 128 -> 256 layer int8 2.0 against 1.0 us, where the
  // planar kernel gathers each tile's sums by channel to requantize them, and the depthwise layer
  // after it 2.2 against 1.0.
  if (group == 1 && w.dims[2] == 1 && w.dims[3] == 1 && all_equal(n.get_ints("strides"), 1) &&
      all_equal(n.get_ints("pads"), 0) && (auto_pad == "NOTSET" || auto_pad == "VALID") &&
      (!int8 || (x.dims[0] == 1 && c <= 16384 && constant_or_absent(g, n, 3))))
    return conv_kind::pointwise;
  return conv_kind::other;
}

}  // namespace

void block_channels(graph& g) {
  const std::size_t none = g.nodes.size();  // a reader that takes the tensor as other than its data
  std::vector<conv_kind> kind(g.nodes.size());
  std::vector<bool> zero_pad(g.nodes.size());
  std::map<tensor_id, std::size_t> producer;
  std::map<tensor_id, std::vector<std::size_t>> direct;
  const auto graph_output = [&](tensor_id t) {
    return g.at(t).is_output || std::find(g.outputs.begin(), g.outputs.end(), t) != g.outputs.end();
  };
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    kind[i] = blocked_kind(g, g.nodes[i]);
    zero_pad[i] = is_zero_pad(g, g.nodes[i]) && !graph_output(g.nodes[i].outputs[0]);
    for (auto o : g.nodes[i].outputs)
      if (o != no_tensor) producer[o] = i;
    for (std::size_t k = 0; k < g.nodes[i].inputs.size(); ++k)
      if (g.nodes[i].inputs[k] != no_tensor) direct[g.nodes[i].inputs[k]].push_back(k == 0 ? i : none);
  }
  // The readers of t, looking through zero Pads (views of their input: PyTorch puts one before
  // every AveragePool).
  std::map<tensor_id, std::vector<std::size_t>> readers;
  for (const auto& [t, rs] : direct) {
    std::vector<std::size_t> pending = rs, all;
    while (!pending.empty()) {
      const auto r = pending.back();
      pending.pop_back();
      if (r != none && zero_pad[r]) {
        const auto& more = direct[g.nodes[r].outputs[0]];
        pending.insert(pending.end(), more.begin(), more.end());
      } else {
        all.push_back(r);
      }
    }
    readers[t] = std::move(all);
  }
  std::set<tensor_id> blocked;
  for (const auto& [t, p] : producer) {
    const auto& ten = g.at(t);
    if (kind[p] == conv_kind::other || kind[p] == conv_kind::global_pool || ten.is_input || graph_output(t) ||
        ten.is_constant() || readers[t].empty())
      continue;
    bool ok = true;
    for (auto reader : readers[t]) ok = ok && reader != none && kind[reader] != conv_kind::other;
    if (ok) blocked.insert(t);
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (auto it = blocked.begin(); it != blocked.end();) {
      bool keep = true;
      for (auto reader : readers[*it])
        keep = keep && (kind[reader] != conv_kind::pointwise || blocked.count(g.nodes[reader].outputs[0]) != 0);
      if (keep) {
        ++it;
      } else {
        it = blocked.erase(it);
        changed = true;
      }
    }
  }
  for (auto t : blocked) g.at(t).channel_blocked = true;
  // A zero Pad's output is its input's storage: the same layout (in graph order, so chains follow).
  for (std::size_t i = 0; i < g.nodes.size(); ++i)
    if (zero_pad[i] && g.at(g.nodes[i].inputs[0]).channel_blocked) g.at(g.nodes[i].outputs[0]).channel_blocked = true;
}

}  // namespace kiln::cg
