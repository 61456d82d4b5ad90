#!/bin/sh
# The break-glass expiry: the BreakGlassExpiry CronJob runs this as `/bin/sh -c <script>`, in the
# bitnami/kubectl image as its own service account (in-cluster config, read-only root filesystem).
# Read at render time by components/breakglass/BreakGlassExpiry.ts; this header (up to the first blank line)
# stays in the repository, the rest is the script.
#
# CEL in admission has no clock, so something has to run: for every namespace whose
# gitops-control.io/break-glass-until label (the expiry in Unix seconds, set only by the program)
# has passed, it removes that label and the break-glass annotations, which puts the namespace back
# under the environment bindings of the rules the carve-out lifts (they skip namespaces carrying
# the label; no binding changes); and it turns automated sync back on for every Application in
# NAMESPACE whose break-glass has expired (removing its break-glass annotations), so Argo CD
# reverts the live hotfix to Git. It touches only objects carrying the label or annotation. Label
# and annotation names are components/core/labels.ts's (checked by tests/unit/scripts.test.ts).
#
# Environment: NAMESPACE (Argo CD's, default argocd); KUBECTL overrides the kubectl command (tests;
# unset in the container).

set -eu
K="${KUBECTL:-kubectl}"
NS="${NAMESPACE:-argocd}"
now=$(date +%s)
expired() { [ -n "$1" ] && [ "$(date -d "$1" +%s)" -le "$now" ]; }
$K get namespaces -l gitops-control.io/break-glass-until -o jsonpath='{range .items[*]}{.metadata.name}{"|"}{.metadata.labels.gitops-control\.io/break-glass-until}{"\n"}{end}' |
while IFS="|" read -r ns until; do
  if [ -n "$ns" ] && [ -n "$until" ] && [ "$until" -le "$now" ]; then
    echo "break-glass expired: namespace $ns governed again (label removed, expired at $(date -u -d "@$until" +%Y-%m-%dT%H:%M:%SZ))"
    $K patch namespace "$ns" --type merge -p '{"metadata":{"labels":{"gitops-control.io/break-glass-until":null},"annotations":{"gitops-control.io/break-glass-ticket":null,"gitops-control.io/break-glass-reason":null,"gitops-control.io/break-glass-expires":null,"gitops-control.io/break-glass-requested-by":null}}}'
  fi
done
$K get applications.argoproj.io -n "$NS" -o jsonpath='{range .items[*]}{.metadata.name}{"|"}{.metadata.annotations.gitops-control\.io/break-glass-expires}{"\n"}{end}' |
while IFS="|" read -r app exp; do
  if [ -n "$app" ] && expired "$exp"; then
    echo "break-glass expired: automated sync of Application $app back on (expired at $exp)"
    $K patch applications.argoproj.io "$app" -n "$NS" --type merge -p '{"metadata":{"annotations":{"gitops-control.io/break-glass-ticket":null,"gitops-control.io/break-glass-reason":null,"gitops-control.io/break-glass-expires":null,"gitops-control.io/break-glass-requested-by":null}},"spec":{"syncPolicy":{"automated":{"enabled":true}}}}'
  fi
done
