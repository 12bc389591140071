# Sourced by check.sh and check_wheel.sh (after they set $work): quiet steps that show their output
# only when they fail.

# step <name> <command...>: runs the command with its output in $work/<name>.log, printed on failure.
step() {
  local name=$1
  shift
  if ! "$@" >"$work/$name.log" 2>&1; then
    cat "$work/$name.log"
    echo "FAILED: $name: $*" >&2
    exit 1
  fi
}

fail() {
  echo "FAILED: $*" >&2
  exit 1
}
