#!/usr/bin/env python3
"""Writes a deep model in the ONNX backend-test layout, for `kiln check` (tests/CMakeLists.txt).

    /usr/bin/python3 tools/make_deep_graph.py OUT_DIR [--nodes 3000]

OUT_DIR/model.onnx is a chain of about NODES nodes on a 1x16 float tensor: Add (a constant), Relu,
Mul (a constant near 1), repeated, with a side branch every 100 nodes (Sigmoid of the chain, added
back to it) so some tensors live across others. OUT_DIR/test_data_set_0 holds a random input and
the output numpy computes. Generated at test time, never committed: it is big but trivial.
It guards against recursion in the codegen (a recursive walk over 3000 nodes overflows the stack),
quadratic stages and arena plans that grow with depth.
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

WIDTH = 16


def build(n_nodes, rng):
    nodes, inits = [], []
    x = rng.standard_normal((1, WIDTH)).astype(np.float32)
    v, cur, i = x.copy(), "x", 0

    def const(name, value):
        inits.append(nh.from_array(value, name))
        return name

    def node(op, inputs, out):
        nodes.append(h.make_node(op, inputs, [out], name=out))
        return out

    while len(nodes) < n_nodes:
        a = rng.uniform(-0.5, 0.5, WIDTH).astype(np.float32)
        m = rng.uniform(0.9, 1.1, WIDTH).astype(np.float32)
        cur = node("Add", [cur, const(f"a{i}", a)], f"add{i}")
        v = v + a
        cur = node("Relu", [cur], f"relu{i}")
        v = np.maximum(v, np.float32(0))
        cur = node("Mul", [cur, const(f"m{i}", m)], f"mul{i}")
        v = v * m
        if i % 33 == 32:  # a branch: y = y + sigmoid(y)
            s = node("Sigmoid", [cur], f"sig{i}")
            cur = node("Add", [cur, s], f"join{i}")
            v = v + (1 / (1 + np.exp(-v))).astype(np.float32)
        i += 1
    out = node("Identity", [cur], "y")
    g = h.make_graph(nodes, "deep", [h.make_tensor_value_info("x", TP.FLOAT, [1, WIDTH])],
                     [h.make_tensor_value_info(out, TP.FLOAT, [1, WIDTH])], inits)
    model = h.make_model(g, opset_imports=[h.make_opsetid("", 13)], producer_name="make_deep_graph")
    model.ir_version = 8
    return model, x, v.astype(np.float32)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--nodes", type=int, default=3000)
    args = ap.parse_args()
    model, x, y = build(args.nodes, np.random.default_rng(6))
    onnx.checker.check_model(model)
    data = os.path.join(args.out, "test_data_set_0")
    os.makedirs(data, exist_ok=True)
    onnx.save(model, os.path.join(args.out, "model.onnx"))
    for name, value in (("input_0.pb", nh.from_array(x, "x")), ("output_0.pb", nh.from_array(y, "y"))):
        with open(os.path.join(data, name), "wb") as f:
            f.write(value.SerializeToString())
    print(f"{len(model.graph.node)} nodes, {len(model.graph.initializer)} initializers")


if __name__ == "__main__":
    main()
