// ONNX Runtime as a timing peer, loaded with dlopen from the libonnxruntime.so.1 that
// onnxruntime-node ships (tools/ort), without ORT's headers: ort_peer.cpp declares the few C API
// entries it calls. One CPU thread, sequential execution, all graph optimizations (ORT's default).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace kiln_bench {

// ONNX TensorProto element types (the values ORT's C API uses too).
enum class onnx_type : int { f32 = 1, u8 = 2, i8 = 3, u16 = 4, i16 = 5, i32 = 6, i64 = 7, boolean = 9, f64 = 11, u32 = 12, u64 = 13 };

// A graph input or output bound to a caller-owned buffer.
struct ort_binding {
  std::string name;
  onnx_type type;
  std::vector<std::int64_t> dims;
  void* data;
  std::size_t bytes;
};

// The library: $KILN_ORT_LIB, else the path configured at build time (KILN_ORT_DEFAULT_LIB).
// Throws std::runtime_error with the reason when it cannot be loaded or fails the self-checks.
std::string ort_library_path();
std::string ort_version();  // loads the library on first use

class ort_session {
 public:
  // Creates the session and checks the model's input and output names against `inputs` and
  // `outputs`. Outputs are written into the given buffers when ORT accepts them, else ORT
  // allocates them per run.
  ort_session(const std::string& model_file, std::vector<ort_binding> inputs, std::vector<ort_binding> outputs);
  ~ort_session();
  ort_session(const ort_session&) = delete;
  ort_session& operator=(const ort_session&) = delete;

  void run();  // throws std::runtime_error with ORT's message

 private:
  struct state;
  std::unique_ptr<state> s_;
};

}  // namespace kiln_bench
