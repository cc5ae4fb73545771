#!/usr/bin/env bash
# Every kiln test: host build (units, model zoo, ONNX node-test conformance, examples, error
# behaviour) with CTest, then the Cortex-M firmware built with arm-none-eabi-gcc and run under
# qemu-system-arm. Ends with one line "N passed, M failed".
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

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
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
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
