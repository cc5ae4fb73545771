// Stage: place every intermediate tensor in one arena.
//
// Algorithm (after TFLite Micro's greedy planner): each buffer lives from the layer that first
// touches it to the layer that last reads it. Buffers are placed largest first; each goes at the
// lowest aligned offset where it overlaps no already-placed buffer whose lifetime intersects its
// own. A layer's inputs and outputs are live at the same step, so they never share bytes, with
// one exception:
//
// In-place. A layer may list in `inplace_ok` input positions whose elements its kernel reads only
// just before writing the same element of the output (its last argument), and never again:
// elementwise maps, non-broadcast operands of binary ops, channel_affine. Its output then takes
// over such an input's storage when, in program order,
//   - the input's storage is an arena buffer (not a graph input, output or constant) of exactly the
//     output's size, and this layer is its last use (counting every view of it);
//   - the output's storage is an arena buffer this layer touches first (not a graph output, not
//     already in-place on itself);
//   - no other argument of the layer reads that storage (e.g. as a broadcast operand).
// The first matching position wins. Input and output then form one buffer, living from the input's
// first use to the output's last, placed as above; chains (Gemm → BatchNormalization → Relu)
// collapse into one buffer. plan.inplace records each output → input pair. Greedy placement is not
// monotone (longer merged lifetimes can fragment the arena: fc_autoencoder's 32-byte bottleneck
// chain would land above two 512-byte chains), so the buffers are also placed without any pair and
// that plan wins when its arena is strictly smaller.
//
// Placement order. Largest first is what TFLite Micro does, and it fragments on some chains:
// mobilenet_v1_025_ort_qdq's 36864-byte buffer at step 3 goes to offset 0 first, and the two
// 18432-byte buffers before it then stack above a 27648-byte one (64512 bytes, bound 55296).
// Placing in order of first use (linear scan) reaches the bound there. So the buffers are placed
// in four orders (largest first; first use; longest lifetime first; largest bytes × lifetime
// first), each with and without the in-place pairs, and the smallest arena wins; on a tie the
// earlier one (largest first with in-place), so plans that were already best do not change.
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
  buffer_plan plan;
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
  // In-place: merge each output into the input it may overwrite (union-find on storage ids).
  std::map<tensor_id, tensor_id> group;  // member → representative, for merged storages only
  auto rep_of = [&](tensor_id t) {
    for (auto it = group.find(t); it != group.end(); it = group.find(t)) t = it->second;
    return t;
  };
  for (std::size_t step = 0; step < l.layers.size(); ++step) {
    const auto& ly = l.layers[step];
    if (ly.inplace_ok.empty() || ly.args.empty()) continue;
    // The output is the last argument, or the one before a trailing scratch.
    const std::size_t out_pos = ly.args.back() == scratch_arg && ly.args.size() > 1 ? ly.args.size() - 2 : ly.args.size() - 1;
    const tensor_id out_arg = ly.args[out_pos];
    if (out_arg < 0) continue;
    const auto out = by_tensor.find(storage_of(out_arg));
    if (out == by_tensor.end() || out->second.first != step) continue;
    for (int pos : ly.inplace_ok) {
      if (pos < 0 || static_cast<std::size_t>(pos) >= out_pos || ly.args[pos] < 0) continue;
      const auto in = by_tensor.find(storage_of(ly.args[pos]));
      if (in == by_tensor.end() || in->first == out->first || in->second.last != step || in->second.first >= step ||
          in->second.bytes != out->second.bytes)
        continue;
      bool only_inplace_reads = true;  // the storage appears only at positions the kernel allows
      for (std::size_t k = 0; k < out_pos; ++k)
        if (ly.args[k] >= 0 && storage_of(ly.args[k]) == in->first &&
            std::find(ly.inplace_ok.begin(), ly.inplace_ok.end(), static_cast<int>(k)) == ly.inplace_ok.end())
          only_inplace_reads = false;
      if (!only_inplace_reads) continue;
      group[out->first] = rep_of(in->first);
      plan.inplace[out->first] = in->first;
      break;
    }
  }
  // Places the buffers, each in-place output sharing its group representative's bytes.
  enum placement_order { by_size, by_first_use, by_lifetime, by_area };
  auto place = [&](const std::map<tensor_id, tensor_id>& grp, placement_order order, buffer_plan& out) {
    auto root = [&](tensor_id t) {
      for (auto it = grp.find(t); it != grp.end(); it = grp.find(t)) t = it->second;
      return t;
    };
    std::vector<buffer> pending = buffers;  // the scratch buffers
    for (auto& [id, b] : by_tensor)
      if (!grp.count(id)) pending.push_back(b);
    for (auto& [id, b] : by_tensor) {  // stretch each representative over its members' lifetimes
      if (!grp.count(id)) continue;
      const auto r = root(id);
      for (auto& rb : pending)
        if (rb.id == r) rb.last = std::max(rb.last, b.last);
    }
    // The placement order (see the top of the file); ties by first use, then id, then layer, so
    // plans are deterministic.
    auto key = [&](const buffer& b) -> std::size_t {
      switch (order) {
        case by_size: return b.bytes;
        case by_first_use: return l.layers.size() - b.first;
        case by_lifetime: return b.last - b.first;
        default: return b.bytes * (b.last - b.first + 1);
      }
    };
    std::stable_sort(pending.begin(), pending.end(), [&](const buffer& a, const buffer& b) {
      if (key(a) != key(b)) return key(a) > key(b);
      if (a.bytes != b.bytes) return a.bytes > b.bytes;
      if (a.first != b.first) return a.first < b.first;
      if (a.id != b.id) return a.id < b.id;
      return a.layer < b.layer;
    });
    std::vector<std::pair<const buffer*, std::size_t>> placed;
    for (const auto& b : pending) {
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
      out.arena_bytes = std::max(out.arena_bytes, align_up(offset + b.bytes));
      if (b.id == scratch_arg) out.scratch_offsets[b.layer] = offset;
      else out.offsets[b.id] = offset;
    }
    for (const auto& [member, r] : grp) out.offsets[member] = out.offsets.at(root(member));
  };
  // Every placement order, with the in-place pairs and then without; the first smallest arena wins.
  place(group, by_size, plan);
  const auto pairs = plan.inplace;
  for (auto order : {by_size, by_first_use, by_lifetime, by_area})
    for (bool inplace : {true, false}) {
      if ((order == by_size && inplace) || (!inplace && group.empty())) continue;
      buffer_plan other;
      if (inplace) other.inplace = pairs;
      place(inplace ? group : std::map<tensor_id, tensor_id>{}, order, other);
      if (other.arena_bytes < plan.arena_bytes) plan = std::move(other);
    }
  return plan;
}

}  // namespace kiln::cg
