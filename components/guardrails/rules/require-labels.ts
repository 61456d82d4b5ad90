import { check } from "../../core/errors";
import { celList, celString, qualifiedName } from "../cel";
import { GuardrailRule, ResourceRule } from "../types";
import { podBearingResources, podBearingKinds, podTemplateVariable, podSpecChangedCondition, checkResources } from "./shared";

export interface RequireLabelsOptions {
    /** Label keys that must be present with a non-empty value. At least one. */
    readonly labels: readonly string[];
    /**
     * Also require the labels on the pod template of pod-bearing kinds. Workload metadata is what
     * Argo CD and owners see; pod labels are what metrics, logs and cost reports group by, and the
     * API server does not copy one to the other. @default true
     */
    readonly podTemplate?: boolean;
    /** Kinds checked; kinds without a pod template get the metadata check only. @default every pod-bearing kind */
    readonly resources?: readonly ResourceRule[];
}

/**
 * Workloads carry the labels that say what they are and who owns them, on the object and (by
 * default) on its pod template.
 */
export function requireLabels(options: RequireLabelsOptions): GuardrailRule {
    checkResources(options.resources, "requireLabels.resources");
    check(options.labels.length > 0, "requireLabels.labels", "is empty", 'name at least one label key, e.g. ["app.kubernetes.io/name", "gitops-control.io/team"]');
    options.labels.forEach((key, i) =>
        check(
            qualifiedName.test(key),
            `requireLabels.labels[${i}]`,
            `is "${key}", not a valid label key`,
            'use a key such as "app.kubernetes.io/name" (optional DNS prefix, "/", name of at most 63 characters)',
        ),
    );
    check(new Set(options.labels).size === options.labels.length, "requireLabels.labels", "repeats a key", "list each label once");
    const podTemplate = options.podTemplate ?? true;
    const keys = celList(options.labels);
    const missing = (ref: string) => `${keys}.filter(k, !has(${ref}.labels) || !(k in ${ref}.labels) || ${ref}.labels[k] == '')`;
    const complete = (ref: string) => `has(${ref}.labels) && ${options.labels.map((k) => `${celString(k)} in ${ref}.labels && ${ref}.labels[${celString(k)}] != ''`).join(" && ")}`;
    const listed = options.labels.join(", ");
    return {
        name: "require-labels",
        summary: `Workloads${podTemplate ? " or pod templates" : ""} without the labels ${listed}`,
        why: "Unlabelled workloads have no owner to page and no name in metrics, logs or cost reports.",
        params: { labels: options.labels, podTemplate },
        resourceRules: options.resources ?? podBearingResources,
        // The checks are unrolled over the keys (no macro): the common, passing case costs a few
        // lookups; the list of missing keys is built only for the message of a failure.
        variables: podTemplate ? [podTemplateVariable] : [],
        validations: [
            {
                expression: complete("object.metadata"),
                message: `metadata.labels must set ${listed} (guardrail require-labels)`,
                messageExpression: `'metadata.labels must set ' + ${missing("object.metadata")}.join(', ') + ' (guardrail require-labels)'`,
                reason: "Forbidden",
            },
            ...(podTemplate
                ? [
                      {
                          // Only kinds with a template (a Pod's labels are its template's); podTemplate is lazy, so other kinds never touch it.
                          expression: `!(object.kind in ${celList(podBearingKinds.filter((k) => k !== "Pod"))}) || (has(variables.podTemplate.metadata) && ${complete("variables.podTemplate.metadata")})`,
                          message: `the pod template's metadata.labels must set ${listed} (guardrail require-labels)`,
                          messageExpression: `'the pod template\\'s metadata.labels must set ' + (has(variables.podTemplate.metadata) ? ${missing("variables.podTemplate.metadata")} : ${keys}).join(', ') + ' (guardrail require-labels)'`,
                          reason: "Forbidden" as const,
                      },
                  ]
                : []),
        ],
        matchConditions: [podSpecChangedCondition],
        auditAnnotations: [],
    };
}
