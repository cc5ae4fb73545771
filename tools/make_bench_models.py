#!/usr/bin/python3
"""Write the ONNX models of the benchmark suite (benchmarks/) into OUT_DIR.

Usage:  /usr/bin/python3 tools/make_bench_models.py OUT_DIR

  resnet18_f32, resnet18_s8   a ResNet-18 shaped CNN at 1x3x224x224 (random weights)
  conv3x3_{f32,s8}            one 3x3 Conv, 32 -> 32 channels at 56x56, pad 1
  conv1x1_{f32,s8}            one 1x1 Conv, 64 -> 64 channels at 28x28
  dw3x3_{f32,s8}              one 3x3 depthwise Conv, 128 channels at 28x28, pad 1
  dense_{f32,s8}              one Gemm, 1024 -> 1000

Each goes to OUT_DIR/<name>/model.onnx. Weights are random (fixed seed): the models are for
timing only. The *_s8 models are QDQ graphs in the layout ONNX Runtime's static quantizer writes
(uint8 activations, per-channel symmetric int8 weights, int32 bias, float graph input and output),
with fixed activation scales instead of calibrated ones. Reruns write identical files.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13


class Builder:
    def __init__(self, seed, quantized):
        self.rng = np.random.default_rng(seed)
        self.q = quantized
        self.nodes, self.inits, self.n = [], [], 0
        self.scale = {}  # activation tensor -> uint8 scale (quantized models)

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(arr, name))
        return name

    def qdq(self, t, scale, zp=0):
        """Quantize t to uint8 and back; returns the dequantized tensor's name."""
        s = self.init(self.name("scale"), np.array(scale, dtype=np.float32))
        z = self.init(self.name("zp"), np.array(zp, dtype=np.uint8))
        q, d = self.name(t + "_q"), self.name(t + "_dq")
        self.nodes.append(helper.make_node("QuantizeLinear", [t, s, z], [q]))
        self.nodes.append(helper.make_node("DequantizeLinear", [q, s, z], [d]))
        self.scale[d] = scale
        return d

    def weight(self, w, b, x):
        """Weight and bias inputs: float initializers, or int8/int32 ones behind DequantizeLinear."""
        if not self.q:
            return self.init(self.name("w"), w), self.init(self.name("b"), b)
        flat = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
        ws = (np.maximum(flat, 1e-8) / 127).astype(np.float32)
        wq = np.clip(np.round(w / ws.reshape((-1,) + (1,) * (w.ndim - 1))), -127, 127).astype(np.int8)
        bs = (np.float32(self.scale[x]) * ws).astype(np.float32)
        bq = np.round(b / bs).astype(np.int32)
        wn, bn = self.name("w"), self.name("b")
        self.init(wn + "_q", wq), self.init(wn + "_s", ws), self.init(wn + "_z", np.zeros(w.shape[0], np.int8))
        self.init(bn + "_q", bq), self.init(bn + "_s", bs), self.init(bn + "_z", np.zeros(w.shape[0], np.int32))
        self.nodes.append(helper.make_node("DequantizeLinear", [wn + "_q", wn + "_s", wn + "_z"], [wn], axis=0))
        self.nodes.append(helper.make_node("DequantizeLinear", [bn + "_q", bn + "_s", bn + "_z"], [bn], axis=0))
        return wn, bn

    def conv(self, x, cin, cout, k, stride=1, group=1, relu=False, out_scale=0.05):
        fan_in = cin // group * k * k
        w = (self.rng.standard_normal((cout, cin // group, k, k)) * np.sqrt(2.0 / fan_in)).astype(np.float32)
        b = (self.rng.standard_normal(cout) * 0.01).astype(np.float32)
        wn, bn = self.weight(w, b, x)
        y = self.name("conv")
        p = k // 2
        self.nodes.append(helper.make_node("Conv", [x, wn, bn], [y], kernel_shape=[k, k], strides=[stride, stride],
                                           pads=[p, p, p, p], group=group))
        if relu:
            r = self.name("relu")
            self.nodes.append(helper.make_node("Relu", [y], [r]))
            y = r
        # Relu outputs use zero point 0 (ORT drops the Relu); others are centred at 128.
        return self.qdq(y, out_scale, 0 if relu else 128) if self.q else y

    def gemm(self, x, cin, cout, out_scale=0.05):
        w = (self.rng.standard_normal((cout, cin)) * np.sqrt(1.0 / cin)).astype(np.float32)
        b = (self.rng.standard_normal(cout) * 0.01).astype(np.float32)
        wn, bn = self.weight(w, b, x)
        y = self.name("gemm")
        self.nodes.append(helper.make_node("Gemm", [x, wn, bn], [y], transB=1))
        return self.qdq(y, out_scale, 128) if self.q else y

    def model(self, x_shape, x_out, out_name):
        self.nodes.append(helper.make_node("Identity", [x_out], [out_name]))
        g = helper.make_graph(self.nodes, "bench", [helper.make_tensor_value_info("input", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="kiln tools/make_bench_models.py")
        m.ir_version = 7
        m = onnx.shape_inference.infer_shapes(m)
        onnx.checker.check_model(m)
        return m


def start(seed, quantized):
    b = Builder(seed, quantized)
    x = b.qdq("input", 1.0 / 64, 128) if quantized else "input"
    return b, x


def resnet18(quantized):
    b, x = start(18, quantized)
    x = b.conv(x, 3, 64, 7, stride=2, relu=True)
    y = b.name("pool")
    b.nodes.append(helper.make_node("MaxPool", [x], [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]))
    x, cin = (b.qdq(y, 0.05, 0) if quantized else y), 64
    for stage, cout in enumerate([64, 128, 256, 512]):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            h = b.conv(x, cin, cout, 3, stride=stride, relu=True)
            h = b.conv(h, cout, cout, 3)
            short = b.conv(x, cin, cout, 1, stride=stride) if stride != 1 or cin != cout else x
            s, r = b.name("add"), b.name("relu")
            b.nodes.append(helper.make_node("Add", [h, short], [s]))
            b.nodes.append(helper.make_node("Relu", [s], [r]))
            x, cin = (b.qdq(r, 0.05, 0) if quantized else r), cout
    p, f = b.name("gap"), b.name("flat")
    b.nodes.append(helper.make_node("GlobalAveragePool", [x], [p]))
    if quantized:
        p = b.qdq(p, 0.05, 0)
    b.nodes.append(helper.make_node("Flatten", [p], [f], axis=1))
    b.scale[f] = b.scale.get(p)
    return b.model([1, 3, 224, 224], b.gemm(f, 512, 1000), "logits")


def single(kind, quantized):
    b, x = start(7, quantized)
    if kind == "conv3x3":
        return b.model([1, 32, 56, 56], b.conv(x, 32, 32, 3), "output")
    if kind == "conv1x1":
        return b.model([1, 64, 28, 28], b.conv(x, 64, 64, 1), "output")
    if kind == "dw3x3":
        return b.model([1, 128, 28, 28], b.conv(x, 128, 128, 3, group=128), "output")
    return b.model([1, 1024], b.gemm(x, 1024, 1000), "output")


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    out = sys.argv[1]
    models = {}
    for q, suffix in ((False, "f32"), (True, "s8")):
        models[f"resnet18_{suffix}"] = resnet18(q)
        for kind in ("conv3x3", "conv1x1", "dw3x3", "dense"):
            models[f"{kind}_{suffix}"] = single(kind, q)
    for name, m in models.items():
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.onnx")
        tmp = path + ".tmp"
        onnx.save(m, tmp)
        os.replace(tmp, path)
    print(f"make_bench_models: wrote {len(models)} models to {out}")


if __name__ == "__main__":
    main()
