#!/usr/bin/env bash
# Build Argo CD's reconcilers (application controller, repo-server, ApplicationSet controller,
# notifications controller, git credential helper) and the Helm and kustomize binaries that
# Argo CD's repo-server calls, from Go modules, at the versions pinned in versions.env.
#
# Usage: scripts/toolchain/build-argocd.sh [--render-tools]
#   --render-tools   only helm and kustomize (what `npm run config-check` runs; the config
#                    repository's PR check builds just these, ~3 min cold)
#
# Cached OUTSIDE the repository, keyed by version (CACHE=${GITOPS_CONTROL_CACHE:-$HOME/.cache/gitops-control}):
#   $CACHE/src/argocd-<v>          generated wrapper module (go.mod + our main.go)
#   $CACHE/argocd-<v>/bin/         argocd-reconcilers, one symlink per command name,
#                                   git-verify-wrapper.sh (from the module, made executable)
#   $CACHE/argocd-<v>/crds/        the CRDs from the module's manifests/crds
#   $CACHE/helm-<v>/bin/helm, $CACHE/kustomize-<v>/bin/kustomize
#   $CACHE/argocd-env.sh           sourceable file putting those on PATH
#
# Idempotent: each part is skipped when its stamp names the pinned version. Cold on 2 cores:
# ~14 min for Argo CD (Go 1.27 toolchain fetched through the module proxy), ~3 min helm + kustomize.
#
# Why a wrapper module: argo-cd's go.mod replaces every k8s.io/* module (and a few others) and a
# dependency's replaces are ignored, so `go install` of its commands is refused. The wrapper
# requires argo-cd and its gitops-engine at the same version and repeats argo-cd's replace block,
# read from the pinned go.mod at run time (the `./gitops-engine` path replace is dropped: the
# published gitops-engine module of the same version is required instead).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/toolchain/versions.env
source "${SCRIPT_DIR}/versions.env"
: "${ARGOCD_VERSION:?ARGOCD_VERSION missing from versions.env}"
: "${ARGOCD_GO_TOOLCHAIN:?ARGOCD_GO_TOOLCHAIN missing from versions.env}"
: "${HELM_VERSION:?HELM_VERSION missing from versions.env}"
: "${KUSTOMIZE_VERSION:?KUSTOMIZE_VERSION missing from versions.env}"

CACHE="${GITOPS_CONTROL_CACHE:-$HOME/.cache/gitops-control}"
export GOMODCACHE="${GOMODCACHE:-$CACHE/go/mod}"
export GOCACHE="${GOCACHE:-$CACHE/go/build}"
# argo-cd v3.6 declares `go 1.27.0`; the go command fetches this toolchain through the proxy.
export GOTOOLCHAIN="$ARGOCD_GO_TOOLCHAIN"
export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-buildvcs=false"

ARGO_DIR="$CACHE/argocd-${ARGOCD_VERSION}"
ARGO_SRC="$CACHE/src/argocd-${ARGOCD_VERSION}"
HELM_DIR="$CACHE/helm-${HELM_VERSION}"
KUSTOMIZE_DIR="$CACHE/kustomize-${KUSTOMIZE_VERSION}"
ENV_FILE="$CACHE/argocd-env.sh"
ARGO_MODULE=github.com/argoproj/argo-cd/v3
ENGINE_MODULE=github.com/argoproj/argo-cd/gitops-engine/v3
COMMANDS=(argocd-application-controller argocd-repo-server argocd-applicationset-controller argocd-notifications argocd-git-ask-pass)

# shellcheck source=scripts/toolchain/common.sh
source "${SCRIPT_DIR}/common.sh"

command -v go >/dev/null 2>&1 || die "go is not on PATH (need ${GO_TOOLCHAIN_MIN:-a recent Go})"
mkdir -p "$GOMODCACHE" "$GOCACHE" "$CACHE/src"

# module_dir MODULE@VERSION -> directory of the downloaded module (dies naming a refused module).
module_dir() {
  local out dir
  if ! out="$(go mod download -json "$1" 2>&1)" || grep -q '"Error"' <<<"$out"; then
    echo "$out" >&2
    die "the Go module proxy refused $1 (see above)"
  fi
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$out")"
  [[ -d "$dir" ]] || die "no module directory for $1 after download"
  echo "$dir"
}


stamp_ok() { [[ -f "$1" ]] && [[ "$(cat "$1")" == "$2" ]]; }

# ---------------------------------------------------------------------------------------------
# Argo CD reconcilers
# ---------------------------------------------------------------------------------------------
ARGO_STAMP="argocd ${ARGOCD_VERSION} main=$(sha256sum "$SCRIPT_DIR/wrappers/argocd/main.go" | cut -c1-16)"
argo_ok() {
  stamp_ok "$ARGO_DIR/.stamp" "$ARGO_STAMP" || return 1
  local c
  for c in "${COMMANDS[@]}"; do [[ -x "$ARGO_DIR/bin/$c" ]] || return 1; done
  [[ -x "$ARGO_DIR/bin/git-verify-wrapper.sh" && -f "$ARGO_DIR/crds/application-crd.yaml" ]]
}

build_argo() {
  local t0 t1 v="$ARGOCD_VERSION" dir go_line replaces
  t0=$(date +%s)
  log "building Argo CD v${v} reconcilers with ${GOTOOLCHAIN} (cold ~14 min on 2 cores)..."
  dir="$(module_dir "${ARGO_MODULE}@v${v}")"
  module_dir "${ENGINE_MODULE}@v${v}" >/dev/null
  go_line="$(awk '$1 == "go" { print $2; exit }' "$dir/go.mod")"
  # The first replace block of argo-cd's go.mod, without comments and path (./) replaces.
  replaces="$(awk '/^replace \($/ { inblock = 1; next } inblock && /^\)$/ { exit } inblock' "$dir/go.mod" \
    | sed 's://.*$::' | awk 'NF && $4 !~ /^\./')"
  [[ -n "$replaces" ]] || die "found no replace block in ${ARGO_MODULE}@v${v} go.mod"
  log "  $(wc -l <<<"$replaces") replaces repeated from argo-cd's go.mod; upstream go ${go_line}"

  rm -rf "$ARGO_SRC" && mkdir -p "$ARGO_SRC"
  cp "$SCRIPT_DIR/wrappers/argocd/main.go" "$ARGO_SRC/main.go"
  {
    echo "// Generated by scripts/toolchain/build-argocd.sh. Wrapper to build Argo CD v${v}'s reconcilers."
    echo "module gitops-control.local/argocd-reconcilers"
    echo
    echo "go ${go_line}"
    echo
    echo "require ("
    echo "	${ARGO_MODULE} v${v}"
    echo "	${ENGINE_MODULE} v${v}"
    echo ")"
    echo
    echo "replace ("
    echo "$replaces"
    echo ")"
  } >"$ARGO_SRC/go.mod"

  t1=$(date +%s)
  (cd "$ARGO_SRC" && run_logged "$ARGO_SRC/tidy.log" "go mod tidy for ${ARGO_MODULE}@v${v}" go mod tidy)
  log "  modules resolved and downloaded in $(elapsed "$t1")"
  t1=$(date +%s)
  mkdir -p "$ARGO_DIR/bin" "$ARGO_DIR/crds"
  (cd "$ARGO_SRC" && run_logged "$ARGO_SRC/build.log" "go build Argo CD v${v} reconcilers" \
    go build -trimpath -ldflags "-s -w -X ${ARGO_MODULE}/common.version=${v} -X ${ARGO_MODULE}/common.gitTreeState=clean" \
    -o "$ARGO_DIR/bin/argocd-reconcilers" .)
  log "  compiled in $(elapsed "$t1")"
  local c
  for c in "${COMMANDS[@]}"; do ln -sfn argocd-reconcilers "$ARGO_DIR/bin/$c"; done
  # The repo-server's git runs GIT_ASKPASS=argocd with ARGOCD_BINARY_NAME=argocd-git-ask-pass.
  ln -sfn argocd-reconcilers "$ARGO_DIR/bin/argocd"
  # Module files are read-only and lose their run bits; the repo-server execs this script by name.
  install -m 0755 "$dir/hack/git-verify-wrapper.sh" "$ARGO_DIR/bin/git-verify-wrapper.sh"
  install -m 0644 "$dir"/manifests/crds/application-crd.yaml "$dir"/manifests/crds/applicationset-crd.yaml \
    "$dir"/manifests/crds/appproject-crd.yaml "$ARGO_DIR/crds/"
  echo "$ARGO_STAMP" >"$ARGO_DIR/.stamp"
  log "Argo CD v${v} done in $(elapsed "$t0")"
}

# ---------------------------------------------------------------------------------------------
# helm and kustomize (what Argo CD v${ARGOCD_VERSION}'s hack/tool-versions.sh pins)
# ---------------------------------------------------------------------------------------------
go_install_tool() { # NAME MODULE_PATH VERSION DIR
  local name="$1" pkg="$2" v="$3" out="$4" t0
  if stamp_ok "$out/.stamp" "$name $v" && [[ -x "$out/bin/$name" ]]; then
    log "$name v${v} already built ($out/bin)"; return
  fi
  t0=$(date +%s)
  log "building $name v${v}..."
  mkdir -p "$out/bin"
  GOBIN="$out/bin" run_logged "$out/install.log" "go install ${pkg}@v${v}" go install -trimpath -ldflags "-s -w" "${pkg}@v${v}"
  echo "$name $v" >"$out/.stamp"
  log "$name v${v} done in $(elapsed "$t0")"
}

RENDER_TOOLS_ONLY=false
[[ "${1:-}" == "--render-tools" ]] && RENDER_TOOLS_ONLY=true

T0=$(date +%s)
if [[ "$RENDER_TOOLS_ONLY" == true ]]; then
  log "--render-tools: helm and kustomize only"
else
  for tool in redis-server git; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed: run 'apt-get install -y redis-server git' (scripts/toolchain/install.sh does this as root)"
  done
  if argo_ok; then log "Argo CD v${ARGOCD_VERSION} already built ($ARGO_DIR/bin)"; else build_argo; fi
fi
go_install_tool helm helm.sh/helm/v4/cmd/helm "$HELM_VERSION" "$HELM_DIR"

# kustomize v5.8.3 requires a k8s.io/kube-openapi pseudo-version the proxy refuses: a wrapper module
# replaces it with the one the pinned argo-cd requires (served: Argo CD builds with it).
build_kustomize() {
  local v="$KUSTOMIZE_VERSION" t0 src="$CACHE/src/kustomize-${KUSTOMIZE_VERSION}" argo_dir openapi go_line kdir
  if stamp_ok "$KUSTOMIZE_DIR/.stamp" "kustomize $v" && [[ -x "$KUSTOMIZE_DIR/bin/kustomize" ]]; then
    log "kustomize v${v} already built ($KUSTOMIZE_DIR/bin)"; return
  fi
  t0=$(date +%s)
  log "building kustomize v${v}..."
  argo_dir="$(module_dir "${ARGO_MODULE}@v${ARGOCD_VERSION}")"
  openapi="$(awk '$1 == "k8s.io/kube-openapi" { print $2; exit }' "$argo_dir/go.mod")"
  [[ -n "$openapi" ]] || die "no k8s.io/kube-openapi requirement in ${ARGO_MODULE}@v${ARGOCD_VERSION} go.mod"
  kdir="$(module_dir "sigs.k8s.io/kustomize/kustomize/v5@v${v}")"
  go_line="$(awk '$1 == "go" { print $2; exit }' "$kdir/go.mod")"
  rm -rf "$src" && mkdir -p "$src" "$KUSTOMIZE_DIR/bin"
  printf '%s\n' \
    "// Generated by scripts/toolchain/build-argocd.sh. Wrapper to build kustomize v${v}." \
    "module gitops-control.local/kustomize" "" "go ${go_line}" "" \
    "require sigs.k8s.io/kustomize/kustomize/v5 v${v}" "" \
    "replace k8s.io/kube-openapi => k8s.io/kube-openapi ${openapi}" "" \
    "tool sigs.k8s.io/kustomize/kustomize/v5" >"$src/go.mod"
  (cd "$src" && run_logged "$src/tidy.log" "go mod tidy for kustomize v${v} (kube-openapi ${openapi})" go mod tidy)
  (cd "$src" && run_logged "$src/build.log" "go build kustomize v${v}" \
    go build -trimpath -ldflags "-s -w -X sigs.k8s.io/kustomize/api/provenance.version=v${v}" -o "$KUSTOMIZE_DIR/bin/kustomize" sigs.k8s.io/kustomize/kustomize/v5)
  echo "kustomize $v" >"$KUSTOMIZE_DIR/.stamp"
  log "kustomize v${v} done in $(elapsed "$t0")"
}
build_kustomize

new_env="# Generated by scripts/toolchain/build-argocd.sh
export GITOPS_ARGOCD_BIN=\"$ARGO_DIR/bin\"
export GITOPS_ARGOCD_CRDS=\"$ARGO_DIR/crds\"
export GITOPS_ARGOCD_VERSION=\"$ARGOCD_VERSION\"
case \":\$PATH:\" in *\":$ARGO_DIR/bin:\"*) ;; *) export PATH=\"$ARGO_DIR/bin:\$PATH\" ;; esac
case \":\$PATH:\" in *\":$HELM_DIR/bin:\"*) ;; *) export PATH=\"$HELM_DIR/bin:\$PATH\" ;; esac
case \":\$PATH:\" in *\":$KUSTOMIZE_DIR/bin:\"*) ;; *) export PATH=\"$KUSTOMIZE_DIR/bin:\$PATH\" ;; esac"
if [[ ! -f "$ENV_FILE" ]] || [[ "$(cat "$ENV_FILE")" != "$new_env" ]]; then
  printf '%s\n' "$new_env" >"$ENV_FILE"
fi
log "Argo CD, helm, kustomize ready (total $(elapsed "$T0")); env file: $ENV_FILE"
