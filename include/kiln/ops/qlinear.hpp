// ONNX Runtime's com.microsoft QOperator kernels (QLinearAdd, QLinearMul, QLinearGlobalAveragePool,
// QLinearAveragePool, QLinearConcat, QLinearSigmoid, QLinearLeakyRelu, QLinearSoftmax, QGemm), bit-exact
// with ONNX Runtime's CPU kernels (MLAS on x86-64).
//
// Where ONNX Runtime computes in integers (the global average pool, QGemm with a quantized output)
// these kernels use integers only, requantizing with kiln::requantize (core/requantize.hpp). Where it
// computes with a 256-entry lookup table built from float math (Concat, Sigmoid, LeakyRelu) the code
// generator builds the same table on the host and the kernel is a byte lookup. Where ONNX Runtime does
// float32 arithmetic per element, these kernels do the same float32 operations in the same order, so
// they need an FPU (or soft float): QLinearAdd, QLinearMul, QLinearAveragePool, QLinearSoftmax
// and QGemm with a float output. Fused multiply-adds are explicit (QLinearAdd's std::fma calls,
// as MLAS's AVX2 kernel), and a product ONNX Runtime rounds before an addition is rounded
// explicitly (detail::rounded_product), so the compiler's contraction, on by default in GCC,
// changes nothing. Rounding is half to even (std::nearbyint under the default rounding mode, or
// vcvtr), as MLAS's cvtps2dq.
#pragma once

#include "../core/requantize.hpp"
#include "../core/round.hpp"
#include "../core/shape.hpp"
#include "../core/types.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace kiln {

// Broadcast layout as binary_params, plus the scales and zero points folded on the host.
struct qlinear_binary_params {
  index_t rank;
  index_t count;
  index_t dims[max_rank];
  index_t strides[2][max_rank];
  float ratio_a;  // QLinearAdd: float32(a_scale / c_scale)
  float ratio_b;  //             float32(b_scale / c_scale)
  float fixed;    //             c_zp - (first ratio * its zp + second ratio * its zp), see qlinear_add
  float ratio;    // QLinearMul: float32(float32(a_scale * b_scale) / c_scale)
  std::int32_t a_zp;
  std::int32_t b_zp;
  std::int32_t c_zp;
  bool swap;  // QLinearAdd: ONNX Runtime hands MLAS B first (A is a scalar along its innermost span)
};

namespace detail {
template <class T, class F>
inline void qlinear_broadcast(const qlinear_binary_params& p, const T* a, const T* b, T* y, F&& f) noexcept {
  strided_walker<2> w{p.rank, p.dims, p.strides};
  for (index_t i = 0; i < p.count; ++i, w.next()) y[i] = f(a[w.offset[0]], b[w.offset[1]]);
}

enum class operand_layout { contiguous, scalar, strided };

// How operand k walks the output: contiguous (its shape), one scalar (stride 0 on every axis), or
// anything else. Axes of extent 1 are never stepped along, whatever their stride.
inline operand_layout qlinear_layout(const qlinear_binary_params& p, int k) noexcept {
  bool contiguous = true, scalar = true;
  index_t step = 1;
  for (index_t axis = p.rank - 1; axis >= 0; --axis) {
    if (p.dims[axis] == 1) continue;
    contiguous = contiguous && p.strides[k][axis] == step;
    scalar = scalar && p.strides[k][axis] == 0;
    step *= p.dims[axis];
  }
  return contiguous ? operand_layout::contiguous : scalar ? operand_layout::scalar : operand_layout::strided;
}

// The trivial broadcasts: run(sx, sz) with x and z stepping sx and sz (std::integral_constant,
// 1 or 0) per element; false for the others.
template <class Run> inline bool qlinear_flat(operand_layout lx, operand_layout lz, Run&& run) noexcept {
  using L = operand_layout;
  using one = std::integral_constant<index_t, 1>;
  using zero = std::integral_constant<index_t, 0>;
  if (lx == L::contiguous && lz == L::contiguous) run(one{}, one{});
  else if (lx == L::contiguous && lz == L::scalar) run(one{}, zero{});
  else if (lx == L::scalar && lz == L::contiguous) run(zero{}, one{});
  else return false;
  return true;
}

// The trivial broadcasts as loops the compiler vectorizes; false for the others.
template <class T, class F>
inline bool qlinear_flat(index_t count, const T* x, operand_layout lx, const T* z, operand_layout lz, T* y,
                         F&& f) noexcept {
  return qlinear_flat(lx, lz, [&](auto sx, auto sz) { qlinear_blocks<decltype(sx)::value, decltype(sz)::value>(count, x, z, y, f); });
}
}  // namespace detail

// QLinearAdd, as MLAS's AVX2 kernel (MlasQLinearAddKernelAvx2Helper, float32 with fused multiply-adds):
// for MLAS's operands (x, y) = (A, B), or (B, A) when ONNX Runtime's broadcast loop finds A constant
// along its innermost span (swap), v = fma(x, ratio_x, fma(y, ratio_y, fixed)) with the raw 8-bit
// values, converted half to even (cvtps2dq) and saturated. fixed is folded on the host in the same
// order: float(c_zp) - fma(ratio_x, x_zp, ratio_y * y_zp) (the compiler's contraction of MLAS's
// c_zp - (ratio_x * x_zp + ratio_y * y_zp)). Needs std::fma (a hardware FMA, or libm's).
template <class T>
inline void qlinear_add(const qlinear_binary_params& p, const T* a, const T* b, T* y) noexcept {
  const float rx = p.swap ? p.ratio_b : p.ratio_a, ry = p.swap ? p.ratio_a : p.ratio_b, fixed = p.fixed;
  const auto mlas = [rx, ry, fixed](T xv, T yv) {  // MLAS's operands, in its order
    return detail::qlinear_add_value(xv, yv, rx, ry, fixed);
  };
  const int kx = p.swap ? 1 : 0;
  if (detail::qlinear_flat(p.count, p.swap ? b : a, detail::qlinear_layout(p, kx), p.swap ? a : b,
                           detail::qlinear_layout(p, 1 - kx), y, mlas))
    return;
  detail::qlinear_broadcast(p, a, b, y, [&](T av, T bv) { return p.swap ? mlas(bv, av) : mlas(av, bv); });
}

// QLinearMul, as MLAS's SSE2 kernel: the integer product (a - a_zp) * (b - b_zp), times the folded
// float32 ratio, plus float(c_zp) (two float32 roundings), converted half to even, saturated.
template <class T>
inline void qlinear_mul(const qlinear_binary_params& p, const T* a, const T* b, T* y) noexcept {
  const float zc = static_cast<float>(p.c_zp), ratio = p.ratio;
  const std::int32_t za = p.a_zp, zb = p.b_zp;
  const auto f = [zc, ratio, za, zb](T av, T bv) {
    const std::int32_t prod = (static_cast<std::int32_t>(av) - za) * (static_cast<std::int32_t>(bv) - zb);
    const float scaled = detail::rounded_product(static_cast<float>(prod), ratio);
    return detail::sat<T>(detail::cvtps2dq(scaled + zc));
  };
  if (!detail::qlinear_flat(p.count, a, detail::qlinear_layout(p, 0), b, detail::qlinear_layout(p, 1), y, f))
    detail::qlinear_broadcast(p, a, b, y, f);
}

// QLinearGlobalAveragePool (and QLinearAveragePool when the window is the whole image, unpadded):
// acc = sum(x) - x_zp * image, requantized with float32(x_scale / (y_scale * image)) in integers.
struct qlinear_gap_params {
  index_t batch;
  index_t channels;
  index_t image;
  bool channels_last;
  std::int32_t bias;  // -x_zp * image
  std::int32_t rq_mantissa;
  std::int32_t rq_exponent;
  std::int32_t y_zp;
};

template <class T>
inline void qlinear_global_average_pool(const qlinear_gap_params& p, const T* x, T* y) noexcept {
  const requant_params rq{p.rq_mantissa, p.rq_exponent};
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t c = 0; c < p.channels; ++c) {
      std::int32_t acc = p.bias;
      // The planar sum as a contiguous loop of its own, not one strided by a step chosen at run
      // time, so the compiler vectorizes it whether or not it knows the layout. (--kernels fast
      // takes packed::qlinear_global_average_pool, the architecture's row sums, instead.)
      if (p.channels_last) {
        const T* xc = x + n * p.image * p.channels + c;
        for (index_t i = 0; i < p.image; ++i) acc += static_cast<std::int32_t>(xc[i * p.channels]);
      } else {
        const T* xc = x + (n * p.channels + c) * p.image;
        for (index_t i = 0; i < p.image; ++i) acc += static_cast<std::int32_t>(xc[i]);
      }
      y[n * p.channels + c] =
          static_cast<T>(requantize_saturate(acc, rq, p.y_zp, detail::qmin<T>(), detail::qmax<T>()));
    }
}

// QLinearAveragePool (float32, as ONNX Runtime): x is dequantized through a 256-entry float table
// (x_scale * (x - x_zp), built on the host), each window summed in float in row-major order from 0,
// divided by float(count) (the whole kernel with count_include_pad, else the window clipped to the
// input; ONNX Runtime clips windows at the input, not at the padded end), then
// nearbyint(v / y_scale + y_zp), saturated. Spatial axes are right-aligned in 3 slots.
struct qlinear_avgpool_params {
  index_t batch;
  index_t channels;
  index_t in[3];
  index_t out[3];
  index_t kernel[3];
  index_t stride[3];
  index_t pad[3];
  bool count_include_pad;
  bool channels_last;
  float y_scale;
  std::int32_t y_zp;
};

template <class T>
inline void qlinear_average_pool(const qlinear_avgpool_params& p, const T* x, const float* table, T* y) noexcept {
  const index_t in_plane = p.in[0] * p.in[1] * p.in[2];
  const index_t out_plane = p.out[0] * p.out[1] * p.out[2];
  const index_t ksize = p.kernel[0] * p.kernel[1] * p.kernel[2];
  const float zp = static_cast<float>(p.y_zp);
  for (index_t n = 0; n < p.batch; ++n)
    for (index_t c = 0; c < p.channels; ++c) {
      // element (spatial index s) of this image/channel
      const index_t base = p.channels_last ? n * in_plane * p.channels + c : (n * p.channels + c) * in_plane;
      const index_t step = p.channels_last ? p.channels : 1;
      const index_t obase = p.channels_last ? n * out_plane * p.channels + c : (n * p.channels + c) * out_plane;
      index_t o = 0;
      for (index_t o0 = 0; o0 < p.out[0]; ++o0) {
        index_t s0 = o0 * p.stride[0] - p.pad[0], e0 = s0 + p.kernel[0];
        e0 = e0 < p.in[0] ? e0 : p.in[0];
        s0 = s0 > 0 ? s0 : 0;
        for (index_t o1 = 0; o1 < p.out[1]; ++o1) {
          index_t s1 = o1 * p.stride[1] - p.pad[1], e1 = s1 + p.kernel[1];
          e1 = e1 < p.in[1] ? e1 : p.in[1];
          s1 = s1 > 0 ? s1 : 0;
          for (index_t o2 = 0; o2 < p.out[2]; ++o2, ++o) {
            index_t s2 = o2 * p.stride[2] - p.pad[2], e2 = s2 + p.kernel[2];
            e2 = e2 < p.in[2] ? e2 : p.in[2];
            s2 = s2 > 0 ? s2 : 0;
            float sum = 0.f;
            for (index_t i0 = s0; i0 < e0; ++i0)
              for (index_t i1 = s1; i1 < e1; ++i1)
                for (index_t i2 = s2; i2 < e2; ++i2) {
                  const index_t s = (i0 * p.in[1] + i1) * p.in[2] + i2;
                  sum += table[static_cast<std::uint8_t>(x[base + s * step])];
                }
            const index_t count = p.count_include_pad ? ksize : (e0 - s0) * (e1 - s1) * (e2 - s2);
            sum /= static_cast<float>(count);
            const std::int32_t q = static_cast<std::int32_t>(std::nearbyint(sum / p.y_scale + zp));
            y[obase + o * step] = detail::sat<T>(q);
          }
        }
      }
    }
}

// y = table[x] byte for byte (QLinearSigmoid, QLinearLeakyRelu; tables built on the host).
struct qlinear_lookup_params {
  index_t count;
};

template <class T>
inline void qlinear_lookup(const qlinear_lookup_params& p, const T* x, const std::uint8_t* table, T* y) noexcept {
  for (index_t i = 0; i < p.count; ++i) y[i] = static_cast<T>(table[static_cast<std::uint8_t>(x[i])]);
}

// One input of QLinearConcat: block_copy's layout, each byte requantized through its table.
struct qlinear_concat_params {
  index_t outer;
  index_t block;
  index_t dst_stride;
  index_t dst_offset;
};

template <class T>
inline void qlinear_concat_part(const qlinear_concat_params& p, const T* x, const std::uint8_t* table, T* y) noexcept {
  for (index_t o = 0; o < p.outer; ++o) {
    const T* src = x + o * p.block;
    T* dst = y + p.dst_offset + o * p.dst_stride;
    for (index_t j = 0; j < p.block; ++j) dst[j] = static_cast<T>(table[static_cast<std::uint8_t>(src[j])]);
  }
}

// QLinearSoftmax as ONNX Runtime (float32): table[256] holds exp values built on the host; per row
// the table is shifted so the row's maximum reads its last entry, sum = float sum in order, and
// y = nearbyint(table[x'] * floor(1 / y_scale) / sum) + y_zp, saturated (ONNX Runtime 1.30 saturates
// int8 at 127; older sources wrapped 128 to -128).
struct qlinear_softmax_params {
  index_t outer;
  index_t axis;
  index_t inner;
  float y_scale_inv;  // floor(1 / y_scale)
  std::int32_t y_zp;
};

template <class T>
inline void qlinear_softmax(const qlinear_softmax_params& p, const T* x, const float* table, T* y) noexcept {
  constexpr bool is_signed = std::numeric_limits<T>::is_signed;
  for (index_t o = 0; o < p.outer; ++o)
    for (index_t in = 0; in < p.inner; ++in) {
      const T* xr = x + o * p.axis * p.inner + in;
      T* yr = y + o * p.axis * p.inner + in;
      T xmax = xr[0];
      for (index_t i = 1; i < p.axis; ++i) xmax = xr[i * p.inner] > xmax ? xr[i * p.inner] : xmax;
      // index of element v: uint8 -> 255 - max + v; int8 -> uint8(127 - max + v)
      auto index = [&](T v) -> std::uint8_t {
        if constexpr (is_signed) return static_cast<std::uint8_t>(127 - static_cast<std::int32_t>(xmax) + static_cast<std::int32_t>(v));
        else return static_cast<std::uint8_t>(255 - static_cast<std::int32_t>(xmax) + static_cast<std::int32_t>(v));
      };
      float sum = 0.f;
      for (index_t i = 0; i < p.axis; ++i) sum += table[index(xr[i * p.inner])];
      if (!(sum > 0.f)) {  // every exp underflowed; ONNX Runtime leaves such rows unwritten
        for (index_t i = 0; i < p.axis; ++i) yr[i * p.inner] = static_cast<T>(p.y_zp);
        continue;
      }
      for (index_t i = 0; i < p.axis; ++i) {
        const float v = std::nearbyint(table[index(xr[i * p.inner])] * p.y_scale_inv / sum);
        if constexpr (is_signed) {
          const std::int32_t q = static_cast<std::int32_t>(v) + p.y_zp;
          yr[i * p.inner] = detail::sat<T>(q);
        } else {
          const std::uint32_t q = static_cast<std::uint32_t>(v) + static_cast<std::uint32_t>(p.y_zp);
          yr[i * p.inner] = static_cast<T>(q > 255u ? 255u : q);
        }
      }
    }
}

// QGemm: acc = C + sum_k (a - a_zp) * (b - b_zp[j]) in int32 with optional transposes; C (int32)
// broadcasts with strides c_stride_m / c_stride_n (0 along broadcast axes).
struct qgemm_params {
  index_t m, n, k;
  bool trans_a;
  bool trans_b;
  index_t c_stride_m;
  index_t c_stride_n;
  index_t b_zp_count;  // 1 or n
  index_t scale_count;  // 1 or n
};

namespace detail {
template <class A, class B, class F>
inline void int_gemm(const qgemm_params& p, const A* a, const A* a_zp, const B* b, const B* b_zp,
                     const std::int32_t* c, F&& store) noexcept {
  const std::int32_t az = a_zp ? static_cast<std::int32_t>(a_zp[0]) : 0;
  for (index_t i = 0; i < p.m; ++i)
    for (index_t j = 0; j < p.n; ++j) {
      const std::int32_t bz = b_zp ? static_cast<std::int32_t>(b_zp[p.b_zp_count > 1 ? j : 0]) : 0;
      std::int32_t acc = c ? c[i * p.c_stride_m + j * p.c_stride_n] : 0;
      for (index_t kk = 0; kk < p.k; ++kk) {
        const std::int32_t av = a[p.trans_a ? kk * p.m + i : i * p.k + kk];
        const std::int32_t bv = b[p.trans_b ? j * p.k + kk : kk * p.n + j];
        acc += (av - az) * (bv - bz);
      }
      store(i * p.n + j, j, acc);
    }
}
}  // namespace detail

// QGemm with y_scale/y_zero_point: y = saturate(requantize(acc, rq[j]) + y_zp), integers only;
// rq holds (mantissa, exponent) pairs of float32(float32(alpha * a_scale * b_scale[j]) / y_scale).
template <class A, class B, class Y>
inline void qgemm(const qgemm_params& p, const A* a, const A* a_zp, const B* b, const B* b_zp, const std::int32_t* c,
                  const std::int32_t* rq, const Y* y_zp, Y* y) noexcept {
  const std::int32_t yz = y_zp ? static_cast<std::int32_t>(y_zp[0]) : 0;
  detail::int_gemm(p, a, a_zp, b, b_zp, c, [&](index_t i, index_t j, std::int32_t acc) {
    const index_t s = p.scale_count > 1 ? j : 0;
    y[i] = static_cast<Y>(requantize_saturate(acc, requant_params{rq[2 * s], rq[2 * s + 1]}, yz, detail::qmin<Y>(),
                                              detail::qmax<Y>()));
  });
}

// QGemm without y_scale: float y = float(acc) * scale[j], scale = float32(alpha * a_scale * b_scale[j]).
template <class A, class B>
inline void qgemm_float(const qgemm_params& p, const A* a, const A* a_zp, const B* b, const B* b_zp,
                        const std::int32_t* c, const float* scale, float* y) noexcept {
  detail::int_gemm(p, a, a_zp, b, b_zp, c, [&](index_t i, index_t j, std::int32_t acc) {
    y[i] = static_cast<float>(acc) * scale[p.scale_count > 1 ? j : 0];
  });
}

}  // namespace kiln
