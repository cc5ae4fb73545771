// `kiln bench`: time a model's generated code on the host.
#pragma once

#include <string>
#include <vector>

namespace kiln::cg {

struct bench_options {
  std::vector<std::string> paths;  // model files, or folders searched for model.onnx
  int runs = 200;
  std::string kernels = "fast";
  std::string cxx;
  std::string cxxflags;  // empty: -std=c++17 -O3 -march=native -DNDEBUG
  std::string include_dir;
  bool layers = false;  // also time each layer (the header gets layer probes)
  bool specialize = true;  // kiln compile --specialize
  std::string winograd = "auto";  // kiln compile --winograd: the host build
};

// For each model: compile it, build a timing driver, run it and print
// "<model> median_us=<t> min_us=<t> runs=<N>", with `layers` followed by one
// "  layer=<k> median_us=<t> share=<%> <op node kernel>" line per layer. Returns 0 when every model
// was timed.
int run_bench(const bench_options& o);

}  // namespace kiln::cg
