#!/usr/bin/env bash
# The whole test suite, as CI runs it: typecheck, then unit tests (Pulumi mocks) and integration
# tests (real Pulumi engine + local kube-apiserver); both run even if the first fails. The toolchain is built
# from Go modules on first use and reused from the cache afterwards (scripts/toolchain/install.sh).
# Unit tests only, without the toolchain: npm run test:unit
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -x node_modules/.bin/node ]] || npm ci --no-audit --no-fund
echo "[test] typecheck"
node_modules/.bin/tsc --noEmit -p .
echo "[test] toolchain (built once, then cached)"
# shellcheck disable=SC1090
source "$(bash scripts/toolchain/install.sh --print-env)"
echo "[test] unit tests (one shared process, scripts/test-unit.sh)"
unit=0
bash scripts/test-unit.sh || unit=$?
echo "[test] integration tests (one process per file)"
integration=0
node_modules/.bin/node --test --import tsx --test-reporter spec 'tests/integration/**/*.test.ts' || integration=$?
echo "[test] unit: $([[ $unit -eq 0 ]] && echo passed || echo "FAILED (exit $unit)"), integration: $([[ $integration -eq 0 ]] && echo passed || echo "FAILED (exit $integration)")"
[[ $unit -eq 0 && $integration -eq 0 ]]
