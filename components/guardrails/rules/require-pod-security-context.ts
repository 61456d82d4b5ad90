import { GuardrailRule } from "../types";
import {
    podBearingResources,
    podSpecVariable,
    containersVariable,
    podSpecChangedCondition,
    PodRuleOptions,
    checkResources,
    noContainer,
    effective,
    podSecurityField,
} from "./shared";

export type RequirePodSecurityContextOptions = PodRuleOptions;

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
