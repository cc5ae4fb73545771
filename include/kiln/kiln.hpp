// The kiln runtime: everything a generated model header needs. Header-only, no heap, no exceptions.
#pragma once

#include "core/activation.hpp"
#include "core/requantize.hpp"
#include "core/shape.hpp"
#include "core/types.hpp"
#include "ops/affine.hpp"
#include "ops/conv.hpp"
#include "ops/conv_transpose.hpp"
#include "ops/elementwise.hpp"
#include "ops/gemm.hpp"
#include "ops/math_ops.hpp"
#include "ops/norm.hpp"
#include "ops/pool.hpp"
#include "ops/quant.hpp"
#include "ops/reduce.hpp"
#include "ops/softmax.hpp"
#include "ops/tensor.hpp"
