import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AdmissionGuardrails, AdmissionGuardrailsArgs } from "../guardrails/AdmissionGuardrails";
import { check, requireDnsLabel } from "../core/errors";
import { labels, managedByValue } from "../core/labels";
import { childOptions } from "../core/options";
import { podSecurityLabels, podSecurityLabelsFor, podSecurityPresets } from "../core/podSecurity";

/** A namespace a service deploys to on the governed cluster. */
export interface GovernedNamespace {
    readonly name: string;
    /** Environment class: labels the namespace (which selects the guardrail bindings and the Pod Security level). */
    readonly environment: string;
    readonly team: string;
    readonly service: string;
}

export interface GovernedClusterArgs {
    /** The cluster's name as Argo CD knows it (its `destinations` entry). */
    readonly clusterName: string;
    /** Contents of a kubeconfig with admin rights on the cluster, as a Pulumi secret: the program's identity there. */
    readonly kubeconfig: pulumi.Input<string>;
    /**
     * Namespace Argo CD runs in on the hub. The cluster gets a namespace of the same name holding
     * Argo CD's ServiceAccount, so Argo CD writes there as
     * `system:serviceaccount:<argoNamespace>:argocd-application-controller`, the identity the
     * guardrails already name: the same rules hold unchanged on every cluster.
     */
    readonly argoNamespace: string;
    /** The guardrails to install there: the hub's rules and bindings. */
    readonly guardrails: Omit<AdmissionGuardrailsArgs, "provider">;
    /** The namespaces services deploy to there (created with their environment and Pod Security labels). */
    readonly namespaces: readonly GovernedNamespace[];
}

/**
 * Argo CD's application controller's ServiceAccount, as the chart names it: on a governed cluster it
 * lives in a namespace named like Argo CD's own, so its username is the one the guardrails admit
 * (`argoCdAccounts(argoNamespace).applicationController`).
 */
export const argoCdControllerAccount = "argocd-application-controller";

/** Verbs Argo CD's application controller needs in the namespaces it deploys to: no `bind`, `escalate` or `impersonate`. */
export const deployVerbs = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"] as const;

/**
 * What Argo CD's application controller may do on a governed cluster, and nothing more. It reads and
 * writes only inside the service namespaces (its cluster Secret names them, so its cache lists
 * namespaced kinds there alone), reads namespaces cluster-wide and may update only the service
 * namespaces' own metadata (the `managedNamespaceMetadata` it applies). No Secret or other object
 * outside them: other cluster-scoped kinds it may not list drop out of its cache
 * (`resource.respectRBAC: normal` in argocd-cm). It creates no namespace (the program does) and
 * holds no `bind`/`escalate`/`impersonate`. Pure.
 */
export function argoCdClusterRules(namespaces: readonly string[]): { cluster: k8s.types.input.rbac.v1.PolicyRule[]; namespaced: k8s.types.input.rbac.v1.PolicyRule[] } {
    return {
        cluster: [
            { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "watch"] },
            ...(namespaces.length > 0 ? [{ apiGroups: [""], resources: ["namespaces"], resourceNames: [...namespaces], verbs: ["get", "update", "patch"] }] : []),
        ],
        namespaced: [{ apiGroups: ["*"], resources: ["*"], verbs: [...deployVerbs] }],
    };
}

/** Checks every argument before any resource is registered. */
export function validateGovernedClusterArgs(args: GovernedClusterArgs, field = "args"): void {
    requireDnsLabel(args.clusterName, `${field}.clusterName`);
    requireDnsLabel(args.argoNamespace, `${field}.argoNamespace`);
    const seen = new Set<string>();
    args.namespaces.forEach((ns, i) => {
        requireDnsLabel(ns.name, `${field}.namespaces[${i}].name`);
        check(!seen.has(ns.name), `${field}.namespaces[${i}].name`, `repeats "${ns.name}"`, "give every environment its own namespace");
        check(ns.name !== args.argoNamespace, `${field}.namespaces[${i}].name`, `is "${ns.name}", Argo CD's namespace`, "deploy services to their own namespaces");
        seen.add(ns.name);
    });
}

/**
 * A registered cluster the program governs: from its kubeconfig (a stack secret), the same
 * admission guardrails as the cluster Argo CD runs in, the service namespaces with their
 * environment and Pod Security labels (so the bindings and namespace protections select them), and a
 * least-privilege ServiceAccount for Argo CD whose token ({@link token}, a secret) goes into the
 * cluster Secret instead of a token pasted by hand.
 */
export class GovernedCluster extends pulumi.ComponentResource {
    /** Argo CD's bearer token for this cluster, as a Pulumi secret. */
    readonly token: pulumi.Output<string>;
    readonly guardrails: AdmissionGuardrails;
    /** Service namespaces by name. */
    readonly namespaces: Record<string, k8s.core.v1.Namespace> = {};

    constructor(name: string, args: GovernedClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        validateGovernedClusterArgs(args);
        super("gitops-control:cluster:GovernedCluster", name, {}, opts);
        const kubeconfig = pulumi.secret(args.kubeconfig);
        const provider = new k8s.Provider(`${name}-provider`, { kubeconfig }, { parent: this });
        // Client-side apply for the guardrails, as on the hub (see ControlPlaneArgs.guardrailsProvider).
        const guardrailsProvider = new k8s.Provider(`${name}-guardrails-provider`, { kubeconfig, enableServerSideApply: false }, { parent: this });
        this.guardrails = new AdmissionGuardrails(`${name}-guardrails`, { ...args.guardrails, provider: guardrailsProvider }, { parent: this });
        const meta = { [labels.managedBy]: managedByValue };
        // Argo CD's namespace there holds only its ServiceAccount and token: no pod ever runs in it.
        const argoNamespace = new k8s.core.v1.Namespace(
            `${name}-argocd-namespace`,
            { metadata: { name: args.argoNamespace, labels: { ...meta, ...podSecurityLabels(podSecurityPresets.prod) } } },
            childOptions(this, provider),
        );
        // Namespaces stay on `destroy`, as those Argo CD creates in its own cluster do; created after the
        // guardrails, so a namespace is protected from its first moment.
        for (const ns of args.namespaces) {
            this.namespaces[ns.name] = new k8s.core.v1.Namespace(
                `${name}-${ns.name}`,
                {
                    metadata: {
                        name: ns.name,
                        labels: { ...meta, [labels.environment]: ns.environment, [labels.team]: ns.team, [labels.service]: ns.service, ...podSecurityLabelsFor(ns.environment) },
                    },
                },
                childOptions(this, provider, { retainOnDelete: true, dependsOn: [this.guardrails] }),
            );
        }
        const controller = argoCdControllerAccount;
        const account = new k8s.core.v1.ServiceAccount(
            `${name}-argocd-controller`,
            { metadata: { name: controller, namespace: argoNamespace.metadata.name, labels: meta }, automountServiceAccountToken: false },
            childOptions(this, provider),
        );
        const rules = argoCdClusterRules(args.namespaces.map((ns) => ns.name));
        const subject = { kind: "ServiceAccount", name: controller, namespace: args.argoNamespace };
        const clusterRole = new k8s.rbac.v1.ClusterRole(
            `${name}-argocd-read`,
            { metadata: { name: `gitops-control:${controller}`, labels: meta }, rules: rules.cluster },
            childOptions(this, provider),
        );
        new k8s.rbac.v1.ClusterRoleBinding(
            `${name}-argocd-read`,
            {
                metadata: { name: `gitops-control:${controller}`, labels: meta },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole.metadata.name },
                subjects: [subject],
            },
            childOptions(this, provider, { dependsOn: [account] }),
        );
        for (const [nsName, ns] of Object.entries(this.namespaces)) {
            const role = new k8s.rbac.v1.Role(
                `${name}-${nsName}-argocd`,
                { metadata: { name: `gitops-control:${controller}`, namespace: ns.metadata.name, labels: meta }, rules: rules.namespaced },
                childOptions(this, provider),
            );
            new k8s.rbac.v1.RoleBinding(
                `${name}-${nsName}-argocd`,
                {
                    metadata: { name: `gitops-control:${controller}`, namespace: ns.metadata.name, labels: meta },
                    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
                    subjects: [subject],
                },
                childOptions(this, provider, { dependsOn: [account] }),
            );
        }
        // A long-lived token Secret, filled by the cluster's token controller (the provider waits for it).
        const tokenSecret = new k8s.core.v1.Secret(
            `${name}-argocd-token`,
            {
                metadata: { name: `${controller}-token`, namespace: argoNamespace.metadata.name, labels: meta, annotations: { "kubernetes.io/service-account.name": controller } },
                type: "kubernetes.io/service-account-token",
            },
            childOptions(this, provider, { dependsOn: [account], additionalSecretOutputs: ["data", "stringData"] }),
        );
        this.token = pulumi.secret(tokenSecret.data.apply((data) => Buffer.from(data?.token ?? "", "base64").toString("utf8")));
        this.registerOutputs({ token: this.token });
    }
}
