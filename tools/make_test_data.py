#!/usr/bin/env python3
"""Writes the small hand-built test models in tests/data (run with Debian's /usr/bin/python3).

Reference outputs are computed here with numpy from the operators' definitions, independently of
kiln. Deterministic: running it twice gives identical files.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")


def save_case(name, model, inputs, outputs):
    """A folder in the ONNX backend-test layout: model.onnx + test_data_set_0."""
    onnx.checker.check_model(model)
    d = os.path.join(OUT, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    for kind, tensors in (("input", inputs), ("output", outputs)):
        for i, (tname, arr) in enumerate(tensors):
            with open(os.path.join(d, "test_data_set_0", f"{kind}_{i}.pb"), "wb") as f:
                f.write(nh.from_array(arr, tname).SerializeToString())


def error_models():
    # Two nodes kiln does not support (a custom-domain op and TopK): one error must list both.
    nodes = [h.make_node("Relu", ["x"], ["r"], name="ok_relu"),
             h.make_node("FancyOp", ["r"], ["f"], domain="com.example", name="custom_1"),
             h.make_node("Sigmoid", ["f"], ["y"], name="after_custom"),
             h.make_node("TopK", ["x", "k"], ["v", "i"], name="topk_1")]
    g = h.make_graph(nodes, "unsupported", [h.make_tensor_value_info("x", TP.FLOAT, [1, 8])],
                     [h.make_tensor_value_info("y", TP.FLOAT, [1, 8]), h.make_tensor_value_info("v", TP.FLOAT, [1, 2])],
                     [h.make_tensor("k", TP.INT64, [1], [2])])
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 13), h.make_opsetid("com.example", 1)]),
              os.path.join(OUT, "unsupported_ops.onnx"))
    # An input with a symbolic batch dimension: needs --input-shape.
    g = h.make_graph([h.make_node("Relu", ["x"], ["y"])], "sym", [h.make_tensor_value_info("x", TP.FLOAT, ["batch", 4])],
                     [h.make_tensor_value_info("y", TP.FLOAT, ["batch", 4])])
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]), os.path.join(OUT, "symbolic_batch.onnx"))
    with open(os.path.join(OUT, "not_a_model.onnx"), "wb") as f:
        f.write(b"this is not protobuf \x00\xff\x13")


def local_function(rng):
    # Newer PyTorch exporters wrap blocks in model-local functions; kiln inlines them.
    fn = h.make_function("com.kiln.test", "ScaledRelu", ["X", "S"], ["Y"],
                         [h.make_node("Mul", ["X", "S"], ["t"]), h.make_node("Relu", ["t"], ["Y"])],
                         opset_imports=[h.make_opsetid("", 13)])
    nodes = [h.make_node("ScaledRelu", ["x", "s"], ["a"], domain="com.kiln.test", name="block1"),
             h.make_node("ScaledRelu", ["a", "s"], ["y"], domain="com.kiln.test", name="block2")]
    s = np.array([0.5, -2.0, 3.0], np.float32)
    g = h.make_graph(nodes, "fn", [h.make_tensor_value_info("x", TP.FLOAT, [2, 3])],
                     [h.make_tensor_value_info("y", TP.FLOAT, [2, 3])], [nh.from_array(s, "s")])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13), h.make_opsetid("com.kiln.test", 1)], functions=[fn])
    x = rng.standard_normal((2, 3)).astype(np.float32)
    y = np.maximum(np.maximum(x * s, 0) * s, 0).astype(np.float32)
    save_case("local_function", m, [("x", x)], [("y", y)])


def old_opset(rng):
    # Opset 9: Unsqueeze/Squeeze axes and Split sizes are attributes, Upsample exists; converted to 13.
    nodes = [h.make_node("Unsqueeze", ["x"], ["u"], axes=[0]),
             h.make_node("Split", ["u"], ["a", "b"], axis=2, split=[1, 3]),
             h.make_node("Squeeze", ["a"], ["a2"], axes=[0]),
             h.make_node("Squeeze", ["b"], ["b2"], axes=[0]),
             h.make_node("Concat", ["b2", "a2"], ["c"], axis=1),
             h.make_node("Relu", ["c"], ["y"])]
    g = h.make_graph(nodes, "old", [h.make_tensor_value_info("x", TP.FLOAT, [2, 4])],
                     [h.make_tensor_value_info("y", TP.FLOAT, [2, 4])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 9)])
    m.ir_version = 4
    x = rng.standard_normal((2, 4)).astype(np.float32)
    y = np.maximum(np.concatenate([x[:, 1:], x[:, :1]], axis=1), 0).astype(np.float32)
    save_case("opset9_conversion", m, [("x", x)], [("y", y)])


def awkward_names(rng):
    # Names that are C++ keywords, start with digits, hold ':' '/' '.' '-' and spaces, and collide
    # after sanitising ("a.b" and "a/b" both become a_b).
    w = rng.standard_normal((3, 3)).astype(np.float32)
    nodes = [h.make_node("MatMul", ["class", "0weight"], ["a.b"], name="namespace"),
             h.make_node("Relu", ["a.b"], ["a/b"], name="node: with spaces"),
             h.make_node("Add", ["a/b", "a.b"], ["return"], name="-"),
             h.make_node("Neg", ["return"], ["weights"], name="run")]
    g = h.make_graph(nodes, "names", [h.make_tensor_value_info("class", TP.FLOAT, [2, 3])],
                     [h.make_tensor_value_info("weights", TP.FLOAT, [2, 3]), h.make_tensor_value_info("a.b", TP.FLOAT, [2, 3])],
                     [nh.from_array(w, "0weight")])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13)])
    x = rng.standard_normal((2, 3)).astype(np.float32)
    ab = (x @ w).astype(np.float32)
    y = -(np.maximum(ab, 0) + ab)
    save_case("awkward_names", m, [("class", x)], [("weights", y.astype(np.float32)), ("a.b", ab)])


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2026)
    error_models()
    local_function(rng)
    old_opset(rng)
    awkward_names(rng)
    print(f"wrote test data to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    sys.exit(main())
