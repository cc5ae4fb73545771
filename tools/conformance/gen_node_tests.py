#!/usr/bin/python3
"""Generate the official ONNX backend *node* test cases into a directory.

Usage: /usr/bin/python3 tools/conformance/gen_node_tests.py OUT_DIR

Writes OUT_DIR/node/test_*/{model.onnx,test_data_set_*/{input,output}_K.pb},
exactly like `python -m onnx.backend.test.cmd_tools generate-data -o OUT_DIR`
but restricted to node tests (the 'real'/'simple'/'pytorch-*' model cases are
either download stubs or irrelevant for an operator-level conformance suite).

The generated data is not committed: CI regenerates it from the installed
onnx package, so the expected outputs always match the onnx version in use.
"""
import argparse
import os
import shutil
import sys

import numpy as np

# onnx 1.12's test-case code still uses the numpy scalar aliases that were
# removed in numpy 1.24; restore them before importing the case modules.
# Only set names that numpy no longer defines (checking np.__dict__ avoids
# numpy's deprecation __getattr__ and its FutureWarnings).
for _alias, _type in (("float", float), ("int", int), ("bool", bool),
                      ("object", object), ("complex", complex), ("str", str)):
    if _alias not in np.__dict__:
        setattr(np, _alias, _type)

import onnx  # noqa: E402
import onnx.backend.test.case.model as model_test  # noqa: E402
from onnx.backend.test import cmd_tools  # noqa: E402

# Number of node cases onnx 1.12 ships; a different count means the onnx
# install (or a shim above) changed and the suite would silently shrink.
EXPECTED_NODE_CASES = 922


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output", help="output directory (node/ is created inside)")
    parser.add_argument("--op-type", default=None,
                        help="only cases containing this operator (debugging aid)")
    args = parser.parse_args()

    # Many case generators draw from np.random without seeding; seed once so
    # repeated runs produce byte-identical data.
    np.random.seed(0)

    # Start from an empty node/ so cases removed upstream do not linger and a
    # rerun is idempotent. Only node/ is touched, never the rest of OUT_DIR.
    node_dir = os.path.join(args.output, "node")
    if os.path.exists(node_dir):
        shutil.rmtree(node_dir)

    # cmd_tools.generate_data always adds the model cases; suppress them.
    model_test.collect_testcases = lambda *a, **k: []
    cmd_tools.generate_data(argparse.Namespace(output=args.output, op_type=args.op_type))

    cases = sorted(d for d in os.listdir(node_dir) if d.startswith("test_"))
    print(f"onnx {onnx.__version__}: wrote {len(cases)} node test cases to {node_dir}")
    if args.op_type is None and len(cases) != EXPECTED_NODE_CASES:
        print(f"error: expected {EXPECTED_NODE_CASES} node cases", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
