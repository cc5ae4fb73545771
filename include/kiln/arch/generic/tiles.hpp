// Portable C++ register tiles: the reference every SIMD and DSP tile is tested against, and the
// tiles of every target without one (Cortex-M0/M3, plain x86-64, KILN_ARCH_GENERIC).
//
// A tile computes an MR x NB block of a matrix product, c = a * b, over k steps:
//   float:  c[r][j] = sum_kk a[kk*a_ks + r*a_rs] * b[kk*ldb + j]
//   int8:   c[r][j] = sum_kk A(r, kk) * B(kk, j) in int32, k in quads of 4 (K rounded up to a
//           multiple of 4 with zero weights): A(r, kk) = a[(kk/4)*a_ks + r*a_rs + kk%4],
//           B(kk, j) = b[(kk/4)*ldb + 4*j + kk%4]. Quads are what VNNI (vpdpbusd), SDOT and the
//           Cortex-M DSP (two __smlad per quad) consume in one step.
// c is a dense MR x NB array; the caller adds bias, activation or requantization and stores.
//
// Where b's rows are is the tile's `Rows` argument: a panel (panel_rows: k rows ldb apart), or a
// window (window_rows, packed/direct.hpp: per step a channel, or a channel quad, cs apart, and
// within it one row per tap at off[tap]). The tiles take the same a either way, one step per row.
#pragma once

#include "../../core/requantize.hpp"
#include "../../core/shape.hpp"
#include "../../core/types.hpp"
#include "../../core/window.hpp"
#include "rows.hpp"

#include <cstdint>
#include <limits>

namespace kiln::arch {

template <class T> struct panel_rows {
  using value_type = T;
  const T* b;
  index_t ldb;
  template <class F> KILN_ALWAYS_INLINE void each(index_t k, F&& f) const noexcept {
    const T* p = b;
    for (index_t q = 0; q < k; ++q, p += ldb) f(p);
  }
};
template <class T> struct window_rows {
  using value_type = T;
  const T* b;
  index_t cs, taps;
  const index_t* off;
  template <class F> KILN_ALWAYS_INLINE void each(index_t steps, F&& f) const noexcept {
    const T* p = b;
    for (index_t q = 0; q < steps; ++q, p += cs)
      for (index_t t = 0; t < taps; ++t) f(p + off[t]);
  }
};

}  // namespace kiln::arch

namespace kiln::arch::generic {

inline constexpr index_t f32_nb = 8;  // columns per float tile
inline constexpr index_t s8_nb = 8;   // columns per int8 tile
// Tile widths on the direct path's windows (packed/direct.hpp). Wider where the registers allow:
// most of a window's unaligned loads cross a cache line, and a wider tile shares each one among
// more multiply-adds per weight broadcast.
inline constexpr index_t f32_window_nb = f32_nb;
inline constexpr index_t s8_window_nb = s8_nb;
// The width a band's last window tile may shrink by (packed/direct.hpp for_each_window_tile): one
// vector where the tile is several; here, the whole tile.
inline constexpr index_t f32_window_step = f32_window_nb;
inline constexpr index_t s8_window_step = s8_window_nb;
// Which int8 tile a target runs, for tests and reports.
inline constexpr const char* int8_tile_name = "generic";

// The tiles' loops are left to the compiler (no KILN_UNROLL), here and in int8_tile and
// int8_dense_tile: on scalar targets a 4 x 8 tile is more accumulators than registers, and
// unrolling every instance of it grew Cortex-M4 code at -O3 by 8-27 KB for the same instruction
// count.
// Row r of an f32 tile's result at c + r * ldc (the tile's own width by default).
template <index_t MR, index_t NB, class Rows>
inline void f32_tile(index_t k, const float* a, index_t a_rs, index_t a_ks, const Rows& rows, float* c,
                     index_t ldc = NB) noexcept {
  float acc[MR][NB] = {};
  rows.each(k, [&](const float* b) {
    for (index_t r = 0; r < MR; ++r) {
      const float av = a[r * a_rs];
      for (index_t j = 0; j < NB; ++j) acc[r][j] += av * b[j];
    }
    a += a_ks;
  });
  for (index_t r = 0; r < MR; ++r)
    for (index_t j = 0; j < NB; ++j) c[r * ldc + j] = acc[r][j];
}
template <index_t MR, index_t NB>
inline void f32_tile(index_t k, const float* a, index_t a_rs, index_t a_ks, const float* b, index_t ldb,
                     float* c) noexcept {
  f32_tile<MR, NB>(k, a, a_rs, a_ks, panel_rows<float>{b, ldb}, c);
}
// G blocks of MR rows, block g's at a + g * a_gs, in one NB-column tile (rows g * MR + r of c).
// Packed kernels call it where a target's tile is narrower than its widest (packed/conv.hpp);
// here each block is its own tile.
template <index_t G, index_t MR, index_t NB, class Rows>
inline void f32_tile_row_blocks(index_t k, const float* a, index_t a_rs, index_t a_ks, index_t a_gs, const Rows& rows,
                                float* c, index_t ldc = NB) noexcept {
  for (index_t g = 0; g < G; ++g) f32_tile<MR, NB>(k, a + g * a_gs, a_rs, a_ks, rows, c + g * MR * ldc, ldc);
}

// Depthwise taps over a wide plane (packed/depthwise.hpp), float or int32:
//   acc[i] = (accumulate ? acc[i] : bias) + sum over t < taps of w[t] * x[off[t] + i],  i < n.
// Each output sums all its taps in a register and is stored once.
// Four outputs per step: each tap's weight and offset are loaded once per four multiply-adds
// (scalar targets: Cortex-M's FPU, M0/M3).
template <class A>
inline void depthwise_taps(index_t n, index_t taps, const A* w, const index_t* off, const A* x, A bias,
                           bool accumulate, A* acc) noexcept {
  constexpr index_t J = 4;
  index_t i = 0;
  for (; i + J <= n; i += J) {
    A a[J];
    KILN_UNROLL for (index_t j = 0; j < J; ++j) a[j] = accumulate ? acc[i + j] : bias;
    for (index_t t = 0; t < taps; ++t) {
      const A wt = w[t];
      const A* xt = x + off[t] + i;
      KILN_UNROLL for (index_t j = 0; j < J; ++j) a[j] += wt * xt[j];
    }
    KILN_UNROLL for (index_t j = 0; j < J; ++j) acc[i + j] = a[j];
  }
  for (; i < n; ++i) {
    A a = accumulate ? acc[i] : bias;
    for (index_t t = 0; t < taps; ++t) a += w[t] * x[off[t] + i];
    acc[i] = a;
  }
}

// The taps of depthwise_taps calls whose offsets stay while the weights change (a layer's
// channels), planned once per layer: here the offsets as they are; Cortex-M pairs its int16 taps
// for __smlad in its plan (cortex_m/depthwise.hpp). At most depthwise_max_taps taps a plan.
inline constexpr index_t depthwise_max_taps = 16;
template <class A> struct depthwise_tap_plan {
  index_t taps;
  index_t off[depthwise_max_taps];
};
template <class A> inline depthwise_tap_plan<A> plan_depthwise_taps(index_t taps, const index_t* off) noexcept {
  depthwise_tap_plan<A> plan{};
  plan.taps = taps;
  for (index_t t = 0; t < taps; ++t) plan.off[t] = off[t];
  return plan;
}
template <class A>
inline void depthwise_taps(const depthwise_tap_plan<A>& plan, index_t n, const A* w, const A* x, A bias, bool accumulate,
                           A* acc) noexcept {
  depthwise_taps(n, plan.taps, w, plan.off, x, bias, accumulate, acc);
}

// Depthwise over channel lanes (packed/depthwise.hpp): depthwise_lanes channels side by side,
// element l of every position's group of lanes. For count output positions j:
//   out[j*L + l] = bias[l] + sum over t < taps of w[t*L + l] * x[base[j] + off[t] + l]
// The largest wide plane (output rows x row pitch) on which a target prefers this to the
// per-channel wide planes, for accumulators A (float, or int32 for int8 layers); 0: never.
inline constexpr index_t depthwise_lanes = 16;
template <class A> inline constexpr index_t depthwise_lanes_max_plane = std::numeric_limits<index_t>::max();
// The element type of an int8 layer's padded planes (input minus zero point) for depthwise_taps.
using depthwise_int8_plane = std::int32_t;

// The lanes' input rows: dst[iw * L + l] = A(x[l * row_stride + iw]) - zero_point for lanes l <
// `lanes` and columns iw < width (one input row of `lanes` channels, row_stride apart).
template <class X, class A>
inline void interleave_lanes(const X* x, index_t row_stride, index_t lanes, index_t width, A zero_point,
                             A* dst) noexcept {
  constexpr index_t L = depthwise_lanes;
  for (index_t l = 0; l < lanes; ++l) {
    const X* xr = x + l * row_stride;
    for (index_t iw = 0; iw < width; ++iw) dst[iw * L + l] = static_cast<A>(static_cast<A>(xr[iw]) - zero_point);
  }
}

// The way back, for the lanes' outputs: y[l * row_stride + j] = q[j * L + l] for lanes l < `lanes`
// and positions j < count.
template <class Y>
inline void deinterleave_lanes(const Y* q, index_t count, index_t lanes, Y* y, index_t row_stride) noexcept {
  constexpr index_t L = depthwise_lanes;
  for (index_t l = 0; l < lanes; ++l)
    for (index_t j = 0; j < count; ++j) y[l * row_stride + j] = q[j * L + l];
}

template <class A>
inline void depthwise_lane_taps(index_t count, const index_t* base, index_t taps, const A* w, const index_t* off,
                                const A* x, const A* bias, A* out) noexcept {
  constexpr index_t L = depthwise_lanes;
  for (index_t j = 0; j < count; ++j, out += L) {
    A a[L];
    const A* const xj = x + base[j];
    for (index_t l = 0; l < L; ++l) a[l] = bias[l];
    for (index_t t = 0; t < taps; ++t)
      for (index_t l = 0; l < L; ++l) a[l] += w[t * L + l] * xj[off[t] + l];
    for (index_t l = 0; l < L; ++l) out[l] = a[l];
  }
}

// Depthwise over channel lanes straight from the rows of a blocked input ([column][L] rows, pitch
// elements apart), where depthwise_lane_taps reads a window they were copied into: n output
// positions of one output row whose every tap lies inside the rows. For positions j < n:
//   out[j*L + l] = act(bias[l] + sum over i < rows, k < kw of
//                      w[(i*kw + k)*L + l] * x[i*pitch + (j*s + k*d)*L + l])
// The template constants S, D, KW (0: use s, d, kw) are a fast target's; this loop ignores them.
// At stride 1, out may lie in the rows themselves at out <= x - depthwise_lane_row_lead * L:
// every output then lands on input only positions before it read.
// Not taken here (depthwise_lane_rows false): the window path is what the Cortex-M counts were
// measured on; this is the contract the fast targets' kernels meet.
inline constexpr bool depthwise_lane_rows = false, depthwise_lane_row_bands = false;
inline constexpr index_t depthwise_lane_row_lead = 16;
template <index_t S = 0, index_t D = 0, index_t KW = 0, class A, class Act>
inline void depthwise_lane_row(index_t n, const A* x, index_t pitch, index_t rows, const A* w, const A* bias, A* out,
                               Act act, index_t s, index_t d, index_t kw) noexcept {
  constexpr index_t L = depthwise_lanes;
  for (index_t j = 0; j < n; ++j, out += L) {
    A a[L];
    for (index_t l = 0; l < L; ++l) a[l] = bias[l];
    for (index_t i = 0; i < rows; ++i)
      for (index_t k = 0; k < kw; ++k)
        for (index_t l = 0; l < L; ++l) a[l] += w[(i * kw + k) * L + l] * x[i * pitch + (j * s + k * d) * L + l];
    for (index_t l = 0; l < L; ++l) out[l] = act(a[l]);
  }
}

// Whether a matrix's rows go into tiles of up to 4 rows as even as they go (9 as 3 + 3 + 3, see
// packed::detail::for_each_row_tile) or into 4s and then 1s. Not here: an in-order core runs a
// 1-row tile at the others' cost per multiply-add, and more tile shapes cost code (Cortex-M4:
// DS-CNN int8 5.79 against 5.94 M instructions).
inline constexpr bool even_row_tiles = false;

// Whether depthwise_lane_taps takes an activation to apply as it stores (an overload with one
// more argument). Not here: the portable loop stays one instance for every activation kind (code
// size on microcontrollers), and the caller activates the outputs as it copies them out.
inline constexpr bool depthwise_lane_taps_activate = false;
// The identity: no activation.
struct keep {
  template <class V> V operator()(V v) const noexcept { return v; }
};

// int8 depthwise over lane quads (packed/depthwise.hpp): a window element is, per lane, the bytes
// of four input columns d apart, a 32-bit word (little-endian), and a weight quad four kernel
// columns' int8 weights, so one dot-product instruction takes four taps of 16 channels where the
// int32 lanes above take one. Targets with one (AVX-512 VNNI) set depthwise_int8_quads; these
// loops are their definition.
inline constexpr bool depthwise_int8_quads = false;

// A row's quads: dst[iw * L + l] byte k (k = 0..3) is column c = first + iw + k * d of the lanes'
// row x (x[c * L + l] ^ flip) where 0 <= c < width, else fill; for iw < n.
inline void lane_quads(const std::uint8_t* x, index_t first, index_t width, index_t n, index_t d, std::uint8_t fill,
                       std::uint8_t flip, std::uint32_t* dst) noexcept {
  constexpr index_t L = depthwise_lanes;
  for (index_t iw = 0; iw < n; ++iw)
    for (index_t l = 0; l < L; ++l) {
      std::uint32_t q = 0;
      for (index_t k = 0; k < 4; ++k) {
        const index_t c = first + iw + k * d;
        const std::uint8_t v = c >= 0 && c < width ? static_cast<std::uint8_t>(x[c * L + l] ^ flip) : fill;
        q |= static_cast<std::uint32_t>(v) << (8 * k);
      }
      dst[iw * L + l] = q;
    }
}

// out[j*L + l] = bias[l] + sum over t < steps of dot(x[base[j] + off[t] + l], w[t*L + l]): the
// window's quads as uint8, the weights' as int8, summed in int32.
inline void depthwise_lane_quads(index_t count, const index_t* base, index_t steps, const std::uint32_t* w,
                                 const index_t* off, const std::uint32_t* x, const std::int32_t* bias,
                                 std::int32_t* out) noexcept {
  constexpr index_t L = depthwise_lanes;
  for (index_t j = 0; j < count; ++j)
    for (index_t l = 0; l < L; ++l) {
      std::int32_t a = bias[l];
      for (index_t t = 0; t < steps; ++t) {
        const std::uint32_t xq = x[base[j] + off[t] + l], wq = w[t * L + l];
        for (index_t k = 0; k < 4; ++k)
          a += static_cast<std::int32_t>(static_cast<std::uint8_t>(xq >> (8 * k))) *
               static_cast<std::int32_t>(static_cast<std::int8_t>(static_cast<std::uint8_t>(wq >> (8 * k))));
      }
      out[j * L + l] = a;
    }
}

// Pointwise over channel blocks (packed/pointwise.hpp): MR output positions by NB output
// channels, NB a multiple of L = depthwise_lanes; weights and outputs in blocks of L channels,
// w_bs and y_bs apart, input channel kk of position r at (kk / L) * x_bs + (kk % L) * x_ls + r * x_ps
// (a planar or a channel-blocked input):
//   y[(j / L) * y_bs + r * L + j % L] = bias[j] + sum over kk < k of
//       x[(kk / L) * x_bs + (kk % L) * x_ls + r * x_ps] * w[(j / L) * w_bs + kk * L + j % L]
// bias may be null (zero). f32_block_tile_rows x f32_block_tile_cols is the target's tile.
inline constexpr index_t f32_block_tile_rows = 1;
inline constexpr index_t f32_block_tile_cols = depthwise_lanes;
template <index_t MR, index_t NB>
inline void f32_block_tile(index_t k, const float* x, index_t x_bs, index_t x_ls, index_t x_ps, const float* w,
                           index_t w_bs, const float* bias, float* y, index_t y_bs) noexcept {
  constexpr index_t L = depthwise_lanes;
  static_assert(NB % L == 0, "whole channel blocks");
  float acc[MR][NB];
  KILN_UNROLL for (index_t r = 0; r < MR; ++r)
    KILN_UNROLL for (index_t j = 0; j < NB; ++j) acc[r][j] = bias ? bias[j] : 0.f;
  for (index_t k0 = 0; k0 < k; k0 += L, x += x_bs) {
    const index_t n = k - k0 < L ? k - k0 : L;
    for (index_t l = 0; l < n; ++l)
      KILN_UNROLL for (index_t r = 0; r < MR; ++r) {
        const float a = x[l * x_ls + r * x_ps];
        KILN_UNROLL for (index_t j = 0; j < NB; ++j) acc[r][j] += a * w[(j / L) * w_bs + (k0 + l) * L + j % L];
      }
  }
  KILN_UNROLL for (index_t r = 0; r < MR; ++r)
    KILN_UNROLL for (index_t j = 0; j < NB; ++j) y[(j / L) * y_bs + r * L + j % L] = acc[r][j];
}

template <index_t MR, index_t NB, class A, class Rows>
inline void int8_tile(index_t k4, const A* a, index_t a_rs, index_t a_ks, const Rows& rows, std::int32_t* c) noexcept {
  std::int32_t acc[MR][NB] = {};
  rows.each(k4, [&](const auto* b) {
    for (index_t r = 0; r < MR; ++r)
      for (index_t j = 0; j < NB; ++j)
        for (index_t i = 0; i < 4; ++i)
          acc[r][j] += static_cast<std::int32_t>(a[r * a_rs + i]) * static_cast<std::int32_t>(b[4 * j + i]);
    a += a_ks;
  });
  for (index_t r = 0; r < MR; ++r)
    for (index_t j = 0; j < NB; ++j) c[r * NB + j] = acc[r][j];
}
template <index_t MR, index_t NB, class A, class B>
inline void int8_tile(index_t k4, const A* a, index_t a_rs, index_t a_ks, const B* b, index_t ldb,
                      std::int32_t* c) noexcept {
  int8_tile<MR, NB>(k4, a, a_rs, a_ks, panel_rows<B>{b, ldb}, c);
}
// G blocks of MR rows (block g's quads at a + g * a_gs) in one NB-column tile, rows g * MR + r of
// c. Only targets with s8_row_blocks take it for speed (packed/conv.hpp); here each block is its
// own tile.
inline constexpr bool s8_row_blocks = false;
template <index_t G, index_t MR, index_t NB, class A, class B>
inline void int8_tile_row_blocks(index_t k4, const A* a, index_t a_rs, index_t a_ks, index_t a_gs, const B* b,
                                 index_t ldb, std::int32_t* c) noexcept {
  for (index_t g = 0; g < G; ++g) int8_tile<MR, NB>(k4, a + g * a_gs, a_rs, a_ks, b, ldb, c + g * MR * NB);
}

// ONNX Runtime's requantization, saturate(round_half_even(float32(acc) * scale) + zero_point),
// in integers only (core/requantize.hpp): exact without an FPU. `scale` is rq as a float, for
// targets that round in float instead.
inline std::int32_t requantize_saturate(std::int32_t acc, float scale, const requant_params& rq,
                                        std::int32_t zero_point, std::int32_t lo, std::int32_t hi) noexcept {
  static_cast<void>(scale);
  return kiln::requantize_saturate(acc, rq, zero_point, lo, hi);
}

// Requantizes count positions of depthwise_lanes lanes, lane l with its own scale:
// y[j*L + l] = requantize_saturate(acc[j*L + l], scale[l], rq[l]) into Y's range.
template <class Y>
inline void requantize_lanes(const std::int32_t* acc, index_t count, const float* scale, const requant_params* rq,
                             std::int32_t zero_point, Y* y) noexcept {
  static_cast<void>(scale);
  constexpr std::int32_t lo = std::numeric_limits<Y>::min(), hi = std::numeric_limits<Y>::max();
  for (index_t j = 0; j < count; ++j)
    for (index_t l = 0; l < depthwise_lanes; ++l, ++acc, ++y)
      *y = static_cast<Y>(kiln::requantize_saturate(*acc, rq[l], zero_point, lo, hi));
}

// Whether strided_rows on floats runs in vectors (masked loads), so that callers with short
// rows of their own (packed/panel.hpp) gain by it: not here, where their own loops cost less.
inline constexpr bool f32_strided_rows_in_vectors = false;

// Rows of a direct conv's band (packed/direct.hpp), a stride phase of padded input rows: for
// rows r < count and columns q < n, dst[r * dst_stride + q] = x[r * x_stride + first + q * s]
// where 0 <= first + q * s < width, else 0. The SIMD targets load under masks (the padding comes
// with the loads), each mask made once for all the rows (strides 1 and 2).
template <class T>
inline void strided_rows(T* dst, index_t dst_stride, index_t count, index_t n, const T* x, index_t x_stride,
                         index_t width, index_t first, index_t s) noexcept {
  const auto [lo, hi] = inside_span(first, s, width, n);  // the columns read inside the row
  for (index_t r = 0; r < count; ++r, dst += dst_stride, x += x_stride) {
    for (index_t q = 0; q < lo; ++q) dst[q] = T(0);
    if (s == 1)
      for (index_t q = lo; q < hi; ++q) dst[q] = x[first + q];
    else if (s == 2)  // a constant stride the compiler vectorizes
      for (index_t q = lo; q < hi; ++q) dst[q] = x[first + 2 * q];
    else
      for (index_t q = lo; q < hi; ++q) dst[q] = x[first + q * s];
    for (index_t q = hi; q < n; ++q) dst[q] = T(0);
  }
}

// The same for an int8 band's channel quads: for rows r < count and quads q < n,
// dst[r * dst_stride + 4 * q + k] = uint8(x[k][r * x_stride + first + q * s] + offset) where the
// column is inside [0, width) and x[k] is not null (a channel past the last), else pad[k]. The
// four channels are written together, so the interleaving stores vectorize.
template <class X>
inline void strided_quad_rows(std::uint8_t* dst, index_t dst_stride, index_t count, index_t n, const X* const x[4],
                              index_t x_stride, index_t width, index_t first, index_t s, const std::uint8_t pad[4],
                              std::int32_t offset) noexcept {
  auto u8 = [offset](X v) { return static_cast<std::uint8_t>(static_cast<std::int32_t>(v) + offset); };
  const auto [lo, hi] = inside_span(first, s, width, n);
  const bool all = x[0] && x[1] && x[2] && x[3];
  for (index_t r = 0; r < count; ++r, dst += dst_stride) {
    for (index_t q = 0; q < lo; ++q)
      for (index_t k = 0; k < 4; ++k) dst[4 * q + k] = pad[k];
    if (all) {
      const X *r0 = x[0] + r * x_stride + first, *r1 = x[1] + r * x_stride + first;
      const X *r2 = x[2] + r * x_stride + first, *r3 = x[3] + r * x_stride + first;
      for (index_t q = lo; q < hi; ++q) {
        dst[4 * q] = u8(r0[q * s]);
        dst[4 * q + 1] = u8(r1[q * s]);
        dst[4 * q + 2] = u8(r2[q * s]);
        dst[4 * q + 3] = u8(r3[q * s]);
      }
    } else {
      for (index_t q = lo; q < hi; ++q)
        for (index_t k = 0; k < 4; ++k) dst[4 * q + k] = x[k] ? u8(x[k][r * x_stride + first + q * s]) : pad[k];
    }
    for (index_t q = hi; q < n; ++q)
      for (index_t k = 0; k < 4; ++k) dst[4 * q + k] = pad[k];
  }
}

}  // namespace kiln::arch::generic

// Dense int8 tile (packed/qdense.hpp): the roles of int8_tile the other way round. The broadcast
// side is uint8 (rows of the activation matrix, packed as quads at run time), the vector side int8
// (weight columns packed as quads at codegen): c[r][j] = sum_q sum_i a[q*a_ks + r*a_rs + i] *
// b[q*ldb + 4*j + i] over k4 quads, exact in int32. s8_dense_nb columns per call; a width of 64
// or more means "the whole weight panel" (16, 32, 48 or 64 columns).
namespace kiln::arch::generic {

// A core without vector units (Cortex-M0/M3, or the portable kernels on any Cortex-M) takes the
// scalar tile, 2 columns wide: one accumulator per output, in registers, each quad's four products
// added to it at once. The byte-per-accumulator form below is for compilers that vectorize it;
// compiled to scalar code it loads and stores an accumulator for every multiply-add (M4 without
// its DSP code, int8 with channel-blocked tensors: DS-CNN 26.1 -> 22.3 M instructions and 79.6 ->
// 33.0 KB of code, MobileNet 82.2 -> 70.7 M and 96.2 -> 68.1 KB).
#if defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M')
inline constexpr bool scalar_dense_tile = true;
#else
inline constexpr bool scalar_dense_tile = false;
#endif
inline constexpr index_t s8_dense_nb = scalar_dense_tile ? 2 : 16;

// How packed/qdense.hpp packs the activation rows the dense tile reads: each quad of k as its four
// uint8 bytes (4 bytes a quad). A target whose tile wants them otherwise (Cortex-M: split into
// halfword pairs once per row, 8 bytes a quad) rewrites each packed row with split_dense_row; the
// tiles of rows not taken evenly (even_row_tiles false) are dense_tile_rows rows high.
inline constexpr index_t dense_a_quad_bytes = 4;
inline constexpr index_t dense_tile_rows = 4;
inline void split_dense_row(std::uint8_t*, index_t) noexcept {}

template <index_t MR, index_t NB>
inline void int8_dense_tile_scalar(index_t k4, const std::uint8_t* a, index_t a_rs, index_t a_ks, const std::int8_t* b,
                                   index_t ldb, std::int32_t* c) noexcept {
  std::int32_t acc[MR][NB] = {};
  for (index_t q = 0; q < k4; ++q, a += a_ks, b += ldb)
    for (index_t r = 0; r < MR; ++r) {
      const std::int32_t a0 = a[r * a_rs], a1 = a[r * a_rs + 1], a2 = a[r * a_rs + 2], a3 = a[r * a_rs + 3];
      for (index_t j = 0; j < NB; ++j)
        acc[r][j] += a0 * b[4 * j] + a1 * b[4 * j + 1] + a2 * b[4 * j + 2] + a3 * b[4 * j + 3];
    }
  for (index_t r = 0; r < MR; ++r)
    for (index_t j = 0; j < NB; ++j) c[r * NB + j] = acc[r][j];
}

template <index_t MR, index_t NB>
inline void int8_dense_tile(index_t k4, const std::uint8_t* a, index_t a_rs, index_t a_ks, const std::int8_t* b,
                            index_t ldb, std::int32_t* c) noexcept {
  if constexpr (scalar_dense_tile) return int8_dense_tile_scalar<MR, NB>(k4, a, a_rs, a_ks, b, ldb, c);
  // One accumulator per byte of the quads (acc[r][4j + i] += a_i * b[4j + i]): a plain
  // element-wise loop that compilers vectorize; the four partial sums of a column add up at the end.
  std::int32_t acc[MR][4 * NB] = {};
  for (index_t q = 0; q < k4; ++q, a += a_ks, b += ldb)
    for (index_t r = 0; r < MR; ++r) {
      const std::int32_t a0 = a[r * a_rs], a1 = a[r * a_rs + 1], a2 = a[r * a_rs + 2], a3 = a[r * a_rs + 3];
      std::int32_t* ar = acc[r];
      for (index_t j = 0; j < 4 * NB; j += 4) {
        ar[j] += a0 * b[j];
        ar[j + 1] += a1 * b[j + 1];
        ar[j + 2] += a2 * b[j + 2];
        ar[j + 3] += a3 * b[j + 3];
      }
    }
  for (index_t r = 0; r < MR; ++r)
    for (index_t j = 0; j < NB; ++j)
      c[r * NB + j] = acc[r][4 * j] + acc[r][4 * j + 1] + acc[r][4 * j + 2] + acc[r][4 * j + 3];
}

// y[i] = requantize_saturate(acc[i]) into Y's range, for a row of n accumulators.
template <class Y>
inline void requantize_row(const std::int32_t* acc, index_t n, float scale, const requant_params& rq,
                           std::int32_t zero_point, Y* y) noexcept {
  static_cast<void>(scale);
  constexpr std::int32_t lo = std::numeric_limits<Y>::min(), hi = std::numeric_limits<Y>::max();
  for (index_t i = 0; i < n; ++i) y[i] = static_cast<Y>(kiln::requantize_saturate(acc[i], rq, zero_point, lo, hi));
}

// requantize_row with the outputs ys elements apart (a channel of a channel-blocked tensor).
template <class Y>
inline void requantize_row_strided(const std::int32_t* acc, index_t n, float scale, const requant_params& rq,
                                   std::int32_t zero_point, Y* y, index_t ys) noexcept {
  static_cast<void>(scale);
  constexpr std::int32_t lo = std::numeric_limits<Y>::min(), hi = std::numeric_limits<Y>::max();
  for (index_t i = 0; i < n; ++i) y[i * ys] = static_cast<Y>(kiln::requantize_saturate(acc[i], rq, zero_point, lo, hi));
}

// An int8 tile's epilogue: rows [0, rows) of the accumulators c (TW apart), columns [0, n),
// get their offsets, bias[r] - wz[r] * colsum[j] (add_column_term), and are requantized by
// scale[r] to y + r * y_stride. The accumulators are overwritten. c and colsum hold TW columns,
// so a vector version may run past n.
// requantize_tile_by_rows does it a row at a time through row (the target's requantize_row).
template <class Y, class Row>
inline void requantize_tile_by_rows(std::int32_t* c, index_t ldc, index_t rows, index_t n, const std::int32_t* bias,
                                    const std::int32_t* wz, const std::int32_t* colsum, const float* scale,
                                    const requant_params* rq, std::int32_t zero_point, Y* y, index_t y_stride,
                                    Row&& row) noexcept {
  for (index_t r = 0; r < rows; ++r) {
    add_column_term(c + r * ldc, n, bias[r], wz[r], colsum);
    row(c + r * ldc, n, scale[r], rq[r], zero_point, y + r * y_stride);
  }
}
template <index_t TW, class Y>
inline void requantize_tile(std::int32_t* c, index_t rows, index_t n, const std::int32_t* bias,
                            const std::int32_t* wz, const std::int32_t* colsum, const float* scale,
                            const requant_params* rq, std::int32_t zero_point, Y* y, index_t y_stride) noexcept {
  requantize_tile_by_rows(c, TW, rows, n, bias, wz, colsum, scale, rq, zero_point, y, y_stride,
                          [](auto... a) { requantize_row<Y>(a...); });
}

// M rows of 16 floats zipped (packed/winograd.hpp: a tile row's outputs, M columns per tile):
// dst[l * M + k] = src[k * stride + l] for l < 16, k < M.
template <index_t M> inline void interleave_rows(const float* src, index_t stride, float* dst) noexcept {
  for (index_t l = 0; l < 16; ++l)
    for (index_t k = 0; k < M; ++k) dst[l * M + k] = src[k * stride + l];
}
// The way back: 16 * M floats split into M rows of every M-th (a tile row's input columns as
// column phases), or into P rows, a window of P columns from each group of M (P <= 2M; phases k
// >= M reach into the next group): dst[k * stride + l] = src[l * M + k] for l < 16, k < P.
template <index_t M, index_t P = M>
inline void deinterleave_rows(const float* src, float* dst, index_t stride) noexcept {
  static_assert(M <= P && P <= 2 * M, "a window reaches at most one group of M on");
  for (index_t l = 0; l < 16; ++l)
    for (index_t k = 0; k < P; ++k) dst[k * stride + l] = src[l * M + k];
}

}  // namespace kiln::arch::generic
