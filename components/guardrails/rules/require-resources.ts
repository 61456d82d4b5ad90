import { check } from "../../core/errors";
import { celString } from "../cel";
import { GuardrailRule } from "../types";
import { podBearingResources, podSpecVariable, podSpecChangedCondition, PodRuleOptions, checkResources, noContainer } from "./shared";

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
