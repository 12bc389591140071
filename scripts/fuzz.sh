#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang in build-fuzz/ and runs each for a bounded time on a
# copy of its committed seed corpus (fuzz/corpus/<target>/). Fails on any crash, hang, leak, memory
# blow-up, sanitizer report or broken invariant, naming the target and the reproducer, which is also
# saved as fuzz/corpus/<target>/crash-<sha1> so that it can be committed with the fix.
#
#   scripts/fuzz.sh                          every target, FUZZ_SECONDS each
#   scripts/fuzz.sh config_json tar          the named targets
#   FUZZ_SECONDS=3600 scripts/fuzz.sh config_json
#
# Settings (environment):
#   FUZZ_SECONDS  seconds per target (default 60)
#   FUZZ_RSS_MB   memory limit per target process in MB (default 2048)
#   FUZZ_TIMEOUT  seconds one input may take before it counts as a hang (default 10)
#   FUZZ_ARGS     more libFuzzer flags, e.g. "-max_len=65536"
#   FUZZ_JOBS     targets fuzzed at a time, each in one process (default: the machine's cores)
# The run of a target lies in build-fuzz/run/<target>/ (log, grown corpus, artifacts). Each target
# runs in one process, FUZZ_JOBS of them at a time. Where unprivileged user namespaces are available the
# targets run in a mount namespace in which everything but their scratch folders is read-only, so
# that a bug in `db import` cannot write or delete files elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

targets_all=(config_json config_files kernel_file db_json tar db_import packing)
seconds=${FUZZ_SECONDS:-60}
rss_mb=${FUZZ_RSS_MB:-2048}
timeout=${FUZZ_TIMEOUT:-10}
jobs=${FUZZ_JOBS:-$(nproc)}
[[ $jobs =~ ^[1-9][0-9]?$ ]] || { echo "fuzz.sh: FUZZ_JOBS=$jobs must be a whole number from 1 to 99 (targets at a time)" >&2; exit 2; }
build=build-fuzz

targets=("$@")
((${#targets[@]})) || targets=("${targets_all[@]}")
for target in "${targets[@]}"; do
  [[ " ${targets_all[*]} " == *" $target "* ]] || { echo "fuzz.sh: unknown target '$target'; targets: ${targets_all[*]}" >&2; exit 2; }
done

for tool in clang++ cmake ninja; do
  command -v "$tool" >/dev/null || { echo "fuzz.sh: $tool not found (scripts/install-deps.sh installs it)" >&2; exit 2; }
done
export PATH="${CUDA_HOME:-/usr/local/cuda}/bin:$PATH"
# A unity build with line tables only (-g1: the sanitizers' stacks still name file and line): on 2
# cores 144 s against 264 s for the seven targets with full -g one file at a time.
cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_UNITY_BUILD=ON -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1" \
  -DBITJIT_BUILD_FUZZERS=ON -DBITJIT_BUILD_TESTS=OFF -DBITJIT_BUILD_PYTHON=OFF >/dev/null
cmake --build "$build" --target "${targets[@]/#/fuzz_}"

# Symbolized stacks; leaks and every UBSan finding are failures.
symbolizer=$(command -v llvm-symbolizer || ls /usr/lib/llvm-*/bin/llvm-symbolizer 2>/dev/null | tail -1 || true)
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:symbolize=1${symbolizer:+:external_symbolizer_path=$symbolizer}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export BITJIT_LOG_LEVEL=off

# sandboxed DIR... -- COMMAND: runs COMMAND with every mount read-only except the DIRs, where the
# kernel lets an unprivileged user make a mount namespace; else runs it as it is.
sandboxed() {
  local writable=()
  while [[ $1 != -- ]]; do writable+=("$(realpath "$1")"); shift; done
  shift
  if ! unshare -rm true 2>/dev/null; then
    "$@"
    return
  fi
  unshare -rm bash -c '
    set -e
    writable=(); while [[ $1 != -- ]]; do writable+=("$1"); shift; done; shift
    for dir in "${writable[@]}"; do mount --bind "$dir" "$dir"; done
    # Every other mount read-only (the ones the namespace may not change stay as they are).
    while read -r mount_point; do
      [[ " ${writable[*]} " == *" $mount_point "* ]] || mount -o bind,remount,ro "$mount_point" 2>/dev/null || true
    done < <(findmnt -rn -o TARGET)
    exec "$@"' sandbox "${writable[@]}" -- "$@"
}

# fuzz_target TARGET: one target's run in build-fuzz/run/TARGET/: its log, its summary line (summary),
# its exit status (status) and, when it failed, what went wrong with the reproducers saved (report).
fuzz_target() {
  local target=$1
  local run="$build/run/$target"
  rm -rf "$run"
  mkdir -p "$run/corpus" "$run/artifacts"
  # Scratch files of the targets that read files (the database writes and fsyncs): in memory when
  # /dev/shm takes them.
  local scratch
  scratch=$(mktemp -d /dev/shm/bitjit-fuzz.XXXXXX 2>/dev/null || mktemp -d "$run/scratch.XXXXXX")
  cp fuzz/corpus/"$target"/* "$run/corpus/" 2>/dev/null || true
  local dict=()
  [[ -f fuzz/dict/$target.dict ]] && dict=("-dict=fuzz/dict/$target.dict")
  echo "== fuzz $target: ${seconds}s on $(ls "$run/corpus" | wc -l) seeds"
  local status=0
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  TMPDIR="$scratch" sandboxed "$run" "$scratch" -- "$build/fuzz/$target" -max_total_time="$seconds" \
    -rss_limit_mb="$rss_mb" -timeout="$timeout" -print_final_stats=1 "${dict[@]}" \
    -artifact_prefix="$run/artifacts/" ${FUZZ_ARGS:-} "$run/corpus" >"$run/log" 2>&1 || status=$?
  rm -rf "$scratch"

  local execs coverage
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$run/log" | grep -o '[0-9]*$' | tail -1 || true)
  coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$run/log" | tail -1 || true)
  printf '%-13s %12s execs  %-20s corpus %5s  %s\n' "$target" "${execs:-?}" "${coverage:-cov: ?}" \
    "$(ls "$run/corpus" | wc -l)" "$([[ $status == 0 ]] && echo ok || echo FAILED)" >"$run/summary"
  echo "$status" >"$run/status"
  [[ $status == 0 ]] && return 0
  {
    echo "FUZZ FAILURE in $target (exit $status); log: $run/log"
    # What went wrong, then the top of the stack inside bitjit and the target.
    grep -E 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error:|fuzz invariant broken|what\(\):|SUMMARY:' \
      "$run/log" | head -6 || true
    grep -E '^ +#[0-9]+ .* in (bitjit::|LLVMFuzzerTestOneInput)' "$run/log" | head -6 | cut -c1-300 || true
    local artifact saved
    for artifact in "$run"/artifacts/*; do
      [[ -f $artifact ]] || continue
      saved="fuzz/corpus/$target/crash-$(sha1sum "$artifact" | cut -c1-40)"
      cp "$artifact" "$saved"
      echo "reproducer: $saved (run: $build/fuzz/$target $saved)"
    done
  } >"$run/report"
}

# FUZZ_JOBS targets at a time (each fuzzes in one process), then the summary in the targets' order.
running=0
for target in "${targets[@]}"; do
  fuzz_target "$target" &
  if ((++running >= jobs)); then
    wait -n || true
    running=$((running - 1))
  fi
done
wait
failed=()
summary=()
for target in "${targets[@]}"; do
  run="$build/run/$target"
  summary+=("$(cat "$run/summary" 2>/dev/null || echo "$target: no summary (the run did not finish)")")
  if [[ $(cat "$run/status" 2>/dev/null || echo missing) != 0 ]]; then
    failed+=("$target")
    cat "$run/report" >&2 2>/dev/null || echo "FUZZ FAILURE in $target: no status written; log: $run/log" >&2
  fi
done

echo "== fuzz summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "fuzz.sh: failures in ${failed[*]}; the reproducers are saved under fuzz/corpus/<target>/crash-*" >&2
  exit 1
fi
