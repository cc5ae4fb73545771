// Stage: place every intermediate tensor in one arena.
//
// Algorithm (after TFLite Micro's greedy planner): each buffer lives from the layer that first
// touches it to the layer that last reads it. Buffers are placed largest first; each goes at the
// lowest aligned offset where it overlaps no already-placed buffer whose lifetime intersects its
// own. A layer's inputs and outputs are live at the same step, so they never share bytes.
// Graph inputs, outputs and constants live outside the arena (caller's buffers, flash).
#include "../stages.hpp"

#include <algorithm>

namespace kiln::cg {

namespace {

struct buffer {
  tensor_id id;           // or scratch_arg for a layer's scratch
  std::size_t layer = 0;  // for scratch
  std::size_t bytes;
  std::size_t first, last;
};

std::size_t align_up(std::size_t v) { return (v + arena_alignment - 1) / arena_alignment * arena_alignment; }

}  // namespace

buffer_plan plan_memory(const graph& g, const lowered& l) {
  std::map<tensor_id, buffer> by_tensor;
  std::vector<buffer> buffers;
  auto storage_of = [&](tensor_id t) {
    auto it = l.aliases.find(t);
    return it == l.aliases.end() ? t : it->second;
  };
  for (std::size_t step = 0; step < l.layers.size(); ++step) {
    for (auto a : l.layers[step].args) {
      if (a == no_tensor || a == scratch_arg) continue;
      const auto s = storage_of(a);
      const auto& t = g.at(s);
      if (t.is_constant() || t.is_input || t.is_output) continue;
      auto [it, fresh] = by_tensor.try_emplace(s, buffer{s, 0, t.bytes(), step, step});
      if (!fresh) it->second.last = step;
    }
    if (l.layers[step].scratch_bytes > 0) buffers.push_back({scratch_arg, step, l.layers[step].scratch_bytes, step, step});
  }
  for (auto& [id, b] : by_tensor) buffers.push_back(b);
  // Largest first; ties by first use then id, so plans are deterministic.
  std::stable_sort(buffers.begin(), buffers.end(), [](const buffer& a, const buffer& b) {
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    if (a.first != b.first) return a.first < b.first;
    return a.id < b.id;
  });
  buffer_plan plan;
  std::vector<std::pair<const buffer*, std::size_t>> placed;
  for (const auto& b : buffers) {
    std::vector<std::pair<std::size_t, std::size_t>> busy;  // [begin, end) of conflicting buffers
    for (const auto& [o, off] : placed)
      if (o->first <= b.last && b.first <= o->last) busy.emplace_back(off, off + o->bytes);
    std::sort(busy.begin(), busy.end());
    std::size_t offset = 0;
    for (const auto& [begin, end] : busy) {
      if (offset + b.bytes <= begin) break;
      offset = std::max(offset, align_up(end));
    }
    placed.emplace_back(&b, offset);
    plan.arena_bytes = std::max(plan.arena_bytes, align_up(offset + b.bytes));
    if (b.id == scratch_arg) plan.scratch_offsets[b.layer] = offset;
    else plan.offsets[b.id] = offset;
  }
  return plan;
}

}  // namespace kiln::cg
