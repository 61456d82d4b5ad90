import { check } from "../../core/errors";
import { annotations, labels } from "../../core/labels";
import { celList, celString, metadataValue, qualifiedName, re2Problem } from "../cel";
import { ProgramIdentity, describeIdentity, requesterIs, resolveProgramIdentity } from "../identity";
import { GuardrailRule } from "../types";
import { allWrites, username } from "./shared";

export interface ProtectSyncPolicyOptions {
    /** Environment classes protected (values of the environment label on Applications). @default ["prod"] */
    readonly environments?: readonly string[];
    /** Label carrying the environment class on Applications. @default "gitops-control.io/environment" */
    readonly environmentLabel?: string;
    /**
     * Annotation whose value, a ticket matching `ticketPattern`, lets automated sync be paused
     * (`automated.enabled: false`): the break-glass ticket. prune, selfHeal and allowEmpty stay
     * protected even then. @default "gitops-control.io/break-glass-ticket"
     */
    readonly pauseAnnotation?: string;
    /** RE2 pattern a pause ticket must match (any non-empty string is not a ticket). @default "^[A-Z][A-Z0-9]+-[0-9]+$" (INC-4711) */
    readonly ticketPattern?: string;
    /**
     * RE2 patterns of the revision formats a protected Application may deploy (`targetRevision` of
     * its source or sources): tags, the default branch, commit SHAs, so a feature branch name is
     * refused. A format check, not a review: protect-application-inputs decides who may change it.
     * @default {@link defaultAllowedRevisions}
     */
    readonly allowedRevisions?: readonly string[];
    /** Users that may delete a protected Application (cascade or not). @default [] */
    readonly deleteUsernames?: readonly string[];
    /**
     * Groups that may delete a protected Application: the Pulumi program (whose admin credentials put
     * it in `system:masters`) and break-glass. @default ["system:masters", "gitops-control:break-glass"]
     */
    readonly deleteGroups?: readonly string[];
    /**
     * Annotation holding when a pause ends (ISO-8601 with zone). A paused Application must carry one,
     * and only the program sets or moves it (from a `breakGlass` entry, whose expiry the stack caps
     * at `breakGlassPolicy.maxHours`); anyone may drop it while turning automated sync back on, which
     * is how the break-glass expiry job ends a pause. @default "gitops-control.io/break-glass-expires"
     */
    readonly expiresAnnotation?: string;
    /** Who `pulumi up` runs as: the only writer of the expiry annotation. @default {@link defaultProgramIdentity} */
    readonly programIdentity?: ProgramIdentity;
}

/** An ISO-8601 time with zone, as a break-glass expiry is written (the stack's check, in RE2 for CEL). */
export const expiryFormat = "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})$";

/**
 * Revision formats a prod Application may deploy by default: the default branch (`main`,
 * `master`, `HEAD`), release tags (`v1.2.3`, `1.2.3-rc.1`) and full commit SHAs.
 */
export const defaultAllowedRevisions: readonly string[] = ["^(HEAD|main|master)$", "^v?[0-9]+[.][0-9]+[.][0-9]+([-+][0-9A-Za-z.-]+)?$", "^[0-9a-f]{40}$"];

/**
 * Protected Applications keep automated sync with prune and self-heal on and empty syncs refused;
 * sync pauses only under a break-glass ticket; their targetRevision has an allowed format (a
 * format, not a review: who may change it at all is protect-application-inputs'); and only the
 * program or break-glass deletes them (the cascade finalizer would take every workload with them). Applications live in
 * the Argo CD namespace, not in their environment's, so the rule selects them by their own
 * environment label (objectSelector; require-application-environment makes that label honest).
 */
export function protectSyncPolicy(options: ProtectSyncPolicyOptions = {}): GuardrailRule {
    const environments = options.environments ?? ["prod"];
    const envLabel = options.environmentLabel ?? labels.environment;
    const pause = options.pauseAnnotation ?? annotations.breakGlassTicket;
    const ticket = options.ticketPattern ?? "^[A-Z][A-Z0-9]+-[0-9]+$";
    const revisions = options.allowedRevisions ?? defaultAllowedRevisions;
    const deleteUsers = options.deleteUsernames ?? [];
    const deleteGroups = options.deleteGroups ?? ["system:masters", "gitops-control:break-glass"];
    const expires = options.expiresAnnotation ?? annotations.breakGlassExpires;
    const program = resolveProgramIdentity(options.programIdentity, "protectSyncPolicy.programIdentity");
    check(environments.length > 0, "protectSyncPolicy.environments", "is empty, so nothing is protected", 'list at least one environment, e.g. ["prod"]');
    environments.forEach((e, i) =>
        check(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(e), `protectSyncPolicy.environments[${i}]`, `is "${e}", not a label value`, 'use an environment class such as "prod"'),
    );
    check(qualifiedName.test(envLabel), "protectSyncPolicy.environmentLabel", `is "${envLabel}", not a label key`, `use "${labels.environment}"`);
    check(qualifiedName.test(pause), "protectSyncPolicy.pauseAnnotation", `is "${pause}", not an annotation key`, `use "${annotations.breakGlassTicket}"`);
    check(qualifiedName.test(expires), "protectSyncPolicy.expiresAnnotation", `is "${expires}", not an annotation key`, `use "${annotations.breakGlassExpires}"`);
    [ticket, ...revisions].forEach((pattern, i) => {
        const field = i === 0 ? "protectSyncPolicy.ticketPattern" : `protectSyncPolicy.allowedRevisions[${i - 1}]`;
        check(!pattern.includes("'"), field, "contains a single quote", "remove it");
        const problem = re2Problem(pattern);
        check(problem === undefined, field, `"${pattern}" ${problem}`, 'use an RE2 pattern such as "^v[0-9]+[.][0-9]+[.][0-9]+$"');
    });
    check(revisions.length > 0, "protectSyncPolicy.allowedRevisions", "is empty, so no revision could be deployed", "list the allowed revision formats, e.g. tags and main");
    check(deleteUsers.length + deleteGroups.length > 0, "protectSyncPolicy", "lets nobody delete a protected Application", "keep system:masters (the program) in `deleteGroups`");
    [...deleteUsers, ...deleteGroups].forEach((u, i) => check(username.test(u), `protectSyncPolicy.deleteUsernames/deleteGroups[${i}]`, `is "${u}"`, "use a name without spaces"));
    const where = `(guardrail protect-sync-policy)`;
    const changed = (field: "labels" | "annotations", key: string) => `${metadataValue("object", field, key)} != ${metadataValue("oldObject", field, key)}`;
    const deleters = [...deleteUsers, ...deleteGroups.map((g) => `group ${g}`)].join(", ");
    const mayDelete = [
        ...(deleteUsers.length > 0 ? [`request.userInfo.username in ${celList(deleteUsers)}`] : []),
        ...(deleteGroups.length > 0 ? [`(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ${celList(deleteGroups)}))`] : []),
    ].join(" || ");
    const revisionOk = (r: string) => `(${revisions.map((p) => `${r}.matches(${celString(p)})`).join(" || ")})`;
    return {
        name: "protect-sync-policy",
        summary: `${environments.join(", ")} Applications without automated sync, prune and self-heal, with allowEmpty, paused without a ticket and an expiry, whose expiry is set or moved by anyone but the program, on a revision outside the allowed formats, relabelling their namespace through managedNamespaceMetadata, or deleted by anyone but ${deleters}`,
        why: "Without prune and self-heal Git stops describing the cluster; allowEmpty or a feature branch let unmerged state into prod; a cascade delete removes every workload.",
        params: {
            environments,
            environmentLabel: envLabel,
            pauseAnnotation: pause,
            ticketPattern: ticket,
            allowedRevisions: revisions,
            deleteUsernames: deleteUsers,
            deleteGroups,
            expiresAnnotation: expires,
            programUsernames: program.usernames,
            programGroups: program.groups,
        },
        resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["v1alpha1"], resources: ["applications"], operations: allWrites }],
        objectSelector: { matchExpressions: [{ key: envLabel, operator: "In", values: environments }] },
        bindingScope: "object",
        variables: [
            { name: "deleting", expression: "request.operation == 'DELETE'" },
            {
                name: "automated",
                expression: "!variables.deleting && has(object.spec.syncPolicy) && has(object.spec.syncPolicy.automated) ? object.spec.syncPolicy.automated : null",
            },
            { name: "paused", expression: `${metadataValue("object", "annotations", pause)}.matches(${celString(ticket)})` },
            { name: "expires", expression: `variables.deleting ? '' : ${metadataValue("object", "annotations", expires)}` },
            { name: "oldExpires", expression: `request.operation != 'UPDATE' ? '' : ${metadataValue("oldObject", "annotations", expires)}` },
            { name: "syncOn", expression: "variables.automated != null && (!has(variables.automated.enabled) || variables.automated.enabled == true)" },
            {
                name: "namespaceLabels",
                expression:
                    "!variables.deleting && has(object.spec.syncPolicy) && has(object.spec.syncPolicy.managedNamespaceMetadata) && has(object.spec.syncPolicy.managedNamespaceMetadata.labels) ? object.spec.syncPolicy.managedNamespaceMetadata.labels : null",
            },
            {
                name: "revisions",
                expression:
                    "variables.deleting ? [] : (has(object.spec.source) && has(object.spec.source.targetRevision) ? [object.spec.source.targetRevision] : []) + (has(object.spec.sources) ? object.spec.sources.filter(s, has(s.targetRevision)).map(s, s.targetRevision) : [])",
            },
            {
                name: "oldRevisions",
                expression:
                    "request.operation != 'UPDATE' ? [] : (has(oldObject.spec.source) && has(oldObject.spec.source.targetRevision) ? [oldObject.spec.source.targetRevision] : []) + (has(oldObject.spec.sources) ? oldObject.spec.sources.filter(s, has(s.targetRevision)).map(s, s.targetRevision) : [])",
            },
        ],
        validations: [
            {
                expression: `!variables.deleting || ${mayDelete}`,
                message: `only ${deleters} may delete a protected Application: its cascade finalizer deletes every workload it deployed ${where}`,
                messageExpression: `request.userInfo.username + ' may not delete the ' + ${metadataValue("oldObject", "labels", envLabel)} + ' Application ' + request.name + ${celString(`: its cascade finalizer deletes every workload it deployed; only ${deleters} may ${where}`)}`,
                reason: "Forbidden",
            },
            {
                expression: "variables.deleting || variables.automated != null",
                message: `${environments.join(", ")} Applications must sync automatically: set spec.syncPolicy.automated with prune: true and selfHeal: true ${where}`,
                reason: "Forbidden",
            },
            {
                expression: "variables.automated == null || (has(variables.automated.prune) && variables.automated.prune == true)",
                message: `spec.syncPolicy.automated.prune must be true: manifests deleted from Git would stay as ghost objects ${where}`,
                reason: "Forbidden",
            },
            {
                expression: "variables.automated == null || (has(variables.automated.selfHeal) && variables.automated.selfHeal == true)",
                message: `spec.syncPolicy.automated.selfHeal must be true: live edits would stay as drift ${where}`,
                reason: "Forbidden",
            },
            {
                expression: "variables.automated == null || !has(variables.automated.allowEmpty) || variables.automated.allowEmpty == false",
                message: `spec.syncPolicy.automated.allowEmpty must be false or absent: a wrong path would prune everything ${where}`,
                reason: "Forbidden",
            },
            {
                // managedNamespaceMetadata is what labels the namespace: a prod Application must not
                // relabel its namespace into another class or below Pod Security restricted.
                expression: `variables.namespaceLabels == null || (${celString(envLabel)} in variables.namespaceLabels && variables.namespaceLabels[${celString(envLabel)}] == ${metadataValue("object", "labels", envLabel)} && (!('pod-security.kubernetes.io/enforce' in variables.namespaceLabels) || variables.namespaceLabels['pod-security.kubernetes.io/enforce'] == 'restricted'))`,
                message: `spec.syncPolicy.managedNamespaceMetadata.labels must keep ${envLabel} equal to the Application's and pod-security.kubernetes.io/enforce at restricted ${where}`,
                reason: "Forbidden",
            },
            {
                expression: "variables.automated == null || !has(variables.automated.enabled) || variables.automated.enabled == true || variables.paused",
                message: `spec.syncPolicy.automated.enabled may be false only under break-glass (annotation ${pause} with a ticket matching ${ticket}) ${where}`,
                reason: "Forbidden",
            },
            {
                // CEL has no clock: the expiry is a format here; the program caps it (breakGlassPolicy.maxHours) and the expiry job ends it.
                // Checked once the ticket is there (the rule above names a missing ticket).
                expression: `variables.automated == null || !has(variables.automated.enabled) || variables.automated.enabled == true || !variables.paused || variables.expires.matches(${celString(expiryFormat)})`,
                message: `spec.syncPolicy.automated.enabled may be false only until an expiry in annotation ${expires} (an ISO-8601 time the program sets from a breakGlass entry; the break-glass expiry job ends the pause then) ${where}`,
                reason: "Forbidden",
            },
            {
                // A pause ends when its expiry says: moving it is extending the exception.
                expression: `variables.deleting || variables.expires == variables.oldExpires || (variables.expires == '' && variables.syncOn) || ${requesterIs(program.usernames, program.groups)}`,
                message: `only the program (${describeIdentity(program.usernames, program.groups)}) may set or move annotation ${expires}; it may be dropped only while turning automated sync back on ${where}`,
                messageExpression: `request.userInfo.username + ' may not ' + (variables.oldExpires == '' ? 'set' : variables.expires == '' ? 'drop' : 'move') + ' the expiry of the ' + ${metadataValue("object", "labels", envLabel)} + ' Application ' + object.metadata.name + ' (annotation ${expires}' + (variables.expires == '' ? '' : ' to ' + variables.expires) + ${celString(`): only the program (${describeIdentity(program.usernames, program.groups)}) sets it, from a breakGlass entry within breakGlassPolicy.maxHours; it may be dropped only while turning automated sync back on ${where}`)}`,
                reason: "Forbidden",
            },
            {
                // A revision already deployed stays deployable (legacy Applications remain reconcilable).
                expression: `variables.revisions.all(r, r in variables.oldRevisions || ${revisionOk("r")})`,
                message: `targetRevision must have an allowed format (${revisions.join(", ")}) ${where}`,
                messageExpression: `'targetRevision ' + variables.revisions.filter(r, !(r in variables.oldRevisions) && !${revisionOk("r")}).join(', ') + ${celString(` is not an allowed revision format (allowed: ${revisions.join(", ")}): deploy a tag or the default branch ${where}`)}`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [
            {
                // Argo CD writes status through the main resource (Applications have no status
                // subresource): skip writes that leave spec, environment and pause annotation alone,
                // so a legacy Application that predates the rule can still be reconciled.
                name: "sync-policy-may-change",
                expression: `request.operation != 'UPDATE' || object.spec != oldObject.spec || ${changed("labels", envLabel)} || ${changed("annotations", pause)} || ${changed("annotations", expires)}`,
            },
        ],
        auditAnnotations: [
            {
                key: "sync-paused",
                valueExpression: `variables.automated != null && has(variables.automated.enabled) && variables.automated.enabled == false && variables.paused ? 'automated sync paused under ' + ${metadataValue("object", "annotations", pause)} : ''`,
            },
            {
                key: "deleted-by",
                valueExpression: `variables.deleting ? request.userInfo.username + ' deleted Application ' + request.name : ''`,
            },
        ],
    };
}
