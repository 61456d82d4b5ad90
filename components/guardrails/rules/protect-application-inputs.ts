import { check } from "../../core/errors";
import { labels } from "../../core/labels";
import { celList, celString, metadataValue, qualifiedName, same } from "../cel";
import { ticketOn } from "../identity";
import { GuardrailRule } from "../types";
import { notADryRun, GovernedWriterOptions, governedWriters } from "../argoInputs";

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
