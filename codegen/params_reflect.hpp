// KILN_PARAMS registrations: how each runtime params struct prints as an initializer.
#pragma once

#include "params_printer.hpp"

#include <kiln/kiln.hpp>

#include <cstddef>
#include <string>

namespace kiln {
// Found by argument-dependent lookup from print_value.
// Enumerators print by name ("kiln::act_kind::relu"); each list follows the enum's declaration,
// whose values run 0, 1, 2, ... Found by argument-dependent lookup from print_value.
#define KILN_ENUM_NAMES(Type, ...)                                                       \
  inline std::string enum_literal(Type v) {                                              \
    static const char* const names[] = {__VA_ARGS__};                                   \
    const auto i = static_cast<std::size_t>(v);                                         \
    return i < sizeof names / sizeof *names ? std::string("kiln::" #Type "::") + names[i] \
                                            : "static_cast<kiln::" #Type ">(" + std::to_string(i) + ")"; \
  }
KILN_ENUM_NAMES(act_kind, "none", "relu", "clip", "leaky_relu", "sigmoid", "hard_sigmoid", "tanh");
KILN_ENUM_NAMES(pool_kind, "max", "average", "lp");
KILN_ENUM_NAMES(softmax_kind, "softmax", "log_softmax", "hardmax");
KILN_ENUM_NAMES(pad_mode, "constant", "reflect", "edge");
KILN_ENUM_NAMES(resize_mode, "nearest", "linear", "cubic");
KILN_ENUM_NAMES(resize_coord, "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize");
KILN_ENUM_NAMES(resize_nearest, "round_prefer_floor", "round_prefer_ceil", "floor", "ceil");
KILN_ENUM_NAMES(reduce_kind, "sum", "mean", "max", "min", "prod", "l1", "l2", "log_sum", "log_sum_exp", "sum_square");
KILN_ENUM_NAMES(arg_kind, "max", "min");
#undef KILN_ENUM_NAMES
}  // namespace kiln

namespace kiln::cg {
KILN_PARAMS(kiln::activation, p.kind, p.alpha, p.beta);
KILN_PARAMS(kiln::unary_params, p.count, p.alpha, p.beta, p.gamma);
KILN_PARAMS(kiln::binary_params, p.rank, p.count, p.dims, p.strides, p.a_count, p.b_count);
KILN_PARAMS(kiln::where_params, p.rank, p.count, p.dims, p.strides);
KILN_PARAMS(kiln::conv_params, p.batch, p.in_channels, p.out_channels, p.group, p.in, p.out, p.kernel, p.stride,
            p.dilation, p.pad, p.act);
KILN_PARAMS(kiln::gemm_params, p.m, p.n, p.k, p.trans_a, p.trans_b, p.alpha, p.beta, p.c_stride_m, p.c_stride_n, p.act);
KILN_PARAMS(kiln::matmul_params, p.m, p.n, p.k, p.batch_rank, p.batch_count, p.batch_dims, p.batch_strides);
KILN_PARAMS(kiln::pool_params, p.kind, p.batch, p.channels, p.in, p.out, p.kernel, p.stride, p.dilation, p.pad,
            p.pad_end, p.count_include_pad, p.p, p.column_major_indices);
KILN_PARAMS(kiln::softmax_params, p.kind, p.outer, p.axis, p.inner);
KILN_PARAMS(kiln::channel_affine_params, p.outer, p.channels, p.inner);
KILN_PARAMS(kiln::strided_copy_params, p.rank, p.count, p.dims, p.strides, p.offset);
KILN_PARAMS(kiln::block_copy_params, p.outer, p.block, p.src_stride, p.src_offset, p.dst_stride, p.dst_offset);
KILN_PARAMS(kiln::pad_params, p.mode, p.rank, p.count, p.out_dims, p.in_dims, p.in_strides, p.begin);
KILN_PARAMS(kiln::gather_params, p.outer, p.axis_dim, p.inner, p.indices);
KILN_PARAMS(kiln::gather_elements_params, p.rank, p.count, p.dims, p.strides, p.axis_stride, p.axis_dim);
KILN_PARAMS(kiln::fill_params, p.count);
KILN_PARAMS(kiln::trilu_params, p.batch, p.rows, p.cols, p.k, p.upper);
KILN_PARAMS(kiln::resize_params, p.mode, p.coord, p.nearest, p.exclude_outside, p.rank, p.count, p.in_dims, p.out_dims,
            p.in_strides, p.scales, p.roi_start, p.roi_end, p.cubic_a, p.extrapolation);
KILN_PARAMS(kiln::reduce_params, p.kind, p.out_count, p.out_rank, p.out_dims, p.out_strides, p.red_count, p.red_rank,
            p.red_dims, p.red_strides);
KILN_PARAMS(kiln::arg_reduce_params, p.kind, p.select_last, p.outer, p.len, p.inner);
KILN_PARAMS(kiln::normalize_params, p.epsilon, p.eps_after_sqrt, p.out_count, p.out_rank, p.out_dims, p.out_strides,
            p.red_count, p.red_rank, p.red_dims, p.red_strides);
KILN_PARAMS(kiln::lrn_params, p.batch, p.channels, p.inner, p.size, p.alpha, p.beta, p.bias);
KILN_PARAMS(kiln::conv_transpose_params, p.batch, p.in_channels, p.out_channels, p.group, p.in, p.out, p.kernel,
            p.stride, p.dilation, p.pad);
KILN_PARAMS(kiln::quant_params, p.outer, p.axis_dim, p.inner);
KILN_PARAMS(kiln::dynamic_quant_params, p.count);
KILN_PARAMS(kiln::requant_scales_params, p.count);
KILN_PARAMS(kiln::qconv_params, p.batch, p.in_channels, p.out_channels, p.group, p.in, p.out, p.kernel, p.stride,
            p.dilation, p.pad, p.w_zp_count, p.rq_count);
KILN_PARAMS(kiln::qmatmul_params, p.m, p.n, p.k, p.batch_rank, p.batch_count, p.batch_dims, p.batch_strides,
            p.a_zp_count, p.b_zp_count, p.rq_count);
KILN_PARAMS(kiln::qlinear_binary_params, p.rank, p.count, p.dims, p.strides, p.ratio_a, p.ratio_b, p.fixed, p.ratio,
            p.a_zp, p.b_zp, p.c_zp, p.swap);
KILN_PARAMS(kiln::qlinear_gap_params, p.batch, p.channels, p.image, p.channels_last, p.bias, p.rq_mantissa,
            p.rq_exponent, p.y_zp);
KILN_PARAMS(kiln::qlinear_avgpool_params, p.batch, p.channels, p.in, p.out, p.kernel, p.stride, p.pad,
            p.count_include_pad, p.channels_last, p.y_scale, p.y_zp);
KILN_PARAMS(kiln::qlinear_lookup_params, p.count);
KILN_PARAMS(kiln::qlinear_concat_params, p.outer, p.block, p.dst_stride, p.dst_offset);
KILN_PARAMS(kiln::qlinear_softmax_params, p.outer, p.axis, p.inner, p.y_scale_inv, p.y_zp);
KILN_PARAMS(kiln::qgemm_params, p.m, p.n, p.k, p.trans_a, p.trans_b, p.c_stride_m, p.c_stride_n, p.b_zp_count,
            p.scale_count);
}  // namespace kiln::cg
