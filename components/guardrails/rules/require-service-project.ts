import { check } from "../../core/errors";
import { labels } from "../../core/labels";
import { celString, metadataValue, qualifiedName } from "../cel";
import { GuardrailRule } from "../types";
import { previewProjectSuffix, previewClass } from "../argoInputs";

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
