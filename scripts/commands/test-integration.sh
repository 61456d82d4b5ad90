#!/usr/bin/env bash
# Integration tests (real engine, API servers, Argo CD's reconcilers): one process per file, two
# files at a time. Each file runs its own API server (and reconcilers) on random loopback ports, and
# much of its time is spent waiting for controllers to converge.
#
# The files start longest first (times of a warm run), each in a node test runner of its own, two
# at a time (xargs -P 2): a long file started last would run alone at the end, and node's runner
# orders the files it is given by path, which put the reconciler file (the longest) last. Files not
# listed here follow in path order. A file's output is printed whole when it ends; the last lines
# list every file that failed. The toolchain's env must be sourced (scripts/commands/test.sh does).
#
# Usage: bash scripts/commands/test-integration.sh [test files…]   (default: every file)
#        INTEGRATION_CONCURRENCY=N for N files at a time (default 2)
set -euo pipefail
cd "$(dirname "$0")/../.."
longest_first=(reconcilers previews lifecycle breakGlassResume argoInputs policyPack crdStack layoutUrns alerts pruneGate spokeCluster guardrailReplay breakGlassExpiry)
files=()
if [[ $# -gt 0 ]]; then
  files=("$@")
else
  for name in "${longest_first[@]}"; do
    f="tests/integration/$name.test.ts"
    [[ -f $f ]] || { echo "[test] $f is listed in $0 but does not exist: update longest_first" >&2; exit 1; }
    files+=("$f")
  done
  for f in tests/integration/*.test.ts; do
    [[ " ${files[*]} " == *" $f "* ]] || files+=("$f")
  done
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export out
run_one() {
  local f=$1 log rc=0 t0=$SECONDS
  log="$out/$(basename "$f").log"
  node_modules/.bin/node --test --import tsx --test-reporter spec "$f" > "$log" 2>&1 || rc=$?
  {
    flock 9
    cat "$log"
    echo "[test] $f: $([[ $rc -eq 0 ]] && echo passed || echo "FAILED (exit $rc)") in $((SECONDS - t0)) s"
    [[ $rc -eq 0 ]] || echo "$f" >> "$out/failed"
  } 9>> "$out/lock"
  return 0
}
export -f run_one
t0=$SECONDS
# shellcheck disable=SC2016 # $1 is the inner shell's
printf '%s\n' "${files[@]}" | xargs -P "${INTEGRATION_CONCURRENCY:-2}" -I{} bash -c 'run_one "$1"' _ {}
touch "$out/failed"
echo "[test] integration: ${#files[@]} files in $((SECONDS - t0)) s, $(wc -l < "$out/failed") failed"
if [[ -s "$out/failed" ]]; then
  sed 's/^/[test]   failed: /' "$out/failed"
  exit 1
fi
