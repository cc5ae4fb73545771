// The arena plan of every zoo model: no two buffers that are live at the same step share a byte,
// except an in-place pair the layer allows, every buffer fits the arena, and offsets are aligned;
// running the layers in one arena laid out by the plan gives exactly what running them in separate
// buffers does.
#include <doctest/doctest.h>

#include "pipeline.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>

using namespace kiln::cg;

namespace {

std::vector<compile_result> zoo() {
  std::vector<compile_result> out;
  std::vector<std::filesystem::path> dirs;
  for (const auto& e : std::filesystem::directory_iterator(KILN_TEST_MODELS_DIR)) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& d : dirs) {
    const auto file = d / "model.onnx";
    if (!std::filesystem::exists(file)) continue;
    compile_options o;
    o.model = file;
    try {
      out.push_back(compile(o));
    } catch (const unsupported_error&) {
      // covered by the zoo check
    }
  }
  return out;
}

tensor_id storage(const compile_result& r, tensor_id a) {
  auto it = r.l.aliases.find(a);
  return it == r.l.aliases.end() ? a : it->second;
}

// Is (t, u) an in-place pair the plan chose and the layer where they meet allows?
bool allowed_inplace(const compile_result& r, tensor_id out, tensor_id in, std::size_t step) {
  const auto it = r.plan.inplace.find(out);
  if (it == r.plan.inplace.end() || it->second != in || r.plan.offsets.at(out) != r.plan.offsets.at(in)) return false;
  if (r.g.at(out).bytes() != r.g.at(in).bytes()) return false;
  const auto& ly = r.l.layers.at(step);
  if (ly.args.empty() || storage(r, ly.args.back()) != out) return false;
  for (std::size_t k = 0; k + 1 < ly.args.size(); ++k) {  // every read of `in` here is an allowed one
    if (ly.args[k] < 0 || storage(r, ly.args[k]) != in) continue;
    if (std::find(ly.inplace_ok.begin(), ly.inplace_ok.end(), static_cast<int>(k)) == ly.inplace_ok.end()) return false;
  }
  return true;
}

// Runs every layer with each tensor in its own host buffer (shared = false) or in one arena laid
// out by the plan (shared = true); returns the graph outputs' bytes.
std::vector<std::vector<std::uint8_t>> run(const compile_result& r, bool shared) {
  const auto& g = r.g;
  std::vector<std::uint8_t> arena(r.plan.arena_bytes + kiln::arena_alignment);
  auto* base = arena.data() + (kiln::arena_alignment - reinterpret_cast<std::uintptr_t>(arena.data()) % kiln::arena_alignment) % kiln::arena_alignment;
  std::map<tensor_id, std::vector<std::uint8_t>> own;
  auto ptr = [&](tensor_id id) -> void* {
    const auto s = storage(r, id);
    if (g.at(s).is_constant()) return const_cast<std::uint8_t*>(g.at(s).value->data());
    if (shared && r.plan.offsets.count(s)) return base + r.plan.offsets.at(s);
    auto& b = own[s];
    if (b.empty()) b.resize(std::max<std::size_t>(g.at(s).bytes(), 1));
    return b.data();
  };
  for (auto id : g.inputs) {  // the same deterministic values in both runs
    auto* p = static_cast<std::uint8_t*>(ptr(id));
    const auto& t = g.at(id);
    for (std::size_t i = 0; i < t.bytes(); ++i) p[i] = 0;
    if (t.type == kiln::dtype::f32)
      for (std::size_t i = 0; i < t.count(); ++i) {
        const float v = static_cast<float>((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
        std::memcpy(p + 4 * i, &v, 4);
      }
  }
  std::vector<std::uint8_t> scratch;
  for (std::size_t s = 0; s < r.l.layers.size(); ++s) {
    const auto& ly = r.l.layers[s];
    scratch.assign(std::max<std::size_t>(ly.scratch_bytes, 1), 0);
    std::vector<void*> ptrs;
    for (auto a : ly.args)
      ptrs.push_back(a == no_tensor ? nullptr
                     : a == scratch_arg ? (shared ? static_cast<void*>(base + r.plan.scratch_offsets.at(s)) : scratch.data())
                                        : ptr(a));
    ly.run(ptrs.data());
  }
  std::vector<std::vector<std::uint8_t>> outs;
  for (auto id : g.outputs) {
    const auto* p = static_cast<const std::uint8_t*>(ptr(id));
    outs.emplace_back(p, p + g.at(id).bytes());
  }
  return outs;
}

}  // namespace

TEST_CASE("arena plans never overlap live buffers, except allowed in-place pairs") {
  int models = 0;
  for (const auto& r : zoo()) {
    ++models;
    CAPTURE(r.g.outputs.empty() ? std::string() : r.g.at(r.g.outputs[0]).name);
    // Lifetimes, as the planner defines them: first and last layer touching the storage.
    std::map<tensor_id, std::pair<std::size_t, std::size_t>> life;
    for (std::size_t s = 0; s < r.l.layers.size(); ++s)
      for (auto a : r.l.layers[s].args) {
        if (a < 0) continue;
        const tensor_id t = storage(r, a);
        if (!r.plan.offsets.count(t)) continue;
        auto [l, fresh] = life.try_emplace(t, s, s);
        if (!fresh) l->second.second = s;
      }
    for (const auto& [out, in] : r.plan.inplace) {  // each pair meets at exactly one step
      REQUIRE(life.count(out));
      REQUIRE(life.count(in));
      CHECK(life.at(out).first == life.at(in).second);
      CHECK(allowed_inplace(r, out, in, life.at(out).first));
    }
    for (const auto& [t, off] : r.plan.offsets) {
      CHECK(off % kiln::arena_alignment == 0);
      CHECK(off + r.g.at(t).bytes() <= r.plan.arena_bytes);
      for (const auto& [u, uoff] : r.plan.offsets) {
        if (u <= t) continue;
        const auto &lt = life.at(t), &lu = life.at(u);
        const bool live_together = lt.first <= lu.second && lu.first <= lt.second;
        const bool bytes_overlap = off < uoff + r.g.at(u).bytes() && uoff < off + r.g.at(t).bytes();
        if (!(live_together && bytes_overlap)) continue;
        // The only exception: output and input of one in-place layer, live together at that step only.
        const bool inplace = (lt.second == lu.first && allowed_inplace(r, u, t, lu.first)) ||
                             (lu.second == lt.first && allowed_inplace(r, t, u, lt.first));
        CAPTURE(r.g.at(t).name);
        CAPTURE(r.g.at(u).name);
        CHECK(inplace);
      }
    }
    // Scratch buffers share bytes with nothing live at their step.
    for (const auto& [s, soff] : r.plan.scratch_offsets) {
      const auto sb = r.l.layers[s].scratch_bytes;
      for (const auto& [t, off] : r.plan.offsets) {
        const auto& lt = life.at(t);
        if (lt.first <= s && s <= lt.second) CHECK_FALSE((soff < off + r.g.at(t).bytes() && off < soff + sb));
      }
    }
    // The plan's layout computes what separate buffers do, bit for bit.
    CHECK(run(r, true) == run(r, false));
  }
  CHECK(models >= 2);
}

TEST_CASE("elementwise layers run in place when their input dies there") {
  // resnet8: each residual Add overwrites one of its operands (both die there) and the Relu after it
  // overwrites the sum; the plan is no larger for it, and computes the same outputs bit for bit.
  compile_options o;
  o.model = std::filesystem::path(KILN_TEST_MODELS_DIR) / "resnet8" / "model.onnx";
  const auto r = compile(o);
  std::size_t elementwise = 0;
  for (std::size_t s = 0; s < r.l.layers.size(); ++s) {
    const auto& ly = r.l.layers[s];
    if (ly.op_type != "Add" && ly.op_type != "Relu") continue;
    ++elementwise;
    CAPTURE(s);
    REQUIRE(!ly.inplace_ok.empty());
    const auto out = ly.args.back();
    REQUIRE(r.plan.inplace.count(out));
    const auto in = r.plan.inplace.at(out);
    CHECK(std::find(ly.args.begin(), ly.args.end() - 1, in) != ly.args.end() - 1);
    CHECK(r.plan.offsets.at(out) == r.plan.offsets.at(in));
  }
  CHECK(elementwise == 6);
  CHECK(r.plan.inplace.size() == 6);
  CHECK(run(r, true) == run(r, false));

  // fc_autoencoder: every BatchNormalization (channel_affine) and Relu may run in place, but greedy
  // placement of the merged chains would need 1056 bytes instead of 1024, so the planner keeps the
  // separate buffers: in-place never makes an arena larger.
  o.model = std::filesystem::path(KILN_TEST_MODELS_DIR) / "fc_autoencoder" / "model.onnx";
  const auto fc = compile(o);
  std::size_t allowed = 0;
  for (const auto& ly : fc.l.layers) allowed += ly.inplace_ok.empty() ? 0 : 1;
  CHECK(allowed == 18);
  CHECK(fc.plan.arena_bytes == 1024);
  CHECK(fc.plan.inplace.empty());
}

TEST_CASE("in-place positions name only operands with the output's element count and type") {
  // A broadcast operand (fewer elements) is read again after its slot of the output is written.
  for (const auto& r : zoo())
    for (const auto& ly : r.l.layers)
      for (int pos : ly.inplace_ok) {
        REQUIRE(pos >= 0);
        REQUIRE(static_cast<std::size_t>(pos) + 1 < ly.args.size());
        const auto& in = r.g.at(ly.args[pos]);
        const auto& out = r.g.at(ly.args.back());
        CHECK(in.count() == out.count());
        CHECK(in.type == out.type);
      }
}
