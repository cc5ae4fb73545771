// Run-time packing of convolution inputs into panels (im2col one panel at a time): rows are the
// K = C_g * taps reduction steps, columns panel_cols consecutive output positions. A tap that
// falls into the padding reads `pad` (0, or the input zero point for integer kernels). Packing
// one panel, not the whole im2col matrix, keeps the scratch at K * panel_cols elements.
//
// Panel element (k, j) lives at out[k * panel_cols + j] (quad = 1, float) or at
// out[(k / 4) * panel_cols * 4 + 4 * j + k % 4] (quad = 4, int8 quads).
#pragma once

#include "../arch/dispatch.hpp"
#include "../ops/conv.hpp"
#include "layout.hpp"

#include <cstring>
#include <type_traits>

namespace kiln::packed::detail {

// A conv geometry (conv_params, qconv_params) whose every axis is 1x1, stride 1, no padding:
// output position i reads input position i, so a panel row is a plain copy.
template <class P> constexpr bool is_pointwise(const P& p) noexcept {
  for (int a = 0; a < 3; ++a)
    if (p.kernel[a] != 1 || p.stride[a] != 1 || p.pad[a] != 0 || p.in[a] != p.out[a]) return false;
  return true;
}

// The panel's columns split at output-row boundaries: a run of `count` columns starting at
// column j that share (od, oh) and start at output column ow.
struct row_run {
  index_t j, count, od, oh, ow;
};

// The runs of the panel of output positions [p0, p0 + cols) (outd: the output's depth, height and
// width) into runs[0, count); returns count, at most cols.
inline index_t output_row_runs(index_t p0, index_t cols, const index_t (&outd)[3], row_run* runs) noexcept {
  const index_t hw = outd[1] * outd[2];
  index_t od = p0 / hw, oh = (p0 % hw) / outd[2], ow = p0 % outd[2], count = 0;
  for (index_t j = 0; j < cols;) {
    const index_t n = outd[2] - ow < cols - j ? outd[2] - ow : cols - j;
    runs[count++] = {j, n, od, oh, ow};
    j += n;
    ow = 0;
    if (++oh == outd[1]) oh = 0, ++od;
  }
  return count;
}

template <index_t Quad, class T, class U, class Convert>
inline void pack_panel(const T* xg, index_t cin_g, index_t p0, index_t cols, T pad, U* out, Convert convert,
                       const index_t (&in)[3], const index_t (&outd)[3], const index_t (&kernel)[3],
                       const index_t (&stride)[3], const index_t (&dilation)[3], const index_t (&pads)[3],
                       bool pointwise) noexcept {
  const index_t in_plane = in[0] * in[1] * in[2];
  auto row_ptr = [out](index_t k) { return out + (k / Quad) * panel_cols * Quad + k % Quad; };
  const U padv = convert(pad);
  if (pointwise) {
    for (index_t c = 0; c < cin_g; ++c) {
      const T* xr = xg + c * in_plane + p0;
      U* dst = row_ptr(c);
      for (index_t j = 0; j < cols; ++j) dst[Quad * j] = convert(xr[j]);
    }
    return;
  }
  row_run runs[panel_cols];
  const index_t nruns = output_row_runs(p0, cols, outd, runs);
  index_t k = 0;
  for (index_t c = 0; c < cin_g; ++c) {
    const T* xc = xg + c * in_plane;
    for (index_t kd = 0; kd < kernel[0]; ++kd)
      for (index_t kh = 0; kh < kernel[1]; ++kh)
        for (index_t kw = 0; kw < kernel[2]; ++kw, ++k) {
          U* dst = row_ptr(k);
          // Output columns ow whose input column ow*s - pad + kw*d lies inside [0, in[2]).
          index_t lo, hi;
          kiln::detail::valid_range(in[2], outd[2], stride[2], pads[2], kw * dilation[2], lo, hi);
          for (index_t r = 0; r < nruns; ++r) {
            const row_run& run = runs[r];
            const index_t id = run.od * stride[0] - pads[0] + kd * dilation[0];
            const index_t ih = run.oh * stride[1] - pads[1] + kh * dilation[1];
            U* d = dst + Quad * run.j;
            const index_t end = run.ow + run.count;
            if (id < 0 || id >= in[0] || ih < 0 || ih >= in[1] || hi <= run.ow || lo >= end) {
              for (index_t j = 0; j < run.count; ++j) d[Quad * j] = padv;
              continue;
            }
            if constexpr (Quad == 1 && std::is_same_v<T, float> && std::is_same_v<U, float> &&
                          arch::active::f32_strided_rows_in_vectors) {
              // Float pads are zeros, which the arch's strided row copy writes with its masked
              // loads. Element by element, the gather took 44 % of a 1x1 stride-2 conv on Zen 5
              // (ResNet shortcuts: 16 -> 32 channels on 32x32, 3.9 -> 3.0 us). On the M4 the
              // portable strided_rows cost 12-43 k instructions more a float model.
              arch::active::strided_rows(d, 0, 1, run.count, xc + (id * in[1] + ih) * in[2], 0, in[2],
                                         run.ow * stride[2] - pads[2] + kw * dilation[2], stride[2]);
              continue;
            }
            const index_t a = lo > run.ow ? lo : run.ow, b = hi < end ? hi : end;
            for (index_t ow = run.ow; ow < a; ++ow) d[Quad * (ow - run.ow)] = padv;
            const T* xr = xc + (id * in[1] + ih) * in[2] - pads[2] + kw * dilation[2];
            if (stride[2] == 1)
              for (index_t ow = a; ow < b; ++ow) d[Quad * (ow - run.ow)] = convert(xr[ow]);
            else
              for (index_t ow = a; ow < b; ++ow) d[Quad * (ow - run.ow)] = convert(xr[ow * stride[2]]);
            for (index_t ow = b; ow < end; ++ow) d[Quad * (ow - run.ow)] = padv;
          }
        }
  }
}

// Packs the panel of output positions [p0, p0 + cols) of the group whose first input channel is xg.
template <index_t Quad, class P, class T, class U, class Convert>
inline void pack_panel(const P& p, const T* xg, index_t cin_g, index_t p0, index_t cols, T pad, U* out,
                       Convert convert) noexcept {
  pack_panel<Quad>(xg, cin_g, p0, cols, pad, out, convert, p.in, p.out, p.kernel, p.stride, p.dilation, p.pad,
                   is_pointwise(p));
}

// Small 2-D planes are packed from a padded copy instead: each input plane copied once, with its
// padding, whole, and every panel row then a branch-free read at per-column offsets. pack_panel
// goes run by run of output columns with bounds checks per tap and run, which narrow output rows
// make the layer's cost (DS-CNN int8's 5-column stem: 40 taps x 7 runs per panel). Only for the
// int8 panel path (its 1- and 2-channel convs; a 1x1 window reads x directly, packed/conv.hpp),
// whose scratch then holds the padded planes: up to padded_planes_max_bytes of them.
inline constexpr std::size_t padded_planes_max_bytes = 4096;
template <class P> constexpr index_t padded_plane_height(const P& p) noexcept {
  return (p.out[1] - 1) * p.stride[1] + (p.kernel[1] - 1) * p.dilation[1] + 1;
}
template <class P> constexpr index_t padded_plane_width(const P& p) noexcept {
  return (p.out[2] - 1) * p.stride[2] + (p.kernel[2] - 1) * p.dilation[2] + 1;
}
template <class P> constexpr std::size_t padded_planes_bytes(const P& p) noexcept {
  return static_cast<std::size_t>(p.in_channels / p.group) *
         static_cast<std::size_t>(padded_plane_height(p) * padded_plane_width(p));
}
template <class P> constexpr bool pack_from_padded_planes(const P& p) noexcept {
  return p.in[0] == 1 && p.out[0] == 1 && p.kernel[0] == 1 && p.kernel[1] * p.kernel[2] > 1 &&
         padded_planes_bytes(p) <= padded_planes_max_bytes;
}

// The padded planes of the group whose first input channel is xg: convert(x), or convert(pad) in
// the padding (the rows and columns before and after the input that windows read).
template <class P, class T, class U, class Convert>
inline void pad_planes(const P& p, const T* xg, index_t cin_g, T pad, U* planes, Convert convert) noexcept {
  const index_t hp = padded_plane_height(p), wp = padded_plane_width(p), in_plane = p.in[1] * p.in[2];
  const U padv = convert(pad);
  for (index_t c = 0; c < cin_g; ++c)
    for (index_t r = 0; r < hp; ++r) {
      U* d = planes + (c * hp + r) * wp;
      const index_t ih = r - p.pad[1];
      if (ih < 0 || ih >= p.in[1]) {
        for (index_t q = 0; q < wp; ++q) d[q] = padv;
        continue;
      }
      const T* xr = xg + c * in_plane + ih * p.in[2] - p.pad[2];
      const index_t lo = p.pad[2] < wp ? p.pad[2] : wp;
      const index_t hi = p.pad[2] + p.in[2] < wp ? p.pad[2] + p.in[2] : wp;
      for (index_t q = 0; q < lo; ++q) d[q] = padv;
      for (index_t q = lo; q < hi; ++q) d[q] = convert(xr[q]);
      for (index_t q = hi; q < wp; ++q) d[q] = padv;
    }
}

// origin[j]: where output position p0 + j's window starts in a padded plane wp wide.
template <class P>
inline void window_origins(const P& p, index_t p0, index_t cols, index_t wp, index_t* origin) noexcept {
  for (index_t j = 0, oh = p0 / p.out[2], ow = p0 % p.out[2]; j < cols; ++j) {
    origin[j] = oh * p.stride[1] * wp + ow * p.stride[2];
    if (++ow == p.out[2]) ow = 0, ++oh;
  }
}

// pack_panel (Quad 1) from the padded planes: row k = (c, kh, kw) of column j reads the plane at
// the column's window origin plus the tap's offset.
template <class P, class U>
inline void pack_panel_from_planes(const P& p, const U* planes, index_t cin_g, index_t p0, index_t cols,
                                   U* out) noexcept {
  const index_t hp = padded_plane_height(p), wp = padded_plane_width(p);
  index_t origin[panel_cols];
  window_origins(p, p0, cols, wp, origin);
  index_t k = 0;
  for (index_t c = 0; c < cin_g; ++c)
    for (index_t kh = 0; kh < p.kernel[1]; ++kh)
      for (index_t kw = 0; kw < p.kernel[2]; ++kw, ++k) {
        const U* tap = planes + c * hp * wp + kh * p.dilation[1] * wp + kw * p.dilation[2];
        U* d = out + k * panel_cols;
        for (index_t j = 0; j < cols; ++j) d[j] = tap[origin[j]];
      }
}

// Where a window row is whole quads of K (kernel width a multiple of 4, no column dilation:
// DS-CNN's 10x4 stem), a quad of the panel is four adjacent bytes of a padded plane: one 32-bit
// copy per quad and column, where the byte rows and their interleave took a tenth of DS-CNN int8.
template <class P> constexpr bool quads_from_planes(const P& p) noexcept {
  return pack_from_padded_planes(p) && p.kernel[2] % 4 == 0 && p.dilation[2] == 1;
}

// The int8 panel (quads of K, panel_cols columns of 4 bytes) of output positions [p0, p0 + cols)
// from the padded planes; columns past cols are zero.
template <class P>
inline void pack_quads_from_planes(const P& p, const std::uint8_t* planes, index_t cin_g, index_t p0, index_t cols,
                                   std::uint8_t* panel) noexcept {
  const index_t hp = padded_plane_height(p), wp = padded_plane_width(p), row = 4 * panel_cols;
  index_t origin[panel_cols];
  window_origins(p, p0, cols, wp, origin);
  std::uint8_t* q = panel;
  for (index_t c = 0; c < cin_g; ++c)
    for (index_t kh = 0; kh < p.kernel[1]; ++kh)
      for (index_t kw = 0; kw < p.kernel[2]; kw += 4, q += row) {
        const std::uint8_t* tap = planes + c * hp * wp + kh * p.dilation[1] * wp + kw;
        for (index_t j = 0; j < cols; ++j) std::memcpy(q + 4 * j, tap + origin[j], 4);
        std::memset(q + 4 * cols, 0, 4 * static_cast<std::size_t>(panel_cols - cols));
      }
}

}  // namespace kiln::packed::detail
