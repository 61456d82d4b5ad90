#!/usr/bin/env bash
# The whole test suite, as CI runs it: typecheck, lint and format, then unit tests (Pulumi mocks),
# then integration tests (real Pulumi engine + local kube-apiserver + Argo CD's reconcilers); unit and
# integration both run even if the first fails. The toolchain is built
# from Go modules on first use and reused from the cache afterwards (scripts/toolchain/install.sh).
# Unit tests only, without the toolchain: npm run test:unit (its promtool tests find promtool in the
# toolchain cache, and fail naming scripts/toolchain/build-prometheus.sh when it is not built).
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ -x node_modules/.bin/node ]] || npm ci --no-audit --no-fund
echo "[test] typecheck"
node_modules/.bin/tsc --noEmit -p .
echo "[test] lint (eslint.config.mjs) and formatting (.prettierrc.json)"
node_modules/.bin/eslint .
node_modules/.bin/prettier --check --log-level warn "**/*.{ts,mjs}" || { echo "[test] formatting differs: run npm run format" >&2; exit 1; }
echo "[test] toolchain (built once, then cached)"
# shellcheck disable=SC1090
source "$(bash scripts/toolchain/install.sh --print-env)"
echo "[test] unit tests (mocks, one shared process: scripts/commands/test-unit.sh)"
unit=0
bash scripts/commands/test-unit.sh || unit=$?
echo "[test] integration and reconciler tests (real engine, API server, Argo CD; one process per file, two at a time: scripts/commands/test-integration.sh)"
integration=0
bash scripts/commands/test-integration.sh || integration=$?
echo "[test] unit: $([[ $unit -eq 0 ]] && echo passed || echo "FAILED (exit $unit)"), integration: $([[ $integration -eq 0 ]] && echo passed || echo "FAILED (exit $integration)")"
[[ $unit -eq 0 && $integration -eq 0 ]]
