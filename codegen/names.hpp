// Turning ONNX names (any string) into C++ identifiers that are valid, stable and unique.
#pragma once

#include <set>
#include <string>

namespace kiln::cg {

class name_table {
 public:
  name_table();
  // A valid identifier for `raw`, distinct from every name handed out before.
  std::string unique(const std::string& raw);
  void reserve(const std::string& name) { used_.insert(name); }

 private:
  std::set<std::string> used_;
};

std::string sanitize(const std::string& raw);

}  // namespace kiln::cg
