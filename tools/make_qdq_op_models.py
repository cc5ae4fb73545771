#!/usr/bin/python3
"""Build tests/models_qdq: small hand-made QDQ graphs, one per rewrite rule of kiln's QDQ stage
(codegen/stages/qdq.cpp), with ONNX Runtime's outputs as references.

Usage:  /usr/bin/python3 tools/make_qdq_op_models.py

Each model quantizes a float input (QuantizeLinear), runs DequantizeLinear -> op -> QuantizeLinear
groups and dequantizes every output, so outputs compare in quantization steps (`kiln check
--max-lsb`). The groups cover:
  movement_*   ops DQ moves below (Transpose, MaxPool, zero Pad, Reshape, Slice, Concat of equal
               quantizations), with the same and with a different output quantization
  clamp_*      Relu/Clip before QuantizeLinear: dropped when the saturation subsumes them, kept
               (zero point above the minimum, narrower Clip) when not
  arith_*      the integer operators: Conv (per-channel weights, float bias), MatMul (per-column),
               Gemm (transB), Add, Mul, Sigmoid, LeakyRelu, Softmax, AveragePool,
               GlobalAveragePool, Concat of differing quantizations; uint8 and int8 activations
  float_*      groups ONNX Runtime keeps in float: ConvTranspose, HardSwish, Tanh, nearest Resize
  resize_linear  linear Resize in float: documented to differ by at most one step
  gemm_mixed_*   a Gemm quantized to the other 8-bit type than its input: no QGemm, float Gemm
ONNX Runtime's x86 build keeps most QDQ groups with int8 activations in float (it fuses them on
ARM); kiln runs them on integer kernels, so arith_s8 may differ by one step (docs/quantization.md).
Deterministic (fixed seeds): reruns write byte-identical files.
"""
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_models as zoo  # noqa: E402  (ORT bridge, pb writer)

OUT = os.path.join(zoo.REPO, "tests", "models_qdq")
SHAPE = [1, 4, 8, 8]


class Graph:
    """A QDQ graph under construction: input x (float) quantized with (s_in, z_in)."""

    def __init__(self, qtype, seed):
        self.rng = np.random.default_rng(seed)
        self.qtype = qtype
        self.np_q = np.uint8 if qtype == TensorProto.UINT8 else np.int8
        self.nodes, self.inits, self.outputs = [], [], []
        self.count = 0
        self.zp_in = 128 if qtype == TensorProto.UINT8 else 0
        self.xin = self.quantize("x", 0.05, self.zp_in)

    def name(self, base):
        self.count += 1
        return f"{base}{self.count}"

    def const(self, base, value):
        n = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(value), n))
        return n

    def qparams(self, scale, zp, np_type=None):
        return self.const("scale", np.float32(scale)), self.const("zp", (np_type or self.np_q)(zp))

    def quantize(self, x, scale, zp, np_type=None):
        s, z = self.qparams(scale, zp, np_type)
        q = self.name("q")
        self.nodes.append(helper.make_node("QuantizeLinear", [x, s, z], [q]))
        return (q, s, z)

    def dequantize(self, q):
        f = self.name("f")
        self.nodes.append(helper.make_node("DequantizeLinear", list(q), [f]))
        return f

    def op(self, op_type, inputs, **attrs):
        y = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [y], **attrs))
        return y

    def output(self, y, scale, zp, np_type=None):
        """Quantize y (to the graph's 8-bit type or np_type), dequantize it and make that a graph output."""
        out = self.dequantize(self.quantize(y, scale, zp, np_type))
        self.outputs.append(out)

    def weights(self, shape, axis_len, axis=0):
        """int8 weights with per-axis scales (folded pattern: DQ of an int8 initializer)."""
        w = self.const("w", self.rng.integers(-127, 128, shape).astype(np.int8))
        s = self.const("ws", self.rng.uniform(0.002, 0.02, axis_len).astype(np.float32))
        z = self.const("wz", np.zeros(axis_len, np.int8))
        f = self.name("wf")
        self.nodes.append(helper.make_node("DequantizeLinear", [w, s, z], [f], axis=axis))
        return f

    def save(self, path, opset=13):
        g = helper.make_graph(self.nodes, "qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, SHAPE)],
                              [], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="kiln-tools")
        m.ir_version = 7
        inferred = onnx.shape_inference.infer_shapes(m)
        known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
        m.graph.output.extend([known[o] for o in self.outputs])
        onnx.checker.check_model(m, full_check=True)
        onnx.save(m, path)


def lo(g):
    return 0 if g.qtype == TensorProto.UINT8 else -128


def movement(g):
    x = g.dequantize(g.xin)
    for same in (True, False):
        s, z = (0.05, g.zp_in) if same else (0.07, lo(g) + 10)
        g.output(g.op("Transpose", [x], perm=[0, 2, 3, 1]), s, z)
        g.output(g.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2]), s, z)
        g.output(g.op("Pad", [x, g.const("pads", np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64))]), s, z)
        g.output(g.op("Reshape", [x, g.const("shape", np.array([1, 16, 16], np.int64))]), s, z)
        g.output(g.op("Slice", [x, g.const("st", np.array([1, 2], np.int64)), g.const("en", np.array([3, 7], np.int64)),
                                g.const("ax", np.array([1, 3], np.int64))]), s, z)
        g.output(g.op("Concat", [x, x], axis=1), s, z)


def clamp(g):
    x = g.dequantize(g.xin)
    g.output(g.op("Relu", [x]), 0.02, lo(g))            # dropped: zero point at the minimum
    g.output(g.op("Relu", [x]), 0.02, lo(g) + 40)       # kept
    g.output(g.op("Clip", [x, g.const("lo", np.float32(0)), g.const("hi", np.float32(6))]), 6 / 255, lo(g))  # subsumed
    g.output(g.op("Clip", [x, g.const("lo", np.float32(-0.5)), g.const("hi", np.float32(0.5))]), 0.01, lo(g) + 100)  # kept


def arith(g):
    x = g.dequantize(g.xin)
    zq = lo(g) + 100
    g.output(g.op("Conv", [x, g.weights([6, 4, 3, 3], 6), g.const("b", g.rng.normal(0, 0.5, 6).astype(np.float32))],
                  pads=[1, 1, 1, 1]), 0.08, zq)
    g.output(g.op("Conv", [x, g.weights([4, 1, 3, 3], 4)], group=4, strides=[2, 2]), 0.06, zq)   # depthwise, no bias
    flat = g.dequantize(g.quantize(g.op("Reshape", [x, g.const("s2", np.array([32, 8], np.int64))]), 0.05, zq))
    g.output(g.op("MatMul", [flat, g.weights([8, 5], 5, axis=1)]), 0.05, zq)
    g.output(g.op("Gemm", [flat, g.weights([5, 8], 5, axis=0), g.const("c", g.rng.normal(0, 0.3, 5).astype(np.float32))],
                  transB=1), 0.05, zq)
    y = g.dequantize(g.quantize(g.op("Sigmoid", [x]), 0.004, lo(g)))
    g.output(g.op("Add", [x, y]), 0.06, zq)
    g.output(g.op("Mul", [x, y]), 0.03, zq)
    g.output(g.op("Sigmoid", [x]), 1 / 256, lo(g))
    g.output(g.op("LeakyRelu", [x], alpha=0.1), 0.04, zq)
    g.output(g.op("Softmax", [x], axis=1), 1 / 256, lo(g))
    g.output(g.op("AveragePool", [x], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=0), 0.03, zq)
    g.output(g.op("GlobalAveragePool", [x]), 0.01, zq)
    g.output(g.op("Concat", [x, y], axis=1), 0.05, zq)


def float_ops(g):
    x = g.dequantize(g.xin)
    zq = lo(g) + 100
    g.output(g.op("ConvTranspose", [x, g.weights([4, 3, 3, 3], 4)], strides=[2, 2]), 0.1, zq)
    g.output(g.op("HardSwish", [x]), 0.03, zq)
    g.output(g.op("Tanh", [x]), 1 / 128, zq)
    g.output(g.op("Resize", [x, g.const("roi", np.zeros(0, np.float32)), g.const("sc", np.array([1, 1, 2, 2], np.float32))],
                  mode="nearest"), 0.05, zq)


def resize_linear(g):
    x = g.dequantize(g.xin)
    g.output(g.op("Resize", [x, g.const("roi", np.zeros(0, np.float32)), g.const("sc", np.array([1, 1, 2, 2], np.float32))],
                  mode="linear"), 0.045, lo(g) + 100)


def gemm_mixed(g):
    # A Gemm whose output is quantized to the other 8-bit type than its input (ONNX Runtime's
    # QDQ optimizer leaves such groups after converting int8 activations to uint8): QGemm has no
    # such kernel, so the Gemm stays in float between DequantizeLinear and QuantizeLinear.
    x = g.dequantize(g.xin)
    other, zo = (np.int8, 0) if g.np_q == np.uint8 else (np.uint8, 128)
    flat = g.dequantize(g.quantize(g.op("Reshape", [x, g.const("s2", np.array([32, 8], np.int64))]), 0.05, lo(g) + 100))
    g.output(g.op("Gemm", [flat, g.weights([5, 8], 5, axis=0), g.const("c", g.rng.normal(0, 0.3, 5).astype(np.float32))],
                  transB=1), 0.05, zo, other)


MODELS = {"movement": movement, "clamp": clamp, "arith": arith, "float": float_ops, "resize_linear": resize_linear,
          "gemm_mixed": gemm_mixed}


def main():
    zoo.ensure_ort()
    if os.path.isdir(OUT):
        for entry in os.listdir(OUT):
            if entry != "README.md":
                shutil.rmtree(os.path.join(OUT, entry))
    os.makedirs(OUT, exist_ok=True)
    for seed, (kind, build) in enumerate(MODELS.items()):
        for qname, qtype in (("u8", TensorProto.UINT8), ("s8", TensorProto.INT8)):
            name = f"{kind}_{qname}"
            g = Graph(qtype, 1000 + 10 * seed + (qtype == TensorProto.INT8))
            build(g)
            d = os.path.join(OUT, name)
            os.makedirs(d)
            path = os.path.join(d, "model.onnx")
            g.save(path, opset=14)  # HardSwish needs 14
            rng = np.random.default_rng(seed * 7 + 1)
            data = [[(rng.standard_normal(SHAPE) * 2.5).astype(np.float32)] for _ in range(2)]
            # Hit rounding ties: some inputs exactly halfway between quantization steps.
            data[1][0].flat[::5] = (np.arange(data[1][0].size)[::5] % 40 - 20 + 0.5).astype(np.float32) * 0.05
            zoo_outs = zoo.ort_run(path, ["x"], data)
            for i, (inputs, outputs) in enumerate(zip(data, zoo_outs)):
                ds = os.path.join(d, f"test_data_set_{i}")
                os.makedirs(ds)
                zoo.write_pb(os.path.join(ds, "input_0.pb"), inputs[0], "x")
                for k, a in enumerate(outputs):
                    zoo.write_pb(os.path.join(ds, f"output_{k}.pb"), a, g.outputs[k])
            print(f"{name}: {len(g.nodes)} nodes, {len(g.outputs)} outputs")


if __name__ == "__main__":
    main()
