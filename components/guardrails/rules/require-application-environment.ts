import { check } from "../../core/errors";
import { inClusterServer, labels } from "../../core/labels";
import { celList, celString, metadataValue, qualifiedName } from "../cel";
import { GuardrailRule } from "../types";
import { writes } from "./shared";

export interface RequireApplicationEnvironmentOptions {
    /** @default "gitops-control.io/environment" */
    readonly environmentLabel?: string;
    /** Destination names of the cluster the guardrails run in (others are remote: their namespaces are not these). @default ["in-cluster"] */
    readonly localClusterNames?: readonly string[];
    /** Destination servers of the cluster the guardrails run in. @default ["https://kubernetes.default.svc"] */
    readonly localServers?: readonly string[];
}

/**
 * An Application is governed by the class of the namespace it deploys to, not by a label it may
 * omit: every Application whose destination is a governed namespace of this cluster must carry that
 * namespace's environment label (so the object-scoped rules of its class select it), and an
 * Application that labels its namespace through managedNamespaceMetadata must carry the same class.
 * The rule reads the namespaces as parameters (paramKind Namespace, one binding per class); CEL in
 * admission cannot look objects up otherwise.
 */
export function requireApplicationEnvironment(options: RequireApplicationEnvironmentOptions = {}): GuardrailRule {
    const envLabel = options.environmentLabel ?? labels.environment;
    const names = options.localClusterNames ?? ["in-cluster"];
    const servers = options.localServers ?? [inClusterServer];
    check(qualifiedName.test(envLabel), "requireApplicationEnvironment.environmentLabel", `is "${envLabel}", not a label key`, `use "${labels.environment}"`);
    const where = "(guardrail require-application-environment)";
    const appLabel = metadataValue("object", "labels", envLabel);
    const paramLabel = metadataValue("params", "labels", envLabel);
    const dest = "object.spec.destination";
    return {
        name: "require-application-environment",
        summary: `Applications deploying to a governed namespace without its ${envLabel} label, or labelling their namespace (managedNamespaceMetadata) with another class than their own`,
        why: "Rules for Applications select them by their own label: an Application that omits or misstates it would escape its destination's rules.",
        params: { environmentLabel: envLabel, localClusterNames: names, localServers: servers },
        resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["v1alpha1"], resources: ["applications"], operations: writes }],
        bindingScope: "cluster",
        paramNamespaces: true,
        variables: [],
        validations: [
            {
                expression: `!has(${dest}.namespace) || ${dest}.namespace != params.metadata.name || (has(${dest}.name) ? !(${dest}.name in ${celList(names)}) : has(${dest}.server) && !(${dest}.server in ${celList(servers)})) || ${appLabel} == ${paramLabel}`,
                message: `an Application deploying to a governed namespace must carry that namespace's ${envLabel} label ${where}`,
                messageExpression: `'Application ' + object.metadata.name + ' deploys to namespace ' + params.metadata.name + ' of class ' + ${paramLabel} + ${celString(` but its ${envLabel} label is "`)} + ${appLabel} + ${celString(`": set it to the destination's class ${where}`)}`,
                reason: "Forbidden",
            },
            {
                expression: `!has(object.spec.syncPolicy) || !has(object.spec.syncPolicy.managedNamespaceMetadata) || !has(object.spec.syncPolicy.managedNamespaceMetadata.labels) || !(${celString(envLabel)} in object.spec.syncPolicy.managedNamespaceMetadata.labels) || object.spec.syncPolicy.managedNamespaceMetadata.labels[${celString(envLabel)}] == ${appLabel}`,
                message: `spec.syncPolicy.managedNamespaceMetadata.labels may set ${envLabel} only to the Application's own class ${where}`,
                reason: "Forbidden",
            },
        ],
        matchConditions: [
            {
                name: "destination-may-change",
                expression: `request.operation == 'CREATE' || object.spec != oldObject.spec || ${metadataValue("object", "labels", envLabel)} != ${metadataValue("oldObject", "labels", envLabel)}`,
            },
        ],
        auditAnnotations: [],
    };
}
