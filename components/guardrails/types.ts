// Defined with the environment presets (core), which fix it per class.
export type { ValidationAction } from "../core/presets";

/** What happens when the policy itself cannot be evaluated. */
export type FailurePolicy = "Fail" | "Ignore";

export type Operation = "CREATE" | "UPDATE" | "DELETE" | "CONNECT";

/** One `matchConstraints.resourceRules` entry. */
export interface ResourceRule {
    readonly apiGroups: readonly string[];
    readonly apiVersions: readonly string[];
    readonly resources: readonly string[];
    readonly operations: readonly Operation[];
}

/** A CEL variable, computed once and reused by the validations (`variables.<name>`). */
export interface Variable {
    readonly name: string;
    readonly expression: string;
}

/** One CEL check; the object is admitted when `expression` is true. */
export interface Validation {
    readonly expression: string;
    /** Static message. Give `message` or `messageExpression` (or both). */
    readonly message?: string;
    /** CEL building the message from the object. */
    readonly messageExpression?: string;
    /** @default "Invalid" */
    readonly reason?: "Unauthorized" | "Forbidden" | "Invalid" | "RequestEntityTooLarge";
}

/** A CEL precondition: the policy is skipped for requests where it is false (exclusions). */
export interface MatchCondition {
    readonly name: string;
    readonly expression: string;
}

/** Written to the audit log for each admitted request; the expression returns a string or null. */
export interface AuditAnnotation {
    readonly key: string;
    readonly valueExpression: string;
}

/** One `matchExpressions` entry of a Kubernetes label selector. */
export interface LabelSelectorRequirement {
    readonly key: string;
    readonly operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    /** Required (non-empty) for In and NotIn, absent for Exists and DoesNotExist. */
    readonly values?: readonly string[];
}

/** A Kubernetes label selector; all parts must match (an empty selector matches everything). */
export interface LabelSelector {
    readonly matchLabels?: Readonly<Record<string, string>>;
    readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

/**
 * How a rule's bindings choose what they govern. `namespace`: objects in namespaces labelled with
 * the binding's environment (workloads). `object`: objects that carry the environment label
 * themselves, wherever they live (Argo CD Applications all live in the Argo CD namespace).
 * `cluster`: every object the rule matches, whatever its labels (ApplicationSets, whose
 * Applications may land in any environment): each binding sees them all, so the strictest
 * binding of the stack (prod: Deny) decides.
 */
export type BindingScope = "namespace" | "object" | "cluster";

/**
 * One admission rule: the unit the rule library builds, the AdmissionGuardrails component renders to
 * a ValidatingAdmissionPolicy, the offline evaluator runs, and the docs table lists.
 */
export interface GuardrailRule {
    /** Kebab-case id; the policy is named `<prefix>-<name>`. */
    readonly name: string;
    /** What the rule blocks, one line. */
    readonly summary: string;
    /** Why it matters, one line. */
    readonly why: string;
    /** The builder's parameters, for docs and audit. */
    readonly params: Readonly<Record<string, string | number | boolean | readonly string[]>>;
    readonly resourceRules: readonly ResourceRule[];
    readonly variables: readonly Variable[];
    readonly validations: readonly Validation[];
    readonly matchConditions: readonly MatchCondition[];
    readonly auditAnnotations: readonly AuditAnnotation[];
    /** `matchConstraints.objectSelector`: only objects whose labels match. @default every object */
    readonly objectSelector?: LabelSelector;
    /** How bindings select. @default "namespace" */
    readonly bindingScope?: BindingScope;
    /**
     * Evaluate once per Namespace of the binding's environment class, which the expressions read as
     * `params` (paramKind Namespace; each binding's paramRef selects namespaces by the environment
     * label; none: the policy does not apply). How a rule reads labels of a namespace other than the
     * request's, e.g. an Application's destination. @default false
     */
    readonly paramNamespaces?: boolean;
    /**
     * The break-glass carve-out never lifts this rule: its environment bindings keep governing a
     * namespace under break-glass, and no `[Warn, Audit]` break-glass binding is made for it. For
     * rules that decide who writes (they admit the break-glass group themselves, audited) and for
     * object- and cluster-scoped rules (namespace labels, namespace deletion, Argo CD's inputs): a
     * carve-out would lift them for everyone, not only for the break-glass group.
     * @default true for object- and cluster-scoped rules, false for namespace-scoped ones
     */
    readonly keptUnderBreakGlass?: boolean;
}
