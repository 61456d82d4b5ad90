import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { check, requireDnsLabel } from "./errors";
import { labels, managedByValue } from "./labels";
import { childOptions, scriptCronJobSpec, validateScriptJob } from "./options";
import { defaults } from "./defaults";

export interface PreviewJanitorArgs {
    /** Namespace the janitor runs in (Argo CD's). */
    readonly namespace: string;
    /** Image with `sh`, GNU `date` and `kubectl`, pinned by tag. @default "bitnami/kubectl:1.36.3" */
    readonly image?: string;
    /** Cron schedule. @default every 30 minutes */
    readonly schedule?: string;
    /**
     * Previews older than this are reported as overdue (`preview_namespace_age_hours`, the
     * PreviewNamespaceTooOld alert); a namespace an Application still targets is never deleted. @default 72
     */
    readonly ttlHours?: number;
    /** Label (key=value) that marks preview namespaces. @default "env=preview" */
    readonly previewSelector?: { readonly key: string; readonly value: string };
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

/** Service account name: also what the janitor's own admission policy matches on. */
export const janitorServiceAccount = "preview-janitor";

/**
 * The janitor's job, as a POSIX shell script. Prints each preview namespace's age as a metric line
 * and deletes those no Application deploys to any more. A namespace must carry both preview labels
 * (the selector) to be considered, and ownership is read again right before each delete, so an
 * Application created meanwhile keeps its namespace. Past the TTL an owned preview is only reported.
 * `KUBECTL` lets tests run it from outside the cluster (impersonating the service account).
 */
export function janitorScript(): string {
    return `set -eu
K="\${KUBECTL:-kubectl}"
TTL="\${PREVIEW_TTL_HOURS:-72}"
SELECTOR="\${PREVIEW_SELECTOR:-env=preview,${labels.environment}=preview}"
now=$(date +%s)
targets() { $K get applications.argoproj.io -A -o jsonpath='{range .items[*]}{.spec.destination.namespace}{"\\n"}{end}'; }
owned=$(targets)
$K get namespaces -l "$SELECTOR" -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.creationTimestamp}{" "}{.status.phase}{"\\n"}{end}' |
while read -r ns created phase; do
  [ -n "$ns" ] || continue
  [ "$phase" = "Terminating" ] && continue
  # Only names the ApplicationSet generates (<service>-pr-<n>): a label alone, which anyone may set, never makes a namespace a preview.
  printf '%s\\n' "$ns" | grep -Eq -- '-pr-[0-9]+$' || continue
  age=$(( (now - $(date -d "$created" +%s)) / 3600 ))
  echo "preview_namespace_age_hours{namespace=\\"$ns\\"} $age"
  if printf '%s\\n' "$owned" | grep -qx "$ns"; then
    [ "$age" -ge "$TTL" ] && echo "keeping namespace $ns: older than \${TTL}h, but an Application still deploys to it"
    continue
  fi
  if targets | grep -qx "$ns"; then
    echo "keeping namespace $ns: an Application deploys to it now"
    continue
  fi
  echo "deleting namespace $ns: no Application deploys to it"
  $K delete namespace "$ns" --wait=false
done
`;
}

/**
 * The janitor's own admission fence: its service account may delete only namespaces that carry
 * both the preview selector label and `gitops-control.io/environment=preview` (so adding `env=preview`
 * to a prod namespace does not aim it; protect-namespace-labels refuses that label on prod anyway).
 * Whether an Application still targets the namespace is beyond admission (a policy sees only the
 * request): the script checks it right before each delete. Pure.
 */
export function janitorScopePolicySpec(
    username: string,
    selector: { readonly key: string; readonly value: string },
): k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicySpec {
    const labelled = (key: string, value: string) => `has(oldObject.metadata.labels) && '${key}' in oldObject.metadata.labels && oldObject.metadata.labels['${key}'] == '${value}'`;
    return {
        failurePolicy: "Fail",
        matchConstraints: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["namespaces"], operations: ["DELETE"] }] },
        matchConditions: [{ name: "is-janitor", expression: `request.userInfo.username == '${username}'` }],
        validations: [
            {
                expression: labelled(selector.key, selector.value),
                messageExpression: `'the preview janitor may delete only namespaces labelled ${selector.key}=${selector.value}, not ' + oldObject.metadata.name`,
                reason: "Forbidden",
            },
            {
                expression: labelled(labels.environment, "preview"),
                messageExpression: `'the preview janitor may delete only namespaces of environment class preview (${labels.environment}=preview), not ' + oldObject.metadata.name`,
                reason: "Forbidden",
            },
        ],
    };
}

/** Checks every argument before any resource is registered. */
export function validateJanitorArgs(args: PreviewJanitorArgs, field = "args"): void {
    requireDnsLabel(args.namespace, `${field}.namespace`);
    validateScriptJob(args, field, defaults.janitorSchedule, "*/30 * * * *");
    const ttl = args.ttlHours ?? defaults.previewTtlHours;
    check(Number.isInteger(ttl) && ttl >= 1, `${field}.ttlHours`, `is ${ttl}`, "use a whole number of hours ≥ 1 (72 is the default)");
}

/**
 * Orphan-preview cleanup: a CronJob with its own least-privilege service account that deletes
 * preview namespaces nobody owns any more or that outlived their TTL. Its blast radius is limited
 * by its own ValidatingAdmissionPolicy: that service account may delete only preview namespaces.
 */
export class PreviewJanitor extends pulumi.ComponentResource {
    readonly cronJobName: pulumi.Output<string>;
    readonly policyName: pulumi.Output<string>;

    constructor(name: string, args: PreviewJanitorArgs, opts?: pulumi.ComponentResourceOptions) {
        validateJanitorArgs(args);
        super("gitops-control:previews:PreviewJanitor", name, {}, opts);
        const selector = args.previewSelector ?? { key: "env", value: "preview" };
        const meta = { [labels.managedBy]: managedByValue, "app.kubernetes.io/name": janitorServiceAccount };
        const username = `system:serviceaccount:${args.namespace}:${janitorServiceAccount}`;
        const o = (extra?: pulumi.CustomResourceOptions) => childOptions(this, args.provider, extra);

        const sa = new k8s.core.v1.ServiceAccount(`${name}-sa`, { metadata: { name: janitorServiceAccount, namespace: args.namespace, labels: meta } }, o());
        const role = new k8s.rbac.v1.ClusterRole(
            `${name}-role`,
            {
                metadata: { name: `gitops-control-${janitorServiceAccount}`, labels: meta },
                rules: [
                    { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "delete"] },
                    { apiGroups: ["argoproj.io"], resources: ["applications"], verbs: ["get", "list"] },
                ],
            },
            o(),
        );
        new k8s.rbac.v1.ClusterRoleBinding(
            `${name}-binding`,
            {
                metadata: { name: `gitops-control-${janitorServiceAccount}`, labels: meta },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: args.namespace }],
            },
            o(),
        );
        // RBAC cannot say "only namespaces with this label": admission can.
        const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            `${name}-scope`,
            {
                metadata: { name: `gitops-control-${janitorServiceAccount}-scope`, labels: meta },
                spec: janitorScopePolicySpec(username, selector),
            },
            o(),
        );
        new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            `${name}-scope`,
            {
                metadata: { name: `gitops-control-${janitorServiceAccount}-scope`, labels: meta },
                // Always Deny: this limits a robot's blast radius, it is not an environment guardrail.
                spec: { policyName: policy.metadata.name, validationActions: ["Deny"] },
            },
            o({ dependsOn: [policy] }),
        );
        const cron = new k8s.batch.v1.CronJob(
            `${name}-cron`,
            {
                metadata: { name: janitorServiceAccount, namespace: args.namespace, labels: meta },
                spec: scriptCronJobSpec({
                    schedule: args.schedule ?? defaults.janitorSchedule,
                    serviceAccountName: sa.metadata.name,
                    name: "janitor",
                    image: args.image ?? defaults.janitorImage,
                    script: janitorScript(),
                    env: [
                        { name: "PREVIEW_TTL_HOURS", value: String(args.ttlHours ?? defaults.previewTtlHours) },
                        { name: "PREVIEW_SELECTOR", value: `${selector.key}=${selector.value},${labels.environment}=preview` },
                    ],
                    labels: meta,
                }),
            },
            o(),
        );
        this.cronJobName = cron.metadata.name;
        this.policyName = policy.metadata.name;
        this.registerOutputs({ cronJobName: this.cronJobName, policyName: this.policyName });
    }
}
