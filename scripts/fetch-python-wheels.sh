#!/usr/bin/env bash
# The GPU machine has no network: fetch here the pure-Python wheels its `pytest` and `pip` steps need
# (nanobind for building the extension, pytest to run the suite, scikit-build-core and its
# dependencies for `pip install .`) into .whl/ (git-ignored); pass ".whl" in the device run's
# carried paths. scripts/device-run.sh unzips them onto PYTHONPATH there, or gives them to pip.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest .whl \
  nanobind pytest pluggy iniconfig packaging scikit-build-core pathspec
# scikit-build-core runs cmake inside pip's isolated build environment; where the machine's cmake is
# itself a pip-installed wrapper it cannot run there, and the backend asks for the cmake (and ninja)
# wheels: fetched for Linux x86_64, whatever this machine is.
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest .whl \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --implementation py --python-version 3 cmake ninja
ls .whl
