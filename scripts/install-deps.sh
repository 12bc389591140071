#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build bitjit: CMake, Ninja, a C++20 compiler,
# Catch2, spdlog, nlohmann_json, and for the Python package numpy, pytest and nanobind (pip). The
# CUDA toolkit (NVRTC and headers, CUDA 12.x or 13.x) must already be installed; set CUDA_HOME if it
# is not in /usr/local/cuda. Does nothing when all is present.
set -euo pipefail

packages=(cmake ninja-build g++ catch2 libspdlog-dev nlohmann-json3-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Python package's build (nanobind) and its CPU tests (numpy, pytest).
python_missing=()
for module in numpy pytest nanobind; do
  python3 -c "import $module" >/dev/null 2>&1 || python_missing+=("$module")
done
if ((${#python_missing[@]})); then
  echo "installing for python3: ${python_missing[*]}"
  python3 -m pip install -q "${python_missing[@]}" ||
    python3 -m pip install -q --break-system-packages "${python_missing[@]}"
fi

cuda_home=${CUDA_HOME:-/usr/local/cuda}
if [[ ! -f "$cuda_home/include/nvrtc.h" ]]; then
  echo "error: no CUDA toolkit at $cuda_home (nvrtc.h missing); install CUDA 12 or 13 or set CUDA_HOME" >&2
  exit 1
fi
