// `kiln report`: its totals are consistent with the plan and the header on every zoo model, MACs
// match hand-computed values, and its JSON escaping and output are deterministic.
#include <doctest/doctest.h>

#include "pipeline.hpp"
#include "report.hpp"

#include <algorithm>
#include <filesystem>

using namespace kiln::cg;

TEST_CASE("report totals are consistent on every zoo model") {
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
    const auto rep = make_report(r, file.string());

    CHECK(rep.arena_bytes == r.plan.arena_bytes);
    CHECK(rep.arena_lower_bound_bytes <= rep.arena_bytes);
    CHECK(rep.arena_bytes <= rep.no_reuse_bytes);
    REQUIRE(rep.layers.size() == r.l.layers.size());

    std::size_t weights = 0, live_max = 0;
    std::uint64_t macs = 0;
    for (std::size_t i = 0; i < rep.layers.size(); ++i) {
      const auto& l = rep.layers[i];
      CHECK(l.index == i);
      CHECK(l.weight_bytes <= l.weight_bytes_read);
      CHECK_FALSE(l.outputs.empty());  // every layer writes something
      weights += l.weight_bytes;
      macs += l.macs;
      live_max = std::max(live_max, l.live_bytes);
    }
    CHECK(weights == r.weight_bytes);  // each constant counted once, as the header stores it
    CHECK(weights == rep.weight_bytes);
    CHECK(macs == rep.macs);
    CHECK(live_max == rep.arena_lower_bound_bytes);
    CHECK(rep.layers[rep.peak_step].live_bytes == rep.arena_lower_bound_bytes);

    // Every planned tensor and scratch appears once as a buffer, at the plan's offset, inside the arena.
    CHECK(rep.buffers.size() == r.plan.offsets.size() + r.plan.scratch_offsets.size());
    std::size_t no_reuse = 0;
    for (const auto& b : rep.buffers) {
      CHECK(b.first <= b.last);
      CHECK(b.last < rep.layers.size());
      CHECK(b.offset + b.bytes <= rep.arena_bytes);
      no_reuse += (b.bytes + kiln::arena_alignment - 1) / kiln::arena_alignment * kiln::arena_alignment;
      if (!b.scratch) {
        const auto id = r.g.find(b.name);
        REQUIRE(id != no_tensor);
        CHECK(r.plan.offsets.at(id) == b.offset);
        CHECK(r.g.at(id).bytes() == b.bytes);
      }
    }
    CHECK(no_reuse == rep.no_reuse_bytes);

    std::size_t in = 0, out = 0;
    for (auto id : r.g.inputs) in += r.g.at(id).bytes();
    for (auto id : r.g.outputs) out += r.g.at(id).bytes();
    CHECK(rep.input_bytes == in);
    CHECK(rep.output_bytes == out);

    // Deterministic: the same compile gives the same text.
    const auto again = make_report(compile(o), file.string());
    CHECK(report_markdown(again) == report_markdown(rep));
    CHECK(report_json(again) == report_json(rep));
    CHECK(report_svg(again) == report_svg(rep));
  }
  CHECK(models >= 2);
}

TEST_CASE("report MACs of the digits CNN match hand-computed values") {
  compile_options o;
  o.model = std::filesystem::path(KILN_TEST_MODELS_DIR) / "digits_cnn" / "model.onnx";
  const auto rep = make_report(compile(o), "digits");
  // conv1: 1→8 channels, 3x3, pad 1 on 8x8 (BatchNorm folded in, ReLU fused); conv2: 8→16, 3x3,
  // pad 1 on 8x8; 2x2 max pool to 16x4x4; fc 256→10.
  REQUIRE(rep.layers.size() == 4);
  CHECK(rep.layers[0].op_type == "Conv");
  CHECK(rep.layers[0].outputs.at(0).dims == dims_t{1, 8, 8, 8});
  CHECK(rep.layers[0].macs == 8u * 8 * 8 * (1 * 3 * 3));  // out channels × out pixels × taps: 4608
  CHECK(rep.layers[1].op_type == "Conv");
  CHECK(rep.layers[1].outputs.at(0).dims == dims_t{1, 16, 8, 8});
  CHECK(rep.layers[1].macs == 16u * 8 * 8 * (8 * 3 * 3));  // 73728
  CHECK(rep.layers[2].op_type == "MaxPool");
  CHECK(rep.layers[2].macs == 0);
  CHECK(rep.layers[3].op_type == "Gemm");
  CHECK(rep.layers[3].outputs.at(0).dims == dims_t{1, 10});
  CHECK(rep.layers[3].outputs.at(0).location == "output");
  CHECK(rep.layers[3].macs == 256u * 10);  // 2560
  CHECK(rep.macs == 4608u + 73728 + 2560);
  // Weights: conv1 8x1x3x3 + 8, conv2 16x8x3x3 + 16, fc 10x256 + 10 floats.
  CHECK(rep.layers[0].weight_bytes == (72 + 8) * 4);
  CHECK(rep.layers[1].weight_bytes == (1152 + 16) * 4);
  CHECK(rep.layers[3].weight_bytes == (2560 + 10) * 4);
  CHECK(rep.weight_bytes == 15272);
  // The conv2 step holds conv1's output (2048 B) and conv2's (4096 B).
  CHECK(rep.layers[1].live_bytes == 2048 + 4096);
  CHECK(rep.arena_lower_bound_bytes == 6144);
  const auto json = report_json(rep);
  CHECK(json.find("\"macs\": 80896") != std::string::npos);
  CHECK(json.find("\"arena_lower_bound_bytes\": 6144") != std::string::npos);
}

TEST_CASE("report JSON strings are escaped and always valid UTF-8") {
  CHECK(json_string("plain/name_0") == "\"plain/name_0\"");
  CHECK(json_string("a\"b\\c") == "\"a\\\"b\\\\c\"");
  CHECK(json_string("tab\tnl\n\x01") == "\"tab\\tnl\\n\\u0001\"");
  CHECK(json_string("caf\xc3\xa9") == "\"caf\xc3\xa9\"");       // well-formed UTF-8 is kept
  CHECK(json_string("bad\xff\xc3") == "\"bad\\ufffd\\ufffd\"");  // stray and truncated bytes are not
  CHECK(json_string("\xed\xa0\x80") == "\"\\ufffd\\ufffd\\ufffd\"");  // an encoded surrogate
}
