// Direct convolution by shifted windows, the packed conv kernels' path for 1-D and 2-D windows
// (packed/conv.hpp; direct_geometry says which windows, at codegen time). No im2col panel: a band
// of output rows is computed from one padded copy of the input rows it reads, split into stride
// phases (padded row r, column c in phase (r % s_h, c % s_w)). Output (row, ow) of the band is
// element row * wq + ow of a "wide" band whose rows keep the phase pitch wq, and every tap reads
// the phase plane shifted by a constant offset: the tile's vector operand for (channel, tap) is
// the contiguous run at channel * channel_size + offset[tap] + position. The wide band's extra
// columns (ow >= OW) are computed and dropped.
//
// Bands on narrow planes, where those columns would be a tenth or more of the work (ResNet's
// 8x8 to 16x16 planes, DS-CNN's 5 columns), hold one plane per kernel column instead of per
// column phase: plane kw's column ow is padded input column ow * s_w + kw * d_w, so its
// rows are the output width, no column is dropped, and a tile's positions are output positions.
// The band then copies every input element about KW / s_w times, which is little beside the
// KH * KW * output-channel multiply-adds each one feeds. Bands whose output width is a whole
// number of 64-byte lines (16 floats or int8 channel quads: ResNet-8's 32x32 and 16x16 planes)
// go by column too, for their loads: the band starts on a 64-byte boundary, so every tap's
// operand then starts on one (an aligned AVX-512 vector), where the wide band's kw = 1, 2 taps
// split every load across two cache lines (ResNet-8 int8 0.91x, float 0.90x).
//
// Copying the band is one pass over its input rows, where a panel rewrites every input element
// once per tap. Int8 bands hold channel quads (4 channels of one position in a 32-bit word), as
// the dot-product instructions want them.
#pragma once

#include "../arch/dispatch.hpp"
#include "../core/window.hpp"
#include "layout.hpp"
#include "panel.hpp"

#include <cstdint>
#include <cstring>
#include <type_traits>

namespace kiln::packed {

inline constexpr index_t direct_band = 256;     // wide positions a band aims for
inline constexpr index_t direct_max_taps = 64;  // window taps the kernel's offset table holds
inline constexpr index_t direct_slack = 64;     // positions past the band the widest tile may read
inline constexpr index_t direct_align = 64;     // bytes: a band starts on a cache-line boundary
inline constexpr index_t direct_vector = 16;    // positions (floats or int8 quads) of 64 bytes

struct direct_layout {
  index_t wq;            // phase width: the wide band's row pitch (the output width by column)
  index_t rows;          // output rows per band
  index_t hq;            // phase rows per band
  index_t phase_size;    // hq * wq
  index_t column_planes; // planes per row phase: s_w column phases, or KW kernel columns
  index_t channel_size;  // s_h * column_planes planes
  bool by_column;        // one plane per kernel column (see above)
};

// Whether a band takes a plane per kernel column: where the wide band's dropped columns are at
// least a tenth of its width, or where its rows are whole vectors (see above).
template <class P> constexpr bool direct_by_column(const P& p) noexcept {
  const index_t wide = p.out[2] + (p.kernel[2] - 1) * p.dilation[2] / p.stride[2];
  return 10 * (wide - p.out[2]) >= wide || p.out[2] % direct_vector == 0;
}

template <class P> constexpr direct_layout make_direct_layout(const P& p) noexcept {
  const bool by_column = direct_by_column(p);
  direct_layout d{};
  d.by_column = by_column;
  d.wq = by_column ? p.out[2] : p.out[2] + (p.kernel[2] - 1) * p.dilation[2] / p.stride[2];
  d.rows = ceil_div(direct_band, d.wq);
  d.rows = d.rows < p.out[1] ? d.rows : p.out[1];
  d.hq = d.rows + (p.kernel[1] - 1) * p.dilation[1] / p.stride[1];
  d.phase_size = d.hq * d.wq;
  d.column_planes = by_column ? p.kernel[2] : p.stride[2];
  d.channel_size = p.stride[1] * d.column_planes * d.phase_size;
  return d;
}

// Geometries the direct path can take (whether it does is the target's choice): one depth slice,
// a window of 2 to direct_max_taps taps. A 1x1 window goes by panel: pointwise, a panel row is a
// plain copy; strided (ResNet shortcuts), the panel gathers the positions it reads, where a band
// copies every stride phase and reads one (ResNet-8 int8 shortcuts: 11.0 -> 6.7 and 9.0 -> 4.1 us).
template <class P> constexpr bool direct_geometry(const P& p) noexcept {
  return p.in[0] == 1 && p.out[0] == 1 && p.kernel[0] == 1 && p.kernel[1] * p.kernel[2] > 1 &&
         p.kernel[1] * p.kernel[2] <= direct_max_taps;
}

// Bytes of a band: float (quad 1) or channel quads of uint8 (quad 4), with direct_slack positions
// at the end, so the last tile may read past the last phase plane, and room to align its start
// (direct_band_start).
template <class P> constexpr std::size_t direct_scratch_bytes(const P& p, index_t quad) noexcept {
  const direct_layout d = make_direct_layout(p);
  const index_t cin_g = p.in_channels / p.group;
  return static_cast<std::size_t>((ceil_div(cin_g, quad) * d.channel_size + direct_slack) * 4 + direct_align - 1);
}

// The band in a layer's scratch: its first direct_align boundary (the arena guarantees less).
template <class T> inline T* direct_band_start(void* scratch) noexcept {
  const auto at = reinterpret_cast<std::uintptr_t>(scratch);
  return reinterpret_cast<T*>((at + direct_align - 1) / direct_align * direct_align);
}

namespace detail {

// off[kh * KW + kw]: the tap's offset into a channel's phase planes, in elements of the band.
template <class P> inline void direct_offsets(const P& p, const direct_layout& d, index_t* off) noexcept {
  for (index_t kh = 0; kh < p.kernel[1]; ++kh)
    for (index_t kw = 0; kw < p.kernel[2]; ++kw) {
      const index_t r = kh * p.dilation[1], c = kw * p.dilation[2];
      const index_t row = (r % p.stride[1]) * d.column_planes * d.phase_size + r / p.stride[1] * d.wq;
      off[kh * p.kernel[2] + kw] =
          row + (d.by_column ? kw * d.phase_size : (c % p.stride[2]) * d.phase_size + c / p.stride[2]);
    }
}

// Entries [span.lo, span.hi) of one row of a phase plane: put(q, row[(q * s + shift) * ES]) (ES:
// the input's element stride). A plain strided loop, which vectorizes. The depthwise planes use it.
template <index_t ES = 1, class T, class Put>
inline void phase_row(const T* row, const index_span& span, index_t s, index_t shift, Put&& put) noexcept {
  if (s == 1)
    for (index_t q = span.lo; q < span.hi; ++q) put(q, row[(q + shift) * ES]);
  else if (s == 2)  // a constant stride the compiler vectorizes (loads and a deinterleave)
    for (index_t q = span.lo; q < span.hi; ++q) put(q, row[(2 * q + shift) * ES]);
  else
    for (index_t q = span.lo; q < span.hi; ++q) put(q, row[(q * s + shift) * ES]);
}

// The float band of one channel whose first output row is oh0, into its phase planes at dst,
// zeros for padding: the input rows of each row phase that lie inside the input are one arch
// strided_rows per column plane, which on SIMD targets loads the plane's columns under masks (the
// padding is the masked-off lanes). A function of its own: inlined into a layer's flattened body
// (kiln compile --specialize) the copies competed with the tile loop for registers and GCC
// spilled their indices.
template <class P>
KILN_NOINLINE void direct_band_channel_f32(const P& p, const direct_layout& d, const float* xc, index_t oh0,
                                           float* KILN_RESTRICT dst) noexcept {
  const index_t sh = p.stride[1], sw = p.stride[2];
  for (index_t ph_r = 0; ph_r < sh; ++ph_r) {
    // Phase rows i in [lo, hi) read input rows ih = (oh0 + i) * sh + ph_r - pad inside [0, in[1]).
    const index_t ih0 = oh0 * sh + ph_r - p.pad[1];
    const auto [lo, hi] = inside_span(ih0, sh, p.in[1], d.hq);
    for (index_t cp = 0; cp < d.column_planes; ++cp) {
      float* plane = dst + (ph_r * d.column_planes + cp) * d.phase_size;
      // Column q of the plane reads input column q * sw + first.
      const index_t first = (d.by_column ? cp * p.dilation[2] : cp) - p.pad[2];
      if (lo > 0) std::memset(plane, 0, static_cast<std::size_t>(lo * d.wq) * sizeof(float));
      arch::active::strided_rows(plane + lo * d.wq, d.wq, hi - lo, d.wq, xc + (ih0 + lo * sh) * p.in[2], sh * p.in[2],
                                 p.in[2], first, sw);
      if (hi < d.hq) std::memset(plane + hi * d.wq, 0, static_cast<std::size_t>((d.hq - hi) * d.wq) * sizeof(float));
    }
  }
}

// The band of one channel quad (channel planes xc[k], null past the last channel) whose first
// output row is oh0, as quads at dst (direct_band_channel_f32's layout, four channels
// interleaved): dst[4 * e + k] is channel k's value plus offset, as uint8, and pad[k] where
// there is no input. The rows inside the input are one arch strided_quad_rows per column plane.
template <class P, class X>
inline void direct_band_quad(const P& p, const direct_layout& d, const X* const xc[4], index_t oh0,
                             const std::uint8_t pad[4], std::int32_t offset, std::uint8_t* dst) noexcept {
  const index_t sh = p.stride[1], sw = p.stride[2];
  std::uint32_t pad_quad;  // the four pads as one quad, for padding rows
  std::memcpy(&pad_quad, pad, 4);
  for (index_t ph_r = 0; ph_r < sh; ++ph_r) {
    const index_t ih0 = oh0 * sh + ph_r - p.pad[1];  // as in direct_band_channel_f32
    const auto [lo, hi] = inside_span(ih0, sh, p.in[1], d.hq);
    const X* rows[4];
    for (index_t k = 0; k < 4; ++k) rows[k] = xc[k] ? xc[k] + (ih0 + lo * sh) * p.in[2] : nullptr;
    for (index_t cp = 0; cp < d.column_planes; ++cp) {
      std::uint8_t* plane = dst + 4 * (ph_r * d.column_planes + cp) * d.phase_size;
      const auto fill = [&](index_t from, index_t to) {
        for (index_t e = from * d.wq; e < to * d.wq; ++e) std::memcpy(plane + 4 * e, &pad_quad, 4);
      };
      fill(0, lo);
      arch::active::strided_quad_rows(plane + 4 * lo * d.wq, 4 * d.wq, hi - lo, d.wq, rows, sh * p.in[2], p.in[2],
                                      (d.by_column ? cp * p.dilation[2] : cp) - p.pad[2], sw, pad, offset);
      fill(hi, d.hq);
    }
  }
}

// The runs of a tile's columns [j0, j0 + width) of the wide band that are real outputs: f(j,
// count, row, ow) for tile column j, output row `row` of the band, first output column ow.
template <class F>
inline void for_each_output_run(index_t j0, index_t width, index_t wq, index_t out_w, F&& f) noexcept {
  index_t row = j0 / wq, ow = j0 % wq;
  for (index_t j = 0; j < width;) {
    const index_t left = width - j;
    if (ow < out_w) {
      const index_t count = out_w - ow < left ? out_w - ow : left;
      f(j, count, row, ow);
      j += count;
      ow += count;
    } else {
      const index_t skip = wq - ow < left ? wq - ow : left;
      j += skip;
      ow += skip;
    }
    if (ow == wq) ow = 0, ++row;
  }
}

// Tile columns [j0, j0 + width) (src[j] is column j0 + j) to the output rows of the band (y: its
// first row, out_w wide), for a wide band (wq > out_w; where no column is dropped, wq == out_w,
// the callers write the tile's rows to the output directly). A whole row's run is a copy of the
// layer's width, a constant where the shapes are (kiln compile --specialize): inlined, where a
// run of variable size is a libc call (DS-CNN's stem: 5-column rows, a call per 20 bytes). Tile:
// src's length, which no run exceeds; bounding the constant copy by it as well keeps GCC from
// warning of reads past src on rows wider than a tile, where that copy never runs.
template <index_t Tile, class T>
inline void store_output_runs(const T* src, index_t j0, index_t width, index_t wq, index_t out_w, T* y) noexcept {
  for_each_output_run(j0, width, wq, out_w, [&](index_t j, index_t count, index_t row, index_t ow) {
    T* dst = y + row * out_w + ow;
    if (out_w <= Tile && count == out_w) std::memcpy(dst, src + j, static_cast<std::size_t>(out_w) * sizeof(T));
    else std::memcpy(dst, src + j, static_cast<std::size_t>(count) * sizeof(T));
  });
}

// store_output_runs for a fused residual: y = act(src + r) over the same runs, r shaped as y.
template <class Act>
inline void add_output_runs(const float* src, index_t j0, index_t width, index_t wq, index_t out_w, const float* r,
                            float* y, Act act) noexcept {
  const auto put = [&](index_t j, index_t count, index_t at) {
    for (index_t i = 0; i < count; ++i) y[at + i] = act(src[j + i] + r[at + i]);
  };
  for_each_output_run(j0, width, wq, out_w, [&](index_t j, index_t count, index_t row, index_t ow) { put(j, count, row * out_w + ow); });
}

// The last tile of for_each_window_tile (below): the narrowest of W, W - Step, ... holding width.
template <index_t W, index_t Step, class F> inline void last_window_tile(index_t j0, index_t width, F& f) noexcept {
  if constexpr (W > Step)
    if (width <= W - Step) return last_window_tile<W - Step, Step>(j0, width, f);
  f(j0, width < W ? width : W, std::integral_constant<index_t, W>{});  // a bound the compiler sees
}

// The tiles of a band's `positions` wide positions: f(j0, width, tile) with tile a
// std::integral_constant, NB for every tile but the last, which is the smallest multiple of Step
// that holds its width. A tile of NB on the last few positions computes and drops the rest
// (ResNet-18's 3x3 layers on 28x28 to 7x7 planes wasted a fifth of their tiles so).
template <index_t NB, index_t Step, class F> inline void for_each_window_tile(index_t positions, F&& f) noexcept {
  static_assert(NB % Step == 0, "tile widths are multiples of the step");
  index_t j0 = 0;
  for (; positions - j0 > NB - Step; j0 += NB)
    f(j0, positions - j0 < NB ? positions - j0 : NB, std::integral_constant<index_t, NB>{});
  if constexpr (NB > Step)
    if (j0 < positions) last_window_tile<NB - Step, Step>(j0, positions - j0, f);
}

// Where a float tile's rows go: row r at c + r * ldc.
struct tile_target {
  float* c;
  index_t ldc;
};

// The float tiles of every block of conv_mr output channels (mblocks of them, w_block weights
// apart, `steps` steps of rows_at(j0) each) over every window tile of `positions`: whole tiles a
// block at a time, a narrower last tile G = NB / W blocks at once, so it keeps a full tile's
// accumulators (a 16-wide tile of one block has 4, too few chains for the FMA latency:
// ResNet-8's 8x8 layers, 64 + 16 wide positions, ran at 31 % of peak so).
// out_at(mb, j0, local, W) -> tile_target: where the tile of blocks from mb at position j0 goes,
// `local` (room for conv_mr x NB floats, rows W apart) or the caller's own rows. Then
// store(mb, blocks, c, W, j0, width): the tile's blocks * conv_mr rows of W columns at c.
template <class RowsAt, class OutAt, class Store>
inline void f32_window_sweep_to(index_t steps, const float* w, index_t w_block, index_t mblocks, index_t positions,
                                const RowsAt& rows_at, const OutAt& out_at, Store&& store) noexcept {
  constexpr index_t NB = arch::active::f32_window_nb, Step = arch::active::f32_window_step, MR = conv_mr;
  for (index_t mb = 0; mb < mblocks; ++mb)
    for_each_window_tile<NB, Step>(positions, [&](index_t j0, index_t width, auto tile) {
      if constexpr (decltype(tile)::value == NB) {  // narrower last tiles: below
        float local[MR * NB];
        const tile_target t = out_at(mb, j0, local, NB);
        arch::active::f32_tile<MR, NB>(steps, w + mb * w_block, 1, MR, rows_at(j0), t.c, t.ldc);
        store(mb, index_t{1}, t.c, NB, j0, width);
      }
    });
  for_each_window_tile<NB, Step>(positions, [&](index_t j0, index_t width, auto tile) {
    constexpr index_t W = decltype(tile)::value, G = NB / W;
    if constexpr (W < NB) {
      float local[MR * NB];  // G * MR rows of W
      index_t mb = 0;
      for (; mb + G <= mblocks; mb += G) {
        const tile_target t = out_at(mb, j0, local, W);
        arch::active::f32_tile_row_blocks<G, MR, W>(steps, w + mb * w_block, 1, MR, w_block, rows_at(j0), t.c, t.ldc);
        store(mb, G, t.c, W, j0, width);
      }
      for (; mb < mblocks; ++mb) {
        const tile_target t = out_at(mb, j0, local, W);
        arch::active::f32_tile<MR, W>(steps, w + mb * w_block, 1, MR, rows_at(j0), t.c, t.ldc);
        store(mb, index_t{1}, t.c, W, j0, width);
      }
    }
  });
}

// The same into a local tile each time.
template <class RowsAt, class Store>
inline void f32_window_sweep(index_t steps, const float* w, index_t w_block, index_t mblocks, index_t positions,
                             const RowsAt& rows_at, Store&& store) noexcept {
  f32_window_sweep_to(
      steps, w, w_block, mblocks, positions, rows_at,
      [](index_t, index_t, float* local, index_t tw) { return tile_target{local, tw}; }, store);
}

}  // namespace detail
}  // namespace kiln::packed
