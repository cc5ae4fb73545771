// The arena plan of every zoo model: no two buffers that are live at the same step share a byte,
// every buffer fits the arena, and offsets are aligned.
#include <doctest/doctest.h>

#include "pipeline.hpp"

#include <filesystem>

using namespace kiln::cg;

TEST_CASE("arena plans never overlap live buffers") {
  int models = 0;
  for (const auto& e : std::filesystem::directory_iterator(KILN_TEST_MODELS_DIR)) {
    const auto file = e.path() / "model.onnx";
    if (!std::filesystem::exists(file)) continue;
    compile_options o;
    o.model = file;
    compile_result r;
    try {
      r = compile(o);
    } catch (const unsupported_error&) {
      continue;  // covered by the zoo check
    }
    ++models;
    CAPTURE(file.string());
    // Lifetimes, as the planner defines them: first and last layer touching the storage.
    std::map<tensor_id, std::pair<std::size_t, std::size_t>> life;
    for (std::size_t s = 0; s < r.l.layers.size(); ++s)
      for (auto a : r.l.layers[s].args) {
        if (a < 0) continue;
        auto it = r.l.aliases.find(a);
        const tensor_id t = it == r.l.aliases.end() ? a : it->second;
        if (!r.plan.offsets.count(t)) continue;
        auto [l, fresh] = life.try_emplace(t, s, s);
        if (!fresh) l->second.second = s;
      }
    for (const auto& [t, off] : r.plan.offsets) {
      CHECK(off % kiln::arena_alignment == 0);
      CHECK(off + r.g.at(t).bytes() <= r.plan.arena_bytes);
      for (const auto& [u, uoff] : r.plan.offsets) {
        if (u <= t) continue;
        const auto &lt = life.at(t), &lu = life.at(u);
        const bool live_together = lt.first <= lu.second && lu.first <= lt.second;
        const bool bytes_overlap = off < uoff + r.g.at(u).bytes() && uoff < off + r.g.at(t).bytes();
        CHECK_FALSE((live_together && bytes_overlap));
      }
    }
  }
  CHECK(models >= 2);
}
