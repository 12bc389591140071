#!/usr/bin/env bash
# The recipe for a run on a GPU machine (which has CMake, Ninja, Catch2 3, spdlog, nlohmann_json and
# the CUDA toolkit but no network): build the release preset there, then run the named steps.
# Logs and results go to $OUT (default ./device-out); a short summary is printed last.
#
#   scripts/device-run.sh [build] [test] [sweep] [memcheck] [example]
#     build     configure + build (always done first)
#     test      ctest: every test binary, GPU tests included
#     sweep     the GPU sweeps ([sweep]) alone, with their summary lines; BITJIT_SWEEP_STRIDE=n takes every
#               n-th config, BITJIT_SWEEP_SHARD=k/n the k-th of n parts (the whole matrix outlasts a call)
#     memcheck  the GPU tests under compute-sanitizer --tool memcheck (MEMCHECK_STRIDE=n sweeps every
#               n-th config only; default 1, the whole matrix; MEMCHECK_TESTS a Catch2 test filter)
#     racecheck the GPU tests except the sweeps under compute-sanitizer --tool racecheck (shared
#               memory hazards; RACECHECK_TESTS a Catch2 test filter, default "~[sweep]")
#     example   the C++ quick-start example from docs/
#     pack      (give it last) everything under $OUT packed into $OUT/all.tgz, the files themselves removed,
#               for a transport that takes few files back; the summary goes to $OUT/summary.txt too
#     db        the kernel-database and CLI tests, then Matmul::create latency cold and warm
#     gpu       the GPU tests except the long sweep
#     checks    the GPU test cases named in CHECK_TESTS (';'-separated Catch2 filters), each in its own
#               process, all at once, each under CHECK_TIMEOUT seconds (default 240): Catch2 reports a
#               case only when it ends, so a run of many one after the other can use a time limit up
#               with nothing to show; logs in $OUT/checks/<n>.log ($OUT/checks-<CHECKS_TAG>/<n>.log with a
#               tag, so a second `checks` step keeps its own), durations per case (-d yes)
#     hopper    every [wgmma] GPU test (tensor_wgmma and tensor_wgmma_ws, their sweeps included), in
#               HOPPER_SHARDS processes side by side (default 4; Catch2's --shard-count, so each runs a
#               quarter of the cases: one binary in turn needs more than 300 s on the H200), each under a
#               time limit (HOPPER_TIMEOUT seconds, default 420) so a hung kernel ends the step, not the
#               call; logs in $OUT/hopper/<shard>.log
#     bench     bench_matmul against cuBLAS (BENCH_ARGS, e.g. "--formats int4_g128 --M 1,16"); results in $OUT/bench,
#               with registers / spills / shared memory of each benchmarked kernel in resources.txt
#     dynamic   bench_matmul --dynamic both over DYNAMIC_ARGS (default: int4_g128, uint4_g128_qzeros and
#               int4_g128_bf16 on the 70B shapes at M 1,16,64,256,4096): per case a Matmul per M and one Matmul
#               whose buckets are the M list, timed in turn in one process (a cut run leaves pairs), into
#               $OUT/dynamic, and their side-by-side table (scripts/dynamic-vs-static.py) in $OUT/dynamic-vs-static.md
#     profile   Nsight Compute on one launch of each PROFILE_CASES entry ("format:shape:M", e.g.
#               "int4_g128:70B_o:1 nf4_g128:70B_o:1"; "format:shape:M:BUCKETS", e.g.
#               "int4_g128:70B_o:1:1,16,64", profiles M on a dynamic Matmul of those buckets; PROFILE_SCHEDULE,
#               a JSON schedule override, for all): speed of light, memory, occupancy, warp stalls
#     tune      `bitjit tune` over TUNE_CONFIGS (default bench/configs/tune_suite_small_m.json: int4 g128 and uint4
#               g128 + packed zeros on the suite's shapes, static M 1, 16, 64; tune_suite_dynamic.json holds the
#               same as dynamic-M configs of buckets 1 ... 4096) with TUNE_TOPK candidates (default 20) into a
#               fresh kernel database, log in $OUT/tune.log; then the bench (BENCH_ARGS) on a fresh database
#               ($OUT/bench-default) and on the tuned one ($OUT/bench-tuned), one after the other, side by
#               side in $OUT/tuned-vs-default.md (scripts/base-vs-new.py); with TUNE_TAG=t every name ends in
#               -t (tune-t.log, bench-default-t/, bench-tuned-t/, tuned-vs-default-t.md), so a second tune keeps its own
#     variants  the bench once per schedule override in VARIANTS (';'-separated JSON objects) for
#               BENCH_ARGS, results in $OUT/variants/<n> ($OUT/variants-<VARIANTS_TAG>/<n> with a tag)
#     stalls    Nsight Compute's full set on one launch of each PROFILE_CASES entry (as for profile; PROFILE_SCHEDULE, a
#               JSON schedule, overrides the default for all), with the warp-stall sampling per SASS
#               instruction summarized by scripts/ncu-stalls.py and the throughput, hit rates and occupancy by
#               scripts/ncu-details.py: $OUT/stalls/<case>.{txt,-stalls.txt,-figures.txt,ncu-rep}
#     peer-stalls  as stalls, for humming's GEMM and bitjit's kernel side by side inside bench/peers.py (same
#               process, weights and method as `peers`; built and installed as `peers`): one launch of each
#               per PROFILE_CASES entry ("format:shape:M", static M): $OUT/peer-stalls/<case>-{humming,bitjit}.*,
#               both kernels' figures side by side in $OUT/peer-stalls/<case>-details.md
#     baseline  the bench (BENCH_ARGS) built from base.tgz too, a `git archive --prefix=base/ REV | gzip`
#               of the commit to compare with (git-ignored: send it along with the run): $OUT/bench-base
#               and $OUT/bench-new timed one after the other on the same GPU, side by side in
#               $OUT/base-vs-new.md (scripts/base-vs-new.py); BENCH_ARGS="A;B" times each set of
#               options so on one base build, the second set's files suffixed -2 (bench-base-2, ...)
#     pytest    builds the Python extension and runs python/tests (the GPU tests need torch with CUDA),
#               with the wheels of scripts/fetch-python-wheels.sh (carried in .whl/) on PYTHONPATH;
#               then the BitBLAS-style quick start docs/examples/bitblas_quickstart.py
#     torch     the PyTorch integration (build as pytest, with .whl-torch/'s safetensors wheel too if carried):
#               test_torch_gpu / test_llama_e2e / test_torch_cpu / test_multi_gpu (skipped below two GPUs),
#               the C++ capture and device tests, and bench/llama_decode.py ($OUT/llama_decode.json)
#     multigpu  on a machine of two GPUs or more: python/tests/test_multi_gpu.py (build as pytest; layers on
#               two devices, tensor parallelism over NCCL with NVLink SHARP off), then tp_mlp.py under
#               torchrun with its correctness and timing in $OUT/tp.json
#     peers     bench/peers.py (PEERS_ARGS, e.g. "--shapes 70b --M 1,16,64"): cuBLAS fp16, humming-kernels and
#               bitjit in one process, built as pytest; humming from the carried .whl-peers
#               (scripts/fetch-peer-wheels.sh), installed without network into a scratch folder; results in
#               $OUT/peers (results.md, results.json), the log in peers.log
#     pip       `pip install .` as a user runs it (build dependencies from .whl/, no network; into a
#               scratch folder, not the machine's Python), then the BitBLAS-style quick start with it
#     wheel     `pip wheel .` by python3 (PyTorch's, which has numpy, nanobind, scikit-build-core and the
#               nvidia-cuda-nvrtc wheel), installed into a scratch folder and run with the toolkit
#               hidden (CUDA_HOME, CUDA_PATH unset, no /usr/local/cuda on PATH or LD_LIBRARY_PATH):
#               tests/install/wheel_smoke.py fails unless NVRTC came from the nvidia-cuda-nvrtc wheel;
#               then the BitBLAS-style quick start on the GPU the same way
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/pack-out.sh
OUT=${OUT:-$PWD/device-out}
mkdir -p "$OUT"
# The kernel databases and caches the steps write: under build-release, or under DEVICE_RUN_DB_ROOT
# (device-chains.sh gives each chain its own, so two chains never write one database at once).
DB_ROOT=${DEVICE_RUN_DB_ROOT:-$PWD/build-release}
# The `dynamic` step's bench options unless DYNAMIC_ARGS gives others.
DYNAMIC_ARGS_DEFAULT="--formats int4_g128,uint4_g128_qzeros,int4_g128_bf16 --shapes 70b --M 1,16,64,256,4096"
# Every step this script takes.
STEPS="build test sweep memcheck racecheck example db gpu hopper bench dynamic profile variants stalls baseline \
pytest torch multigpu peers peer-stalls pip wheel pack checks tune"
# baseline's base tree, and the folder it is built in: build-base for base.tgz, build-base-x for base-x.tgz
# (two chains may each time against a base of their own).
BASE_TGZ=${BASE_TGZ:-base.tgz}
if [[ $BASE_TGZ != *.tgz ]]; then
  echo "device-run: BASE_TGZ=$BASE_TGZ must name a .tgz (git archive --prefix=base/ REV | gzip)" >&2
  exit 2
fi
BASE_BUILD=build-$(basename "$BASE_TGZ" .tgz)
# Two `variants` steps of one chain (other formats, other overrides) keep their results apart under
# $OUT/variants-<VARIANTS_TAG>/, two `tune` steps under names ending in -<TUNE_TAG> (tune-<tag>.log,
# bench-tuned-<tag>/, ...), two `checks` steps their logs under $OUT/checks-<CHECKS_TAG>/; a tag
# becomes part of a file name, so only a plain name is taken.
for tag_setting in VARIANTS_TAG TUNE_TAG CHECKS_TAG; do
  tag=${!tag_setting:-}
  if [ -n "$tag" ] && ! [[ $tag =~ ^[A-Za-z0-9_]{1,64}$ ]]; then
    echo "device-run: $tag_setting=$tag must be letters, digits or _, at most 64 (it names files under \$OUT)" >&2
    exit 2
  fi
done
# The hopper step's processes side by side: each compiles its kernels on all cores, so a few.
if [ -n "${HOPPER_SHARDS:-}" ] && ! [[ $HOPPER_SHARDS =~ ^([1-9]|1[0-6])$ ]]; then
  echo "device-run: HOPPER_SHARDS=$HOPPER_SHARDS must be a whole number from 1 to 16 (processes of the hopper step)" >&2
  exit 2
fi
VARIANTS_DIR=variants${VARIANTS_TAG:+-$VARIANTS_TAG}
CHECKS_DIR=checks${CHECKS_TAG:+-$CHECKS_TAG}
TUNE_SUFFIX=${TUNE_TAG:+-$TUNE_TAG}
# The folder the Python steps (pytest, torch, multigpu, peers) build the extension in; device-chains.sh
# gives chains that run side by side one each, so that two such steps never build one folder at once.
PYTHON_BUILD=${DEVICE_RUN_PYTHON_BUILD:-build-python}
if ! [[ $PYTHON_BUILD =~ ^[A-Za-z0-9_-]+$ ]]; then
  echo "device-run: DEVICE_RUN_PYTHON_BUILD=$PYTHON_BUILD must be letters, digits, - or _ (a folder of the checkout)" >&2
  exit 2
fi
summary=()
note() { summary+=("$1"); echo "== $1"; }

# What a test log killed by its time limit got to: the cases that ended (with -d yes, "<seconds> s:
# <name>"), its last sweep progress line and any mismatch, on one line.
cut_progress() {
  local log=$1 ended progress
  ended=$(grep -cE '^[0-9]+\.[0-9]+ s: ' "$log")
  progress=$(grep -E 'sweep progress|MISMATCH' "$log" | tail -n 1)
  echo "$((ended > 0 ? ended - 1 : 0)) case(s) ended before the cut; ${progress:-no sweep progress printed}"
}

# The bench's rows for one profiled case: M alone (a static M), or with BUCKETS ("1,16,64") a dynamic
# Matmul of those buckets whose first timed M, the launch profiled, is M.
profile_rows() {
  local m=$1 buckets=$2
  if [ -z "$buckets" ]; then echo "--M $m"; return; fi
  local rows=$m bucket
  for bucket in ${buckets//,/ }; do [ "$bucket" = "$m" ] || rows="$rows,$bucket"; done
  echo "--M $rows --dynamic yes"
}

# Why a PROFILE_CASES entry cannot be taken (empty when it can): its parts name files under $OUT, so
# the format and shape must be plain names, M a number and BUCKETS numbers between commas.
case_refusal() {
  local format shape m buckets
  IFS=: read -r format shape m buckets <<<"$1"
  if ! [[ $format =~ ^[A-Za-z0-9_]+$ && $shape =~ ^[A-Za-z0-9_]+$ && $m =~ ^[0-9]+$ &&
          $buckets =~ ^([0-9]+(,[0-9]+)*)?$ ]]; then
    echo "$1 is not format:shape:M[:BUCKETS] (letters, digits, _; M and BUCKETS numbers, e.g. int4_g128:70B_o:1:1,16,64)"
  fi
}

# One PROFILE_CASES entry ("format:shape:M[:BUCKETS]"): the file name of its profile in case_name and
# the bench_matmul command that runs it in the array case_bench (PROFILE_SCHEDULE's override kept as
# one word).
read_case() {
  local format shape m buckets
  IFS=: read -r format shape m buckets <<<"$1"
  case_name="$format-$shape-$m${buckets:+-dynamic}"
  # shellcheck disable=SC2207
  case_bench=(./build-release/bench/bench_matmul --formats "$format" --shapes "$shape" $(profile_rows "$m" "$buckets"))
  if [ -n "${PROFILE_SCHEDULE:-}" ]; then case_bench+=(--schedule "$PROFILE_SCHEDULE"); fi
}

# Exports Nsight Compute report $1.ncu-rep (a full set) to $1.txt (details) and $1-sass.csv.gz (every
# SASS instruction's samples and executed count), sums its warp stalls into $1-stalls.txt
# (scripts/ncu-stalls.py), and notes the kernel's duration and largest stall reasons under label $2.
summarize_profile() {
  local name=$1 label=$2
  ncu -i "$name.ncu-rep" --page details >"$name.txt" 2>&1
  ncu -i "$name.ncu-rep" --page source --csv --print-source sass >"$name-sass.csv" 2>&1
  python3 scripts/ncu-stalls.py "$name-sass.csv" 30 >"$name-stalls.txt" 2>&1
  gzip -f "$name-sass.csv"  # every instruction's samples, for questions the summary leaves open
  python3 scripts/ncu-details.py --line "$name.txt" >"$name-figures.txt" 2>&1
  note "$label: $(grep -E '^    Duration' "$name.txt" | tr -s ' ') $(sed -n 2,3p "$name-stalls.txt" | tr -s ' ' | tr '\n' ' ')"
  note "$label: $(cut -d, -f2,4,6 "$name-figures.txt" | sed 's/^ *//')"  # DRAM, L2 and SM throughput
}

# Builds the Python extension by the release preset in its own folder, $PYTHON_BUILD (the tests off:
# configuring build-release with the extension on made the next steps rebuild every binary there,
# about 30 s each time), with the carried wheels (.whl/, and .whl-torch/ for the torch step's
# safetensors) unzipped onto a path it prints for PYTHONPATH.
build_python_extension() {
  local deps=$PWD/$PYTHON_BUILD/python-deps
  mkdir -p "$deps"
  for wheel in .whl/*.whl .whl-torch/*.whl; do [ -e "$wheel" ] && python3 -m zipfile -e "$wheel" "$deps"; done
  # zipfile drops the executable bits: where `cmake` on PATH is a Python shim that imports the cmake
  # wheel from PYTHONPATH (a venv's), its binaries must run.
  chmod -R +x "$deps"/cmake/data/bin "$deps"/ninja/data/bin 2>/dev/null || true
  { PYTHONPATH=$deps cmake --preset release -B "$PYTHON_BUILD" -DBITJIT_BUILD_PYTHON=ON -DBITJIT_BUILD_TESTS=OFF &&
    PYTHONPATH=$deps cmake --build "$PYTHON_BUILD" -j "$(nproc)" --target _bitjit_stub; } >"$OUT/python-build.log" 2>&1
  echo "$deps"
}

# Installs the carried .whl-peers wheels into folder $1 without network: humming-kernels always, each
# other wheel only where the machine's Python lacks that distribution (its torch's versions stay).
install_peer_wheels() {
  local site=$1 wheel dist installed=() kept=()
  if ! compgen -G ".whl-peers/*.whl" >/dev/null; then
    echo "no wheels in .whl-peers: run scripts/fetch-peer-wheels.sh and carry .whl-peers"
    return 1
  fi
  for wheel in .whl-peers/*.whl; do
    dist=$(basename "$wheel")
    dist=${dist%%-*}
    if [ "$dist" != humming_kernels ] && python3 -c 'import importlib.metadata as m, sys; m.version(sys.argv[1])' \
        "$dist" 2>/dev/null; then
      kept+=("$dist")
      continue
    fi
    python3 -m pip install --no-index --no-deps --target "$site" "$wheel" || return 1
    installed+=("$dist")
  done
  echo "installed into $site: ${installed[*]}; the machine's own: ${kept[*]:-none}"
}

# What bench/peers.py needs, for the step named $1: the Python extension built (its wheels' path in
# deps) and the peer wheels installed into a scratch folder (site), logged in $OUT/$1-install.log.
prepare_peers() {
  deps=$(build_python_extension)
  site=$(mktemp -d)
  install_peer_wheels "$site" >"$OUT/$1-install.log" 2>&1
  note "peer wheels rc=$?: $(tail -n 1 "$OUT/$1-install.log")"
}

# Runs a command in prepare_peers' environment: the peers and bitjit on PYTHONPATH, both kernel caches
# under the build folder, which a warm machine keeps between calls.
with_peers() {
  HUMMING_CACHE_DIR=$DB_ROOT/humming-cache BITJIT_CACHE_DIR=$DB_ROOT/bench-db \
    PYTHONPATH=$site:$PWD/$PYTHON_BUILD/python:$deps "$@"
}

# Step $1's bench options $2 (and one --schedule override, $3) checked by a bench_matmul built here, `--check`
# on the GPU's arch (BENCH_CHECK_ARCH, default sm_90a), no GPU needed: a refusal line when the bench
# refuses the options, "note:" lines on stderr for the cases whose family refuses the override, and a
# note when there is no such binary (BENCH_CHECK_BIN, default build/bench/bench_matmul).
bench_args_refusal() {
  local step=$1 args=$2 override=${3:-} bin=${BENCH_CHECK_BIN:-build/bench/bench_matmul} checked
  if [ ! -x "$bin" ]; then
    echo "note: no bench_matmul built here ($bin): $step's bench options unchecked" >&2
    return
  fi
  # shellcheck disable=SC2086
  if ! checked=$("$bin" $args ${override:+--schedule "$override"} --check "${BENCH_CHECK_ARCH:-sm_90a}" 2>&1); then
    echo "$step: bench_matmul $args${override:+ --schedule $override}: $(tail -n 1 <<<"$checked")"
    return
  fi
  grep -E '^refused: ' <<<"$checked" | sed "s|^|note: $step${override:+ $override}: |" >&2
}

# Why the steps named cannot run with these settings, a line each (nothing when they can): what a call
# would otherwise learn only on the GPU machine, after its start-up and build. For `device-chains.sh
# --check`, which runs it on each chain's steps before a call (DEVICE_RUN_CHECK_ONLY=1).
steps_refusals() {
  local step entry refusal override set overrides sets
  for step in "$@"; do
    if ! [[ " $STEPS " == *" $step "* ]]; then
      echo "unknown step $step (steps: $STEPS)"
      continue
    fi
    case "$step" in
      baseline)
        [ -f "$BASE_TGZ" ] || echo "baseline: BASE_TGZ=$BASE_TGZ does not exist (git archive --prefix=base/ REV | gzip > $BASE_TGZ)"
        IFS=';' read -ra sets <<<"${BENCH_ARGS:-}"
        for set in "${sets[@]}"; do
          bench_args_refusal "$step" "$set"
          eager_timing_note "$step" "$set"
        done
        ;;
      checks)
        [ -n "${CHECK_TESTS:-}" ] || echo "checks: CHECK_TESTS is empty (';'-separated Catch2 filters)"
        sweeps_side_by_side_note
        if checks_run_the_format_sweep; then format_sweep_compile_note checks "${CHECK_TIMEOUT:-240}"; fi
        ;;
      sweep) format_sweep_compile_note sweep "" ;;
      profile | stalls | peer-stalls)
        [ -n "${PROFILE_CASES:-}" ] || echo "$step: PROFILE_CASES is empty (format:shape:M[:BUCKETS] ...)"
        for entry in ${PROFILE_CASES:-}; do
          refusal=$(case_refusal "$entry")
          [ -z "$refusal" ] || echo "$step: PROFILE_CASES entry $refusal"
        done
        ;;
      variants)
        IFS=';' read -ra overrides <<<"${VARIANTS:-{\}}"
        for override in "${overrides[@]}"; do
          if python3 -c 'import json, sys; assert isinstance(json.loads(sys.argv[1]), dict)' "$override" 2>/dev/null; then
            bench_args_refusal "$step" "${BENCH_ARGS:-}" "$override"
          else
            echo "variants: VARIANTS entry '$override' is not a JSON object (entries are ';'-separated)"
          fi
        done
        ;;
      bench) bench_args_refusal "$step" "${BENCH_ARGS:-}" ;;
      dynamic) bench_args_refusal "$step" "${DYNAMIC_ARGS:-$DYNAMIC_ARGS_DEFAULT} --dynamic both" ;;
    esac
  done
  # The sweeps' part and strides, checked as tests/gpu/test_matmul_sweep.cpp parses them (a malformed
  # one fails the sweeps there).
  if [ -n "${BITJIT_SWEEP_SHARD+set}" ] && ! sweep_shard_ok "$BITJIT_SWEEP_SHARD"; then
    echo "BITJIT_SWEEP_SHARD='$BITJIT_SWEEP_SHARD': expected k/n, whole numbers with 0 <= k < n <= 1000 (e.g. 0/4)"
  fi
  local stride
  for stride in BITJIT_SWEEP_STRIDE MEMCHECK_STRIDE; do
    if [ -n "${!stride+set}" ] && ! [[ ${!stride} =~ ^[0-9]{1,4}$ && $((10#${!stride})) -ge 1 ]]; then
      echo "$stride='${!stride}': expected a whole number from 1 to 9999"
    fi
  done
}

# A note (not a refusal) where a comparison's bench options leave the timing at the bench's default,
# eager launches from the host: kernels of a few tens of microseconds then time the launches as much
# as themselves (2026-12-02, H200, one kernel, int4 g128 8B qkv at 64 rows: 21.9 and 24.9 us in two
# eager runs, 14.8 with --timing graph), so a comparison of kernels wants --timing graph.
eager_timing_note() {
  local step=$1 set=$2
  [[ " $set " == *" --timing "* ]] && return 0
  echo "note: $step: BENCH_ARGS set '$set' has no --timing: eager launches (the bench's default) time the host's launches too; --timing graph compares the kernels" >&2
}

# A note (not a refusal) where more than one of CHECK_TESTS' filters takes a [sweep] case: each sweep
# compiles its kernels on all of the machine's cores, so sweeps side by side starve each other (nine
# checks, four of them sweeps, left all but one sweep cut at 440 s on 2026-12-02). Lists the cases with
# a test_gpu built here (CHECK_TEST_BIN, default build/tests/test_gpu; Catch2 2's
# --list-test-names-only), and says nothing without one.
sweeps_side_by_side_note() {
  local bin=${CHECK_TEST_BIN:-build/tests/test_gpu} sweep_names filter sweeps=()
  [ -x "$bin" ] || return 0
  sweep_names=$("$bin" "[sweep]" --list-test-names-only 2>/dev/null | grep -v '^$')
  [ -n "$sweep_names" ] || return 0
  while IFS= read -r filter; do sweeps+=("'$filter'"); done < <(check_filters_listing -xF "$sweep_names")
  if [ "${#sweeps[@]}" -gt 1 ]; then
    echo "note: checks: ${#sweeps[@]} filters take sweeps (${sweeps[*]}), which would compile side by side on the same cores; give each a step or a shard of its own" >&2
  fi
}

# Each of CHECK_TESTS' filters, a line each, whose cases (listed by CHECK_TEST_BIN as Catch2 2 lists
# them) hold a line that `grep "$@"` matches; nothing without the binary.
check_filters_listing() {
  local bin=${CHECK_TEST_BIN:-build/tests/test_gpu} filter filters listed
  [ -x "$bin" ] || return 0
  IFS=';' read -ra filters <<<"${CHECK_TESTS:-}"
  for filter in "${filters[@]}"; do
    # The listing whole before grep: under pipefail, grep -q ending the pipe early fails it.
    listed=$("$bin" "$filter" --list-test-names-only 2>/dev/null)
    if grep -q "$@" <<<"$listed"; then echo "$filter"; fi
  done
}

# Whether one of CHECK_TESTS' filters takes the format sweep (false without a test_gpu built here).
checks_run_the_format_sweep() {
  [ -n "$(check_filters_listing '^every config of the format matrix')" ]
}

# The format sweep's compiling, estimated before a call: the kernels that a test_gpu built here counts
# under the sweep's settings (its "the format sweep's plan*" case: BITJIT_SWEEP_STRIDE, _SHARD, _MATCH
# as exported), at about SWEEP_KERNELS_PER_SECOND (the H200 machine's 16 threads: 1000 kernels in 42 s,
# 2026-12-02). A note, refusing nothing, where that alone reaches the limit the sweep runs under ($2,
# seconds), and always for the sweep step, whose limit is the chain's; nothing without the binary. A
# stride-1 sweep was cut while compiling three times before its size was known.
SWEEP_KERNELS_PER_SECOND=24
format_sweep_compile_note() {
  local step=$1 limit=$2 bin=${CHECK_TEST_BIN:-build/tests/test_gpu} plan kernels seconds
  [ -x "$bin" ] || return 0
  plan=$("$bin" "the format sweep's plan*" -s 2>/dev/null)
  plan=$(grep -m1 '^format sweep plan: ' <<<"$plan")
  [[ $plan =~ ([0-9]+)\ kernels ]] || return 0
  kernels=${BASH_REMATCH[1]}
  seconds=$((kernels / SWEEP_KERNELS_PER_SECOND))
  if [ -z "$limit" ]; then
    echo "note: $step: the format sweep: ${plan#format sweep plan: }: about $seconds s of compiling before its first run" >&2
  elif [ "$seconds" -ge "$limit" ]; then
    echo "note: $step: the format sweep: ${plan#format sweep plan: }: about $seconds s of compiling, past its limit of $limit s: it would be cut before its first run; give it a part (BITJIT_SWEEP_SHARD=k/n) or a larger BITJIT_SWEEP_STRIDE" >&2
  fi
}

# Whether $1 is a sweep shard k/n: up to four digits each, 0 <= k < n <= 1000.
sweep_shard_ok() {
  [[ $1 =~ ^([0-9]{1,4})/([0-9]{1,4})$ ]] || return 1
  local k=$((10#${BASH_REMATCH[1]})) n=$((10#${BASH_REMATCH[2]}))
  [ "$n" -ge 1 ] && [ "$n" -le 1000 ] && [ "$k" -lt "$n" ]
}

if [ "${DEVICE_RUN_CHECK_ONLY:-0}" = 1 ]; then
  refusals=$(steps_refusals "$@")
  if [ -n "$refusals" ]; then
    sed 's/^/device-run: /' <<<"$refusals" >&2
    exit 2
  fi
  echo "device-run: $* ok"
  exit 0
fi

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv >"$OUT/gpu.txt" 2>&1
note "GPU: $(tail -n1 "$OUT/gpu.txt")"

start=$(date +%s)
# DEVICE_RUN_BUILT=1 takes build-release as it is: for steps run side by side, one chain per GPU
# (CUDA_VISIBLE_DEVICES), after one build; two configures at once would write the same files.
if [ "${DEVICE_RUN_BUILT:-0}" = 1 ]; then
  note "build skipped (DEVICE_RUN_BUILT=1)"
elif ! { cmake --preset release && cmake --build --preset release -j "$(nproc)"; } >"$OUT/build.log" 2>&1; then
  grep -E "error|Error" "$OUT/build.log" | head -40
  note "build FAILED (see build.log)"
  printf '%s\n' "${summary[@]}"
  exit 1
else
  note "build ok in $(( $(date +%s) - start )) s"
fi

for step in "$@"; do
  start=$(date +%s)
  case "$step" in
    build) ;;
    test)
      # install_wheel builds in pip's isolated environment, which downloads its build dependencies: the GPU
      # machine has no network, and its `wheel` step builds and runs the wheel without isolation instead.
      ctest --preset release -j 4 -E "^install_wheel$" >"$OUT/ctest.log" 2>&1
      rc=$?
      cp build-release/Testing/Temporary/LastTest.log "$OUT/ctest-output.log" 2>/dev/null
      note "ctest rc=$rc in $(( $(date +%s) - start )) s: $(grep -E 'tests passed|tests failed' "$OUT/ctest.log")"
      note "$(grep -E 'GPU sweep' "$OUT/ctest-output.log" | head -2 | tr '\n' ' ')"
      ;;
    sweep)
      ./build-release/tests/test_gpu "[sweep]" >"$OUT/sweep.log" 2>&1
      note "sweep rc=$? in $(( $(date +%s) - start )) s: $(grep -E 'GPU sweep|MISMATCH' "$OUT/sweep.log" | head -5)"
      ;;
    memcheck)
      BITJIT_SWEEP_STRIDE=${MEMCHECK_STRIDE:-1} compute-sanitizer --tool memcheck --error-exitcode 3 \
        ./build-release/tests/test_gpu ${MEMCHECK_TESTS:+"$MEMCHECK_TESTS"} >"$OUT/memcheck.log" 2>&1
      note "memcheck rc=$? in $(( $(date +%s) - start )) s: $(grep -E 'ERROR SUMMARY|GPU sweep' "$OUT/memcheck.log" | head -3)"
      ;;
    racecheck)
      compute-sanitizer --tool racecheck --racecheck-report hazard --error-exitcode 3 \
        ./build-release/tests/test_gpu "${RACECHECK_TESTS:-~[sweep]}" >"$OUT/racecheck.log" 2>&1
      note "racecheck rc=$? in $(( $(date +%s) - start )) s: $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY|passed|failed' "$OUT/racecheck.log" | head -3 | tr '\n' ' ')"
      ;;
    db)
      { ./build-release/tests/test_tuning_db && ./build-release/tests/test_tools &&
        ./build-release/bench/bench_create_latency bench/configs/formats_m1.json; } >"$OUT/db.log" 2>&1
      note "db rc=$? in $(( $(date +%s) - start )) s: $(grep -E 'passed|failed|warm create median' "$OUT/db.log" | tr '\n' ' ')"
      ;;
    checks)
      IFS=';' read -ra filters <<<"${CHECK_TESTS:-}"
      if [ "${#filters[@]}" -eq 0 ]; then note "checks: no CHECK_TESTS"; continue; fi
      mkdir -p "$OUT/$CHECKS_DIR"
      pids=()
      for n in "${!filters[@]}"; do
        timeout "${CHECK_TIMEOUT:-240}" ./build-release/tests/test_gpu "${filters[$n]}" -d yes >"$OUT/$CHECKS_DIR/$((n + 1)).log" 2>&1 &
        pids+=($!)
      done
      for n in "${!filters[@]}"; do
        wait "${pids[$n]}"
        rc=$?
        log=$OUT/$CHECKS_DIR/$((n + 1)).log
        if [ "$rc" -eq 124 ]; then
          note "check $((n + 1)) (${filters[$n]}) CUT by CHECK_TIMEOUT=${CHECK_TIMEOUT:-240} s, no verdict (Catch2 counts the kill as a failure): $(cut_progress "$log")"
        else
          note "check $((n + 1)) (${filters[$n]}) rc=$rc: $(grep -E 'passed|failed|No test cases' "$log" | tail -n 2 | tr '\n' ' ')"
        fi
      done
      note "checks done in $(( $(date +%s) - start )) s"
      ;;
    gpu)
      ./build-release/tests/test_gpu "~[sweep]" >"$OUT/gpu.log" 2>&1
      note "gpu rc=$? in $(( $(date +%s) - start )) s: $(tail -n 2 "$OUT/gpu.log" | tr '\n' ' ')"
      ;;
    hopper)
      shards=${HOPPER_SHARDS:-4}
      mkdir -p "$OUT/hopper"
      pids=()
      for ((shard = 0; shard < shards; shard++)); do
        timeout "${HOPPER_TIMEOUT:-420}" ./build-release/tests/test_gpu "[wgmma]" --shard-count "$shards" \
          --shard-index "$shard" -d yes >"$OUT/hopper/$shard.log" 2>&1 &
        pids+=($!)
      done
      for ((shard = 0; shard < shards; shard++)); do
        wait "${pids[$shard]}"
        rc=$?
        log=$OUT/hopper/$shard.log
        if [ "$rc" -eq 124 ]; then
          note "hopper shard $shard of $shards CUT by HOPPER_TIMEOUT=${HOPPER_TIMEOUT:-420} s, no verdict: $(cut_progress "$log")"
        else
          note "hopper shard $shard of $shards rc=$rc: $(grep -E 'GPU sweep|MISMATCH' "$log" | head -4 | tr '\n' ' ') $(tail -n 2 "$log" | tr '\n' ' ')"
        fi
      done
      note "hopper done in $(( $(date +%s) - start )) s"
      ;;
    bench)
      # shellcheck disable=SC2086
      BITJIT_CACHE_DIR=$DB_ROOT/bench-db ./build-release/bench/bench_matmul ${BENCH_ARGS:-} --out "$OUT/bench" >"$OUT/bench.log" 2>&1
      note "bench rc=$? in $(( $(date +%s) - start )) s: $(head -n 1 "$OUT/bench.log")"
      python3 scripts/kernel-resources.py "$DB_ROOT/bench-db" >"$OUT/bench/resources.txt" 2>&1
      ;;
    dynamic)
      args=${DYNAMIC_ARGS:-$DYNAMIC_ARGS_DEFAULT}
      # shellcheck disable=SC2086
      BITJIT_CACHE_DIR=$DB_ROOT/bench-db ./build-release/bench/bench_matmul $args --dynamic both \
        --out "$OUT/dynamic" >"$OUT/dynamic.log" 2>&1
      note "bench --dynamic both rc=$? in $(( $(date +%s) - start )) s"
      python3 scripts/dynamic-vs-static.py "$OUT/dynamic/results.json" >"$OUT/dynamic-vs-static.md" 2>&1
      note "dynamic over static: $(grep '^| range' "$OUT/dynamic-vs-static.md" | tr '\n' ' ')"
      ;;
    profile)
      mkdir -p "$OUT/ncu"
      for case in ${PROFILE_CASES:-int4_g128:70B_o:1}; do
        refusal=$(case_refusal "$case")
        if [ -n "$refusal" ]; then note "$step: $refusal"; continue; fi
        read_case "$case"
        BITJIT_CACHE_DIR=$DB_ROOT/bench-db ncu -k regex:bitjit_matmul --launch-skip 3 --launch-count 1 \
          --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats \
          --section WarpStateStats --section SchedulerStats \
          "${case_bench[@]}" --out "$OUT/ncu/bench" >"$OUT/ncu/$case_name.txt" 2>&1
        note "profile $case rc=$?: $(grep -E 'DRAM Throughput|^    Duration' "$OUT/ncu/$case_name.txt" | tr -s ' ' | tr '\n' ' ')"
      done
      ;;
    stalls)
      mkdir -p "$OUT/stalls"
      for case in ${PROFILE_CASES:-int4_g128:70B_o:1}; do
        refusal=$(case_refusal "$case")
        if [ -n "$refusal" ]; then note "$step: $refusal"; continue; fi
        read_case "$case"
        BITJIT_CACHE_DIR=$DB_ROOT/bench-db ncu -k regex:bitjit_matmul --launch-skip 3 --launch-count 1 --set full \
          --import-source no -o "$OUT/stalls/$case_name" "${case_bench[@]}" --out "$OUT/stalls/bench" \
          >"$OUT/stalls/$case_name.log" 2>&1
        summarize_profile "$OUT/stalls/$case_name" "stalls $case"
      done
      ;;
    peer-stalls)
      prepare_peers peer-stalls
      mkdir -p "$OUT/peer-stalls"
      for case in ${PROFILE_CASES:-int4_g128:70B_down:16}; do
        refusal=$(case_refusal "$case")
        if [ -n "$refusal" ]; then note "$step: $refusal"; continue; fi
        IFS=: read -r format shape m buckets <<<"$case"
        if [ -n "$buckets" ]; then note "peer-stalls $case: static M only (format:shape:M)"; continue; fi
        # The fourth launch of each: past peers.py's float64 check, one of its timing launches (one eager
        # launch per rotated copy of the weights, then the graph's, which ncu profiles one by one), on a
        # copy that is not in L2 (and Nsight Compute flushes the caches before a profiled launch anyway).
        for peer in humming bitjit; do
          kernel=regex:^humming
          [ "$peer" = bitjit ] && kernel=regex:bitjit_matmul
          name=$OUT/peer-stalls/$format-$shape-$m-$peer
          with_peers ncu -k "$kernel" --launch-skip 3 --launch-count 1 --set full --import-source no -o "$name" \
            python3 bench/peers.py --formats "$format" --shapes "$shape" --M "$m" --launches 2 --warmup 1 --batches 1 \
            --out "$name-peers" >"$name.log" 2>&1
          summarize_profile "$name" "peer-stalls $case $peer"
        done
        # Both kernels' throughput, hit rates and occupancy side by side.
        name=$OUT/peer-stalls/$format-$shape-$m
        python3 scripts/ncu-details.py "$name-humming.txt" "$name-bitjit.txt" --names humming,bitjit >"$name-details.md" 2>&1
      done
      ;;
    baseline)
      if [ ! -f "$BASE_TGZ" ]; then note "baseline: no $BASE_TGZ"; continue; fi
      rm -rf "$BASE_BUILD" "$DB_ROOT"/baseline-*-db && mkdir -p "$BASE_BUILD" && tar xzf "$BASE_TGZ" -C "$BASE_BUILD"
      if ! (cd "$BASE_BUILD/base" && cmake --preset release && cmake --build --preset release -j "$(nproc)") >"$OUT/base-build.log" 2>&1; then
        note "baseline: build FAILED (see base-build.log)"
        continue
      fi
      # BENCH_ARGS may hold several sets of options separated by ';' (a static and a dynamic-M run, say):
      # one base build, then base and new timed per set, the second set's files suffixed -2, and so on.
      IFS=';' read -ra bench_sets <<<"${BENCH_ARGS:-}"
      [ "${#bench_sets[@]}" -eq 0 ] && bench_sets=("")
      for n in "${!bench_sets[@]}"; do
        suffix=""
        [ "$n" -gt 0 ] && suffix="-$((n + 1))"
        # An empty set between ';' would time the bench's whole default suite: refused, not run.
        if [ "${#bench_sets[@]}" -gt 1 ] && [ -z "${bench_sets[$n]// /}" ]; then
          note "baseline: set $((n + 1)) of BENCH_ARGS is empty (BENCH_ARGS=\"$BENCH_ARGS\"); skipped"
          continue
        fi
        for side in base new; do
          binary=./build-release/bench/bench_matmul
          [ "$side" = base ] && binary=./$BASE_BUILD/base/build-release/bench/bench_matmul
          # shellcheck disable=SC2086
          BITJIT_CACHE_DIR=$DB_ROOT/baseline-$side-db $binary ${bench_sets[$n]} --out "$OUT/bench-$side$suffix" \
            >"$OUT/bench-$side$suffix.log" 2>&1
          note "baseline bench$suffix $side rc=$?"
        done
        python3 scripts/base-vs-new.py "$OUT/bench-base$suffix/results.json" "$OUT/bench-new$suffix/results.json" \
          >"$OUT/base-vs-new$suffix.md" 2>&1
        note "new over base$suffix: $(grep '^| range' "$OUT/base-vs-new$suffix.md" | tr '\n' ' ')"
      done
      ;;
    tune)
      t=$TUNE_SUFFIX
      rm -rf "$DB_ROOT/tuned-db$t" "$DB_ROOT/default-db$t"
      ./build-release/bitjit tune --configs "${TUNE_CONFIGS:-bench/configs/tune_suite_small_m.json}" \
        --topk "${TUNE_TOPK:-20}" --cache-dir "$DB_ROOT/tuned-db$t" >"$OUT/tune$t.log" 2>&1
      note "tune$t rc=$? in $(( $(date +%s) - start )) s"
      for side in default tuned; do
        # shellcheck disable=SC2086
        BITJIT_CACHE_DIR=$DB_ROOT/$side-db$t ./build-release/bench/bench_matmul ${BENCH_ARGS:-} \
          --out "$OUT/bench-$side$t" >"$OUT/bench-$side$t.log" 2>&1
        note "bench on the $side database$t rc=$? in $(( $(date +%s) - start )) s"
      done
      # The tuned run beside the default one (base = default): which schedules changed (†) and by how much.
      python3 scripts/base-vs-new.py "$OUT/bench-default$t/results.json" "$OUT/bench-tuned$t/results.json" \
        >"$OUT/tuned-vs-default$t.md" 2>&1
      note "tuned over default$t: $(grep -h '^| range' "$OUT/tuned-vs-default$t.md" | tr '\n' ' ')"
      ;;
    variants)
      n=0
      IFS=';' read -ra overrides <<<"${VARIANTS:-{\}}"
      for override in "${overrides[@]}"; do
        n=$((n + 1))
        # shellcheck disable=SC2086
        BITJIT_CACHE_DIR=$DB_ROOT/bench-db ./build-release/bench/bench_matmul ${BENCH_ARGS:-} \
          --schedule "$override" --out "$OUT/$VARIANTS_DIR/$n" >"$OUT/$VARIANTS_DIR-$n.log" 2>&1
        note "$VARIANTS_DIR $n $override rc=$?"
      done
      ;;
    pytest)
      deps=$(build_python_extension)
      PYTHONPATH=$PWD/$PYTHON_BUILD/python:$deps python3 -m pytest -q -rs python/tests >"$OUT/pytest.log" 2>&1
      note "pytest rc=$? in $(( $(date +%s) - start )) s: $(tail -n 1 "$OUT/pytest.log")"
      PYTHONPATH=$PWD/$PYTHON_BUILD/python python3 docs/examples/bitblas_quickstart.py >"$OUT/bitblas-quickstart.log" 2>&1
      note "bitblas quick start rc=$?: $(tail -n 1 "$OUT/bitblas-quickstart.log")"
      ;;
    torch)
      deps=$(build_python_extension)
      PYTHONPATH=$PWD/$PYTHON_BUILD/python:$deps python3 -m pytest -q -rs -s python/tests/test_torch_gpu.py \
        python/tests/test_llama_e2e.py python/tests/test_torch_cpu.py python/tests/test_multi_gpu.py \
        >"$OUT/torch-pytest.log" 2>&1
      note "torch pytest rc=$?: $(tail -n 1 "$OUT/torch-pytest.log")"
      ./build-release/tests/test_gpu "[graph],[device],[linear]" >"$OUT/torch-capture.log" 2>&1
      note "test_gpu [graph],[device],[linear] rc=$?: $(tail -n 2 "$OUT/torch-capture.log" | tr '\n' ' ')"
      PYTHONPATH=$PWD/$PYTHON_BUILD/python:$deps python3 bench/llama_decode.py --json "$OUT/llama_decode.json" \
        >"$OUT/llama-decode.log" 2>&1
      note "llama decode bench rc=$?: $(tail -n 3 "$OUT/llama-decode.log" | tr '\n' ' ')"
      ;;
    multigpu)
      deps=$(build_python_extension)
      NCCL_NVLS_ENABLE=0 PYTHONPATH=$PWD/$PYTHON_BUILD/python:$deps python3 -m pytest -q -rs -s \
        python/tests/test_multi_gpu.py >"$OUT/multi-gpu.log" 2>&1
      note "multi-GPU pytest rc=$?: $(tail -n 1 "$OUT/multi-gpu.log")"
      NCCL_NVLS_ENABLE=0 PYTHONPATH=$PWD/$PYTHON_BUILD/python:$deps python3 -m torch.distributed.run --standalone \
        --nproc_per_node=2 python/tests/tp_mlp.py --out "$OUT/tp.json" >"$OUT/tp.log" 2>&1
      note "tp_mlp rc=$?: $(tr -d '\n ' <"$OUT/tp.json" 2>/dev/null)"
      ;;
    peers)
      prepare_peers peers
      # shellcheck disable=SC2086
      with_peers python3 bench/peers.py ${PEERS_ARGS:-} --out "$OUT/peers" >"$OUT/peers.log" 2>&1
      note "peers rc=$? in $(( $(date +%s) - start )) s: $(tail -n 1 "$OUT/peers.log")"
      ;;
    pip)
      site=$(mktemp -d)
      echo "cmake on PATH: $(command -v cmake) ($(cmake --version | head -n 1))" >"$OUT/pip-cmake.txt"
      python3 -m pip install --no-index --find-links .whl --no-deps --target "$site" . >"$OUT/pip.log" 2>&1
      note "pip install . rc=$? in $(( $(date +%s) - start )) s: $(tail -n 1 "$OUT/pip.log")"
      PYTHONPATH=$site python3 docs/examples/bitblas_quickstart.py >"$OUT/pip-quickstart.log" 2>&1
      note "bitblas quick start (pip-installed) rc=$?: $(tail -n 1 "$OUT/pip-quickstart.log")"
      ;;
    wheel)
      repo=$PWD
      site=$(mktemp -d)
      python3 -m pip wheel --no-deps --no-build-isolation -w "$site/dist" . >"$OUT/wheel-build.log" 2>&1 &&
        python3 -m pip install --no-deps --no-index --target "$site/packages" "$site"/dist/bitjit-*.whl >>"$OUT/wheel-build.log" 2>&1
      note "wheel build rc=$? in $(( $(date +%s) - start )) s: $(ls "$site"/dist)"
      nvidia=$(python3 -c "import importlib.util as u; print(list(u.find_spec('nvidia').submodule_search_locations)[0])")
      hidden_path=$(printf %s "$PATH" | tr : '\n' | grep -v cuda | paste -sd: -)
      hidden_libraries=$(printf %s "${LD_LIBRARY_PATH:-}" | tr : '\n' | grep -v /usr/local/cuda | paste -sd: -)
      hidden=(env -u CUDA_HOME -u CUDA_PATH PATH="$hidden_path" LD_LIBRARY_PATH="$hidden_libraries"
              PYTHONPATH="$site/packages" BITJIT_CACHE_DIR="$site/db")
      version=$(sed -n 's/^project(bitjit VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
      (cd "$site" && "${hidden[@]}" python3 "$repo/tests/install/wheel_smoke.py" --version "$version" --nvrtc-under "$nvidia") \
        >"$OUT/wheel.log" 2>&1
      note "wheel without the toolkit rc=$?: $(tail -n 1 "$OUT/wheel.log")"
      (cd "$site" && "${hidden[@]}" python3 "$repo/docs/examples/bitblas_quickstart.py") >"$OUT/wheel-quickstart.log" 2>&1
      note "wheel without the toolkit, quick start on the GPU rc=$?: $(tail -n 1 "$OUT/wheel-quickstart.log")"
      ;;
    example)
      ./build-release/quickstart >"$OUT/example.log" 2>&1
      note "example rc=$?: $(tail -n 3 "$OUT/example.log" | tr '\n' ' ')"
      ;;
    pack) pack_requested=1 ;;
    *) note "unknown step $step (steps: $STEPS)" ;;
  esac
done
echo
printf '%s\n' "${summary[@]}"
if [ -n "${pack_requested:-}" ]; then
  summary_file=$(mktemp)
  printf '%s\n' "${summary[@]}" >"$summary_file"
  pack_out "$OUT" "$summary_file"
fi
