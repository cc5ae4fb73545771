#!/usr/bin/env python3
"""Writes tests/data/legacy_opsets: one-node models at opsets below 13 whose operators changed
meaning on the way up, in the ONNX backend-test layout (run with Debian's /usr/bin/python3).

kiln brings old models to opset 13 with ONNX's version converter, which gets these wrong (ONNX
1.12): Softmax and LogSoftmax need the input's shape, which an exporter need not store (torch
writes none); Hardmax is passed through unchanged, though opset 13 normalizes over one axis where
11 flattened everything from the axis on; Resize 10 and Upsample become Resize 11 with its
half_pixel default, where they were asymmetric. Like torch's exports, these models store no
shapes but the inputs' and outputs'.

Reference outputs come from ONNX Runtime (tools/ort_reference.js: CPU, one thread, default
optimizations), the runtime users compare kiln with. Deterministic: running it twice gives
identical files (the ONNX Runtime installed by tools/run_tests.sh).
"""
import os
import sys

import numpy as np
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_models import write_one_node_cases  # noqa: E402  (the ONNX Runtime bridge)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "legacy_opsets")


def one_node(opset, op, shape, inits=(), extra_inputs=(), pre_relu=False, post_neg=False, **attrs):
    """x -> [Relu ->] op [-> Neg] -> y at `opset`; extra_inputs name initializers (inits) after x."""
    nodes = []
    x = "x"
    if pre_relu:  # an intermediate tensor, so nothing but ONNX's inference knows its shape
        nodes.append(h.make_node("Relu", ["x"], ["r"], name="relu"))
        x = "r"
    # An intermediate output: the converter gives an Upsample's Resize a new one.
    y = "o" if post_neg else "y"
    nodes.append(h.make_node(op, [x, *extra_inputs], [y], name=op.lower(), **attrs))
    if post_neg:
        nodes.append(h.make_node("Neg", ["o"], ["y"], name="neg"))
    g = h.make_graph(nodes, op.lower(), [h.make_tensor_value_info("x", TP.FLOAT, list(shape))],
                     [h.make_tensor_value_info("y", TP.FLOAT, [None] * len(shape))], list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)], producer_name="kiln-make_legacy_opset_models")
    m.ir_version = 4 if opset < 11 else 6
    return m


def scales(values):
    return nh.from_array(np.array(values, np.float32), "scales")


def cases():
    # name -> (model, input): inputs with distinct values, so a wrong index or axis shows.
    rng = np.random.default_rng(2026)
    normal = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    ramp = lambda *s: np.arange(np.prod(s), dtype=np.float32).reshape(s)  # noqa: E731
    return {
        # Softmax over everything from axis 1 on (opset < 13), behind a Relu (no stored shape).
        "softmax_op11_axis1": (one_node(11, "Softmax", [2, 3, 2, 4], pre_relu=True, axis=1), normal(2, 3, 2, 4)),
        "softmax_op9_default_axis": (one_node(9, "Softmax", [2, 3, 4], pre_relu=True), normal(2, 3, 4)),
        "softmax_op12_last_axis": (one_node(12, "Softmax", [3, 5], pre_relu=True, axis=-1), normal(3, 5)),
        "logsoftmax_op12_axis_minus2": (one_node(12, "LogSoftmax", [2, 3, 5], pre_relu=True, axis=-2),
                                        normal(2, 3, 5)),
        "hardmax_op11_axis1": (one_node(11, "Hardmax", [2, 3, 2, 2], axis=1), normal(2, 3, 2, 2)),
        # Resize 10 and Upsample: asymmetric coordinates; nearest takes the floor when enlarging
        # and the ceiling when shrinking (what ONNX Runtime does for these opsets).
        "resize_op10_linear": (one_node(10, "Resize", [1, 2, 3, 4], inits=[scales([1, 1, 2, 1.5])],
                                        extra_inputs=["scales"], mode="linear"), normal(1, 2, 3, 4)),
        "resize_op10_nearest_up": (one_node(10, "Resize", [1, 2, 4, 2], inits=[scales([1, 1, 1.25, 2.5])],
                                            extra_inputs=["scales"], mode="nearest"), ramp(1, 2, 4, 2)),
        "resize_op10_nearest_down": (one_node(10, "Resize", [1, 2, 8, 6], inits=[scales([1, 1, 0.5, 0.6])],
                                              extra_inputs=["scales"], mode="nearest"), ramp(1, 2, 8, 6)),
        "upsample_op9_linear": (one_node(9, "Upsample", [1, 2, 3, 3], inits=[scales([1, 1, 2, 2])],
                                         extra_inputs=["scales"], post_neg=True, mode="linear"), normal(1, 2, 3, 3)),
        "upsample_op9_nearest": (one_node(9, "Upsample", [1, 1, 4, 4], inits=[scales([1, 1, 1.25, 1.5])],
                                          extra_inputs=["scales"], mode="nearest"), ramp(1, 1, 4, 4)),
        "upsample_op7_nearest": (one_node(7, "Upsample", [1, 2, 2, 3], post_neg=True, mode="nearest",
                                          scales=[1.0, 1.0, 2.0, 1.5]), ramp(1, 2, 2, 3)),
    }


def main():
    write_one_node_cases(OUT, cases())


if __name__ == "__main__":
    sys.exit(main())
