import { check } from "../errors";
import { GuardrailRule, ResourceRule, Variable } from "./types";

const writes = ["CREATE", "UPDATE"] as const;

/** Every kind that carries a pod template, with where its pod spec lives. */
export const podBearingResources: readonly ResourceRule[] = [
    { apiGroups: ["apps"], apiVersions: ["v1"], resources: ["deployments", "statefulsets", "daemonsets"], operations: writes },
    { apiGroups: ["batch"], apiVersions: ["v1"], resources: ["jobs", "cronjobs"], operations: writes },
];

/** `variables.podSpec`: the pod spec of any pod-bearing kind, so validations do not repeat the path. */
export const podSpecVariable: Variable = {
    name: "podSpec",
    expression: "object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec",
};

/** An annotation key is present and its value matches a ticket pattern. */
function annotationMatches(key: string, pattern: string): string {
    return `has(object.metadata.annotations) && '${key}' in object.metadata.annotations && object.metadata.annotations['${key}'].matches('${pattern}')`;
}

export interface RequirePodSecurityContextOptions {
    /** Kinds checked. @default every pod-bearing kind */
    readonly resources?: readonly ResourceRule[];
}

/**
 * Pods must declare a securityContext that refuses to run as root. The API server defaults an absent
 * pod securityContext to `{}`, so "defined" is checked as `runAsNonRoot: true` set explicitly.
 */
export function requirePodSecurityContext(options: RequirePodSecurityContextOptions = {}): GuardrailRule {
    return {
        name: "require-pod-security-context",
        summary: "Workloads whose pod template lacks securityContext.runAsNonRoot: true",
        why: "A container running as root turns an app bug into a node compromise.",
        params: {},
        resourceRules: options.resources ?? podBearingResources,
        variables: [podSpecVariable],
        validations: [
            {
                expression:
                    "has(variables.podSpec.securityContext) && has(variables.podSpec.securityContext.runAsNonRoot) && variables.podSpec.securityContext.runAsNonRoot == true",
                message: "pod securityContext must set runAsNonRoot: true (guardrail require-pod-security-context)",
                reason: "Forbidden",
            },
        ],
        matchConditions: [],
        auditAnnotations: [],
    };
}

export interface CapReplicasOptions {
    /** Highest replica count admitted without approval. @default 20 */
    readonly max?: number;
    /** Annotation carrying the approval ticket. @default "gitops-control.io/replicas-approved" */
    readonly overrideAnnotation?: string;
    /** Regular expression (RE2) a ticket reference must match. @default "^[A-Z][A-Z0-9]+-[0-9]+$" (e.g. OPS-1234) */
    readonly ticketPattern?: string;
}

/**
 * Replica counts above a cap need an approval annotation carrying a ticket reference: a fat-fingered
 * `replicas: 200` would otherwise drain the cluster's capacity.
 */
export function capReplicas(options: CapReplicasOptions = {}): GuardrailRule {
    const max = options.max ?? 20;
    const annotation = options.overrideAnnotation ?? "gitops-control.io/replicas-approved";
    const ticket = options.ticketPattern ?? "^[A-Z][A-Z0-9]+-[0-9]+$";
    check(Number.isInteger(max) && max > 0, "capReplicas.max", `is ${max}`, "use a whole number > 0 (20 is the default)");
    check(/^([a-z0-9.-]+\/)?[A-Za-z0-9._-]+$/.test(annotation), "capReplicas.overrideAnnotation", `is "${annotation}"`, 'use an annotation key such as "gitops-control.io/replicas-approved"');
    check(!ticket.includes("'"), "capReplicas.ticketPattern", "contains a single quote", "remove it");
    const approved = annotationMatches(annotation, ticket);
    return {
        name: "cap-replicas",
        summary: `Deployments and StatefulSets above ${max} replicas without a ticket in ${annotation}`,
        why: "A typo in replicas can take the whole cluster's capacity; big scale-ups need a named approval.",
        params: { max, overrideAnnotation: annotation, ticketPattern: ticket },
        resourceRules: [{ apiGroups: ["apps"], apiVersions: ["v1"], resources: ["deployments", "statefulsets"], operations: writes }],
        variables: [],
        validations: [
            {
                expression: `!has(object.spec.replicas) || object.spec.replicas <= ${max} || (${approved})`,
                messageExpression: `'replicas ' + string(object.spec.replicas) + ' exceeds the cap of ${max}: add the annotation ${annotation}: <TICKET-123> with an approved ticket (guardrail cap-replicas)'`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [],
        auditAnnotations: [
            {
                key: "replicas-override",
                valueExpression: `has(object.spec.replicas) && object.spec.replicas > ${max} && (${approved}) ? 'replicas ' + string(object.spec.replicas) + ' approved by ' + object.metadata.annotations['${annotation}'] : null`,
            },
        ],
    };
}
