// Stage: ONNX's own model checker, so malformed models fail with its precise message.
#include "../stages.hpp"

#include <fmt/format.h>
#include <onnx/checker.h>

namespace kiln::cg {

void check_model(const onnx::ModelProto& model) {
  try {
    onnx::checker::check_model(model);
  } catch (const std::exception& e) {
    throw error(fmt::format("the ONNX checker rejects the model: {}", e.what()));
  }
}

}  // namespace kiln::cg
