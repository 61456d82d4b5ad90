/**
 * Rules that govern what steers Argo CD: its AppProjects, the project every Application and
 * ApplicationSet names, the inputs of a governed Application (operation, project, destination,
 * sources, ignoreDifferences), and the namespaces it deploys into. "Only Argo CD writes to prod"
 * holds only if nobody but the program steers Argo CD.
 */
import { check } from "../core/errors";
import { annotations, labels } from "../core/labels";
import { celList, celString, finalizersOnlyRemoved, metadataValue, qualifiedName, re2Problem, same } from "./cel";
import { ProgramIdentity, breakGlassGroup, defaultTicketPattern, describeIdentity, requesterIs, resolveProgramIdentity, ticketOn } from "./identity";
import { GuardrailRule, MatchCondition } from "./types";

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

const notADryRun: MatchCondition = { name: "not-a-dry-run", expression: "!has(request.dryRun) || request.dryRun == false" };

const namePart = "(has(request.name) ? ' ' + request.name : '')";

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
    /** Namespace Argo CD runs in: names its controllers. @default "argocd" */
    readonly argoCdNamespace?: string;
}

function governedWriters(options: GovernedWriterOptions, rule: string) {
    const program = resolveProgramIdentity(options.programIdentity, `${rule}.programIdentity`);
    const breakGlass = options.breakGlassGroups ?? [breakGlassGroup];
    const ticketAnnotation = options.ticketAnnotation ?? annotations.breakGlassTicket;
    const ticketPattern = options.ticketPattern ?? defaultTicketPattern;
    const argo = options.argoCdNamespace ?? "argocd";
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

export interface RequireServiceProjectOptions {
    /** Label naming an Application's service. @default "gitops-control.io/service" */
    readonly serviceLabel?: string;
    /** @default "gitops-control.io/environment" */
    readonly environmentLabel?: string;
}

/**
 * Every Application and every ApplicationSet template names its own service's project, derived
 * from its labels: `<service>` for an environment, `<service>-previews` for a preview. Never
 * `default` (Argo CD's open catch-all), never another service's. A templated project in an
 * ApplicationSet is restrict-application-sets' finding.
 */
export function requireServiceProject(options: RequireServiceProjectOptions = {}): GuardrailRule {
    const serviceLabel = options.serviceLabel ?? labels.service;
    const envLabel = options.environmentLabel ?? labels.environment;
    check(qualifiedName.test(serviceLabel), "requireServiceProject.serviceLabel", `is "${serviceLabel}", not a label key`, `use "${labels.service}"`);
    check(qualifiedName.test(envLabel), "requireServiceProject.environmentLabel", `is "${envLabel}", not a label key`, `use "${labels.environment}"`);
    const where = "(guardrail require-service-project)";
    /** CEL over the Application (ref `object`) or the ApplicationSet's template (`<x>.spec.template`). */
    const labelOf = (ref: string, key: string, isTemplate: boolean) =>
        isTemplate ? `(has(${ref}.metadata) ? ${metadataValue(ref, "labels", key)} : '')` : metadataValue(ref, "labels", key);
    const projectOf = (ref: string) => `(has(${ref}.spec) && has(${ref}.spec.project) ? ${ref}.spec.project : '')`;
    const either = (f: (ref: string, isTemplate: boolean) => string, root = "object") =>
        `(${root}.kind == 'ApplicationSet' ? ${f(`${root}.spec.template`, true)} : ${f(root, false)})`;
    const changed = (f: (ref: string, isTemplate: boolean) => string) => `${either(f)} != ${either(f, "oldObject")}`;
    const service = (ref: string, t: boolean) => labelOf(ref, serviceLabel, t);
    const env = (ref: string, t: boolean) => labelOf(ref, envLabel, t);
    return {
        name: "require-service-project",
        summary: `Applications and ApplicationSet templates whose project is not their service's (${serviceLabel} label; previews: <service>${previewProjectSuffix}), e.g. Argo CD's open default`,
        why: "Argo CD's default project lets any repository deploy anything anywhere; a service's project holds it to its own repository and namespaces.",
        params: { serviceLabel, environmentLabel: envLabel, previewClass, previewProjectSuffix },
        resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["v1alpha1"], resources: ["applications", "applicationsets"], operations: ["CREATE", "UPDATE"] }],
        bindingScope: "cluster",
        variables: [
            { name: "service", expression: either(service) },
            { name: "project", expression: either((ref) => projectOf(ref)) },
            {
                name: "expected",
                expression: `variables.service == '' ? '' : ${either(env)} == ${celString(previewClass)} ? variables.service + ${celString(previewProjectSuffix)} : variables.service`,
            },
        ],
        validations: [
            {
                expression: `(object.kind == 'ApplicationSet' && variables.project.contains('{{')) || (variables.expected != '' && variables.project == variables.expected)`,
                message: `an Application (or ApplicationSet template) must name its own service's project ${where}`,
                messageExpression: `object.kind + ' ' + object.metadata.name + (object.kind == 'ApplicationSet' ? ' templates' : ' names') + ' project "' + variables.project + '"' + (variables.service == '' ? ${celString(`, but carries no ${serviceLabel} label: label it with its service, whose project it must name ${where}`)} : ', not its service\\'s "' + variables.expected + ${celString(`" (never Argo CD's open default): set the project to it ${where}`)})`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [
            {
                name: "project-may-change",
                expression: `request.operation == 'CREATE' || ${changed((ref) => projectOf(ref))} || ${changed(service)} || ${changed(env)}`,
            },
        ],
        auditAnnotations: [],
    };
}

/** One ignoreDifferences shape a governed Application may use: what the stack declares. */
export interface AllowedIgnoreDifference {
    /** API group ("" for core). @default "" */
    readonly group?: string;
    readonly kind: string;
    /** JSON pointers it may ignore. @default [] */
    readonly jsonPointers?: readonly string[];
    /** jq path expressions it may ignore. @default [] (none: jq can cover anything) */
    readonly jqPathExpressions?: readonly string[];
    /** Field managers whose changes it may ignore. @default [] (none: a manager's fields can be anything) */
    readonly managedFieldsManagers?: readonly string[];
}

/** What governed Applications may ignore by default: replica counts an autoscaler owns. */
export const defaultAllowedIgnoreDifferences: readonly AllowedIgnoreDifference[] = [
    { group: "apps", kind: "Deployment", jsonPointers: ["/spec/replicas"] },
    { group: "apps", kind: "StatefulSet", jsonPointers: ["/spec/replicas"] },
];

export interface ProtectApplicationInputsOptions extends GovernedWriterOptions {
    /** Environment classes whose Applications are governed (their own label). @default ["prod"] */
    readonly environments?: readonly string[];
    /** @default "gitops-control.io/environment" */
    readonly environmentLabel?: string;
    /** The ignoreDifferences a governed Application may carry. @default {@link defaultAllowedIgnoreDifferences} */
    readonly allowedIgnoreDifferences?: readonly AllowedIgnoreDifference[];
}

/** Argo CD's inputs on an Application: what decides what it deploys, where, and what it overlooks. */
export const applicationInputs = ["operation", "project", "destination", "source", "sources", "ignoreDifferences"] as const;

const pathOf = (field: (typeof applicationInputs)[number], ref: string) => (field === "operation" ? `${ref}.operation` : `${ref}.spec.${field}`);

/** Checks the allow-list and renders the CEL test of one ignoreDifferences entry `d`. */
export function ignoreDifferencesAllowed(allowed: readonly AllowedIgnoreDifference[], field: string): string {
    allowed.forEach((a, i) => {
        check(/^[A-Za-z][A-Za-z0-9]*$/.test(a.kind), `${field}[${i}].kind`, `is "${a.kind}", not a kind`, 'use a kind such as "Deployment"');
        (a.jsonPointers ?? []).forEach((p, j) =>
            check(
                /^(\/[^/\s]+)+$/.test(p) && !["/spec", "/data", "/stringData", "/binaryData", "/metadata"].includes(p) && !p.startsWith("/spec/template"),
                `${field}[${i}].jsonPointers[${j}]`,
                `is "${p}", which hides a whole spec, data, metadata or pod template from drift detection`,
                'name the one field another controller owns, e.g. "/spec/replicas"',
            ),
        );
    });
    if (allowed.length === 0) return "false";
    const listed = (key: string, values: readonly string[] | undefined) => `(!has(d.${key}) || d.${key}.all(x, x in ${celList(values ?? [])}))`;
    return allowed
        .map(
            (a) =>
                `((has(d.group) ? d.group : '') == ${celString(a.group ?? "")} && d.kind == ${celString(a.kind)} && ${listed("jsonPointers", a.jsonPointers)} && ${listed("jqPathExpressions", a.jqPathExpressions)} && ${listed("managedFieldsManagers", a.managedFieldsManagers)})`,
        )
        .join(" || ");
}

/** Whether an Application's ignoreDifferences entry fits the allow-list: what the rule's CEL decides, for the stack's own check. Pure. */
export function ignoreDifferenceFits(
    entry: {
        readonly group?: string;
        readonly kind: string;
        readonly jsonPointers?: readonly string[];
        readonly jqPathExpressions?: readonly string[];
        readonly managedFieldsManagers?: readonly string[];
    },
    allowed: readonly AllowedIgnoreDifference[],
): boolean {
    const within = (values: readonly string[] | undefined, list: readonly string[] | undefined) => (values ?? []).every((v) => (list ?? []).includes(v));
    return allowed.some(
        (a) =>
            (entry.group ?? "") === (a.group ?? "") &&
            entry.kind === a.kind &&
            within(entry.jsonPointers, a.jsonPointers) &&
            within(entry.jqPathExpressions, a.jqPathExpressions) &&
            within(entry.managedFieldsManagers, a.managedFieldsManagers),
    );
}

/** How the docs and messages name an allow-list entry: `apps/Deployment /spec/replicas`. */
export function describeAllowed(a: AllowedIgnoreDifference): string {
    const parts = [...(a.jsonPointers ?? []), ...(a.jqPathExpressions ?? []).map((j) => `jq ${j}`), ...(a.managedFieldsManagers ?? []).map((m) => `manager ${m}`)];
    return `${a.group ? `${a.group}/` : ""}${a.kind} ${parts.join(" ")}`.trim();
}

/**
 * A governed Application's inputs (its `operation`, `project`, `destination`, every field of
 * `source`/`sources`, and `ignoreDifferences`) change only through the program (`pulumi up` of
 * reviewed config) or break-glass under a ticket (audited). Argo CD's application controller sets
 * `.operation` for an automated sync (`initiatedBy.automated`, never local manifests) and clears it
 * when the operation ends; nothing else of these is its to write. The ApplicationSet controller
 * writes only the Applications it generates, and no program's ApplicationSet generates a governed
 * one (previews are their own class), so it gets no exemption. ignoreDifferences stay within the
 * stack's allow-list for everyone: `/spec/template`, a jq expression or a field manager can hide
 * any change from drift detection.
 */
export function protectApplicationInputs(options: ProtectApplicationInputsOptions = {}): GuardrailRule {
    const w = governedWriters(options, "protectApplicationInputs");
    const environments = options.environments ?? ["prod"];
    const envLabel = options.environmentLabel ?? labels.environment;
    const allowed = options.allowedIgnoreDifferences ?? defaultAllowedIgnoreDifferences;
    check(environments.length > 0, "protectApplicationInputs.environments", "is empty, so nothing is governed", 'list at least one environment class, e.g. ["prod"]');
    check(qualifiedName.test(envLabel), "protectApplicationInputs.environmentLabel", `is "${envLabel}", not a label key`, `use "${labels.environment}"`);
    const allowedTest = ignoreDifferencesAllowed(allowed, "protectApplicationInputs.allowedIgnoreDifferences");
    const where = "(guardrail protect-application-inputs)";
    const onCreate = applicationInputs.map((f) => `(has(${pathOf(f, "object")}) ? [${celString(f)}] : [])`).join(" + ");
    const onUpdate = applicationInputs.map((f) => `(${same(pathOf(f, "object"), pathOf(f, "oldObject"))} ? [] : [${celString(f)}])`).join(" + ");
    const anyChange = applicationInputs.map((f) => `!${same(pathOf(f, "object"), pathOf(f, "oldObject"))}`).join(" || ");
    const op = "object.operation";
    const allowedList = allowed.map(describeAllowed).join("; ") || "none";
    return {
        name: "protect-application-inputs",
        summary: `${environments.join(", ")} Applications whose operation, project, destination, source(s) or ignoreDifferences are set by anyone but the program (${w.who}), Argo CD's automated sync, or break-glass with a ticket; ignoreDifferences beyond the stack's allow-list`,
        why: "Whoever sets an Application's source, Helm values or operation decides what Argo CD deploys: a patch there bypasses review as surely as a kubectl edit of the workload.",
        params: { environments, environmentLabel: envLabel, ...w.params, allowedIgnoreDifferences: allowed.map(describeAllowed) },
        resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["v1alpha1"], resources: ["applications"], operations: ["CREATE", "UPDATE"] }],
        objectSelector: { matchExpressions: [{ key: envLabel, operator: "In", values: environments }] },
        bindingScope: "object",
        variables: [
            { name: "changed", expression: `request.operation == 'CREATE' ? ${onCreate} : ${onUpdate}` },
            { name: "program", expression: w.isProgram },
            { name: "ticketed", expression: `${w.isBreakGlass} && ${ticketOn("object", w.ticketAnnotation, w.ticketPattern)}` },
            {
                // The controller's own automated sync: it sets the operation (initiatedBy.automated) and clears it.
                name: "automatedSync",
                expression: `request.userInfo.username == ${celString(w.accounts.applicationController)} && variables.changed == ['operation'] && (!has(${op}) || (has(${op}.initiatedBy) && has(${op}.initiatedBy.automated) && ${op}.initiatedBy.automated == true && !(has(${op}.sync) && has(${op}.sync.manifests))))`,
            },
            {
                name: "unlisted",
                expression: `!('ignoreDifferences' in variables.changed) || !has(object.spec.ignoreDifferences) ? [] : object.spec.ignoreDifferences.filter(d, !(${allowedTest}))`,
            },
        ],
        validations: [
            {
                expression: "size(variables.changed) == 0 || variables.program || variables.ticketed || variables.automatedSync",
                message: `only the program (${w.who}), Argo CD's automated sync or break-glass with a ticket in ${w.ticketAnnotation} may set a governed Application's ${applicationInputs.join(", ")} ${where}`,
                messageExpression: `request.userInfo.username + ' may not ' + (request.operation == 'CREATE' ? 'create' : 'change ' + variables.changed.join(', ') + ' of') + ' the ' + ${metadataValue("object", "labels", envLabel)} + ' Application ' + object.metadata.name + ${celString(`: Argo CD's inputs change through the program (${w.who}: pulumi up of reviewed config), or under break-glass with a ticket in ${w.ticketAnnotation} ${where}`)}`,
                reason: "Forbidden",
            },
            {
                expression: "size(variables.unlisted) == 0",
                message: `spec.ignoreDifferences may only use the stack's allow-list (${allowedList}) ${where}`,
                messageExpression: `'spec.ignoreDifferences of ' + variables.unlisted.map(d, d.kind).join(', ') + ${celString(` is not on the stack's allow-list (${allowedList}): Argo CD would stop seeing drift there; declare it in gitops-control:guardrails.ignoreDifferences ${where}`)}`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [notADryRun, { name: "inputs-may-change", expression: `request.operation == 'CREATE' || ${anyChange}` }],
        auditAnnotations: [
            {
                key: "break-glass-inputs",
                valueExpression: `!variables.program && variables.ticketed && size(variables.changed) > 0 ? request.userInfo.username + ' set ' + variables.changed.join(', ') + ' of Application ' + object.metadata.name + ' under ' + ${metadataValue("object", "annotations", w.ticketAnnotation)} : ''`,
            },
        ],
    };
}

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

export interface RequireNamespacePodSecurityOptions {
    /** Namespace Argo CD runs in: names its application controller. @default "argocd" */
    readonly argoCdNamespace?: string;
    /** Pod Security levels a namespace Argo CD applies may enforce. @default ["baseline", "restricted"] */
    readonly allowedLevels?: readonly ("baseline" | "restricted")[];
}

/**
 * Namespaces Argo CD's application controller creates or updates (CreateNamespace with
 * managedNamespaceMetadata, or a chart's own Namespace object where a project whitelists it, as a
 * preview project whitelists `<service>-pr-*`) enforce Pod Security baseline or restricted: a
 * chart cannot create a `privileged` namespace for a node-root DaemonSet.
 */
export function requireNamespacePodSecurity(options: RequireNamespacePodSecurityOptions = {}): GuardrailRule {
    const argo = options.argoCdNamespace ?? "argocd";
    const levels = options.allowedLevels ?? ["baseline", "restricted"];
    check(levels.length > 0, "requireNamespacePodSecurity.allowedLevels", "is empty, so Argo CD could create no namespace", 'use ["baseline", "restricted"]');
    const controller = argoCdAccounts(argo).applicationController;
    const key = "pod-security.kubernetes.io/enforce";
    const where = "(guardrail require-namespace-pod-security)";
    return {
        name: "require-namespace-pod-security",
        summary: `Namespaces Argo CD creates or updates without ${key} ${levels.join(" or ")}`,
        why: "A namespace a chart creates as privileged lets its pods run as root on the node, past every pod guardrail's binding.",
        params: { applicationController: controller, allowedLevels: levels },
        resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], resources: ["namespaces"], operations: ["CREATE", "UPDATE"] }],
        bindingScope: "cluster",
        variables: [],
        validations: [
            {
                expression: `${metadataValue("object", "labels", key)} in ${celList(levels)}`,
                message: `namespaces Argo CD applies must set ${key} to ${levels.join(" or ")} ${where}`,
                messageExpression: `'Argo CD may not ' + (request.operation == 'CREATE' ? 'create' : 'update') + ' namespace ' + object.metadata.name + ' with ${key} "' + ${metadataValue("object", "labels", key)} + ${celString(`": namespaces it applies enforce ${levels.join(" or ")} ${where}`)}`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [{ name: "applied-by-argo-cd", expression: `request.userInfo.username == ${celString(controller)}` }],
        auditAnnotations: [],
    };
}
