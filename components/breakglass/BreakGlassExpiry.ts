import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { bounds, defaults } from "../core/defaults";
import { environmentClasses } from "../core/presets";
import { check, requireDnsLabel } from "../core/errors";
import { labels, managedByValue } from "../core/labels";
import { childOptions, readScript, scriptCronJobSpec, validateScriptJob } from "../core/options";
import { z } from "zod";
import { checkSettings, providerSetting } from "../core/settings";

export interface BreakGlassExpiryArgs {
    /** Namespace the CronJob runs in and the Applications live in (Argo CD's). */
    readonly namespace: string;
    /** Environment bindings that carve break-glass namespaces out (`NotIn`): the only ones it may patch. At least one. */
    readonly environmentBindings: readonly string[];
    /** The break-glass bindings (`<policy>-break-glass-<ticket>`): the only ones it may delete. At least one. */
    readonly breakGlassBindings: readonly string[];
    /** Image with `sh`, GNU `date` and `kubectl`, pinned. @default the preview janitor's image */
    readonly image?: string;
    /** Cron schedule: how late at most an expiry takes effect. @default every minute */
    readonly schedule?: string;
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

/** Service account name: what its own admission fence matches on. */
export const breakGlassExpiryServiceAccount = "break-glass-expiry";

/** Default schedule: an exception ends at most a minute (plus pod start-up) after its expiry. */
export const breakGlassExpirySchedule = "* * * * *";

/**
 * The expiry job: components/breakglass/break-glass-expiry.sh (what it does and its environment are in
 * its header), read at render time. CEL in admission has no clock, so something has to run: past
 * an exception's expiry it puts its namespaces back under the environment bindings, deletes its
 * break-glass bindings and turns automated sync back on for its Applications.
 */
export function breakGlassExpiryScript(): string {
    return readScript("break-glass-expiry.sh", __dirname);
}

/**
 * The job's admission fence on Applications (ValidatingAdmissionPolicies cannot govern bindings:
 * the API server exempts admission configuration from admission, so bindings are fenced by RBAC
 * resource names). Its service account may only UPDATE an Application to turn automated sync back
 * on without touching its project, source, destination or the other sync switches: a leaked token
 * can end an exception early, never open one. Pure.
 */
export function breakGlassExpiryScopePolicySpec(username: string): k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicySpec {
    const same = (field: string) =>
        `(has(object.spec.${field}) == has(oldObject.spec.${field}) && (!has(object.spec.${field}) || object.spec.${field} == oldObject.spec.${field}))`;
    const automated = (ref: string, field: string) =>
        `(has(${ref}.spec.syncPolicy) && has(${ref}.spec.syncPolicy.automated) && has(${ref}.spec.syncPolicy.automated.${field}) ? ${ref}.spec.syncPolicy.automated.${field} : null)`;
    return {
        failurePolicy: "Fail",
        matchConstraints: { resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["v1alpha1"], resources: ["applications"], operations: ["CREATE", "UPDATE", "DELETE"] }] },
        matchConditions: [{ name: "is-break-glass-expiry", expression: `request.userInfo.username == '${username}'` }],
        validations: [
            {
                expression: `request.operation == 'UPDATE' && ${automated("object", "enabled")} == true`,
                messageExpression: `'the break-glass expiry job may only turn automated sync back on, not ' + request.operation + ' Application ' + request.name`,
                reason: "Forbidden",
            },
            {
                expression: `request.operation != 'UPDATE' || (${["project", "destination", "source", "sources"].map(same).join(" && ")} && ${["prune", "selfHeal", "allowEmpty"].map((f) => `${automated("object", f)} == ${automated("oldObject", f)}`).join(" && ")})`,
                messageExpression: `'the break-glass expiry job may not change the project, source, destination or other sync switches of Application ' + request.name`,
                reason: "Forbidden",
            },
        ],
    };
}

/** The job's cluster-wide permissions: list bindings, patch and delete only the named ones. Pure. */
export function breakGlassExpiryClusterRules(args: Pick<BreakGlassExpiryArgs, "environmentBindings" | "breakGlassBindings">): k8s.types.input.rbac.v1.PolicyRule[] {
    const group = "admissionregistration.k8s.io";
    return [
        { apiGroups: [group], resources: ["validatingadmissionpolicybindings"], verbs: ["get", "list"] },
        { apiGroups: [group], resources: ["validatingadmissionpolicybindings"], verbs: ["patch"], resourceNames: [...args.environmentBindings] },
        { apiGroups: [group], resources: ["validatingadmissionpolicybindings"], verbs: ["delete"], resourceNames: [...args.breakGlassBindings] },
        // Writing a binding whose paramRef selects Namespaces needs list on them (the API server checks it).
        { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list"] },
    ];
}

/** The job's permissions in the Argo CD namespace. */
export const breakGlassExpiryNamespaceRules: k8s.types.input.rbac.v1.PolicyRule[] = [{ apiGroups: ["argoproj.io"], resources: ["applications"], verbs: ["get", "list", "patch"] }];

/** The component's args (the stack builds them from its `breakGlass` entries; the image is `previewJanitor.image`). */
const breakGlassExpiryArgsSchema = () =>
    z.strictObject({
        namespace: z.string(),
        environmentBindings: z.array(z.string()),
        breakGlassBindings: z.array(z.string()),
        image: z.string().optional(),
        schedule: z.string().optional(),
        provider: providerSetting.optional(),
    });

/** Checks every argument before any resource is registered. */
export function validateBreakGlassExpiryArgs(args: BreakGlassExpiryArgs, field = "args"): void {
    if (!checkSettings(breakGlassExpiryArgsSchema(), args, field)) return;
    requireDnsLabel(args.namespace, `${field}.namespace`);
    check(args.breakGlassBindings.length > 0, `${field}.breakGlassBindings`, "is empty, so nothing can expire", "list the break-glass bindings, or leave the component out");
    validateScriptJob(args, field, breakGlassExpirySchedule, breakGlassExpirySchedule);
}

/**
 * Break-glass that expires in the cluster, not only at the next `pulumi up`: a CronJob with its
 * own service account ends every exception whose expiry has passed (see
 * {@link breakGlassExpiryScript}). Fenced twice: RBAC names the only bindings it may patch or
 * delete, and its own admission policy lets it change Applications only back to automated sync.
 */
export class BreakGlassExpiry extends pulumi.ComponentResource {
    readonly cronJobName: pulumi.Output<string>;

    constructor(name: string, args: BreakGlassExpiryArgs, opts?: pulumi.ComponentResourceOptions) {
        validateBreakGlassExpiryArgs(args);
        super("gitops-control:guardrails:BreakGlassExpiry", name, {}, opts);
        const account = breakGlassExpiryServiceAccount;
        const meta = { [labels.managedBy]: managedByValue, "app.kubernetes.io/name": account };
        const full = `gitops-control-${account}`;
        const o = (extra?: pulumi.CustomResourceOptions) => childOptions(this, args.provider, extra);
        const sa = new k8s.core.v1.ServiceAccount(`${name}-sa`, { metadata: { name: account, namespace: args.namespace, labels: meta } }, o());
        const subjects = [{ kind: "ServiceAccount", name: sa.metadata.name, namespace: args.namespace }];
        const roleRef = (kind: string) => ({ apiGroup: "rbac.authorization.k8s.io", kind, name: full });
        new k8s.rbac.v1.ClusterRole(`${name}-role`, { metadata: { name: full, labels: meta }, rules: breakGlassExpiryClusterRules(args) }, o());
        new k8s.rbac.v1.ClusterRoleBinding(`${name}-binding`, { metadata: { name: full, labels: meta }, roleRef: roleRef("ClusterRole"), subjects }, o());
        new k8s.rbac.v1.Role(`${name}-apps-role`, { metadata: { name: full, namespace: args.namespace, labels: meta }, rules: breakGlassExpiryNamespaceRules }, o());
        new k8s.rbac.v1.RoleBinding(`${name}-apps-binding`, { metadata: { name: full, namespace: args.namespace, labels: meta }, roleRef: roleRef("Role"), subjects }, o());
        const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
            `${name}-scope`,
            { metadata: { name: `${full}-scope`, labels: meta }, spec: breakGlassExpiryScopePolicySpec(`system:serviceaccount:${args.namespace}:${account}`) },
            o(),
        );
        new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            `${name}-scope`,
            { metadata: { name: `${full}-scope`, labels: meta }, spec: { policyName: policy.metadata.name, validationActions: ["Deny"] } },
            o({ dependsOn: [policy] }),
        );
        const cron = new k8s.batch.v1.CronJob(
            `${name}-cron`,
            {
                metadata: { name: account, namespace: args.namespace, labels: meta },
                spec: scriptCronJobSpec({
                    schedule: args.schedule ?? breakGlassExpirySchedule,
                    serviceAccountName: sa.metadata.name,
                    name: "expiry",
                    image: args.image ?? defaults.janitorImage,
                    script: breakGlassExpiryScript(),
                    env: [{ name: "NAMESPACE", value: args.namespace }],
                    labels: meta,
                }),
            },
            o(),
        );
        this.cronJobName = cron.metadata.name;
        this.registerOutputs({ cronJobName: this.cronJobName });
    }
}

/** The `breakGlass` entries of a stack (audited exceptions; BreakGlassExpiry ends them in the cluster). */
export const breakGlassSettingsSchema = z
    .array(
        z.strictObject({
            services: z.array(z.string()).describe("Services whose namespaces and Applications are affected."),
            environments: z.array(z.enum(environmentClasses)).optional().describe("Environments affected. Default: all of those services'."),
            reason: z.string().describe("What is broken and what the hotfix does (10+ characters)."),
            ticket: z.string().describe("Incident or change ticket, e.g. INC-4711."),
            requestedBy: z.string().describe("Who pulled the break-glass."),
            requestedAt: z.string().describe('When it was granted, ISO-8601 with zone ("2026-11-24T10:00:00Z").'),
            expires: z.string().describe("When it ends, at most breakGlassPolicy.maxHours after requestedAt."),
        }),
    )
    .default([])
    .describe("Active and past break-glass exceptions; see stacks/breakGlass.ts.");

/** The `breakGlassPolicy` settings of a stack. */
export const breakGlassPolicySettingsSchema = z
    .strictObject({
        maxHours: z.number().positive().max(bounds.maxBreakGlassHours).describe(`Longest exception. Default: ${defaults.breakGlassMaxHours}.`),
        onExpiry: z.enum(["fail", "revert"]).describe(`After expiry: fail stops every preview/up; revert drops the entry with a warning. Default: ${defaults.breakGlassOnExpiry}.`),
    })
    .partial()
    .default({})
    .describe(`Break-glass limits. Defaults: maxHours ${defaults.breakGlassMaxHours}, onExpiry "${defaults.breakGlassOnExpiry}".`);
