import { check } from "../../core/errors";
import { GuardrailRule } from "../types";
import { podBearingResources, podSpecVariable, containersVariable, podSpecChangedCondition, PodRuleOptions, checkResources, noContainer } from "./shared";

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
