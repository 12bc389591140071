#!/usr/bin/env bash
# One device call that keeps its results: device-run.sh's steps as chains, one per GPU side by side
# (CUDA_VISIBLE_DEVICES), on one build, every step under a time limit that ends before the call's,
# and everything under $OUT packed into $OUT/all.tgz at the end (a call cut by its own limit brings
# back only a few files, and nothing of a step that had not written its summary yet).
#
#   CALL_LIMIT=560 scripts/device-chains.sh CHAIN0 [CHAIN1 ...]
#   scripts/device-chains.sh --check CHAIN0 [CHAIN1 ...]
#
# --check runs nowhere but here, before a call: each chain's lines as the call would run them (its
# exports in order), every step line checked for its seconds and its steps' names and settings
# (device-run.sh with DEVICE_RUN_CHECK_ONLY=1: base archives, tags, PROFILE_CASES, VARIANTS' JSON,
# CHECK_TESTS, and the bench options through a bench_matmul built here), every refusal and note
# printed; exit 2 if anything is refused.
#
# A chain is a file of bash lines run in its own subshell: `export` what its steps read (CHECK_TESTS,
# BENCH_ARGS, ...) and `step SECONDS STEP...` for each device-run.sh call. Chain i runs on GPU i with
# OUT=$OUT/chain<i> and kernel databases of its own (BITJIT_CACHE_DIR for the tests,
# DEVICE_RUN_DB_ROOT for the bench steps); two chains that both run `baseline` need a BASE_TGZ each
# (base.tgz, base-x.tgz, ...). With fewer GPUs than chains the chains run one after the other on GPU 0.
# DEVICE_RUN_BUILT=1 takes build-release as it is (no build first). Each step's limit is cut to what
# is left of CALL_LIMIT (seconds from the start, default 560) less PACK_SECONDS (default 20); a step
# with under 10 s left is skipped and says so. GPUS, how many GPUs to use (default: nvidia-smi's
# count), below the chains' count runs them in turn.
#
#   # chain0                                        # chain1
#   export CHECK_TESTS='tensor_gemv matches*'       export BITJIT_SWEEP_STRIDE=20
#   step 120 checks                                 step 150 sweep
#   export BENCH_ARGS="--formats int4_g128 --M 16"  step 380 hopper
#   step 300 baseline
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/pack-out.sh
OUT=${OUT:-$PWD/device-out}
CALL_LIMIT=${CALL_LIMIT:-560}
PACK_SECONDS=${PACK_SECONDS:-20}
started=$(date +%s)

check_only=0
if [ "${1:-}" = --check ]; then
  check_only=1
  shift
fi
if [ "$#" -eq 0 ]; then
  echo "usage: CALL_LIMIT=560 scripts/device-chains.sh [--check] CHAIN0 [CHAIN1 ...] (chain files of 'step SECONDS STEP...' lines)" >&2
  exit 2
fi
for setting in CALL_LIMIT PACK_SECONDS ${GPUS:+GPUS}; do
  if ! [[ ${!setting} =~ ^[0-9]+$ ]]; then
    unit=seconds
    [ "$setting" = GPUS ] && unit=GPUs
    echo "device-chains: $setting=${!setting} must be a whole number ($unit)" >&2
    exit 2
  fi
done
for chain in "$@"; do
  if [ ! -f "$chain" ]; then
    echo "device-chains: chain file $chain does not exist" >&2
    exit 2
  fi
done

# --check: chain $1's step lines checked in a subshell of their own (the chain's exports in order);
# a line each for what would be refused, and a status of 1 when anything would.
check_chain() {
  local chain=$1
  (
    refused=0
    # shellcheck disable=SC2317  # called by the chain's lines, sourced below
    step() {
      local asked=$1
      shift
      if ! [[ $asked =~ ^[0-9]+$ ]] || [ "$#" -eq 0 ]; then
        echo "device-chains: $chain: step '$asked $*' refused: write step SECONDS STEP... (SECONDS a whole number)" >&2
        refused=1
        return 0
      fi
      # device-run.sh makes its $OUT before it checks anything: a scratch folder, not the call's
      OUT=$check_out DEVICE_RUN_CHECK_ONLY=1 scripts/device-run.sh "$@" >/dev/null 2>"$check_log" || refused=1
      sed "s|^|device-chains: $chain: |" "$check_log" >&2  # its refusals, and notes that refuse nothing
    }
    check_log=$(mktemp)
    check_out=$(mktemp -d)
    # shellcheck disable=SC1090
    source "$chain"
    rm -rf "$check_log" "$check_out"
    exit "$refused"
  )
}

if [ "$check_only" = 1 ]; then
  refused=0
  for chain in "$@"; do check_chain "$chain" || refused=1; done
  if [ "$refused" = 1 ]; then exit 2; fi
  echo "device-chains: $* ok"
  exit 0
fi
mkdir -p "$OUT"

# Seconds left before the results must be packed.
seconds_left() { echo $((CALL_LIMIT - PACK_SECONDS - ($(date +%s) - started))); }

# step SECONDS STEP...: device-run.sh STEP... on the chain's GPU under min(SECONDS, what is left), its
# summary in $OUT/steps.txt.
step() {
  local asked=$1 left limit
  shift
  if ! [[ $asked =~ ^[0-9]+$ ]] || [ "$#" -eq 0 ]; then
    echo "== step '$asked $*' refused: write step SECONDS STEP... (SECONDS a whole number)" >>"$OUT/steps.txt"
    return 0
  fi
  left=$(seconds_left)
  if [ "$left" -lt 10 ]; then
    echo "== skipped $* (asked ${asked} s, ${left} s left before packing)" >>"$OUT/steps.txt"
    return 0
  fi
  limit=$((asked < left ? asked : left))
  echo "== $* (limit ${limit} s)" >>"$OUT/steps.txt"
  timeout "$limit" scripts/device-run.sh "$@" >>"$OUT/steps.txt" 2>&1
  local rc=$?
  [ "$rc" -eq 124 ] && echo "== $* stopped by its ${limit}-s limit" >>"$OUT/steps.txt"
  return 0
}

# Chain file $1, number $2, on GPU $3, in a subshell of its own; $4 = beside: the chains run side by
# side, so each builds the Python extension in a folder of its own (one after the other they share one).
run_chain() {
  local chain=$1 number=$2 gpu=$3 beside=${4:-}
  (
    export CUDA_VISIBLE_DEVICES=$gpu OUT=$OUT/chain$number DEVICE_RUN_BUILT=1
    export BITJIT_CACHE_DIR=$PWD/build-release/chain-db-$number DEVICE_RUN_DB_ROOT=$PWD/build-release/chain-$number
    if [ -n "$beside" ]; then export DEVICE_RUN_PYTHON_BUILD=build-python-chain$number; fi
    mkdir -p "$OUT"
    # shellcheck disable=SC1090
    source "$chain"
  )
}

scripts/device-run.sh build >"$OUT/build-summary.txt" 2>&1 || { cat "$OUT/build-summary.txt"; exit 1; }
gpus=${GPUS:-$(nvidia-smi --list-gpus 2>/dev/null | wc -l)}
number=0
for chain in "$@"; do
  if [ "$gpus" -ge "$#" ]; then
    run_chain "$chain" "$number" "$number" beside &
  else
    run_chain "$chain" "$number" 0
  fi
  number=$((number + 1))
done
wait

summary=$(mktemp)
{
  grep -E '^== ' "$OUT/build-summary.txt"
  for steps in "$OUT"/chain*/steps.txt; do
    [ -f "$steps" ] || continue
    echo "### ${steps#"$OUT"/} ($gpus GPUs)"
    grep -E '^== ' "$steps"
  done
} | tee "$summary"
pack_out "$OUT" "$summary"
