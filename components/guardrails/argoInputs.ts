/**
 * What the rules that govern what steers Argo CD share (govern-app-projects, require-service-project,
 * protect-application-inputs, keep-governed-namespaces, require-namespace-pod-security): Argo CD's
 * own accounts, the previews' project and class, and who may write a governed object. "Only Argo CD
 * writes to prod" holds only if nobody but the program steers Argo CD.
 */
import { defaults } from "../core/defaults";
import { check } from "../core/errors";
import { annotations } from "../core/labels";
import { qualifiedName, re2Problem } from "./cel";
import { ProgramIdentity, breakGlassGroup, defaultTicketPattern, describeIdentity, requesterIs, resolveProgramIdentity } from "./identity";
import { MatchCondition } from "./types";

/** Argo CD's service accounts, as the chart names them, in `argoCdNamespace`. */
export function argoCdAccounts(argoCdNamespace: string) {
    return {
        applicationController: `system:serviceaccount:${argoCdNamespace}:argocd-application-controller`,
        applicationSetController: `system:serviceaccount:${argoCdNamespace}:argocd-applicationset-controller`,
        server: `system:serviceaccount:${argoCdNamespace}:argocd-server`,
    };
}

/** Suffix of a service's preview AppProject: `<service>-previews`. */
export const previewProjectSuffix = "-previews";
/** The environment class of preview Applications (and their namespaces). */
export const previewClass = "preview";

/** The garbage collector's identities: its own ServiceAccount, or kube-controller-manager's when it runs without per-controller credentials. */
export const garbageCollectorUsers = ["system:serviceaccount:kube-system:generic-garbage-collector", "system:kube-controller-manager"] as const;

export const notADryRun: MatchCondition = { name: "not-a-dry-run", expression: "!has(request.dryRun) || request.dryRun == false" };

export const namePart = "(has(request.name) ? ' ' + request.name : '')";

/** Options shared by the rules that admit the program and break-glass. */
export interface GovernedWriterOptions {
    /** Who `pulumi up` runs as. @default {@link defaultProgramIdentity} */
    readonly programIdentity?: ProgramIdentity;
    /** Groups that may act under a ticket (audited). @default ["gitops-control:break-glass"] */
    readonly breakGlassGroups?: readonly string[];
    /** Annotation that must carry the ticket for a break-glass write. @default "gitops-control.io/break-glass-ticket" */
    readonly ticketAnnotation?: string;
    /** RE2 pattern of a ticket. @default "^[A-Z][A-Z0-9]+-[0-9]+$" */
    readonly ticketPattern?: string;
    /** Namespace Argo CD runs in: names its controllers. @default {@link defaults.argoNamespace} */
    readonly argoCdNamespace?: string;
}

export function governedWriters(options: GovernedWriterOptions, rule: string) {
    const program = resolveProgramIdentity(options.programIdentity, `${rule}.programIdentity`);
    const breakGlass = options.breakGlassGroups ?? [breakGlassGroup];
    const ticketAnnotation = options.ticketAnnotation ?? annotations.breakGlassTicket;
    const ticketPattern = options.ticketPattern ?? defaultTicketPattern;
    const argo = options.argoCdNamespace ?? defaults.argoNamespace;
    breakGlass.forEach((g, i) => check(/^\S+$/.test(g), `${rule}.breakGlassGroups[${i}]`, `is "${g}"`, "use a group name without spaces"));
    check(qualifiedName.test(ticketAnnotation), `${rule}.ticketAnnotation`, `is "${ticketAnnotation}", not an annotation key`, `use "${annotations.breakGlassTicket}"`);
    const problem = ticketPattern.includes("'") ? "contains a single quote" : re2Problem(ticketPattern);
    check(problem === undefined, `${rule}.ticketPattern`, `"${ticketPattern}" ${problem}`, `use an RE2 pattern such as "${defaultTicketPattern}"`);
    check(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(argo), `${rule}.argoCdNamespace`, `is "${argo}", not a namespace name`, 'use the namespace Argo CD runs in, e.g. "argocd"');
    return {
        program,
        breakGlass,
        ticketAnnotation,
        ticketPattern,
        accounts: argoCdAccounts(argo),
        isProgram: requesterIs(program.usernames, program.groups),
        isBreakGlass: requesterIs([], breakGlass),
        who: describeIdentity(program.usernames, program.groups),
        params: {
            programUsernames: program.usernames,
            programGroups: program.groups,
            breakGlassGroups: breakGlass,
            ticketAnnotation,
            ticketPattern,
        },
    };
}
