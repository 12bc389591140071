#!/usr/bin/env bash
# The Python wheel as a user meets it: `pip wheel .` builds it from the source tree (a clean CMake
# build of the extension in a scratch build folder; with the build requirements of pyproject.toml
# already installed, scripts/install-deps.sh, rather than downloaded into an isolated environment
# each run), a fresh venv installs it, and tests/install/wheel_smoke.py runs there from outside the
# source tree: version, type stubs, py.typed, a kernel generated and compiled for sm_90a (no GPU).
# Also checks that the extension links no CUDA library and that the wheel carries the LICENSE.
#   tests/install/check_wheel.sh <scratch dir> [python]
# Quiet unless a step fails: then that step's output is printed.
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
work=$1
python=${2:-python3}
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
version=$(sed -n 's/^project(bitjit VERSION \([0-9.]*\).*/\1/p' "$source_dir/CMakeLists.txt")

source "$source_dir/tests/install/steps.sh"

start=$(date +%s)
# The build folder is set here, so that every run builds from scratch and none reuses a build of
# another run (pyproject.toml's build-python/ lives in the source tree).
step wheel "$python" -m pip wheel --no-deps --no-build-isolation -w "$work/dist" \
  --config-settings=build-dir="$work/build" "$source_dir"
wheel=$(ls "$work"/dist/bitjit-"$version"-*.whl 2>/dev/null | head -n 1)
[[ -n "$wheel" ]] || fail "pip wheel made no bitjit-$version-*.whl in $work/dist"
"$python" -m zipfile -l "$wheel" >"$work/wheel-files.txt"
for file in 'bitjit/_bitjit\.pyi' 'bitjit/py\.typed' 'dist-info/(licenses/)?LICENSE'; do
  grep -Eq "$file" "$work/wheel-files.txt" || fail "$wheel lacks $file"
done
mkdir -p "$work/unpacked"
"$python" -m zipfile -e "$wheel" "$work/unpacked"
if readelf -d "$work"/unpacked/bitjit/_bitjit*.so | grep NEEDED | grep -Ei 'cuda|nvrtc'; then
  fail "the extension links a CUDA library"
fi
echo "wheel ok in $(($(date +%s) - start)) s: $(basename "$wheel"), links no CUDA library"

step venv "$python" -m venv "$work/venv"
step install "$work/venv/bin/python" -m pip install --quiet "$wheel"
cd "$work"
BITJIT_CACHE_DIR=$work/db "$work/venv/bin/python" "$source_dir/tests/install/wheel_smoke.py" --version "$version" ||
  fail "the wheel in a fresh venv"
