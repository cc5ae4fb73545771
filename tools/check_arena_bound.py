#!/usr/bin/python3
"""Guard: every zoo model's arena stays within 5 % of its lower bound.

    check_arena_bound.py KILN MODEL_DIR... [--slack 0.05]

Runs `KILN report --format json` on each MODEL_DIR/model.onnx (directories without one are
skipped) and prints arena / lower bound / no-reuse per model. Fails (exit 1) when any plan's
`arena_bytes` exceeds `arena_lower_bound_bytes` by more than the slack, or when a report fails.
The lower bound is the most bytes live at one step of the plan's own execution order (see
docs/footprint.md), so a worse placement or a worse order that is not also reflected in the bound
fails here; a worse order shows as a higher bound in the printed figures.
"""
import json
import os
import subprocess
import sys


def main(argv):
    slack = 0.05
    args = []
    it = iter(argv[1:])
    for a in it:
        if a == "--slack":
            slack = float(next(it))
        else:
            args.append(a)
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    kiln, dirs = args[0], sorted(args[1:])
    failures = []
    checked = 0
    print(f"{'model':28} {'arena':>9} {'bound':>9} {'no reuse':>9} {'over bound':>10}")
    for d in dirs:
        model = os.path.join(d, "model.onnx")
        if not os.path.isfile(model):
            continue
        name = os.path.basename(os.path.normpath(d))
        p = subprocess.run([kiln, "report", "--format", "json", model], capture_output=True, text=True)
        if p.returncode != 0:
            failures.append(f"{name}: kiln report exited {p.returncode}: {p.stderr.strip()}")
            continue
        rep = json.loads(p.stdout)
        arena, bound, noreuse = rep["arena_bytes"], rep["arena_lower_bound_bytes"], rep["no_reuse_bytes"]
        over = (arena / bound - 1.0) if bound else 0.0
        checked += 1
        print(f"{name:28} {arena:9} {bound:9} {noreuse:9} {100 * over:9.2f}%")
        if arena > bound * (1.0 + slack):
            failures.append(f"{name}: arena {arena} B exceeds the lower bound {bound} B by {100 * over:.2f} % "
                            f"(allowed {100 * slack:.0f} %)")
    if checked == 0:
        failures.append("no model.onnx found in the given directories")
    for f in failures:
        print("FAIL " + f)
    print(f"{checked} models checked, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
