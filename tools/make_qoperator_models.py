#!/usr/bin/python3
"""Build the QOperator test models in tests/models_qop/.

Usage:  /usr/bin/python3 tools/make_qoperator_models.py [NAME ...]

Small hand-built models of ONNX Runtime's com.microsoft QOperator ops (QLinearAdd, QLinearMul,
QLinearGlobalAveragePool, QLinearAveragePool, QLinearConcat, QLinearSigmoid, QLinearLeakyRelu,
QLinearSoftmax, QGemm, QLinearConv) plus one small quantized CNN chaining them, written with
onnx.helper in the ONNX backend-test layout:

    tests/models_qop/<name>/model.onnx
    tests/models_qop/<name>/test_data_set_<i>/input_<k>.pb / output_<k>.pb

Reference outputs come from ONNX Runtime (tools/ort_reference.js: CPU, one thread), so `kiln check`
compares kiln with ONNX Runtime's own QOperator kernels. Inputs are random but seeded per model and
cover the whole int8/uint8 range (both ends always present); scales are mostly powers of two, so
many results land on .5 ties, and large enough that outputs saturate. Reruns write identical files.
"""
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_models import ensure_ort, ort_run  # noqa: E402  (the ONNX Runtime bridge)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(REPO, "tests", "models_qop")
NUM_DATA_SETS = 2
MS = "com.microsoft"

NP2ONNX = {np.dtype(np.uint8): TensorProto.UINT8, np.dtype(np.int8): TensorProto.INT8,
           np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.int32): TensorProto.INT32}


def full_range(rng, shape, dtype):
    """Uniform over the whole 8-bit range, both ends present."""
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max + 1, size=shape, dtype=np.int64)
    flat = a.reshape(-1)
    if flat.size >= 2:
        flat[0], flat[1] = info.min, info.max
    return a.astype(dtype)


def every_byte(rng, shape, dtype):
    """All 256 values (shape must hold a multiple of 256), shuffled."""
    n = int(np.prod(shape))
    info = np.iinfo(dtype)
    vals = np.tile(np.arange(info.min, info.max + 1, dtype=np.int64), n // 256)
    rng.shuffle(vals)
    return vals.astype(dtype).reshape(shape)


class Model:
    def __init__(self):
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.gens = []  # per graph input: f(rng) -> array

    def const(self, name, value, dtype):
        arr = np.array(value, dtype=dtype)
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def qparams(self, prefix, scale, zp, dtype):
        return self.const(prefix + "_scale", scale, np.float32), self.const(prefix + "_zp", zp, dtype)

    def input(self, name, shape, dtype, gen=full_range):
        self.inputs.append(helper.make_tensor_value_info(name, NP2ONNX[np.dtype(dtype)], list(shape)))
        self.gens.append(lambda rng, s=tuple(shape), d=dtype: gen(rng, s, d))
        return name

    def output(self, name, dtype):
        self.outputs.append(helper.make_tensor_value_info(name, NP2ONNX[np.dtype(dtype)], None))

    def node(self, op, ins, outs, domain=MS, **attrs):
        self.nodes.append(helper.make_node(op, ins, outs, name=f"{op.lower()}_{len(self.nodes)}", domain=domain, **attrs))

    def build(self, name):
        graph = helper.make_graph(self.nodes, name, self.inputs, self.outputs, self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(MS, 1)],
                                  producer_name="kiln-make_qoperator_models")
        model.ir_version = 8
        return model


# ---------------------------------------------------------------------------
# Models: name -> builder(seed) returning a Model
# ---------------------------------------------------------------------------

def binary(op, dtype, shape_a, shape_b, sa, za, sb, zb, sc, zc):
    def build():
        m = Model()
        a = m.input("a", shape_a, dtype)
        b = m.input("b", shape_b, dtype)
        a_s, a_z = m.qparams("a", sa, za, dtype)
        b_s, b_z = m.qparams("b", sb, zb, dtype)
        c_s, c_z = m.qparams("c", sc, zc, dtype)
        m.node(op, [a, a_s, a_z, b, b_s, b_z, c_s, c_z], ["c"])
        m.output("c", dtype)
        return m
    return build


def unary(op, dtype, shape, sx, zx, sy, zy, gen=None, **attrs):
    """One (x, x_scale, x_zp, y_scale, y_zp) QOperator node: the pools, the lookups, Softmax."""
    def build():
        m = Model()
        x = m.input("x", shape, dtype, **({"gen": gen} if gen else {}))
        x_s, x_z = m.qparams("x", sx, zx, dtype)
        y_s, y_z = m.qparams("y", sy, zy, dtype)
        m.node(op, [x, x_s, x_z, y_s, y_z], ["y"], **attrs)
        m.output("y", dtype)
        return m
    return build


def gap(dtype, shape, channels_last, sx, zx, sy, zy):
    return unary("QLinearGlobalAveragePool", dtype, shape, sx, zx, sy, zy, channels_last=channels_last)


def avgpool(dtype, shape, sx, zx, sy, zy, **attrs):
    return unary("QLinearAveragePool", dtype, shape, sx, zx, sy, zy, **attrs)


def concat(dtype, shapes, qps, yq, axis):
    def build():
        m = Model()
        y_s, y_z = m.qparams("y", yq[0], yq[1], dtype)
        ins = [y_s, y_z]
        for i, (shape, (s, z)) in enumerate(zip(shapes, qps)):
            x = m.input(f"x{i}", shape, dtype)
            x_s, x_z = m.qparams(f"x{i}", s, z, dtype)
            ins += [x, x_s, x_z]
        m.node("QLinearConcat", ins, ["y"], axis=axis)
        m.output("y", dtype)
        return m
    return build


def lookup(op, dtype, shape, sx, zx, sy, zy, **attrs):
    return unary(op, dtype, shape, sx, zx, sy, zy, gen=every_byte, **attrs)


def softmax(dtype, shape, sx, zx, sy, zy, **attrs):
    return unary("QLinearSoftmax", dtype, shape, sx, zx, sy, zy, **attrs)


def qgemm(a_dtype, b_dtype, m_, k, n, trans_a, trans_b, alpha, per_column, bias, y_q, seed):
    def build():
        rng = np.random.default_rng(seed)
        m = Model()
        a = m.input("a", (k, m_) if trans_a else (m_, k), a_dtype)
        a_s, a_z = m.qparams("a", 0.05, 3 if a_dtype == np.int8 else 131, a_dtype)
        bshape = (n, k) if trans_b else (k, n)
        b = m.const("b", full_range(rng, bshape, b_dtype), b_dtype)
        if per_column:
            b_s = m.const("b_scale", (rng.integers(1, 9, size=n) / 64.0).astype(np.float32), np.float32)
            b_z = m.const("b_zp", rng.integers(-5, 6, size=n) + (0 if b_dtype == np.int8 else 128), b_dtype)
        else:
            b_s, b_z = m.qparams("b", 0.03125, 0 if b_dtype == np.int8 else 127, b_dtype)
        ins = [a, a_s, a_z, b, b_s, b_z]
        if bias is not None:
            ins.append(m.const("c", rng.integers(-3000, 3000, size=bias), np.int32))
        elif y_q is not None:
            ins.append("")
        out_dtype = np.float32
        if y_q is not None:
            y_s, y_z = m.qparams("y", y_q[0], y_q[1], a_dtype)
            ins += [y_s, y_z]
            out_dtype = a_dtype
        m.node("QGemm", ins, ["y"], alpha=alpha, transA=int(trans_a), transB=int(trans_b))
        m.output("y", out_dtype)
        return m
    return build


def ms_qlinearconv(seed):
    def build():
        rng = np.random.default_rng(seed)
        m = Model()
        x = m.input("x", (1, 3, 6, 6), np.uint8)
        x_s, x_z = m.qparams("x", 0.0625, 120, np.uint8)
        w = m.const("w", full_range(rng, (4, 3, 3, 3), np.int8), np.int8)
        w_s, w_z = m.qparams("w", 0.0078125, 0, np.int8)
        y_s, y_z = m.qparams("y", 0.25, 128, np.uint8)
        bias = m.const("bias", rng.integers(-500, 500, size=4), np.int32)
        m.node("QLinearConv", [x, x_s, x_z, w, w_s, w_z, y_s, y_z, bias], ["y"], pads=[1, 1, 1, 1],
               strides=[1, 1], channels_last=0)
        m.output("y", np.uint8)
        return m
    return build


def small_cnn(seed):
    """QuantizeLinear -> QLinearConv -> QLinearLeakyRelu -> QLinearAdd (residual) -> QLinearAveragePool
    -> QLinearConcat -> QLinearGlobalAveragePool -> Reshape -> QGemm -> QLinearMatMul -> QLinearSigmoid /
    QLinearSoftmax / DequantizeLinear."""
    def build():
        rng = np.random.default_rng(seed)
        m = Model()
        m.input("image", (1, 4, 8, 8), np.float32, gen=lambda r, s, d: r.uniform(-2.0, 2.0, size=s).astype(d))
        q_s, q_z = m.qparams("q", 0.015625, 128, np.uint8)
        m.node("QuantizeLinear", ["image", q_s, q_z], ["xq"], domain="")
        w = m.const("w1", full_range(rng, (4, 4, 3, 3), np.int8), np.int8)
        w_s = m.const("w1_scale", (rng.integers(1, 5, size=4) / 256.0).astype(np.float32), np.float32)
        w_z = m.const("w1_zp", np.zeros(4), np.int8)
        c_s, c_z = m.qparams("c1", 0.0625, 120, np.uint8)
        b1 = m.const("b1", rng.integers(-2000, 2000, size=4), np.int32)
        m.node("QLinearConv", ["xq", q_s, q_z, w, w_s, w_z, c_s, c_z, b1], ["c1"], domain="", pads=[1, 1, 1, 1])
        l_s, l_z = m.qparams("l1", 0.0625, 110, np.uint8)
        m.node("QLinearLeakyRelu", ["c1", c_s, c_z, l_s, l_z], ["l1"], alpha=0.125)
        a_s, a_z = m.qparams("a1", 0.125, 128, np.uint8)
        m.node("QLinearAdd", ["l1", l_s, l_z, "xq", q_s, q_z, a_s, a_z], ["a1"])
        p_s, p_z = m.qparams("p1", 0.0625, 128, np.uint8)
        m.node("QLinearAveragePool", ["a1", a_s, a_z, p_s, p_z], ["p1"], kernel_shape=[2, 2], strides=[2, 2])
        m2_s, m2_z = m.qparams("m1", 0.5, 100, np.uint8)
        m.node("QLinearMul", ["p1", p_s, p_z, "p1", p_s, p_z, m2_s, m2_z], ["m1"])
        k_s, k_z = m.qparams("k1", 0.0625, 128, np.uint8)
        m.node("QLinearConcat", [k_s, k_z, "p1", p_s, p_z, "m1", m2_s, m2_z], ["k1"], axis=1)
        g_s, g_z = m.qparams("g1", 0.03125, 128, np.uint8)
        m.node("QLinearGlobalAveragePool", ["k1", k_s, k_z, g_s, g_z], ["g1"], channels_last=0)
        shape = m.const("flat_shape", [1, 8], np.int64)
        m.node("Reshape", ["g1", shape], ["f1"], domain="")
        wf = m.const("wf", full_range(rng, (8, 6), np.int8), np.int8)
        wf_s, wf_z = m.qparams("wf", 0.015625, 0, np.int8)
        fb = m.const("fb", rng.integers(-1000, 1000, size=6), np.int32)
        h_s, h_z = m.qparams("h1", 0.0625, 128, np.uint8)
        m.node("QGemm", ["f1", g_s, g_z, wf, wf_s, wf_z, fb, h_s, h_z], ["h1"])
        wm = m.const("wm", full_range(rng, (6, 5), np.uint8), np.uint8)
        wm_s, wm_z = m.qparams("wm", 0.0078125, 128, np.uint8)
        o_s, o_z = m.qparams("o1", 0.125, 128, np.uint8)
        m.node("QLinearMatMul", ["h1", h_s, h_z, wm, wm_s, wm_z, o_s, o_z], ["o1"], domain="")
        s_s, s_z = m.qparams("s1", 0.00390625, 0, np.uint8)
        m.node("QLinearSigmoid", ["o1", o_s, o_z, s_s, s_z], ["sig"])
        m.node("QLinearSoftmax", ["o1", o_s, o_z, s_s, s_z], ["soft"], axis=-1, opset=13)
        m.node("DequantizeLinear", ["o1", o_s, o_z], ["logits"], domain="")
        m.output("logits", np.float32)
        m.output("h1", np.uint8)
        m.output("sig", np.uint8)
        m.output("soft", np.uint8)
        return m
    return build


def f32_round(q):
    """The float32 nearest to the exact rational q, ties to even."""
    from fractions import Fraction
    f = np.float32(float(q))
    best = None
    for c in (np.nextafter(f, np.float32(-np.inf)), f, np.nextafter(f, np.float32(np.inf))):
        d = abs(Fraction(float(c)) - q)
        key = (d, int(np.float32(c).view(np.uint32)) & 1)
        if best is None or key < best[0]:
            best = (key, c)
    return np.float32(best[1])


def fma32(x, y, z):
    from fractions import Fraction
    return f32_round(Fraction(float(x)) * Fraction(float(y)) + Fraction(float(z)))


def add_order_pairs(sa, za, sb, zb, sc, zc, dtype):
    """The (a, b) pairs whose QLinearAdd result depends on MLAS's float32 evaluation: its AVX2 kernel
    computes fma(x, rx, fma(y, ry, c_zp - fma(rx, x_zp, ry * y_zp))) for its operands (x, y) = (A, B),
    or (B, A) when ONNX Runtime passes a scalar A second; the same without fusion rounds differently."""
    f = np.float32
    info = np.iinfo(dtype)
    ra, rb = f(f(sa) / f(sc)), f(f(sb) / f(sc))
    fix_ab = f(f(zc) - fma32(ra, f(za), f(rb * f(zb))))
    fix_ba = f(f(zc) - fma32(rb, f(zb), f(ra * f(za))))
    fix_plain = f(f(zc) - f(f(ra * f(za)) + f(rb * f(zb))))
    # Cheap filter first: only values near a .5 tie can differ.
    vals = np.arange(info.min, info.max + 1)
    a, b = np.meshgrid(vals, vals, indexing="ij")
    approx = a * float(ra) + b * float(rb) + float(fix_plain)
    near = np.argwhere(np.abs(approx - np.floor(approx) - 0.5) < 1e-4)
    out = []
    for i, j in near:
        av, bv = f(a[i, j]), f(b[i, j])
        h = [fma32(av, ra, fma32(bv, rb, fix_ab)), fma32(bv, rb, fma32(av, ra, fix_ba)),
             f(f(fix_plain + f(bv * rb)) + f(av * ra)),
             fma32(av, ra, f(fix_ab + f(bv * rb))), fma32(bv, rb, f(fix_ba + f(av * ra)))]  # scalar folded unfused
        r = {int(np.clip(np.rint(v), info.min, info.max)) for v in h}
        if len(r) > 1:
            out.append((int(a[i, j]), int(b[i, j])))
    return out


def add_order(dtype, layout, q):
    """QLinearAdd on the rare inputs where MLAS's float32 evaluation order matters; layout 'vector'
    (A, B 4x8), 'scalar_b' (B 4x1: a scalar per span) or 'scalar_a' (A 4x1)."""
    pairs = add_order_pairs(*q, dtype)
    assert pairs, "no order-sensitive pairs for these scales"
    sa_shape = (4, 1) if layout == "scalar_a" else (4, 8)
    sb_shape = (4, 1) if layout == "scalar_b" else (4, 8)

    def gen(which, shape):
        def g(rng, _shape, d):
            x = full_range(rng, shape, d)
            for r in range(shape[0]):
                if r < len(pairs):
                    x[r, 0] = pairs[r][which]
            return x
        return g

    def build():
        m = Model()
        a = m.input("a", sa_shape, dtype, gen=gen(0, sa_shape))
        b = m.input("b", sb_shape, dtype, gen=gen(1, sb_shape))
        a_s, a_z = m.qparams("a", q[0], q[1], dtype)
        b_s, b_z = m.qparams("b", q[2], q[3], dtype)
        c_s, c_z = m.qparams("c", q[4], q[5], dtype)
        m.node("QLinearAdd", [a, a_s, a_z, b, b_s, b_z, c_s, c_z], ["c"])
        m.output("c", dtype)
        return m
    return build


ORDER_Q = (0.12665578722953796, 148, 0.1870572566986084, 83, 0.18481163680553436, 82)
ORDER_Q2 = (0.179436594247818, 169, 0.09436197578907013, 233, 0.04845082014799118, 117)

u8, i8 = np.uint8, np.int8
MODELS = {
    # QLinearAdd: power-of-two scales (quarter steps: many .5 ties), saturation, broadcasting, scalars.
    "qadd_u8_ties": binary("QLinearAdd", u8, (2, 3, 4, 5), (2, 3, 4, 5), 0.25, 128, 0.5, 120, 1.0, 128),
    "qadd_i8_broadcast": binary("QLinearAdd", i8, (2, 3, 4, 5), (3, 1, 5), 0.05, -3, 0.1, 7, 0.08, 2),
    "qadd_u8_scalar_b": binary("QLinearAdd", u8, (3, 17), (1,), 0.5, 100, 0.25, 128, 0.75, 90),
    "qadd_i8_scalar_a": binary("QLinearAdd", i8, (), (2, 19), 0.125, 0, 0.375, -10, 0.25, 5),
    # QLinearMul: ratio 1/2 (ties on odd products), saturation, broadcasting.
    "qmul_u8_ties": binary("QLinearMul", u8, (2, 3, 4, 5), (2, 3, 4, 5), 0.5, 128, 0.25, 126, 0.25, 128),
    "qmul_i8_broadcast": binary("QLinearMul", i8, (2, 3, 4, 5), (5,), 0.07, 2, 0.03, -4, 0.05, -1),
    "qmul_u8_scalar": binary("QLinearMul", u8, (1,), (4, 9), 0.0625, 128, 0.5, 130, 0.125, 120),
    # QLinearGlobalAveragePool: x_scale / (y_scale * image) = 1/2 on 2x2 images (ties), NHWC.
    "qgap_u8_ties": gap(u8, (2, 3, 2, 2), 0, 1.0, 128, 0.5, 128),
    "qgap_i8": gap(i8, (2, 5, 5, 5), 0, 0.1, -2, 0.02, 3),
    "qgap_u8_nhwc": gap(u8, (2, 3, 3, 4), 1, 0.25, 100, 0.03125, 120),
    # QLinearAveragePool: both count_include_pad, ceil_mode, NHWC, 1-D, and the whole-image fallback.
    "qavgpool_u8_pads": avgpool(u8, (1, 3, 7, 7), 0.25, 128, 0.125, 128, kernel_shape=[3, 3], strides=[2, 2],
                                pads=[1, 1, 1, 1], count_include_pad=0),
    "qavgpool_i8_include_pad": avgpool(i8, (1, 3, 7, 7), 0.25, 0, 0.125, -5, kernel_shape=[3, 3], strides=[2, 2],
                                       pads=[1, 1, 1, 1], count_include_pad=1),
    "qavgpool_u8_ceil": avgpool(u8, (1, 2, 6, 6), 0.5, 128, 0.25, 128, kernel_shape=[3, 3], strides=[2, 2],
                                ceil_mode=1),
    "qavgpool_i8_ceil_include_pad": avgpool(i8, (1, 2, 6, 6), 0.5, 3, 0.25, 0, kernel_shape=[2, 2],
                                            strides=[2, 2], pads=[1, 1, 0, 0], ceil_mode=1, count_include_pad=1),
    "qavgpool_u8_nhwc": avgpool(u8, (1, 5, 5, 3), 0.125, 128, 0.0625, 128, kernel_shape=[2, 2], strides=[1, 1],
                                channels_last=1),
    "qavgpool_i8_1d": avgpool(i8, (2, 3, 9), 0.2, 0, 0.1, 0, kernel_shape=[4], strides=[2], pads=[2, 1]),
    "qavgpool_u8_global": avgpool(u8, (1, 3, 4, 4), 1.0, 128, 0.5, 128, kernel_shape=[4, 4]),
    # QLinearConcat: a different scale and zero point per input, one equal to the output's.
    "qconcat_u8": concat(u8, [(2, 3, 4), (2, 1, 4), (2, 2, 4)], [(0.5, 128), (0.25, 100), (0.125, 128)],
                         (0.25, 128), 1),
    "qconcat_i8": concat(i8, [(2, 3, 2), (2, 3, 5)], [(0.3, -5), (0.1, 10)], (0.1, 10), -1),
    # Lookup tables: every byte value, clamped logistic range, typical output quantization.
    "qsigmoid_u8": lookup("QLinearSigmoid", u8, (4, 64), 0.1, 128, 1 / 256, 0),
    "qsigmoid_i8": lookup("QLinearSigmoid", i8, (2, 128), 0.2, -10, 1 / 256, -128),
    "qsigmoid_u8_fine": lookup("QLinearSigmoid", u8, (256,), 0.02, 128, 1 / 512, 0),
    "qleakyrelu_u8": lookup("QLinearLeakyRelu", u8, (4, 64), 0.05, 128, 0.025, 64, alpha=0.1),
    "qleakyrelu_i8": lookup("QLinearLeakyRelu", i8, (2, 128), 0.25, 0, 0.125, -20, alpha=0.01),
    # QLinearSoftmax: opset 13 (last and inner axis), opset 12 flattening; int8 with y_zp -128.
    "qsoftmax_u8": softmax(u8, (2, 3, 10), 0.1, 128, 1 / 256, 0, axis=-1, opset=13),
    "qsoftmax_i8_axis1": softmax(i8, (2, 5, 4), 0.25, 0, 1 / 256, -128, axis=1, opset=13),
    "qsoftmax_u8_opset12": softmax(u8, (2, 3, 4), 0.05, 128, 1 / 256, 0, axis=1, opset=12),
    # QGemm: quantized and float outputs, transposes, alpha, per-column b, broadcast bias.
    "qgemm_u8u8": qgemm(u8, u8, 4, 8, 6, False, False, 1.0, False, 6, (0.25, 128), 11),
    "qgemm_u8i8_transb_float": qgemm(u8, i8, 3, 16, 5, False, True, 0.5, True, None, None, 12),
    "qgemm_i8i8_transa": qgemm(i8, i8, 5, 7, 4, True, False, 2.0, True, (5, 1), (0.5, -3), 13),
    "qgemm_u8i8_nobias": qgemm(u8, i8, 2, 9, 3, False, False, 1.0, False, None, (0.0625, 100), 14),
    "qlinearconv_ms_u8": ms_qlinearconv(15),
    "qcnn_mixed": small_cnn(16),
    # QLinearAdd where ONNX Runtime's broadcast loop sees B (or A) constant along its innermost span:
    # MLAS then folds the scalar into its fixed part first, a different float32 rounding order.
    "qadd_u8_inner_broadcast_b": binary("QLinearAdd", u8, (2, 3, 4, 5), (3, 4, 1), 0.07, 131, 0.11, 97, 0.09, 125),
    "qadd_i8_inner_broadcast_a": binary("QLinearAdd", i8, (3, 1), (2, 3, 7), 0.13, -7, 0.06, 5, 0.1, -2),
    # The same order-sensitive (a, b) pairs with B a scalar per row and with B a full vector.
    "qadd_u8_order_scalar_b": add_order(u8, "scalar_b", ORDER_Q),
    "qadd_u8_order_vector": add_order(u8, "vector", ORDER_Q),
    "qadd_u8_order_scalar_a": add_order(u8, "scalar_a", ORDER_Q),
    "qadd_u8_order2_scalar_b": add_order(u8, "scalar_b", ORDER_Q2),
    "qadd_u8_order2_scalar_a": add_order(u8, "scalar_a", ORDER_Q2),
}


def make(name, seed):
    m = MODELS[name]()
    model = m.build(name)
    out = os.path.join(OUT_DIR, name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    path = os.path.join(out, "model.onnx")
    onnx.save(model, path)
    rng = np.random.default_rng(1000 + seed)
    runs = [[g(rng) for g in m.gens] for _ in range(NUM_DATA_SETS)]
    results = ort_run(path, [i.name for i in m.inputs], runs)
    # The checker (ONNX's and kiln's) wants output shapes: take them from ONNX Runtime's results.
    for vo, a in zip(model.graph.output, results[0]):
        vo.CopyFrom(helper.make_tensor_value_info(vo.name, vo.type.tensor_type.elem_type, list(a.shape)))
    onnx.checker.check_model(model)
    onnx.save(model, path)
    for d, (ins, outs) in enumerate(zip(runs, results)):
        ddir = os.path.join(out, f"test_data_set_{d}")
        os.makedirs(ddir)
        for k, (vi, a) in enumerate(zip(m.inputs, ins)):
            with open(os.path.join(ddir, f"input_{k}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(a, vi.name).SerializeToString())
        for k, (vo, a) in enumerate(zip(m.outputs, outs)):
            with open(os.path.join(ddir, f"output_{k}.pb"), "wb") as f:
                f.write(numpy_helper.from_array(a, vo.name).SerializeToString())
    print(f"{name}: {sum(a.size for outs in results for a in outs)} reference output elements")


def main():
    names = sys.argv[1:] or list(MODELS)
    for n in names:
        if n not in MODELS:
            raise SystemExit(f"unknown model {n}; known: {', '.join(MODELS)}")
    ensure_ort()
    for n in names:
        make(n, list(MODELS).index(n))


if __name__ == "__main__":
    main()
