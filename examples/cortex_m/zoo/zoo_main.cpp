// Firmware: runs one tests/models/<name> model on its test_data_set_0 and compares every output
// element with ONNX Runtime's reference (output_K.pb). One source for every model:
//   zoo_model.hpp  the kiln-generated header (namespace ZOO_NS, a compile definition)
//   zoo_data.hpp   the data set's inputs and reference outputs (pb2header.cmake)
// both found through the target's include directories. The model runs through the type-erased
// ZOO_NS::info, so nothing here depends on a model's input/output names or count.
// Tolerance (same as the host check): |got - ref| <= 1e-4 + 1e-3 * |ref|; with ZOO_EXACT (the
// quantized models) none: integer kernels must reproduce ONNX Runtime's results bit for bit.
// Exit status: 0 all outputs match, 1 mismatch, 2 data set and model disagree on the tensors.
#include "zoo_data.hpp"
#include "zoo_model.hpp"
#include "semihost.hpp"

#include <cmath>
#include <cstring>

#ifndef ZOO_NS
#error "compile with -DZOO_NS=<namespace of zoo_model.hpp>"
#endif

namespace {

namespace model = ZOO_NS;

#ifdef ZOO_EXACT
constexpr float kAtol = 0.0f;
constexpr float kRtol = 0.0f;
#else
constexpr float kAtol = 1e-4f;
constexpr float kRtol = 1e-3f;
#endif

// The data set must describe the model's tensors: checked at compile time where possible.
constexpr bool same_tensors(const kiln::tensor_info* info, const zoo_data::tensor* data, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (info[i].type != kiln::dtype::f32) return false;
    if (info[i].count != data[i].count) return false;
    if (info[i].bytes != data[i].count * sizeof(float)) return false;
  }
  return true;
}
static_assert(model::info.input_count == zoo_data::input_count, "data set and model disagree on the number of inputs");
static_assert(model::info.output_count == zoo_data::output_count, "data set and model disagree on the number of outputs");
static_assert(same_tensors(model::info.inputs, zoo_data::inputs, zoo_data::input_count),
              "data set inputs do not match the model's (float32, element counts)");
static_assert(same_tensors(model::info.outputs, zoo_data::outputs, zoo_data::output_count),
              "data set outputs do not match the model's (float32, element counts)");

constexpr std::size_t at_least_one(std::size_t n) { return n > 0 ? n : 1; }

// Everything in .bss: the arena (arena_bytes of RAM, no heap) and the input/output buffers.
model::arena_t arena;
alignas(16) float input_buf[at_least_one(zoo_data::input_total)];
alignas(16) float output_buf[at_least_one(zoo_data::output_total)];
const void* input_ptrs[at_least_one(zoo_data::input_count)];
void* output_ptrs[at_least_one(zoo_data::output_count)];

float from_bits(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Names and shapes are only known as strings/pointers: checked at run time.
bool describe_same(const char* what, std::size_t k, const kiln::tensor_info& info, const zoo_data::tensor& data) {
  bool ok = std::strcmp(info.name, data.name) == 0 && info.rank == data.rank;
  for (std::int32_t d = 0; ok && d < info.rank; ++d) ok = info.dims[d] == data.dims[d];
  if (!ok) {
    kiln_fw::print(what);
    kiln_fw::print_int(static_cast<long>(k));
    kiln_fw::print(": model has '");
    kiln_fw::print(info.name);
    kiln_fw::print("', the data set '");
    kiln_fw::print(data.name);
    kiln_fw::print("' (names or shapes differ)\n");
  }
  return ok;
}

}  // namespace

int main() {
  const kiln::model_info& info = model::info;
  kiln_fw::print("model ");
  kiln_fw::print(info.name);
  kiln_fw::print(": arena_bytes ");
  kiln_fw::print_int(static_cast<long>(info.arena_bytes));
  kiln_fw::print(" weight_bytes ");
  kiln_fw::print_int(static_cast<long>(info.weight_bytes));
  kiln_fw::print("\n");

  bool tensors_ok = true;
  std::size_t offset = 0;
  for (std::size_t k = 0; k < zoo_data::input_count; ++k) {
    const zoo_data::tensor& in = zoo_data::inputs[k];
    tensors_ok = describe_same("input ", k, info.inputs[k], in) && tensors_ok;
    std::memcpy(&input_buf[offset], in.bits, in.count * sizeof(float));
    input_ptrs[k] = &input_buf[offset];
    offset += in.count;
  }
  offset = 0;
  for (std::size_t k = 0; k < zoo_data::output_count; ++k) {
    tensors_ok = describe_same("output ", k, info.outputs[k], zoo_data::outputs[k]) && tensors_ok;
    output_ptrs[k] = &output_buf[offset];
    offset += zoo_data::outputs[k].count;
  }
  if (!tensors_ok) {
    kiln_fw::print("RESULT FAIL (tensors)\n");
    return 2;
  }
  // An output the model never writes stays NaN and fails the comparison.
  for (float& v : output_buf) v = std::nanf("");

  info.run(input_ptrs, output_ptrs, &arena);

  bool all_ok = true;
  offset = 0;
  for (std::size_t k = 0; k < zoo_data::output_count; ++k) {
    const zoo_data::tensor& ref = zoo_data::outputs[k];
    const float* got = &output_buf[offset];
    offset += ref.count;
    float max_err = 0.0f;
    std::size_t worst = 0;
    std::size_t bad = 0;
    for (std::size_t i = 0; i < ref.count; ++i) {
      const float r = from_bits(ref.bits[i]);
      const float err = std::fabs(got[i] - r);
      // Written so that a NaN (in got or ref) is a mismatch.
      if (!(err <= kAtol + kRtol * std::fabs(r))) ++bad;
      if (!(err <= max_err)) {
        max_err = err;
        worst = i;
      }
    }
    const bool ok = bad == 0;
    all_ok = all_ok && ok;
    kiln_fw::print("output ");
    kiln_fw::print_int(static_cast<long>(k));
    kiln_fw::print(" '");
    kiln_fw::print(ref.name);
    kiln_fw::print("' ");
    kiln_fw::print_int(static_cast<long>(ref.count));
    kiln_fw::print(" floats: max abs error ");
    kiln_fw::print_float(max_err);
    if (ref.count > 0) {
      kiln_fw::print(" (at ");
      kiln_fw::print_int(static_cast<long>(worst));
      kiln_fw::print(": got ");
      kiln_fw::print_float(got[worst]);
      kiln_fw::print(" ref ");
      kiln_fw::print_float(from_bits(ref.bits[worst]));
      kiln_fw::print(")");
    }
    if (ok) {
      kiln_fw::print(" PASS\n");
    } else {
      kiln_fw::print(" FAIL: ");
      kiln_fw::print_int(static_cast<long>(bad));
      kiln_fw::print(" elements out of tolerance\n");
    }
  }
  kiln_fw::print(all_ok ? "RESULT PASS\n" : "RESULT FAIL\n");
  return all_ok ? 0 : 1;
}
