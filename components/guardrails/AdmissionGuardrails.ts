import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { check, requireDnsLabel } from "../core/errors";
import { bounds, defaults } from "../core/defaults";
import { BindingScope, FailurePolicy, GuardrailRule, LabelSelector, ValidationAction } from "./types";
import { labels, managedByValue } from "../core/labels";
import { childOptions, protection } from "../core/options";
import { z } from "zod";
import { checkSettings, providerSetting } from "../core/settings";

/** Where a set of rules is enforced, and how hard. */
export interface GuardrailBinding {
    /** Environment class; the binding selects namespaces labelled `<environmentLabel>=<environment>`. */
    readonly environment: string;
    /** Prod: `["Deny", "Audit"]`; staging: `["Warn", "Audit"]`. Never Deny and Warn together. */
    readonly validationActions: readonly ValidationAction[];
    /** Extra annotations on the binding (e.g. break-glass audit). @default {} */
    readonly annotations?: Readonly<Record<string, string>>;
    /**
     * Select exactly these namespaces by name instead of by the environment label (break-glass
     * bindings). `environment` then only names the binding. @default select by label
     */
    readonly namespaces?: readonly string[];
    /**
     * Break-glass, by the namespace label {@link labels.breakGlassUntil} (only the program sets it,
     * see guardrails/breakGlassLabel.ts): `exclude` leaves the labelled namespaces out of the
     * rules the carve-out lifts (the environment binding while an entry is open); `only` selects just
     * them, for those rules alone (the `[Warn, Audit]` binding `<policy>-<environment>-break-glass`).
     * The expiry job ends the carve-out by removing the label: no binding changes. @default neither
     */
    readonly breakGlass?: "exclude" | "only";
}

/** Label every namespace carries with its own name (set by the API server). */
const namespaceNameLabel = "kubernetes.io/metadata.name";

export interface AdmissionGuardrailsArgs {
    /** Rules to enforce; see `components/guardrails/rules.ts`. At least one. */
    readonly rules: readonly GuardrailRule[];
    /** One binding per rule and environment. At least one. */
    readonly bindings: readonly GuardrailBinding[];
    /** `Fail` rejects requests when a policy cannot be evaluated; `Ignore` admits them. @default {@link defaults.failurePolicy} */
    readonly failurePolicy?: FailurePolicy;
    /** Prefix of policy and binding names. @default {@link defaults.guardrailPrefix} */
    readonly namePrefix?: string;
    /** Namespace label that carries the environment class. @default "gitops-control.io/environment" */
    readonly environmentLabel?: string;
    /** Keep policies and bindings on `pulumi destroy` and refuse to delete them (prod). @default false */
    readonly protect?: boolean;
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

/** What the API server does when a policy cannot be evaluated: the stack's `guardrails.failurePolicy` and the component arg. */
const failurePolicySetting = z.enum(["Fail", "Ignore"]).describe(`When a policy cannot be evaluated. Default: ${defaults.failurePolicy}.`);

/** The component's args (rules and bindings are built in code: checked for shape here, in depth below). */
const guardrailArgsSchema = () =>
    z.strictObject({
        rules: z.array(
            z.custom<GuardrailRule>((v) => typeof v === "object" && v !== null && "name" in v && "validations" in v, {
                error: "must be a guardrail rule (see guardrails/rules.ts)",
            }),
        ),
        bindings: z.array(
            z.custom<GuardrailBinding>((v) => typeof v === "object" && v !== null && "environment" in v, { error: "must be a binding { environment, validationActions, … }" }),
        ),
        failurePolicy: failurePolicySetting.optional(),
        namePrefix: z.string().optional(),
        environmentLabel: z.string().optional(),
        protect: z.boolean().optional(),
        provider: providerSetting.optional(),
    });

/** Checks every argument before any resource is registered. */
export function validateGuardrailArgs(args: AdmissionGuardrailsArgs, field = "args"): void {
    if (!checkSettings(guardrailArgsSchema(), args, field)) return;
    check(args.rules.length > 0, `${field}.rules`, "is empty", "add at least one rule, e.g. requirePodSecurityContext()");
    check(args.bindings.length > 0, `${field}.bindings`, "is empty", "bind the rules to at least one environment");
    const names = new Set<string>();
    args.rules.forEach((rule, i) => {
        requireDnsLabel(rule.name, `${field}.rules[${i}].name`);
        check(!names.has(rule.name), `${field}.rules[${i}].name`, `repeats "${rule.name}"`, "give each rule a unique name");
        names.add(rule.name);
        check(rule.validations.length > 0, `${field}.rules[${i}].validations`, "is empty", "add at least one CEL validation");
        rule.validations.forEach((v, j) =>
            check(
                v.message !== undefined || v.messageExpression !== undefined,
                `${field}.rules[${i}].validations[${j}]`,
                "has no message",
                "add `message` or `messageExpression` so a denied user knows why and what to do",
            ),
        );
    });
    const environments = new Set<string>();
    args.bindings.forEach((b, i) => {
        requireDnsLabel(b.environment, `${field}.bindings[${i}].environment`);
        const key = b.breakGlass === "only" ? `${b.environment}-break-glass` : b.environment;
        check(!environments.has(key), `${field}.bindings[${i}].environment`, `repeats "${key}"`, "merge the two bindings");
        check(
            b.namespaces === undefined || b.namespaces.length > 0,
            `${field}.bindings[${i}].namespaces`,
            "is empty, which selects nothing",
            "list the namespaces or drop the field",
        );
        environments.add(key);
        const actions = b.validationActions;
        check(actions.length > 0, `${field}.bindings[${i}].validationActions`, "is empty", 'use ["Deny", "Audit"] (enforce) or ["Warn", "Audit"] (observe)');
        check(new Set(actions).size === actions.length, `${field}.bindings[${i}].validationActions`, `repeats an action (${actions.join(", ")})`, "list each action once");
        check(
            !(actions.includes("Deny") && actions.includes("Warn")),
            `${field}.bindings[${i}].validationActions`,
            "has both Deny and Warn, which the API server rejects",
            'use ["Deny", "Audit"] or ["Warn", "Audit"]',
        );
    });
    requireDnsLabel(args.namePrefix ?? defaults.guardrailPrefix, `${field}.namePrefix`, 40);
}

/** Name of the policy that enforces a rule. */
export const policyName = (prefix: string, rule: GuardrailRule): string => `${prefix}-${rule.name}`;

/** Renders a rule to a ValidatingAdmissionPolicy spec. Pure. */
export function renderPolicySpec(rule: GuardrailRule, failurePolicy: FailurePolicy): k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicySpec {
    return {
        failurePolicy,
        matchConstraints: {
            resourceRules: rule.resourceRules.map((r) => ({
                apiGroups: [...r.apiGroups],
                apiVersions: [...r.apiVersions],
                resources: [...r.resources],
                operations: [...r.operations],
            })),
            ...(rule.objectSelector ? { objectSelector: renderLabelSelector(rule.objectSelector) } : {}),
        },
        ...(rule.paramNamespaces ? { paramKind: { apiVersion: "v1", kind: "Namespace" } } : {}),
        ...(rule.matchConditions.length > 0 ? { matchConditions: rule.matchConditions.map((c) => ({ ...c })) } : {}),
        ...(rule.variables.length > 0 ? { variables: rule.variables.map((v) => ({ ...v })) } : {}),
        validations: rule.validations.map((v) => ({ ...v })),
        ...(rule.auditAnnotations.length > 0 ? { auditAnnotations: rule.auditAnnotations.map((a) => ({ ...a })) } : {}),
    };
}

/** A label selector as the API expects it (mutable copies). Pure. */
function renderLabelSelector(selector: LabelSelector): k8s.types.input.meta.v1.LabelSelector {
    return {
        ...(selector.matchLabels ? { matchLabels: { ...selector.matchLabels } } : {}),
        ...(selector.matchExpressions
            ? { matchExpressions: selector.matchExpressions.map((e) => ({ key: e.key, operator: e.operator, ...(e.values ? { values: [...e.values] } : {}) })) }
            : {}),
    };
}

/**
 * Renders a binding spec of one rule in one environment. Pure. With `scope: "object"` the binding
 * selects objects carrying the environment label themselves (Argo CD Applications, which all live
 * in the Argo CD namespace), with `scope: "cluster"` every object; namespace exclusions and
 * break-glass namespace lists still apply.
 */
export function renderBindingSpec(
    policy: string,
    binding: GuardrailBinding,
    environmentLabel: string,
    scope: BindingScope = "namespace",
    paramNamespaces = false,
): k8s.types.input.admissionregistration.v1.ValidatingAdmissionPolicyBindingSpec {
    // The namespaces of the binding's class are the parameters; with none, the policy does not apply.
    const paramRef = paramNamespaces ? { paramRef: { selector: { matchLabels: { [environmentLabel]: binding.environment } }, parameterNotFoundAction: "Allow" } } : {};
    const glass = binding.breakGlass;
    const excluded = glass ? { matchExpressions: [{ key: labels.breakGlassUntil, operator: glass === "only" ? "Exists" : "DoesNotExist" }] } : undefined;
    const byName = binding.namespaces ? { matchExpressions: [{ key: namespaceNameLabel, operator: "In", values: [...binding.namespaces] }] } : undefined;
    if (scope === "object" || scope === "cluster") {
        const namespaceSelector = byName ?? excluded;
        const objectSelector = scope === "object" ? { objectSelector: { matchLabels: { [environmentLabel]: binding.environment } } } : {};
        return {
            policyName: policy,
            validationActions: [...binding.validationActions],
            matchResources: { ...objectSelector, ...(namespaceSelector ? { namespaceSelector } : {}) },
            ...paramRef,
        };
    }
    const namespaceSelector = byName ?? { matchLabels: { [environmentLabel]: binding.environment }, ...excluded };
    return { policyName: policy, validationActions: [...binding.validationActions], matchResources: { namespaceSelector }, ...paramRef };
}

const meta = { [labels.managedBy]: managedByValue };

/** Whether the break-glass carve-out may lift `rule` (see {@link GuardrailRule.keptUnderBreakGlass}). Pure. */
export function carvedOutUnderBreakGlass(rule: GuardrailRule): boolean {
    return !(rule.keptUnderBreakGlass ?? (rule.bindingScope === "object" || rule.bindingScope === "cluster"));
}

/**
 * The binding as it applies to `rule`: a rule the carve-out may not lift keeps governing the
 * carved-out namespaces (no `breakGlass: "exclude"`) and gets no break-glass binding (`undefined`). Pure.
 */
export function bindingForRule(rule: GuardrailRule, binding: GuardrailBinding): GuardrailBinding | undefined {
    if (carvedOutUnderBreakGlass(rule)) return binding;
    if (binding.namespaces !== undefined || binding.breakGlass === "only") return undefined;
    const { breakGlass: _, ...kept } = binding;
    return kept;
}

/** A rule's ValidatingAdmissionPolicy (metadata and spec) as the component creates it. Pure. */
export function renderPolicy(rule: GuardrailRule, prefix: string, failurePolicy: FailurePolicy) {
    return { metadata: { name: policyName(prefix, rule), labels: { ...meta } }, spec: renderPolicySpec(rule, failurePolicy) };
}

/** Name of a rule's binding: `<policy>-<environment>`, `-break-glass` appended for the break-glass one. */
export const bindingName = (policy: string, binding: GuardrailBinding): string => `${policy}-${binding.environment}${binding.breakGlass === "only" ? "-break-glass" : ""}`;

/** The binding of a rule in one environment (metadata and spec) as the component creates it. Pure. */
export function renderBinding(rule: GuardrailRule, binding: GuardrailBinding, prefix: string, environmentLabel: string) {
    const pname = policyName(prefix, rule);
    return {
        metadata: {
            name: bindingName(pname, binding),
            labels: { ...meta, [environmentLabel]: binding.environment },
            ...(binding.annotations && Object.keys(binding.annotations).length > 0 ? { annotations: { ...binding.annotations } } : {}),
        },
        spec: renderBindingSpec(pname, binding, environmentLabel, rule.bindingScope, rule.paramNamespaces),
    };
}

/**
 * Every policy and binding of `rules` under `bindings` as plain manifests, exactly as the component
 * creates them: for `kubectl apply` in tests and for offline rendering. Pure.
 */
export function guardrailManifests(
    rules: readonly GuardrailRule[],
    bindings: readonly GuardrailBinding[],
    options: { readonly prefix?: string; readonly environmentLabel?: string; readonly failurePolicy?: FailurePolicy } = {},
): object[] {
    const prefix = options.prefix ?? defaults.guardrailPrefix;
    const environmentLabel = options.environmentLabel ?? labels.environment;
    const apiVersion = "admissionregistration.k8s.io/v1";
    return rules.flatMap((rule) => [
        { apiVersion, kind: "ValidatingAdmissionPolicy", ...renderPolicy(rule, prefix, options.failurePolicy ?? defaults.failurePolicy) },
        ...bindings.flatMap((b) => {
            const applied = bindingForRule(rule, b);
            return applied ? [{ apiVersion, kind: "ValidatingAdmissionPolicyBinding", ...renderBinding(rule, applied, prefix, environmentLabel) }] : [];
        }),
    ]);
}

/**
 * Admission guardrails: one ValidatingAdmissionPolicy per rule, bound per environment class by
 * namespace label, so unsafe config is rejected before it can become drift.
 */
export class AdmissionGuardrails extends pulumi.ComponentResource {
    /** Policy names, one per rule. */
    readonly policyNames: pulumi.Output<string[]>;
    /** Binding names, one per rule and environment. */
    readonly bindingNames: pulumi.Output<string[]>;
    readonly policies: k8s.admissionregistration.v1.ValidatingAdmissionPolicy[] = [];
    readonly bindings: k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding[] = [];

    constructor(name: string, args: AdmissionGuardrailsArgs, opts?: pulumi.ComponentResourceOptions) {
        validateGuardrailArgs(args);
        super("gitops-control:guardrails:AdmissionGuardrails", name, {}, opts);
        const prefix = args.namePrefix ?? defaults.guardrailPrefix;
        const environmentLabel = args.environmentLabel ?? labels.environment;
        const failurePolicy = args.failurePolicy ?? defaults.failurePolicy;
        const keep = protection(args.protect ?? false);
        for (const rule of args.rules) {
            const rendered = renderPolicy(rule, prefix, failurePolicy);
            const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(`${name}-${rule.name}`, rendered, childOptions(this, args.provider, keep));
            this.policies.push(policy);
            for (const given of args.bindings) {
                const binding = bindingForRule(rule, given);
                if (!binding) continue;
                this.bindings.push(
                    new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
                        bindingName(`${name}-${rule.name}`, binding),
                        renderBinding(rule, binding, prefix, environmentLabel),
                        childOptions(this, args.provider, { ...keep, dependsOn: [policy] }),
                    ),
                );
            }
        }
        this.policyNames = pulumi.all(this.policies.map((p) => p.metadata.name));
        this.bindingNames = pulumi.all(this.bindings.map((b) => b.metadata.name));
        this.registerOutputs({ policyNames: this.policyNames, bindingNames: this.bindingNames });
    }
}

/** The `guardrails` settings of a stack (AdmissionGuardrails and the rule library). */
export const guardrailSettingsSchema = z
    .strictObject({
        replicaCap: z.int().positive().max(bounds.maxReplicaCap).describe(`Most replicas a workload may ask for. Default: ${defaults.replicaCap}.`),
        failurePolicy: failurePolicySetting,
        disabledRules: z.array(z.string()).describe("Rule names to leave out of the library (see docs/guardrails.md)."),
        requiredLabels: z.array(z.string()).min(1).describe("Labels every workload must carry."),
        allowedRevisions: z
            .array(z.string())
            .min(1)
            .describe(
                "RE2 patterns of the targetRevision formats prod Applications may deploy (protect-sync-policy): a format check, not a review. Default: main/master/HEAD, release tags, full commit SHAs.",
            ),
        programIdentity: z
            .strictObject({
                usernames: z.array(z.string()).describe("Exact usernames of the credentials `pulumi up` runs with."),
                groups: z.array(z.string()).describe("Groups of those credentials."),
            })
            .partial()
            .describe(
                "Who `pulumi up` runs as: the only writer of AppProjects, of governed Applications' operation/project/destination/source(s)/ignoreDifferences and of governed namespace deletions (besides break-glass with a ticket). Default: { groups: [\"system:masters\"] } (an admin kubeconfig). Never a group everyone is in, nor Argo CD's own accounts.",
            ),
        ignoreDifferences: z
            .array(
                z.strictObject({
                    group: z.string().optional(),
                    kind: z.string(),
                    jsonPointers: z.array(z.string()).optional(),
                    jqPathExpressions: z.array(z.string()).optional(),
                    managedFieldsManagers: z.array(z.string()).optional(),
                }),
            )
            .describe(
                "The ignoreDifferences governed (prod, staging) Applications may use (protect-application-inputs); a service's must fit. Default: apps Deployment and StatefulSet /spec/replicas; no jq expressions or field managers unless listed.",
            ),
    })
    .partial()
    .default({})
    .describe(`Admission guardrails. Defaults: replicaCap ${defaults.replicaCap}, failurePolicy "${defaults.failurePolicy}".`);
