// ONNX quantization operators: QuantizeLinear / DequantizeLinear / DynamicQuantizeLinear (float
// math by definition) and the integer products QLinearConv, QLinearMatMul, ConvInteger,
// MatMulInteger, which accumulate in int32 and requantize with integer-only arithmetic
// (core/requantize.hpp). One template serves int8 and uint8 operands.
#pragma once

#include "../core/requantize.hpp"
#include "../core/round.hpp"
#include "../core/shape.hpp"
#include "../core/window.hpp"

#include <cmath>
#include <cstdint>
#include <limits>

namespace kiln {

// Per-tensor (outer = axis_dim = 1) or per-axis quantization: element i uses scale/zero point
// (i / inner) % axis_dim.
struct quant_params {
  index_t outer;
  index_t axis_dim;
  index_t inner;
};

// y = saturate(round_half_even(x / scale) + zero_point); zero_point may be null (0).
template <class X, class Y>
inline void quantize_linear(const quant_params& p, const X* x, const float* scale, const Y* zero_point, Y* y) noexcept {
  for (index_t o = 0, i = 0; o < p.outer; ++o)
    for (index_t a = 0; a < p.axis_dim; ++a) {
      const float s = scale[a];
      const float zp = zero_point ? static_cast<float>(zero_point[a]) : 0.f;
      for (index_t j = 0; j < p.inner; ++j, ++i) y[i] = detail::quantize_value<Y>(static_cast<float>(x[i]) / s, zp);
    }
}

// y = (x - zero_point) * scale in float32; zero_point may be null (0).
template <class X>
inline void dequantize_linear(const quant_params& p, const X* x, const float* scale, const X* zero_point, float* y) noexcept {
  for (index_t o = 0, i = 0; o < p.outer; ++o)
    for (index_t a = 0; a < p.axis_dim; ++a) {
      const float s = scale[a];
      const std::int32_t zp = zero_point ? static_cast<std::int32_t>(zero_point[a]) : 0;
      for (index_t j = 0; j < p.inner; ++j, ++i)
        y[i] = static_cast<float>(static_cast<std::int32_t>(x[i]) - zp) * s;
    }
}

struct dynamic_quant_params {
  index_t count;
};

// ONNX Runtime's DynamicQuantizeLinear: the range [min(x, 0), max(x, 0)] maps onto Y's range.
template <class X, class Y>
inline void dynamic_quantize_linear(const dynamic_quant_params& p, const X* x, Y* y, float* y_scale,
                                    Y* y_zero_point) noexcept {
  float lo = 0.f, hi = 0.f;
  for (index_t i = 0; i < p.count; ++i) {
    const float v = static_cast<float>(x[i]);
    lo = v < lo ? v : lo;
    hi = v > hi ? v : hi;
  }
  const float qmin = detail::float_min<Y>(), qmax = detail::float_max<Y>();
  const float scale = hi == lo ? 1.f : (hi - lo) / (qmax - qmin);
  float zp = qmin - lo / scale;
  zp = zp < qmin ? qmin : zp > qmax ? qmax : zp;
  zp = std::nearbyint(zp);
  *y_scale = scale;
  *y_zero_point = static_cast<Y>(zp);
  for (index_t i = 0; i < p.count; ++i) y[i] = detail::quantize_value<Y>(static_cast<float>(x[i]) / scale, zp);
}

struct requant_scales_params {
  index_t count;  // scales of b (per tensor: 1, per channel/column: that many)
};

// Run-time scales: scale[i] = float32(a_scale * b_scale[i] / y_scale), combined in float32 in ONNX
// Runtime's order. Constant scales are combined at codegen time instead.
template <class T>
inline void requant_scales(const requant_scales_params& p, const T* a_scale, const T* b_scale, const T* y_scale,
                           float* scale) noexcept {
  for (index_t i = 0; i < p.count; ++i) scale[i] = static_cast<float>(a_scale[0] * b_scale[i] / y_scale[0]);
}

// Integer convolution geometry (as conv_params) plus how many weight zero points and
// requantization scales there are: 1 (per tensor) or out_channels (per output channel).
struct qconv_params {
  index_t batch;
  index_t in_channels;
  index_t out_channels;
  index_t group;
  index_t in[3];
  index_t out[3];
  index_t kernel[3];
  index_t stride[3];
  index_t dilation[3];
  index_t pad[3];
  index_t w_zp_count;
  index_t rq_count;
};

namespace detail {
// Calls store(index, m, acc) with acc = bias[m] + sum (x - x_zp) * (w - w_zp[m]) for every output
// element, computing one output element at a time (no scratch). Padding contributes zero, i.e.
// the input is padded with its zero point.
template <class X, class W, class F>
inline void int_conv(const qconv_params& p, const X* x, const X* x_zp, const W* w, const W* w_zp,
                     const std::int32_t* bias, F&& store) noexcept {
  const index_t in_plane = p.in[0] * p.in[1] * p.in[2];
  const index_t out_plane = p.out[0] * p.out[1] * p.out[2];
  const index_t taps = p.kernel[0] * p.kernel[1] * p.kernel[2];
  const index_t cin_g = p.in_channels / p.group;
  const index_t cout_g = p.out_channels / p.group;
  const std::int32_t xz = x_zp ? static_cast<std::int32_t>(x_zp[0]) : 0;
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t m = 0; m < p.out_channels; ++m) {
      const index_t g = m / cout_g;
      const std::int32_t wz = w_zp ? static_cast<std::int32_t>(w_zp[p.w_zp_count > 1 ? m : 0]) : 0;
      const std::int32_t b0 = bias ? bias[m] : 0;
      const X* xg = x + (n * p.in_channels + g * cin_g) * in_plane;
      const W* wm = w + m * cin_g * taps;
      index_t out_index = (n * p.out_channels + m) * out_plane;
      for (index_t od = 0; od < p.out[0]; ++od)
        for (index_t oh = 0; oh < p.out[1]; ++oh)
          for (index_t ow = 0; ow < p.out[2]; ++ow, ++out_index) {
            std::int32_t acc = b0;
            for_each_window_tap(p, od, oh, ow, [&](index_t xo, index_t wo) {
              for (index_t c = 0; c < cin_g; ++c)
                acc += (static_cast<std::int32_t>(xg[c * in_plane + xo]) - xz) *
                       (static_cast<std::int32_t>(wm[c * taps + wo]) - wz);
            });
            store(out_index, m, acc);
          }
    }
}
}  // namespace detail

// ConvInteger: y = sum (x - x_zp) * (w - w_zp) in int32; zero points may be null.
template <class X, class W>
inline void conv_integer(const qconv_params& p, const X* x, const X* x_zp, const W* w, const W* w_zp,
                         std::int32_t* y) noexcept {
  detail::int_conv(p, x, x_zp, w, w_zp, static_cast<const std::int32_t*>(nullptr),
                   [y](index_t i, index_t, std::int32_t acc) { y[i] = acc; });
}

// QLinearConv: y = saturate(requantize(bias + sum (x - x_zp) * (w - w_zp), scale[m]) + y_zp).
// scale holds rq_count combined float32 scales, read as bits (requant_from_float: integer
// operations only, so no FPU is needed); bias may be null.
template <class X, class W, class Y>
inline void qlinear_conv(const qconv_params& p, const X* x, const X* x_zp, const W* w, const W* w_zp,
                         const float* scale, const std::int32_t* bias, const Y* y_zp, Y* y) noexcept {
  const std::int32_t yz = y_zp ? static_cast<std::int32_t>(y_zp[0]) : 0;
  const std::int32_t lo = std::numeric_limits<Y>::min(), hi = std::numeric_limits<Y>::max();
  detail::int_conv(p, x, x_zp, w, w_zp, bias, [&](index_t i, index_t m, std::int32_t acc) {
    y[i] = static_cast<Y>(requantize_saturate(acc, requant_from_float(scale[p.rq_count > 1 ? m : 0]), yz, lo, hi));
  });
}

// Batched integer matrix product (matmul_params' layout) with zero points: a per tensor or per
// row (a_zp_count = m), b per tensor or per column (b_zp_count = n); rq per tensor or per column.
struct qmatmul_params {
  index_t m, n, k;
  index_t batch_rank;
  index_t batch_count;
  index_t batch_dims[max_rank];
  index_t batch_strides[2][max_rank];
  index_t a_zp_count;
  index_t b_zp_count;
  index_t rq_count;
};

namespace detail {
template <class A, class B, class F>
inline void int_matmul(const qmatmul_params& p, const A* a, const A* a_zp, const B* b, const B* b_zp, F&& store) noexcept {
  strided_walker<2> wk{p.batch_rank, p.batch_dims, p.batch_strides};
  for (index_t bi = 0; bi < p.batch_count; ++bi, wk.next()) {
    const A* ab = a + wk.offset[0];
    const B* bb = b + wk.offset[1];
    for (index_t i = 0; i < p.m; ++i) {
      const std::int32_t az = a_zp ? static_cast<std::int32_t>(a_zp[p.a_zp_count > 1 ? i : 0]) : 0;
      for (index_t j = 0; j < p.n; ++j) {
        const std::int32_t bz = b_zp ? static_cast<std::int32_t>(b_zp[p.b_zp_count > 1 ? j : 0]) : 0;
        std::int32_t acc = 0;
        for (index_t kk = 0; kk < p.k; ++kk)
          acc += (static_cast<std::int32_t>(ab[i * p.k + kk]) - az) * (static_cast<std::int32_t>(bb[kk * p.n + j]) - bz);
        store((bi * p.m + i) * p.n + j, j, acc);
      }
    }
  }
}
}  // namespace detail

// MatMulInteger: y = (a - a_zp) x (b - b_zp) in int32; zero points may be null.
template <class A, class B>
inline void matmul_integer(const qmatmul_params& p, const A* a, const A* a_zp, const B* b, const B* b_zp,
                           std::int32_t* y) noexcept {
  detail::int_matmul(p, a, a_zp, b, b_zp, [y](index_t i, index_t, std::int32_t acc) { y[i] = acc; });
}

// QLinearMatMul: y = saturate(requantize((a - a_zp) x (b - b_zp), scale[j]) + y_zp).
template <class A, class B, class Y>
inline void qlinear_matmul(const qmatmul_params& p, const A* a, const A* a_zp, const B* b, const B* b_zp,
                           const float* scale, const Y* y_zp, Y* y) noexcept {
  const std::int32_t yz = y_zp ? static_cast<std::int32_t>(y_zp[0]) : 0;
  const std::int32_t lo = std::numeric_limits<Y>::min(), hi = std::numeric_limits<Y>::max();
  detail::int_matmul(p, a, a_zp, b, b_zp, [&](index_t i, index_t j, std::int32_t acc) {
    y[i] = static_cast<Y>(requantize_saturate(acc, requant_from_float(scale[p.rq_count > 1 ? j : 0]), yz, lo, hi));
  });
}

}  // namespace kiln
