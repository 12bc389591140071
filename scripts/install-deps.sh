#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build bitjit: CMake, Ninja, a C++20 compiler,
# Catch2, spdlog, nlohmann_json, for the Python package numpy, pytest, nanobind and
# scikit-build-core (pip), for the SASS check of the Hopper kernels cuobjdump and nvdisasm (pip, where
# the toolkit lacks them), and for the fuzz targets (scripts/fuzz.sh) clang with libFuzzer and
# llvm-symbolizer. The
# CUDA toolkit (NVRTC and headers, CUDA 12.x or 13.x) must already be installed; set CUDA_HOME if it
# is not in /usr/local/cuda. Does nothing when all is present, and prints only what it installs, or
# the installer's output when it fails.
set -euo pipefail

# quietly <command...>: the command's output is shown only if it fails.
quietly() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "error: $* failed" >&2
    return 1
  fi
  rm -f "$log"
}

# pip_install <packages...>: into python3's environment, or where that is the system's (PEP 668), with
# --break-system-packages.
pip_install() {
  python3 -m pip install -q "$@" >/dev/null 2>&1 || quietly python3 -m pip install -q --break-system-packages "$@"
}

# pkg-config and python3-venv: the package checks (tests/install/check.sh, scripts/wheel-check.sh).
packages=(cmake ninja-build g++ catch2 libspdlog-dev nlohmann-json3-dev pkg-config)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  quietly "${sudo_cmd[@]}" apt-get update -qq
  quietly env DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# scripts/fuzz.sh: clang, its libFuzzer and sanitizer runtimes, llvm-symbolizer for readable stacks.
# Debian 12+ and Ubuntu 23.04+ ship the runtimes apart from clang, in libclang-rt-<version>-dev.
fuzzer_links() {
  echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }' |
    clang++ -x c++ -fsanitize=fuzzer,address,undefined - -o /dev/null >/dev/null 2>&1
}
if ! command -v clang++ >/dev/null 2>&1 || ! command -v llvm-symbolizer >/dev/null 2>&1 || ! fuzzer_links; then
  fuzz_packages=(clang llvm)
  echo "installing for the fuzz targets: ${fuzz_packages[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  quietly "${sudo_cmd[@]}" apt-get update -qq
  quietly env DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${fuzz_packages[@]}"
  clang_major=$(clang++ --version | sed -n 's/.*clang version \([0-9]*\).*/\1/p' | head -1)
  if ! fuzzer_links && apt-cache show "libclang-rt-$clang_major-dev" >/dev/null 2>&1; then
    echo "installing: libclang-rt-$clang_major-dev"
    quietly env DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "libclang-rt-$clang_major-dev"
  fi
  fuzzer_links || { echo "error: clang++ -fsanitize=fuzzer does not link (libFuzzer runtime missing)" >&2; exit 1; }
fi

# The Python package's build (nanobind, and scikit-build-core: the wheel check builds without pip's
# isolated environment, tests/install/check_wheel.sh) and its CPU tests (numpy, pytest).
python_missing=()
for module in numpy pytest nanobind scikit_build_core; do
  python3 -c "import $module" >/dev/null 2>&1 || python_missing+=("${module//_/-}")
done
if ((${#python_missing[@]})); then
  echo "installing for python3: ${python_missing[*]}"
  pip_install "${python_missing[@]}"
fi

# cuobjdump and nvdisasm, for the SASS check of the Hopper kernels (scripts/wgmma-hazards.py): the
# toolkit's where it has them, else PyPI's wheels.
if ! command -v cuobjdump >/dev/null 2>&1 && [[ ! -x "${CUDA_HOME:-/usr/local/cuda}/bin/cuobjdump" ]] &&
   ! python3 -c "import importlib.util as u, pathlib as p; s = u.find_spec('nvidia'); \
exit(0 if s and any(any(p.Path(r).glob('cu*/bin/cuobjdump')) for r in s.submodule_search_locations) else 1)" 2>/dev/null; then
  echo "installing for python3: nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm"
  pip_install nvidia-cuda-cuobjdump nvidia-cuda-nvdisasm
fi

cuda_home=${CUDA_HOME:-/usr/local/cuda}
if [[ ! -f "$cuda_home/include/nvrtc.h" ]]; then
  echo "error: no CUDA toolkit at $cuda_home (nvrtc.h missing); install CUDA 12 or 13 or set CUDA_HOME" >&2
  exit 1
fi
