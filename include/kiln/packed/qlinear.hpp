// QLinearAdd by the architecture's rows (arch::active::qlinear_add_row) where each operand walks
// the output as a row or is one scalar; other broadcasts by the reference op. The same integers as
// kiln::qlinear_add (ops/qlinear.hpp), in vectors on hosts whatever the optimization level (at -Os
// the reference loop stayed scalar: ResNet-8 int8 5x its -O3 time).
#pragma once

#include "../arch/dispatch.hpp"
#include "../ops/qlinear.hpp"

namespace kiln::packed {

template <class T>
inline void qlinear_add(const qlinear_binary_params& p, const T* a, const T* b, T* y) noexcept {
  const int kx = p.swap ? 1 : 0;  // MLAS's first operand
  const T* const x = p.swap ? b : a;
  const T* const z = p.swap ? a : b;
  const float rx = p.swap ? p.ratio_b : p.ratio_a, rz = p.swap ? p.ratio_a : p.ratio_b;
  if (!kiln::detail::qlinear_flat(kiln::detail::qlinear_layout(p, kx), kiln::detail::qlinear_layout(p, 1 - kx),
                                  [&](auto sx, auto sz) {
                                    arch::active::qlinear_add_row<decltype(sx)::value, decltype(sz)::value>(
                                        x, z, p.count, rx, rz, p.fixed, y);
                                  }))
    kiln::qlinear_add(p, a, b, y);
}

}  // namespace kiln::packed
