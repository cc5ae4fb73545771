// KILN_PARAMS registrations: how each runtime params struct prints as an initializer.
#pragma once

#include "params_printer.hpp"

#include <kiln/kiln.hpp>

namespace kiln {
// Found by argument-dependent lookup from print_value.
inline const char* enum_type_name(act_kind) { return "kiln::act_kind"; }
inline const char* enum_type_name(pool_kind) { return "kiln::pool_kind"; }
inline const char* enum_type_name(softmax_kind) { return "kiln::softmax_kind"; }
inline const char* enum_type_name(pad_mode) { return "kiln::pad_mode"; }
inline const char* enum_type_name(resize_mode) { return "kiln::resize_mode"; }
inline const char* enum_type_name(resize_coord) { return "kiln::resize_coord"; }
inline const char* enum_type_name(resize_nearest) { return "kiln::resize_nearest"; }
inline const char* enum_type_name(reduce_kind) { return "kiln::reduce_kind"; }
inline const char* enum_type_name(arg_kind) { return "kiln::arg_kind"; }
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
}  // namespace kiln::cg
