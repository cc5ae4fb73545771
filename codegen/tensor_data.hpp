// Decoding ONNX TensorProto payloads (raw, typed fields, external data) into kiln's byte layout.
#pragma once

#include "ir.hpp"
#include "onnx_fwd.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace kiln::cg {

// kiln's dtype for an ONNX element type, or nullopt with the ONNX type's name in `name`.
std::optional<dtype> from_onnx_type(int onnx_type, std::string* name = nullptr);
int to_onnx_type(dtype t);

struct decoded_tensor {
  dtype type;
  dims_t dims;
  std::vector<std::uint8_t> bytes;
};

// `model_dir` resolves external data; `what` names the tensor in errors.
decoded_tensor decode_tensor(const onnx::TensorProto& t, const std::filesystem::path& model_dir, const std::string& what);

onnx::TensorProto read_tensor_file(const std::filesystem::path& file);

}  // namespace kiln::cg
