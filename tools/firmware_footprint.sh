#!/usr/bin/env bash
# Flash/RAM of the Cortex-M4 zoo firmware built from examples/cortex_m, one line per model:
#   tools/firmware_footprint.sh <cortex_m build dir>
# text/data/bss: arm-none-eabi-size. weights: sizes of the generated header's weights:: symbols
# (arm-none-eabi-nm -S). test data: the embedded data set's floats, 4 * (input_total +
# output_total) from gen/zoo/<name>/zoo_data.hpp (its arrays are folded into .rodata without
# symbols). code = text - weights - test data (kernels, run(), the zoo driver, libm/libgcc).
# model code: the code symbols of the model itself, zoo_<name>::run and every kiln:: kernel not
# inlined into it (not the zoo driver, kiln_fw:: printers, libm or libgcc they call).
# arena: the firmware's arena_t object in .bss. deepest frame: the largest static stack frame in
# the firmware's own and the platform's .su files (-fstack-usage).
# The int8 QDQ models (tests/models_int8, kiln_fw_zoo_<name>_qdq etc.) take float inputs and give
# float outputs (QuantizeLinear first, DequantizeLinear last), so their test data is floats too.
set -euo pipefail
dir=${1:?usage: $0 <cortex_m build dir>}
python3 - "$dir" <<'PY'
import glob, os, re, subprocess, sys
d = sys.argv[1]
print(f"{'model':24} {'text':>8} {'data':>6} {'bss':>8} {'weights':>9} {'test data':>9} {'code':>7} {'model code':>10} {'arena':>8}  deepest frame")
for elf in sorted(glob.glob(os.path.join(d, "kiln_fw_zoo_*.elf"))):
    name = os.path.basename(elf)[len("kiln_fw_zoo_"):-len(".elf")]
    text, data, bss = map(int, subprocess.check_output(["arm-none-eabi-size", "-B", elf], text=True).splitlines()[1].split()[:3])
    weights = arena = model_code = 0
    for line in subprocess.check_output(["arm-none-eabi-nm", "-S", "-C", elf], text=True).splitlines():
        f = line.split(None, 3)
        if len(f) < 4: continue
        if "::weights::" in f[3]: weights += int(f[1], 16)
        elif f[2] in "tTwW" and (f[3].startswith(f"zoo_{name}::") or ("kiln::" in f[3] and "kiln_fw::" not in f[3])):
            model_code += int(f[1], 16)
        if f[3].endswith("::arena") or f[3] == "arena": arena += int(f[1], 16)
    hdr = open(os.path.join(d, "gen", "zoo", name, "zoo_data.hpp")).read()
    tdata = 4 * sum(int(re.search(rf"{k}_total = (\d+)", hdr).group(1)) for k in ("input", "output"))
    frames = []
    for su in glob.glob(os.path.join(d, "CMakeFiles", f"kiln_fw_zoo_{name}.dir", "**", "*.su"), recursive=True) + \
              glob.glob(os.path.join(d, "CMakeFiles", "kiln_fw_platform.dir", "**", "*.su"), recursive=True):
        for line in open(su):
            loc, size, kind = line.rstrip("\n").split("\t")
            frames.append((int(size), loc.split(":", 3)[-1], kind))  # file:line:column:function
    size, fn, kind = max(frames)
    # Without return type and parameters; template arguments other than lambdas (F = ...).
    targs = [a for a in fn.split(" [with ", 1)[1].rstrip("]").split("; ") if not a.startswith("F = ")] if " [with " in fn else []
    fn = fn.split("(")[0].split(" ")[-1] + (" [with " + "; ".join(targs) + "]" if targs else "")
    print(f"{name:24} {text:8} {data:6} {bss:8} {weights:9} {tdata:9} {text - weights - tdata:7} {model_code:10} {arena:8}  {size} B {fn} ({kind})")
PY
