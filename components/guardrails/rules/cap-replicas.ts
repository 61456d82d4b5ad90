import { defaults } from "../../core/defaults";
import { check } from "../../core/errors";
import { celList, re2Problem } from "../cel";
import { GuardrailRule } from "../types";
import { writes, kubeSystemUser, annotationMatches } from "./shared";

export interface CapReplicasOptions {
    /** Highest replica count admitted without approval. @default {@link defaults.replicaCap} */
    readonly max?: number;
    /** Annotation carrying the approval ticket. @default "gitops-control.io/replicas-approved" */
    readonly overrideAnnotation?: string;
    /** Regular expression (RE2) a ticket reference must match. @default "^[A-Z][A-Z0-9]+-[0-9]+$" (e.g. OPS-1234) */
    readonly ticketPattern?: string;
}

/**
 * Who writes replica counts for an object that was itself admitted: the HPA controller scales within
 * an HPA's maxReplicas (capped below), and the deployment controller sizes a Deployment's
 * ReplicaSets (from an admitted Deployment). kube-controller-manager's own name covers both when it
 * runs without per-controller credentials.
 */
const replicaWriters = {
    scale: [kubeSystemUser("horizontal-pod-autoscaler"), "system:kube-controller-manager"],
    replicaSets: [kubeSystemUser("deployment-controller"), "system:kube-controller-manager"],
} as const;

/**
 * Replica counts above a cap need an approval annotation carrying a ticket reference, whoever
 * writes them (break-glass included: break-glass is audited, not unlimited): a fat-fingered
 * `replicas: 200` would otherwise drain the cluster's capacity. Every path to a replica count is
 * held to it: the workload objects, the `scale` subresource (`kubectl scale`, which carries no
 * annotations, so above the cap it is refused and the ticket goes through the object in Git), and
 * HorizontalPodAutoscalers, whose min/maxReplicas bound what the HPA controller may write.
 */
export function capReplicas(options: CapReplicasOptions = {}): GuardrailRule {
    const max = options.max ?? defaults.replicaCap;
    const annotation = options.overrideAnnotation ?? "gitops-control.io/replicas-approved";
    const ticket = options.ticketPattern ?? "^[A-Z][A-Z0-9]+-[0-9]+$";
    check(Number.isInteger(max) && max > 0, "capReplicas.max", `is ${max}`, `use a whole number > 0 (${defaults.replicaCap} is the default)`);
    check(
        /^([a-z0-9.-]+\/)?[A-Za-z0-9._-]+$/.test(annotation),
        "capReplicas.overrideAnnotation",
        `is "${annotation}"`,
        'use an annotation key such as "gitops-control.io/replicas-approved"',
    );
    check(!ticket.includes("'"), "capReplicas.ticketPattern", "contains a single quote", "remove it");
    const problem = re2Problem(ticket);
    check(problem === undefined, "capReplicas.ticketPattern", `"${ticket}" ${problem}`, 'use an RE2 pattern such as "^[A-Z][A-Z0-9]+-[0-9]+$"');
    const approved = annotationMatches(annotation, ticket);
    const fix = `add the annotation ${annotation}: <TICKET-123> with an approved ticket (guardrail cap-replicas)`;
    const hpa = "object.kind == 'HorizontalPodAutoscaler'";
    const hpaOver = `(object.spec.maxReplicas > ${max} || (has(object.spec.minReplicas) && object.spec.minReplicas > ${max}))`;
    return {
        name: "cap-replicas",
        // The cap holds for everyone, break-glass included (audited, not exempt).
        keptUnderBreakGlass: true,
        summary: `Replica counts above ${max} without a ticket in ${annotation}: workloads, kubectl scale (no ticket possible: refused) and HPA min/maxReplicas, for everyone`,
        why: "A typo in replicas can take the whole cluster's capacity; big scale-ups need a named approval.",
        params: { max, overrideAnnotation: annotation, ticketPattern: ticket },
        resourceRules: [
            { apiGroups: ["apps"], apiVersions: ["v1"], resources: ["deployments", "statefulsets", "replicasets"], operations: writes },
            { apiGroups: [""], apiVersions: ["v1"], resources: ["replicationcontrollers"], operations: writes },
            {
                apiGroups: ["apps"],
                apiVersions: ["v1"],
                resources: ["deployments/scale", "statefulsets/scale", "replicasets/scale"],
                operations: ["UPDATE"],
            },
            { apiGroups: [""], apiVersions: ["v1"], resources: ["replicationcontrollers/scale"], operations: ["UPDATE"] },
            { apiGroups: ["autoscaling"], apiVersions: ["v1", "v2"], resources: ["horizontalpodautoscalers"], operations: writes },
        ],
        variables: [{ name: "scale", expression: "has(request.subResource) && request.subResource == 'scale'" }],
        validations: [
            {
                expression: `variables.scale || ${hpa} || !has(object.spec.replicas) || object.spec.replicas <= ${max} || (${approved})`,
                message: `replicas exceed the cap of ${max}: ${fix}`,
                messageExpression: `'replicas ' + string(object.spec.replicas) + ' exceeds the cap of ${max}: ${fix}'`,
                reason: "Forbidden",
            },
            {
                expression: `!variables.scale || !has(object.spec.replicas) || object.spec.replicas <= ${max}`,
                message: `scaling above the cap of ${max} is refused: kubectl scale carries no ticket; set replicas in Git and ${fix}`,
                messageExpression: `'scaling ' + request.resource.resource + ' ' + request.name + ' to ' + string(object.spec.replicas) + ' exceeds the cap of ${max}: kubectl scale carries no ticket; set replicas in Git and ${fix}'`,
                reason: "Forbidden",
            },
            {
                expression: `!(${hpa}) || !${hpaOver} || (${approved})`,
                message: `HorizontalPodAutoscaler replicas exceed the cap of ${max}: ${fix}`,
                messageExpression: `'HorizontalPodAutoscaler minReplicas ' + (has(object.spec.minReplicas) ? string(object.spec.minReplicas) : '1') + ', maxReplicas ' + string(object.spec.maxReplicas) + ' exceeds the cap of ${max}: ${fix}'`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [
            {
                name: "not-sized-from-an-admitted-object",
                expression: `!(request.userInfo.username in ${celList([...new Set([...replicaWriters.scale, ...replicaWriters.replicaSets])])}) || !(has(request.subResource) ? request.subResource == 'scale' && request.userInfo.username in ${celList(replicaWriters.scale)} : request.resource.resource == 'replicasets' && request.userInfo.username in ${celList(replicaWriters.replicaSets)})`,
            },
        ],
        auditAnnotations: [
            {
                key: "replicas-override",
                valueExpression: `variables.scale || !(${approved}) ? '' : ${hpa} ? (${hpaOver} ? 'HorizontalPodAutoscaler maxReplicas ' + string(object.spec.maxReplicas) + ' approved by ' + object.metadata.annotations['${annotation}'] : '') : has(object.spec.replicas) && object.spec.replicas > ${max} ? 'replicas ' + string(object.spec.replicas) + ' approved by ' + object.metadata.annotations['${annotation}'] : ''`,
            },
        ],
    };
}
