import type * as k8s from "@pulumi/kubernetes";
import { defaults } from "./defaults";
import { labels } from "./labels";

/**
 * The preview gate: a cap on running previews per service and a time-to-live for previews of PRs
 * that stay open.
 *
 * Argo CD v3.6.1's pull-request generator has no count or age filter, and a limit at admission
 * cannot work either: a ResourceQuota on `count/applications.argoproj.io` (or any refused create)
 * makes the ApplicationSet controller stop its reconcile before it deletes anything (it returns on
 * the first create error), so at the cap a closed PR's preview would never be removed and the
 * waiting one never admitted. So every preview Application is generated paused
 * (`automated.enabled: false`, nothing deployed, no namespace) and the gate, a small loop running
 * as the janitor's service account, switches automated sync on for the oldest previews of each
 * service up to its cap. The ApplicationSet ignores that one field
 * (`ignoreApplicationDifferences`), so its updates never undo the gate's decision. A preview over
 * the cap stays paused with the reason in the annotation {@link previewGateAnnotations.held} and a
 * `PreviewHeld` Event on the Application, until an older one closes; a preview older than its TTL
 * is paused, its namespace deleted and a `PreviewExpired` Event recorded (re-adding the PR's label
 * starts a fresh one). Each preview carries its service's cap and TTL as annotations, so one gate
 * serves every service.
 */
export const previewGateAnnotations = {
    /** Most running previews of the preview's service (the ApplicationSet template sets it). */
    maxOpen: "gitops-control.io/preview-max-open",
    /** Hours a preview may run (the ApplicationSet template sets it). */
    ttlHours: "gitops-control.io/preview-ttl-hours",
    /** Set by the gate while a preview is held or expired: why. Preserved by the ApplicationSet. */
    held: "gitops-control.io/preview-held",
} as const;

/** JSON pointer of the one Application field the gate owns. */
export const gateOwnedField = "/spec/syncPolicy/automated/enabled";

/** `{.metadata.<kind>.<key>}` in kubectl's jsonpath (dots in the key escaped). */
const jp = (kind: "labels" | "annotations", key: string) => `{.metadata.${kind}.${key.replace(/\./g, "\\.")}}`;

/**
 * One pass of the gate, as a POSIX shell script (kubectl, GNU date). Idempotent: it patches an
 * Application and records an Event only when its verdict changes. `KUBECTL` lets tests run it from
 * outside the cluster (impersonating the service account); `PREVIEW_GATE_NOW` (epoch seconds)
 * fixes the clock for the TTL.
 */
export function previewGateScript(): string {
    const held = previewGateAnnotations.held;
    return `set -eu
K="\${KUBECTL:-kubectl}"
NS="\${ARGOCD_NAMESPACE:-${defaults.argoNamespace}}"
now="\${PREVIEW_GATE_NOW:-$(date +%s)}"
stamp=$(date -u +%Y-%m-%dT%H:%M:%SZ)
event() { # name uid type reason message
  printf '{"apiVersion":"v1","kind":"Event","metadata":{"generateName":"%s.","namespace":"%s"},"involvedObject":{"apiVersion":"argoproj.io/v1alpha1","kind":"Application","name":"%s","namespace":"%s","uid":"%s"},"type":"%s","reason":"%s","message":"%s","source":{"component":"gitops-control-preview-gate"},"firstTimestamp":"%s","lastTimestamp":"%s","count":1}' \\
    "$1" "$NS" "$1" "$NS" "$2" "$3" "$4" "$5" "$stamp" "$stamp" | $K create -f - >/dev/null
  echo "$1: $4: $5"
}
$K get applications.argoproj.io -n "$NS" -l "env=preview,${labels.environment}=preview" \\
  -o jsonpath='{range .items[*]}${jp("labels", labels.service)}|{.metadata.creationTimestamp}|{.metadata.name}|{.metadata.uid}|{.spec.syncPolicy.automated.enabled}|${jp("annotations", previewGateAnnotations.maxOpen)}|${jp("annotations", previewGateAnnotations.ttlHours)}|${jp("annotations", held)}{"\\n"}{end}' |
  sort |
{
service=""
running=0
while IFS='|' read -r svc created name uid enabled max ttl reason; do
  [ -n "$name" ] || continue
  [ "$svc" = "$service" ] || { service="$svc"; running=0; }
  case "$max" in ''|*[!0-9]*) echo "$name: no valid ${previewGateAnnotations.maxOpen}, left alone" >&2; continue ;; esac
  case "$ttl" in ''|*[!0-9]*) echo "$name: no valid ${previewGateAnnotations.ttlHours}, left alone" >&2; continue ;; esac
  age=$(( now - $(date -d "$created" +%s) ))
  if [ "$age" -ge $(( ttl * 3600 )) ]; then
    want="ttl: running longer than \${ttl}h (services[].previews.ttlHours of $svc); paused and its namespace deleted. Remove and re-add the PR label for a fresh preview"
    kind=PreviewExpired
  elif [ "$running" -lt "$max" ]; then
    running=$(( running + 1 ))
    if [ "$enabled" != true ] || [ -n "$reason" ]; then
      $K patch applications.argoproj.io "$name" -n "$NS" --type merge -p '{"metadata":{"annotations":{"${held}":null}},"spec":{"syncPolicy":{"automated":{"enabled":true}}}}' >/dev/null
      event "$name" "$uid" Normal PreviewAdmitted "admitted: preview $running of at most $max of $svc"
    fi
    continue
  else
    want="cap: $max previews of $svc are running (services[].previews.maxOpen); held until one of them closes"
    kind=PreviewHeld
  fi
  if [ "$enabled" != false ] || [ "$reason" != "$want" ]; then
    $K patch applications.argoproj.io "$name" -n "$NS" --type merge -p "{\\"metadata\\":{\\"annotations\\":{\\"${held}\\":\\"$want\\"}},\\"spec\\":{\\"syncPolicy\\":{\\"automated\\":{\\"enabled\\":false}}}}" >/dev/null
    event "$name" "$uid" Warning "$kind" "$want"
  fi
  if [ "$kind" = PreviewExpired ] && [ "$($K get namespace "$name" -o jsonpath='{.status.phase}' 2>/dev/null || true)" = Active ]; then
    echo "$name: deleting namespace $name (expired)"
    $K delete namespace "$name" --wait=false >/dev/null
  fi
done
}
`;
}

/**
 * The gate's admission fence: as the janitor's service account it may change an Application only
 * if it is a preview, and only its automated switch and annotations: project, destination and
 * source stay as the ApplicationSet generated them. Pure.
 */
export function previewGateScopePolicySpec(username: string): k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicySpec {
    const labelled = (key: string) => `'${key}' in oldObject.metadata.labels && oldObject.metadata.labels['${key}'] == 'preview'`;
    const preview = `has(oldObject.metadata.labels) && ${labelled("env")} && ${labelled(labels.environment)}`;
    const same = (field: string) => `has(object.spec.${field}) == has(oldObject.spec.${field}) && (!has(object.spec.${field}) || object.spec.${field} == oldObject.spec.${field})`;
    return {
        failurePolicy: "Fail",
        matchConstraints: { resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["*"], resources: ["applications"], operations: ["UPDATE"] }] },
        matchConditions: [{ name: "is-gate", expression: `request.userInfo.username == '${username}'` }],
        validations: [
            { expression: preview, messageExpression: `'the preview gate may change only preview Applications, not ' + oldObject.metadata.name`, reason: "Forbidden" },
            {
                expression: `object.spec.project == oldObject.spec.project && object.spec.destination == oldObject.spec.destination && ${same("source")} && ${same("sources")}`,
                messageExpression: `'the preview gate may switch automated sync of ' + oldObject.metadata.name + ' on or off, not change its project, destination or source'`,
                reason: "Forbidden",
            },
        ],
    };
}
