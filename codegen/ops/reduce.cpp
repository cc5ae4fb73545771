// Lowerings of reductions (filled in by the reductions work).
#include "common.hpp"

namespace kiln::cg {

void register_reduce(registry&) {}

}  // namespace kiln::cg
