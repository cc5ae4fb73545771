// Shapes as plain fixed-capacity arrays, so params structs stay aggregates usable in constexpr.
#pragma once

#include <cstdint>

namespace kiln {

using index_t = std::int32_t;

// Highest tensor rank a kernel handles. ONNX models in the field rarely pass 6.
inline constexpr int max_rank = 8;

struct shape_t {
  index_t rank;
  index_t dims[max_rank];
};

constexpr index_t element_count(const shape_t& s) noexcept {
  index_t n = 1;
  for (index_t i = 0; i < s.rank; ++i) n *= s.dims[i];
  return n;
}

// Walks a multi-dimensional index in row-major order, keeping one linear offset per operand.
// Kernels use it for broadcasting and strided views without division in the inner loop.
template <int Operands>
struct strided_walker {
  index_t rank;
  const index_t* dims;
  const index_t (*strides)[max_rank];  // strides[operand][axis]
  index_t counter[max_rank] = {};
  index_t offset[Operands] = {};

  void next() noexcept {
    for (index_t axis = rank - 1; axis >= 0; --axis) {
      if (++counter[axis] < dims[axis]) {
        for (int k = 0; k < Operands; ++k) offset[k] += strides[k][axis];
        return;
      }
      for (int k = 0; k < Operands; ++k) offset[k] -= strides[k][axis] * (dims[axis] - 1);
      counter[axis] = 0;
    }
  }
};

}  // namespace kiln
