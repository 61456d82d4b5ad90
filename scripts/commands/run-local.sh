#!/usr/bin/env bash
# The main job on an embedded default: `pulumi up` of the `local-crds` stack (the Argo CD CRDs), then
# of the `local` stack, on a local file backend,
# against the cluster in $KUBECONFIG, or, when none is configured, a local API server started
# here (etcd + kube-apiserver on 127.0.0.1, left running; stop it with the command printed).
#
#   bash scripts/commands/run-local.sh            preview + up
#   bash scripts/commands/run-local.sh destroy    tear the stack down (and stop the local API server)
#
# State:   .local/state (file backend)      Cluster: .local/cluster (when started here)
# Argo CD: a local API server has no kubelet to run the chart's pods, so Argo CD's own reconcilers
#          (application controller, repo-server, ApplicationSet controller, built from Go modules)
#          run out of cluster as the chart's ServiceAccounts, state and logs in .local/reconcilers.
# Secrets: the local stack's public passphrase unless PULUMI_CONFIG_PASSPHRASE is set.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
action="${1:-up}"
case "$action" in
  up | destroy) ;;
  *) echo "run-local: unknown action \"$action\"; usage: bash scripts/commands/run-local.sh [up|destroy]" >&2; exit 2 ;;
esac
[[ -x node_modules/.bin/node ]] || npm ci --no-audit --no-fund
# Node 22 from node_modules first: the Pulumi language host runs the `node` it finds on PATH.
export PATH="$root/node_modules/.bin:$PATH"
# Before anything slow: the stack file parses and the Argo CD chart is reachable (configured path,
# else ../shared's fixture, else the chart repository). Otherwise one line with the fix, in seconds.
if [[ "$action" == up ]]; then tsx scripts/commands/check-chart.ts local; fi
# shellcheck disable=SC1090
source "$(bash scripts/toolchain/install.sh --print-env)"

mkdir -p .local/state
export PULUMI_BACKEND_URL="file://$root/.local/state"
own_passphrase="${PULUMI_CONFIG_PASSPHRASE:+1}"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-gitops-control-local}"

cluster_dir="$root/.local/cluster"
reconcilers_dir="$root/.local/reconcilers"
local_cluster=0
if [[ -z "${KUBECONFIG:-}" && ! -f "$HOME/.kube/config" ]]; then
  local_cluster=1
  if ! bash scripts/cluster/local-cluster.sh status "$cluster_dir" >/dev/null 2>&1; then
    rm -rf "$cluster_dir"
    bash scripts/cluster/local-cluster.sh start "$cluster_dir"
  fi
  export KUBECONFIG="$cluster_dir/kubeconfig"
  echo "[run-local] local API server: KUBECONFIG=$KUBECONFIG (stop: bash scripts/cluster/local-cluster.sh stop $cluster_dir)"
fi

# The engine runs the program inline through the Automation API: no Node.js language host could be
# built from the Go module proxy (see README). Same CLI, plugins, state and secrets as `pulumi up`.
# (Re)starts the out-of-cluster reconcilers of the local API server; they need the chart's
# ServiceAccounts, so after the first `up`.
start_reconcilers() {
  [[ "$local_cluster" == 1 ]] || return 0
  tsx scripts/cluster/reconcilers.ts stop "$reconcilers_dir"
  tsx scripts/cluster/reconcilers.ts start "$reconcilers_dir" "$KUBECONFIG"
  echo "[run-local] Argo CD reconcilers: logs in $reconcilers_dir (stop: npx tsx scripts/cluster/reconcilers.ts stop $reconcilers_dir)"
}

case "$action" in
  up)
    # The CRD stack first: the local stack reads the Argo CD version it installed (argocd.crds.stack).
    tsx scripts/commands/run-local.ts up local-crds
    tsx scripts/commands/run-local.ts up local
    start_reconcilers
    # What another shell needs to go on with a normally installed `pulumi` (and kubectl): the state,
    # the local stack's passphrase (public by design, see Pulumi.local.yaml) and the cluster.
    shown_passphrase="$PULUMI_CONFIG_PASSPHRASE"
    if [[ -n "$own_passphrase" ]]; then shown_passphrase='<the passphrase you set>'; fi
    cat <<EOF
[run-local] done. To continue in another shell (pulumi, kubectl):
export PULUMI_BACKEND_URL='$PULUMI_BACKEND_URL'
export PULUMI_CONFIG_PASSPHRASE='$shown_passphrase'
export KUBECONFIG='${KUBECONFIG:-$HOME/.kube/config}'
[run-local] then e.g.: pulumi stack output --show-secrets argocdAdminPassword --stack local
EOF
    ;;
  destroy)
    # Applications carry the cascade finalizer: a running controller deletes what they deployed.
    if [[ "$local_cluster" == 1 && -d "$reconcilers_dir" ]]; then start_reconcilers; fi
    tsx scripts/commands/run-local.ts destroy local
    # The CRDs are retained on delete: they stay in the cluster, with nothing of their kinds left.
    tsx scripts/commands/run-local.ts destroy local-crds
    tsx scripts/cluster/reconcilers.ts stop "$reconcilers_dir"
    if [[ -f "$cluster_dir/kubeconfig" ]]; then bash scripts/cluster/local-cluster.sh stop "$cluster_dir"; fi
    ;;
esac
