#!/usr/bin/python3
"""Build the int8 QDQ test models in tests/models_int8/.

Usage:  /usr/bin/python3 tools/make_quant_models.py [MODEL ...]

Two flavours of the same architectures (and, for digits_cnn, the same trained
weights) as tools/make_models.py, which this script imports:

  <arch>_qdq         torch eager-mode QAT / fake-quant export (torch.onnx, opset 13)
  <arch>_pruned_qdq  the same after 80 % unstructured magnitude pruning
  <arch>_ort_qdq     the float model of tests/models/<arch> run through a small
                     static quantizer that writes QDQ graphs the way ONNX
                     Runtime's quantize_static does (see quantize_static_qdq)

Reference outputs come from ONNX Runtime (tools/ort_reference.js: CPU, one
thread, all graph optimizations). Everything is seeded and single-threaded, so
reruns write byte-identical files. See tests/models_int8/README.md.
"""
import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import helper, numpy_helper, TensorProto

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_models as zoo  # noqa: E402  (architectures, trained weights, ORT bridge)

REPO = zoo.REPO
OUT_ROOT = os.path.join(REPO, "tests", "models_int8")
OPSET = 13
NUM_DATA_SETS = zoo.NUM_DATA_SETS
CALIB_SAMPLES = 32
PRUNE_AMOUNT = 0.8

import torch.ao.quantization as tq  # noqa: E402
import torch.nn.intrinsic.qat as nniqat  # noqa: E402
from torch.ao.nn.quantized import FloatFunctional  # noqa: E402
from torch.nn.utils import prune  # noqa: E402


# ---------------------------------------------------------------------------
# Flavour A: torch eager-mode QAT with plain FakeQuantize
# ---------------------------------------------------------------------------

def qat_qconfig():
    """Like get_default_qat_qconfig('fbgemm') but with plain FakeQuantize.

    The default uses FusedMovingAvgObsFakeQuantize (fused_moving_avg_obs_fake_quant),
    which torch 1.13's ONNX exporter cannot export.
    """
    act = tq.FakeQuantize.with_args(observer=tq.MovingAverageMinMaxObserver, quant_min=0, quant_max=255,
                                    dtype=torch.quint8, qscheme=torch.per_tensor_affine, reduce_range=False)
    wt = tq.FakeQuantize.with_args(observer=tq.MovingAveragePerChannelMinMaxObserver, quant_min=-128,
                                   quant_max=127, dtype=torch.qint8, qscheme=torch.per_channel_symmetric,
                                   reduce_range=False, ch_axis=0)
    return tq.QConfig(activation=act, weight=wt)


class QuantWrapper(nn.Module):
    """QuantStub -> model -> DeQuantStub, plus an optional float tail (e.g. softmax)."""

    def __init__(self, model, tail=None):
        super().__init__()
        self.quant = tq.QuantStub()
        self.model = model
        self.dequant = tq.DeQuantStub()
        self.tail = tail

    def forward(self, x):
        x = self.dequant(self.model(self.quant(x)))
        return self.tail(x) if self.tail is not None else x


# The float architectures use functional ReLUs, a clamp-based ReLU6 and a plain
# `+` for residuals; eager-mode quantization needs modules for them. These
# forwards mirror the zoo's (same submodules, same weights), only swapping in
# nn.ReLU modules (fusable) and FloatFunctional (observed residual add).

def _digits_forward(self, x):
    x = self.relu1(self.bn1(self.conv1(x)))
    x = F.max_pool2d(self.relu2(self.conv2(x)), 2)
    return self.fc(torch.flatten(x, 1))


def _resblock_forward(self, x):
    y = self.relu1(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    return self.skip_add.add_relu(y, self.shortcut(x))


def _resnet_forward(self, x):  # without the softmax; it runs in float after DeQuantStub
    x = self.pool(self.stages(self.stem(x)))
    return self.fc(torch.flatten(x, 1))


def make_quantizable(arch, model):
    """Return (module ready for fuse_modules_qat, fuse list, float tail)."""
    model = copy.deepcopy(model)
    fuse, tail = [], None
    if arch == "digits_cnn":
        model.relu1, model.relu2 = nn.ReLU(), nn.ReLU()
        model.forward = _digits_forward.__get__(model)
        fuse = [["conv1", "bn1", "relu1"], ["conv2", "relu2"]]
    elif arch == "resnet8":
        for blk in model.stages:
            blk.relu1, blk.skip_add = nn.ReLU(), FloatFunctional()
            blk.forward = _resblock_forward.__get__(blk)
        model.forward = _resnet_forward.__get__(model)
        tail = nn.Softmax(dim=1)
    elif arch == "fc_autoencoder":
        # Linear+BatchNorm1d+ReLU has no QAT fusion in torch 1.13 (only Linear+BN or
        # Linear+ReLU): fold the (inference-mode) BN into the Linear first.
        layers = list(model.net)
        new = []
        i = 0
        while i < len(layers):
            if isinstance(layers[i], nn.Linear) and i + 1 < len(layers) and \
                    isinstance(layers[i + 1], nn.BatchNorm1d):
                new.append(torch.nn.utils.fusion.fuse_linear_bn_eval(layers[i].eval(), layers[i + 1].eval()))
                i += 2
            else:
                new.append(layers[i])
                i += 1
        model.net = nn.Sequential(*new)
        fuse = [[f"net.{i}", f"net.{i + 1}"] for i, m in enumerate(new)
                if isinstance(m, nn.Linear) and i + 1 < len(new) and isinstance(new[i + 1], nn.ReLU)]
    # Sequential conv/BN/activation triples (zoo.conv_bn_relu) anywhere in the model.
    for name, mod in model.named_modules():
        if isinstance(mod, nn.Sequential) and len(mod) == 3 and isinstance(mod[0], nn.Conv2d) \
                and isinstance(mod[1], nn.BatchNorm2d):
            prefix = name + "." if name else ""
            if isinstance(mod[2], nn.ReLU):
                fuse.append([prefix + "0", prefix + "1", prefix + "2"])
            else:  # ReLU6 written as torch.clamp: nn.ReLU6 is observed (Clip -> Q); Conv+BN fuse.
                assert isinstance(mod[2], zoo.ReLU6Clamp), mod[2]
                mod[2] = nn.ReLU6()
                fuse.append([prefix + "0", prefix + "1"])
    if arch == "resnet8":
        for i, blk in enumerate(model.stages):
            fuse += [[f"stages.{i}.conv1", f"stages.{i}.bn1", f"stages.{i}.relu1"],
                     [f"stages.{i}.conv2", f"stages.{i}.bn2"]]
    return model, fuse, tail


def prune_model(model):
    """80 % unstructured L1 magnitude pruning of every conv/linear weight (made permanent)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            prune.l1_unstructured(m, "weight", amount=PRUNE_AMOUNT)
            prune.remove(m, "weight")


def build_qat(arch, float_model, calib, train=None):
    """Fuse, prepare_qat, then calibrate (untrained) or QAT fine-tune (train=(x, y)).

    Weights that are exactly zero (pruned) are kept at zero during fine-tuning.
    """
    model, fuse, tail = make_quantizable(arch, float_model)
    model.eval()
    if fuse:
        model = _fuse_qat(model, fuse)
    wrapped = QuantWrapper(model, tail)
    wrapped.qconfig = qat_qconfig()
    if tail is not None:
        tail.qconfig = None
    wrapped.train()
    tq.prepare_qat(wrapped, inplace=True)
    # BN statistics stay what the float model learned / was calibrated with.
    wrapped.apply(nniqat.freeze_bn_stats)
    masks = [(p, (p != 0).to(p.dtype)) for n, p in wrapped.named_parameters()
             if n.endswith("weight") and p.dim() > 1 and bool((p == 0).any())]
    if train is None:
        with torch.no_grad():
            for i in range(0, len(calib), 8):
                wrapped(calib[i:i + 8])
    else:
        x, y = train
        opt = torch.optim.Adam(wrapped.parameters(), lr=5e-4)
        gen = torch.Generator().manual_seed(4321)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        for _ in range(3):
            perm = torch.randperm(len(xt), generator=gen)
            for i in range(0, len(xt), 32):
                idx = perm[i:i + 32]
                opt.zero_grad()
                F.cross_entropy(wrapped(xt[idx]), yt[idx]).backward()
                opt.step()
                with torch.no_grad():
                    for p, m in masks:
                        p.mul_(m)
    wrapped.apply(tq.disable_observer)
    wrapped.eval()
    return wrapped


def _fuse_qat(model, fuse):
    model.train()
    return tq.fuse_modules_qat(model, fuse)


def scalarize_qparams(model):
    """torch writes per-tensor scales / zero points as 1-element 1-D tensors; ORT (and the ONNX
    spec for per-tensor quantization) wants scalars. Rewrite them as 0-D, following Identity nodes
    torch inserts to share one initializer between several Q/DQ nodes."""
    g = model.graph
    inits = {t.name: t for t in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    consts = {n.output[0]: n for n in g.node if n.op_type == "Constant"}
    per_tensor = set()
    for n in g.node:
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        axis_set = any(a.name == "axis" for a in n.attribute)
        for name in n.input[1:]:
            # follow Identity chains back to the initializer / Constant
            while name in producers and producers[name].op_type == "Identity":
                per_tensor.add(name)
                name = producers[name].input[0]
            per_tensor.add((name, axis_set))
    changed = 0
    for item in list(per_tensor):
        if not isinstance(item, tuple):
            continue
        name, axis_set = item
        t = inits.get(name)
        if t is None and name in consts:
            t = consts[name].attribute[0].t
        if t is None:
            continue
        if len(t.dims) == 1 and t.dims[0] == 1:
            a = numpy_helper.to_array(t).reshape(())
            t.CopyFrom(numpy_helper.from_array(a, t.name))
            changed += 1
    # Shapes recorded for Identity outputs are stale now; drop value_info, shape inference redoes it.
    del g.value_info[:]
    return changed


def export_qat(model, example, path, input_names, output_names):
    warnings.filterwarnings("ignore")
    torch.onnx.export(model, tuple(torch.from_numpy(a) for a in example), path, opset_version=OPSET,
                      input_names=input_names, output_names=output_names, do_constant_folding=True)
    m = onnx.load(path)
    scalarize_qparams(m)
    m = onnx.shape_inference.infer_shapes(m)
    onnx.save(m, path)


def fold_bn_for_export(wrapped):
    """Replace every fused QAT ConvBn(ReLU)2d by the equivalent BN-folded ConvReLU2d / Conv2d.

    Exported as is, an eval()-mode nniqat.ConvBn module gives Conv -> Div -> Add ->
    BatchNormalization -> Relu -> QuantizeLinear (its training-time BN simulation), which no
    runtime turns into an integer convolution. With frozen BN statistics the folded module computes
    the same: the weight fake-quant already saw the folded weight w * gamma / sqrt(var + eps), so
    its per-channel scales carry over unchanged. This is the usual deploy step after QAT.
    """
    for parent in list(wrapped.modules()):
        for name, mod in list(parent.named_children()):
            if not isinstance(mod, (nniqat.ConvBnReLU2d, nniqat.ConvBn2d)):
                continue
            flt = mod.to_float()
            for m in flt.modules():
                m.qconfig = mod.qconfig
            new = (nniqat.ConvReLU2d if isinstance(mod, nniqat.ConvBnReLU2d) else torch.nn.qat.Conv2d).from_float(flt)
            new.weight_fake_quant.load_state_dict(mod.weight_fake_quant.state_dict())
            new.activation_post_process = mod.activation_post_process
            new.register_forward_hook(lambda m, inp, out: m.activation_post_process(out))
            new.eval()
            setattr(parent, name, new)
    return wrapped


# ---------------------------------------------------------------------------
# Flavour B: a small static quantizer in the style of ORT's quantize_static
# ---------------------------------------------------------------------------
# What ORT's quantize_static(..., quant_format=QDQ, activation_type=QUInt8,
# weight_type=QInt8, per_channel=True, calibrate_method=MinMax) writes, for the
# op types these models use (onnxruntime/python/tools/quantization, registry.py):
#   Conv, Gemm      input + output activations Q/DQ; weight int8 symmetric per
#                   channel (axis 0; Gemm transB=1) as an int8 initializer ->
#                   DequantizeLinear; bias int32 (scale x_scale * w_scale, zero
#                   point 0) -> DequantizeLinear.
#   Relu, Clip      QDQRemovableActivation: when the input comes from a quantized
#                   node with no other consumer, the node is REMOVED and the
#                   producer writes the activation's output directly; its Q uses
#                   the range calibrated after the activation (so uint8 with
#                   zero point 0 does the ReLU, the range's top does ReLU6).
#   Add, Pad, GlobalAveragePool
#                   QDQOperatorBase: every float input and output Q/DQ, own ranges.
#   MaxPool, AveragePool, Reshape
#                   QDQDirect8BitOp: output Q/DQ with the *input's* scale / zero point.
#   Softmax         QDQSoftmax: input Q/DQ, output fixed scale 1/256, zero point 0.
#   Flatten         not a quantizable op type: stays float between a DQ and a Q.
# Pre-processing as quant_pre_process would leave the graph: BatchNormalization
# folded into the preceding Conv / Gemm, constant subgraphs folded to initializers.

U8 = (0, 255)
I8_SYM = (-127, 127)


def _const_value(n):
    for a in n.attribute:
        if a.name == "value":
            return numpy_helper.to_array(a.t)
    raise ValueError(f"Constant {n.name}: only 'value' constants are handled")


def preprocess_float(model):
    """Fold constant subgraphs and BatchNormalization (into Conv / Gemm); drop dead nodes.

    Returns (graph inputs, graph outputs, node list, constants dict name -> array).
    """
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    nodes = []
    for n in g.node:
        n = copy.deepcopy(n)
        ins = [consts.get(i) for i in n.input]
        if n.op_type == "Constant":
            consts[n.output[0]] = _const_value(n)
            continue
        if all(v is not None for v in ins) and n.op_type in ("Cast", "Unsqueeze", "Concat"):
            if n.op_type == "Cast":
                to = helper.get_attribute_value(n.attribute[0])
                consts[n.output[0]] = ins[0].astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[to])
            elif n.op_type == "Unsqueeze":
                consts[n.output[0]] = np.expand_dims(ins[0], tuple(int(a) for a in ins[1]))
            else:
                axis = helper.get_attribute_value(n.attribute[0])
                consts[n.output[0]] = np.concatenate(ins, axis=axis)
            continue
        nodes.append(n)
    producer = {o: n for n in nodes for o in n.output}
    uses = {}
    for n in nodes:
        for i in n.input:
            uses[i] = uses.get(i, 0) + 1
    kept = []
    for n in nodes:
        if n.op_type != "BatchNormalization":
            kept.append(n)
            continue
        p = producer.get(n.input[0])
        if p is None or p.op_type not in ("Conv", "Gemm") or uses[n.input[0]] != 1:
            raise SystemExit(f"BatchNormalization {n.name}: cannot fold")
        if p.op_type == "Gemm":
            attrs = {a.name: helper.get_attribute_value(a) for a in p.attribute}
            assert attrs.get("transB", 0) == 1 and attrs.get("transA", 0) == 0, attrs
            assert attrs.get("alpha", 1.0) == 1.0 and attrs.get("beta", 1.0) == 1.0, attrs
        eps = next((helper.get_attribute_value(a) for a in n.attribute if a.name == "epsilon"), 1e-5)
        gamma, beta, mean, var = (consts[i].astype(np.float64) for i in n.input[1:5])
        w = consts[p.input[1]].astype(np.float64)
        has_b = len(p.input) > 2 and p.input[2] != ""
        b = consts[p.input[2]].astype(np.float64) if has_b else np.zeros(w.shape[0])
        f = gamma / np.sqrt(var + eps)
        wname = p.input[1] + "_bnfolded"
        bname = (p.input[2] if has_b else p.name + "_bias") + "_bnfolded"
        consts[wname] = (w * f.reshape((-1,) + (1,) * (w.ndim - 1))).astype(np.float32)
        consts[bname] = ((b - mean) * f + beta).astype(np.float32)
        x = p.input[0]
        del p.input[:]
        p.input.extend([x, wname, bname])
        p.output[0] = n.output[0]  # the Conv / Gemm now writes what BN wrote
    # Drop nodes whose outputs nobody reads (e.g. Casts feeding a folded Clip).
    outputs = {o.name for o in g.output}
    while True:
        used = {i for n in kept for i in n.input} | outputs
        live = [n for n in kept if any(o in used for o in n.output)]
        if len(live) == len(kept):
            break
        kept = live
    used = {i for n in kept for i in n.input}
    consts = {k: v for k, v in consts.items() if k in used}
    return list(g.input), list(g.output), kept, consts


def float_graph(inputs, outputs, nodes, consts, extra_outputs=()):
    g = helper.make_graph(nodes, "float_preprocessed", inputs,
                          list(outputs) + [helper.make_tensor_value_info(t, TensorProto.FLOAT, None)
                                           for t in extra_outputs],
                          [numpy_helper.from_array(v, k) for k, v in sorted(consts.items())])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="kiln")


def ort_quantize_static(float_path, calib_runs, input_names):
    """Return the QDQ ModelProto for the float model at float_path (see the comment block above)."""
    src = onnx.load(float_path)
    ginputs, goutputs, nodes, consts = preprocess_float(src)
    float_nodes = copy.deepcopy(nodes)  # calibration runs the float graph, activations included
    graph_outputs = [o.name for o in goutputs]
    consumers = {}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    producer = {o: n for n in nodes for o in n.output}

    # 1. Which node keeps / loses its Relu/Clip, which tensors get Q/DQ and with whose params.
    quantized = {}   # tensor -> ("calib", tensor whose range to use) | ("same", other tensor) | ("fixed", s, zp)
    removed = set()

    def q_act(t, how=None):
        if t in consts or t == "":
            return
        if t not in quantized:
            quantized[t] = how or ("calib", t)

    for n in nodes:
        op = n.op_type
        x = n.input[0] if n.input else None
        if op in ("Conv", "Gemm"):
            q_act(x)
            q_act(n.output[0])
        elif op in ("Relu", "Clip"):
            if x in quantized and producer.get(n.input[0]) is not None and \
                    producer[n.input[0]].op_type in ("Conv", "Gemm", "Add") and \
                    len(consumers.get(n.input[0], [])) == 1 and n.input[0] not in graph_outputs:
                # ORT: try_replacing_upstream_output -> remove the activation node.
                removed.add(id(n))
                del quantized[x]
                quantized[n.output[0]] = ("calib", n.output[0])
                producer[n.input[0]].output[0] = n.output[0]
            else:
                q_act(x)
                q_act(n.output[0])
        elif op in ("Add", "Pad", "GlobalAveragePool"):
            for i in n.input:
                if i not in consts and i:
                    q_act(i)
            q_act(n.output[0])
        elif op in ("MaxPool", "AveragePool", "Reshape"):
            if x in quantized:
                q_act(n.output[0], ("same", x))
        elif op == "Softmax":
            q_act(x)
            q_act(n.output[0], ("fixed", np.float32(1.0 / 256.0), 0))
        elif op in ("Flatten",):
            pass
        else:
            raise SystemExit(f"ort_quantize_static: op {op} not handled")
    nodes = [n for n in nodes if id(n) not in removed]

    # 2. Calibrate: MinMax over the calibration inputs, on the float model with every tensor
    #    that needs a range added as a graph output.
    need = sorted({how[1] for how in quantized.values() if how[0] == "calib"})
    extra = [t for t in need if t not in graph_outputs and t not in input_names]
    with tempfile.TemporaryDirectory(prefix="kiln_calib_") as tmp:
        path = os.path.join(tmp, "calib.onnx")
        onnx.save(float_graph(ginputs, goutputs, float_nodes, consts, extra), path)
        outs = zoo.ort_run(path, input_names, calib_runs)
    names = graph_outputs + extra
    ranges = {}
    for k, name in enumerate(names):
        vals = np.stack([o[k] for o in outs])
        ranges[name] = (float(vals.min()), float(vals.max()))
    for k, name in enumerate(input_names):
        vals = np.stack([r[k] for r in calib_runs])
        ranges[name] = (float(vals.min()), float(vals.max()))

    # 3. Quantization parameters.
    def act_params(lo, hi):
        # onnxruntime quant_utils.compute_scale_zp (uint8, asymmetric): the range always holds 0.
        lo, hi = np.float32(min(lo, 0.0)), np.float32(max(hi, 0.0))
        scale = np.float32((hi - lo) / np.float32(U8[1] - U8[0]))
        if scale == 0:
            return np.float32(1.0), 0
        zp = int(np.clip(np.round(U8[0] - lo / scale), U8[0], U8[1]))
        return scale, zp

    params = {}
    for t, how in quantized.items():
        if how[0] == "calib":
            params[t] = act_params(*ranges[how[1]])
    for t, how in quantized.items():
        if how[0] == "fixed":
            params[t] = (how[1], how[2])
    for t, how in quantized.items():  # "same" chains resolve in node order
        if how[0] == "same":
            src_t = how[1]
            while quantized[src_t][0] == "same":
                src_t = quantized[src_t][1]
            params[t] = params[src_t]

    inits = {}
    new_nodes = []

    def add_init(name, arr):
        inits[name] = numpy_helper.from_array(arr, name)
        return name

    def qdq_names(t):
        base = t
        return (f"{base}_QuantizeLinear", f"{base}_QuantizeLinear_Output",
                f"{base}_DequantizeLinear", f"{base}_DequantizeLinear_Output")

    def emit_qdq(t):
        s, zp = params[t]
        how = quantized[t]
        if how[0] == "same":  # share the input's scale / zero point initializers
            src_t = how[1]
            while quantized[src_t][0] == "same":
                src_t = quantized[src_t][1]
            sname, zname = f"{src_t}_scale", f"{src_t}_zero_point"
        else:
            sname = add_init(f"{t}_scale", np.array(s, dtype=np.float32))
            zname = add_init(f"{t}_zero_point", np.array(zp, dtype=np.uint8))
        qn, qo, dn, do = qdq_names(t)
        src = t + "_QuantizeLinear_Input" if t in graph_outputs else t
        dst = t if t in graph_outputs else do
        new_nodes.append(helper.make_node("QuantizeLinear", [src, sname, zname], [qo], qn))
        new_nodes.append(helper.make_node("DequantizeLinear", [qo, sname, zname], [dst], dn))
        return src, dst

    # Tensors as consumers see them after Q/DQ insertion.
    seen = {}
    for name in input_names:
        if name in quantized:
            seen[name] = emit_qdq(name)[1]
    for n in nodes:
        ins = [seen.get(i, i) for i in n.input]
        outs = list(n.output)
        if n.op_type in ("Conv", "Gemm"):
            w = consts[n.input[1]]
            x_scale = params[n.input[0]][0]
            wmax = np.maximum(np.abs(w.reshape(w.shape[0], -1).min(axis=1).clip(max=0)),
                              np.abs(w.reshape(w.shape[0], -1).max(axis=1).clip(min=0))).astype(np.float32)
            w_scale = (wmax * np.float32(2.0) / np.float32(I8_SYM[1] - I8_SYM[0])).astype(np.float32)
            w_scale[w_scale == 0] = np.float32(1.0)
            wq = np.clip(np.round(w / w_scale.reshape((-1,) + (1,) * (w.ndim - 1))), *I8_SYM).astype(np.int8)
            wn = n.input[1]
            add_init(wn + "_quantized", wq)
            add_init(wn + "_scale", w_scale)
            add_init(wn + "_zero_point", np.zeros(w.shape[0], dtype=np.int8))
            new_nodes.append(helper.make_node("DequantizeLinear", [wn + "_quantized", wn + "_scale", wn + "_zero_point"],
                                              [wn + "_DequantizeLinear_Output"], wn + "_DequantizeLinear", axis=0))
            ins[1] = wn + "_DequantizeLinear_Output"
            if len(n.input) > 2 and n.input[2]:
                bn_ = n.input[2]
                b = consts[bn_]
                b_scale = (np.float32(x_scale) * w_scale).astype(np.float32)
                bq = np.round(b.astype(np.float64) / b_scale.astype(np.float64)).astype(np.int32)
                add_init(bn_ + "_quantized", bq)
                add_init(bn_ + "_quantized_scale", b_scale)
                add_init(bn_ + "_quantized_zero_point", np.zeros(b.shape[0], dtype=np.int32))
                new_nodes.append(helper.make_node(
                    "DequantizeLinear", [bn_ + "_quantized", bn_ + "_quantized_scale", bn_ + "_quantized_zero_point"],
                    [bn_ + "_quantized_DequantizeLinear_Output"], bn_ + "_quantized_DequantizeLinear", axis=0))
                ins[2] = bn_ + "_quantized_DequantizeLinear_Output"
        else:
            for k, i in enumerate(n.input):
                if i in consts and i not in inits:
                    inits[i] = numpy_helper.from_array(consts[i], i)
        node_outs = []
        for o in outs:
            if o in quantized and o in graph_outputs:
                node_outs.append(o + "_QuantizeLinear_Input")
            else:
                node_outs.append(o)
        new = helper.make_node(n.op_type, ins, node_outs, n.name)
        new.attribute.extend(n.attribute)
        new_nodes.append(new)
        for o in outs:
            if o in quantized:
                seen[o] = emit_qdq(o)[1]
    g = helper.make_graph(new_nodes, src.graph.name + "_quantized", ginputs, goutputs,
                          [inits[k] for k in sorted(inits)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)],
                          producer_name="kiln tools/make_quant_models.py (ORT quantize_static style)")
    m.ir_version = src.ir_version
    return onnx.shape_inference.infer_shapes(m)


# ---------------------------------------------------------------------------
# Model table, data sets, references
# ---------------------------------------------------------------------------

ARCHS = ["digits_cnn", "ds_cnn", "mobilenet_v1_025", "resnet8", "fc_autoencoder"]
PRUNED = ["digits_cnn", "ds_cnn", "resnet8"]
# Calibration data distribution, as the zoo's test inputs (tools/make_models.py MODELS).
KIND = {"ds_cnn": "normal", "mobilenet_v1_025": "uniform", "resnet8": "uniform", "fc_autoencoder": "normal"}


def model_names():
    names = []
    for a in ARCHS:
        names += [a + "_qdq"] + ([a + "_pruned_qdq"] if a in PRUNED else []) + [a + "_ort_qdq", a + "_qop"]
    return names


def split_name(name):
    for suffix, flavour in (("_pruned_qdq", "pruned"), ("_ort_qdq", "ort"), ("_qdq", "qat"), ("_qop", "qop")):
        if name.endswith(suffix):
            return name[:-len(suffix)], flavour
    raise ValueError(name)


def calibration_inputs(arch, shape, seed):
    """CALIB_SAMPLES inputs, batch 1 each: training digits, or the zoo's random distribution."""
    if arch == "digits_cnn":
        (xtr, _), _ = zoo.load_digits_split()
        return xtr[:CALIB_SAMPLES]
    rng = np.random.default_rng(1000 + seed)
    return zoo._rand_inputs(rng, (CALIB_SAMPLES,) + tuple(shape[1:]), KIND[arch])


def write_data_sets(out_dir, model_path, input_names, output_names, data_sets):
    outs = zoo.ort_run(model_path, input_names, data_sets)
    for i, (inputs, outputs) in enumerate(zip(data_sets, outs)):
        ds = os.path.join(out_dir, f"test_data_set_{i}")
        os.makedirs(ds)
        for k, a in enumerate(inputs):
            zoo.write_pb(os.path.join(ds, f"input_{k}.pb"), a, input_names[k])
        for k, a in enumerate(outputs):
            zoo.write_pb(os.path.join(ds, f"output_{k}.pb"), a, output_names[k])
    return outs


def digits_accuracy(out_dir, model_path, torch_model):
    _, (xte, yte) = zoo.load_digits_split()
    ort_outs = zoo.ort_run(model_path, ["input"], [[xte[i:i + 1]] for i in range(len(xte))])
    ort_pred = np.array([o[0].argmax() for o in ort_outs])
    with open(os.path.join(REPO, "tests", "models", "digits_cnn", "accuracy.json")) as f:
        flt = json.load(f)
    acc = {"heldout_samples": int(len(xte))}
    if torch_model is not None:
        with torch.no_grad():
            torch_pred = torch_model(torch.from_numpy(xte)).argmax(1).numpy()
        acc["torch_accuracy"] = round(float((torch_pred == yte).mean()), 6)  # fake-quant model
    acc["ort_accuracy"] = round(float((ort_pred == yte).mean()), 6)
    acc["ort_correct"] = int((ort_pred == yte).sum())
    acc["float_ort_accuracy"] = flt["ort_accuracy"]  # tests/models/digits_cnn, float32
    acc["float_ort_correct"] = flt["ort_correct"]
    with open(os.path.join(out_dir, "accuracy.json"), "w") as f:
        json.dump(acc, f, indent=2)
        f.write("\n")
    print(f"  held-out accuracy: int8 (ORT) {acc['ort_accuracy']:.4f}, float {flt['ort_accuracy']:.4f}")


def make_model(name):
    arch, flavour = split_name(name)
    seed, builder, input_names, output_names, _ = zoo.MODELS[arch]
    print(f"[{name}]", flush=True)
    out_dir = os.path.join(OUT_ROOT, name)
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    model_path = os.path.join(out_dir, "model.onnx")
    float_model, data_sets = builder(seed)  # same weights and test inputs as tests/models/<arch>
    calib = calibration_inputs(arch, data_sets[0][0].shape, seed)
    torch_model = None
    if flavour == "qop":
        # The QOperator form: what ONNX Runtime's own graph optimizer (extended level: QDQ groups
        # fused into QLinearConv, QGemm, QLinearAdd, ..., no NHWC layout change) makes of the
        # <arch>_ort_qdq model, which must have been generated first.
        source = os.path.join(OUT_ROOT, arch + "_ort_qdq", "model.onnx")
        subprocess.run(["node", "-e", ORT_OPTIMIZE_JS, zoo.ORT_DIR, source, model_path, "extended"], check=True)
    elif flavour == "ort":
        m = ort_quantize_static(os.path.join(REPO, "tests", "models", arch, "model.onnx"),
                                [[calib[i:i + 1]] for i in range(len(calib))], input_names)
        onnx.save(m, model_path)
    else:
        torch.manual_seed(seed)
        if flavour == "pruned":
            prune_model(float_model)
        train = None
        if arch == "digits_cnn":
            (xtr, ytr), _ = zoo.load_digits_split()
            train = (xtr, ytr)
        torch_model = fold_bn_for_export(build_qat(arch, float_model, torch.from_numpy(calib), train))
        export_qat(torch_model, data_sets[0], model_path, input_names, output_names)
    m = onnx.load(model_path)
    if flavour != "qop":  # the checker does not know ONNX Runtime's com.microsoft schemas
        onnx.checker.check_model(m, full_check=True)
    assert [i.name for i in m.graph.input] == input_names
    assert [o.name for o in m.graph.output] == output_names
    outs = write_data_sets(out_dir, model_path, input_names, output_names, data_sets)
    # Cross-checks (informational: int8 is not expected to match float or fake-quant exactly).
    float_outs = zoo.ort_run(os.path.join(REPO, "tests", "models", arch, "model.onnx"), input_names, data_sets)
    for i, (o, fo) in enumerate(zip(outs, float_outs)):
        d = float(np.max(np.abs(o[0].astype(np.float64) - fo[0])))
        msg = f"  set {i}: max |int8 - float| = {d:.4g} (output range {float(np.ptp(fo[0])):.4g})"
        if torch_model is not None:
            with torch.no_grad():
                t = torch_model(*(torch.from_numpy(a) for a in data_sets[i])).numpy()
            msg += f", max |ort - torch fake-quant| = {float(np.max(np.abs(o[0] - t))):.4g}"
        print(msg)
    if arch == "digits_cnn":
        digits_accuracy(out_dir, model_path, torch_model)
    print(f"  model.onnx {os.path.getsize(model_path)} bytes", flush=True)


# ---------------------------------------------------------------------------
# What ORT makes of each model (for tests/models_int8/README.md)
# ---------------------------------------------------------------------------

ORT_OPTIMIZE_JS = r"""
const path = require('path');
const ort = require(path.join(process.argv[1], 'node_modules', 'onnxruntime-node'));
ort.InferenceSession.create(process.argv[2], {executionProviders: ['cpu'], intraOpNumThreads: 1,
  interOpNumThreads: 1, graphOptimizationLevel: process.argv[4] || 'all', logSeverityLevel: 3,
  optimizedModelFilePath: process.argv[3]})
  .then(() => {}, (e) => { console.error(e); process.exit(1); });
"""

INTEGER_OPS = {"QLinearConv", "QLinearAdd", "QGemm", "QLinearMatMul", "QLinearAveragePool",
               "QLinearGlobalAveragePool", "QLinearSoftmax", "QLinearSigmoid", "QLinearConcat", "MatMulInteger",
               "ConvInteger", "QLinearLeakyRelu", "QLinearMul"}


def ort_optimized_summary(name):
    model_path = os.path.join(OUT_ROOT, name, "model.onnx")
    with tempfile.TemporaryDirectory(prefix="kiln_ortopt_") as tmp:
        out = os.path.join(tmp, "opt.onnx")
        subprocess.run(["node", "-e", ORT_OPTIMIZE_JS, zoo.ORT_DIR, model_path, out], check=True)
        m = onnx.load(out)
    integer, flt, other = {}, {}, {}
    for n in m.graph.node:
        key = n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}:{n.op_type}"
        if n.op_type in INTEGER_OPS or n.domain == "com.microsoft":
            integer[key] = integer.get(key, 0) + 1
        elif n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            other[key] = other.get(key, 0) + 1
        else:
            flt[key] = flt.get(key, 0) + 1
    fmt = lambda d: ", ".join(f"{k} x{v}" if v > 1 else k for k, v in sorted(d.items())) or "-"
    return f"| `{name}` | {fmt(integer)} | {fmt(other)} | {fmt(flt)} |"


def main():
    names = model_names()
    parser = argparse.ArgumentParser(description="Generate tests/models_int8 (see its README.md).")
    parser.add_argument("models", nargs="*", metavar="MODEL", help="default: all of " + ", ".join(names))
    parser.add_argument("--ort-table", action="store_true",
                        help="print the table of what ORT's graph optimizer makes of each model")
    args = parser.parse_args()
    unknown = [m for m in args.models if m not in names]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {names}")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    zoo.ensure_ort()
    os.makedirs(OUT_ROOT, exist_ok=True)
    if args.ort_table:
        print("| model | integer / com.microsoft ops | Q/DQ left | float ops |")
        print("|---|---|---|---|")
        for name in args.models or names:
            print(ort_optimized_summary(name))
        return 0
    for name in args.models or names:
        make_model(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
