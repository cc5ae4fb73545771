// Counting firmware: the instructions of one inference of a kiln model on Cortex-M, under
// `qemu-system-arm -icount shift=KILN_ICOUNT_SHIFT` (icount.hpp). One source for every model and
// kernel variant:
//   model.hpp  the kiln-generated header (namespace BARE_NS), --kernels reference or fast
//   data.hpp   the model's test_data_set_0 (zoo/pb2header.cmake: namespace zoo_data)
// It runs the model once as a warm-up, then once counted, and prints
//   instructions=<N>
// (the counted run; the warm-up's count too, as warmup_instructions=). Then it compares the
// counted run's output with ONNX Runtime's (output_0.pb), like zoo/zoo_main.cpp: bit for bit
// with COUNT_EXACT (the int8 models), else |got - ref| <= 1e-4 + 1e-3 |ref|. So every kernel
// variant is checked for correctness as well. Exit status 0 when the output matches, 1 if not.
// Without -icount the counts are meaningless, but the run and the check are the same.
//
// With COUNT_LAYERS (model.hpp from kiln compile --layer-probes) it also prints each layer's
// share of the counted run, a line "layer <k> <instructions> <name>" per layer, where name is
// the ONNX node and the kernel. The probes fall into the counted run (a call and a clock read
// per layer, so its total is a little above the plain firmware's), and under -icount the
// firmware checks that the layers add up to it: a probe lost or a layer counted twice fails.
#include <cmath>
#include <cstddef>
#include <cstring>

#include "data.hpp"
#include "icount.hpp"
#ifdef COUNT_LAYERS
namespace count_layers {
void layer_done(std::size_t k) noexcept;
}
#define KILN_LAYER_PROBE(k) count_layers::layer_done(k)
#endif
#include "model.hpp"
#include "semihost.hpp"

#ifndef BARE_NS
#error "compile with -DBARE_NS=<namespace of model.hpp>"
#endif

namespace {

namespace model = BARE_NS;

#ifdef COUNT_EXACT
constexpr float kAtol = 0.0f;
constexpr float kRtol = 0.0f;
#else
constexpr float kAtol = 1e-4f;
constexpr float kRtol = 1e-3f;
#endif

static_assert(model::info.input_count == 1 && model::info.output_count == 1, "one input, one output");
static_assert(zoo_data::input_count == 1 && zoo_data::output_count == 1, "one input, one output");
static_assert(model::info.inputs[0].type == kiln::dtype::f32 && model::info.outputs[0].type == kiln::dtype::f32,
              "float input and output (the int8 QDQ models quantize inside)");
static_assert(model::info.inputs[0].count == zoo_data::inputs[0].count, "data set and model disagree (input)");
static_assert(model::info.outputs[0].count == zoo_data::outputs[0].count, "data set and model disagree (output)");

model::arena_t arena;
alignas(16) float input_buf[zoo_data::inputs[0].count];
alignas(16) float output_buf[zoo_data::outputs[0].count];

#ifdef COUNT_LAYERS
}  // namespace

namespace count_layers {
// marks[0] the start of the run, marks[k + 1] the end of layer k: the probe only reads the clock;
// the counts are worked out after the run.
kiln_icount::mark marks[model::layer_count + 1];
void layer_done(std::size_t k) noexcept { marks[k + 1] = kiln_icount::now(); }
}  // namespace count_layers

namespace {
#endif

float from_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

std::uint64_t counted_run() {
  const void* inputs[1] = {input_buf};
  void* outputs[1] = {output_buf};
  for (float& v : output_buf) v = std::nanf("");  // an output never written fails the check
  const kiln_icount::mark begin = kiln_icount::now();
#ifdef COUNT_LAYERS
  count_layers::marks[0] = begin;
#endif
  model::info.run(inputs, outputs, &arena);
  const kiln_icount::mark end = kiln_icount::now();
  return kiln_icount::between(begin, end);
}

}  // namespace

int main() {
  std::memcpy(input_buf, zoo_data::inputs[0].bits, sizeof input_buf);
  kiln_icount::start();
  const std::uint64_t warmup = counted_run();
  const std::uint64_t n = counted_run();
  kiln_fw::print("model ");
  kiln_fw::print(model::info.name);
  kiln_fw::print("\nwarmup_instructions=");
  kiln_icount::print_u64(warmup);
  kiln_fw::print("\ninstructions=");
  kiln_icount::print_u64(n);
  kiln_fw::print("\n");
#ifdef COUNT_LAYERS
  // Each layer's count holds its probe's call and store, a few instructions; the layers add up to
  // the run's count less one clock read per probe (the marks' own code, which between() leaves
  // out) and the return from the last layer.
  std::uint64_t layers_sum = 0;
  bool layers_ok = true;
  for (std::size_t k = 0; k < model::layer_count; ++k) {
    const std::uint64_t layer = kiln_icount::between(count_layers::marks[k], count_layers::marks[k + 1]);
    layers_ok = layers_ok && layer <= n;  // a mark not taken in this run gives a count past the run's
    kiln_fw::print("layer ");
    kiln_fw::print_int(static_cast<long>(k));
    kiln_fw::print(" ");
    kiln_icount::print_u64(layer);
    kiln_fw::print(" ");
    kiln_fw::print(model::layer_names[k]);
    kiln_fw::print("\n");
    layers_sum += layer;
  }
  // Only under -icount are the counts exact, and there the warm-up run counts what the counted
  // run does; without it (the plain _qemu test) they follow the host's clock and are not checked.
  const bool exact = warmup == n;
  const std::uint64_t slack = (kiln_icount::overhead() + 16) * model::layer_count;
  if (exact && (!layers_ok || layers_sum > n || n - layers_sum > slack)) {
    kiln_fw::print("layers add up to ");
    kiln_icount::print_u64(layers_sum);
    kiln_fw::print(", a layer above the run's count or the sum not the run's count less the probes' clock reads: FAIL\n");
    return 1;
  }
#endif

  const zoo_data::tensor& ref = zoo_data::outputs[0];
  std::size_t bad = 0;
  float max_err = 0.0f;
  for (std::size_t i = 0; i < ref.count; ++i) {
    const float r = from_bits(ref.bits[i]);
    const float err = std::fabs(output_buf[i] - r);
    if (!(err <= kAtol + kRtol * std::fabs(r))) ++bad;  // a NaN is a mismatch
    if (!(err <= max_err)) max_err = err;
  }
  kiln_fw::print("output vs ONNX Runtime: max abs error ");
  kiln_fw::print_float(max_err);
  if (bad != 0) {
    kiln_fw::print(", ");
    kiln_fw::print_int(static_cast<long>(bad));
    kiln_fw::print(" elements out of tolerance: FAIL\n");
    return 1;
  }
  kiln_fw::print(": PASS\n");
  return 0;
}
