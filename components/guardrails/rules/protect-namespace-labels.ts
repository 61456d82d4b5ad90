import { check } from "../../core/errors";
import { labels } from "../../core/labels";
import { celList, celString, metadataValue, qualifiedName } from "../cel";
import { GuardrailRule } from "../types";
import { writes, username } from "./shared";

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
