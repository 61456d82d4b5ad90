import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { renderBinding, renderPolicy } from "../guardrails/AdmissionGuardrails";
import { defaults } from "../core/defaults";
import { check } from "../core/errors";
import { ApprovePrunesOptions, approvePrunes, defaultPruneApproverGroup, deletionApprovedAnnotation } from "../guardrails/rules/approve-prunes";
import { gateDeploymentArgs, gateLoop } from "../core/gate";
import { labels, managedByValue } from "../core/labels";
import { childOptions, readScript, validatePinnedImage } from "../core/options";

/**
 * The prune gate: a budget on what one sync of a prod Application may delete unattended.
 *
 * Prod Applications carry the application-level sync option `Prune=confirm` when the gate runs. Argo
 * CD v3.6.1 then applies a sync's changes but keeps its prunes waiting, the operation Running with
 * "waiting for pruning confirmation of <group>/<kind>/<name> and N more tasks", until the
 * Application's `argocd.argoproj.io/deletion-approved` annotation holds a time at or after the
 * operation's `startedAt`. The gate, a small loop running as its own service account, approves a
 * waiting operation at once when it prunes at most the budget (`applicationPruneBudget.prod`),
 * writing the operation's own `startedAt`, so the approval covers that operation and no later one.
 * A larger one it holds: the reason goes into {@link pruneGateAnnotations.held} and a `PruneHeld`
 * Warning Event on the Application (the `ArgoCdPruneHeld` alert fires while it waits), until a member
 * of the approver group sets the annotation. The rule `approve-prunes`
 * (components/guardrails/rules/approve-prunes.ts) lets nobody else set it, and the gate only within the
 * budget; the gate's fence keeps its account to those two annotations of prod Applications.
 */
export const pruneGateAnnotations = {
    /** Set by the gate while it holds a sync's prunes: why, and how to approve. */
    held: "gitops-control.io/prune-held",
    /** Argo CD's approval, which the gate sets within budget and the approver group beyond it. */
    approved: deletionApprovedAnnotation,
} as const;

/** The gate's service account in Argo CD's namespace. */
export const pruneGateServiceAccount = "gitops-control-prune-gate";

/**
 * One pass of the gate: components/pruning/prune-gate.sh (what it does and its environment are in
 * its header), read at render time. Idempotent: it writes an annotation and records an Event only
 * when its verdict changes.
 */
export function pruneGateScript(): string {
    return readScript("prune-gate.sh", __dirname);
}

/** The gate's permissions in Argo CD's namespace: read and annotate Applications (its fence narrows that), record Events. */
export const pruneGateRules = [
    { apiGroups: ["argoproj.io"], resources: ["applications"], verbs: ["get", "list", "patch"] },
    { apiGroups: [""], resources: ["events"], verbs: ["create"] },
] as const;

/** The Deployment's command: a pass of the script in `GATE` every `INTERVAL` seconds; a failed pass is logged and retried. */
export const pruneGateLoop = gateLoop("prune gate");

/**
 * The gate's own fence: as its service account it may change only prod Applications, and of them
 * only the approval and held annotations; spec, operation, status, labels and every other annotation
 * stay as they were. Pure.
 */
export function pruneGateScopePolicySpec(username: string, environment = "prod"): k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicySpec {
    const own = `[${Object.values(pruneGateAnnotations)
        .map((a) => `'${a}'`)
        .join(", ")}]`;
    const same = (field: string) => `has(object.${field}) == has(oldObject.${field}) && (!has(object.${field}) || object.${field} == oldObject.${field})`;
    const kept = (a: string, b: string) =>
        `(!has(${a}.metadata.annotations) || ${a}.metadata.annotations.all(k, k in ${own} || (has(${b}.metadata.annotations) && k in ${b}.metadata.annotations && ${b}.metadata.annotations[k] == ${a}.metadata.annotations[k])))`;
    return {
        failurePolicy: "Fail",
        matchConstraints: { resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["*"], resources: ["applications"], operations: ["UPDATE"] }] },
        matchConditions: [{ name: "is-gate", expression: `request.userInfo.username == '${username}'` }],
        validations: [
            {
                expression: `has(oldObject.metadata.labels) && '${labels.environment}' in oldObject.metadata.labels && oldObject.metadata.labels['${labels.environment}'] == '${environment}'`,
                messageExpression: `'the prune gate may annotate only ${environment} Applications, not ' + oldObject.metadata.name`,
                reason: "Forbidden",
            },
            {
                expression: `${same("spec")} && ${same("operation")} && ${same("status")} && ${same("metadata.labels")} && ${kept("object", "oldObject")} && ${kept("oldObject", "object")}`,
                messageExpression: `'the prune gate may set only ${Object.values(pruneGateAnnotations).join(" and ")} of ' + oldObject.metadata.name + ', nothing else'`,
                reason: "Forbidden",
            },
        ],
    };
}

export interface PruneGateArgs {
    /** Namespace it runs in and whose prod Applications it watches (Argo CD's). */
    readonly namespace: string;
    /** Most objects one sync may prune on the gate's approval. @default {@link defaults.applicationPruneBudget}.prod */
    readonly budget?: number;
    /** Groups whose members approve what the gate holds (only they may). @default ["gitops-control:prune-approvers"] */
    readonly approverGroups?: readonly string[];
    /** Image with `sh` and `kubectl`, pinned. @default {@link defaults.janitorImage} */
    readonly image?: string;
    /** Seconds between two passes: at most this much delay on a normal prune. @default {@link defaults.pruneGateIntervalSeconds} */
    readonly intervalSeconds?: number;
    /** Do not wait for the Deployment to roll out (a cluster without kubelets). @default false */
    readonly skipAwait?: boolean;
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
    /** Provider for its two admission policies (the guardrails', with client-side apply). @default `provider` */
    readonly policyProvider?: k8s.Provider;
}

/** The gate's user name as the API server sees it. */
export function pruneGateUsername(namespace: string): string {
    return `system:serviceaccount:${namespace}:${pruneGateServiceAccount}`;
}

/** The admission rule that keeps the approval to the approver group and the gate within budget. */
export function pruneApprovalRule(args: Pick<PruneGateArgs, "namespace" | "budget" | "approverGroups">) {
    const options: ApprovePrunesOptions = {
        gateUsername: pruneGateUsername(args.namespace),
        budget: args.budget ?? defaults.applicationPruneBudget.prod,
        approverGroups: args.approverGroups ?? [defaultPruneApproverGroup],
    };
    return approvePrunes(options);
}

/** Checks every argument before any resource is registered. */
export function validatePruneGateArgs(args: PruneGateArgs, field = "args"): void {
    validatePinnedImage(args.image, field);
    const interval = args.intervalSeconds ?? defaults.pruneGateIntervalSeconds;
    check(
        Number.isInteger(interval) && interval >= 1 && interval <= 300,
        `${field}.intervalSeconds`,
        `is ${interval}`,
        `use a whole number of seconds from 1 to 300 (${defaults.pruneGateIntervalSeconds} is the default)`,
    );
    const groups = args.approverGroups ?? [defaultPruneApproverGroup];
    check(
        groups.length > 0,
        `${field}.approverGroups`,
        "is empty, so a prune over the budget could never be approved",
        `name the approver group, e.g. ["${defaultPruneApproverGroup}"]`,
    );
    groups.forEach((g, i) =>
        check(
            /^\S+$/.test(g) && !/^system:(authenticated|unauthenticated|serviceaccounts|masters)/.test(g),
            `${field}.approverGroups[${i}]`,
            `is "${g}"`,
            `name a dedicated group of the people who answer for prod deletes, e.g. "${defaultPruneApproverGroup}"`,
        ),
    );
    const budget = args.budget ?? defaults.applicationPruneBudget.prod;
    check(Number.isInteger(budget) && budget >= 0, `${field}.budget`, `is ${budget}`, "use a whole number ≥ 0 (applicationPruneBudget.prod)");
}

/**
 * The prune gate (see {@link pruneGateAnnotations}): its ServiceAccount, a Role to read and annotate
 * Applications and record Events in Argo CD's namespace, a Deployment running
 * {@link pruneGateScript} every few seconds, its always-Deny fence, and the `approve-prunes` rule
 * bound `[Deny, Audit]` to prod Applications (always on where the gate runs: the gate's budget means
 * nothing if anyone may approve).
 */
export class PruneGate extends pulumi.ComponentResource {
    /** The gate's Deployment. */
    readonly deploymentName: pulumi.Output<string>;

    constructor(name: string, args: PruneGateArgs, opts?: pulumi.ComponentResourceOptions) {
        validatePruneGateArgs(args);
        super("gitops-control:argocd:PruneGate", name, {}, opts);
        const meta = { [labels.managedBy]: managedByValue };
        const o = (extra?: pulumi.CustomResourceOptions) => childOptions(this, args.provider, extra);
        const p = (extra?: pulumi.CustomResourceOptions) => childOptions(this, args.policyProvider ?? args.provider, extra);
        const budget = args.budget ?? defaults.applicationPruneBudget.prod;
        const approverGroups = args.approverGroups ?? [defaultPruneApproverGroup];
        const account = new k8s.core.v1.ServiceAccount(`${name}-sa`, { metadata: { name: pruneGateServiceAccount, namespace: args.namespace, labels: meta } }, o());
        const role = new k8s.rbac.v1.Role(
            `${name}-role`,
            {
                metadata: { name: pruneGateServiceAccount, namespace: args.namespace, labels: meta },
                rules: pruneGateRules.map((r) => ({ apiGroups: [...r.apiGroups], resources: [...r.resources], verbs: [...r.verbs] })),
            },
            o(),
        );
        new k8s.rbac.v1.RoleBinding(
            `${name}-binding`,
            {
                metadata: { name: pruneGateServiceAccount, namespace: args.namespace, labels: meta },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                subjects: [{ kind: "ServiceAccount", name: account.metadata.name, namespace: args.namespace }],
            },
            o(),
        );
        const fence = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            `${name}-scope`,
            { metadata: { name: "gitops-control-prune-gate-scope", labels: meta }, spec: pruneGateScopePolicySpec(pruneGateUsername(args.namespace)) },
            p(),
        );
        new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            `${name}-scope`,
            { metadata: { name: "gitops-control-prune-gate-scope", labels: meta }, spec: { policyName: fence.metadata.name, validationActions: ["Deny"] } },
            p({ dependsOn: [fence] }),
        );
        const rule = pruneApprovalRule({ namespace: args.namespace, budget, approverGroups });
        const rendered = renderPolicy(rule, defaults.guardrailPrefix, "Fail");
        const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(`${name}-approval`, rendered, p());
        const binding = renderBinding(rule, { environment: "prod", validationActions: ["Deny", "Audit"] }, defaults.guardrailPrefix, labels.environment);
        new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(`${name}-approval`, binding, p({ dependsOn: [policy] }));
        const deployment = new k8s.apps.v1.Deployment(
            name,
            gateDeploymentArgs({
                name: "prune-gate",
                namespace: args.namespace,
                labels: meta,
                serviceAccountName: account.metadata.name,
                image: args.image ?? defaults.janitorImage,
                loop: pruneGateLoop,
                env: [
                    { name: "GATE", value: pruneGateScript() },
                    { name: "INTERVAL", value: String(args.intervalSeconds ?? defaults.pruneGateIntervalSeconds) },
                    { name: "ARGOCD_NAMESPACE", value: args.namespace },
                    { name: "PRUNE_BUDGET", value: String(budget) },
                    { name: "APPROVER_GROUPS", value: approverGroups.join(",") },
                ],
                skipAwait: args.skipAwait,
            }),
            o(),
        );
        this.deploymentName = deployment.metadata.name;
        this.registerOutputs({ deploymentName: this.deploymentName });
    }
}

/** The prune gate's stack settings (`pruneGate`); its budget is `applicationPruneBudget.prod`. */
export const pruneGateSettingsSchema = z
    .strictObject({
        enabled: z
            .boolean()
            .optional()
            .describe("Run the gate and give prod Applications Prune=confirm. Default: on in prod stacks, off elsewhere (the local stack has no kubelet to run it)."),
        approverGroups: z
            .array(z.string())
            .min(1)
            .optional()
            .describe(`Groups whose members approve prunes over the budget; only they may set ${deletionApprovedAnnotation}. Default: ["${defaultPruneApproverGroup}"].`),
        intervalSeconds: z
            .int()
            .optional()
            .describe(`Seconds between two passes of the gate: the most it delays a prune within budget. Default: ${defaults.pruneGateIntervalSeconds}.`),
    })
    .default({})
    .describe(
        `A prune budget at sync time: prod Applications sync with Prune=confirm, and the gate approves a sync's prunes within \`applicationPruneBudget.prod\` at once and holds larger ones (Event, alert) for the approver group.`,
    );
