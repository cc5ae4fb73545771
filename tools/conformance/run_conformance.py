#!/usr/bin/python3
"""Run the ONNX node tests that kiln's op registry claims through `kiln check`.

Usage:
  /usr/bin/python3 tools/conformance/run_conformance.py --kiln build/codegen/kiln \\
      --tests OUT/node --work /tmp/kiln-conf [--batch 60] [--filter REGEX] [--jobs 2] \\
      [--report summary.md] [--run-unclaimed] [--keep]

A node test is CLAIMED when every operator in its model (including subgraphs and model-local
function bodies) is registered (`kiln ops --format names`) and the test is not listed by
`kiln ops --format excluded`. Claimed tests run through `kiln check` in batches, so the host
compiler runs once per batch. Every claimed test must PASS: FAIL and UNSUPPORTED both count as
failures. Unclaimed tests are only reported (and run with --run-unclaimed, for information).

Output: one line per failing claimed test, a per-operator failure summary, then
  claimed: N, passed: P, failed: F; not claimed: U
  P passed, F failed
Exit status 0 only when F == 0.
"""
import argparse
import collections
import concurrent.futures
import os
import re
import shutil
import subprocess
import sys
import time

import onnx

DEFAULT_DOMAINS = ("", "ai.onnx")
TAGS = ("PASS", "FAIL", "UNSUPPORTED")


def op_key(domain, op_type):
    """The spelling `kiln ops --format names` uses: `Op` or `domain:Op`."""
    return op_type if domain in DEFAULT_DOMAINS else "%s:%s" % (domain, op_type)


def graph_ops(graph, functions, out):
    """Adds every (domain, op) key of `graph`, its subgraphs and called local functions."""
    for node in graph.node:
        fn = functions.get((node.domain, node.op_type))
        if fn is not None:
            # A call of a model-local function: kiln inlines it, so its body is what must be supported.
            fn_graph = onnx.GraphProto()
            fn_graph.node.extend(fn.node)
            graph_ops(fn_graph, {k: v for k, v in functions.items() if v is not fn}, out)
            continue
        out.add(op_key(node.domain, node.op_type))
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                graph_ops(attr.g, functions, out)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    graph_ops(g, functions, out)
    return out


def model_ops(path):
    model = onnx.load(path, load_external_data=False)
    functions = {(f.domain, f.name): f for f in model.functions}
    return sorted(graph_ops(model.graph, functions, set()))


def kiln_lines(kiln, fmt):
    out = subprocess.run([kiln, "ops", "--format", fmt], check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def parse_check_output(text, dirs):
    """Maps each dir of the batch to (tag, message) from `kiln check` output."""
    by_dir = {d: None for d in dirs}
    # Longest first, so a dir that is a prefix of another (test_x vs test_x_expanded) never wins wrongly.
    ordered = sorted(dirs, key=len, reverse=True)
    current = None
    for line in text.splitlines():
        matched = False
        for tag in TAGS:
            if not line.startswith(tag + " "):
                continue
            rest = line[len(tag) + 1:]
            for d in ordered:
                if rest == d or rest.startswith(d + ":") or rest.startswith(d + " "):
                    msg = rest[len(d):].lstrip(":").strip()
                    by_dir[d] = [tag, msg]
                    current = d
                    matched = True
                    break
            if matched:
                break
        if matched:
            continue
        if re.match(r"^\d+ passed, \d+ failed$", line) or line.startswith("(") and "does not support" in line:
            current = None
            continue
        if current is not None:
            by_dir[current][1] += ("\n" if by_dir[current][1] else "") + line
    return by_dir


class Runner:
    def __init__(self, args):
        self.args = args
        self.batches_run = 0

    def check(self, dirs, work):
        """Runs `kiln check` on dirs; returns {dir: (tag, message)}. Bisects on crashes."""
        os.makedirs(work, exist_ok=True)
        cmd = [self.args.kiln, "check", "--keep", work, "--rtol", str(self.args.rtol),
               "--atol", str(self.args.atol), "--kernels", self.args.kernels]
        if self.args.cxxflags:
            cmd += ["--cxxflags", self.args.cxxflags]
        cmd += dirs
        self.batches_run += 1
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  universal_newlines=True, errors="replace", timeout=self.args.timeout)
            rc, out, err = proc.returncode, proc.stdout, proc.stderr
        except subprocess.TimeoutExpired as e:
            rc, out, err = None, "", "timed out after %ss" % e.timeout
        result = parse_check_output(out, dirs)
        missing = [d for d, v in result.items() if v is None]
        if missing:
            if len(dirs) > 1 and rc is not None:
                # kiln itself died (a crash in codegen, an error outside any one model): find the culprit.
                half = (len(missing) + 1) // 2
                for i, part in enumerate((missing[:half], missing[half:])):
                    if part:
                        result.update(self.check(part, os.path.join(work, "split%d" % i)))
            else:
                why = "timed out" if rc is None else "kiln exited with status %s" % rc
                tail = "\n".join(err.strip().splitlines()[-10:])
                for d in missing:
                    result[d] = ["FAIL", "no verdict: %s%s" % (why, ("\n" + tail) if tail else "")]
        elif not self.args.keep and all(v[0] == "PASS" for v in result.values()):
            shutil.rmtree(work, ignore_errors=True)
        return {d: tuple(v) for d, v in result.items()}


def run_batches(runner, names, tests_dir, work_root, label, args):
    dirs = [os.path.join(tests_dir, n) for n in names]
    batches = [dirs[i:i + args.batch] for i in range(0, len(dirs), args.batch)]
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(runner.check, b, os.path.join(work_root, "%s%03d" % (label, i))): i
                   for i, b in enumerate(batches)}
        for f in concurrent.futures.as_completed(futures):
            i = futures[f]
            r = f.result()
            results.update(r)
            npass = sum(1 for v in r.values() if v[0] == "PASS")
            print("[%s batch %d/%d] %d passed, %d failed" % (label, i + 1, len(batches), npass, len(r) - npass),
                  file=sys.stderr, flush=True)
    return {os.path.basename(d): v for d, v in results.items()}


def first_lines(msg, n=3, width=200):
    lines = [l.strip() for l in msg.splitlines() if l.strip()]
    bad = [l for l in lines if "mismatch" in l or "failed" in l or "type " in l or "bytes" in l]
    pick = (bad or lines)[:n]
    return " | ".join(l[:width] for l in pick)


def write_report(path, args, claimed, results, unclaimed, unclaimed_results, ops_of, totals, elapsed):
    passed, failed = totals
    lines = ["# kiln ONNX node-test conformance", ""]
    lines.append("- claimed: %d, passed: %d, failed: %d; not claimed: %d" % (len(claimed), passed, failed, len(unclaimed)))
    lines.append("- filter: `%s`, batch size %d, wall time %.0f s" % (args.filter or "(none)", args.batch, elapsed))
    lines.append("")
    per_op = collections.OrderedDict()
    for t in claimed:
        for op in ops_of[t]:
            c = per_op.setdefault(op, [0, 0])
            c[0] += 1
            c[1] += results[t][0] != "PASS"
    lines += ["## Claimed tests per operator", "", "| operator | claimed | failed |", "|---|---|---|"]
    for op in sorted(per_op):
        lines.append("| %s | %d | %d |" % (op, per_op[op][0], per_op[op][1]))
    lines.append("")
    fails = [t for t in claimed if results[t][0] != "PASS"]
    if fails:
        lines += ["## Failures", ""]
        for t in fails:
            tag, msg = results[t]
            lines.append("- `%s` (%s) %s: %s" % (t, ", ".join(ops_of[t]), tag, first_lines(msg).replace("|", "\\|")))
        lines.append("")
    if unclaimed:
        lines += ["## Not claimed", "", "| test | reason | result |", "|---|---|---|"]
        for t in unclaimed:
            why = unclaimed[t]
            res = unclaimed_results.get(t, ("not run",))[0]
            lines.append("| %s | %s | %s |" % (t, why.replace("|", "\\|"), res))
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--kiln", required=True, help="the kiln executable")
    p.add_argument("--tests", required=True, help="the generated node-test folder (holds test_*/)")
    p.add_argument("--work", required=True, help="scratch folder for generated headers and drivers")
    p.add_argument("--batch", type=int, default=60, help="models per `kiln check` run (one compiler run each)")
    p.add_argument("--filter", default=None, help="only tests whose name matches this regex (re.search)")
    p.add_argument("--jobs", "-j", type=int, default=1, help="`kiln check` batches run at once")
    p.add_argument("--report", default=None, help="write a markdown summary here")
    p.add_argument("--run-unclaimed", action="store_true", help="also run unclaimed tests (reported only)")
    p.add_argument("--keep", action="store_true", help="keep work folders of all-passing batches too")
    p.add_argument("--kernels", default="reference", help="kiln's --kernels: reference or fast")
    p.add_argument("--cxxflags", default=None, help="flags for the host compiler (default: kiln check's)")
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--atol", type=float, default=1e-5)
    p.add_argument("--timeout", type=float, default=1800, help="seconds per `kiln check` run")
    args = p.parse_args()
    start = time.time()
    args.kiln = os.path.abspath(args.kiln)
    tests_dir = os.path.abspath(args.tests)
    work = os.path.abspath(args.work)

    registered = set(kiln_lines(args.kiln, "names"))
    excluded = {}
    for line in kiln_lines(args.kiln, "excluded"):
        name, _, why = line.partition("\t")
        excluded[name] = why
    if not os.path.isdir(tests_dir):
        print("error: no test folder %s (generate it with gen_node_tests.py)" % tests_dir, file=sys.stderr)
        return 2
    names = sorted(n for n in os.listdir(tests_dir)
                   if n.startswith("test_") and os.path.isfile(os.path.join(tests_dir, n, "model.onnx")))
    if not names:
        print("error: %s holds no test_*/model.onnx" % tests_dir, file=sys.stderr)
        return 2
    if not args.filter:
        stale = sorted(set(excluded) - set(names))
        for s in stale:
            print("warning: excluded test %s does not exist in %s" % (s, tests_dir), file=sys.stderr)
    if args.filter:
        rx = re.compile(args.filter)
        names = [n for n in names if rx.search(n)]

    ops_of, claimed, unclaimed = {}, [], collections.OrderedDict()
    for n in names:
        ops = model_ops(os.path.join(tests_dir, n, "model.onnx"))
        ops_of[n] = ops
        missing = [o for o in ops if o not in registered]
        if missing:
            unclaimed[n] = "not registered: " + ", ".join(missing)
        elif n in excluded:
            unclaimed[n] = "excluded: " + excluded[n]
        else:
            claimed.append(n)

    if os.path.isdir(work):
        shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    runner = Runner(args)
    results = run_batches(runner, claimed, tests_dir, work, "claimed", args) if claimed else {}
    unclaimed_results = {}
    if args.run_unclaimed and unclaimed:
        unclaimed_results = run_batches(runner, list(unclaimed), tests_dir, work, "unclaimed", args)

    fails = [t for t in claimed if results[t][0] != "PASS"]
    for t in fails:
        tag, msg = results[t]
        print("%s %s [%s]: %s" % (tag, t, " ".join(ops_of[t]), first_lines(msg)))
    per_op = collections.defaultdict(lambda: [0, []])
    for t in claimed:
        for op in ops_of[t]:
            per_op[op][0] += 1
            if results[t][0] != "PASS":
                per_op[op][1].append(t)
    for op in sorted(per_op):
        n, bad = per_op[op]
        if bad:
            print("op %s: %d of %d claimed tests failed: %s" % (op, len(bad), n, " ".join(bad)))
    if args.run_unclaimed:
        surprising = [t for t in unclaimed if unclaimed[t].startswith("excluded") and unclaimed_results.get(t, ("",))[0] == "PASS"]
        for t in surprising:
            print("note: excluded test %s passes; consider claiming it" % t)
    passed = len(claimed) - len(fails)
    elapsed = time.time() - start
    print("claimed: %d, passed: %d, failed: %d; not claimed: %d" % (len(claimed), passed, len(fails), len(unclaimed)))
    print("wall time %.0f s, %d kiln check runs" % (elapsed, runner.batches_run))
    if args.report:
        write_report(args.report, args, claimed, results, unclaimed, unclaimed_results, ops_of, (passed, len(fails)), elapsed)
    print("%d passed, %d failed" % (passed, len(fails)))
    return 0 if not fails else 1


if __name__ == "__main__":
    sys.exit(main())
