#!/usr/bin/env bash
# Every kiln test: host build (units, model zoo, ONNX node-test conformance, examples, error
# behaviour) with CTest, then the Cortex-M firmware built with arm-none-eabi-gcc and run under
# qemu-system-arm (all of it on the M4 board, a subset on the M7 and M33 boards), then the kernel
# tests (tests/arch) built for aarch64 and run under qemu-aarch64, then the host suite again with
# kiln built under ASan+UBSan (clang), then libFuzzer on the codegen for a bounded time. Ends with
# one line "N passed, M failed".
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tools/packages.sh"
"$root/tools/ensure_packages.sh" "${KILN_BUILD_PACKAGES[@]}" "${KILN_TEST_PACKAGES[@]}" || exit 1
build=${KILN_BUILD_DIR:-$root/build}
jobs=$(nproc)
passed=0; failed=0

tally() {  # reads CTest's summary line from a log
  local line
  line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$1" | tail -1)
  if [ -z "$line" ]; then failed=$((failed + 1)); return; fi
  local f t
  f=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
  t=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
  passed=$((passed + t - f)); failed=$((failed + f))
}

# ONNX Runtime for the benchmark smoke test (kiln vs ORT): onnxruntime-node from npm, the exact
# version tools/ort/package.json names; --ignore-scripts skips its GPU download (the CPU library
# is shipped in the package).
if ! command -v npm >/dev/null; then "$root/tools/ensure_packages.sh" "${KILN_NODE_PACKAGES[@]}" || exit 1; fi
if [ ! -d "$root/tools/ort/node_modules/onnxruntime-node" ]; then
  (cd "$root/tools/ort" && npm install --ignore-scripts --no-audit --no-fund) || exit 1
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_BUILD_BENCHMARKS=ON >/dev/null || exit 1
cmake --build "$build" -j"$jobs" || exit 1
ctest --test-dir "$build" -j"$jobs" --output-on-failure 2>&1 | tee "$build/ctest-host.log"
tally "$build/ctest-host.log"

fw="$build/cortex_m"
if cmake -S "$root/examples/cortex_m" -B "$fw" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/arm-none-eabi.cmake" \
     -DKILN_EXECUTABLE="$build/bin/kiln" -DKILN_HOST_DIGITS="$build/examples/host/digits" >/dev/null &&
   cmake --build "$fw" -j"$jobs"; then
  ctest --test-dir "$fw" --output-on-failure 2>&1 | tee "$build/ctest-cortex-m.log"
  tally "$build/ctest-cortex-m.log"
else
  echo "Cortex-M build failed"; failed=$((failed + 1))
fi

# The other boards' cores (Cortex-M7 on mps2-an500, Cortex-M33 on mps2-an505, which boots the v8-M
# stack limit): the architecture kernels against the portable ones, the requantization, the fault
# handler and each model's fast firmware (matches ONNX Runtime; its count runs twice alike), and
# clang++ on the kernels. A subset: the whole suite for one more core would add minutes of
# builds, and the reference kernels are portable C++ the M4 stage covers.
fw_subset="kiln_fw_tiles kiln_fw_requantize kiln_fw_fault"
for m in ds_cnn mobilenet_v1_025 resnet8 fc_autoencoder; do
  for k in float int8; do fw_subset="$fw_subset kiln_fw_icount_${m}_${k}_fast"; done
done
for board in mps2-an500 mps2-an505; do
  bfw="$build/cortex_m_$board"
  # shellcheck disable=SC2086 # fw_subset is a list of targets
  if cmake -S "$root/examples/cortex_m" -B "$bfw" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/arm-none-eabi.cmake" \
       -DKILN_CORTEX_M_BOARD="$board" -DKILN_EXECUTABLE="$build/bin/kiln" >/dev/null &&
     cmake --build "$bfw" -j"$jobs" --target $fw_subset; then
    ctest --test-dir "$bfw" -j"$jobs" --output-on-failure \
      -R "^kiln_fw_(tiles|requantize|fault)_|^kiln_fw_icount_.*_fast_(qemu|icount)$|^kiln_clang_tiles$" 2>&1 |
      tee "$build/ctest-$board.log"
    tally "$build/ctest-$board.log"
  else
    echo "Cortex-M build for $board failed"; failed=$((failed + 1))
  fi
done

# tests/arch (header-only kernel tests, no codegen) cross-built for aarch64 with g++-aarch64-linux-gnu
# (-march=armv8.2-a+dotprod) and run under qemu-aarch64 user mode (the toolchain file sets it as
# CMake's cross-compiling emulator, so ctest runs it): the NEON kernels and the portable ones
# (KILN_ARCH_GENERIC) both run on aarch64. The host build above runs the same tests natively.
a64="$build/aarch64"
a64_start=$SECONDS
if cmake -S "$root/tests/arch" -B "$a64" -DCMAKE_TOOLCHAIN_FILE="$root/cmake/toolchains/aarch64-linux-gnu.cmake" \
     -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null &&
   cmake --build "$a64" -j"$jobs"; then
  ctest --test-dir "$a64" -j"$jobs" --output-on-failure 2>&1 | tee "$build/ctest-aarch64.log"
  tally "$build/ctest-aarch64.log"
else
  echo "aarch64 build failed"; failed=$((failed + 1))
fi
echo "aarch64 stage (cross build + qemu-aarch64): $((SECONDS - a64_start)) s"

# One more build, with clang, AddressSanitizer and UndefinedBehaviorSanitizer (every report fatal)
# and libFuzzer's coverage instrumentation; one build serves both steps below, which saves a whole
# codegen build on CI's two cores.
# 1. The host suite again against it. The large-model test is left out: ASan's shadow memory and
#    quarantine inflate the peak RSS it bounds, and its code paths (load, blob emission, .incbin)
#    run in other tests (weights_blob_links_once, the zoo).
# 2. libFuzzer over load → check → shapes → import → lower → plan → emit, seeded with the zoo and
#    tests/hostile, for a bounded time: one pass or fail. A finding is saved in $san as
#    crash-*/timeout-*/oom-*; reproduce with `$san/tests/fuzz/kiln_fuzz_frontend FILE`.
#    The seed is fixed (KILN_FUZZ_SEED, default 1), but two runs still drift apart after a few
#    thousand inputs (seen even with ASLR off): the saved input and the stack in the log reproduce
#    a finding. Fuzz with other seeds and longer (KILN_FUZZ_SECONDS) to hunt.
san=${KILN_SANITIZE_BUILD_DIR:-$build-sanitize}
if cmake -S "$root" -B "$san" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
     -DKILN_SANITIZE=address,undefined -DKILN_FUZZ=ON -DKILN_BUILD_BENCHMARKS=OFF >/dev/null &&
   cmake --build "$san" -j"$jobs"; then
  ctest --test-dir "$san" -j"$jobs" --output-on-failure -LE large 2>&1 | tee "$build/ctest-sanitize.log"
  tally "$build/ctest-sanitize.log"
  mkdir -p "$san/fuzz_corpus"
  if "$san/tests/fuzz/kiln_fuzz_frontend" "$san/fuzz_corpus" "$san/tests/fuzz/fuzz_seeds" \
       -seed="${KILN_FUZZ_SEED:-1}" -max_total_time="${KILN_FUZZ_SECONDS:-60}" -timeout=30 -rss_limit_mb=3072 -artifact_prefix="$san/" \
       -print_final_stats=1 2>"$build/fuzz.log"; then
    passed=$((passed + 1)); grep -E "^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)" "$build/fuzz.log"
  else
    tail -60 "$build/fuzz.log"; echo "fuzzing found a bug: see $build/fuzz.log"; failed=$((failed + 1))
  fi
else
  echo "sanitizer/fuzz build failed"; failed=$((failed + 2))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
