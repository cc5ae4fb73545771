// Lowerings of data-movement operators (filled in by the tensor-ops work).
#include "common.hpp"

namespace kiln::cg {

void register_tensor_ops(registry&) {}

}  // namespace kiln::cg
