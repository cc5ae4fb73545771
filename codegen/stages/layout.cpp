// Stage: channel-blocked tensors between depthwise and pointwise convs (fast kernels only).
// The depthwise lanes kernel computes 16 channels side by side, so a planar (NCHW) tensor is
// transposed on its way in and out of it; between a pointwise conv and a depthwise one, or two
// depthwise ones, the tensor can instead stay in those blocks (kiln/packed/layout.hpp), and the
// pointwise kernel reads either layout and writes blocks. A float tensor is blocked when
//   - its producer and all its readers are such convs (depthwise: one channel per group; pointwise:
//     1x1, stride 1, no padding, one group), reading it as their data input, with channels in
//     whole blocks of 16, no fused residual, and
//   - it is not a graph input or output, nor constant, and
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

enum class conv_kind { other, depthwise, pointwise };

bool all_equal(const std::vector<std::int64_t>& v, std::int64_t x) {
  for (auto e : v)
    if (e != x) return false;
  return true;
}

// Which of the blocked kernels can run this node: a float 2-D Conv with constant weights whose
// channels come in whole blocks (the kernels' own *_applies checks the full geometry again).
conv_kind blocked_kind(const graph& g, const node& n) {
  if (n.op_type != "Conv" || !n.domain.empty() || n.inputs.size() < 2 || n.inputs.size() > 3 ||
      n.outputs.size() != 1 || n.inputs[0] == no_tensor || n.inputs[1] == no_tensor)
    return conv_kind::other;
  const auto &x = g.at(n.inputs[0]), &w = g.at(n.inputs[1]), &y = g.at(n.outputs[0]);
  if (x.type != dtype::f32 || x.dims.size() != 4 || w.dims.size() != 4 || y.dims.size() != 4 || !w.is_constant())
    return conv_kind::other;
  const std::int64_t c = x.dims[1], m = y.dims[1], group = n.get_int("group", 1);
  constexpr std::int64_t block = kiln::packed::channel_block;
  if (m % block != 0) return conv_kind::other;
  if (group == c && group == m && w.dims[1] == 1) return conv_kind::depthwise;
  const auto auto_pad = n.get_string("auto_pad", "NOTSET");
  if (group == 1 && w.dims[2] == 1 && w.dims[3] == 1 && all_equal(n.get_ints("strides"), 1) &&
      all_equal(n.get_ints("pads"), 0) && (auto_pad == "NOTSET" || auto_pad == "VALID"))
    return conv_kind::pointwise;
  return conv_kind::other;
}

}  // namespace

void block_channels(graph& g) {
  std::vector<conv_kind> kind(g.nodes.size());
  std::map<tensor_id, std::size_t> producer;
  std::map<tensor_id, std::vector<std::size_t>> readers;
  for (std::size_t i = 0; i < g.nodes.size(); ++i) {
    kind[i] = blocked_kind(g, g.nodes[i]);
    for (auto o : g.nodes[i].outputs)
      if (o != no_tensor) producer[o] = i;
    for (std::size_t k = 0; k < g.nodes[i].inputs.size(); ++k)
      if (g.nodes[i].inputs[k] != no_tensor) readers[g.nodes[i].inputs[k]].push_back(k == 0 ? i : g.nodes.size());
  }
  std::set<tensor_id> blocked;
  for (const auto& [t, p] : producer) {
    const auto& ten = g.at(t);
    const bool graph_output = std::find(g.outputs.begin(), g.outputs.end(), t) != g.outputs.end();
    if (kind[p] == conv_kind::other || ten.is_input || ten.is_output || graph_output || ten.is_constant()) continue;
    const auto r = readers.find(t);
    if (r == readers.end()) continue;
    bool ok = true;
    for (auto reader : r->second) ok = ok && reader < g.nodes.size() && kind[reader] != conv_kind::other;
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
}

}  // namespace kiln::cg
