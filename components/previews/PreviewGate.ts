import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { defaults } from "../core/defaults";
import { check } from "../core/errors";
import { gateDeploymentArgs, gateLoop } from "../core/gate";
import { labels, managedByValue } from "../core/labels";
import { childOptions, readScript, validatePinnedImage } from "../core/options";

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

/**
 * One pass of the gate: components/previews/preview-gate.sh (what it does and its environment are in
 * its header), read at render time. Idempotent: it patches an Application and records an Event only
 * when its verdict changes.
 */
export function previewGateScript(): string {
    return readScript("preview-gate.sh", __dirname);
}

/** The gate's permissions in Argo CD's namespace: patch Applications (its fence narrows that to the automated switch of previews) and record Events. */
export const previewGateRules = [
    { apiGroups: ["argoproj.io"], resources: ["applications"], verbs: ["patch"] },
    { apiGroups: [""], resources: ["events"], verbs: ["create"] },
] as const;

/** The Deployment's command: a pass of the script in `GATE` every `INTERVAL` seconds; a failed pass is logged and retried. */
export const previewGateLoop = gateLoop("preview gate");

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

export interface PreviewGateArgs {
    /** Namespace it runs in and whose preview Applications it switches (Argo CD's). */
    readonly namespace: string;
    /**
     * The service account it runs as, the preview janitor's: its name (the ServiceAccount's output,
     * so the gate's objects follow it) and the user name admission sees,
     * `system:serviceaccount:<namespace>:<name>`, which the gate's fence matches.
     */
    readonly serviceAccount: { readonly name: pulumi.Input<string>; readonly username: string };
    /** Image with `sh`, GNU `date` and `kubectl`, pinned. @default {@link defaults.janitorImage} */
    readonly image?: string;
    /** Seconds between two passes. @default {@link defaults.previewGateIntervalSeconds} */
    readonly intervalSeconds?: number;
    /** Do not wait for the Deployment to roll out (a cluster without kubelets). @default false */
    readonly skipAwait?: boolean;
    /** Labels of every object it creates (the Deployment's pods also get `app.kubernetes.io/name: preview-gate`). */
    readonly labels?: Readonly<Record<string, string>>;
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

/** The gate's seconds between two passes, checked where they are given (`field`: that arg's path). */
export function validateGateInterval(seconds: number | undefined, field: string): void {
    const interval = seconds ?? defaults.previewGateIntervalSeconds;
    check(
        Number.isInteger(interval) && interval >= 1 && interval <= 300,
        field,
        `is ${interval}`,
        `use a whole number of seconds from 1 to 300 (${defaults.previewGateIntervalSeconds} is the default)`,
    );
}

/** Checks every argument before any resource is registered. */
export function validatePreviewGateArgs(args: PreviewGateArgs, field = "args"): void {
    validatePinnedImage(args.image, field);
    validateGateInterval(args.intervalSeconds, `${field}.intervalSeconds`);
}

/**
 * The preview gate (see {@link previewGateAnnotations}): a Deployment that runs
 * {@link previewGateScript} every few seconds as the preview janitor's service account, a Role in
 * Argo CD's namespace to patch Applications and record Events, and its own always-Deny admission
 * fence: that account may change only the automated switch and annotations of previews.
 *
 * Created by PreviewJanitor. Its children were the janitor's own until this component existed: each
 * keeps its name and carries an alias to its URN under the janitor, so existing stacks keep them
 * (tests/integration/flattenAliases.test.ts proves it with the real engine).
 */
export class PreviewGate extends pulumi.ComponentResource {
    /** The gate's Deployment. */
    readonly deploymentName: pulumi.Output<string>;

    constructor(name: string, args: PreviewGateArgs, opts?: pulumi.ComponentResourceOptions) {
        validatePreviewGateArgs(args);
        super("gitops-control:previews:PreviewGate", name, {}, opts);
        const meta = { [labels.managedBy]: managedByValue, ...args.labels };
        // Where the children lived before: directly under this component's parent (the janitor).
        const moved = opts?.parent ? { aliases: [{ parent: opts.parent }] } : {};
        const o = (extra?: pulumi.CustomResourceOptions) => childOptions(this, args.provider, { ...moved, ...extra });
        const role = new k8s.rbac.v1.Role(
            `${name}-role`,
            {
                metadata: { name: `gitops-control-preview-gate`, namespace: args.namespace, labels: meta },
                rules: previewGateRules.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] })),
            },
            o(),
        );
        new k8s.rbac.v1.RoleBinding(
            `${name}-binding`,
            {
                metadata: { name: `gitops-control-preview-gate`, namespace: args.namespace, labels: meta },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: args.serviceAccount.name, namespace: args.namespace }],
            },
            o(),
        );
        const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            `${name}-scope`,
            { metadata: { name: `gitops-control-preview-gate-scope`, labels: meta }, spec: previewGateScopePolicySpec(args.serviceAccount.username) },
            o(),
        );
        new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            `${name}-scope`,
            {
                metadata: { name: `gitops-control-preview-gate-scope`, labels: meta },
                spec: { policyName: policy.metadata.name, validationActions: ["Deny"] },
            },
            o({ dependsOn: [policy] }),
        );
        const deployment = new k8s.apps.v1.Deployment(
            name,
            gateDeploymentArgs({
                name: "preview-gate",
                namespace: args.namespace,
                labels: meta,
                serviceAccountName: args.serviceAccount.name,
                image: args.image ?? defaults.janitorImage,
                loop: previewGateLoop,
                env: [
                    { name: "GATE", value: previewGateScript() },
                    { name: "INTERVAL", value: String(args.intervalSeconds ?? defaults.previewGateIntervalSeconds) },
                    { name: "ARGOCD_NAMESPACE", value: args.namespace },
                ],
                skipAwait: args.skipAwait,
            }),
            o(),
        );
        this.deploymentName = deployment.metadata.name;
        this.registerOutputs({ deploymentName: this.deploymentName });
    }
}
