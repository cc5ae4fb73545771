#!/usr/bin/env python3
"""Writes a model with about 113 MB of float weights, for the large-model test (tests/CMakeLists.txt).

    /usr/bin/python3 tools/make_large_model.py OUT_DIR [--width 3072] [--layers 3]

OUT_DIR/model.onnx: x (1xW) → MatMul (WxW) → Relu → ... LAYERS times, saved as one protobuf (no
external data), so it is past protobuf's 64 MB default limit. OUT_DIR/input.bin and expected.bin
are raw float32 (numpy's result, computed in float64 then rounded). Generated at test time.
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=3072)
    ap.add_argument("--layers", type=int, default=3)
    args = ap.parse_args()
    w = args.width
    rng = np.random.default_rng(6)
    x = rng.standard_normal((1, w)).astype(np.float32)
    nodes, inits, cur, ref = [], [], "x", x.astype(np.float64)
    for i in range(args.layers):
        # Scaled so activations stay near 1 through the layers.
        m = (rng.standard_normal((w, w), dtype=np.float32) * np.float32(1.5 / np.sqrt(w))).astype(np.float32)
        inits.append(nh.from_array(m, f"w{i}"))
        nodes.append(h.make_node("MatMul", [cur, f"w{i}"], [f"mm{i}"], name=f"matmul{i}"))
        ref = ref @ m.astype(np.float64)
        cur = f"mm{i}"
        if i + 1 < args.layers:
            nodes.append(h.make_node("Relu", [cur], [f"relu{i}"], name=f"relu{i}"))
            ref = np.maximum(ref, 0)
            cur = f"relu{i}"
    g = h.make_graph(nodes, "large", [h.make_tensor_value_info("x", TP.FLOAT, [1, w])],
                     [h.make_tensor_value_info(cur, TP.FLOAT, [1, w])], inits)
    model = h.make_model(g, opset_imports=[h.make_opsetid("", 13)], producer_name="make_large_model")
    model.ir_version = 8
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())  # onnx.save's checker refuses nothing here, but is slow
    x.tofile(os.path.join(args.out, "input.bin"))
    ref.astype(np.float32).tofile(os.path.join(args.out, "expected.bin"))
    print(f"{os.path.getsize(os.path.join(args.out, 'model.onnx'))} bytes")


if __name__ == "__main__":
    main()
