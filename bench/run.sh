#!/usr/bin/env bash
# `npm run bench`: the scaling benchmarks (bench/run.ts) with the pinned toolchain on PATH, as
# scripts/commands/test.sh loads it (built on first use, then reused). Not part of the test suite.
#   npm run bench [-- --reps 5] [-- --sections mocks,real,up,chart,cel]
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x node_modules/.bin/node ]] || npm ci --no-audit --no-fund
# shellcheck disable=SC1090
source "$(bash scripts/toolchain/install.sh --print-env)"
export PATH="$PWD/node_modules/.bin:$PATH"
exec node_modules/.bin/node --import tsx bench/run.ts "$@"
