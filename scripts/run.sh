#!/usr/bin/env bash
# The two commands of the README:
#   scripts/run.sh demo   builds the CLI alone, lists the formats, generates and compiles a W4A16 kernel
#                         for sm_90a, and says where the kernel file and the kernel database are
#   scripts/run.sh test   builds everything and runs the test suite (ctest, without the `full` label);
#                         GPU tests are reported as skipped without a GPU
# Installing the dependencies and configuring are quiet unless they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
export PATH="${CUDA_HOME:-/usr/local/cuda}/bin:$PATH"
mkdir -p build
if ! cmake --preset default >build/configure.log 2>&1; then
  cat build/configure.log
  echo "error: cmake --preset default failed (log above, also in build/configure.log)" >&2
  exit 1
fi

case "${1:-}" in
  demo)
    config=docs/examples/w4a16_g128.json
    arch=sm_90a
    kernel_file=build/w4a16_g128.cu
    cmake --build --preset default --target bitjit_cli
    echo
    echo "== bitjit formats: the weight and activation formats"
    ./build/bitjit formats
    echo
    echo "== bitjit codegen: config $config, arch $arch"
    ./build/bitjit codegen --config "$config" --arch "$arch" --compile -o "$kernel_file"
    echo "config:          $config (uint4 weights, fp16 activations, group-128 scales and zeros)"
    echo "arch:            $arch (no GPU needed to generate and compile)"
    echo "kernel file:     $kernel_file (the generated CUDA C)"
    echo "$(./build/bitjit db ls | head -n 1) (BITJIT_CACHE_DIR moves it)"
    ;;
  test)
    cmake --build --preset default
    # The tests side by side, one per core: many wait on child processes (the CLI, pip, python).
    ctest --preset default --parallel "$(nproc)"
    ;;
  *)
    echo "usage: scripts/run.sh demo|test" >&2
    exit 2
    ;;
esac
