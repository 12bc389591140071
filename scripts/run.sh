#!/usr/bin/env bash
# The two commands of the README:
#   scripts/run.sh demo   build, list the formats, generate and compile a W4A16 kernel for sm_90a
#   scripts/run.sh test   build and run the test suite (ctest); GPU tests skip without a GPU
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
export PATH="${CUDA_HOME:-/usr/local/cuda}/bin:$PATH"
cmake --preset default >/dev/null
cmake --build --preset default

case "${1:-}" in
  demo)
    ./build/bitjit formats
    ./build/bitjit codegen --config docs/examples/w4a16_g128.json --arch sm_90a --compile -o build/w4a16_g128.cu
    ;;
  test)
    ctest --preset default
    ;;
  *)
    echo "usage: scripts/run.sh demo|test" >&2
    exit 2
    ;;
esac
