# The Debian packages kiln needs, sourced by demo.sh and run_tests.sh.
KILN_BUILD_PACKAGES=(cmake make g++ libonnx-dev libprotobuf-dev protobuf-compiler libfmt-dev libcli11-dev)
# libclang-rt-14-dev: libFuzzer and clang's sanitizer runtimes (the fuzz step); time: /usr/bin/time -v
# for the large-model test's peak RSS. libbenchmark-dev: benchmarks/ (run once as a smoke test).
# libxsimd-dev: the SIMD kernels (include/kiln/arch/xsimd) that
# tests/arch runs; g++-aarch64-linux-gnu, qemu-user: tests/arch cross-built for aarch64 and run under
# qemu-aarch64 (user mode), so the NEON kernels run, not just compile.
KILN_TEST_PACKAGES=(doctest-dev clang libclang-rt-14-dev time python3 python3-onnx python3-numpy
                    gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-dev qemu-system-arm
                    libxsimd-dev g++-aarch64-linux-gnu qemu-user libbenchmark-dev)
# The benchmarks' peer, ONNX Runtime, comes from npm (onnxruntime-node ships libonnxruntime.so.1):
# node and npm are installed from Debian only where no node is on PATH (ensure_ort in run_tests.sh).
KILN_NODE_PACKAGES=(nodejs npm)
