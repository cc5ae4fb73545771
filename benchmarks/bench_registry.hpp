// The models the benchmark binary times: each generated header registers itself from its own
// translation unit (model_tu.cpp.in), so no file has to include every model.
#pragma once

#include <kiln/kiln.hpp>

#include <string>
#include <vector>

namespace kiln_bench {

struct model_entry {
  std::string name;   // BM_model/<name>
  std::string group;  // "model" or "kernel"
  std::string onnx;   // the file both runtimes load
  const kiln::model_info* info;
  double macs;        // multiply-accumulates per inference; 0: not reported
  bool int8;
};

inline std::vector<model_entry>& registry() {
  static std::vector<model_entry> r;
  return r;
}

inline bool add_model(model_entry e) {
  registry().push_back(std::move(e));
  return true;
}

}  // namespace kiln_bench
