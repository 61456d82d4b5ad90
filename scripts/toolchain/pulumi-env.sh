#!/usr/bin/env bash
# Prints the Pulumi part of the toolchain's env file (build-pulumi.sh writes it to $CACHE/env.sh).
#
#   bash scripts/toolchain/pulumi-env.sh <bin dir of the pinned CLI> <its PULUMI_HOME>
#
# The Automation API route (scripts/lib/engine.ts) and the tests always run the pinned CLI, found
# through GITOPS_CONTROL_PULUMI_ROOT/_HOME. A normally installed CLI, one with its Node.js language
# host, stays the shell's `pulumi` with its own home and plugins: the env file must not hide it
# (this CLI has no language host, so a plain `pulumi preview` of index.ts would fail with it).
# Only when there is none does the pinned CLI become `pulumi`, its plugins taken only from its
# home (exact versions), never from a same-named binary on $PATH.
set -euo pipefail
bin="$1" home="$2"
cat <<EOF
# Written by scripts/toolchain/build-pulumi.sh (scripts/toolchain/pulumi-env.sh); source it to use
# the locally built Pulumi toolchain.
export GITOPS_CONTROL_PULUMI_ROOT="$(dirname "$bin")"
export GITOPS_CONTROL_PULUMI_HOME="$home"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
_gc_pulumi="\$(command -v pulumi 2>/dev/null || true)"
if ! command -v pulumi-language-nodejs >/dev/null 2>&1 && ! [ -x "\$(dirname "\${_gc_pulumi:-.}")/pulumi-language-nodejs" ]; then
  case ":\$PATH:" in
    ":$bin:"*) ;;
    *) export PATH="$bin:\$PATH" ;;
  esac
  export PULUMI_HOME="$home"
  export PULUMI_IGNORE_AMBIENT_PLUGINS=true
fi
unset _gc_pulumi
EOF
