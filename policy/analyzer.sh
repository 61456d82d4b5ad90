#!/usr/bin/env bash
# Runs this policy pack as an analyzer plugin, for a Pulumi CLI that has no Node.js language host
# (the toolchain built from Go modules in scripts/toolchain/). Pass this file's path instead of the
# directory:
#
#   pulumi preview --policy-pack "$PWD/policy/analyzer.sh"
#   stack.preview({ policyPacks: [path.join(repoRoot, "policy", "analyzer.sh")] })    (Automation API)
#
# Why it works: given a directory, the CLI runs a Node.js pack through the nodejs language host's
# RunPlugin, or else through a `pulumi-analyzer-policy-nodejs` plugin; neither exists here. Given an
# executable file, it launches it directly as an analyzer plugin (NewPolicyAnalyzer in
# pkg/resource/plugin/analyzer_plugin.go), reading the gRPC port from its first line of stdout,
# which is exactly what constructing a PolicyPack prints. With the language host (CI, a normal
# install) pass the directory, policy/, as usual.
#
# Engine arguments are ignored: @pulumi/policy needs none. The working directory is the pack's, as
# under the language host: PolicyPack reads its version from ./package.json.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
node="$root/node_modules/.bin/node"
[[ -x "$node" ]] || node="$(command -v node)"
cd "$here"
exec "$node" --import tsx ./index.ts
