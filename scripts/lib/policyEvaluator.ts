/**
 * Offline evaluation of guardrail rules: what the API server's ValidatingAdmissionPolicy plugin
 * would decide for one admission request, computed with a real CEL implementation and no cluster.
 * Used by the fixture tests, `npm run policy:check` and the CEL benchmark.
 *
 * CEL library: @marcbachmann/cel-js (exact-pinned). Compared with @bufbuild/cel 0.6.1 on the same
 * container-image expression on this machine: ~0.65 µs/eval (≈1.5 M evals/s) against ~17 µs
 * (≈57 k evals/s); the full rule set over one workload runs ~20 expressions, so only the former
 * clears the 20 k objects/s budget. It has a `check()` step (unknown functions and variables are
 * reported before evaluation, which is how Kubernetes-only libraries are named as gaps below), the
 * strings extension (`join`, `lowerAscii`, `lastIndexOf`), `cel.bind` and optional types. Trade-offs:
 * it is ESM-only (loaded with Node 22's `require(esm)`) and `matches()` uses JavaScript regular
 * expressions, so patterns are screened for RE2-only syntax ({@link re2Problem}). @bufbuild/cel runs
 * the cel-spec conformance suite and uses RE2, but is ~25x slower; `cel-js` lacks string methods.
 *
 * What is modelled: resourceRules (groups, versions, resources, subresources, operations), the
 * policy's objectSelector, the binding's namespaceSelector and objectSelector, matchConditions,
 * lazily evaluated variables, validations with message/messageExpression fallbacks, audit
 * annotations, failurePolicy and validation actions. Not modelled (named in {@link kubernetesCelGaps}
 * and refused at compile time, never skipped): the Kubernetes CEL libraries below, `params`
 * (no rule uses paramKind) and matchPolicy Equivalent (requests are matched as written).
 */
import type * as Cel from "@marcbachmann/cel-js" with { "resolution-mode": "import" };
import { GuardrailBinding, bindingForRule, bindingName, policyName, renderBindingSpec } from "../../components/guardrails/AdmissionGuardrails";
import { GitOpsConfigError } from "../../components/core/errors";
import { re2Problem } from "../../components/guardrails/cel";
import { FailurePolicy, GuardrailRule, LabelSelector, Operation, ResourceRule, ValidationAction } from "../../components/guardrails/types";

// require(esm): Node 22 loads the ESM-only package synchronously, so evaluation stays synchronous.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a synchronous require of an ESM package, on purpose
const cel = require("@marcbachmann/cel-js") as typeof Cel;

/**
 * Kubernetes CEL extensions the offline evaluator does not model. An expression using one fails
 * {@link compileRule} with an error naming the gap, so a rule is never half-checked in silence.
 */
export const kubernetesCelGaps: Readonly<Record<string, string>> = {
    quantity: "the Kubernetes quantity library",
    isQuantity: "the Kubernetes quantity library",
    url: "the Kubernetes URL library",
    isURL: "the Kubernetes URL library",
    ip: "the Kubernetes IP address library",
    isIP: "the Kubernetes IP address library",
    cidr: "the Kubernetes CIDR library",
    isCIDR: "the Kubernetes CIDR library",
    semver: "the Kubernetes semver library",
    isSemver: "the Kubernetes semver library",
    authorizer: "the Kubernetes authorizer",
    sets: "the sets extension",
    isSorted: "the Kubernetes lists library",
    sum: "the Kubernetes lists library",
    min: "the Kubernetes lists library",
    max: "the Kubernetes lists library",
    format: "the strings extension's format()",
    params: "policy parameters (paramKind/paramRef)",
};

/** A Kubernetes object as read from a manifest. */
export interface KubeObject {
    readonly apiVersion: string;
    readonly kind: string;
    readonly metadata?: {
        readonly name?: string;
        readonly generateName?: string;
        readonly namespace?: string;
        readonly labels?: Readonly<Record<string, string>>;
        readonly annotations?: Readonly<Record<string, string>>;
        readonly [field: string]: unknown;
    };
    readonly [field: string]: unknown;
}

/** The requesting user, as in `request.userInfo`. */
export interface UserInfo {
    readonly username: string;
    readonly uid?: string;
    readonly groups?: readonly string[];
    readonly extra?: Readonly<Record<string, readonly string[]>>;
}

export interface GroupVersionKind {
    readonly group: string;
    readonly version: string;
    readonly kind: string;
}

export interface GroupVersionResource {
    readonly group: string;
    readonly version: string;
    readonly resource: string;
}

/** One admission request, as the API server hands it to the policy plugin. */
export interface AdmissionRequest {
    readonly operation: Operation;
    /** The new object; null on DELETE. */
    readonly object: KubeObject | null;
    /** The stored object; null on CREATE. */
    readonly oldObject: KubeObject | null;
    readonly userInfo: UserInfo;
    readonly kind: GroupVersionKind;
    readonly resource: GroupVersionResource;
    /** `""` for the object itself, e.g. `"scale"`. */
    readonly subResource: string;
    readonly name: string;
    /** `""` for cluster-scoped objects. */
    readonly namespace: string;
    /** Labels of the request's namespace (`kubernetes.io/metadata.name` is added as the API server does). */
    readonly namespaceLabels: Readonly<Record<string, string>>;
    /** The request's namespace is being deleted (`namespaceObject.metadata.deletionTimestamp` set, phase Terminating). @default false */
    readonly namespaceDeleting?: boolean;
    readonly dryRun: boolean;
}

/** Argo CD's application controller, the identity that applies manifests in a GitOps cluster. */
export const argoCdControllerUser: UserInfo = {
    username: "system:serviceaccount:argocd:argocd-application-controller",
    groups: ["system:serviceaccounts", "system:serviceaccounts:argocd", "system:authenticated"],
};

/**
 * The program as the local stack's `pulumi up` is seen (its admin kubeconfig: group system:masters,
 * the default `gitops-control:guardrails.programIdentity`): the writer of Argo CD's own objects.
 */
export const programUser: UserInfo = { username: "gitops-control-admin", groups: ["system:masters", "system:authenticated"] };

/** Kinds the program writes in a GitOps cluster (Argo CD's own objects); Argo CD's controller writes the rest. */
const programKinds = new Set(["Application", "ApplicationSet", "AppProject"]);

/** Who writes `kind` in a GitOps cluster: the program for Argo CD's objects, Argo CD's application controller for what it deploys. */
export function defaultWriter(kind: string): UserInfo {
    return programKinds.has(kind) ? programUser : argoCdControllerUser;
}

export interface RequestOptions {
    /** @default "CREATE" */
    readonly operation?: Operation;
    /** UPDATE: the stored object. @default the manifest itself (a no-op update) */
    readonly oldObject?: KubeObject;
    /** @default {@link argoCdControllerUser} */
    readonly userInfo?: UserInfo;
    /** @default the manifest's namespace, or "default" for namespaced kinds */
    readonly namespace?: string;
    /** @default {} */
    readonly namespaceLabels?: Readonly<Record<string, string>>;
    /** @default "" */
    readonly subResource?: string;
    /** @default false */
    readonly dryRun?: boolean;
    /** The namespace is being deleted (the namespace controller empties it). @default false */
    readonly namespaceDeleting?: boolean;
}

const knownKinds: Readonly<Record<string, readonly [resource: string, namespaced: boolean]>> = {
    Deployment: ["deployments", true],
    StatefulSet: ["statefulsets", true],
    DaemonSet: ["daemonsets", true],
    ReplicaSet: ["replicasets", true],
    ReplicationController: ["replicationcontrollers", true],
    // Options of CONNECT requests (`kubectl exec`/`attach`): the resource is the Pod they reach.
    PodExecOptions: ["pods", true],
    PodAttachOptions: ["pods", true],
    // `kubectl scale` sends a Scale to a workload's scale subresource; fixtures scale Deployments.
    Scale: ["deployments", true],
    Job: ["jobs", true],
    CronJob: ["cronjobs", true],
    Pod: ["pods", true],
    ConfigMap: ["configmaps", true],
    Secret: ["secrets", true],
    Service: ["services", true],
    ServiceAccount: ["serviceaccounts", true],
    Ingress: ["ingresses", true],
    NetworkPolicy: ["networkpolicies", true],
    Endpoints: ["endpoints", true],
    PersistentVolumeClaim: ["persistentvolumeclaims", true],
    HorizontalPodAutoscaler: ["horizontalpodautoscalers", true],
    PodDisruptionBudget: ["poddisruptionbudgets", true],
    Role: ["roles", true],
    RoleBinding: ["rolebindings", true],
    Lease: ["leases", true],
    Application: ["applications", true],
    ApplicationSet: ["applicationsets", true],
    AppProject: ["appprojects", true],
    Namespace: ["namespaces", false],
    Node: ["nodes", false],
    PersistentVolume: ["persistentvolumes", false],
    StorageClass: ["storageclasses", false],
    ClusterRole: ["clusterroles", false],
    ClusterRoleBinding: ["clusterrolebindings", false],
    CustomResourceDefinition: ["customresourcedefinitions", false],
    PriorityClass: ["priorityclasses", false],
    IngressClass: ["ingressclasses", false],
    ValidatingAdmissionPolicy: ["validatingadmissionpolicies", false],
    ValidatingAdmissionPolicyBinding: ["validatingadmissionpolicybindings", false],
};

/** Resource name and scope of a kind: known kinds from a table, others by English plural, namespaced. */
export function resourceOf(kind: string): { readonly resource: string; readonly namespaced: boolean } {
    const known = knownKinds[kind];
    if (known) return { resource: known[0], namespaced: known[1] };
    const lower = kind.toLowerCase();
    const resource = /(s|x|ch|sh)$/.test(lower) ? `${lower}es` : /[^aeiou]y$/.test(lower) ? `${lower.slice(0, -1)}ies` : `${lower}s`;
    return { resource, namespaced: true };
}

/** `namespaceObject` as CEL sees it: the request's Namespace, with its deletion mark when it is being deleted. */
function namespaceObject(request: AdmissionRequest): Record<string, unknown> {
    const metadata = { name: request.namespace, labels: { ...request.namespaceLabels } };
    return request.namespaceDeleting
        ? { metadata: { ...metadata, deletionTimestamp: "1970-01-01T00:00:00Z" }, status: { phase: "Terminating" } }
        : { metadata, status: { phase: "Active" } };
}

function splitApiVersion(apiVersion: string): { group: string; version: string } {
    const slash = apiVersion.indexOf("/");
    return slash < 0 ? { group: "", version: apiVersion } : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}

/** Options objects that only ever reach admission as CONNECT to a Pod subresource. */
const connectSubresources: Readonly<Record<string, string>> = { PodExecOptions: "exec", PodAttachOptions: "attach" };

/** The workload a Scale fixture's `scale` subresource belongs to (see knownKinds). */
const scaleTarget: GroupVersionResource = { group: "apps", version: "v1", resource: "deployments" };

/** A Pod as it was before `kubectl debug` added ephemeral containers to it. */
function withoutEphemeralContainers(pod: KubeObject): KubeObject {
    const { ephemeralContainers: _added, ...spec } = (pod.spec ?? {}) as Record<string, unknown>;
    return { ...pod, spec };
}

/**
 * Builds the admission request the API server would send for applying `manifest`. DELETE sends the
 * manifest as `oldObject` with a null `object`, as Kubernetes does. An UPDATE of the
 * `ephemeralcontainers` subresource sends the whole Pod, its old version without the ephemeral
 * containers (unless `oldObject` says otherwise). A `Scale` (`kubectl scale`) is an UPDATE of a Deployment's `scale` subresource. CONNECT (`kubectl exec`) sends the exec options
 * as the object, with the Pod's name.
 */
export function admissionRequest(manifest: KubeObject, options: RequestOptions = {}): AdmissionRequest {
    const connect = connectSubresources[manifest.kind];
    const scale = manifest.kind === "Scale";
    const operation = options.operation ?? (connect ? "CONNECT" : scale ? "UPDATE" : "CREATE");
    const subResource = options.subResource ?? connect ?? (scale ? "scale" : "");
    const { group, version } = splitApiVersion(manifest.apiVersion);
    const { resource, namespaced } = resourceOf(manifest.kind);
    const namespace = namespaced ? (options.namespace ?? manifest.metadata?.namespace ?? "default") : "";
    return {
        operation,
        object: operation === "DELETE" ? null : manifest,
        oldObject:
            operation === "CREATE" || operation === "CONNECT"
                ? null
                : operation === "DELETE"
                  ? manifest
                  : (options.oldObject ?? (subResource === "ephemeralcontainers" ? withoutEphemeralContainers(manifest) : manifest)),
        userInfo: options.userInfo ?? argoCdControllerUser,
        kind: { group, version, kind: manifest.kind },
        resource: scale ? scaleTarget : { group, version, resource },
        subResource,
        name: manifest.metadata?.name ?? "",
        namespace,
        namespaceLabels: namespace === "" ? {} : { ...options.namespaceLabels, "kubernetes.io/metadata.name": namespace },
        ...(options.namespaceDeleting ? { namespaceDeleting: true } : {}),
        dryRun: options.dryRun ?? false,
    };
}

/** What the policy decided, after the binding's validation actions. */
export type Verdict = "Allow" | "Deny" | "Warn" | "Audit" | "NotApplicable";

export interface Violation {
    /** The message the user sees (messageExpression, else message, else "failed expression: …"). */
    readonly message: string;
    readonly reason: string;
    readonly expression: string;
    /** Set when the expression failed to evaluate and failurePolicy is Fail. */
    readonly error?: string;
}

export interface RuleDecision {
    readonly rule: string;
    /** Policy and binding names as AdmissionGuardrails creates them. */
    readonly policy: string;
    readonly binding: string;
    readonly verdict: Verdict;
    /** The message of the first violation: what the API server returns on Deny. */
    readonly message?: string;
    readonly violations: readonly Violation[];
    /** Audit annotations, keyed `<policy>/<key>` as in the audit log. */
    readonly auditAnnotations: Readonly<Record<string, string>>;
    /** Why the policy did not apply (NotApplicable only). */
    readonly skipped?: string;
}

export interface EvaluatorOptions {
    /** The binding the rules are evaluated under. @default prod, ["Deny", "Audit"], selected by label */
    readonly binding?: GuardrailBinding;
    /** @default "gitops-control.io/environment" */
    readonly environmentLabel?: string;
    /** @default "Fail" */
    readonly failurePolicy?: FailurePolicy;
    /** @default "gitops-control" */
    readonly namePrefix?: string;
    /**
     * The cluster's namespaces and their labels: the parameters of rules with `paramNamespaces`
     * (each binding selects those of its class). @default {} (such rules do not apply)
     */
    readonly namespaces?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

type Program = (context: Record<string, unknown>) => unknown;

interface Compiled<T> {
    readonly source: T;
    readonly program: Program;
    readonly field: string;
}

/** A rule whose every expression parsed and type-checked, ready to evaluate many times. */
export interface CompiledRule {
    readonly rule: GuardrailRule;
    readonly variables: readonly Compiled<{ readonly name: string; readonly expression: string }>[];
    readonly matchConditions: readonly Compiled<{ readonly name: string; readonly expression: string }>[];
    readonly validations: readonly {
        readonly check: Compiled<GuardrailRule["validations"][number]>;
        readonly message?: Program;
    }[];
    readonly auditAnnotations: readonly Compiled<GuardrailRule["auditAnnotations"][number]>[];
}

const environment = new cel.Environment({ unlistedVariablesAreDyn: false, homogeneousAggregateLiterals: true })
    .registerVariable("object", "dyn")
    .registerVariable("oldObject", "dyn")
    .registerVariable("request", "dyn")
    .registerVariable("namespaceObject", "dyn")
    .registerVariable("variables", "dyn")
    .registerVariable("params", "dyn")
    // Kubernetes regex library: first match or "" / every match. JavaScript regexes stand in for RE2
    // (patterns are screened for RE2-only syntax first).
    .registerFunction("string.find(string): string", (s: string, p: string) => new RegExp(p).exec(s)?.[0] ?? "")
    .registerFunction("string.findAll(string): list<string>", (s: string, p: string) => [...s.matchAll(new RegExp(p, "g"))].map((m) => m[0]));

function fail(field: string, problem: string, fix: string): never {
    throw new GitOpsConfigError(field, problem, fix);
}

/** Parses and checks one expression, naming Kubernetes-only features as gaps. */
function compileExpression(expression: string, field: string, declared: ReadonlySet<string>, params = false): Program {
    if (!params && /\bparams\b/.test(expression))
        fail(
            field,
            `uses params, from ${kubernetesCelGaps.params}, which the offline evaluator models only for rules with paramNamespaces (CEL gap)`,
            "set paramNamespaces on the rule, or express the check without params",
        );
    for (const m of expression.matchAll(/\.matches\(\s*'((?:[^'\\]|\\.)*)'\s*\)/g)) {
        const problem = re2Problem(m[1].replace(/\\\\/g, "\\"));
        if (problem) fail(field, `passes matches() the pattern '${m[1]}', which ${problem}`, "rewrite it in RE2 syntax (no lookaround, no backreferences)");
    }
    for (const m of expression.matchAll(/\bvariables\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
        if (!declared.has(m[1]))
            fail(field, `uses variables.${m[1]}, which is not declared before it`, "declare the variable in the rule's `variables`, ahead of every expression that uses it");
    }
    const checked = environment.check(expression);
    if (!checked.valid) {
        const message = checked.error?.message.split("\n")[0] ?? "does not type-check";
        const name = /overload for '(?:[a-z<>, ]+\.)?([A-Za-z_]+)\(/.exec(message)?.[1] ?? /Unknown variable: ([A-Za-z_]+)/.exec(message)?.[1];
        const gap = name === undefined ? undefined : kubernetesCelGaps[name];
        if (gap)
            fail(
                field,
                `uses ${name}, from ${gap}, which the offline evaluator does not model (CEL gap)`,
                "express the check without it, or test this rule against a real API server only",
            );
        fail(field, `does not compile: ${message}`, "fix the CEL expression");
    }
    return environment.parse(expression) as Program;
}

/**
 * A matchCondition: the API server evaluates it without `namespaceObject` (null there; only the
 * validations get the namespace), so a condition reading it would decide differently offline.
 */
function compileMatchCondition(expression: string, field: string, declared: ReadonlySet<string>, params: boolean): Program {
    if (/\bnamespaceObject\b/.test(expression))
        fail(field, "reads namespaceObject, which the API server does not give matchConditions (it is null there)", "judge the namespace in a validation instead");
    return compileExpression(expression, field, declared, params);
}

/** Compiles every expression of a rule once; throws a `field` error naming the first that cannot be evaluated offline. */
export function compileRule(rule: GuardrailRule): CompiledRule {
    const f = `rules.${rule.name}`;
    const declared = new Set<string>();
    const params = rule.paramNamespaces ?? false;
    const variables = rule.variables.map((v, i) => {
        const program = compileExpression(v.expression, `${f}.variables[${i}].expression`, declared, params);
        declared.add(v.name);
        return { source: v, program, field: `${f}.variables[${i}]` };
    });
    const matchConditions = rule.matchConditions.map((c, i) => ({
        source: c,
        program: compileMatchCondition(c.expression, `${f}.matchConditions[${i}].expression`, declared, params),
        field: `${f}.matchConditions[${i}]`,
    }));
    const validations = rule.validations.map((v, i) => ({
        check: { source: v, program: compileExpression(v.expression, `${f}.validations[${i}].expression`, declared, params), field: `${f}.validations[${i}]` },
        ...(v.messageExpression !== undefined ? { message: compileExpression(v.messageExpression, `${f}.validations[${i}].messageExpression`, declared, params) } : {}),
    }));
    const auditAnnotations = rule.auditAnnotations.map((a, i) => ({
        source: a,
        program: compileExpression(a.valueExpression, `${f}.auditAnnotations[${i}].valueExpression`, declared, params),
        field: `${f}.auditAnnotations[${i}]`,
    }));
    return { rule, variables, matchConditions, validations, auditAnnotations };
}

/**
 * YAML/JSON values as Kubernetes CEL sees them: integers are `int` (BigInt), so `replicas + 1` works.
 * Copy on write: a plain object or array with no integer below it is returned as it is (CEL never
 * writes to its input), so a check copies only the paths that lead to numbers, not every field.
 */
export function toCel(value: unknown): unknown {
    if (typeof value !== "object") return typeof value === "number" && Number.isInteger(value) ? BigInt(value) : value;
    if (value === null) return value;
    if (Array.isArray(value)) {
        let out: unknown[] | undefined;
        for (let i = 0; i < value.length; i++) {
            const v: unknown = value[i];
            const c = toCel(v);
            if (out !== undefined) out.push(c);
            else if (c !== v || !(i in value)) {
                out = value.slice(0, i) as unknown[];
                out.push(c);
            }
        }
        return out ?? (Object.getPrototypeOf(value) === Array.prototype ? value : Array.from(value as unknown[]));
    }
    const record = value as Record<string, unknown>;
    if (Object.getPrototypeOf(record) !== Object.prototype) {
        // Anything else (a class instance, a null-prototype object) becomes a plain map of its own fields.
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(record)) out[k] = toCel(record[k]);
        return out;
    }
    // A plain object's for-in visits exactly its own enumerable keys, in Object.keys order.
    let out: Record<string, unknown> | undefined;
    for (const k in record) {
        const v = record[k];
        const c = toCel(v);
        if (out !== undefined) out[k] = c;
        else if (c !== v) {
            out = {};
            for (const j in record) {
                if (j === k) break;
                out[j] = record[j];
            }
            out[k] = c;
        }
    }
    return out ?? record;
}

/**
 * `request` as CEL sees it. Kubernetes converts the AdmissionRequest through JSON, so empty
 * optional fields (`subResource`, `name`, `namespace`, `dryRun`, `userInfo.groups`) are absent,
 * not empty: rules must test them with has().
 */
function celRequest(r: AdmissionRequest): Record<string, unknown> {
    const userInfo: Record<string, unknown> = { username: r.userInfo.username };
    if (r.userInfo.uid) userInfo.uid = r.userInfo.uid;
    if (r.userInfo.groups && r.userInfo.groups.length > 0) userInfo.groups = [...r.userInfo.groups];
    if (r.userInfo.extra && Object.keys(r.userInfo.extra).length > 0) userInfo.extra = toCel(r.userInfo.extra);
    // CEL never writes to its input: kind and requestKind (resource and requestResource) may be one copy.
    const kind = { ...r.kind };
    const resource = { ...r.resource };
    const out: Record<string, unknown> = { uid: "offline", kind, resource, requestKind: kind, requestResource: resource };
    if (r.subResource) {
        out.subResource = r.subResource;
        out.requestSubResource = r.subResource;
    }
    if (r.name) out.name = r.name;
    if (r.namespace) out.namespace = r.namespace;
    out.operation = r.operation;
    out.userInfo = userInfo;
    if (r.dryRun) out.dryRun = true;
    return out;
}

function selectorMatches(selector: LabelSelector | undefined, labels: Readonly<Record<string, string>>): boolean {
    if (!selector) return true;
    const matchLabels = selector.matchLabels;
    if (matchLabels) for (const k of Object.keys(matchLabels)) if (labels[k] !== matchLabels[k]) return false;
    for (const e of selector.matchExpressions ?? []) {
        const has = Object.prototype.hasOwnProperty.call(labels, e.key);
        const ok =
            e.operator === "In"
                ? has && (e.values ?? []).includes(labels[e.key])
                : e.operator === "NotIn"
                  ? !has || !(e.values ?? []).includes(labels[e.key])
                  : e.operator === "Exists"
                    ? has
                    : !has;
        if (!ok) return false;
    }
    return true;
}

function resourceMatches(rules: readonly ResourceRule[], r: AdmissionRequest): boolean {
    const full = r.subResource ? `${r.resource.resource}/${r.subResource}` : r.resource.resource;
    return rules.some(
        (rule) =>
            (rule.operations as readonly string[]).some((o) => o === "*" || o === r.operation) &&
            rule.apiGroups.some((g) => g === "*" || g === r.resource.group) &&
            rule.apiVersions.some((v) => v === "*" || v === r.resource.version) &&
            rule.resources.some((p) => {
                if (p === "*/*" || p === full) return true;
                if (p === "*") return !r.subResource;
                const [res, sub] = p.split("/");
                return sub !== undefined && r.subResource !== "" && (res === "*" ? sub === r.subResource : res === r.resource.resource && sub === "*");
            }),
    );
}

const labelsOf = (o: KubeObject | null): Readonly<Record<string, string>> => o?.metadata?.labels ?? {};

/** An object selector matches when either the new or the old object matches (as the API server does). */
function objectSelectorMatches(selector: LabelSelector | undefined, r: AdmissionRequest): boolean {
    if (!selector) return true;
    return (r.object !== null && selectorMatches(selector, labelsOf(r.object))) || (r.oldObject !== null && selectorMatches(selector, labelsOf(r.oldObject)));
}

/** Namespace selectors apply to namespaced objects and to Namespaces themselves; other cluster-scoped objects always match. */
function namespaceSelectorMatches(selector: LabelSelector | undefined, r: AdmissionRequest): boolean {
    if (!selector) return true;
    if (r.kind.kind === "Namespace" && r.kind.group === "") return selectorMatches(selector, labelsOf(r.object ?? r.oldObject));
    if (r.namespace === "") return true;
    return selectorMatches(selector, r.namespaceLabels);
}

function errorText(e: unknown): string {
    return (e instanceof Error ? e.message : String(e)).split("\n")[0];
}

/** A defined, single-line, non-blank messageExpression result, else undefined (Kubernetes then falls back to `message`). */
function usableMessage(value: unknown): string | undefined {
    return typeof value === "string" && value.trim() !== "" && !/[\r\n]/.test(value) ? value : undefined;
}

/**
 * Values shared by every rule for one request, by slot: each distinct variable key
 * ({@link variableKeys}) and matchCondition expression has one slot per evaluator.
 */
type Shared = unknown[];
/** A shared slot not computed yet for this request. */
const unset = Symbol("unset");
/** Where the evaluation context keeps values shared by every rule for one request. */
const sharedKey = Symbol("shared");
/** Where it keeps the request's operation and resource, as the key of each rule's resourceMatches. */
const requestKey = Symbol("request");

/**
 * A variable's expression with every `variables.<name>` it reads replaced by that variable's own key:
 * two variables with equal keys compute the same value from the same request, whichever rule
 * declares them (every rule about containers declares the same `podSpec` and `containers`).
 */
function variableKeys(variables: readonly { readonly name: string; readonly expression: string }[]): string[] {
    const keys = new Map<string, string>();
    return variables.map((v) => {
        const key = v.expression.replace(/\bvariables\.([A-Za-z_][A-Za-z0-9_]*)/g, (m, name: string) => `(${keys.get(name) ?? m})`);
        keys.set(v.name, key);
        return key;
    });
}

/** A rule compiled together with what its binding selects, and getters for its lazy variables. */
interface Prepared {
    readonly compiled: CompiledRule;
    readonly policy: string;
    readonly binding: string;
    readonly namespaceSelector?: LabelSelector;
    readonly objectSelector?: LabelSelector;
    /** For rules with paramNamespaces: the namespaces the binding's paramRef selects, as `params`. */
    readonly params?: readonly unknown[];
    readonly variables: LazyVariables;
    /** The shared slot of each matchCondition (keyed by its expression). */
    readonly conditionSlots: readonly number[];
    /** resourceRules' answer per operation and resource, computed once each. */
    readonly resourceMatches: Map<string, boolean>;
}

interface LazyVariable {
    /** The slot of its key (see {@link variableKeys}) in the request's shared values. */
    readonly slot: number;
    readonly program: Program;
}

/**
 * `variables` as the rule's expressions see it: computed on first read, like Kubernetes (a variable
 * that fails only matters where it is used), and shared across the rules of one request through
 * {@link variableKeys}, so the container list is not rebuilt once per rule. A Map, because the CEL
 * library reads a Map's entries through get(): no per-request property definitions.
 */
class LazyVariables extends Map<string, unknown> {
    private shared: Shared = [];
    private context: Record<string, unknown> = {};

    constructor(private readonly declared: ReadonlyMap<string, LazyVariable>) {
        super();
    }

    /**
     * Points this rule's variables at one evaluation's context and shared values. One instance per
     * rule, re-pointed for each evaluation (evaluation is synchronous: no two overlap), so a request
     * does not construct a Map per rule.
     */
    use(shared: Shared, context: Record<string, unknown>): this {
        this.shared = shared;
        this.context = context;
        return this;
    }

    override get(name: string): unknown {
        const v = this.declared.get(name);
        if (v === undefined) return undefined;
        // The shared slots are the cache: a variable's key names its value for the whole request.
        let value = this.shared[v.slot];
        if (value === unset) {
            value = v.program(this.context);
            this.shared[v.slot] = value;
        }
        return value;
    }

    override has(name: string): boolean {
        return this.declared.has(name);
    }
}
// The CEL library types values by their constructor: present this as the plain map it behaves as.
Object.defineProperty(LazyVariables.prototype, "constructor", { value: Map });

/**
 * Evaluates rules as the API server's ValidatingAdmissionPolicy plugin would, under one binding.
 * Compile once, evaluate many requests.
 */
export class GuardrailEvaluator {
    readonly rules: readonly CompiledRule[];
    private readonly prepared: readonly Prepared[];
    private readonly actions: readonly ValidationAction[];
    private readonly failurePolicy: FailurePolicy;
    /** Slot numbers of the shared values (see {@link Shared}), by key. */
    private readonly slots = new Map<string, number>();

    constructor(rules: readonly GuardrailRule[], options: EvaluatorOptions = {}) {
        const binding = options.binding ?? { environment: "prod", validationActions: ["Deny", "Audit"] };
        const environmentLabel = options.environmentLabel ?? "gitops-control.io/environment";
        const prefix = options.namePrefix ?? "gitops-control";
        this.actions = binding.validationActions;
        this.failurePolicy = options.failurePolicy ?? "Fail";
        this.rules = rules.map(compileRule);
        this.prepared = this.rules.map((compiled) => {
            const policy = policyName(prefix, compiled.rule);
            // The binding's selectors come from the renderer the component deploys with, so the
            // offline answer cannot drift from what the API server is given.
            // A break-glass binding makes none for a rule the carve-out may not lift: nothing matches then.
            const applied = bindingForRule(compiled.rule, binding) ?? { ...binding, namespaces: [] };
            const spec = renderBindingSpec(policy, applied, environmentLabel, compiled.rule.bindingScope, compiled.rule.paramNamespaces);
            const match = spec.matchResources as { namespaceSelector?: LabelSelector; objectSelector?: LabelSelector } | undefined;
            const paramSelector = (spec.paramRef as { selector?: LabelSelector } | undefined)?.selector;
            const params = compiled.rule.paramNamespaces
                ? Object.entries(options.namespaces ?? {})
                      .filter(([, l]) => selectorMatches(paramSelector, l))
                      .sort(([a], [b]) => a.localeCompare(b))
                      .map(([name, l]) => toCel({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { ...l, "kubernetes.io/metadata.name": name } } }))
                : undefined;
            const keys = variableKeys(compiled.variables.map((v) => v.source));
            const variables = new LazyVariables(new Map(compiled.variables.map(({ source, program }, i) => [source.name, { slot: this.slotOf(keys[i]), program }] as const)));
            return {
                compiled,
                policy,
                binding: bindingName(policy, binding),
                namespaceSelector: match?.namespaceSelector,
                objectSelector: match?.objectSelector,
                ...(params ? { params } : {}),
                variables,
                conditionSlots: compiled.matchConditions.map((m) => this.slotOf(m.source.expression)),
                resourceMatches: new Map(),
            };
        });
    }

    private slotOf(key: string): number {
        let slot = this.slots.get(key);
        if (slot === undefined) this.slots.set(key, (slot = this.slots.size));
        return slot;
    }

    /** Every rule's decision on one request, in rule order. */
    evaluate(request: AdmissionRequest): RuleDecision[] {
        const object = toCel(request.object);
        const base = {
            object,
            oldObject: request.oldObject === request.object ? object : toCel(request.oldObject),
            request: celRequest(request),
            namespaceObject: request.namespace === "" ? null : namespaceObject(request),
            params: null,
            // Set to each rule's variables in turn (see evaluateOnce).
            variables: undefined as unknown,
            [sharedKey]: new Array<unknown>(this.slots.size).fill(unset),
            [requestKey]: `${request.operation} ${request.resource.group}/${request.resource.version}/${request.resource.resource}/${request.subResource}`,
        };
        const out: RuleDecision[] = [];
        for (const p of this.prepared) out.push(this.decide(p, request, base));
        return out;
    }

    private decide(p: Prepared, request: AdmissionRequest, base: Record<string | symbol, unknown>): RuleDecision {
        const c = p.compiled;
        const what = base[requestKey] as string;
        let matched = p.resourceMatches.get(what);
        if (matched === undefined) p.resourceMatches.set(what, (matched = resourceMatches(c.rule.resourceRules, request)));
        if (!matched) return notApplicable(p, "resource or operation not matched");
        if (!objectSelectorMatches(c.rule.objectSelector, request)) return notApplicable(p, "policy objectSelector");
        if (!namespaceSelectorMatches(p.namespaceSelector, request)) return notApplicable(p, "binding namespaceSelector");
        if (!objectSelectorMatches(p.objectSelector, request)) return notApplicable(p, "binding objectSelector");

        if (p.params === undefined) return this.evaluateOnce(p, base, base[sharedKey] as Shared, null) ?? notApplicable(p, "matchCondition");
        // Once per parameter, as the API server does; the first failing parameter's answer is the decision.
        if (p.params.length === 0) return notApplicable(p, "no params (parameterNotFoundAction Allow)");
        let last: RuleDecision | undefined;
        for (const param of p.params) {
            const d = this.evaluateOnce(p, base, new Array<unknown>(this.slots.size).fill(unset), param);
            if (d && d.verdict !== "Allow") return d;
            last = d ?? last;
        }
        return last ?? notApplicable(p, "matchCondition");
    }

    /** One evaluation of a matched rule (with one parameter, or null); undefined when a matchCondition skips it. */
    private evaluateOnce(p: Prepared, base: Record<string | symbol, unknown>, shared: Shared, params: unknown): RuleDecision | undefined {
        const c = p.compiled;
        // Without params, every rule of the request evaluates in the request's own context (rules run
        // one after another, each with its variables); with params, each parameter gets its own.
        const context: Record<string | symbol, unknown> =
            params === null ? base : { object: base.object, oldObject: base.oldObject, request: base.request, namespaceObject: base.namespaceObject, params };
        context.variables = p.variables.use(shared, context);

        // Allocated on the first finding: most rules pass (see noViolations).
        let violations: Violation[] | undefined;
        // matchConditions: any false skips the policy; otherwise an error falls to failurePolicy.
        let conditionError: Violation | undefined;
        for (let i = 0; i < c.matchConditions.length; i++) {
            const m = c.matchConditions[i];
            try {
                // matchConditions cannot read variables: equal expressions give equal answers across rules.
                const slot = p.conditionSlots[i];
                let value = shared[slot];
                if (value === unset) shared[slot] = value = m.program(context);
                if (value === false) return params === null ? notApplicable(p, `matchCondition ${m.source.name}`) : undefined;
                if (value !== true) throw new Error(`matchCondition must evaluate to bool, got ${typeof value}`);
            } catch (e) {
                conditionError ??= errorViolation(m.source.expression, e, "Invalid");
            }
        }
        if (conditionError) {
            return this.finish(p, this.failurePolicy === "Fail" ? [conditionError] : noViolations, {});
        }

        for (const v of c.validations) {
            const { source } = v.check;
            let passed: boolean;
            try {
                const value = v.check.program(context);
                if (typeof value !== "boolean") throw new Error(`validation must evaluate to bool, got ${typeof value}`);
                passed = value;
            } catch (e) {
                if (this.failurePolicy === "Fail") (violations ??= []).push(errorViolation(source.expression, e, source.reason ?? "Invalid"));
                continue;
            }
            if (passed) continue;
            let message: string | undefined;
            if (v.message) {
                try {
                    message = usableMessage(v.message(context));
                } catch {
                    message = undefined;
                }
            }
            (violations ??= []).push({
                message: message ?? source.message ?? `failed expression: ${source.expression}`,
                reason: source.reason ?? "Invalid",
                expression: source.expression,
            });
        }

        let auditAnnotations: Record<string, string> | undefined;
        for (const a of c.auditAnnotations) {
            try {
                const value = a.program(context);
                // null or "" omits the annotation.
                if (typeof value === "string") {
                    if (value !== "") (auditAnnotations ??= {})[`${p.policy}/${a.source.key}`] = value;
                } else if (value !== null) throw new Error(`valueExpression must evaluate to string or null, got ${typeof value}`);
            } catch (e) {
                if (this.failurePolicy === "Fail") (violations ??= []).push(errorViolation(a.source.valueExpression, e, "Invalid"));
            }
        }
        return this.finish(p, violations ?? noViolations, auditAnnotations ?? noAnnotations);
    }

    private finish(p: Prepared, violations: readonly Violation[], auditAnnotations: Readonly<Record<string, string>>): RuleDecision {
        const verdict: Verdict = violations.length === 0 ? "Allow" : this.actions.includes("Deny") ? "Deny" : this.actions.includes("Warn") ? "Warn" : "Audit";
        const rule = p.compiled.rule.name;
        return violations.length > 0
            ? { rule, policy: p.policy, binding: p.binding, verdict, message: violations[0].message, violations, auditAnnotations }
            : { rule, policy: p.policy, binding: p.binding, verdict, violations, auditAnnotations };
    }
}

/** The empty violations and annotations of every passing or NotApplicable decision (read-only, so shared). */
const noViolations: readonly Violation[] = Object.freeze([]);
const noAnnotations: Readonly<Record<string, string>> = Object.freeze({});

function notApplicable(p: Prepared, skipped: string): RuleDecision {
    return { rule: p.compiled.rule.name, policy: p.policy, binding: p.binding, verdict: "NotApplicable", violations: noViolations, auditAnnotations: noAnnotations, skipped };
}

/** What the API server reports when an expression fails to evaluate under failurePolicy Fail. */
function errorViolation(expression: string, e: unknown, reason: string): Violation {
    const error = errorText(e);
    return { message: `expression '${expression}' resulted in error: ${error}`, reason, expression, error };
}
