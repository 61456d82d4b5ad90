#!/bin/sh
# One pass of the prune gate: the gate's Deployment (components/pruning/PruneGate.ts) keeps it in the
# environment variable GATE and runs `sh -c "$GATE"` every INTERVAL seconds, in the bitnami/kubectl
# image as its own service account (in-cluster config, read-only root filesystem).
# Read at render time; this header (up to the first blank line) stays in the repository.
#
# For every prod Application whose sync waits for prune confirmation (Prune=confirm: operation
# Running, "waiting for pruning confirmation of <first> and N more resources"), counts the objects
# it would prune: the larger of the operation's count (1 + N) and the Application's current one
# (status.resources[].requiresPruning, which approve-prunes checks too). At most PRUNE_BUDGET: approves that operation at once by
# setting argocd.argoproj.io/deletion-approved to the operation's own startedAt (Argo CD accepts a
# time at or after it), so the approval covers no later operation. More: holds it, with the reason
# in gitops-control.io/prune-held and a PruneHeld Warning Event, until a member of APPROVER_GROUPS
# approves. Clears the held annotation once nothing waits. Idempotent: an annotation is written and
# an Event recorded only when the verdict changes. Names are PruneGate.ts's (tests/unit/scripts.test.ts).
#
# Needs sh, GNU date and kubectl. Environment: PRUNE_BUDGET (required), APPROVER_GROUPS (for the message), ARGOCD_NAMESPACE
# (default argocd); KUBECTL overrides the kubectl command (tests; unset in the container).

set -eu
K="${KUBECTL:-kubectl}"
NS="${ARGOCD_NAMESPACE:-argocd}"
BUDGET="${PRUNE_BUDGET:?PRUNE_BUDGET is required}"
GROUPS_="${APPROVER_GROUPS:-gitops-control:prune-approvers}"
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
event() { # name uid type reason message
  printf '{"apiVersion":"v1","kind":"Event","metadata":{"generateName":"%s.","namespace":"%s"},"involvedObject":{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","name":"%s","namespace":"%s","uid":"%s"},"type":"%s","reason":"%s","message":"%s","source":{"component":"gitops-control-prune-gate"},"firstTimestamp":"%s","lastTimestamp":"%s","count":1}' \
    "$1" "$NS" "$1" "$NS" "$2" "$3" "$4" "$5" "$stamp" "$stamp" | $K create -f - >/dev/null
  echo "$1: $4: $5"
}
annotate() { # name json-of-annotations
  $K patch applications.argoproj.io "$1" -n "$NS" --type merge -p "{\"metadata\":{\"annotations\":$2}}" >/dev/null
}
$K get applications.argoproj.io -n "$NS" -l "gitops-control.io/environment=prod" \
  -o jsonpath='{range .items[*]}{.metadata.name}|{.metadata.uid}|{.status.operationState.phase}|{.status.operationState.startedAt}|{.metadata.annotations.argocd\.argoproj\.io/deletion-approved}|{.metadata.annotations.gitops-control\.io/prune-held}|{.status.resources[*].requiresPruning}|{.status.operationState.message}{"\n"}{end}' |
while IFS='|' read -r name uid phase started approved held pruning message; do
  [ -n "$name" ] || continue
  case "$phase:$message" in
    "Running:waiting for pruning confirmation of "*) ;;
    *)
      if [ -n "$held" ]; then annotate "$name" '{"gitops-control.io/prune-held":null}'; fi
      continue ;;
  esac
  # Already approved for this operation (by the gate or a person): nothing to decide.
  if [ -n "$approved" ] && [ "$(date -d "$approved" +%s 2>/dev/null || echo 0)" -ge "$(date -d "$started" +%s)" ]; then continue; fi
  # The operation's own count ("... of <first> and N more resources") and the Application's current
  # one (its comparison at the latest revision): the larger decides, so neither a revert pushed
  # while a mass prune waits nor a commit removing more slips a large prune through.
  more=$(printf '%s\n' "$message" | sed -n 's/.* and \([0-9][0-9]*\) more [a-z]*$/\1/p')
  count=$((1 + ${more:-0}))
  current=0
  for p in $pruning; do [ "$p" = true ] && current=$((current + 1)); done
  if [ "$current" -gt "$count" ]; then count=$current; fi
  if [ "$count" -le "$BUDGET" ]; then
    annotate "$name" "{\"argocd.argoproj.io/deletion-approved\":\"$started\",\"gitops-control.io/prune-held\":null}"
    event "$name" "$uid" Normal PruneApproved "approved: the sync started at $started prunes $count object(s), within the budget of $BUDGET (applicationPruneBudget.prod)"
    continue
  fi
  want="held: the sync started at $started would prune $count objects, over the budget of $BUDGET (applicationPruneBudget.prod). Check the commit; if the removal is intended, a member of $GROUPS_ approves: kubectl annotate applications.argoproj.io $name -n $NS --overwrite argocd.argoproj.io/deletion-approved=<now, UTC RFC 3339>; if not, revert it and end this sync (argocd app terminate-op), or the next commit waits behind it"
  if [ "$held" != "$want" ]; then
    annotate "$name" "{\"gitops-control.io/prune-held\":\"$want\"}"
    event "$name" "$uid" Warning PruneHeld "$want"
  fi
done
