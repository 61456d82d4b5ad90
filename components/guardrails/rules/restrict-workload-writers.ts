import { check } from "../../core/errors";
import { celList, celString } from "../cel";
import { WriterExemption, exemptInValidation, exemptionMatch } from "../exemptions";
import { serviceTrafficResources, writerExemptions } from "../serviceTraffic";
import { GuardrailRule, MatchCondition, ResourceRule } from "../types";
import { writes, allWrites, checkResources, username } from "./shared";

/**
 * What Argo CD deploys and nothing in the cluster should write on its own (see
 * {@link writerExemptions}), and the doors into a running Pod: creating or changing a
 * Pod, adding an ephemeral container (`kubectl debug`) and `kubectl exec`/`attach` (CONNECT). Pod
 * deletion is not governed: a controller replaces the Pod from its template, so it is not drift.
 */
export const governedResources: readonly ResourceRule[] = [
    {
        apiGroups: ["apps"],
        apiVersions: ["v1"],
        resources: ["deployments", "statefulsets", "daemonsets", "replicasets", "deployments/scale", "statefulsets/scale", "replicasets/scale"],
        operations: allWrites,
    },
    { apiGroups: ["batch"], apiVersions: ["v1"], resources: ["cronjobs"], operations: allWrites },
    { apiGroups: [""], apiVersions: ["v1"], resources: ["configmaps", "services", "replicationcontrollers", "replicationcontrollers/scale"], operations: allWrites },
    { apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], operations: writes },
    { apiGroups: [""], apiVersions: ["v1"], resources: ["pods/ephemeralcontainers"], operations: ["UPDATE"] },
    { apiGroups: [""], apiVersions: ["v1"], resources: ["pods/exec", "pods/attach"], operations: ["CONNECT"] },
    { apiGroups: ["networking.k8s.io"], apiVersions: ["v1"], resources: ["ingresses"], operations: allWrites },
    // NetworkPolicies, EndpointSlices and Endpoints: where a Service's traffic goes (guardrails/serviceTraffic.ts).
    ...serviceTrafficResources,
];

export interface RestrictWorkloadWritersOptions {
    /** Users that may write. @default ["system:serviceaccount:argocd:argocd-application-controller"] */
    readonly allowedUsernames?: readonly string[];
    /** Groups whose members may write (break-glass). @default ["gitops-control:break-glass"] */
    readonly allowedGroups?: readonly string[];
    /**
     * Kinds governed. Jobs and Secrets are left out by default: the CronJob and TTL controllers
     * create and delete Jobs, and secret operators and token controllers write Secrets.
     * @default {@link governedResources}
     */
    readonly resources?: readonly ResourceRule[];
    /** Cluster components exempt for narrow purposes. @default {@link writerExemptions} (the endpoint controllers too) */
    readonly exemptions?: readonly WriterExemption[];
    /** Admit server-side dry runs (`kubectl diff`, `--dry-run=server`): nothing is persisted. @default true */
    readonly allowDryRun?: boolean;
}

/** Checks exemptions given as options: each names who, what and which operations. */
export function checkExemptions(exemptions: readonly WriterExemption[], field: string): void {
    exemptions.forEach((e, i) => {
        check(e.usernames.length > 0, `${field}[${i}].usernames`, "is empty", "name the component's exact username");
        e.usernames.forEach((u, j) => check(username.test(u), `${field}[${i}].usernames[${j}]`, `is "${u}"`, "use the component's exact username"));
        check(e.resources.length > 0, `${field}[${i}].resources`, "is empty", 'list the resources it writes, e.g. ["replicasets"] or ["deployments/scale"]');
        check(e.operations.length > 0, `${field}[${i}].operations`, "is empty", "list the operations the component performs");
    });
}

/**
 * In governed namespaces only Argo CD (and the break-glass group) writes workloads and their
 * config: a `kubectl edit` would otherwise be drift that the next sync silently reverts, or worse,
 * that nobody notices.
 */
export function restrictWorkloadWriters(options: RestrictWorkloadWritersOptions = {}): GuardrailRule {
    const users = options.allowedUsernames ?? ["system:serviceaccount:argocd:argocd-application-controller"];
    const groups = options.allowedGroups ?? ["gitops-control:break-glass"];
    const exemptions = options.exemptions ?? writerExemptions;
    const allowDryRun = options.allowDryRun ?? true;
    checkResources(options.resources, "restrictWorkloadWriters.resources");
    check(
        users.length + groups.length > 0,
        "restrictWorkloadWriters",
        "allows no user and no group, so nothing could ever be deployed",
        "keep Argo CD's application controller in `allowedUsernames`",
    );
    users.forEach((u, i) =>
        check(
            username.test(u),
            `restrictWorkloadWriters.allowedUsernames[${i}]`,
            `is "${u}"`,
            'use a username without spaces, e.g. "system:serviceaccount:argocd:argocd-application-controller"',
        ),
    );
    groups.forEach((g, i) =>
        check(username.test(g), `restrictWorkloadWriters.allowedGroups[${i}]`, `is "${g}"`, 'use a group name without spaces, e.g. "gitops-control:break-glass"'),
    );
    checkExemptions(exemptions, "restrictWorkloadWriters.exemptions");
    const inGroup = groups.length > 0 ? `(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ${celList(groups)}))` : "false";
    const allowed = [...(users.length > 0 ? [`request.userInfo.username in ${celList(users)}`] : []), ...(groups.length > 0 ? [inGroup] : [])].join(" || ");
    const who = [...users, ...groups.map((g) => `group ${g}`)].join(", ");
    const matchConditions: MatchCondition[] = [
        ...(allowDryRun ? [{ name: "not-a-dry-run", expression: "!has(request.dryRun) || request.dryRun == false" }] : []),
        ...exemptionMatch(exemptions),
    ];
    return {
        name: "restrict-workload-writers",
        summary: "Creating, changing or deleting workloads and their config as anyone but Argo CD or the break-glass group",
        // It admits the break-glass group itself (audited): a carve-out would admit every engineer.
        keptUnderBreakGlass: true,
        why: "A live edit is drift: the next sync reverts it, or nobody notices until the next incident.",
        params: { allowedUsernames: users, allowedGroups: groups, exemptUsernames: [...new Set(exemptions.flatMap((e) => e.usernames))], allowDryRun },
        resourceRules: options.resources ?? governedResources,
        variables: [],
        validations: [
            {
                expression: `${allowed} || ${exemptInValidation(exemptions)}`,
                message: `only ${who} may write here: commit the change to Git (guardrail restrict-workload-writers)`,
                messageExpression: `request.userInfo.username + ' may not ' + request.operation + ' ' + request.resource.resource + (has(request.subResource) ? '/' + request.subResource : '') + (has(request.name) ? ' ' + request.name : '') + ${celString(`: only ${who} may write here; commit the change to Git (guardrail restrict-workload-writers)`)}`,
                reason: "Forbidden",
            },
        ],
        matchConditions,
        auditAnnotations:
            groups.length > 0
                ? [
                      {
                          key: "break-glass-write",
                          valueExpression: `${inGroup} ? request.userInfo.username + ' ' + request.operation + ' ' + request.resource.resource + (has(request.name) ? ' ' + request.name : '') : ''`,
                      },
                  ]
                : [],
    };
}
