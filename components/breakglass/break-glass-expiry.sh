#!/bin/sh
# The break-glass expiry: the BreakGlassExpiry CronJob runs this as `/bin/sh -c <script>`, in the
# bitnami/kubectl image as its own service account (in-cluster config, read-only root filesystem).
# Read at render time by components/breakglass/BreakGlassExpiry.ts; this header (up to the first blank line)
# stays in the repository, the rest is the script.
#
# CEL in admission has no clock, so something has to run: for every break-glass binding whose
# break-glass-expires annotation has passed, it puts the namespaces back under the environment
# bindings (removes them from their NotIn carve-out), deletes the break-glass binding, and turns
# automated sync back on for every Application in NAMESPACE whose break-glass has expired (removing
# its break-glass annotations), so Argo CD reverts the live hotfix to Git. It touches only objects
# carrying that annotation, or carve-outs of the namespaces of such a binding. Label and annotation
# names are components/core/labels.ts's (checked by tests/unit/scripts.test.ts).
#
# Environment: NAMESPACE (Argo CD's, default argocd); KUBECTL overrides the kubectl command (tests;
# unset in the container).

set -eu
K="${KUBECTL:-kubectl}"
NS="${NAMESPACE:-argocd}"
now=$(date +%s)
expired() { [ -n "$1" ] && [ "$(date -d "$1" +%s)" -le "$now" ]; }
names() { printf '%s\n' "$1" | tr -d '[]"' | tr ',' '\n' | grep -v '^$' || true; }
listing=$($K get validatingadmissionpolicybindings -l app.kubernetes.io/managed-by=gitops-control -o jsonpath='{range .items[*]}{.metadata.name}{"|"}{.metadata.annotations.gitops-control\.io/break-glass-expires}{"|"}{.spec.matchResources.namespaceSelector.matchExpressions[0].operator}{"|"}{.spec.matchResources.namespaceSelector.matchExpressions[0].values}{"\n"}{end}')
gone=$(printf '%s\n' "$listing" | while IFS="|" read -r name exp op values; do
  if [ -n "$name" ] && [ "$op" = In ] && expired "$exp"; then names "$values"; fi
done | sort -u)
if [ -n "$gone" ]; then
  printf '%s\n' "$listing" | while IFS="|" read -r name exp op values; do
    # Only environment bindings (no expiry of their own) that carve namespaces out.
    if [ -z "$name" ] || [ -n "$exp" ] || [ "$op" != NotIn ]; then continue; fi
    all=$(names "$values")
    keep=$(printf '%s\n' "$all" | grep -vxF "$gone" || true)
    [ "$keep" = "$all" ] && continue
    if [ -z "$keep" ]; then exprs=null; else exprs="[{\"key\":\"kubernetes.io/metadata.name\",\"operator\":\"NotIn\",\"values\":[$(printf '%s\n' "$keep" | sed 's/.*/"&"/' | paste -sd, -)]}]"; fi
    echo "break-glass expired: binding $name governs $(printf '%s\n' "$gone" | paste -sd, -) again"
    $K patch validatingadmissionpolicybinding "$name" --type merge -p "{\"spec\":{\"matchResources\":{\"namespaceSelector\":{\"matchExpressions\":$exprs}}}}"
  done
fi
printf '%s\n' "$listing" | while IFS="|" read -r name exp op values; do
  if [ -n "$name" ] && [ "$op" = In ] && expired "$exp"; then
    echo "break-glass expired: deleting binding $name (expired at $exp)"
    $K delete validatingadmissionpolicybinding "$name"
  fi
done
$K get applications.argoproj.io -n "$NS" -o jsonpath='{range .items[*]}{.metadata.name}{"|"}{.metadata.annotations.gitops-control\.io/break-glass-expires}{"\n"}{end}' |
while IFS="|" read -r app exp; do
  if [ -n "$app" ] && expired "$exp"; then
    echo "break-glass expired: automated sync of Application $app back on (expired at $exp)"
    $K patch applications.argoproj.io "$app" -n "$NS" --type merge -p '{"metadata":{"annotations":{"gitops-control.io/break-glass-ticket":null,"gitops-control.io/break-glass-reason":null,"gitops-control.io/break-glass-expires":null,"gitops-control.io/break-glass-requested-by":null}},"spec":{"syncPolicy":{"automated":{"enabled":true}}}}'
  fi
done
