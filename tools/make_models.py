#!/usr/bin/python3
"""Build the real-model test zoo in tests/models/.

Usage:  /usr/bin/python3 tools/make_models.py [MODEL ...]

Each model is built (and, for digits_cnn, trained) with torch, exported to
ONNX (opset 13) and written in the ONNX backend-test layout:

    tests/models/<name>/model.onnx
    tests/models/<name>/test_data_set_<i>/input_<k>.pb   (graph input order)
    tests/models/<name>/test_data_set_<i>/output_<k>.pb  (graph output order)

Reference outputs come from ONNX Runtime (tools/ort_reference.js, CPU, one
thread), not from torch, so the expected values are produced by an engine
independent of the exporter; torch outputs are only used as a cross-check.

Everything is seeded per model, so reruns (of all or some models) write
byte-identical files. See tests/models/README.md for the model descriptions.
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = os.path.join(REPO, "tests", "models")
ORT_DIR = os.path.join(REPO, "tools", "ort")
ORT_SCRIPT = os.path.join(REPO, "tools", "ort_reference.js")
OPSET = 13
NUM_DATA_SETS = 2
# ORT (with its own Conv+BN fusion etc.) vs. torch: float32 reassociation only.
ATOL, RTOL = 1e-4, 1e-3


# ---------------------------------------------------------------------------
# ONNX Runtime bridge
# ---------------------------------------------------------------------------

def ensure_ort():
    """Install onnxruntime-node into tools/ort/node_modules (git-ignored) once.

    --ignore-scripts: the package's postinstall tries to download GPU/CUDA
    extras from the internet; the CPU binding it ships works without it.
    """
    if os.path.isdir(os.path.join(ORT_DIR, "node_modules", "onnxruntime-node")):
        return
    has_lock = os.path.exists(os.path.join(ORT_DIR, "package-lock.json"))
    cmd = ["npm", "ci" if has_lock else "install", "--ignore-scripts", "--no-audit", "--no-fund"]
    print("installing onnxruntime-node:", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ORT_DIR, check=True)


def ort_run(model_path, input_names, runs):
    """Run `runs` (a list of input-array lists) through ORT; return output lists."""
    with tempfile.TemporaryDirectory(prefix="kiln_ort_") as tmp:
        manifest = {"model": os.path.abspath(model_path), "out_dir": "out", "runs": []}
        for r, arrays in enumerate(runs):
            specs = []
            for k, (name, a) in enumerate(zip(input_names, arrays)):
                a = np.ascontiguousarray(a)
                fname = f"run{r}_input{k}.bin"
                a.astype(a.dtype.newbyteorder("<"), copy=False).tofile(os.path.join(tmp, fname))
                specs.append({"name": name, "dtype": str(a.dtype), "shape": list(a.shape),
                              "file": fname})
            manifest["runs"].append({"inputs": specs})
        mpath = os.path.join(tmp, "manifest.json")
        with open(mpath, "w") as f:
            json.dump(manifest, f)
        subprocess.run(["node", ORT_SCRIPT, mpath], check=True)
        out_dir = os.path.join(tmp, "out")
        with open(os.path.join(out_dir, "result.json")) as f:
            result = json.load(f)
        outs = []
        for run in result["runs"]:
            outs.append([
                np.fromfile(os.path.join(out_dir, o["file"]), dtype=np.dtype(o["dtype"]).newbyteorder("<"))
                .reshape(o["shape"])
                for o in run["outputs"]])
        return outs


def write_one_node_cases(out, cases):
    """Writes each case name -> (model, x) of a model with input "x" and output "y" as
    out/NAME/model.onnx and test_data_set_0 with x and ONNX Runtime's y (replacing `out`)."""
    ensure_ort()
    shutil.rmtree(out, ignore_errors=True)
    for name, (model, x) in cases.items():
        onnx.checker.check_model(model)
        d = os.path.join(out, name)
        os.makedirs(os.path.join(d, "test_data_set_0"))
        path = os.path.join(d, "model.onnx")
        onnx.save(model, path)
        (y,), = ort_run(path, ["x"], [[x]])
        for kind, tname, arr in (("input", "x", x), ("output", "y", y)):
            with open(os.path.join(d, "test_data_set_0", f"{kind}_0.pb"), "wb") as f:
                f.write(numpy_helper.from_array(arr, tname).SerializeToString())
    print(f"wrote {len(cases)} models to {os.path.normpath(out)}")


# ---------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------

def conv_bn_relu(cin, cout, k, stride=1, padding=0, groups=1, relu6=False):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=padding, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        ReLU6Clamp() if relu6 else nn.ReLU())


class ReLU6Clamp(nn.Module):
    """ReLU6 written as clamp so the export contains Clip (min/max as inputs)."""

    def forward(self, x):
        return torch.clamp(x, 0.0, 6.0)


class DigitsCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(x.view(x.size(0), -1))  # Shape/Gather/.../Reshape chain


class DSCNN(nn.Module):
    """MLPerf Tiny KWS DS-CNN (small)."""

    def __init__(self, ch=64, classes=12):
        super().__init__()
        # (10,4) kernel, stride 2, padding (5,1) == TF 'same' on 49x10 -> 25x5.
        self.stem = conv_bn_relu(1, ch, (10, 4), stride=2, padding=(5, 1))
        self.blocks = nn.Sequential(*[
            nn.Sequential(conv_bn_relu(ch, ch, 3, padding=1, groups=ch),
                          conv_bn_relu(ch, ch, 1))
            for _ in range(4)])
        self.pool = nn.AvgPool2d((25, 5))
        self.fc = nn.Linear(ch, classes)

    def forward(self, x):
        x = self.pool(self.blocks(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


class MobileNetV1(nn.Module):
    """MLPerf Tiny VWW MobileNetV1, alpha 0.25."""

    # (output channels at alpha 1, stride) of the 13 depthwise-separable blocks.
    CFG = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
           (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]

    def __init__(self, alpha=0.25, classes=2):
        super().__init__()
        c = int(32 * alpha)
        layers = [conv_bn_relu(3, c, 3, stride=2, padding=1)]
        for i, (cout, s) in enumerate(self.CFG):
            cout = int(cout * alpha)
            relu6 = i % 2 == 1  # mix Relu and Clip-based ReLU6 in one graph
            layers += [conv_bn_relu(c, c, 3, stride=s, padding=1, groups=c, relu6=relu6),
                       conv_bn_relu(c, cout, 1, relu6=relu6)]
            c = cout
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)  # -> GlobalAveragePool
        self.fc = nn.Linear(c, classes)

    def forward(self, x):
        x = self.pool(self.features(x))
        return self.fc(x.view(x.size(0), -1))


class ResBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (nn.Conv2d(cin, cout, 1, stride=stride)
                         if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNet8(nn.Module):
    """MLPerf Tiny image classification ResNet-8 (CIFAR-10 shaped)."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = conv_bn_relu(3, 16, 3, padding=1)
        self.stages = nn.Sequential(ResBlock(16, 16, 1), ResBlock(16, 32, 2), ResBlock(32, 64, 2))
        self.pool = nn.AvgPool2d(8)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = self.pool(self.stages(self.stem(x)))
        return F.softmax(self.fc(torch.flatten(x, 1)), dim=1)


class FCAutoencoder(nn.Module):
    """MLPerf Tiny anomaly detection (ToyADMOS) dense autoencoder."""

    def __init__(self, dim=640, hidden=128, bottleneck=8):
        super().__init__()

        def dense(i, o):
            return [nn.Linear(i, o), nn.BatchNorm1d(o), nn.ReLU()]

        enc = dense(dim, hidden) + sum((dense(hidden, hidden) for _ in range(3)), [])
        dec = dense(bottleneck, hidden) + sum((dense(hidden, hidden) for _ in range(3)), [])
        self.net = nn.Sequential(*enc, *dense(hidden, bottleneck), *dec, nn.Linear(hidden, dim))

    def forward(self, x):
        return self.net(x)


class YoloBoxRegressor(nn.Module):
    def __init__(self, chans=(8, 16, 32, 32), boxes=2):
        super().__init__()
        layers, c = [], 3
        for co in chans:
            layers += [conv_bn_relu(c, co, 3, padding=1), nn.MaxPool2d(2)]
            c = co
        self.features = nn.Sequential(*layers)
        self.fc1 = nn.Linear(c * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 4 * boxes)

    def forward(self, x):
        x = self.features(x)
        x = F.relu(self.fc1(x.view(x.size(0), -1)))
        return torch.sigmoid(self.fc2(x))


class MultiDigitReader(nn.Module):
    """Goodfellow-style house-number reader: length head + one head per digit."""

    def __init__(self, max_digits=5):
        super().__init__()
        self.trunk = nn.Sequential(
            conv_bn_relu(1, 16, 3, padding=1), nn.MaxPool2d(2),   # 16x48
            conv_bn_relu(16, 32, 3, padding=1), nn.MaxPool2d(2),  # 8x24
            conv_bn_relu(32, 32, 3, padding=1), nn.MaxPool2d(2))  # 4x12
        self.fc = nn.Linear(32 * 4 * 12, 64)
        self.length = nn.Linear(64, max_digits + 1)
        # 10 digits + "no digit" class per position.
        self.digits = nn.ModuleList(nn.Linear(64, 11) for _ in range(max_digits))

    def forward(self, x):
        x = self.trunk(x)
        h = F.relu(self.fc(x.view(x.size(0), -1)))
        return (self.length(h),) + tuple(d(h) for d in self.digits)


# ---------------------------------------------------------------------------
# Model preparation helpers
# ---------------------------------------------------------------------------

def randomize_bn(model, calib):
    """Make every BatchNorm layer matter in inference.

    Running stats are calibrated on a random batch (so activations stay well
    scaled through deep stacks instead of vanishing/exploding) and the affine
    parameters are randomized, so mean/var/weight/bias all differ from the
    identity defaults (0/1/1/0) and a runtime that mishandles any of them fails.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration pass
    model.train()
    with torch.no_grad():
        model(calib)
        for m in bns:
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.2, 0.3)
            # Offset the stats a little so they are not exactly the batch stats.
            m.running_mean.add_(torch.empty_like(m.running_mean).uniform_(-0.1, 0.1))
            m.running_var.mul_(torch.empty_like(m.running_var).uniform_(0.8, 1.25))
    model.eval()


def load_digits_split():
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]  # N,1,8,8 in [0,1]
    y = d.target.astype(np.int64)
    return (x[:-360], y[:-360]), (x[-360:], y[-360:])


def train_digits(model, x, y, epochs=12, batch=32):
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(1234)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(xt), batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            F.cross_entropy(model(xt[idx]), yt[idx]).backward()
            opt.step()
    model.eval()


# ---------------------------------------------------------------------------
# Model table
# ---------------------------------------------------------------------------
# Each builder returns (model, list of NUM_DATA_SETS input-array lists).
# The export style per model is described at EXPORT_STYLES.

def _rand_inputs(rng, shape, kind):
    if kind == "uniform":  # image-like
        return rng.random(shape, dtype=np.float32)
    return rng.standard_normal(shape, dtype=np.float32)  # feature-like


def generic_builder(cls, shape, kind):
    def build(seed):
        torch.manual_seed(seed)
        model = cls()
        rng = np.random.default_rng(seed)
        calib = torch.from_numpy(_rand_inputs(rng, (32,) + shape[1:], kind))
        randomize_bn(model, calib)
        return model, [[_rand_inputs(rng, shape, kind)] for _ in range(NUM_DATA_SETS)]
    return build


def build_digits(seed):
    torch.manual_seed(seed)
    (xtr, ytr), (xte, yte) = load_digits_split()
    model = DigitsCNN()
    train_digits(model, xtr, ytr)
    return model, [[xte[i:i + 1]] for i in range(NUM_DATA_SETS)]


MODELS = {
    # name: (seed, builder, input names, output names, export style)
    "digits_cnn": (1, build_digits, ["input"], ["logits"], "default"),
    "ds_cnn": (2, generic_builder(DSCNN, (1, 1, 49, 10), "normal"),
               ["mfcc"], ["logits"], "default"),
    "mobilenet_v1_025": (3, generic_builder(MobileNetV1, (1, 3, 96, 96), "uniform"),
                         ["image"], ["logits"], "nofold"),
    "resnet8": (4, generic_builder(ResNet8, (1, 3, 32, 32), "uniform"),
                ["image"], ["probabilities"], "default"),
    "fc_autoencoder": (5, generic_builder(FCAutoencoder, (1, 640), "normal"),
                       ["features"], ["reconstruction"], "default"),
    "yolo_box_regressor": (6, generic_builder(YoloBoxRegressor, (1, 3, 64, 64), "uniform"),
                           ["image"], ["boxes"], "raw"),
    "multi_digit_reader": (7, generic_builder(MultiDigitReader, (1, 1, 32, 96), "uniform"),
                           ["image"], ["length"] + [f"digit{i}" for i in range(5)], "raw"),
}


# ---------------------------------------------------------------------------
# Export + reference generation
# ---------------------------------------------------------------------------

# Export styles (the flatten style lives in the module: view() vs. flatten):
#   "default": what torch.onnx.export does with default options.
#   "nofold":  do_constant_folding=False, so unfolded Constant/Cast nodes stay.
#   "raw":     additionally turns off torch's export-time ONNX shape inference,
#              which with static shapes replaces the Shape->Gather of
#              x.view(x.size(0), -1) by a Constant. Without it the flatten
#              exports as the Shape/Gather/Unsqueeze/Concat/Reshape chain
#              typical of real-world models. torch.onnx.export has no public
#              switch for it in torch 1.13, hence the private _export. (Not
#              usable with torch.clamp: its symbolic needs inferred dtypes.)
EXPORT_STYLES = {"default": (True, True), "nofold": (False, True), "raw": (False, False)}


def export(model, example, path, input_names, output_names, style):
    # TrainingMode.PRESERVE on an eval()-mode model exports inference-mode
    # BatchNormalization nodes. TrainingMode.EVAL would run torch's
    # eval peephole pass, which fuses Conv+BN and removes the BN nodes we want
    # the codegen to handle.
    assert not model.training
    # torch warns about constant folding with PRESERVE as if the model were in
    # training mode; it is not (asserted above), so folding is safe.
    warnings.filterwarnings("ignore", message="It is recommended that constant folding be turned off")
    fold, shape_inference = EXPORT_STYLES[style]
    torch.onnx.utils._export(
        model, tuple(torch.from_numpy(a) for a in example), path,
        opset_version=OPSET, input_names=input_names, output_names=output_names,
        do_constant_folding=fold, onnx_shape_inference=shape_inference,
        training=torch.onnx.TrainingMode.PRESERVE)


def write_pb(path, array, name):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(array, name).SerializeToString())


def check_close(name, what, ref, got):
    diff = float(np.max(np.abs(ref.astype(np.float64) - got.astype(np.float64))))
    ok = np.allclose(got, ref, atol=ATOL, rtol=RTOL)
    print(f"  {name} {what}: max |torch - ort| = {diff:.3g}{'' if ok else '  MISMATCH'}")
    if not ok:
        raise SystemExit(f"{name}: torch and ORT disagree on {what}")


def make_model(name):
    seed, builder, input_names, output_names, style = MODELS[name]
    print(f"[{name}]", flush=True)
    model, data_sets = builder(seed)
    out_dir = os.path.join(MODELS_DIR, name)
    # Rebuild the folder from scratch so stale data sets never linger.
    if os.path.isdir(out_dir):
        for entry in os.listdir(out_dir):
            if entry.startswith("test_data_set_"):
                shutil.rmtree(os.path.join(out_dir, entry))
    os.makedirs(out_dir, exist_ok=True)
    model_path = os.path.join(out_dir, "model.onnx")
    export(model, data_sets[0], model_path, input_names, output_names, style)

    onnx_model = onnx.load(model_path)
    onnx.checker.check_model(onnx_model, full_check=True)
    graph_in = [i.name for i in onnx_model.graph.input]
    graph_out = [o.name for o in onnx_model.graph.output]
    assert graph_in == input_names and graph_out == output_names, (graph_in, graph_out)

    ort_outs = ort_run(model_path, input_names, data_sets)
    with torch.no_grad():
        for i, (inputs, outputs) in enumerate(zip(data_sets, ort_outs)):
            t = model(*(torch.from_numpy(a) for a in inputs))
            t = t if isinstance(t, tuple) else (t,)
            ds = os.path.join(out_dir, f"test_data_set_{i}")
            os.makedirs(ds)
            for k, a in enumerate(inputs):
                write_pb(os.path.join(ds, f"input_{k}.pb"), a, input_names[k])
            for k, a in enumerate(outputs):
                check_close(name, f"set {i} {output_names[k]}", t[k].numpy(), a)
                write_pb(os.path.join(ds, f"output_{k}.pb"), a, output_names[k])

    if name == "digits_cnn":
        digits_extras(model, model_path, out_dir)
    print(f"  model.onnx {os.path.getsize(model_path)} bytes", flush=True)


def digits_extras(model, model_path, out_dir):
    """Write the held-out set and the torch/ORT accuracies for digits_cnn."""
    _, (xte, yte) = load_digits_split()
    with open(os.path.join(out_dir, "heldout.bin"), "wb") as f:
        f.write(struct.pack("<I", len(xte)))
        f.write(xte.astype("<f4").tobytes())
        f.write(yte.astype(np.uint8).tobytes())
    with torch.no_grad():
        torch_pred = model(torch.from_numpy(xte)).argmax(1).numpy()
    ort_outs = ort_run(model_path, ["input"], [[xte[i:i + 1]] for i in range(len(xte))])
    ort_pred = np.array([o[0].argmax() for o in ort_outs])
    acc = {
        "heldout_samples": int(len(xte)),
        "torch_accuracy": round(float((torch_pred == yte).mean()), 6),
        "ort_accuracy": round(float((ort_pred == yte).mean()), 6),
        "ort_correct": int((ort_pred == yte).sum()),
    }
    with open(os.path.join(out_dir, "accuracy.json"), "w") as f:
        json.dump(acc, f, indent=2)
        f.write("\n")
    print(f"  held-out accuracy: torch {acc['torch_accuracy']:.4f}, ORT {acc['ort_accuracy']:.4f}")


def main():
    parser = argparse.ArgumentParser(description="Generate tests/models (see tests/models/README.md).")
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help="models to (re)generate; default: all of " + ", ".join(MODELS))
    args = parser.parse_args()
    unknown = [m for m in args.models if m not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    # Determinism: single thread (also fair to the shared 2-core machine) and
    # deterministic kernels for the digits training run.
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    ensure_ort()
    for name in args.models or list(MODELS):
        make_model(name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
