#!/bin/sh
# One pass of the preview gate: the gate's Deployment (components/previews/PreviewGate.ts) keeps it in the
# environment variable GATE and runs `sh -c "$GATE"` every INTERVAL seconds, in the bitnami/kubectl
# image as the preview janitor's service account (in-cluster config, read-only root filesystem).
# Read at render time; this header (up to the first blank line) stays in the repository.
#
# Switches automated sync on for the oldest previews of each service up to its cap, holds the rest
# with the reason (annotation and Event), and past a preview's TTL pauses it and deletes its
# namespace. A preview being deleted (its PR closed) no longer counts towards the cap; if a failing
# sync is still retrying, the gate terminates it, because Argo CD finalizes no Application while an
# operation is in progress (a closed PR's preview would otherwise stay for the whole retry backoff).
# Idempotent: an Application is patched and an Event recorded only when the verdict changes. Label
# and annotation names are components/core/labels.ts's and PreviewGate.ts's (checked by
# tests/unit/scripts.test.ts).
#
# Environment: ARGOCD_NAMESPACE (default argocd); PREVIEW_GATE_NOW (epoch seconds) fixes the clock
# for the TTL (tests); KUBECTL overrides the kubectl command (tests; unset in the container).

set -eu
K="${KUBECTL:-kubectl}"
NS="${ARGOCD_NAMESPACE:-argocd}"
now="${PREVIEW_GATE_NOW:-$(date +%s)}"
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
event() { # name uid type reason message
  printf '{"apiVersion":"v1","kind":"Event","metadata":{"generateName":"%s.","namespace":"%s"},"involvedObject":{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","name":"%s","namespace":"%s","uid":"%s"},"type":"%s","reason":"%s","message":"%s","source":{"component":"gitops-control-preview-gate"},"firstTimestamp":"%s","lastTimestamp":"%s","count":1}' \
    "$1" "$NS" "$1" "$NS" "$2" "$3" "$4" "$5" "$stamp" "$stamp" | $K create -f - >/dev/null
  echo "$1: $4: $5"
}
$K get applications.argoproj.io -n "$NS" -l "env=preview,gitops-control.io/environment=preview" \
  -o jsonpath='{range .items[*]}{.metadata.labels.gitops-control\.io/service}|{.metadata.creationTimestamp}|{.metadata.name}|{.metadata.uid}|{.spec.syncPolicy.automated.enabled}|{.metadata.annotations.gitops-control\.io/preview-max-open}|{.metadata.annotations.gitops-control\.io/preview-ttl-hours}|{.metadata.annotations.gitops-control\.io/preview-held}|{.metadata.deletionTimestamp}|{.status.operationState.phase}{"\n"}{end}' |
  sort |
{
service=""
running=0
while IFS='|' read -r svc created name uid enabled max ttl reason deleting phase; do
  [ -n "$name" ] || continue
  if [ -n "$deleting" ]; then
    if [ "$phase" = Running ]; then
      $K patch applications.argoproj.io "$name" -n "$NS" --type merge -p '{"status":{"operationState":{"phase":"Terminating"}}}' >/dev/null
      event "$name" "$uid" Normal PreviewClosing "closing: terminated the sync still running or retrying, so Argo CD deletes the preview now"
    fi
    continue
  fi
  [ "$svc" = "$service" ] || { service="$svc"; running=0; }
  case "$max" in ''|*[!0-9]*) echo "$name: no valid gitops-control.io/preview-max-open, left alone" >&2; continue ;; esac
  case "$ttl" in ''|*[!0-9]*) echo "$name: no valid gitops-control.io/preview-ttl-hours, left alone" >&2; continue ;; esac
  age=$(( now - $(date -d "$created" +%s) ))
  if [ "$age" -ge $(( ttl * 3600 )) ]; then
    want="ttl: running longer than ${ttl}h (services[].previews.ttlHours of $svc); paused and its namespace deleted. Remove and re-add the PR label for a fresh preview"
    kind=PreviewExpired
  elif [ "$running" -lt "$max" ]; then
    running=$(( running + 1 ))
    if [ "$enabled" != true ] || [ -n "$reason" ]; then
      $K patch applications.argoproj.io "$name" -n "$NS" --type merge -p '{"metadata":{"annotations":{"gitops-control.io/preview-held":null}},"spec":{"syncPolicy":{"automated":{"enabled":true}}}}' >/dev/null
      event "$name" "$uid" Normal PreviewAdmitted "admitted: preview $running of at most $max of $svc"
    fi
    continue
  else
    want="cap: $max previews of $svc are running (services[].previews.maxOpen); held until one of them closes"
    kind=PreviewHeld
  fi
  if [ "$enabled" != false ] || [ "$reason" != "$want" ]; then
    $K patch applications.argoproj.io "$name" -n "$NS" --type merge -p "{\"metadata\":{\"annotations\":{\"gitops-control.io/preview-held\":\"$want\"}},\"spec\":{\"syncPolicy\":{\"automated\":{\"enabled\":false}}}}" >/dev/null
    event "$name" "$uid" Warning "$kind" "$want"
  fi
  if [ "$kind" = PreviewExpired ] && [ "$($K get namespace "$name" -o jsonpath='{.status.phase}' 2>/dev/null || true)" = Active ]; then
    echo "$name: deleting namespace $name (expired)"
    $K delete namespace "$name" --wait=false >/dev/null
  fi
done
}
