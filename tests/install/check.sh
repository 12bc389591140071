#!/usr/bin/env bash
# The installed package as a user meets it: `cmake --install` of a build tree into a scratch prefix,
# then tests/install/consumer.cpp built against that prefix alone, through find_package(bitjit) and
# through pkg-config, and run (it generates and compiles a kernel for sm_90a; no GPU needed). Also
# checks that the shared library links no CUDA library, and that bitjit added with add_subdirectory
# configures without Catch2 and compiles the consumer against the build tree's headers.
#   tests/install/check.sh <bitjit build dir> <scratch dir>
# Quiet unless a step fails: then that step's output is printed.
set -euo pipefail
source_dir=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "$1" && pwd)
work=$2
rm -rf "$work"
mkdir -p "$work"
work=$(cd "$work" && pwd)
prefix=$work/prefix

source "$source_dir/tests/install/steps.sh"

step install cmake --install "$build" --prefix "$prefix"
library=$(find "$prefix" -name 'libbitjit.so.*.*.*' | head -n 1)
[[ -n "$library" ]] || fail "no libbitjit.so.<version> under $prefix"
[[ -f "$prefix/include/bitjit/bitjit.hpp" && -x "$prefix/bin/bitjit" ]] || fail "no bitjit/bitjit.hpp or bin/bitjit"
readelf -d "$library" >"$work/readelf.txt"
grep -q 'SONAME.*libbitjit\.so\.[0-9]' "$work/readelf.txt" || fail "$library has no versioned soname"
if grep NEEDED "$work/readelf.txt" | grep -Ei 'cuda|nvrtc'; then fail "$library links a CUDA library"; fi
echo "install ok: $(grep SONAME "$work/readelf.txt" | sed 's/.*\[\(.*\)\]/\1/'), links $(grep -c NEEDED "$work/readelf.txt") libraries, none of CUDA"

# find_package(bitjit) from the prefix alone.
step cmake-configure cmake -S "$source_dir/tests/install" -B "$work/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release
step cmake-build cmake --build "$work/cmake"
BITJIT_CACHE_DIR=$work/db-cmake "$work/cmake/consumer" || fail "the find_package consumer"

# pkg-config: the C++20 flag is the user's to give (pkg-config cannot say it).
pc_dir=$(dirname "$(find "$prefix" -name bitjit.pc | head -n 1)")
read -ra flags < <(PKG_CONFIG_PATH=$pc_dir pkg-config --cflags --libs bitjit)
step pkg-config-build "${CXX:-c++}" -std=c++20 "$source_dir/tests/install/consumer.cpp" -o "$work/consumer-pkg-config" \
  "${flags[@]}" "-Wl,-rpath,$(dirname "$library")"
BITJIT_CACHE_DIR=$work/db-pkg-config "$work/consumer-pkg-config" || fail "the pkg-config consumer"

# add_subdirectory: configures without Catch2, leaks nothing (tests/install/CMakeLists.txt checks),
# and the consumer compiles against the build tree's bitjit/ headers (compiled, not linked: linking
# would build the whole library again).
step subdirectory-configure cmake -S "$source_dir/tests/install" -B "$work/subdirectory" -G Ninja \
  -DBITJIT_SOURCE_DIR="$source_dir" -DCMAKE_DISABLE_FIND_PACKAGE_Catch2=ON
step subdirectory-compile cmake --build "$work/subdirectory" --target CMakeFiles/consumer.dir/consumer.cpp.o
echo "add_subdirectory ok: configured without Catch2, consumer.cpp compiled against the build tree"
