import { check } from "../core/errors";
import { celList, celString, metadataValue } from "./cel";

/**
 * Who "the program" is to the API server: the identity `pulumi up` runs with. The rules that keep
 * Argo CD's inputs (AppProjects, an Application's source and destination, governed namespaces)
 * admit it by this identity, so it is a setting of its own rather than a literal in each rule.
 */
export interface ProgramIdentity {
    /** Exact usernames of the program's credentials (a CI service account, a certificate's CN). @default [] */
    readonly usernames?: readonly string[];
    /**
     * Groups of the program's credentials. The local stack and a kubeconfig of the platform's admin put
     * it in `system:masters` (RBAC is bypassed for that group; admission still applies).
     * @default ["system:masters"]
     */
    readonly groups?: readonly string[];
}

/** What a stack gets when it names no identity: the admin group its kubeconfig carries. */
export const defaultProgramIdentity: Required<ProgramIdentity> = { usernames: [], groups: ["system:masters"] };

/** The break-glass group: may act with a ticket, audited. */
export const breakGlassGroup = "gitops-control:break-glass";

/** Ticket pattern of break-glass annotations (INC-4711). */
export const defaultTicketPattern = "^[A-Z][A-Z0-9]+-[0-9]+$";

/** Usernames and groups that name everyone (or every service account): never "the program". */
const everyone = /^(system:authenticated|system:unauthenticated|system:anonymous|system:serviceaccounts(:.*)?|\*)$/;
const noSpaces = /^\S+$/;

/** The identity with defaults, checked: a name, no "everyone" group, not Argo CD's own accounts. */
export function resolveProgramIdentity(identity: ProgramIdentity | undefined, field: string): Required<ProgramIdentity> {
    const resolved = { usernames: identity?.usernames ?? defaultProgramIdentity.usernames, groups: identity?.groups ?? defaultProgramIdentity.groups };
    check(
        resolved.usernames.length + resolved.groups.length > 0,
        field,
        "names no username and no group, so not even `pulumi up` could change a project or an Application's source",
        'name the identity `pulumi up` runs with, e.g. { groups: ["system:masters"] } or { usernames: ["system:serviceaccount:ci:deployer"] }',
    );
    const names: [string, readonly string[]][] = [
        ["usernames", resolved.usernames],
        ["groups", resolved.groups],
    ];
    for (const [kind, list] of names) {
        list.forEach((name, i) => {
            check(noSpaces.test(name), `${field}.${kind}[${i}]`, `is "${name}"`, "use the exact name, without spaces");
            check(
                !everyone.test(name),
                `${field}.${kind}[${i}]`,
                `is "${name}", which every authenticated user or service account carries`,
                "name the program's own user or group (its kubeconfig's), never a group everyone is in",
            );
            check(
                !/^system:serviceaccount:[^:]+:argocd-/.test(name),
                `${field}.${kind}[${i}]`,
                `is "${name}", one of Argo CD's own service accounts`,
                "name the identity `pulumi up` runs with: Argo CD's controllers have their own, narrower exemptions",
            );
        });
    }
    return resolved;
}

/** CEL: the requester is one of `usernames` or in one of `groups` (false when both are empty). */
export function requesterIs(usernames: readonly string[], groups: readonly string[]): string {
    const parts = [
        ...(usernames.length > 0 ? [`request.userInfo.username in ${celList(usernames)}`] : []),
        ...(groups.length > 0 ? [`(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ${celList(groups)}))`] : []),
    ];
    return parts.length > 0 ? `(${parts.join(" || ")})` : "false";
}

/** How a message names an identity: `alice, group system:masters`. */
export function describeIdentity(usernames: readonly string[], groups: readonly string[]): string {
    return [...usernames, ...groups.map((g) => `group ${g}`)].join(", ");
}

/** CEL: the annotation `key` of `ref` matches the ticket pattern. */
export function ticketOn(ref: string, key: string, pattern: string): string {
    return `${metadataValue(ref, "annotations", key)}.matches(${celString(pattern)})`;
}
