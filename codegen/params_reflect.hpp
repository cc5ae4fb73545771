// KILN_PARAMS registrations: how each runtime params struct prints as an initializer.
#pragma once

#include "params_printer.hpp"

#include <kiln/kiln.hpp>

namespace kiln {
// Found by argument-dependent lookup from print_value.
inline const char* enum_type_name(act_kind) { return "kiln::act_kind"; }
inline const char* enum_type_name(pool_kind) { return "kiln::pool_kind"; }
inline const char* enum_type_name(softmax_kind) { return "kiln::softmax_kind"; }
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
            p.pad_end, p.count_include_pad, p.p);
KILN_PARAMS(kiln::softmax_params, p.kind, p.outer, p.axis, p.inner);
KILN_PARAMS(kiln::channel_affine_params, p.outer, p.channels, p.inner);
}  // namespace kiln::cg
