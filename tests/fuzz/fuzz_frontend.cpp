// libFuzzer target: arbitrary bytes through the whole codegen, load → check → opset → shapes →
// import → lower → plan → emit, with the header kept as a string (nothing is written).
//
// kiln reports a bad or unsupported model by throwing kiln::cg::error or unsupported_error (the
// CLI prints them and exits 1 or 2). Those are the expected outcomes here. Anything else escapes:
// another exception type (std::out_of_range from a bad index, std::bad_alloc, ...) aborts, and so
// do crashes, sanitizer reports, hangs and runaway memory, and libFuzzer saves the input.
#include "pipeline.hpp"

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // External data resolves against the model's folder: one that does not exist, so a fuzzed
  // location finds nothing (and cannot read the machine's files), whatever the working directory.
  kiln::cg::compile_options o;
  o.model = "/nonexistent/kiln-fuzz/fuzz.onnx";
  try {
    auto r = kiln::cg::compile_model(kiln::cg::parse_model(data, size, o.model.string()), o);
    if (r.header.empty()) std::abort();  // a successful compile always has a header
  } catch (const kiln::cg::error&) {
  } catch (const kiln::cg::unsupported_error&) {
  }
  return 0;
}
