// The one place that picks the architecture kernels. Everything above it (include/kiln/packed)
// calls kiln::arch::active::{f32_tile, int8_tile, plan_depthwise_taps, depthwise_taps,
// depthwise_lane_taps, requantize_saturate, requantize_row, requantize_tile, requantize_lanes,
// quantize_row, qlinear_add_row, ...} with tile widths active::{f32_nb, s8_nb} on panels and
// active::{f32_window_nb, s8_window_nb} on windows.
//
//   Cortex-M with DSP (__ARM_FEATURE_DSP, M-profile)        → arch/cortex_m   (ACLE __smlad)
//   x86 with AVX2 or AVX-512, or ARM NEON, and xsimd found  → arch/xsimd      (xsimd, VNNI)
//   anything else, or KILN_ARCH_GENERIC defined              → arch/generic   (plain C++)
//
// Every choice computes the same integers; float results differ only in summation rounding.
// Panel tile widths divide packed::panel_cols and window tiles read at most packed::direct_slack
// past a band, so packed weights and scratch sizes do not depend on the choice.
#pragma once

#include "generic/tiles.hpp"

#include <type_traits>

#if !defined(KILN_ARCH_GENERIC) && (defined(__AVX2__) || defined(__AVX512F__) || defined(__ARM_NEON)) && \
    defined(__has_include)
#if __has_include(<xsimd/xsimd.hpp>)
#define KILN_ARCH_HAS_XSIMD_TARGET 1
#endif
#endif

#if !defined(KILN_ARCH_GENERIC) && defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M') && \
    defined(__ARM_FEATURE_DSP)
#include "cortex_m/tiles.hpp"
namespace kiln::arch {
namespace active = cortex_m;
inline constexpr const char* active_name = "cortex_m_dsp";
}  // namespace kiln::arch
#elif defined(KILN_ARCH_HAS_XSIMD_TARGET)
#include "xsimd/tiles.hpp"
namespace kiln::arch {
namespace active = simd;
inline constexpr const char* active_name = "xsimd";
}  // namespace kiln::arch
#else
namespace kiln::arch {
namespace active = generic;
inline constexpr const char* active_name = "generic";
}  // namespace kiln::arch
#endif

// KILN_LANE_QUADS(w): the generated code's argument for int8 depthwise weights packed as lane
// quads (packed::pack_lane_quads): w where the active kernels run on them, else nullptr, so a
// target without them references no copy and its flash keeps none.
#ifndef KILN_LANE_QUADS
#define KILN_LANE_QUADS(packed) nullptr
#endif
static_assert(kiln::arch::active::depthwise_int8_quads == !std::is_null_pointer_v<decltype(KILN_LANE_QUADS(0))>,
              "KILN_LANE_QUADS passes the quads exactly where the active kernels take them");

