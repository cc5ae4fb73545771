// Stage: choose the execution order of the lowered layers, to lower the arena (runs right before
// plan_memory, which takes lifetimes from this order).
//
// Units. The layers of one node (consecutive layers with the same origin) stay together and in
// their order: a unit. Two adjacent nodes with the same label merge into one unit, which only
// removes freedom.
//
// Dependencies. Every storage (a tensor after resolving views through lowered::aliases; constants
// excluded) is written by exactly one unit, the first to touch it in the original order: ONNX is
// single assignment, a view (Reshape, Squeeze, zero Pad, ...) writes nothing and shares its
// root's storage, and a node writes only its own outputs and temporaries. Every other unit
// touching the storage reads it and runs after that writer. Graph inputs have no writer. In-place
// pairs are not a dependency here: plan_memory chooses them afterwards from this order's
// lifetimes (an input's last use is then known), so they hold by construction.
//
// Cost. As the planner and `kiln report` count it: an arena storage (not a graph input, output or
// constant) is live from the first to the last layer touching it, a scratch buffer at its layer;
// the peak is the most bytes live at one layer (in-place sharing ignored).
//
// Search. Two candidate orders besides the original one. (1) Exact: dynamic programming over the
// sets of units already run (each a down-set of the dependency graph, so branches are what make
// the sets many). The bytes live while a unit runs
// depend only on that set, so the lowest peak reachable for each set is found level by level
// (sets of k units, then k + 1), ties broken by the first set and then the lowest unit index
// reached, which makes the result deterministic. It gives up (no candidate) past max_states sets
// or max_steps unit evaluations (wide graphs). (2) Greedy list scheduling: among the ready units
// take the one whose run peaks lowest, then the one leaving fewest bytes live after it, then the
// lowest original index. Chains (one ready unit at every step) skip the search.
// Choice. Each candidate order (original, exact, greedy) is planned with plan_memory and the
// smallest arena wins, then the lowest peak; on a tie the earlier candidate, so the original
// order stays unless another one is strictly better.
#include "../stages.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace kiln::cg {

namespace {

constexpr std::size_t max_states = 100000;
constexpr std::size_t max_steps = 2000000;  // (set, unit) pairs examined by the exact search

struct unit {
  std::size_t begin, end;  // layers [begin, end) of the original order
};

struct problem {
  std::vector<unit> units;
  // Per storage: bytes in the arena (0 for graph inputs/outputs), writer unit (npos for none),
  // and every unit touching it (ascending).
  std::vector<std::size_t> bytes, writer;
  std::vector<std::vector<std::size_t>> touchers;
  // Per unit: the storages it touches and, per layer of the unit, which of them each layer touches.
  std::vector<std::vector<std::size_t>> touches;
  std::vector<std::vector<std::vector<std::size_t>>> layer_touches;
  std::vector<std::vector<std::size_t>> scratch;  // per unit, per layer
  std::vector<std::vector<std::size_t>> preds;    // per unit: the writers it depends on
};

constexpr std::size_t npos = std::numeric_limits<std::size_t>::max();

problem make_problem(const graph& g, const lowered& l) {
  problem p;
  for (std::size_t i = 0; i < l.layers.size(); ++i)
    if (p.units.empty() || l.layers[i].origin != l.layers[i - 1].origin) p.units.push_back({i, i + 1});
    else p.units.back().end = i + 1;
  auto storage_of = [&](tensor_id t) {
    auto it = l.aliases.find(t);
    return it == l.aliases.end() ? t : it->second;
  };
  std::map<tensor_id, std::size_t> index;
  p.touches.resize(p.units.size());
  p.layer_touches.resize(p.units.size());
  p.scratch.resize(p.units.size());
  p.preds.resize(p.units.size());
  for (std::size_t u = 0; u < p.units.size(); ++u) {
    for (std::size_t i = p.units[u].begin; i < p.units[u].end; ++i) {
      std::vector<std::size_t> here;
      for (auto a : l.layers[i].args) {
        if (a < 0) continue;
        const auto s = storage_of(a);
        const auto& t = g.at(s);
        if (t.is_constant()) continue;
        auto [it, fresh] = index.try_emplace(s, p.bytes.size());
        if (fresh) {
          p.bytes.push_back(t.is_input || t.is_output ? 0 : t.bytes());
          p.writer.push_back(t.is_input ? npos : u);
          p.touchers.emplace_back();
        }
        const auto k = it->second;
        if (p.touchers[k].empty() || p.touchers[k].back() != u) {
          p.touchers[k].push_back(u);
          p.touches[u].push_back(k);
          if (p.writer[k] != npos && p.writer[k] != u) p.preds[u].push_back(p.writer[k]);
        }
        if (std::find(here.begin(), here.end(), k) == here.end()) here.push_back(k);
      }
      p.layer_touches[u].push_back(std::move(here));
      p.scratch[u].push_back(l.layers[i].scratch_bytes);
    }
    std::sort(p.preds[u].begin(), p.preds[u].end());
    p.preds[u].erase(std::unique(p.preds[u].begin(), p.preds[u].end()), p.preds[u].end());
  }
  return p;
}

using bitset = std::vector<std::uint64_t>;
bool has(const bitset& b, std::size_t i) { return (b[i / 64] >> (i % 64)) & 1u; }
void set(bitset& b, std::size_t i) { b[i / 64] |= std::uint64_t{1} << (i % 64); }

// A storage stays live after `done` (plus `also`) when written and some toucher has not run.
bool still_needed(const problem& p, std::size_t s, const bitset& done, std::size_t also) {
  for (auto t : p.touchers[s])
    if (t != also && !has(done, t)) return true;
  return false;
}

bool ready(const problem& p, std::size_t u, const bitset& done) {
  if (has(done, u)) return false;
  for (auto w : p.preds[u])
    if (!has(done, w)) return false;
  return true;
}

// Peak bytes while unit u runs after `done`, whose live bytes (written, still needed) are `live`.
// Returns {peak, live bytes after u}.
std::pair<std::size_t, std::size_t> run_unit(const problem& p, std::size_t u, const bitset& done, std::size_t live) {
  // Storages u touches: live before u when written earlier; after u when still needed.
  std::size_t base = live, after = live, peak = 0;
  const auto& ts = p.touches[u];
  std::vector<std::size_t> first(ts.size(), npos), last(ts.size(), 0);
  std::vector<bool> before(ts.size()), keep(ts.size());
  for (std::size_t k = 0; k < ts.size(); ++k) {
    const auto s = ts[k];
    before[k] = p.writer[s] != npos && p.writer[s] != u;  // then it was written by a done unit
    keep[k] = still_needed(p, s, done, u);
    if (before[k]) base -= p.bytes[s];
    if (before[k] && !keep[k]) after -= p.bytes[s];
    if (!before[k] && keep[k]) after += p.bytes[s];
  }
  const auto& lts = p.layer_touches[u];
  for (std::size_t i = 0; i < lts.size(); ++i)
    for (auto s : lts[i]) {
      const auto k = static_cast<std::size_t>(std::find(ts.begin(), ts.end(), s) - ts.begin());
      if (first[k] == npos) first[k] = i;
      last[k] = i;
    }
  for (std::size_t i = 0; i < lts.size(); ++i) {
    std::size_t now = base + p.scratch[u][i];
    for (std::size_t k = 0; k < ts.size(); ++k) {
      const std::size_t from = before[k] ? 0 : first[k];
      const std::size_t to = keep[k] ? lts.size() : last[k];
      if (from <= i && i <= to) now += p.bytes[ts[k]];
    }
    peak = std::max(peak, now);
  }
  return {peak, after};
}

// The exact search; empty when there are too many sets.
std::vector<std::size_t> exact_order(const problem& p) {
  const std::size_t n = p.units.size(), words = (n + 63) / 64;
  struct state {
    bitset done;
    std::size_t peak, live, pred, unit;
  };
  std::vector<state> states{{bitset(words, 0), 0, 0, npos, npos}};
  std::vector<std::size_t> level{0};
  std::size_t steps = 0;
  for (std::size_t k = 0; k < n; ++k) {
    std::map<bitset, std::size_t> next_index;
    std::vector<std::size_t> next;
    for (auto si : level)
      for (std::size_t u = 0; u < n; ++u) {
        if (++steps > max_steps) return {};
        if (!ready(p, u, states[si].done)) continue;
        const auto [peak_u, after] = run_unit(p, u, states[si].done, states[si].live);
        const auto peak = std::max(states[si].peak, peak_u);
        bitset done = states[si].done;
        set(done, u);
        auto [it, fresh] = next_index.try_emplace(done, states.size());
        if (fresh) {
          if (states.size() >= max_states) return {};
          states.push_back({std::move(done), peak, after, si, u});
          next.push_back(it->second);
        } else if (peak < states[it->second].peak) {
          states[it->second].peak = peak;
          states[it->second].pred = si;
          states[it->second].unit = u;
        }
      }
    level = std::move(next);
  }
  std::vector<std::size_t> order;
  for (auto si = level.at(0); states[si].unit != npos; si = states[si].pred) order.push_back(states[si].unit);
  std::reverse(order.begin(), order.end());
  return order;
}

std::vector<std::size_t> greedy_order(const problem& p) {
  const std::size_t n = p.units.size();
  bitset done((n + 63) / 64, 0);
  std::size_t live = 0;
  std::vector<std::size_t> order;
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t best = npos, best_peak = 0, best_after = 0;
    for (std::size_t u = 0; u < n; ++u) {
      if (!ready(p, u, done)) continue;
      const auto [peak, after] = run_unit(p, u, done, live);
      if (best == npos || peak < best_peak || (peak == best_peak && after < best_after)) {
        best = u;
        best_peak = peak;
        best_after = after;
      }
    }
    set(done, best);
    live = best_after;
    order.push_back(best);
  }
  return order;
}

// Is there one topological order only (one ready unit at every step of the original order)?
bool single_order(const problem& p) {
  const std::size_t n = p.units.size();
  bitset done((n + 63) / 64, 0);
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t count = 0;
    for (std::size_t u = k; u < n && count < 2; ++u) count += ready(p, u, done) ? 1 : 0;
    if (count > 1) return false;
    set(done, k);
  }
  return true;
}

std::size_t peak_of(const problem& p, const std::vector<std::size_t>& order) {
  const std::size_t words = (p.units.size() + 63) / 64;
  bitset done(words, 0);
  std::size_t live = 0, peak = 0;
  for (auto u : order) {
    const auto [pu, after] = run_unit(p, u, done, live);
    peak = std::max(peak, pu);
    live = after;
    set(done, u);
  }
  return peak;
}

lowered reordered(const lowered& l, const problem& p, const std::vector<std::size_t>& order) {
  lowered out;
  out.aliases = l.aliases;
  out.layers.reserve(l.layers.size());
  for (auto u : order)
    for (std::size_t i = p.units[u].begin; i < p.units[u].end; ++i) out.layers.push_back(l.layers[i]);
  return out;
}

}  // namespace

void order_layers(const graph& g, lowered& l) {
  const auto p = make_problem(g, l);
  if (p.units.size() < 3 || single_order(p)) return;
  std::vector<std::vector<std::size_t>> candidates(1, std::vector<std::size_t>(p.units.size()));
  for (std::size_t u = 0; u < p.units.size(); ++u) candidates[0][u] = u;  // the original order
  candidates.push_back(exact_order(p));
  candidates.push_back(greedy_order(p));
  std::size_t best_arena = plan_memory(g, l).arena_bytes, best_peak = peak_of(p, candidates[0]);
  std::size_t best = 0;
  for (std::size_t c = 1; c < candidates.size(); ++c) {
    if (candidates[c].empty() || candidates[c] == candidates[0]) continue;
    const auto arena = plan_memory(g, reordered(l, p, candidates[c])).arena_bytes;
    const auto peak = peak_of(p, candidates[c]);
    if (arena < best_arena || (arena == best_arena && peak < best_peak)) {
      best = c;
      best_arena = arena;
      best_peak = peak;
    }
  }
  if (best != 0) l = reordered(l, p, candidates[best]);
}

}  // namespace kiln::cg
