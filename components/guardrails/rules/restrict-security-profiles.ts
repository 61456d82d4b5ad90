import { check } from "../../core/errors";
import { celList, celString } from "../cel";
import { GuardrailRule } from "../types";
import { podBearingResources, podSpecVariable, podTemplateVariable, containersVariable, podSpecChangedCondition, PodRuleOptions, checkResources, containerChecks } from "./shared";

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
