#!/usr/bin/python3
"""Checks that kiln stores a quantized model's weights compactly.

Usage: tools/check_weight_budget.py KILN MODEL_DIR [MODEL_DIR ...]

For each model, computed from the ONNX file alone (not from kiln):
  budget = 1 byte per element of every Conv/ConvTranspose/Gemm/MatMul weight (traced back through
           Identity/QuantizeLinear/DequantizeLinear to its initializer) or QLinearConv/QGemm/
           QLinearMatMul weight + 4 bytes per bias element (int32 in quantized form) + every
           distinct scale (4 B) and zero point (its element size) of the quantization operators.
kiln's header states weight_bytes; the check fails when it exceeds the budget by more than 5 %, or
when any weight tensor is stored as a float array as large as the model's largest weight (the
weights must stay int8 in flash, never float).
"""
import os
import re
import subprocess
import sys
import tempfile

import onnx
from onnx import numpy_helper

WEIGHTED = {"Conv", "ConvTranspose", "Gemm", "MatMul"}
QUANT = {"QuantizeLinear", "DequantizeLinear"}
# QOperator ops: weight input -> 1 byte per element, int32 bias input -> 4.
QOPERATOR = {"QLinearConv": {3: 1, 8: 4}, "QLinearMatMul": {3: 1}, "QGemm": {3: 1, 6: 4},
             "ConvInteger": {1: 1}, "MatMulInteger": {1: 1}}


def budget(model):
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}

    def source(t):
        while t in producer and producer[t].op_type in QUANT | {"Identity"}:
            t = producer[t].input[0]
        return t

    params, largest = 0, 0
    weights = set()
    for n in model.graph.node:
        if n.op_type in WEIGHTED:
            slots = {1: 1, 2: 4}  # input -> bytes per element
        elif n.op_type in QOPERATOR:
            slots = QOPERATOR[n.op_type]
        else:
            continue
        for k, per in slots.items():
            if k >= len(n.input):
                continue
            s = source(n.input[k])
            if s in inits and s not in weights:
                weights.add(s)
                params += inits[s].size * per
                if per == 1:
                    largest = max(largest, inits[s].size)
    seen, qparams = set(weights), 0
    for n in model.graph.node:
        if n.op_type not in QUANT and n.op_type not in QOPERATOR and not n.op_type.startswith("QLinear"):
            continue
        for t in (n.input[1:3] if n.op_type in QUANT else n.input):
            while t in producer and producer[t].op_type == "Identity":
                t = producer[t].input[0]
            if t in inits and t not in seen:
                seen.add(t)
                qparams += inits[t].nbytes
    return params + qparams, largest


def main():
    kiln, dirs = sys.argv[1], sys.argv[2:]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for d in dirs:
            name = os.path.basename(os.path.normpath(d))
            header = os.path.join(tmp, name + ".hpp")
            subprocess.run([kiln, "compile", os.path.join(d, "model.onnx"), "-o", header], check=True,
                           stdout=subprocess.DEVNULL)
            text = open(header).read()
            stored = int(re.search(r"weight_bytes = (\d+);", text).group(1))
            floats = [int(n) for n in re.findall(r"inline constexpr float w_\w+\[(\d+)\]", text)]
            want, largest = budget(onnx.load(os.path.join(d, "model.onnx")))
            ratio = stored / want
            big_float = max(floats, default=0)
            ok = ratio <= 1.05 and big_float < largest
            failed += not ok
            print(f"{'PASS' if ok else 'FAIL'} {name}: weight_bytes {stored}, budget {want} (ratio {ratio:.3f}), "
                  f"largest float array {big_float} elements, largest weight {largest}")
    print(f"{len(dirs) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
