#!/usr/bin/env bash
# The GPU machine has no network: fetch here the wheels of bench/peers.py's peer, humming-kernels, for
# its Python (CPython 3.12, manylinux x86_64) into .whl-peers/ (git-ignored); pass ".whl-peers" in the
# device run's carried paths. scripts/device-run.sh's `peers` step installs them there without network.
#
# humming-kernels is pinned (HUMMING_SPEC overrides) so that runs compare one version. Of what it imports
# beyond torch, numpy and triton, torch 2.11's own requirements cover cuda-bindings (with cuda-pathfinder),
# jinja2 (with markupsafe) and filelock; the first four are fetched too, and the peers step installs each
# only where the machine lacks it, so that the machine's versions (the ones its torch runs with) stay.
set -euo pipefail
cd "$(dirname "$0")/.."
HUMMING_SPEC=${HUMMING_SPEC:-humming-kernels==0.1.20}
mkdir -p .whl-peers
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest .whl-peers \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --python-version 3.12 --implementation cp \
  "$HUMMING_SPEC" "cuda-bindings>=13.0.3,<14" cuda-pathfinder jinja2 markupsafe
ls .whl-peers
