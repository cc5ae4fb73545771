#!/usr/bin/env bash
# Instructions per inference of the four MLPerf Tiny models on Cortex-M4F (qemu mps2-an386),
# counted exactly under `qemu-system-arm -icount` (examples/cortex_m/icount/), for each kernel
# variant, as a markdown table:
#   tools/cortex_m_instructions.sh [--kiln PATH/TO/kiln] [BUILD_DIR (default /tmp/kiln-cm-icount)]
# If BUILD_DIR is not configured yet, it is configured from examples/cortex_m with the
# arm-none-eabi toolchain file and the host kiln (--kiln, else $KILN_EXECUTABLE, else
# build/bin/kiln; with none of them the host kiln is built in BUILD_DIR/host). The counting and
# bare firmware are (re)built there with -j${JOBS:-1}, kiln_fw_icount_calibrate must pass (the
# count matches asm loops of known length), then each kiln_fw_icount_* firmware runs once.
# Columns: instructions of one inference (after a warm-up run), the ratio to the reference
# kernels of the same model and kind, and code = text - weights of the matching bare firmware
# (kiln_fw_bare_*: startup + run() + kernels, as in docs/footprint.md; arm-none-eabi-size and nm).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kiln=${KILN_EXECUTABLE:-}
if [ "${1:-}" = "--kiln" ]; then kiln=$2; shift 2; fi
dir=${1:-/tmp/kiln-cm-icount}
jobs=${JOBS:-1}

if [ ! -f "$dir/CMakeCache.txt" ]; then
  if [ -z "$kiln" ] && [ -x "$root/build/bin/kiln" ]; then kiln=$root/build/bin/kiln; fi
  if [ -z "$kiln" ]; then
    cmake -S "$root" -B "$dir/host" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$dir/host" -j"$jobs" --target kiln >/dev/null
    kiln=$dir/host/bin/kiln
  fi
  cmake -S "$root/examples/cortex_m" -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/arm-none-eabi.cmake" \
        -DKILN_EXECUTABLE="$(cd "$(dirname "$kiln")" && pwd)/$(basename "$kiln")" >/dev/null
fi

models="ds_cnn mobilenet_v1_025 resnet8 fc_autoencoder"
targets=kiln_fw_icount_calibrate
for m in $models; do for k in float int8; do for v in "" _spec _fast _fast_generic; do
  targets="$targets kiln_fw_icount_${m}_${k}$v kiln_fw_bare_${m}_${k}$v"
done; done; done
# shellcheck disable=SC2086
cmake --build "$dir" -j"$jobs" --target $targets >"$dir/cortex_m_instructions_build.log" 2>&1 ||
  { tail -40 "$dir/cortex_m_instructions_build.log"; echo "build failed: $dir/cortex_m_instructions_build.log" >&2; exit 1; }

MODELS="$models" /usr/bin/python3 - "$dir" <<'PY'
import os, re, subprocess, sys
d = sys.argv[1]
cache = open(os.path.join(d, "CMakeCache.txt")).read()
def cached(name, default):
    m = re.search(rf"^{name}:[A-Z]+=(.*)$", cache, re.M)
    return m.group(1) if m and m.group(1) else default
shift = cached("KILN_ICOUNT_SHIFT", "6")
board = cached("KILN_CORTEX_M_BOARD", "mps2-an386")
qemu = cached("KILN_QEMU_SYSTEM_ARM", "qemu-system-arm")

def run(elf):
    p = subprocess.run(["timeout", "300", qemu, "-M", board, "-nographic", "-semihosting-config",
                        "enable=on,target=native", "-icount", f"shift={shift}", "-kernel", elf],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr

status, out = run(os.path.join(d, "kiln_fw_icount_calibrate.elf"))
if status != 0:
    sys.exit(out + f"\nkiln_fw_icount_calibrate failed (exit status {status}): the counts would not be exact")

def code_bytes(elf):
    text = int(subprocess.check_output(["arm-none-eabi-size", "-B", elf], text=True).splitlines()[1].split()[0])
    weights = 0
    for line in subprocess.check_output(["arm-none-eabi-nm", "-S", "-C", elf], text=True).splitlines():
        f = line.split(None, 3)
        if len(f) == 4 and "::weights::" in f[3]:
            weights += int(f[1], 16)
    return text - weights

variants = [("", "reference (shared)"), ("_spec", "reference, --specialize"), ("_fast_generic", "fast generic"),
            ("_fast", "fast DSP")]
print(f"Cortex-M4F (qemu {board}, -icount shift={shift}); instructions of one inference.\n")
print("| model | kind | variant | instructions | vs reference | code (bytes) |")
print("|---|---|---|--:|--:|--:|")
failed = False
for m in os.environ["MODELS"].split():
    for k in ("float", "int8"):
        ref = None
        for suffix, label in variants:
            status, out = run(os.path.join(d, f"kiln_fw_icount_{m}_{k}{suffix}.elf"))
            found = re.findall(r"^instructions=(\d+)$", out, re.M)
            if status != 0 or len(found) != 1:
                sys.stderr.write(out + f"\nkiln_fw_icount_{m}_{k}{suffix}: exit status {status}\n")
                failed = True
                print(f"| {m} | {k} | {label} | failed | | |")
                continue
            n = int(found[0])
            if suffix == "":
                ref = n
            ratio = f"{n / ref:.3f}" if ref else ""
            code = code_bytes(os.path.join(d, f"kiln_fw_bare_{m}_{k}{suffix}.elf"))
            print(f"| {m} | {k} | {label} | {n:,} | {ratio} | {code:,} |")
sys.exit(1 if failed else 0)
PY
