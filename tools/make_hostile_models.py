#!/usr/bin/env python3
"""Writes tests/hostile: broken and hostile inputs `kiln compile` must reject cleanly.

Run with Debian's /usr/bin/python3 (it has onnx and numpy). Each case is tests/hostile/<case>.onnx,
plus external data files next to it where the case needs them. Deterministic and tiny: the
models are hand-built protobufs (never run through the ONNX checker here, since most are invalid
on purpose); the truncated case is the first half of tests/models/digits_cnn/model.onnx.
tests/CMakeLists.txt ("hostile models") lists what kiln must say about each.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "tests", "hostile")


def path(name):
    return os.path.join(OUT, name)


def write_bytes(name, data):
    with open(path(name), "wb") as f:
        f.write(data)


def vi(name, elem, shape):
    return h.make_tensor_value_info(name, elem, shape)


def out(name, elem, rank):
    """An output of known rank and symbolic dims (the checker wants a shape on every output)."""
    return h.make_tensor_value_info(name, elem, [f"{name}_d{i}" for i in range(rank)])


def model(name, nodes, inputs, outputs, inits=(), opsets=(("", 13),), value_info=()):
    g = h.make_graph(nodes, name, list(inputs), list(outputs), list(inits), value_info=list(value_info))
    m = h.make_model(g, opset_imports=[h.make_opsetid(d, v) for d, v in opsets], producer_name="make_hostile_models")
    m.ir_version = 8
    write_bytes(name + ".onnx", m.SerializeToString(deterministic=True))


def external(name, location, offset=None, length=None, dims=(4,)):
    """An initializer 'w' whose data lives in an external file; y = x + w."""
    t = TP()
    t.name = "w"
    t.data_type = TP.FLOAT
    t.dims.extend(dims)
    t.data_location = TP.EXTERNAL
    for k, v in (("location", location), ("offset", offset), ("length", length)):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, str(v)
    model(name, [h.make_node("Add", ["x", "w"], ["y"], name="add_w")], [vi("x", TP.FLOAT, list(dims))],
          [vi("y", TP.FLOAT, list(dims))], [t])


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261123)

    # ---- not a model at all ----
    write_bytes("empty_file.onnx", b"")
    with open(os.path.join(ROOT, "tests", "models", "digits_cnn", "model.onnx"), "rb") as f:
        real = f.read()
    write_bytes("truncated.onnx", real[: len(real) // 2])
    write_bytes("text_file.onnx", b"ir_version: 8\ngraph {\n  name: 'this is a text file, not a model'\n}\n")
    write_bytes("random_bytes.onnx", rng.integers(0, 256, 1024, dtype=np.uint8).tobytes())

    # ---- broken graphs ----
    model("empty_graph", [], [], [])
    model("dangling_input", [h.make_node("Add", ["x", "ghost"], ["y"], name="add_ghost")],
          [vi("x", TP.FLOAT, [2, 3])], [vi("y", TP.FLOAT, [2, 3])])
    model("cycle", [h.make_node("Relu", ["a"], ["y"], name="out"),  # downstream of the cycle, listed first
                    h.make_node("Add", ["x", "b"], ["a"], name="cyc_a"),
                    h.make_node("Relu", ["a"], ["b"], name="cyc_b")],
          [vi("x", TP.FLOAT, [2, 3])], [vi("y", TP.FLOAT, [2, 3])])
    model("produced_twice", [h.make_node("Relu", ["x"], ["t"], name="first"),
                             h.make_node("Sigmoid", ["x"], ["t"], name="second"),
                             h.make_node("Relu", ["t"], ["y"], name="out")],
          [vi("x", TP.FLOAT, [2, 3])], [vi("y", TP.FLOAT, [2, 3])])
    model("no_outputs", [h.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", TP.FLOAT, [2, 3])], [])

    # Model-local functions that each call the next twice: 2^30 nodes once inlined.
    fns = [h.make_function("com.bomb", f"F{k}", ["X"], ["Y"],
                           [h.make_node(f"F{k + 1}", ["X"], ["t"], domain="com.bomb"),
                            h.make_node(f"F{k + 1}", ["t"], ["Y"], domain="com.bomb")],
                           opset_imports=[h.make_opsetid("", 13), h.make_opsetid("com.bomb", 1)]) for k in range(30)]
    fns.append(h.make_function("com.bomb", "F30", ["X"], ["Y"], [h.make_node("Relu", ["X"], ["Y"])],
                               opset_imports=[h.make_opsetid("", 13)]))
    g = h.make_graph([h.make_node("F0", ["x"], ["y"], name="bomb", domain="com.bomb")], "function_bomb",
                     [vi("x", TP.FLOAT, [2])], [vi("y", TP.FLOAT, [2])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13), h.make_opsetid("com.bomb", 1)], functions=fns,
                     producer_name="make_hostile_models")
    m.ir_version = 8
    write_bytes("function_bomb.onnx", m.SerializeToString(deterministic=True))

    rec = h.make_function("com.loop", "Again", ["X"], ["Y"], [h.make_node("Again", ["X"], ["Y"], domain="com.loop")],
                          opset_imports=[h.make_opsetid("com.loop", 1)])
    g = h.make_graph([h.make_node("Again", ["x"], ["y"], name="start", domain="com.loop")], "function_recursion",
                     [vi("x", TP.FLOAT, [2])], [vi("y", TP.FLOAT, [2])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13), h.make_opsetid("com.loop", 1)], functions=[rec],
                     producer_name="make_hostile_models")
    m.ir_version = 8
    write_bytes("function_recursion.onnx", m.SerializeToString(deterministic=True))

    # A model-local function importing an opset version past int32 (inlining merges its imports).
    fn = h.make_function("com.wide", "Wide", ["X"], ["Y"], [h.make_node("Relu", ["X"], ["Y"])],
                         opset_imports=[h.make_opsetid("", 2 ** 40)])
    g = h.make_graph([h.make_node("Wide", ["x"], ["y"], name="wide", domain="com.wide")], "function_bad_opset",
                     [vi("x", TP.FLOAT, [2])], [vi("y", TP.FLOAT, [2])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13), h.make_opsetid("com.wide", 1)], functions=[fn],
                     producer_name="make_hostile_models")
    m.ir_version = 8
    write_bytes("function_bad_opset.onnx", m.SerializeToString(deterministic=True))

    # 100 functions, each calling the next: sizing the expansion recursively must stop at 64 levels.
    chain = [h.make_function("com.chain", f"C{k}", ["X"], ["Y"],
                             [h.make_node(f"C{k + 1}", ["X"], ["Y"], domain="com.chain")],
                             opset_imports=[h.make_opsetid("", 13), h.make_opsetid("com.chain", 1)])
             for k in range(99)]
    chain.append(h.make_function("com.chain", "C99", ["X"], ["Y"], [h.make_node("Relu", ["X"], ["Y"])],
                                 opset_imports=[h.make_opsetid("", 13)]))
    g = h.make_graph([h.make_node("C0", ["x"], ["y"], name="deep", domain="com.chain")], "function_deep_nesting",
                     [vi("x", TP.FLOAT, [2])], [vi("y", TP.FLOAT, [2])])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 13), h.make_opsetid("com.chain", 1)], functions=chain,
                     producer_name="make_hostile_models")
    m.ir_version = 8
    write_bytes("function_deep_nesting.onnx", m.SerializeToString(deterministic=True))

    # ---- shapes ----
    # Empty (a zero dim), so the element count is fine, but the other dim overflows shape arithmetic.
    model("empty_huge_dim", [h.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", TP.FLOAT, [0, 2 ** 62])],
          [out("y", TP.FLOAT, 2)])
    # 2^29 floats (2 GiB) from a 100-byte model: constant folding must refuse, not allocate it.
    model("fold_huge", [h.make_node("ConstantOfShape", ["shape"], ["c"], name="fill"),
                        h.make_node("Add", ["c", "x"], ["y"], name="add")],
          [vi("x", TP.FLOAT, [1])], [out("y", TP.FLOAT, 1)],
          [h.make_tensor("shape", TP.INT64, [1], [2 ** 29])])
    model("add_mismatch", [h.make_node("Add", ["a", "b"], ["y"], name="bad_add")],
          [vi("a", TP.FLOAT, [2, 3]), vi("b", TP.FLOAT, [4, 5])], [out("y", TP.FLOAT, 2)])
    w = h.make_tensor("w", TP.FLOAT, [4, 2, 3, 3], np.zeros(72, np.float32).tolist())
    model("conv_channels", [h.make_node("Conv", ["x", "w"], ["y"], name="bad_conv")],
          [vi("x", TP.FLOAT, [1, 3, 8, 8])], [out("y", TP.FLOAT, 4)], [w])
    # ONNX 1.12's conv and pool shape inference indexes the input's axes by the weight's rank and
    # divides by the strides unchecked (a fuzzer finding crashed it): kiln checks both first.
    w6 = h.make_tensor("w", TP.FLOAT, [1, 1, 3, 3, 1, 1], np.zeros(9, np.float32).tolist())
    model("conv_weight_rank", [h.make_node("Conv", ["x", "w"], ["y"], name="conv_w6")],
          [vi("x", TP.FLOAT, [1, 1, 8, 8])], [out("y", TP.FLOAT, 4)], [w6])
    w1 = h.make_tensor("w", TP.FLOAT, [2], [0.0, 0.0])
    model("conv_transpose_weight_rank", [h.make_node("ConvTranspose", ["x", "w"], ["y"], name="deconv_w1")],
          [vi("x", TP.FLOAT, [1, 2, 4, 4])], [out("y", TP.FLOAT, 4)], [w1])
    model("pool_zero_stride", [h.make_node("MaxPool", ["x"], ["y"], name="pool_s0", kernel_shape=[2, 2],
                                           strides=[0, 1])],
          [vi("x", TP.FLOAT, [1, 1, 8, 8])], [out("y", TP.FLOAT, 4)])
    model("zero_dim_input", [h.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", TP.FLOAT, [0, 3])],
          [vi("y", TP.FLOAT, [0, 3])])
    model("negative_dim_input", [h.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", TP.FLOAT, [2, -3])],
          [out("y", TP.FLOAT, 2)])
    model("huge_input", [h.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", TP.FLOAT, [2 ** 40, 2 ** 40])],
          [out("y", TP.FLOAT, 2)])
    big = TP()
    big.name, big.data_type = "w", TP.FLOAT
    big.dims.extend([2 ** 40, 2 ** 40])
    model("overflow_initializer", [h.make_node("Add", ["x", "w"], ["y"], name="add_w")], [vi("x", TP.FLOAT, [1])],
          [out("y", TP.FLOAT, 2)], [big])
    neg = TP()
    neg.name, neg.data_type = "w", TP.FLOAT
    neg.dims.extend([-2, 2])
    model("negative_dim_initializer", [h.make_node("Add", ["x", "w"], ["y"], name="add_w")],
          [vi("x", TP.FLOAT, [1])], [out("y", TP.FLOAT, 2)], [neg])
    # 2^31 elements: more than kiln's 32-bit index type addresses, on an input and an activation.
    model("input_too_large", [h.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", TP.UINT8, [2, 1024, 1024, 1024])],
          [out("y", TP.UINT8, 4)])
    shape = h.make_tensor("shape", TP.INT64, [2], [65536, 65536])
    model("activation_too_large", [h.make_node("Expand", ["x", "shape"], ["big"], name="blow_up"),
                                   h.make_node("ReduceMax", ["big"], ["y"], name="reduce", keepdims=0)],
          [vi("x", TP.FLOAT, [1])], [out("y", TP.FLOAT, 0)], [shape])
    short = TP()  # 16 elements declared, 2 stored (helper.make_tensor would refuse this)
    short.name, short.data_type, short.raw_data = "w", TP.FLOAT, np.ones(2, np.float32).tobytes()
    short.dims.extend([4, 4])
    model("short_initializer", [h.make_node("Add", ["x", "w"], ["y"], name="add_w")], [vi("x", TP.FLOAT, [4, 4])],
          [vi("y", TP.FLOAT, [4, 4])], [short])
    short_f = TP()
    short_f.name, short_f.data_type = "w", TP.FLOAT
    short_f.dims.extend([4, 4])
    short_f.float_data.extend([1.0, 2.0, 3.0])
    model("short_initializer_floats", [h.make_node("Add", ["x", "w"], ["y"], name="add_w")],
          [vi("x", TP.FLOAT, [4, 4])], [vi("y", TP.FLOAT, [4, 4])], [short_f])

    # ---- external data ----
    external("external_missing", "external_missing.bin")
    write_bytes("external_short.bin", np.arange(4, dtype=np.float32).tobytes())  # 16 bytes
    external("external_short", "external_short.bin", offset=8, length=16)
    external("external_absolute", "/etc/passwd")
    external("external_escape", "../CMakeLists.txt", length=16)
    external("external_bad_offset", "external_short.bin", offset="-8", length=16)
    # Valid external data: must compile whatever the working directory (the ONNX checker alone would
    # look for the file relative to the working directory).
    external("external_ok", "external_short.bin", offset=0, length=16)

    # ---- operators and opsets ----
    model("unknown_op", [h.make_node("Frobnicate", ["x"], ["y"], name="frob")], [vi("x", TP.FLOAT, [2, 3])],
          [vi("y", TP.FLOAT, [2, 3])])
    model("custom_domain", [h.make_node("Relu", ["x"], ["r"], name="ok"),
                            h.make_node("MagicOp", ["r"], ["y"], name="magic", domain="com.acme")],
          [vi("x", TP.FLOAT, [2, 3])], [vi("y", TP.FLOAT, [2, 3])], opsets=(("", 13), ("com.acme", 1)))
    model("opset_99", [h.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", TP.FLOAT, [2, 3])],
          [vi("y", TP.FLOAT, [2, 3])], opsets=(("", 99),))
    # A real opset newer than kiln reads (and than its ONNX library knows, whose checker would
    # reject ReduceMean's axes input): refused by its opset before the checker runs.
    model("opset_18_reduce_axes", [h.make_node("ReduceMean", ["x", "axes"], ["y"], name="mean")],
          [vi("x", TP.FLOAT, [2, 3])], [vi("y", TP.FLOAT, [2, 1])],
          inits=[nh.from_array(np.array([1], np.int64), "axes")], opsets=(("", 18),))
    # An opset-11 If whose branch returns a tensor of the enclosing graph: ONNX's version converter
    # (run on opsets below 13) crashes on such a subgraph, so kiln refuses subgraphs before it.
    branch = h.make_graph([], "branch", [], [vi("x", TP.FLOAT, [2, 3])])
    model("old_opset_subgraph", [h.make_node("If", ["c"], ["y"], name="choose", then_branch=branch, else_branch=branch)],
          [vi("c", TP.BOOL, []), vi("x", TP.FLOAT, [2, 3])], [vi("y", TP.FLOAT, [2, 3])], opsets=(("", 11),))
    model("domain_not_imported", [h.make_node("MagicOp", ["x"], ["y"], name="magic", domain="com.acme")],
          [vi("x", TP.FLOAT, [2, 3])], [vi("y", TP.FLOAT, [2, 3])])

    # ---- degenerate quantization ----
    # Calibration over a -inf attention mask writes scale inf (a QDQ causal-attention model of the
    # second sweep); runtimes disagree on what it computes, so kiln must refuse it, naming the scale.
    def scale(name, v):
        return h.make_tensor(name, TP.FLOAT, [], [v])
    zp = h.make_tensor("zp", TP.INT8, [], [0])
    model("qdq_inf_scale", [h.make_node("QuantizeLinear", ["x", "mask_s", "zp"], ["q"], name="quant_mask"),
                            h.make_node("DequantizeLinear", ["q", "mask_s", "zp"], ["d"], name="dequant_mask"),
                            h.make_node("Softmax", ["d"], ["y"], name="softmax")],
          [vi("x", TP.FLOAT, [2, 4])], [vi("y", TP.FLOAT, [2, 4])], [scale("mask_s", float("inf")), zp])
    model("dequantize_nan_scale", [h.make_node("DequantizeLinear", ["q", "nan_s", "zp"], ["y"], name="dequant")],
          [vi("q", TP.INT8, [4])], [vi("y", TP.FLOAT, [4])], [scale("nan_s", float("nan")), zp])
    model("quantize_zero_scale", [h.make_node("QuantizeLinear", ["x", "zero_s", "zp"], ["y"], name="quant")],
          [vi("x", TP.FLOAT, [4])], [vi("y", TP.INT8, [4])], [scale("zero_s", 0.0), zp])

    # ---- non-numeric types ----
    model("string_input", [h.make_node("Identity", ["s"], ["y"], name="pass_s")], [vi("s", TP.STRING, [2])],
          [vi("y", TP.STRING, [2])])
    model("string_output", [h.make_node("Cast", ["x"], ["y"], name="to_str", to=TP.STRING)],
          [vi("x", TP.FLOAT, [2])], [vi("y", TP.STRING, [2])])
    seq_f = h.make_tensor_sequence_value_info("seq", TP.FLOAT, [2])
    model("sequence_input", [h.make_node("SequenceAt", ["seq", "i"], ["y"], name="seq_at")], [seq_f],
          [vi("y", TP.FLOAT, [2])], [h.make_tensor("i", TP.INT64, [], [0])])
    model("sequence_output", [h.make_node("SequenceConstruct", ["x", "x"], ["seq"], name="make_seq")],
          [vi("x", TP.FLOAT, [2])], [h.make_tensor_sequence_value_info("seq", TP.FLOAT, [2])])
    map_t = onnx.TypeProto()  # map<int64, tensor(float)>
    map_t.map_type.key_type = TP.INT64
    map_t.map_type.value_type.CopyFrom(h.make_tensor_type_proto(TP.FLOAT, [2]))
    model("map_input", [h.make_node("Identity", ["x"], ["y"], name="id")],
          [vi("x", TP.FLOAT, [2]), h.make_value_info("m", map_t)], [vi("y", TP.FLOAT, [2])])


if __name__ == "__main__":
    main()
