/**
 * The Argo CD namespace holds every powerful service account of the cluster: a Pod there that
 * mounts the application controller's account, a token requested for it, or a RoleBinding to its
 * Role acts as Argo CD, which writes prod. So in that namespace only the program writes what runs
 * and what grants identity, and the cluster's controllers only in their shape (they start the
 * chart's Pods from the program's Deployments and StatefulSet).
 */
import { defaults } from "../../core/defaults";
import { check } from "../../core/errors";
import { celList, celString } from "../cel";
import { WriterExemption, clusterControllerExemptions, exemptInValidation, exemptionMatch } from "../exemptions";
import { ProgramIdentity, describeIdentity, requesterIs, resolveProgramIdentity } from "../identity";
import { GuardrailRule, ResourceRule } from "../types";

const allWrites = ["CREATE", "UPDATE", "DELETE"] as const;

/**
 * What runs in the Argo CD namespace and what grants its identities: workloads (and their scale),
 * Jobs and CronJobs, Pods (created or changed) and every door into one (ephemeral containers, exec, attach,
 * port-forward), ServiceAccounts and their tokens (`kubectl create token`), Secrets (legacy token
 * Secrets, repository and cluster credentials), ConfigMaps (argocd-cm, argocd-rbac-cm, the
 * repositories' TLS certificates and SSH known hosts) and RBAC.
 */
export const argoCdNamespaceResources: readonly ResourceRule[] = [
    {
        apiGroups: ["apps"],
        apiVersions: ["v1"],
        resources: ["deployments", "statefulsets", "daemonsets", "replicasets", "deployments/scale", "statefulsets/scale", "replicasets/scale"],
        operations: allWrites,
    },
    { apiGroups: ["batch"], apiVersions: ["v1"], resources: ["jobs", "cronjobs"], operations: allWrites },
    { apiGroups: [""], apiVersions: ["v1"], resources: ["replicationcontrollers", "serviceaccounts", "secrets", "configmaps"], operations: allWrites },
    // Pod deletion is not governed: the replicaset controller deletes Pods in a rollout, and every Pod's end is the kubelet's DELETE; a deleted Pod is recreated from its template.
    { apiGroups: [""], apiVersions: ["v1"], resources: ["pods"], operations: ["CREATE", "UPDATE"] },
    { apiGroups: [""], apiVersions: ["v1"], resources: ["pods/ephemeralcontainers"], operations: ["UPDATE"] },
    { apiGroups: [""], apiVersions: ["v1"], resources: ["pods/exec", "pods/attach", "pods/portforward"], operations: ["CONNECT"] },
    { apiGroups: [""], apiVersions: ["v1"], resources: ["serviceaccounts/token"], operations: ["CREATE"] },
    { apiGroups: ["rbac.authorization.k8s.io"], apiVersions: ["v1"], resources: ["roles", "rolebindings"], operations: allWrites },
];

export interface GovernArgoCdNamespaceOptions {
    /** Namespace Argo CD runs in. @default {@link defaults.argoNamespace} */
    readonly argoCdNamespace?: string;
    /** Who `pulumi up` runs as: the one writer there. @default {@link defaultProgramIdentity} */
    readonly programIdentity?: ProgramIdentity;
    /** Cluster components exempt in their shape. @default {@link clusterControllerExemptions} and the chart's Redis secret init Job */
    readonly exemptions?: readonly WriterExemption[];
}

/** The chart's pre-install Job (`argocd admin redis-initial-password`): creates the Secret argocd-redis once, nothing else. */
export function redisSecretInit(argoCdNamespace: string): WriterExemption {
    return {
        usernames: [`system:serviceaccount:${argoCdNamespace}:argocd-redis-secret-init`],
        resources: ["secrets"],
        operations: ["CREATE"],
        shape: "object.metadata.name == 'argocd-redis'",
        shapeSummary: "CREATE: the Secret argocd-redis",
        why: "the chart's redis-secret-init Job creates Redis's password once (argo-cd cmd/argocd/commands/admin/redis_initial_password.go)",
    };
}

/**
 * In the Argo CD namespace only the program creates or changes workloads, Pods, ServiceAccounts and
 * their tokens, Secrets, ConfigMaps and RBAC, and only it execs into a Pod; the cluster's
 * controllers write there only in their shape. Break-glass gets no carve-out: a pod there acts as
 * Argo CD, which writes prod. Server-side dry runs are judged too (a token request is not dry).
 */
export function governArgoCdNamespace(options: GovernArgoCdNamespaceOptions = {}): GuardrailRule {
    const argo = options.argoCdNamespace ?? defaults.argoNamespace;
    check(
        /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(argo),
        "governArgoCdNamespace.argoCdNamespace",
        `is "${argo}", not a namespace name`,
        'use the namespace Argo CD runs in, e.g. "argocd"',
    );
    const program = resolveProgramIdentity(options.programIdentity, "governArgoCdNamespace.programIdentity");
    const exemptions = options.exemptions ?? [...clusterControllerExemptions, redisSecretInit(argo)];
    const who = describeIdentity(program.usernames, program.groups);
    const where = "(guardrail govern-argocd-namespace)";
    return {
        name: "govern-argocd-namespace",
        summary: `In the Argo CD namespace (${argo}): workloads, Pods (exec, attach, port-forward, ephemeral containers), ServiceAccounts and tokens, Secrets, ConfigMaps and RBAC written by anyone but the program (${who}) or a cluster controller in its shape`,
        why: "The Argo CD namespace holds the service accounts that write prod: a pod, token or RoleBinding there acts as Argo CD.",
        params: {
            argoCdNamespace: argo,
            programUsernames: program.usernames,
            programGroups: program.groups,
            exemptUsernames: [...new Set(exemptions.flatMap((e) => e.usernames))],
        },
        resourceRules: argoCdNamespaceResources,
        bindingScope: "cluster",
        variables: [],
        validations: [
            {
                expression: `${requesterIs(program.usernames, program.groups)} || ${exemptInValidation(exemptions)}`,
                message: `only the program (${who}) may write workloads, Pods, ServiceAccounts, tokens, Secrets, ConfigMaps and RBAC in the Argo CD namespace ${where}`,
                messageExpression: `request.userInfo.username + ' may not ' + request.operation + ' ' + request.resource.resource + (has(request.subResource) && request.subResource != '' ? '/' + request.subResource : '') + (has(request.name) && request.name != '' ? ' ' + request.name : '') + ${celString(` in the Argo CD namespace ${argo}: its service accounts write prod; only the program (${who}) changes what runs there (pulumi up) ${where}`)}`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [{ name: "in-the-argo-cd-namespace", expression: `request.namespace in ${celList([argo])}` }, ...exemptionMatch(exemptions)],
        auditAnnotations: [],
    };
}
