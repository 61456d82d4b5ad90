import { check } from "../../core/errors";
import { celList } from "../cel";
import { GuardrailRule } from "../types";
import { podBearingResources, podSpecVariable, containersVariable, podSpecChangedCondition, PodRuleOptions, checkResources, containerChecks, effective } from "./shared";

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
