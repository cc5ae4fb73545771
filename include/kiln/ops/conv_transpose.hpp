// Transposed convolution over up to three spatial axes (1-D and 2-D use leading extents of 1).
// Each input element scatters weight-scaled copies into the output: input position i, tap k
// lands on output position i*stride - pad + k*dilation.
#pragma once

#include "../core/shape.hpp"
#include "conv.hpp"

namespace kiln {

struct conv_transpose_params {
  index_t batch;
  index_t in_channels;   // C; the weight is [C, out_channels / group, kD, kH, kW]
  index_t out_channels;  // M
  index_t group;
  index_t in[3];         // input D, H, W
  index_t out[3];        // output D, H, W
  index_t kernel[3];
  index_t stride[3];
  index_t dilation[3];
  index_t pad[3];        // padding cut from the start of each output axis
};

template <class T>
inline void conv_transpose(const conv_transpose_params& p, const T* x, const T* w, const T* bias, T* y) noexcept {
  const index_t in_plane = p.in[0] * p.in[1] * p.in[2];
  const index_t out_plane = p.out[0] * p.out[1] * p.out[2];
  const index_t taps = p.kernel[0] * p.kernel[1] * p.kernel[2];
  const index_t cin_g = p.in_channels / p.group;
  const index_t cout_g = p.out_channels / p.group;
  for (index_t n = 0; n < p.batch; ++n) {
    for (index_t m = 0; m < p.out_channels; ++m) {
      T* yp = y + (n * p.out_channels + m) * out_plane;
      const T b0 = bias ? bias[m] : T(0);
      for (index_t i = 0; i < out_plane; ++i) yp[i] = b0;
    }
    for (index_t c = 0; c < p.in_channels; ++c) {
      const index_t g = c / cin_g;
      const T* xp = x + (n * p.in_channels + c) * in_plane;
      for (index_t mg = 0; mg < cout_g; ++mg) {
        const index_t m = g * cout_g + mg;
        T* yp = y + (n * p.out_channels + m) * out_plane;
        const T* wp = w + (c * cout_g + mg) * taps;
        for (index_t kd = 0; kd < p.kernel[0]; ++kd) {
          // Input positions whose tap kd lands inside the output: valid_range with the roles swapped.
          index_t d0, d1;
          detail::valid_range(p.out[0], p.in[0], p.stride[0], p.pad[0], kd * p.dilation[0], d0, d1);
          for (index_t kh = 0; kh < p.kernel[1]; ++kh) {
            index_t h0, h1;
            detail::valid_range(p.out[1], p.in[1], p.stride[1], p.pad[1], kh * p.dilation[1], h0, h1);
            for (index_t kw = 0; kw < p.kernel[2]; ++kw) {
              index_t w0, w1;
              detail::valid_range(p.out[2], p.in[2], p.stride[2], p.pad[2], kw * p.dilation[2], w0, w1);
              const T wv = wp[(kd * p.kernel[1] + kh) * p.kernel[2] + kw];
              for (index_t id = d0; id < d1; ++id) {
                const index_t od = id * p.stride[0] - p.pad[0] + kd * p.dilation[0];
                for (index_t ih = h0; ih < h1; ++ih) {
                  const index_t oh = ih * p.stride[1] - p.pad[1] + kh * p.dilation[1];
                  const T* xrow = xp + (id * p.in[1] + ih) * p.in[2];
                  T* yrow = yp + (od * p.out[1] + oh) * p.out[2];
                  const index_t shift = kw * p.dilation[2] - p.pad[2];
                  for (index_t iw = w0; iw < w1; ++iw) yrow[iw * p.stride[2] + shift] += wv * xrow[iw];
                }
              }
            }
          }
        }
      }
    }
  }
}

}  // namespace kiln
