#!/bin/sh
# The preview janitor: the PreviewJanitor CronJob runs this as `/bin/sh -c <script>`, in the
# bitnami/kubectl image as its own service account (in-cluster config, read-only root filesystem).
# Read at render time by components/previews/PreviewJanitor.ts; this header (up to the first blank line) stays
# in the repository, the rest is the script.
#
# Prints each preview namespace's age as a metric line and deletes those no Application deploys to
# any more. A namespace must carry both preview labels (the selector) and a generated name
# (<service>-pr-<n>) to be considered, and ownership is read again right before each delete, so an
# Application created meanwhile keeps its namespace. Past the TTL an owned preview is only reported.
#
# Environment: PREVIEW_TTL_HOURS (default 72), PREVIEW_SELECTOR (default below; the label names are
# components/core/labels.ts's, checked by tests/unit/scripts.test.ts). KUBECTL overrides the kubectl
# command (tests that impersonate the account; unset in the container).

set -eu
K="${KUBECTL:-kubectl}"
TTL="${PREVIEW_TTL_HOURS:-72}"
SELECTOR="${PREVIEW_SELECTOR:-env=preview,gitops-control.io/environment=preview}"
now=$(date +%s)
targets() { $K get applications.argoproj.io -A -o jsonpath='{range .items[*]}{.spec.destination.namespace}{"\n"}{end}'; }
owned=$(targets)
$K get namespaces -l "$SELECTOR" -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.creationTimestamp}{" "}{.status.phase}{"\n"}{end}' |
while read -r ns created phase; do
  [ -n "$ns" ] || continue
  [ "$phase" = "Terminating" ] && continue
  # Only names the ApplicationSet generates (<service>-pr-<n>): a label alone, which anyone may set, never makes a namespace a preview.
  printf '%s\n' "$ns" | grep -Eq -- '-pr-[0-9]+$' || continue
  age=$(( (now - $(date -d "$created" +%s)) / 3600 ))
  echo "preview_namespace_age_hours{namespace=\"$ns\"} $age"
  if printf '%s\n' "$owned" | grep -qx "$ns"; then
    [ "$age" -ge "$TTL" ] && echo "keeping namespace $ns: older than ${TTL}h, but an Application still deploys to it"
    continue
  fi
  if targets | grep -qx "$ns"; then
    echo "keeping namespace $ns: an Application deploys to it now"
    continue
  fi
  echo "deleting namespace $ns: no Application deploys to it"
  $K delete namespace "$ns" --wait=false
done
