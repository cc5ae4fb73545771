// `kiln check`: the command users run to trust kiln on their model, and the conformance harness.
#pragma once

#include <string>
#include <vector>

namespace kiln::cg {

struct check_options {
  std::vector<std::string> dirs;
  double rtol = 1e-3;
  double atol = 1e-5;
  // Quantized outputs (int8/uint8, or float from a per-tensor DequantizeLinear): the most
  // quantization steps an element may differ by; negative: use rtol/atol like any float.
  int max_lsb = -1;
  std::string cxx;
  std::string cxxflags;
  std::string include_dir;
  std::string work_dir;
  std::string kernels = "reference";  // compile_options::kernels
  bool specialize = false;            // compile_options::specialize
  std::string winograd = "off";       // compile_options::winograd
};

// Prints one line per model and output, then "N passed, M failed". Returns 0 when all pass.
int run_check(const check_options& o);

}  // namespace kiln::cg
