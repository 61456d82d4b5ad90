import { defaults } from "../../core/defaults";
import { check } from "../../core/errors";
import { celList, celString, metadataValue } from "../cel";
import { GuardrailRule } from "../types";
import { argoCdAccounts } from "../argoInputs";

export interface RequireNamespacePodSecurityOptions {
    /** Namespace Argo CD runs in: names its application controller. @default {@link defaults.argoNamespace} */
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
    const argo = options.argoCdNamespace ?? defaults.argoNamespace;
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
