import { check } from "../errors";
import { annotations, inClusterServer, labels } from "../labels";
import { celList, celString, metadataValue, qualifiedName, re2Problem } from "./cel";
import { reviewedInputClasses } from "../presets";
import {
    AllowedIgnoreDifference,
    GovernAppProjectsOptions,
    KeepGovernedNamespacesOptions,
    ProtectApplicationInputsOptions,
    RequireNamespacePodSecurityOptions,
    RequireServiceProjectOptions,
    defaultAllowedIgnoreDifferences,
    governAppProjects,
    ignoreDifferencesAllowed,
    keepGovernedNamespaces,
    protectApplicationInputs,
    requireNamespacePodSecurity,
    requireServiceProject,
} from "./argoInputs";
import { GovernArgoCdNamespaceOptions, governArgoCdNamespace } from "./argoCdNamespace";
import { ProtectBreakGlassLabelOptions, protectBreakGlassLabel } from "./breakGlassLabel";
import { serviceTrafficResources, writerExemptions } from "./serviceTraffic";
import { WriterExemption, exemptInValidation, exemptionMatch } from "./exemptions";
export { clusterControllerExemptions } from "./exemptions";
export type { WriterExemption } from "./exemptions";
import { ProgramIdentity, breakGlassGroup, describeIdentity, requesterIs, resolveProgramIdentity } from "./identity";
import { GuardrailRule, MatchCondition, ResourceRule, Validation, Variable } from "./types";

const writes = ["CREATE", "UPDATE"] as const;
const allWrites = ["CREATE", "UPDATE", "DELETE"] as const;

/** The username of a kube-controller-manager controller running with its own service account. */
const kubeSystemUser = (name: string) => `system:serviceaccount:kube-system:${name}`;

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
function annotationMatches(key: string, pattern: string): string {
    return `has(object.metadata.annotations) && '${key}' in object.metadata.annotations && object.metadata.annotations['${key}'].matches('${pattern}')`;
}

/** Options every pod-template rule takes. */
export interface PodRuleOptions {
    /** Kinds checked; each must carry a pod template. @default every pod-bearing kind ({@link podBearingResources}) */
    readonly resources?: readonly ResourceRule[];
}

function checkResources(resources: readonly ResourceRule[] | undefined, field: string): void {
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

export type RequirePodSecurityContextOptions = PodRuleOptions;

/**
 * A validation that no container (of `variables.containers`) is `bad`: a single short-circuiting
 * pass when every container passes; the names (`label` of each offender) are listed only in the
 * message, which the API server evaluates only on failure. Message: `<before><labels joined by ", "><after>`.
 */
function noContainer(bad: string, message: string, before: string, after: string, label = "c.name", clean?: string): Validation {
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
function containerChecks(
    name: string,
    checks: readonly { readonly bad: string; readonly message: string; readonly before: string; readonly after: string; readonly label?: string }[],
): { readonly variable: Variable; readonly validations: Validation[] } {
    return {
        variable: { name, expression: `!variables.containers.exists(c, ${checks.map((k) => `(${k.bad})`).join(" || ")})` },
        validations: checks.map((k) => noContainer(k.bad, k.message, k.before, k.after, k.label, name)),
    };
}

/** A container's own securityContext field, else the pod's (how the kubelet resolves it). */
function effective(field: string, fallback: string): string {
    return `(has(c.securityContext) && has(c.securityContext.${field}) ? c.securityContext.${field} : ${fallback})`;
}

/** The pod securityContext's `field`, or `otherwise` when unset. */
function podSecurityField(field: string, otherwise: string): string {
    return `(has(variables.podSpec.securityContext) && has(variables.podSpec.securityContext.${field}) ? variables.podSpec.securityContext.${field} : ${otherwise})`;
}

/**
 * Every container runs as non-root, judged where the kubelet applies it: a container's
 * `runAsNonRoot`/`runAsUser` override the pod's, so a pod-level `runAsNonRoot: true` with one
 * container saying `false` is refused, and a container-level `true` in every container is enough.
 * `runAsUser: 0` is refused at either level (the kubelet would only refuse it at start).
 */
export function requirePodSecurityContext(options: RequirePodSecurityContextOptions = {}): GuardrailRule {
    checkResources(options.resources, "requirePodSecurityContext.resources");
    const where = "(guardrail require-pod-security-context)";
    return {
        name: "require-pod-security-context",
        // Pod security holds under break-glass too (the namespace's Pod Security restricted would refuse the same pods).
        keptUnderBreakGlass: true,
        summary: "Containers (app, init, ephemeral) whose effective runAsNonRoot is not true, or that run as UID 0",
        why: "A container running as root turns an app bug into a node compromise.",
        params: {},
        resourceRules: options.resources ?? podBearingResources,
        variables: [
            podSpecVariable,
            containersVariable,
            { name: "podNonRoot", expression: `${podSecurityField("runAsNonRoot", "false")} == true` },
            { name: "podRootUser", expression: `${podSecurityField("runAsUser", "-1")} == 0` },
        ],
        validations: [
            noContainer(
                `${effective("runAsNonRoot", "variables.podNonRoot")} != true`,
                `every container must run with runAsNonRoot: true ${where}`,
                "containers ",
                ` may run as root: set runAsNonRoot: true in the pod securityContext and do not override it with false ${where}`,
            ),
            noContainer(
                "has(c.securityContext) && has(c.securityContext.runAsUser) ? c.securityContext.runAsUser == 0 : variables.podRootUser",
                `no container may set runAsUser: 0 ${where}`,
                "containers ",
                ` must not run as UID 0 (runAsUser: 0) ${where}`,
            ),
        ],
        matchConditions: [podSpecChangedCondition],
        auditAnnotations: [],
    };
}

export interface RestrictContainerPrivilegesOptions extends PodRuleOptions {
    /**
     * Capabilities a container may add after dropping ALL, as written in `capabilities.add`
     * (e.g. `NET_BIND_SERVICE`, the only one Pod Security `restricted` allows). @default [] (none)
     */
    readonly allowedCapabilities?: readonly string[];
}

const capabilityName = /^[A-Z][A-Z0-9_]*$/;

/**
 * Containers run unprivileged: not `privileged`, `allowPrivilegeEscalation: false` set explicitly
 * (the kernel default is to allow setuid escalation), capabilities dropped to none and added back
 * only from an allow-list, and `/proc` masked. Checked per container (app, init, ephemeral).
 */
export function restrictContainerPrivileges(options: RestrictContainerPrivilegesOptions = {}): GuardrailRule {
    checkResources(options.resources, "restrictContainerPrivileges.resources");
    const allowed = options.allowedCapabilities ?? [];
    allowed.forEach((cap, i) =>
        check(
            capabilityName.test(cap) && cap !== "ALL",
            `restrictContainerPrivileges.allowedCapabilities[${i}]`,
            `is "${cap}", not a capability name`,
            'use a capability as Kubernetes writes it, e.g. "NET_BIND_SERVICE"',
        ),
    );
    const where = "(guardrail restrict-container-privileges)";
    const caps = "c.securityContext.capabilities";
    const notAllowed = `${caps}.add.filter(a, !(a in ${celList(allowed)}))`;
    const privileged = `${effective("privileged", "false")} == true`;
    const checks = containerChecks("unprivileged", [
        {
            bad: privileged,
            message: `containers must not set securityContext.privileged: true ${where}`,
            before: "containers ",
            after: ` must not set securityContext.privileged: true ${where}`,
        },
        // A privileged container always escalates; it is refused above, so not reported twice.
        {
            bad: `!(${privileged}) && ${effective("allowPrivilegeEscalation", "true")} != false`,
            message: `containers must set securityContext.allowPrivilegeEscalation: false ${where}`,
            before: "containers ",
            after: ` must set securityContext.allowPrivilegeEscalation: false ${where}`,
        },
        {
            bad: `!(has(c.securityContext) && has(${caps}) && has(${caps}.drop) && 'ALL' in ${caps}.drop)`,
            message: `containers must drop ALL capabilities ${where}`,
            before: "containers ",
            after: ` must set securityContext.capabilities.drop: [ALL] ${where}`,
        },
        {
            bad: `has(c.securityContext) && has(${caps}) && has(${caps}.add) && size(${notAllowed}) > 0`,
            message: `containers may add only the capabilities ${allowed.length > 0 ? allowed.join(", ") : "(none)"} ${where}`,
            before: `capabilities added beyond the allow-list (${allowed.length > 0 ? allowed.join(", ") : "none"}): `,
            after: ` ${where}`,
            label: `c.name + '=' + ${notAllowed}.join('+')`,
        },
        {
            bad: `${effective("procMount", "'Default'")} == 'Unmasked'`,
            message: `containers must not set securityContext.procMount: Unmasked ${where}`,
            before: "containers ",
            after: ` must not set securityContext.procMount: Unmasked ${where}`,
        },
    ]);
    return {
        name: "restrict-container-privileges",
        // Pod security holds under break-glass too (the namespace's Pod Security restricted would refuse the same pods).
        keptUnderBreakGlass: true,
        summary: `Privileged containers, privilege escalation, capabilities not dropped to ALL or added beyond ${allowed.length > 0 ? allowed.join(", ") : "none"}, unmasked /proc`,
        why: "Each one hands a container kernel powers that turn an app compromise into a node compromise.",
        params: { allowedCapabilities: allowed },
        resourceRules: options.resources ?? podBearingResources,
        variables: [podSpecVariable, containersVariable, checks.variable],
        validations: checks.validations,
        matchConditions: [podSpecChangedCondition],
        auditAnnotations: [],
    };
}

/** SELinux types Pod Security `baseline` allows (an empty type means the runtime's default). */
export const defaultSELinuxTypes: readonly string[] = ["container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

/** Sysctls Pod Security `baseline` calls safe: namespaced, and unable to affect other pods. */
export const safeSysctls: readonly string[] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

export interface RestrictSecurityProfilesOptions extends PodRuleOptions {
    /** SELinux types a pod or container may request. @default {@link defaultSELinuxTypes} (spc_t, the unconfined type, is refused) */
    readonly allowedSELinuxTypes?: readonly string[];
    /** Sysctls a pod may set. @default {@link safeSysctls} */
    readonly allowedSysctls?: readonly string[];
}

/**
 * The kernel's confinement stays on: seccomp `RuntimeDefault` or `Localhost` in effect for every
 * container (pod level, or each container), no AppArmor `Unconfined` (field or legacy annotation),
 * SELinux types only from an allow-list, sysctls only from the safe set.
 */
export function restrictSecurityProfiles(options: RestrictSecurityProfilesOptions = {}): GuardrailRule {
    checkResources(options.resources, "restrictSecurityProfiles.resources");
    const seLinux = options.allowedSELinuxTypes ?? defaultSELinuxTypes;
    const sysctls = options.allowedSysctls ?? safeSysctls;
    seLinux.forEach((t, i) =>
        check(/^[a-z0-9_]+$/.test(t), `restrictSecurityProfiles.allowedSELinuxTypes[${i}]`, `is "${t}", not an SELinux type`, 'use a type such as "container_t"'),
    );
    check(!seLinux.includes("spc_t"), "restrictSecurityProfiles.allowedSELinuxTypes", "allows spc_t, the unconfined super-privileged type", "remove spc_t");
    sysctls.forEach((s, i) =>
        check(/^[a-z0-9_./-]+$/.test(s), `restrictSecurityProfiles.allowedSysctls[${i}]`, `is "${s}", not a sysctl name`, 'use a name such as "net.ipv4.tcp_syncookies"'),
    );
    const where = "(guardrail restrict-security-profiles)";
    const apparmorAnnotation = "container.apparmor.security.beta.kubernetes.io/";
    const seLinuxType =
        "(has(c.securityContext) && has(c.securityContext.seLinuxOptions) && has(c.securityContext.seLinuxOptions.type) ? c.securityContext.seLinuxOptions.type : variables.podSELinux)";
    const podField = (field: string, inner: string) =>
        `has(variables.podSpec.securityContext) && has(variables.podSpec.securityContext.${field})${inner ? ` && has(variables.podSpec.securityContext.${field}.${inner})` : ""} ? variables.podSpec.securityContext.${field}${inner ? `.${inner}` : ".type"} : ''`;
    const annotations = "variables.podTemplate.metadata.annotations";
    const profiles = containerChecks("confined", [
        {
            bad: "!((has(c.securityContext) && has(c.securityContext.seccompProfile) ? c.securityContext.seccompProfile.type : variables.podSeccomp) in ['RuntimeDefault', 'Localhost'])",
            message: `every container needs seccompProfile.type RuntimeDefault or Localhost ${where}`,
            before: "containers ",
            after: ` run without a seccomp profile: set securityContext.seccompProfile.type: RuntimeDefault (or Localhost) on the pod ${where}`,
        },
        {
            bad: "(has(c.securityContext) && has(c.securityContext.appArmorProfile) ? c.securityContext.appArmorProfile.type : variables.podAppArmor) == 'Unconfined'",
            message: `containers must not run AppArmor Unconfined ${where}`,
            before: "containers ",
            after: ` must not run AppArmor Unconfined ${where}`,
        },
        {
            bad: `!(${seLinuxType} in ${celList(["", ...seLinux])})`,
            message: `SELinux types must be one of ${seLinux.join(", ")} ${where}`,
            before: `SELinux types outside the allow-list (${seLinux.join(", ")}): `,
            after: ` ${where}`,
            label: `c.name + '=' + ${seLinuxType}`,
        },
    ]);
    return {
        name: "restrict-security-profiles",
        // Pod security holds under break-glass too (the namespace's Pod Security restricted would refuse the same pods).
        keptUnderBreakGlass: true,
        summary: "Containers without seccomp RuntimeDefault/Localhost, with AppArmor Unconfined, an SELinux type off the allow-list, or unsafe sysctls",
        why: "seccomp, AppArmor and SELinux are what confine a compromised container to its own pod.",
        params: { allowedSELinuxTypes: seLinux, allowedSysctls: sysctls },
        resourceRules: options.resources ?? podBearingResources,
        variables: [
            podSpecVariable,
            podTemplateVariable,
            containersVariable,
            { name: "podSeccomp", expression: podField("seccompProfile", "") },
            { name: "podAppArmor", expression: podField("appArmorProfile", "") },
            { name: "podSELinux", expression: podField("seLinuxOptions", "type") },
            profiles.variable,
            {
                name: "unconfinedAnnotations",
                expression: `has(variables.podTemplate.metadata) && has(${annotations}) ? ${annotations}.filter(k, k.startsWith(${celString(apparmorAnnotation)}) && ${annotations}[k] == 'unconfined') : []`,
            },
            {
                name: "unsafeSysctls",
                expression: `has(variables.podSpec.securityContext) && has(variables.podSpec.securityContext.sysctls) ? variables.podSpec.securityContext.sysctls.map(s, s.name).filter(n, !(n in ${celList(sysctls)})) : []`,
            },
        ],
        validations: [
            ...profiles.validations.slice(0, 2),
            {
                expression: "size(variables.unconfinedAnnotations) == 0",
                message: `pod annotations must not set AppArmor unconfined ${where}`,
                messageExpression: `'pod annotations ' + variables.unconfinedAnnotations.join(', ') + ' set AppArmor unconfined: remove them ${where}'`,
                reason: "Forbidden",
            },
            profiles.validations[2],
            {
                expression: "size(variables.unsafeSysctls) == 0",
                message: `only safe sysctls may be set ${where}`,
                messageExpression: `'unsafe sysctls ' + variables.unsafeSysctls.join(', ') + ': only the Pod Security baseline set is allowed ${where}'`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [podSpecChangedCondition],
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
    const max = options.max ?? 20;
    const annotation = options.overrideAnnotation ?? "gitops-control.io/replicas-approved";
    const ticket = options.ticketPattern ?? "^[A-Z][A-Z0-9]+-[0-9]+$";
    check(Number.isInteger(max) && max > 0, "capReplicas.max", `is ${max}`, "use a whole number > 0 (20 is the default)");
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

export interface DisallowLatestImageOptions extends PodRuleOptions {
    /**
     * Require every image to be pinned by digest (`@sha256:…`); a tag alone is then not enough.
     * Tags can be re-pushed, digests cannot. @default false
     */
    readonly requireDigest?: boolean;
}

/**
 * A container image reference is pinned when it carries a digest, or (unless digests are required)
 * a tag other than `latest`. The tag is whatever follows the last `:` after the last `/`, so a
 * registry port (`registry:5000/app`) is not mistaken for a tag.
 */
function pinnedImage(image: string, requireDigest: boolean): string {
    const digest = `${image}.matches('@sha256:[a-f0-9]{64}$')`;
    if (requireDigest) return digest;
    return `(${digest} || (!${image}.contains('@') && ${image}.matches(':[^:/]+$') && !${image}.endsWith(':latest')))`;
}

/**
 * Containers must not run `:latest` or untagged images: what runs would then depend on when the
 * node pulled, so Git would no longer describe the cluster.
 */
export function disallowLatestImage(options: DisallowLatestImageOptions = {}): GuardrailRule {
    checkResources(options.resources, "disallowLatestImage.resources");
    const requireDigest = options.requireDigest ?? false;
    const pinned = pinnedImage("c.image", requireDigest);
    const want = requireDigest ? "a digest (@sha256:…)" : "a version tag other than latest, or a digest (@sha256:…)";
    return {
        name: "disallow-latest-image",
        summary: requireDigest ? "Containers whose image is not pinned by digest" : "Containers running :latest or untagged images",
        why: "A floating tag makes the running version depend on pull time, so Git no longer says what runs.",
        params: { requireDigest },
        resourceRules: options.resources ?? podBearingResources,
        variables: [podSpecVariable, containersVariable],
        validations: [
            noContainer(
                `!has(c.image) || !${pinned}`,
                `every container image must carry ${want} (guardrail disallow-latest-image)`,
                `images must carry ${want}: `,
                " (guardrail disallow-latest-image)",
                "c.name + '=' + (has(c.image) ? c.image : '<none>')",
            ),
        ],
        matchConditions: [podSpecChangedCondition],
        auditAnnotations: [],
    };
}

export interface RequireResourcesOptions extends PodRuleOptions {
    /** Resource names every container must request. @default ["cpu", "memory"] */
    readonly requests?: readonly string[];
    /** Resource names every container must limit. @default ["memory"] (a CPU limit only throttles) */
    readonly limits?: readonly string[];
    /** Hold init containers to the same rule: they count for scheduling too. @default true */
    readonly includeInitContainers?: boolean;
}

const resourceName = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/;

/**
 * Every container declares resource requests (what the scheduler reserves) and a memory limit (what
 * the kernel enforces): without them one noisy pod starves its neighbours and nodes overcommit.
 */
export function requireResources(options: RequireResourcesOptions = {}): GuardrailRule {
    checkResources(options.resources, "requireResources.resources");
    const requests = options.requests ?? ["cpu", "memory"];
    const limits = options.limits ?? ["memory"];
    const includeInit = options.includeInitContainers ?? true;
    check(requests.length + limits.length > 0, "requireResources", "requires neither requests nor limits", 'name at least one, e.g. requests: ["cpu", "memory"]');
    (["requests", "limits"] as const).forEach((kind) =>
        (kind === "requests" ? requests : limits).forEach((name, i) =>
            check(resourceName.test(name), `requireResources.${kind}[${i}]`, `is "${name}", not a resource name`, 'use a name such as "cpu", "memory" or "ephemeral-storage"'),
        ),
    );
    const part = (kind: "requests" | "limits", names: readonly string[]): string[] =>
        names.length === 0 ? [] : [`has(c.resources.${kind})`, ...names.map((n) => `${celString(n)} in c.resources.${kind}`)];
    const declared = ["has(c.resources)", ...part("requests", requests), ...part("limits", limits)].join(" && ");
    const fields = [...requests.map((n) => `resources.requests.${n}`), ...limits.map((n) => `resources.limits.${n}`)];
    const fieldList = fields.length === 1 ? fields[0] : `${fields.slice(0, -1).join(", ")} and ${fields[fields.length - 1]}`;
    return {
        name: "require-resources",
        summary: `Containers without ${fieldList}`,
        why: "Undeclared requests let the scheduler overcommit nodes; without a memory limit one leak evicts the neighbours.",
        params: { requests, limits, includeInitContainers: includeInit },
        resourceRules: options.resources ?? podBearingResources,
        variables: [
            podSpecVariable,
            // Not containersVariable: ephemeral containers may not declare resources (the API refuses them).
            {
                name: "containers",
                expression: includeInit
                    ? "variables.podSpec.containers + (has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : [])"
                    : "variables.podSpec.containers",
            },
        ],
        validations: [
            noContainer(
                `!(${declared})`,
                `every container must declare ${fieldList} (guardrail require-resources)`,
                "containers ",
                ` must declare ${fieldList} (guardrail require-resources)`,
            ),
        ],
        matchConditions: [podSpecChangedCondition],
        auditAnnotations: [],
    };
}

export interface DisallowHostAccessOptions extends PodRuleOptions {
    /** Host ports a container may bind (`ports[].hostPort`). @default [] (none) */
    readonly allowedHostPorts?: readonly number[];
}

/** A pod-spec boolean that must not be true. */
function notSet(field: string): string {
    return `!has(variables.podSpec.${field}) || variables.podSpec.${field} == false`;
}

/**
 * No host network, PID or IPC namespace, no hostPath volumes, no host ports (beyond an allow-list):
 * each lets a pod reach the node and everything else scheduled on it. (Privileged containers are
 * refused by restrict-container-privileges, with the other per-container kernel powers.)
 */
export function disallowHostAccess(options: DisallowHostAccessOptions = {}): GuardrailRule {
    checkResources(options.resources, "disallowHostAccess.resources");
    const ports = options.allowedHostPorts ?? [];
    ports.forEach((p, i) => check(Number.isInteger(p) && p > 0 && p < 65536, `disallowHostAccess.allowedHostPorts[${i}]`, `is ${p}`, "use a port number from 1 to 65535"));
    const hostNamespace = (field: "hostNetwork" | "hostPID" | "hostIPC", what: string) => ({
        expression: notSet(field),
        message: `pod spec must not set ${field}: true (${what}) (guardrail disallow-host-access)`,
        reason: "Forbidden" as const,
    });
    return {
        name: "disallow-host-access",
        // Pod security holds under break-glass too (the namespace's Pod Security restricted would refuse the same pods).
        keptUnderBreakGlass: true,
        summary: `hostNetwork, hostPID, hostIPC, hostPath volumes and host ports${ports.length > 0 ? ` other than ${ports.join(", ")}` : ""}`,
        why: "Each one lets a pod reach the node, and from there every other workload on it.",
        params: { allowedHostPorts: ports.map(String) },
        resourceRules: options.resources ?? podBearingResources,
        variables: [
            podSpecVariable,
            containersVariable,
            { name: "hostPathVolumes", expression: "has(variables.podSpec.volumes) ? variables.podSpec.volumes.filter(v, has(v.hostPath)).map(v, v.name) : []" },
        ],
        validations: [
            hostNamespace("hostNetwork", "the node's network"),
            hostNamespace("hostPID", "the node's processes"),
            hostNamespace("hostIPC", "the node's shared memory"),
            {
                expression: "size(variables.hostPathVolumes) == 0",
                message: "volumes must not use hostPath (guardrail disallow-host-access)",
                messageExpression:
                    "'volumes ' + variables.hostPathVolumes.join(', ') + ' must not use hostPath: use an emptyDir, a ConfigMap or a PersistentVolumeClaim (guardrail disallow-host-access)'",
                reason: "Forbidden",
            },
            noContainer(
                `has(c.ports) && c.ports.exists(p, has(p.hostPort) && p.hostPort != 0 && !(p.hostPort in [${ports.join(", ")}]))`,
                "containers must not bind host ports (guardrail disallow-host-access)",
                "containers ",
                ` must not set ports[].hostPort${ports.length > 0 ? ` (allowed: ${ports.join(", ")})` : ""}: expose them through a Service (guardrail disallow-host-access)`,
            ),
        ],
        matchConditions: [podSpecChangedCondition],
        auditAnnotations: [],
    };
}

export interface RequireLabelsOptions {
    /** Label keys that must be present with a non-empty value. At least one. */
    readonly labels: readonly string[];
    /**
     * Also require the labels on the pod template of pod-bearing kinds. Workload metadata is what
     * Argo CD and owners see; pod labels are what metrics, logs and cost reports group by, and the
     * API server does not copy one to the other. @default true
     */
    readonly podTemplate?: boolean;
    /** Kinds checked; kinds without a pod template get the metadata check only. @default every pod-bearing kind */
    readonly resources?: readonly ResourceRule[];
}

/**
 * Workloads carry the labels that say what they are and who owns them, on the object and (by
 * default) on its pod template.
 */
export function requireLabels(options: RequireLabelsOptions): GuardrailRule {
    checkResources(options.resources, "requireLabels.resources");
    check(options.labels.length > 0, "requireLabels.labels", "is empty", 'name at least one label key, e.g. ["app.kubernetes.io/name", "gitops-control.io/team"]');
    options.labels.forEach((key, i) =>
        check(
            qualifiedName.test(key),
            `requireLabels.labels[${i}]`,
            `is "${key}", not a valid label key`,
            'use a key such as "app.kubernetes.io/name" (optional DNS prefix, "/", name of at most 63 characters)',
        ),
    );
    check(new Set(options.labels).size === options.labels.length, "requireLabels.labels", "repeats a key", "list each label once");
    const podTemplate = options.podTemplate ?? true;
    const keys = celList(options.labels);
    const missing = (ref: string) => `${keys}.filter(k, !has(${ref}.labels) || !(k in ${ref}.labels) || ${ref}.labels[k] == '')`;
    const complete = (ref: string) => `has(${ref}.labels) && ${options.labels.map((k) => `${celString(k)} in ${ref}.labels && ${ref}.labels[${celString(k)}] != ''`).join(" && ")}`;
    const listed = options.labels.join(", ");
    return {
        name: "require-labels",
        summary: `Workloads${podTemplate ? " or pod templates" : ""} without the labels ${listed}`,
        why: "Unlabelled workloads have no owner to page and no name in metrics, logs or cost reports.",
        params: { labels: options.labels, podTemplate },
        resourceRules: options.resources ?? podBearingResources,
        // The checks are unrolled over the keys (no macro): the common, passing case costs a few
        // lookups; the list of missing keys is built only for the message of a failure.
        variables: podTemplate ? [podTemplateVariable] : [],
        validations: [
            {
                expression: complete("object.metadata"),
                message: `metadata.labels must set ${listed} (guardrail require-labels)`,
                messageExpression: `'metadata.labels must set ' + ${missing("object.metadata")}.join(', ') + ' (guardrail require-labels)'`,
                reason: "Forbidden",
            },
            ...(podTemplate
                ? [
                      {
                          // Only kinds with a template (a Pod's labels are its template's); podTemplate is lazy, so other kinds never touch it.
                          expression: `!(object.kind in ${celList(podBearingKinds.filter((k) => k !== "Pod"))}) || (has(variables.podTemplate.metadata) && ${complete("variables.podTemplate.metadata")})`,
                          message: `the pod template's metadata.labels must set ${listed} (guardrail require-labels)`,
                          messageExpression: `'the pod template\\'s metadata.labels must set ' + (has(variables.podTemplate.metadata) ? ${missing("variables.podTemplate.metadata")} : ${keys}).join(', ') + ' (guardrail require-labels)'`,
                          reason: "Forbidden" as const,
                      },
                  ]
                : []),
        ],
        matchConditions: [podSpecChangedCondition],
        auditAnnotations: [],
    };
}

/**
 * What Argo CD deploys and nothing in the cluster should write on its own (see
 * {@link clusterControllerExemptions}), and the doors into a running Pod: creating or changing a
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

const username = /^\S+$/;

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

export interface ProtectSyncPolicyOptions {
    /** Environment classes protected (values of the environment label on Applications). @default ["prod"] */
    readonly environments?: readonly string[];
    /** Label carrying the environment class on Applications. @default "gitops-control.io/environment" */
    readonly environmentLabel?: string;
    /**
     * Annotation whose value, a ticket matching `ticketPattern`, lets automated sync be paused
     * (`automated.enabled: false`): the break-glass ticket. prune, selfHeal and allowEmpty stay
     * protected even then. @default "gitops-control.io/break-glass-ticket"
     */
    readonly pauseAnnotation?: string;
    /** RE2 pattern a pause ticket must match (any non-empty string is not a ticket). @default "^[A-Z][A-Z0-9]+-[0-9]+$" (INC-4711) */
    readonly ticketPattern?: string;
    /**
     * RE2 patterns of the revision formats a protected Application may deploy (`targetRevision` of
     * its source or sources): tags, the default branch, commit SHAs, so a feature branch name is
     * refused. A format check, not a review: protect-application-inputs decides who may change it.
     * @default {@link defaultAllowedRevisions}
     */
    readonly allowedRevisions?: readonly string[];
    /** Users that may delete a protected Application (cascade or not). @default [] */
    readonly deleteUsernames?: readonly string[];
    /**
     * Groups that may delete a protected Application: the Pulumi program (whose admin credentials put
     * it in `system:masters`) and break-glass. @default ["system:masters", "gitops-control:break-glass"]
     */
    readonly deleteGroups?: readonly string[];
    /**
     * Annotation holding when a pause ends (ISO-8601 with zone). A paused Application must carry one,
     * and only the program sets or moves it (from a `breakGlass` entry, whose expiry the stack caps
     * at `breakGlassPolicy.maxHours`); anyone may drop it while turning automated sync back on, which
     * is how the break-glass expiry job ends a pause. @default "gitops-control.io/break-glass-expires"
     */
    readonly expiresAnnotation?: string;
    /** Who `pulumi up` runs as: the only writer of the expiry annotation. @default {@link defaultProgramIdentity} */
    readonly programIdentity?: ProgramIdentity;
}

/** An ISO-8601 time with zone, as a break-glass expiry is written (the stack's check, in RE2 for CEL). */
export const expiryFormat = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})$";

/**
 * Revision formats a prod Application may deploy by default: the default branch (`main`,
 * `master`, `HEAD`), release tags (`v1.2.3`, `1.2.3-rc.1`) and full commit SHAs.
 */
export const defaultAllowedRevisions: readonly string[] = ["^(HEAD|main|master)$", "^v?[0-9]+[.][0-9]+[.][0-9]+([-+][0-9A-Za-z.-]+)?$", "^[0-9a-f]{40}$"];

/**
 * Protected Applications keep automated sync with prune and self-heal on and empty syncs refused;
 * sync pauses only under a break-glass ticket; their targetRevision has an allowed format (a
 * format, not a review: who may change it at all is protect-application-inputs'); and only the
 * program or break-glass deletes them (the cascade finalizer would take every workload with them). Applications live in
 * the Argo CD namespace, not in their environment's, so the rule selects them by their own
 * environment label (objectSelector; require-application-environment makes that label honest).
 */
export function protectSyncPolicy(options: ProtectSyncPolicyOptions = {}): GuardrailRule {
    const environments = options.environments ?? ["prod"];
    const envLabel = options.environmentLabel ?? labels.environment;
    const pause = options.pauseAnnotation ?? annotations.breakGlassTicket;
    const ticket = options.ticketPattern ?? "^[A-Z][A-Z0-9]+-[0-9]+$";
    const revisions = options.allowedRevisions ?? defaultAllowedRevisions;
    const deleteUsers = options.deleteUsernames ?? [];
    const deleteGroups = options.deleteGroups ?? ["system:masters", "gitops-control:break-glass"];
    const expires = options.expiresAnnotation ?? annotations.breakGlassExpires;
    const program = resolveProgramIdentity(options.programIdentity, "protectSyncPolicy.programIdentity");
    check(environments.length > 0, "protectSyncPolicy.environments", "is empty, so nothing is protected", 'list at least one environment, e.g. ["prod"]');
    environments.forEach((e, i) =>
        check(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(e), `protectSyncPolicy.environments[${i}]`, `is "${e}", not a label value`, 'use an environment class such as "prod"'),
    );
    check(qualifiedName.test(envLabel), "protectSyncPolicy.environmentLabel", `is "${envLabel}", not a label key`, `use "${labels.environment}"`);
    check(qualifiedName.test(pause), "protectSyncPolicy.pauseAnnotation", `is "${pause}", not an annotation key`, `use "${annotations.breakGlassTicket}"`);
    check(qualifiedName.test(expires), "protectSyncPolicy.expiresAnnotation", `is "${expires}", not an annotation key`, `use "${annotations.breakGlassExpires}"`);
    [ticket, ...revisions].forEach((pattern, i) => {
        const field = i === 0 ? "protectSyncPolicy.ticketPattern" : `protectSyncPolicy.allowedRevisions[${i - 1}]`;
        check(!pattern.includes("'"), field, "contains a single quote", "remove it");
        const problem = re2Problem(pattern);
        check(problem === undefined, field, `"${pattern}" ${problem}`, 'use an RE2 pattern such as "^v[0-9]+[.][0-9]+[.][0-9]+$"');
    });
    check(revisions.length > 0, "protectSyncPolicy.allowedRevisions", "is empty, so no revision could be deployed", "list the allowed revision formats, e.g. tags and main");
    check(deleteUsers.length + deleteGroups.length > 0, "protectSyncPolicy", "lets nobody delete a protected Application", "keep system:masters (the program) in `deleteGroups`");
    [...deleteUsers, ...deleteGroups].forEach((u, i) => check(username.test(u), `protectSyncPolicy.deleteUsernames/deleteGroups[${i}]`, `is "${u}"`, "use a name without spaces"));
    const where = `(guardrail protect-sync-policy)`;
    const changed = (field: "labels" | "annotations", key: string) => `${metadataValue("object", field, key)} != ${metadataValue("oldObject", field, key)}`;
    const deleters = [...deleteUsers, ...deleteGroups.map((g) => `group ${g}`)].join(", ");
    const mayDelete = [
        ...(deleteUsers.length > 0 ? [`request.userInfo.username in ${celList(deleteUsers)}`] : []),
        ...(deleteGroups.length > 0 ? [`(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ${celList(deleteGroups)}))`] : []),
    ].join(" || ");
    const revisionOk = (r: string) => `(${revisions.map((p) => `${r}.matches(${celString(p)})`).join(" || ")})`;
    return {
        name: "protect-sync-policy",
        summary: `${environments.join(", ")} Applications without automated sync, prune and self-heal, with allowEmpty, paused without a ticket and an expiry, whose expiry is set or moved by anyone but the program, on a revision outside the allowed formats, relabelling their namespace through managedNamespaceMetadata, or deleted by anyone but ${deleters}`,
        why: "Without prune and self-heal Git stops describing the cluster; allowEmpty or a feature branch let unmerged state into prod; a cascade delete removes every workload.",
        params: {
            environments,
            environmentLabel: envLabel,
            pauseAnnotation: pause,
            ticketPattern: ticket,
            allowedRevisions: revisions,
            deleteUsernames: deleteUsers,
            deleteGroups,
            expiresAnnotation: expires,
            programUsernames: program.usernames,
            programGroups: program.groups,
        },
        resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["v1alpha1"], resources: ["applications"], operations: allWrites }],
        objectSelector: { matchExpressions: [{ key: envLabel, operator: "In", values: environments }] },
        bindingScope: "object",
        variables: [
            { name: "deleting", expression: "request.operation == 'DELETE'" },
            {
                name: "automated",
                expression: "!variables.deleting && has(object.spec.syncPolicy) && has(object.spec.syncPolicy.automated) ? object.spec.syncPolicy.automated : null",
            },
            { name: "paused", expression: `${metadataValue("object", "annotations", pause)}.matches(${celString(ticket)})` },
            { name: "expires", expression: `variables.deleting ? '' : ${metadataValue("object", "annotations", expires)}` },
            { name: "oldExpires", expression: `request.operation != 'UPDATE' ? '' : ${metadataValue("oldObject", "annotations", expires)}` },
            { name: "syncOn", expression: "variables.automated != null && (!has(variables.automated.enabled) || variables.automated.enabled == true)" },
            {
                name: "namespaceLabels",
                expression:
                    "!variables.deleting && has(object.spec.syncPolicy) && has(object.spec.syncPolicy.managedNamespaceMetadata) && has(object.spec.syncPolicy.managedNamespaceMetadata.labels) ? object.spec.syncPolicy.managedNamespaceMetadata.labels : null",
            },
            {
                name: "revisions",
                expression:
                    "variables.deleting ? [] : (has(object.spec.source) && has(object.spec.source.targetRevision) ? [object.spec.source.targetRevision] : []) + (has(object.spec.sources) ? object.spec.sources.filter(s, has(s.targetRevision)).map(s, s.targetRevision) : [])",
            },
            {
                name: "oldRevisions",
                expression:
                    "request.operation != 'UPDATE' ? [] : (has(oldObject.spec.source) && has(oldObject.spec.source.targetRevision) ? [oldObject.spec.source.targetRevision] : []) + (has(oldObject.spec.sources) ? oldObject.spec.sources.filter(s, has(s.targetRevision)).map(s, s.targetRevision) : [])",
            },
        ],
        validations: [
            {
                expression: `!variables.deleting || ${mayDelete}`,
                message: `only ${deleters} may delete a protected Application: its cascade finalizer deletes every workload it deployed ${where}`,
                messageExpression: `request.userInfo.username + ' may not delete the ' + ${metadataValue("oldObject", "labels", envLabel)} + ' Application ' + request.name + ${celString(`: its cascade finalizer deletes every workload it deployed; only ${deleters} may ${where}`)}`,
                reason: "Forbidden",
            },
            {
                expression: "variables.deleting || variables.automated != null",
                message: `${environments.join(", ")} Applications must sync automatically: set spec.syncPolicy.automated with prune: true and selfHeal: true ${where}`,
                reason: "Forbidden",
            },
            {
                expression: "variables.automated == null || (has(variables.automated.prune) && variables.automated.prune == true)",
                message: `spec.syncPolicy.automated.prune must be true: manifests deleted from Git would stay as ghost objects ${where}`,
                reason: "Forbidden",
            },
            {
                expression: "variables.automated == null || (has(variables.automated.selfHeal) && variables.automated.selfHeal == true)",
                message: `spec.syncPolicy.automated.selfHeal must be true: live edits would stay as drift ${where}`,
                reason: "Forbidden",
            },
            {
                expression: "variables.automated == null || !has(variables.automated.allowEmpty) || variables.automated.allowEmpty == false",
                message: `spec.syncPolicy.automated.allowEmpty must be false or absent: a wrong path would prune everything ${where}`,
                reason: "Forbidden",
            },
            {
                // managedNamespaceMetadata is what labels the namespace: a prod Application must not
                // relabel its namespace into another class or below Pod Security restricted.
                expression: `variables.namespaceLabels == null || (${celString(envLabel)} in variables.namespaceLabels && variables.namespaceLabels[${celString(envLabel)}] == ${metadataValue("object", "labels", envLabel)} && (!('pod-security.kubernetes.io/enforce' in variables.namespaceLabels) || variables.namespaceLabels['pod-security.kubernetes.io/enforce'] == 'restricted'))`,
                message: `spec.syncPolicy.managedNamespaceMetadata.labels must keep ${envLabel} equal to the Application's and pod-security.kubernetes.io/enforce at restricted ${where}`,
                reason: "Forbidden",
            },
            {
                expression: "variables.automated == null || !has(variables.automated.enabled) || variables.automated.enabled == true || variables.paused",
                message: `spec.syncPolicy.automated.enabled may be false only under break-glass (annotation ${pause} with a ticket matching ${ticket}) ${where}`,
                reason: "Forbidden",
            },
            {
                // CEL has no clock: the expiry is a format here; the program caps it (breakGlassPolicy.maxHours) and the expiry job ends it.
                // Checked once the ticket is there (the rule above names a missing ticket).
                expression: `variables.automated == null || !has(variables.automated.enabled) || variables.automated.enabled == true || !variables.paused || variables.expires.matches(${celString(expiryFormat)})`,
                message: `spec.syncPolicy.automated.enabled may be false only until an expiry in annotation ${expires} (an ISO-8601 time the program sets from a breakGlass entry; the break-glass expiry job ends the pause then) ${where}`,
                reason: "Forbidden",
            },
            {
                // A pause ends when its expiry says: moving it is extending the exception.
                expression: `variables.deleting || variables.expires == variables.oldExpires || (variables.expires == '' && variables.syncOn) || ${requesterIs(program.usernames, program.groups)}`,
                message: `only the program (${describeIdentity(program.usernames, program.groups)}) may set or move annotation ${expires}; it may be dropped only while turning automated sync back on ${where}`,
                messageExpression: `request.userInfo.username + ' may not ' + (variables.oldExpires == '' ? 'set' : variables.expires == '' ? 'drop' : 'move') + ' the expiry of the ' + ${metadataValue("object", "labels", envLabel)} + ' Application ' + object.metadata.name + ' (annotation ${expires}' + (variables.expires == '' ? '' : ' to ' + variables.expires) + ${celString(`): only the program (${describeIdentity(program.usernames, program.groups)}) sets it, from a breakGlass entry within breakGlassPolicy.maxHours; it may be dropped only while turning automated sync back on ${where}`)}`,
                reason: "Forbidden",
            },
            {
                // A revision already deployed stays deployable (legacy Applications remain reconcilable).
                expression: `variables.revisions.all(r, r in variables.oldRevisions || ${revisionOk("r")})`,
                message: `targetRevision must have an allowed format (${revisions.join(", ")}) ${where}`,
                messageExpression: `'targetRevision ' + variables.revisions.filter(r, !(r in variables.oldRevisions) && !${revisionOk("r")}).join(', ') + ${celString(` is not an allowed revision format (allowed: ${revisions.join(", ")}): deploy a tag or the default branch ${where}`)}`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [
            {
                // Argo CD writes status through the main resource (Applications have no status
                // subresource): skip writes that leave spec, environment and pause annotation alone,
                // so a legacy Application that predates the rule can still be reconciled.
                name: "sync-policy-may-change",
                expression: `request.operation != 'UPDATE' || object.spec != oldObject.spec || ${changed("labels", envLabel)} || ${changed("annotations", pause)} || ${changed("annotations", expires)}`,
            },
        ],
        auditAnnotations: [
            {
                key: "sync-paused",
                valueExpression: `variables.automated != null && has(variables.automated.enabled) && variables.automated.enabled == false && variables.paused ? 'automated sync paused under ' + ${metadataValue("object", "annotations", pause)} : ''`,
            },
            {
                key: "deleted-by",
                valueExpression: `variables.deleting ? request.userInfo.username + ' deleted Application ' + request.name : ''`,
            },
        ],
    };
}

export interface ProtectNamespaceLabelsOptions {
    /** Environment classes whose namespaces are protected (bindings select them by their own label). @default ["prod"] */
    readonly environments?: readonly string[];
    /** @default "gitops-control.io/environment" */
    readonly environmentLabel?: string;
    /** Labels only the allowed writers may change. @default the team label and the Pod Security labels */
    readonly guardedLabels?: readonly string[];
    /**
     * Who may change guarded labels: Argo CD's application controller (it applies
     * `managedNamespaceMetadata`) and the Pulumi program's identity.
     * @default ["system:serviceaccount:argocd:argocd-application-controller"]
     */
    readonly allowedUsernames?: readonly string[];
    /**
     * Groups that may change guarded labels. The Pulumi program runs with the platform's admin
     * credentials, which put it in `system:masters` (admission still applies to that group, RBAC
     * does not); name its own user or group here when it runs as something narrower.
     * @default ["system:masters", "gitops-control:break-glass"]
     */
    readonly allowedGroups?: readonly string[];
}

const podSecurityModes = ["enforce", "audit", "warn"] as const;

/**
 * The labels that switch every guardrail binding and Pod Security on are themselves guarded. The
 * rule binds to the Namespace objects by their own environment label (an objectSelector, which
 * matches when the old or the new object carries it: a `namespaceSelector` binding would let the
 * relabel through). For everyone, writers included: a protected namespace keeps its environment
 * class, its Pod Security levels never weaken, and it never also carries `env=preview` (the
 * janitor's old selector). Only the allowed writers may change the team and Pod Security labels.
 */
export function protectNamespaceLabels(options: ProtectNamespaceLabelsOptions = {}): GuardrailRule {
    const environments = options.environments ?? ["prod"];
    const envLabel = options.environmentLabel ?? labels.environment;
    const guarded = options.guardedLabels ?? [labels.team, ...podSecurityModes.map((m) => `pod-security.kubernetes.io/${m}`), "pod-security.kubernetes.io/enforce-version"];
    const users = options.allowedUsernames ?? ["system:serviceaccount:argocd:argocd-application-controller"];
    const groups = options.allowedGroups ?? ["system:masters", "gitops-control:break-glass"];
    check(environments.length > 0, "protectNamespaceLabels.environments", "is empty, so nothing is protected", 'list at least one environment, e.g. ["prod"]');
    [envLabel, ...guarded].forEach((k, i) =>
        check(qualifiedName.test(k), `protectNamespaceLabels.guardedLabels[${i}]`, `is "${k}", not a label key`, "use a label key such as gitops-control.io/team"),
    );
    users.forEach((u, i) => check(username.test(u), `protectNamespaceLabels.allowedUsernames[${i}]`, `is "${u}"`, "use a username without spaces"));
    groups.forEach((g, i) => check(username.test(g), `protectNamespaceLabels.allowedGroups[${i}]`, `is "${g}"`, "use a group name without spaces"));
    const where = "(guardrail protect-namespace-labels)";
    const label = (ref: string, key: string) => metadataValue(ref, "labels", key);
    /** The label named by the CEL variable `k`. */
    const labelAt = (ref: string) => `(has(${ref}.metadata.labels) && k in ${ref}.metadata.labels ? ${ref}.metadata.labels[k] : '')`;
    const strictness = (ref: string, key: string) => `{'privileged': 0, 'baseline': 1, 'restricted': 2}[${label(ref, key)} == '' ? 'privileged' : ${label(ref, key)}]`;
    const allowed = `request.userInfo.username in ${celList(users)} || (has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ${celList(groups)}))`;
    const who = [...users, ...groups.map((g) => `group ${g}`)].join(", ");
    return {
        name: "protect-namespace-labels",
        summary: `Relabelling ${environments.join(", ")} namespaces: environment class changed, Pod Security weakened, env=preview added, or team/Pod Security labels changed by anyone but ${who}`,
        why: "The namespace labels switch every guardrail and Pod Security on; whoever can change them can switch them off.",
        params: { environments, environmentLabel: envLabel, guardedLabels: guarded, allowedUsernames: users, allowedGroups: groups },
        resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["namespaces"], operations: writes }],
        bindingScope: "object",
        variables: [
            {
                name: "changed",
                expression: `request.operation == 'UPDATE' ? ${celList(guarded)}.filter(k, ${labelAt("object")} != ${labelAt("oldObject")}) : []`,
            },
        ],
        validations: [
            {
                expression: `request.operation != 'UPDATE' || !(${label("oldObject", envLabel)} in ${celList(environments)}) || ${label("object", envLabel)} == ${label("oldObject", envLabel)}`,
                message: `the environment class of a protected namespace cannot change ${where}`,
                messageExpression: `'namespace ' + object.metadata.name + ' is ' + ${label("oldObject", envLabel)} + ': ${envLabel} cannot change to "' + ${label("object", envLabel)} + '" ${where}'`,
                reason: "Forbidden",
            },
            {
                expression: `!(${label("object", envLabel)} in ${celList(environments)}) || ${label("object", "env")} != 'preview'`,
                message: `a ${environments.join(", ")} namespace cannot also carry env=preview (the preview janitor's label) ${where}`,
                reason: "Forbidden",
            },
            ...podSecurityModes.map((mode) => ({
                expression: `request.operation != 'UPDATE' || ${strictness("object", `pod-security.kubernetes.io/${mode}`)} >= ${strictness("oldObject", `pod-security.kubernetes.io/${mode}`)}`,
                message: `pod-security.kubernetes.io/${mode} cannot be weakened on a protected namespace ${where}`,
                messageExpression: `'pod-security.kubernetes.io/${mode} cannot go from "' + ${label("oldObject", `pod-security.kubernetes.io/${mode}`)} + '" to a weaker level ("' + ${label("object", `pod-security.kubernetes.io/${mode}`)} + '") on namespace ' + object.metadata.name + ' ${where}'`,
                reason: "Forbidden" as const,
            })),
            {
                expression: `size(variables.changed) == 0 || ${allowed}`,
                message: `only ${who} may change the labels ${guarded.join(", ")} of a protected namespace ${where}`,
                messageExpression: `request.userInfo.username + ' may not change ' + variables.changed.join(', ') + ' on namespace ' + object.metadata.name + ${celString(`: only ${who} may ${where}`)}`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [],
        auditAnnotations: [],
    };
}

export interface RequireApplicationEnvironmentOptions {
    /** @default "gitops-control.io/environment" */
    readonly environmentLabel?: string;
    /** Destination names of the cluster the guardrails run in (others are remote: their namespaces are not these). @default ["in-cluster"] */
    readonly localClusterNames?: readonly string[];
    /** Destination servers of the cluster the guardrails run in. @default ["https://kubernetes.default.svc"] */
    readonly localServers?: readonly string[];
}

/**
 * An Application is governed by the class of the namespace it deploys to, not by a label it may
 * omit: every Application whose destination is a governed namespace of this cluster must carry that
 * namespace's environment label (so the object-scoped rules of its class select it), and an
 * Application that labels its namespace through managedNamespaceMetadata must carry the same class.
 * The rule reads the namespaces as parameters (paramKind Namespace, one binding per class); CEL in
 * admission cannot look objects up otherwise.
 */
export function requireApplicationEnvironment(options: RequireApplicationEnvironmentOptions = {}): GuardrailRule {
    const envLabel = options.environmentLabel ?? labels.environment;
    const names = options.localClusterNames ?? ["in-cluster"];
    const servers = options.localServers ?? [inClusterServer];
    check(qualifiedName.test(envLabel), "requireApplicationEnvironment.environmentLabel", `is "${envLabel}", not a label key`, `use "${labels.environment}"`);
    const where = "(guardrail require-application-environment)";
    const appLabel = metadataValue("object", "labels", envLabel);
    const paramLabel = metadataValue("params", "labels", envLabel);
    const dest = "object.spec.destination";
    return {
        name: "require-application-environment",
        summary: `Applications deploying to a governed namespace without its ${envLabel} label, or labelling their namespace (managedNamespaceMetadata) with another class than their own`,
        why: "Rules for Applications select them by their own label: an Application that omits or misstates it would escape its destination's rules.",
        params: { environmentLabel: envLabel, localClusterNames: names, localServers: servers },
        resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["v1alpha1"], resources: ["applications"], operations: writes }],
        bindingScope: "cluster",
        paramNamespaces: true,
        variables: [],
        validations: [
            {
                expression: `!has(${dest}.namespace) || ${dest}.namespace != params.metadata.name || (has(${dest}.name) ? !(${dest}.name in ${celList(names)}) : has(${dest}.server) && !(${dest}.server in ${celList(servers)})) || ${appLabel} == ${paramLabel}`,
                message: `an Application deploying to a governed namespace must carry that namespace's ${envLabel} label ${where}`,
                messageExpression: `'Application ' + object.metadata.name + ' deploys to namespace ' + params.metadata.name + ' of class ' + ${paramLabel} + ${celString(` but its ${envLabel} label is "`)} + ${appLabel} + ${celString(`": set it to the destination's class ${where}`)}`,
                reason: "Forbidden",
            },
            {
                expression: `!has(object.spec.syncPolicy) || !has(object.spec.syncPolicy.managedNamespaceMetadata) || !has(object.spec.syncPolicy.managedNamespaceMetadata.labels) || !(${celString(envLabel)} in object.spec.syncPolicy.managedNamespaceMetadata.labels) || object.spec.syncPolicy.managedNamespaceMetadata.labels[${celString(envLabel)}] == ${appLabel}`,
                message: `spec.syncPolicy.managedNamespaceMetadata.labels may set ${envLabel} only to the Application's own class ${where}`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [
            {
                name: "destination-may-change",
                expression: `request.operation == 'CREATE' || object.spec != oldObject.spec || ${metadataValue("object", "labels", envLabel)} != ${metadataValue("oldObject", "labels", envLabel)}`,
            },
        ],
        auditAnnotations: [],
    };
}

export interface RestrictApplicationSetsOptions {
    /** Label every generated Application must carry, with a literal value. @default "gitops-control.io/environment" */
    readonly environmentLabel?: string;
}

/**
 * ApplicationSets keep the fixed-project promise: the template's `project` is a literal (a
 * `{{…}}` there lets generator data, e.g. a PR's branch name, choose a more privileged project),
 * no `templatePatch` may set it, and the template carries the environment label as a literal, so
 * every generated Application is selected by the object-scoped bindings of its class.
 */
export function restrictApplicationSets(options: RestrictApplicationSetsOptions = {}): GuardrailRule {
    const envLabel = options.environmentLabel ?? labels.environment;
    check(qualifiedName.test(envLabel), "restrictApplicationSets.environmentLabel", `is "${envLabel}", not a label key`, `use "${labels.environment}"`);
    const where = "(guardrail restrict-application-sets)";
    const key = celString(envLabel);
    return {
        name: "restrict-application-sets",
        summary: `ApplicationSets whose template project is templated or patched, or whose template does not carry a literal ${envLabel} label`,
        why: "A templated project lets generator data (a PR's branch) pick a more privileged project; an unlabelled Application escapes its environment's rules.",
        params: { environmentLabel: envLabel },
        resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["v1alpha1"], resources: ["applicationsets"], operations: writes }],
        bindingScope: "cluster",
        variables: [{ name: "template", expression: "object.spec.template" }],
        validations: [
            {
                expression: "!has(variables.template.spec.project) || !variables.template.spec.project.contains('{{')",
                message: `spec.template.spec.project must be a literal project name ${where}`,
                messageExpression: `'spec.template.spec.project "' + variables.template.spec.project + ${celString(`" is templated: generator data would choose the AppProject; set a fixed project ${where}`)}`,
                reason: "Forbidden",
            },
            {
                expression: "!has(object.spec.templatePatch) || !object.spec.templatePatch.contains('project')",
                message: `spec.templatePatch must not set the project: it would escape the fixed project ${where}`,
                reason: "Forbidden",
            },
            {
                expression: `has(variables.template.metadata) && has(variables.template.metadata.labels) && ${key} in variables.template.metadata.labels && variables.template.metadata.labels[${key}] != '' && !variables.template.metadata.labels[${key}].contains('{{')`,
                message: `spec.template.metadata.labels must set ${envLabel} to a literal environment class: generated Applications are governed by it ${where}`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [{ name: "template-may-change", expression: "request.operation == 'CREATE' || object.spec != oldObject.spec" }],
        auditAnnotations: [],
    };
}

/** Per-rule options of {@link defaultRules}; `false` leaves a rule out. */
export interface DefaultRulesOptions {
    /** Namespace Argo CD runs in: names its application controller, the one allowed writer. @default "argocd" */
    readonly argoCdNamespace?: string;
    readonly requirePodSecurityContext?: RequirePodSecurityContextOptions | false;
    readonly capReplicas?: CapReplicasOptions | false;
    readonly disallowLatestImage?: DisallowLatestImageOptions | false;
    readonly requireResources?: RequireResourcesOptions | false;
    readonly disallowHostAccess?: DisallowHostAccessOptions | false;
    readonly restrictContainerPrivileges?: RestrictContainerPrivilegesOptions | false;
    readonly restrictSecurityProfiles?: RestrictSecurityProfilesOptions | false;
    /** @default { labels: ["app.kubernetes.io/name", "gitops-control.io/team"] } */
    readonly requireLabels?: Partial<RequireLabelsOptions> | false;
    /** @default Argo CD's application controller in `argoCdNamespace`, group gitops-control:break-glass */
    readonly restrictWorkloadWriters?: RestrictWorkloadWritersOptions | false;
    readonly protectSyncPolicy?: ProtectSyncPolicyOptions | false;
    readonly protectNamespaceLabels?: ProtectNamespaceLabelsOptions | false;
    readonly restrictApplicationSets?: RestrictApplicationSetsOptions | false;
    readonly requireApplicationEnvironment?: RequireApplicationEnvironmentOptions | false;
    /**
     * Who `pulumi up` runs as: the one writer of AppProjects, governed Applications' inputs and
     * governed namespaces' deletion, and (with break-glass) who deletes protected Applications and
     * relabels protected namespaces. @default {@link defaultProgramIdentity} (group system:masters)
     */
    readonly programIdentity?: ProgramIdentity;
    /** Environment classes whose Argo CD inputs are reviewed state. @default the presets' (components/presets.ts `reviewedInputs`) */
    readonly governedEnvironments?: readonly string[];
    /** The ignoreDifferences governed Applications may carry. @default {@link defaultAllowedIgnoreDifferences} */
    readonly ignoreDifferences?: readonly AllowedIgnoreDifference[];
    readonly governAppProjects?: GovernAppProjectsOptions | false;
    readonly requireServiceProject?: RequireServiceProjectOptions | false;
    readonly protectApplicationInputs?: ProtectApplicationInputsOptions | false;
    readonly keepGovernedNamespaces?: KeepGovernedNamespacesOptions | false;
    readonly requireNamespacePodSecurity?: RequireNamespacePodSecurityOptions | false;
    readonly governArgoCdNamespace?: GovernArgoCdNamespaceOptions | false;
    readonly protectBreakGlassLabel?: ProtectBreakGlassLabelOptions | false;
}

/** Labels {@link defaultRules} requires on workloads. */
export const defaultRequiredLabels: readonly string[] = ["app.kubernetes.io/name", labels.team];

/**
 * The whole rule library with defaults, in a stable order (the order of the docs table and of
 * `policy:check` output). Pass a rule's options to tune it or `false` to leave it out.
 */
export function defaultRules(options: DefaultRulesOptions = {}): GuardrailRule[] {
    const argo = options.argoCdNamespace ?? "argocd";
    check(
        /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(argo),
        "defaultRules.argoCdNamespace",
        `is "${argo}", not a namespace name`,
        'use the namespace Argo CD is installed in, e.g. "argocd"',
    );
    const rules: GuardrailRule[] = [];
    const add = <O>(o: O | false | undefined, build: (o: O | undefined) => GuardrailRule) => {
        if (o !== false) rules.push(build(o));
    };
    add(options.requirePodSecurityContext, (o) => requirePodSecurityContext(o));
    add(options.capReplicas, (o) => capReplicas(o));
    add(options.disallowLatestImage, (o) => disallowLatestImage(o));
    add(options.requireResources, (o) => requireResources(o));
    add(options.disallowHostAccess, (o) => disallowHostAccess(o));
    add(options.restrictContainerPrivileges, (o) => restrictContainerPrivileges(o));
    add(options.restrictSecurityProfiles, (o) => restrictSecurityProfiles(o));
    add(options.requireLabels, (o) => requireLabels({ ...o, labels: o?.labels ?? defaultRequiredLabels }));
    add(options.restrictWorkloadWriters, (o) =>
        restrictWorkloadWriters({ ...o, allowedUsernames: o?.allowedUsernames ?? [`system:serviceaccount:${argo}:argocd-application-controller`] }),
    );
    const program = resolveProgramIdentity(options.programIdentity, "defaultRules.programIdentity");
    const governed = options.governedEnvironments ?? reviewedInputClasses();
    add(options.protectSyncPolicy, (o) =>
        protectSyncPolicy({
            programIdentity: options.programIdentity,
            ...o,
            deleteUsernames: o?.deleteUsernames ?? program.usernames,
            deleteGroups: o?.deleteGroups ?? [...program.groups, breakGlassGroup],
        }),
    );
    add(options.protectNamespaceLabels, (o) =>
        protectNamespaceLabels({
            ...o,
            allowedUsernames: o?.allowedUsernames ?? [`system:serviceaccount:${argo}:argocd-application-controller`, ...program.usernames],
            allowedGroups: o?.allowedGroups ?? [...program.groups, breakGlassGroup],
        }),
    );
    add(options.restrictApplicationSets, (o) => restrictApplicationSets(o));
    add(options.requireApplicationEnvironment, (o) => requireApplicationEnvironment(o));
    const identity = { programIdentity: options.programIdentity, argoCdNamespace: argo };
    const allowedIgnoreDifferences = options.ignoreDifferences ?? defaultAllowedIgnoreDifferences;
    ignoreDifferencesAllowed(allowedIgnoreDifferences, "defaultRules.ignoreDifferences");
    add(options.governAppProjects, (o) => governAppProjects({ ...identity, ...o }));
    add(options.requireServiceProject, (o) => requireServiceProject(o));
    add(options.protectApplicationInputs, (o) => protectApplicationInputs({ ...identity, environments: governed, allowedIgnoreDifferences, ...o }));
    add(options.keepGovernedNamespaces, (o) => keepGovernedNamespaces({ programIdentity: options.programIdentity, environments: governed, ...o }));
    add(options.requireNamespacePodSecurity, (o) => requireNamespacePodSecurity({ argoCdNamespace: argo, ...o }));
    add(options.governArgoCdNamespace, (o) => governArgoCdNamespace({ ...identity, ...o }));
    add(options.protectBreakGlassLabel, (o) => protectBreakGlassLabel({ programIdentity: options.programIdentity, ...o }));
    return rules;
}
