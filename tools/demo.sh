#!/usr/bin/env bash
# The demo: build kiln, compile the bundled digits CNN into a header, build the host example that
# includes it, classify a held-out digit, and print the footprint.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tools/packages.sh"
"$root/tools/ensure_packages.sh" "${KILN_BUILD_PACKAGES[@]}"
build=${KILN_BUILD_DIR:-$root/build}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DKILN_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target kiln digits -j"$(nproc)" >/dev/null
echo "== kiln compile tests/models/digits_cnn/model.onnx"
"$build/bin/kiln" compile "$root/tests/models/digits_cnn/model.onnx" -o "$build/digits_model_demo.hpp" --namespace digits_model
echo "== generated header: $build/digits_model_demo.hpp ($(wc -l < "$build/digits_model_demo.hpp") lines)"
echo "== examples/host/digits (the same header, built by kiln_add_model)"
"$build/examples/host/digits" "$root/tests/models/digits_cnn/heldout.bin"
