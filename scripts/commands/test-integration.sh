#!/usr/bin/env bash
# Integration tests (real engine, API servers, Argo CD's reconcilers): one process per file, two
# files at a time. Each file runs its own API server (and reconcilers) on random loopback ports, and
# much of its time is spent waiting for controllers to converge.
#
# The files start longest first (times of a warm CI run): node's runner starts them in the order
# given, so a long file started last would run alone at the end (the reconciler file, ≈ 13 min, was
# last in alphabetical order: about 7 minutes of the run with one slot idle). Files not listed here
# follow in alphabetical order. The toolchain's env must be sourced (scripts/commands/test.sh does).
#
# Usage: bash scripts/commands/test-integration.sh [test files…]   (default: every file)
set -euo pipefail
cd "$(dirname "$0")/../.."
longest_first=(reconcilers previews lifecycle argoInputs policyPack crdStack layoutUrns alerts pruneGate spokeCluster guardrailReplay breakGlassExpiry)
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
exec node_modules/.bin/node --test --import tsx --test-reporter spec --test-concurrency="${INTEGRATION_CONCURRENCY:-2}" "${files[@]}"
