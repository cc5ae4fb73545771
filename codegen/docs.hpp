// Documentation generated from the op registry, so docs and code cannot disagree.
#pragma once

#include <string>

namespace kiln::cg {

// "md": the supported-operators table; "names": one op per line; "excluded": node tests not claimed.
std::string supported_ops_doc(const std::string& format);

}  // namespace kiln::cg
