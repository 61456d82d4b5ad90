import { check } from "../../core/errors";
import { labels } from "../../core/labels";
import { celString, metadataValue, qualifiedName } from "../cel";
import { breakGlassGroup, describeIdentity, requesterIs, resolveProgramIdentity } from "../identity";
import { GuardrailRule } from "../types";
import { notADryRun, GovernedWriterOptions } from "../argoInputs";

export interface KeepGovernedNamespacesOptions extends Pick<GovernedWriterOptions, "programIdentity" | "breakGlassGroups"> {
    /** Environment classes whose namespaces are kept (their own label). @default ["prod"] */
    readonly environments?: readonly string[];
    /** @default "gitops-control.io/environment" */
    readonly environmentLabel?: string;
}

/**
 * Deleting a governed namespace deletes every workload in it at once, past every other rule. Only
 * the program (tearing a stack down) and break-glass (audited) may. Argo CD never deletes a
 * namespace it created with CreateNamespace, and no governed namespace is any Application's
 * resource (only previews carry a tracking id), so neither its controller nor the namespace
 * controller (which empties a namespace being deleted, it does not delete it) needs an exemption.
 */
export function keepGovernedNamespaces(options: KeepGovernedNamespacesOptions = {}): GuardrailRule {
    const program = resolveProgramIdentity(options.programIdentity, "keepGovernedNamespaces.programIdentity");
    const breakGlass = options.breakGlassGroups ?? [breakGlassGroup];
    const environments = options.environments ?? ["prod"];
    const envLabel = options.environmentLabel ?? labels.environment;
    check(environments.length > 0, "keepGovernedNamespaces.environments", "is empty, so nothing is kept", 'list at least one environment class, e.g. ["prod"]');
    check(qualifiedName.test(envLabel), "keepGovernedNamespaces.environmentLabel", `is "${envLabel}", not a label key`, `use "${labels.environment}"`);
    const who = describeIdentity(program.usernames, [...program.groups, ...breakGlass]);
    const where = "(guardrail keep-governed-namespaces)";
    const isBreakGlass = requesterIs([], breakGlass);
    return {
        name: "keep-governed-namespaces",
        summary: `Deleting a ${environments.join(", ")} namespace as anyone but ${who}`,
        why: "Deleting a namespace deletes every workload in it at once, and no guardrail on the workloads sees it.",
        params: { environments, environmentLabel: envLabel, programUsernames: program.usernames, programGroups: program.groups, breakGlassGroups: breakGlass },
        resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["namespaces"], operations: ["DELETE"] }],
        objectSelector: { matchExpressions: [{ key: envLabel, operator: "In", values: environments }] },
        bindingScope: "object",
        variables: [],
        validations: [
            {
                expression: `${requesterIs(program.usernames, program.groups)} || ${isBreakGlass}`,
                message: `only ${who} may delete a governed namespace ${where}`,
                messageExpression: `request.userInfo.username + ' may not delete the ' + ${metadataValue("oldObject", "labels", envLabel)} + ' namespace ' + request.name + ${celString(`: it would delete every workload in it; only ${who} may ${where}`)}`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [notADryRun],
        auditAnnotations: [
            {
                key: "deleted-by",
                valueExpression: `${isBreakGlass} ? request.userInfo.username + ' deleted namespace ' + request.name : ''`,
            },
        ],
    };
}
