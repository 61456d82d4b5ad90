import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { check, requireDnsLabel } from "../core/errors";
import { labels, managedByValue } from "../core/labels";
import { childOptions, readScript, scriptCronJobSpec, validateScriptJob } from "../core/options";
import { bounds, defaults } from "../core/defaults";
import { PreviewGate, previewGateRules, validateGateInterval } from "./PreviewGate";
import { z } from "zod";
import { checkSettings, providerSetting } from "../core/settings";

export interface PreviewJanitorArgs {
    /** Namespace the janitor runs in (Argo CD's). */
    readonly namespace: string;
    /** Image with `sh`, GNU `date` and `kubectl`, pinned by tag. @default {@link defaults.janitorImage} */
    readonly image?: string;
    /** Cron schedule. @default every 30 minutes */
    readonly schedule?: string;
    /**
     * Previews older than this are reported as overdue (`preview_namespace_age_hours`, the
     * PreviewNamespaceTooOld alert); a namespace an Application still targets is never deleted. @default {@link defaults.previewTtlHours}
     */
    readonly ttlHours?: number;
    /** Seconds between two passes of the preview gate (cap and TTL, see PreviewGate.ts). @default {@link defaults.previewGateIntervalSeconds} */
    readonly gateIntervalSeconds?: number;
    /** Do not wait for the gate's Deployment to roll out (a cluster without kubelets). @default false */
    readonly skipAwait?: boolean;
    /** Label (key=value) that marks preview namespaces. @default "env=preview" */
    readonly previewSelector?: { readonly key: string; readonly value: string };
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

/**
 * What the janitor's service account may do: cluster-wide, read Applications and delete namespaces
 * (its fence narrows that to preview namespaces); in Argo CD's namespace, the preview gate's patches
 * of Applications (its fence narrows that to the automated switch of previews) and its Events.
 */
export const janitorRbac = {
    cluster: [
        { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "delete"] },
        { apiGroups: ["argoproj.io"], resources: ["applications"], verbs: ["get", "list"] },
    ],
    argoNamespace: previewGateRules,
} as const;

/** Service account name: also what the janitor's own admission policy matches on. */
export const janitorServiceAccount = "preview-janitor";

/**
 * The janitor's job: components/previews/preview-janitor.sh (what it does and its environment are in
 * its header), read at render time. Deletes preview namespaces no Application deploys to any more,
 * re-reading ownership right before each delete, and reports every preview's age.
 */
export function janitorScript(): string {
    return readScript("preview-janitor.sh", __dirname);
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

/** The janitor settings a stack file and the component share (`previewJanitor`). */
function previewJanitorSettings() {
    return z
        .strictObject({
            image: z.string().describe(`Pinned image with sh, GNU date and kubectl. Default: ${defaults.janitorImage}.`),
            schedule: z.string().describe(`Cron schedule. Default: "${defaults.janitorSchedule}".`),
            ttlHours: z.int().min(1).max(bounds.maxPreviewTtlHours).describe(`Previews older than this are deleted. Default: ${defaults.previewTtlHours}.`),
        })
        .partial();
}

/** The component's args: the shared settings plus what only a program passes. */
const janitorArgsSchema = () =>
    previewJanitorSettings().extend({
        namespace: z.string(),
        gateIntervalSeconds: z.int().optional(),
        skipAwait: z.boolean().optional(),
        previewSelector: z.strictObject({ key: z.string(), value: z.string() }).optional(),
        provider: providerSetting.optional(),
    });

/** Checks every argument before any resource is registered. */
export function validateJanitorArgs(args: PreviewJanitorArgs, field = "args"): void {
    if (!checkSettings(janitorArgsSchema(), args, field)) return;
    requireDnsLabel(args.namespace, `${field}.namespace`);
    validateScriptJob(args, field, defaults.janitorSchedule, defaults.janitorSchedule);
    const ttl = args.ttlHours ?? defaults.previewTtlHours;
    check(Number.isInteger(ttl) && ttl >= 1, `${field}.ttlHours`, `is ${ttl}`, `use a whole number of hours ≥ 1 (${defaults.previewTtlHours} is the default)`);
    validateGateInterval(args.gateIntervalSeconds, `${field}.gateIntervalSeconds`);
}

/**
 * Orphan-preview cleanup and the preview gate: a CronJob with its own least-privilege service
 * account that deletes preview namespaces nobody owns any more, and a Deployment under the same
 * account that switches previews on within each service's cap and pauses them past their TTL
 * (PreviewGate.ts). Their blast radius is limited by admission: that service account may delete
 * only preview namespaces and change only the automated switch and annotations of previews.
 */
export class PreviewJanitor extends pulumi.ComponentResource {
    readonly cronJobName: pulumi.Output<string>;
    readonly policyName: pulumi.Output<string>;
    /** The preview gate's Deployment. */
    readonly gateName: pulumi.Output<string>;

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
                rules: janitorRbac.cluster.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] })),
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
        // The gate runs as the same account: one robot identity, fenced by both policies.
        const gate = new PreviewGate(
            `${name}-gate`,
            {
                namespace: args.namespace,
                serviceAccount: { name: sa.metadata.name, username },
                image: args.image,
                intervalSeconds: args.gateIntervalSeconds,
                skipAwait: args.skipAwait,
                labels: meta,
                provider: args.provider,
            },
            { parent: this },
        );
        this.gateName = gate.deploymentName;
        this.cronJobName = cron.metadata.name;
        this.policyName = policy.metadata.name;
        this.registerOutputs({ cronJobName: this.cronJobName, policyName: this.policyName, gateName: this.gateName });
    }
}

/** The `previewJanitor` settings of a stack (PreviewJanitor, PreviewGate). */
export const previewJanitorSettingsSchema = previewJanitorSettings()
    .default({})
    .describe(
        `Orphan-preview cleanup (a CronJob) and the preview gate that enforces each service's cap and TTL (a Deployment), on whenever a service has previews. Defaults: ${defaults.janitorImage}, "${defaults.janitorSchedule}", ${defaults.previewTtlHours} h.`,
    );
