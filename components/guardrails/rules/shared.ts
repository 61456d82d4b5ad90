/** Helpers the rules share: operations, pod-bearing kinds and the CEL that reads their pod templates, the options every pod rule takes. */
import { check } from "../../core/errors";
import { celString } from "../cel";
import { MatchCondition, ResourceRule, Validation, Variable } from "../types";

export const writes = ["CREATE", "UPDATE"] as const;
export const allWrites = ["CREATE", "UPDATE", "DELETE"] as const;

/** The username of a kube-controller-manager controller running with its own service account. */
export const kubeSystemUser = (name: string) => `system:serviceaccount:kube-system:${name}`;

/**
 * Every way a pod spec enters the cluster, with where its pod spec lives: the kinds that carry a pod
 * template, bare Pods, and the `pods/ephemeralcontainers` subresource (`kubectl debug` adds an
 * ephemeral container to a running Pod through it; the request's object is the whole Pod).
 * Pods created by the cluster's controllers from an admitted template are checked like any other
 * Pod (no identity exemption from content rules): they carry the template's spec, so they pass.
 */
export const podBearingResources: readonly ResourceRule[] = [
    { apiGroups: ["apps"], apiVersions: ["v1"], resources: ["deployments", "statefulsets", "daemonsets", "replicasets"], operations: writes },
    { apiGroups: ["batch"], apiVersions: ["v1"], resources: ["jobs", "cronjobs"], operations: writes },
    { apiGroups: [""], apiVersions: ["v1"], resources: ["pods", "replicationcontrollers"], operations: writes },
    { apiGroups: [""], apiVersions: ["v1"], resources: ["pods/ephemeralcontainers"], operations: ["UPDATE"] },
];

/** Kinds of {@link podBearingResources}, for rules that may also be given kinds without a pod template. */
export const podBearingKinds = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob", "Pod"] as const;

/** `variables.podSpec`: the pod spec of any pod-bearing kind, so validations do not repeat the path. */
export const podSpecVariable: Variable = {
    name: "podSpec",
    expression: "object.kind == 'Pod' ? object.spec : object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec",
};

/** `variables.podTemplate`: the pod template (metadata and spec) of any pod-bearing kind; a Pod is its own template. */
export const podTemplateVariable: Variable = {
    name: "podTemplate",
    expression: "object.kind == 'Pod' ? object : object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template : object.spec.template",
};

/**
 * `variables.containers`: app, init and ephemeral containers of the pod spec (needs
 * {@link podSpecVariable}). Init containers run with the same node access and count for
 * scheduling; ephemeral containers (Pods only) run in the pod's namespaces: every rule about
 * images, privileges and host access looks at all three.
 */
export const containersVariable: Variable = {
    name: "containers",
    expression:
        "variables.podSpec.containers + (has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : []) + (has(variables.podSpec.ephemeralContainers) ? variables.podSpec.ephemeralContainers : [])",
};

/**
 * Pod UPDATEs that leave the spec alone (a controller adopting or orphaning a Pod, the garbage
 * collector removing a finalizer) are not re-judged: the Pod was judged when it was created, and a
 * Pod that predates a rule must still be deletable. Spec changes (image, ephemeral containers) are.
 */
export const podSpecChangedCondition: MatchCondition = {
    name: "pod-spec-may-change",
    expression: "object.kind != 'Pod' || request.operation != 'UPDATE' || object.spec != oldObject.spec",
};

/** An annotation key is present and its value matches a ticket pattern. */
export function annotationMatches(key: string, pattern: string): string {
    return `has(object.metadata.annotations) && '${key}' in object.metadata.annotations && object.metadata.annotations['${key}'].matches('${pattern}')`;
}

/** Options every pod-template rule takes. */
export interface PodRuleOptions {
    /** Kinds checked; each must carry a pod template. @default every pod-bearing kind ({@link podBearingResources}) */
    readonly resources?: readonly ResourceRule[];
}

export function checkResources(resources: readonly ResourceRule[] | undefined, field: string): void {
    if (resources === undefined) return;
    check(resources.length > 0, field, "is empty, so the rule matches nothing", "drop the field to use the default kinds, or list at least one resource rule");
    resources.forEach((r, i) => {
        check(
            r.apiGroups.length > 0 && r.apiVersions.length > 0 && r.resources.length > 0 && r.operations.length > 0,
            `${field}[${i}]`,
            "has an empty apiGroups, apiVersions, resources or operations list",
            'fill all four, e.g. { apiGroups: ["apps"], apiVersions: ["v1"], resources: ["deployments"], operations: ["CREATE", "UPDATE"] }',
        );
    });
}

/**
 * A validation that no container (of `variables.containers`) is `bad`: a single short-circuiting
 * pass when every container passes; the names (`label` of each offender) are listed only in the
 * message, which the API server evaluates only on failure. Message: `<before><labels joined by ", "><after>`.
 */
export function noContainer(bad: string, message: string, before: string, after: string, label = "c.name", clean?: string): Validation {
    return {
        expression: `${clean ? `variables.${clean} || ` : ""}!variables.containers.exists(c, ${bad})`,
        message,
        messageExpression: `${celString(before)} + variables.containers.filter(c, ${bad}).map(c, ${label}).join(', ') + ${celString(after)}`,
        reason: "Forbidden",
    };
}

/**
 * Several {@link noContainer} checks behind one pass: `variables.<name>` is true when no container
 * is bad in any way, and each check then passes without its own pass over the containers (the
 * common case); only a pod with a finding pays for the per-check passes and messages.
 */
export function containerChecks(
    name: string,
    checks: readonly { readonly bad: string; readonly message: string; readonly before: string; readonly after: string; readonly label?: string }[],
): { readonly variable: Variable; readonly validations: Validation[] } {
    return {
        variable: { name, expression: `!variables.containers.exists(c, ${checks.map((k) => `(${k.bad})`).join(" || ")})` },
        validations: checks.map((k) => noContainer(k.bad, k.message, k.before, k.after, k.label, name)),
    };
}

/** A container's own securityContext field, else the pod's (how the kubelet resolves it). */
export function effective(field: string, fallback: string): string {
    return `(has(c.securityContext) && has(c.securityContext.${field}) ? c.securityContext.${field} : ${fallback})`;
}

/** The pod securityContext's `field`, or `otherwise` when unset. */
export function podSecurityField(field: string, otherwise: string): string {
    return `(has(variables.podSpec.securityContext) && has(variables.podSpec.securityContext.${field}) ? variables.podSpec.securityContext.${field} : ${otherwise})`;
}

/** A username or group name as the API server reports it: no spaces. */
export const username = /^\S+$/;
