import { celList, celString, finalizersOnlyRemoved, metadataValue, same } from "../cel";
import { ticketOn } from "../identity";
import { GuardrailRule } from "../types";
import { garbageCollectorUsers, notADryRun, namePart, GovernedWriterOptions, governedWriters } from "../argoInputs";

export type GovernAppProjectsOptions = GovernedWriterOptions;

/**
 * AppProjects decide which repositories deploy where and which cluster-scoped kinds they may
 * apply: whoever writes one (`sourceRepos: ['*']`, destination `*`) steers every Application in
 * it. Only the program writes them, or break-glass under a ticket (audited). Argo CD's application
 * controller only removes its finalizer from a deleted project (`removeProjectFinalizer`), and the
 * garbage collector removes `foregroundDeletion` from a project deleted in the foreground (as the
 * Kubernetes provider deletes): those writes, which only remove finalizers and leave spec, labels
 * and annotations unchanged, are not judged; anything more by them is. argocd-server creates an open
 * `default` project at start-up when none exists; the program creates it deny-all first.
 */
export function governAppProjects(options: GovernAppProjectsOptions = {}): GuardrailRule {
    const w = governedWriters(options, "governAppProjects");
    const where = "(guardrail govern-app-projects)";
    const ticket = (ref: string) => ticketOn(ref, w.ticketAnnotation, w.ticketPattern);
    const unchanged = ["object.spec", "object.metadata.labels", "object.metadata.annotations"].map((f) => same(f, f.replace(/^object/, "oldObject"))).join(" && ");
    /** Who releases a deleted project: Argo CD (its project finalizer) and the garbage collector (`foregroundDeletion`, as `pulumi destroy` deletes). */
    const finalizerReleasers = [w.accounts.applicationController, ...garbageCollectorUsers];
    return {
        name: "govern-app-projects",
        summary: `Creating, changing or deleting an AppProject as anyone but the program (${w.who}) or break-glass with a ticket`,
        why: "An AppProject says which repositories deploy where: whoever widens one steers every Application in it.",
        params: w.params,
        resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["v1alpha1"], resources: ["appprojects"], operations: ["CREATE", "UPDATE", "DELETE"] }],
        bindingScope: "cluster",
        variables: [
            { name: "program", expression: w.isProgram },
            { name: "ticketed", expression: `${w.isBreakGlass} && (request.operation == 'DELETE' ? ${ticket("oldObject")} : ${ticket("object")})` },
        ],
        validations: [
            {
                expression: "variables.program || variables.ticketed",
                message: `only the program (${w.who}) or break-glass with a ticket in ${w.ticketAnnotation} may write AppProjects ${where}`,
                messageExpression: `request.userInfo.username + ' may not ' + request.operation + ' AppProject' + ${namePart} + ${celString(`: AppProjects decide what Argo CD deploys where; only the program (${w.who}) writes them (pulumi up of reviewed config), or break-glass with a ticket in ${w.ticketAnnotation} ${where}`)}`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [
            notADryRun,
            {
                name: "not-a-finalizer-release",
                expression: `!(request.operation == 'UPDATE' && request.userInfo.username in ${celList(finalizerReleasers)} && ${unchanged} && ${finalizersOnlyRemoved})`,
            },
        ],
        auditAnnotations: [
            {
                key: "break-glass-write",
                valueExpression: `!variables.program && variables.ticketed ? request.userInfo.username + ' ' + request.operation + ' AppProject' + ${namePart} + ' under ' + (request.operation == 'DELETE' ? ${metadataValue("oldObject", "annotations", w.ticketAnnotation)} : ${metadataValue("object", "annotations", w.ticketAnnotation)}) : ''`,
            },
        ],
    };
}
