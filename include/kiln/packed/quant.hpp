// QuantizeLinear from float by the architecture's rows (arch::active::quantize_row): the same
// integers as the reference (ops/quant.hpp), in vectors on hosts whatever the optimization level
// (a model's input quantization: at -O2 the reference loop stayed scalar, a quarter of MobileNet
// int8's time).
#pragma once

#include "../arch/dispatch.hpp"
#include "../ops/quant.hpp"

namespace kiln::packed {

template <class Y>
inline void quantize_linear(const quant_params& p, const float* x, const float* scale, const Y* zero_point, Y* y) noexcept {
  for (index_t o = 0, i = 0; o < p.outer; ++o)
    for (index_t a = 0; a < p.axis_dim; ++a, i += p.inner)
      arch::active::quantize_row(x + i, p.inner, scale[a], zero_point ? static_cast<float>(zero_point[a]) : 0.f, y + i);
}

}  // namespace kiln::packed
