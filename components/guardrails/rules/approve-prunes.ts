/**
 * Who may approve a held prune. With the application-level sync option `Prune=confirm`, Argo CD
 * v3.6.1 runs a sync's applies but keeps its prunes waiting (operation Running, "waiting for pruning
 * confirmation of …") until the Application's annotation `argocd.argoproj.io/deletion-approved`
 * holds an RFC 3339 time at or after the operation's `startedAt` (`Application.IsDeletionConfirmed`,
 * read by controller/sync.go into gitops-engine's `WithPruneConfirmed`). Whoever writes that
 * annotation therefore decides whether a mass prune happens: this rule keeps it to the approver
 * group, and to the prune gate for exactly the running operation and within the budget.
 */
import { check } from "../../core/errors";
import { labels } from "../../core/labels";
import { celList, celString, metadataValue, qualifiedName } from "../cel";
import { GuardrailRule } from "../types";

/** Argo CD's approval annotation (gitops-engine's `AnnotationDeletionApproved`). */
export const deletionApprovedAnnotation = "argocd.argoproj.io/deletion-approved";

/** The group whose members approve prunes over the budget when the stack names none. */
export const defaultPruneApproverGroup = "gitops-control:prune-approvers";

export interface ApprovePrunesOptions {
    /** Groups whose members may approve any prune (audited). @default ["gitops-control:prune-approvers"] */
    readonly approverGroups?: readonly string[];
    /** The prune gate's user name (`system:serviceaccount:<ns>:<name>`): it may approve the running operation within `budget`. */
    readonly gateUsername: string;
    /** Most objects one sync may prune on the gate's approval. */
    readonly budget: number;
    /** Environment classes whose Applications are covered (their own label). @default ["prod"] */
    readonly environments?: readonly string[];
    /** @default "gitops-control.io/environment" */
    readonly environmentLabel?: string;
}

/**
 * `approve-prunes`: setting `argocd.argoproj.io/deletion-approved` on a covered Application (on
 * create or update, to any new value) is refused unless the requester is in an approver group, or is
 * the prune gate approving exactly the running operation (`status.operationState.startedAt`) while
 * the Application has at most `budget` objects to prune (`status.resources[].requiresPruning`).
 * Every approval is written to the audit log (`approve-prunes/approved`). Removing the annotation
 * approves nothing and is not judged.
 */
export function approvePrunes(options: ApprovePrunesOptions): GuardrailRule {
    const groups = options.approverGroups ?? [defaultPruneApproverGroup];
    const environments = options.environments ?? ["prod"];
    const envLabel = options.environmentLabel ?? labels.environment;
    check(
        groups.length > 0,
        "approvePrunes.approverGroups",
        "is empty, so a prune over the budget could never be approved",
        `name the approver group, e.g. ["${defaultPruneApproverGroup}"]`,
    );
    groups.forEach((g, i) =>
        check(
            /^\S+$/.test(g) && !/^system:(authenticated|unauthenticated|serviceaccounts)/.test(g),
            `approvePrunes.approverGroups[${i}]`,
            `is "${g}"`,
            "name a dedicated group of people, not everyone",
        ),
    );
    check(
        /^system:serviceaccount:[a-z0-9-]+:[a-z0-9.-]+$/.test(options.gateUsername),
        "approvePrunes.gateUsername",
        `is "${options.gateUsername}"`,
        "use the gate's service account, system:serviceaccount:<namespace>:<name>",
    );
    check(Number.isInteger(options.budget) && options.budget >= 0, "approvePrunes.budget", `is ${options.budget}`, "use a whole number ≥ 0 (applicationPruneBudget.prod)");
    check(environments.length > 0, "approvePrunes.environments", "is empty, so nothing is covered", 'list at least one environment class, e.g. ["prod"]');
    check(qualifiedName.test(envLabel), "approvePrunes.environmentLabel", `is "${envLabel}", not a label key`, `use "${labels.environment}"`);
    const where = "(guardrail approve-prunes)";
    const approval = (ref: string) => metadataValue(ref, "annotations", deletionApprovedAnnotation);
    const started =
        "(has(object.status) && has(object.status.operationState) && has(object.status.operationState.startedAt) ? string(object.status.operationState.startedAt) : '')";
    return {
        name: "approve-prunes",
        summary: `Approving a held prune (annotation ${deletionApprovedAnnotation}) of a ${environments.join(", ")} Application as anyone but group ${groups.join(", ")}, or the prune gate beyond the running operation or the budget of ${options.budget}`,
        why: "With Prune=confirm the approval annotation is the one switch between a bad commit and a mass delete: only the people accountable for it may set it.",
        params: { approverGroups: groups, gateUsername: options.gateUsername, budget: options.budget, environments, environmentLabel: envLabel },
        resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["v1alpha1"], resources: ["applications"], operations: ["CREATE", "UPDATE"] }],
        objectSelector: { matchExpressions: [{ key: envLabel, operator: "In", values: environments }] },
        bindingScope: "object",
        variables: [
            { name: "approval", expression: approval("object") },
            { name: "approver", expression: `has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ${celList(groups)})` },
            {
                name: "pruning",
                expression: "has(object.status) && has(object.status.resources) ? size(object.status.resources.filter(r, has(r.requiresPruning) && r.requiresPruning)) : 0",
            },
            { name: "started", expression: started },
            {
                name: "gate",
                expression: `request.userInfo.username == ${celString(options.gateUsername)} && variables.started != '' && variables.approval == variables.started && variables.pruning <= ${options.budget}`,
            },
        ],
        validations: [
            {
                expression: "variables.approver || variables.gate",
                message: `only members of ${groups.join(", ")} may approve a prune over the budget ${where}`,
                messageExpression:
                    `request.userInfo.username + ' may not approve the prunes of Application ' + object.metadata.name + ' (' + string(variables.pruning) + ' to prune, budget ${options.budget}): ' + ` +
                    `(request.userInfo.username == ${celString(options.gateUsername)} ? (variables.pruning > ${options.budget} ? 'over the budget, a person approves' : 'the gate approves only the running operation, with its startedAt') : ${celString(`only members of ${groups.join(", ")} approve prunes the gate held (kubectl annotate as one of them)`)}) + ${celString(` ${where}`)}`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [
            { name: "approval-set", expression: `${approval("object")} != '' && (request.operation == 'CREATE' || ${approval("object")} != ${approval("oldObject")})` },
        ],
        auditAnnotations: [
            {
                key: "approved",
                valueExpression: `request.userInfo.username + ' approved ' + string(variables.pruning) + ' prunes of Application ' + object.metadata.name + ' (budget ${options.budget}) as of ' + variables.approval`,
            },
        ],
    };
}
