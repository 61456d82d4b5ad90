#!/usr/bin/env bash
# Builds the pinned Pulumi toolchain from Go modules into a cache outside the repo, then writes
# $CACHE/env.sh for other scripts to source. Idempotent: a warm run only checks stamps.
#
#   CLI        github.com/pulumi/pulumi/pkg/v3/cmd/pulumi                      -> $CACHE/pulumi-$V/bin/pulumi
#   nodejs     github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs -> next to pulumi (if served)
#   kubernetes github.com/pulumi/pulumi-kubernetes/provider/v4                 -> $PULUMI_HOME/plugins/resource-kubernetes-vX/
#   random     terraform-provider-random bridged with pulumi-terraform-bridge  -> $PULUMI_HOME/plugins/resource-random-vX/
#
# Versions: scripts/toolchain/versions.env. Wrapper main packages: scripts/toolchain/wrappers/.
# Env: GITOPS_CONTROL_CACHE (default ~/.cache/gitops-control); GOMODCACHE/GOCACHE are kept if set.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WRAPPERS="$HERE/wrappers"
# shellcheck source=versions.env
source "$HERE/versions.env"

CACHE="${GITOPS_CONTROL_CACHE:-$HOME/.cache/gitops-control}"
BIN="$CACHE/pulumi-$PULUMI_VERSION/bin"
SRC="$CACHE/src"
LOGS="$CACHE/logs"
PULUMI_HOME_DIR="$CACHE/pulumi-home"
PLUGINS="$PULUMI_HOME_DIR/plugins"
mkdir -p "$BIN" "$SRC" "$LOGS" "$PLUGINS"

# One build at a time per cache (a second caller waits, then finds everything up to date).
if command -v flock >/dev/null; then
  exec 9>"$CACHE/.build-pulumi.lock"
  flock -n 9 || { printf '[toolchain] another build-pulumi.sh holds %s; waiting...\n' "$CACHE/.build-pulumi.lock"; flock 9; }
fi

export GOMODCACHE="${GOMODCACHE:-$CACHE/go/mod}"
export GOCACHE="${GOCACHE:-$CACHE/go/build}"
export GOFLAGS="-mod=mod -buildvcs=false"
export GOWORK=off
export CGO_ENABLED=0

log() { printf '[toolchain] %s\n' "$*"; }
# Go's errors name the proxy URL; keep only the module path and the reason.
redact() { sed -E 's#reading https?://[^ ]*: ##; s#https?://[^ ]*#<module proxy>#g'; }
die() { printf '[toolchain] ERROR: %s\n' "$*" >&2; exit 1; }
elapsed() { local s=$(($(date +%s) - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

command -v go >/dev/null || die "go is not on PATH (need $GO_TOOLCHAIN_MIN or newer)"
go_have="$(go env GOVERSION)"
if [ "$(printf '%s\n%s\n' "$GO_TOOLCHAIN_MIN" "$go_have" | sort -V | head -n1)" != "$GO_TOOLCHAIN_MIN" ]; then
  log "local $go_have is older than $GO_TOOLCHAIN_MIN: using GOTOOLCHAIN=$GO_TOOLCHAIN_MIN (fetched as a Go module)"
  export GOTOOLCHAIN="$GO_TOOLCHAIN_MIN"
fi

# Hash of the wrapper sources of one component, so that editing a wrapper triggers a rebuild.
wrapper_hash() { (cd "$WRAPPERS/$1" && find . -type f -name '*.go' | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16); }

# fetch_module MODULE VERSION: download a module; print its directory. On refusal explain and return 1.
fetch_module() {
  local out dir
  out="$(cd "$SRC" && go mod download -json "$1@$2" 2>&1)" || true
  dir="$(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    printf '[toolchain] the Go module proxy did not serve %s@%s:\n' "$1" "$2" >&2
    printf '%s\n' "$out" | sed -n 's/^[[:space:]]*"Error": //p; /^go: /p' | redact | sed 's/^/    /' >&2
    printf '[toolchain]   try: go list -m -versions %s   (tagged versions it serves), or\n' "$1" >&2
    printf '[toolchain]        the pseudo-version of another commit; then update scripts/toolchain/versions.env\n' >&2
    return 1
  fi
  printf '%s\n' "$dir"
}

# run_logged STEP CMD...: run a command with its output in $LOGS/STEP.log; show the tail on failure.
run_logged() {
  local step="$1"; shift
  if ! "$@" >>"$LOGS/$step.log" 2>&1; then
    printf '[toolchain] ERROR: %s failed; last lines of %s:\n' "$step" "$LOGS/$step.log" >&2
    tail -n 25 "$LOGS/$step.log" | redact | sed 's/^/    /' >&2
    if grep -qE '403 Forbidden|not available|410 Gone|404 Not Found' "$LOGS/$step.log"; then
      printf '[toolchain]   a dependency was refused by the Go module proxy (see the lines above): pin a served\n' >&2
      printf '[toolchain]   version with a require/replace in the wrapper go.mod written by %s\n' "$0" >&2
    fi
    exit 1
  fi
}

# install_plugin KIND NAME VERSION BINARY: install where the engine looks without downloading:
# $PULUMI_HOME/plugins/KIND-NAME-vVERSION/pulumi-KIND-NAME. A sibling ".partial" file makes the
# engine skip the folder (plugins.go, GetPluginsFromDir), so it marks the copy as in progress.
install_plugin() {
  local dir="$PLUGINS/$1-$2-v$3"
  mkdir -p "$dir"
  : >"$dir.partial"
  install -m 0755 "$4" "$dir/pulumi-$1-$2"
  rm -f "$dir.partial"
}

missing=()
ldflags_base="-s -w"

# ---------------------------------------------------------------------------------------------
# 1. Pulumi CLI. pkg/go.mod replaces sdk/v3 with ../sdk and atotto/clipboard with a fork; `go
#    install …@version` refuses replace directives, so a wrapper module requires pkg/v3 and sdk/v3
#    at the same version and repeats the clipboard replace.
# ---------------------------------------------------------------------------------------------
build_cli() {
  local v="v$PULUMI_VERSION" t0 dir stamp="$BIN/.pulumi.stamp" key
  key="pulumi $v $(go env GOVERSION)"
  if [ -x "$BIN/pulumi" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ] \
    && [ "$("$BIN/pulumi" version 2>/dev/null)" = "$v" ]; then
    log "pulumi CLI $v: up to date ($BIN/pulumi)"; return
  fi
  t0=$(date +%s)
  log "building pulumi CLI $v (cold build ~3 min on 2 idle cores, longer when they are busy)..."
  fetch_module github.com/pulumi/pulumi/pkg/v3 "$v" >/dev/null || die "cannot build the pulumi CLI"
  fetch_module github.com/pulumi/pulumi/sdk/v3 "$v" >/dev/null || die "cannot build the pulumi CLI"
  dir="$SRC/pulumi-cli-$v"; mkdir -p "$dir"; : >"$LOGS/pulumi-cli.log"
  cat >"$dir/go.mod" <<EOF
module gitops-control.local/toolchain/pulumi-cli

go 1.25.11

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
EOF
  rm -f "$dir/go.sum"
  (cd "$dir" && run_logged pulumi-cli go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$v" "github.com/pulumi/pulumi/sdk/v3@$v")
  (cd "$dir" && run_logged pulumi-cli go build -trimpath -o "$BIN/pulumi.new" \
    -ldflags "$ldflags_base -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$v" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  mv -f "$BIN/pulumi.new" "$BIN/pulumi"
  printf '%s\n' "$key" >"$stamp"
  log "pulumi CLI $v: built in $(elapsed "$t0")"
}

# ---------------------------------------------------------------------------------------------
# 2. Node.js language host: its own untagged module, pinned by the pseudo-version of the
#    pkg/v3.$PULUMI_VERSION commit. It goes next to pulumi, where the CLI looks for bundled
#    language hosts. Optional: when the proxy refuses it, only Automation API inline programs run.
# ---------------------------------------------------------------------------------------------
build_language_nodejs() {
  local mod=github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3
  local mv="$PULUMI_LANGUAGE_NODEJS_MODULE_VERSION" v="v$PULUMI_VERSION" t0 dir
  local stamp="$BIN/.pulumi-language-nodejs.stamp" key
  key="pulumi-language-nodejs $mv $v $(go env GOVERSION)"
  if [ -x "$BIN/pulumi-language-nodejs" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then
    log "pulumi-language-nodejs $mv: up to date"; return
  fi
  t0=$(date +%s)
  log "building pulumi-language-nodejs ($mod@$mv, ~2 min after the CLI)..."
  if ! fetch_module "$mod" "$mv" >/dev/null; then
    log "WARNING: no pulumi-language-nodejs: \`pulumi up\` on a Pulumi.yaml nodejs project cannot run."
    log "         Automation API inline programs (LocalWorkspace + program: async () => ...) still work:"
    log "         the Node.js process serves the language runtime itself (pulumi --client=ADDR)."
    missing+=("pulumi-language-nodejs")
    return
  fi
  dir="$SRC/pulumi-language-nodejs-$v"; mkdir -p "$dir"; : >"$LOGS/pulumi-language-nodejs.log"
  cat >"$dir/go.mod" <<EOF
module gitops-control.local/toolchain/pulumi-language-nodejs

go 1.25.11

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
EOF
  rm -f "$dir/go.sum"
  (cd "$dir" && run_logged pulumi-language-nodejs go get "$mod@$mv" \
    "github.com/pulumi/pulumi/pkg/v3@$v" "github.com/pulumi/pulumi/sdk/v3@$v")
  (cd "$dir" && run_logged pulumi-language-nodejs go build -trimpath -o "$BIN/pulumi-language-nodejs.new" \
    -ldflags "$ldflags_base -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$v" "$mod")
  mv -f "$BIN/pulumi-language-nodejs.new" "$BIN/pulumi-language-nodejs"
  printf '%s\n' "$key" >"$stamp"
  log "pulumi-language-nodejs: built in $(elapsed "$t0")"
}

# ---------------------------------------------------------------------------------------------
# 3. Kubernetes provider. Its main embeds schema-embed.json/terraform-mapping-embed.json, which
#    its Makefile generates and the module zip lacks: the wrapper main (wrappers/
#    pulumi-resource-kubernetes) embeds the committed schema.json/terraform-mapping.json copied
#    from the module directory. The replace of sdk/v4 => ../sdk is dropped (sdk/v4 is served).
# ---------------------------------------------------------------------------------------------
build_kubernetes() {
  local mod=github.com/pulumi/pulumi-kubernetes/provider/v4
  local mv="$PULUMI_KUBERNETES_PROVIDER_MODULE_VERSION" pv="$PULUMI_KUBERNETES_PROVIDER_VERSION"
  local plugin="$PLUGINS/resource-kubernetes-v$pv/pulumi-resource-kubernetes" t0 dir mdir key
  key="kubernetes $pv $mv $(wrapper_hash pulumi-resource-kubernetes) $(go env GOVERSION)"
  if [ -x "$plugin" ] && [ "$(cat "$plugin.stamp" 2>/dev/null)" = "$key" ]; then
    log "kubernetes provider v$pv: up to date"; return
  fi
  t0=$(date +%s)
  log "building kubernetes provider v$pv ($mod@$mv, cold build ~5 min)..."
  mdir="$(fetch_module "$mod" "$mv")" || die "cannot build the kubernetes provider"
  dir="$SRC/pulumi-resource-kubernetes-$pv"; rm -rf "$dir"; mkdir -p "$dir"; : >"$LOGS/pulumi-resource-kubernetes.log"
  cp "$WRAPPERS/pulumi-resource-kubernetes/main.go" "$dir/"
  cp "$mdir/cmd/pulumi-resource-kubernetes/schema.json" "$mdir/cmd/pulumi-resource-kubernetes/terraform-mapping.json" "$dir/"
  chmod u+w "$dir"/*
  cat >"$dir/go.mod" <<EOF
module gitops-control.local/toolchain/pulumi-resource-kubernetes

go 1.24.7

require $mod $mv
EOF
  (cd "$dir" && run_logged pulumi-resource-kubernetes go get "$mod/pkg/provider@$mv" "$mod/pkg/version@$mv")
  (cd "$dir" && run_logged pulumi-resource-kubernetes go build -trimpath -o "$dir/pulumi-resource-kubernetes" \
    -ldflags "$ldflags_base -X $mod/pkg/version.Version=$pv" .)
  install_plugin resource kubernetes "$pv" "$dir/pulumi-resource-kubernetes"
  rm -f "$dir/pulumi-resource-kubernetes"
  printf '%s\n' "$key" >"$plugin.stamp"
  log "kubernetes provider v$pv: built in $(elapsed "$t0")"
}

# ---------------------------------------------------------------------------------------------
# 4. Random provider: github.com/pulumi/pulumi-random/provider/v4 is not served, so the plugin is
#    assembled from its parts (wrappers/pulumi-random): the Terraform random provider (reached
#    through a local "shim" module, since it lives in an internal package), pulumi-terraform-bridge
#    and the bridge's terraform-plugin-sdk fork. A tfgen step writes schema.json and
#    bridge-metadata.json, which the provider binary embeds.
# ---------------------------------------------------------------------------------------------
build_random() {
  local pv="$PULUMI_RANDOM_VERSION" tfmod=github.com/terraform-providers/terraform-provider-random
  local bridge=github.com/pulumi/pulumi-terraform-bridge/v3
  local plugin="$PLUGINS/resource-random-v$pv/pulumi-resource-random" t0 dir key
  key="random $pv $PULUMI_RANDOM_TF_PROVIDER_MODULE_VERSION $PULUMI_TERRAFORM_BRIDGE_VERSION"
  key="$key $PULUMI_TERRAFORM_PLUGIN_SDK_FORK_VERSION $(wrapper_hash pulumi-random) $(go env GOVERSION)"
  if [ -x "$plugin" ] && [ "$(cat "$plugin.stamp" 2>/dev/null)" = "$key" ]; then
    log "random provider v$pv: up to date"; return
  fi
  t0=$(date +%s)
  log "building random provider v$pv (terraform-provider-random + bridge $PULUMI_TERRAFORM_BRIDGE_VERSION, cold build ~1-2 min after the CLI)..."
  fetch_module "$tfmod" "$PULUMI_RANDOM_TF_PROVIDER_MODULE_VERSION" >/dev/null || die "cannot build the random provider"
  fetch_module "$bridge" "$PULUMI_TERRAFORM_BRIDGE_VERSION" >/dev/null || die "cannot build the random provider"
  fetch_module github.com/pulumi/terraform-plugin-sdk/v2 "$PULUMI_TERRAFORM_PLUGIN_SDK_FORK_VERSION" >/dev/null \
    || die "cannot build the random provider"
  dir="$SRC/pulumi-random-$pv"; rm -rf "$dir"; mkdir -p "$dir"; : >"$LOGS/pulumi-random.log"
  cp -R "$WRAPPERS/pulumi-random/." "$dir/"
  cat >"$dir/shim/go.mod" <<EOF
module $tfmod/shim

go 1.25.8

require (
	github.com/hashicorp/terraform-plugin-framework $PULUMI_RANDOM_TERRAFORM_PLUGIN_FRAMEWORK_VERSION
	$tfmod $PULUMI_RANDOM_TF_PROVIDER_MODULE_VERSION
)
EOF
  # The bridge's tfgen imports two modules at pseudo-versions the proxy refuses; it needs only a few
  # schema data types from them (and example translation, skipped): local stand-ins, see stubs/.
  local stub
  for stub in "github.com/pulumi/pulumi-yaml pulumi-yaml" \
    "github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3 pulumi-language-dotnet"; do
    cat >"$dir/stubs/${stub#* }/go.mod" <<EOF
module ${stub% *}

go 1.25.11

require (
	github.com/hashicorp/hcl/v2 v2.24.0
	github.com/pulumi/pulumi/pkg/v3 v3.253.0
)
EOF
  done
  cat >"$dir/go.mod" <<EOF
module gitops-control.local/toolchain/pulumi-random

go 1.25.11

require (
	$bridge $PULUMI_TERRAFORM_BRIDGE_VERSION
	$tfmod/shim v0.0.0
)

replace $tfmod/shim => ./shim

replace github.com/hashicorp/terraform-plugin-sdk/v2 => github.com/pulumi/terraform-plugin-sdk/v2 $PULUMI_TERRAFORM_PLUGIN_SDK_FORK_VERSION

replace github.com/pulumi/pulumi-yaml => ./stubs/pulumi-yaml

replace github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3 => ./stubs/pulumi-language-dotnet
EOF
  (cd "$dir" && run_logged pulumi-random go get "$bridge@$PULUMI_TERRAFORM_BRIDGE_VERSION" \
    "$tfmod@$PULUMI_RANDOM_TF_PROVIDER_MODULE_VERSION" \
    "github.com/hashicorp/terraform-plugin-framework@$PULUMI_RANDOM_TERRAFORM_PLUGIN_FRAMEWORK_VERSION")
  local ld="$ldflags_base -X main.version=$pv"
  (cd "$dir" && run_logged pulumi-random go build -trimpath -o "$dir/pulumi-tfgen-random" -ldflags "$ld" ./cmd/pulumi-tfgen-random)
  (cd "$dir" && run_logged pulumi-random ./pulumi-tfgen-random schema --out cmd/pulumi-resource-random --skip-docs --skip-examples)
  [ -s "$dir/cmd/pulumi-resource-random/schema.json" ] || die "tfgen wrote no schema.json (see $LOGS/pulumi-random.log)"
  [ -f "$dir/cmd/pulumi-resource-random/bridge-metadata.json" ] || die "tfgen wrote no bridge-metadata.json"
  (cd "$dir" && run_logged pulumi-random go build -trimpath -o "$dir/pulumi-resource-random" -ldflags "$ld" ./cmd/pulumi-resource-random)
  install_plugin resource random "$pv" "$dir/pulumi-resource-random"
  rm -f "$dir/pulumi-resource-random" "$dir/pulumi-tfgen-random"
  printf '%s\n' "$key" >"$plugin.stamp"
  log "random provider v$pv: built in $(elapsed "$t0")"
}

# ---------------------------------------------------------------------------------------------
t_all=$(date +%s)
for step in build_cli build_language_nodejs build_kubernetes build_random; do
  t_step=$(date +%s)
  "$step"
  log "  ($step: $(elapsed "$t_step"))"
done

# --- verify ------------------------------------------------------------------------------------
got="$("$BIN/pulumi" version)"
[ "$got" = "v$PULUMI_VERSION" ] || die "pulumi version printed '$got', expected v$PULUMI_VERSION"
log "verified: pulumi version = $got"
for p in kubernetes:"$PULUMI_KUBERNETES_PROVIDER_VERSION" random:"$PULUMI_RANDOM_VERSION"; do
  name="${p%%:*}" ver="${p#*:}"
  exe="$PLUGINS/resource-$name-v$ver/pulumi-resource-$name"
  got="$("$exe" -version 2>&1 | tail -n1)" || die "$exe does not run: $got"
  [ "$got" = "$ver" ] || die "$exe -version printed '$got', expected $ver"
  log "verified: pulumi-resource-$name -version = $got"
done
if [ "$PULUMI_KUBERNETES_PROVIDER_VERSION" != "$PULUMI_KUBERNETES_VERSION" ]; then
  log "NOTE: kubernetes plugin is v$PULUMI_KUBERNETES_PROVIDER_VERSION but PULUMI_KUBERNETES_VERSION (the SDK) is"
  log "      v$PULUMI_KUBERNETES_VERSION; the engine wants an exact version match, so pin @pulumi/kubernetes to"
  log "      $PULUMI_KUBERNETES_PROVIDER_VERSION (or set the resource option version: \"$PULUMI_KUBERNETES_PROVIDER_VERSION\")."
fi

# --- env.sh ------------------------------------------------------------------------------------
bash "$HERE/pulumi-env.sh" "$BIN" "$PULUMI_HOME_DIR" >"$CACHE/env.sh.new"
mv -f "$CACHE/env.sh.new" "$CACHE/env.sh"

if [ "${#missing[@]}" -gt 0 ]; then
  log "not available from the Go module proxy (skipped): ${missing[*]}"
fi
log "done in $(elapsed "$t_all"); cache: $CACHE"
log "env: source $CACHE/env.sh"
