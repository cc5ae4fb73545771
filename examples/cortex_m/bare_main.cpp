// Bare firmware: one model's run() on a zero input and nothing else (no printing, no reference
// data), so that flash beyond the weights is the model's code plus startup: the figure to hold
// against a code budget (docs/footprint.md). The model header comes from the build (BARE_NS).
#include "model.hpp"

namespace {
namespace model = BARE_NS;

model::arena_t arena;
alignas(16) unsigned char input_buf[model::info.inputs[0].bytes];
alignas(16) unsigned char output_buf[model::info.outputs[0].bytes];
}  // namespace

int main() {
  static_assert(model::info.input_count == 1 && model::info.output_count == 1, "one input, one output");
  const void* inputs[1] = {input_buf};
  void* outputs[1] = {output_buf};
  model::info.run(inputs, outputs, &arena);
  // Read the output so the inference cannot be optimised away; the run passes when it returns.
  volatile unsigned char sink = output_buf[0];
  (void)sink;
  return 0;
}
