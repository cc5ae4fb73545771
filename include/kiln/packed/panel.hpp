// Run-time packing of convolution inputs into panels (im2col one panel at a time): rows are the
// K = C_g * taps reduction steps, columns panel_cols consecutive output positions. A tap that
// falls into the padding reads `pad` (0, or the input zero point for integer kernels). Packing
// one panel, not the whole im2col matrix, keeps the scratch at K * panel_cols elements.
//
// Panel element (k, j) lives at out[k * panel_cols + j] (quad = 1, float) or at
// out[(k / 4) * panel_cols * 4 + 4 * j + k % 4] (quad = 4, int8 quads).
#pragma once

#include "../ops/conv.hpp"
#include "layout.hpp"

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
  index_t nruns = 0;
  {
    const index_t hw = outd[1] * outd[2];
    index_t od = p0 / hw, oh = (p0 % hw) / outd[2], ow = p0 % outd[2];
    for (index_t j = 0; j < cols;) {
      const index_t count = outd[2] - ow < cols - j ? outd[2] - ow : cols - j;
      runs[nruns++] = {j, count, od, oh, ow};
      j += count;
      ow = 0;
      if (++oh == outd[1]) oh = 0, ++od;
    }
  }
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

}  // namespace kiln::packed::detail
