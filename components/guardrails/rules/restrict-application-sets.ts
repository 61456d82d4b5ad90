import { check } from "../../core/errors";
import { labels } from "../../core/labels";
import { celString, qualifiedName } from "../cel";
import { GuardrailRule } from "../types";
import { writes } from "./shared";

export interface RestrictApplicationSetsOptions {
    /** Label every generated Application must carry, with a literal value. @default "gitops-control.io/environment" */
    readonly environmentLabel?: string;
}

/**
 * ApplicationSets keep the fixed-project promise: the template's `project` is a literal (a
 * `{{…}}` there lets generator data, e.g. a PR's branch name, choose a more privileged project),
 * no `templatePatch` may set it, and the template carries the environment label as a literal, so
 * every generated Application is selected by the object-scoped bindings of its class.
 */
export function restrictApplicationSets(options: RestrictApplicationSetsOptions = {}): GuardrailRule {
    const envLabel = options.environmentLabel ?? labels.environment;
    check(qualifiedName.test(envLabel), "restrictApplicationSets.environmentLabel", `is "${envLabel}", not a label key`, `use "${labels.environment}"`);
    const where = "(guardrail restrict-application-sets)";
    const key = celString(envLabel);
    return {
        name: "restrict-application-sets",
        summary: `ApplicationSets whose template project is templated or patched, or whose template does not carry a literal ${envLabel} label`,
        why: "A templated project lets generator data (a PR's branch) pick a more privileged project; an unlabelled Application escapes its environment's rules.",
        params: { environmentLabel: envLabel },
        resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["v1alpha1"], resources: ["applicationsets"], operations: writes }],
        bindingScope: "cluster",
        variables: [{ name: "template", expression: "object.spec.template" }],
        validations: [
            {
                expression: "!has(variables.template.spec.project) || !variables.template.spec.project.contains('{{')",
                message: `spec.template.spec.project must be a literal project name ${where}`,
                messageExpression: `'spec.template.spec.project "' + variables.template.spec.project + ${celString(`" is templated: generator data would choose the AppProject; set a fixed project ${where}`)}`,
                reason: "Forbidden",
            },
            {
                expression: "!has(object.spec.templatePatch) || !object.spec.templatePatch.contains('project')",
                message: `spec.templatePatch must not set the project: it would escape the fixed project ${where}`,
                reason: "Forbidden",
            },
            {
                expression: `has(variables.template.metadata) && has(variables.template.metadata.labels) && ${key} in variables.template.metadata.labels && variables.template.metadata.labels[${key}] != '' && !variables.template.metadata.labels[${key}].contains('{{')`,
                message: `spec.template.metadata.labels must set ${envLabel} to a literal environment class: generated Applications are governed by it ${where}`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [{ name: "template-may-change", expression: "request.operation == 'CREATE' || object.spec != oldObject.spec" }],
        auditAnnotations: [],
    };
}
