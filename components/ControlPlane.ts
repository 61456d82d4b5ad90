import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { AdmissionGuardrails, AdmissionGuardrailsArgs } from "./guardrails/AdmissionGuardrails";
import { ArgoCd, ArgoCdArgs } from "./argocd/ArgoCd";
import { ArgoCdAlerts, ArgoCdAlertsArgs } from "./argocd/ArgoCdAlerts";
import { BreakGlassExpiry, BreakGlassExpiryArgs } from "./breakglass/BreakGlassExpiry";
import { DestinationCluster, DestinationClusterArgs } from "./clusters/DestinationCluster";
import { check } from "./core/errors";
import * as random from "@pulumi/random";
import { GitHubPreviewHooks, GitHubPreviewHooksArgs } from "./previews/GitHubPreviewHooks";
import { GitOpsService } from "./GitOpsService";
import type { ServiceArgs } from "./serviceSpec";
import { OwnershipFence } from "./guardrails/OwnershipFence";
import { GovernedCluster, GovernedNamespace } from "./clusters/GovernedCluster";
import { requireResolvedService } from "./serviceSpec";
import { PreviewJanitor, PreviewJanitorArgs } from "./previews/PreviewJanitor";
import { PruneGate, PruneGateArgs } from "./pruning/PruneGate";
import { RepositoryCredentials, RepositoryCredentialsArgs } from "./argocd/RepositoryCredentials";
import { defaults } from "./core/defaults";

/**
 * A registered cluster: with `kubeconfig` (a secret) the program governs it ({@link GovernedCluster}:
 * guardrails, labelled namespaces, Argo CD's least-privilege token); with `bearerToken` Argo CD is
 * only given a token, and prod may not deploy there unless another stack governs it.
 */
export type ControlPlaneDestination = Omit<DestinationClusterArgs, "provider" | "argoNamespace" | "bearerToken"> &
    ({ readonly kubeconfig: pulumi.Input<string>; readonly bearerToken?: undefined } | { readonly bearerToken: pulumi.Input<string>; readonly kubeconfig?: undefined });

/** One service of the control plane. */
export interface ControlPlaneService {
    readonly name: string;
    readonly args: Omit<ServiceArgs, "provider" | "argoNamespace">;
}

export interface ControlPlaneArgs {
    readonly argoCd: Omit<ArgoCdArgs, "provider">;
    readonly services: readonly ControlPlaneService[];
    /**
     * Clusters registered with Argo CD, which Applications address by name: governed ones (with
     * `kubeconfig`) get the guardrails and Argo CD's own token. @default none (in-cluster only)
     */
    readonly destinations?: readonly ControlPlaneDestination[];
    /** Credentials for private repositories, by name. @default none (public repositories only) */
    readonly repositoryCredentials?: Readonly<Record<string, Omit<RepositoryCredentialsArgs, "provider" | "argoNamespace">>>;
    readonly guardrails: Omit<AdmissionGuardrailsArgs, "provider">;
    /**
     * GitHub wiring of previews (label + webhook per repository); the webhook secret is generated
     * and set in argocd-secret. @default none (no github provider is loaded)
     */
    readonly github?: Omit<GitHubPreviewHooksArgs, "webhookSecret">;
    /** Prometheus alerts (needs the Prometheus Operator CRDs). @default none */
    readonly alerts?: Omit<ArgoCdAlertsArgs, "provider" | "namespace">;
    /** Orphan-preview cleanup; created when set (stacks set it when a service has previews). @default none */
    readonly previewJanitor?: Omit<PreviewJanitorArgs, "provider" | "namespace">;
    /**
     * A prune budget at sync time for prod Applications: they get `Prune=confirm`, and the gate
     * approves prunes within `budget` at once and holds larger ones for the approver group.
     * @default none (prunes need no approval)
     */
    readonly pruneGate?: Omit<PruneGateArgs, "provider" | "policyProvider" | "namespace">;
    /**
     * Opens break-glass carve-outs (the namespaces' break-glass label) and ends them in the cluster
     * at their expiry (a fenced CronJob); stacks set it while an exception is open. @default none
     */
    readonly breakGlassExpiry?: Omit<BreakGlassExpiryArgs, "provider" | "namespace">;
    /** Kubernetes provider for every child. */
    readonly provider?: k8s.Provider;
    /**
     * Provider for the guardrails, ideally with client-side apply. ValidatingAdmissionPolicyBinding's
     * `validationActions` is a set-list: under server-side apply a value another manager added
     * (`kubectl patch` to `[Warn, Audit]`) is merged, not replaced, so Pulumi could detect that drift
     * but never heal it (the API server rejects the merged `[Warn, Deny, Audit]`). A client-side apply
     * patch replaces the list. @default `provider`
     */
    readonly guardrailsProvider?: k8s.Provider;
}

/** Service summary exported per service. */
export interface ServiceSummary {
    readonly project: string;
    readonly applications: Record<string, string>;
    readonly previews: string | undefined;
}

/**
 * The whole control model of one cluster: Argo CD, every service's project, Applications and
 * previews, and the admission guardrails. What `index.ts` instantiates from stack config.
 */
export class ControlPlane extends pulumi.ComponentResource {
    readonly argoCd: ArgoCd;
    readonly guardrails: AdmissionGuardrails;
    /** Keeps each Argo CD object with the program that created it. */
    readonly ownership: OwnershipFence;
    readonly services: Record<string, GitOpsService> = {};
    readonly previewJanitor?: PreviewJanitor;
    readonly pruneGate?: PruneGate;
    readonly breakGlassExpiry?: BreakGlassExpiry;
    readonly github?: GitHubPreviewHooks;
    readonly alerts?: ArgoCdAlerts;
    readonly destinations: Record<string, DestinationCluster> = {};
    /** Registered clusters the program governs (from their kubeconfig), by name. */
    readonly governedClusters: Record<string, GovernedCluster> = {};
    readonly repositoryCredentials: Record<string, RepositoryCredentials> = {};
    readonly argoNamespace: pulumi.Output<string>;
    /** Argo CD admin password (secret). */
    readonly adminPassword: pulumi.Output<string>;
    /**
     * Secret GitHub signs pull_request webhooks with (`webhook.github.secret` in argocd-secret), when
     * any service has previews; a secret output, for hooks the program does not manage.
     */
    readonly githubWebhookSecret: pulumi.Output<string | undefined>;
    readonly serviceSummaries: pulumi.Output<Record<string, ServiceSummary>>;

    constructor(name: string, args: ControlPlaneArgs, opts?: pulumi.ComponentResourceOptions) {
        const names = new Set<string>();
        args.services.forEach((s, i) => {
            check(!names.has(s.name), `services[${i}].name`, `repeats "${s.name}"`, "give every service a unique name");
            names.add(s.name);
        });
        args.destinations?.forEach((d, i) =>
            check(
                (d.kubeconfig === undefined) !== (d.bearerToken === undefined),
                `destinations[${i}]`,
                d.kubeconfig === undefined ? "has neither `kubeconfig` nor `bearerToken`" : "has both `kubeconfig` and `bearerToken`",
                "pass the cluster's kubeconfig (the program governs it and creates Argo CD's token) or a bearer token, not both",
            ),
        );
        const argoNamespace = args.argoCd.namespace ?? defaults.argoNamespace;
        // The namespaces each governed cluster must hold: every environment deployed there (resolved
        // as GitOpsService resolves them; the same args, so its resolution is reused).
        const namespacesOn = new Map<string, GovernedNamespace[]>();
        for (const service of args.services) {
            const resolved = requireResolvedService(service.name, { ...service.args, argoNamespace });
            for (const env of resolved.environments) {
                if (!env.cluster || !("name" in env.cluster)) continue;
                const list = namespacesOn.get(env.cluster.name) ?? [];
                list.push({ name: env.namespace, environment: env.name, team: resolved.team, service: service.name });
                namespacesOn.set(env.cluster.name, list);
            }
        }
        super("gitops-control:index:ControlPlane", name, {}, opts);
        const provider = args.provider;
        // The webhook secret exists whenever previews do, not only when the program manages GitHub:
        // a hook configured by hand (or by a test's GitHub double) signs with the exported value.
        const webhookSecret =
            args.github || args.services.some((s) => s.args.previews)
                ? new random.RandomPassword(`${name}-github-webhook-secret`, { length: 40, special: false }, { parent: this }).result
                : undefined;
        this.argoCd = new ArgoCd(`${name}-argocd`, { ...args.argoCd, provider, ...(webhookSecret ? { githubWebhookSecret: pulumi.secret(webhookSecret) } : {}) }, { parent: this });
        if (args.github && webhookSecret) {
            this.github = new GitHubPreviewHooks(`${name}-github`, { ...args.github, webhookSecret: pulumi.secret(webhookSecret) }, { parent: this });
        }
        // Guardrails do not depend on Argo CD: they protect the cluster even if the install fails.
        this.guardrails = new AdmissionGuardrails(`${name}-guardrails`, { ...args.guardrails, provider: args.guardrailsProvider ?? provider }, { parent: this });
        // Always on, whatever the guardrail settings: a second program onboarding one of these
        // services is refused (in its preview already) instead of overwriting this stack's objects.
        this.ownership = new OwnershipFence(`${name}-ownership`, { argoNamespace, provider: args.guardrailsProvider ?? provider }, { parent: this });
        for (const { kubeconfig, bearerToken, ...destination } of args.destinations ?? []) {
            const clusterName = destination.clusterName;
            let token = bearerToken;
            let scope: Pick<DestinationClusterArgs, "namespaces" | "clusterResources"> = {};
            if (kubeconfig !== undefined) {
                const governed = new GovernedCluster(
                    `${name}-governed-${clusterName}`,
                    { clusterName, kubeconfig, argoNamespace, guardrails: args.guardrails, namespaces: namespacesOn.get(clusterName) ?? [] },
                    { parent: this },
                );
                this.governedClusters[clusterName] = governed;
                token = governed.token;
                // Argo CD's cache lists namespaced kinds only in the service namespaces there (its account reads nothing else).
                const own = (namespacesOn.get(clusterName) ?? []).map((ns) => ns.name);
                if (destination.namespaces === undefined && own.length > 0) scope = { namespaces: own, clusterResources: true };
            }
            this.destinations[clusterName] = new DestinationCluster(
                `${name}-cluster-${clusterName}`,
                { ...destination, ...scope, bearerToken: token ?? "", argoNamespace, provider },
                { parent: this, dependsOn: [this.argoCd] },
            );
        }
        for (const [credentialName, credential] of Object.entries(args.repositoryCredentials ?? {})) {
            this.repositoryCredentials[credentialName] = new RepositoryCredentials(
                credentialName,
                { ...credential, argoNamespace, provider },
                { parent: this, dependsOn: [this.argoCd] },
            );
        }
        // Applications need the Argo CD CRDs and namespace, their cluster (governed: its namespaces and Argo CD's RBAC) and their credentials.
        const serviceDependencies = [this.argoCd, ...Object.values(this.governedClusters), ...Object.values(this.destinations), ...Object.values(this.repositoryCredentials)];
        if (args.pruneGate) {
            // Before the Applications that wait for it, and with its approval rule in place.
            this.pruneGate = new PruneGate(
                `${name}-prune-gate`,
                { ...args.pruneGate, namespace: argoNamespace, provider, policyProvider: args.guardrailsProvider ?? provider },
                { parent: this, dependsOn: [this.argoCd] },
            );
        }
        const confirmPrunes = args.pruneGate ? { confirmPrunes: true } : {};
        for (const service of args.services) {
            this.services[service.name] = new GitOpsService(
                service.name,
                { ...service.args, ...confirmPrunes, argoNamespace, provider },
                { parent: this, dependsOn: this.pruneGate ? [...serviceDependencies, this.pruneGate] : serviceDependencies },
            );
        }
        if (args.alerts) {
            this.alerts = new ArgoCdAlerts(`${name}-alerts`, { ...args.alerts, namespace: argoNamespace, provider }, { parent: this, dependsOn: [this.argoCd] });
        }
        if (args.previewJanitor) {
            this.previewJanitor = new PreviewJanitor(
                `${name}-preview-janitor`,
                { ...args.previewJanitor, namespace: argoNamespace, provider },
                { parent: this, dependsOn: [this.argoCd] },
            );
        }
        if (args.breakGlassExpiry) {
            // It labels the break-glass namespaces, which carves them out of bindings that must exist first,
            // and the namespaces themselves (the services make them).
            this.breakGlassExpiry = new BreakGlassExpiry(
                `${name}-break-glass-expiry`,
                { ...args.breakGlassExpiry, namespace: argoNamespace, provider },
                { parent: this, dependsOn: [this.argoCd, this.guardrails, ...Object.values(this.services).flatMap((s) => Object.values(s.namespaces))] },
            );
        }
        this.argoNamespace = this.argoCd.namespaceName;
        this.adminPassword = this.argoCd.adminPassword;
        this.githubWebhookSecret = webhookSecret ? pulumi.secret(webhookSecret) : pulumi.output(undefined);
        // One `all` over every service's outputs, not one `all` + `apply` per service: at 500 services
        // the per-service form alone made ≈ 112k SDK promises (bench/FINDINGS.md, finding 11).
        const services = Object.entries(this.services);
        this.serviceSummaries = pulumi
            .all(services.flatMap(([, s]): pulumi.Output<unknown>[] => [s.projectName, s.applicationNames, s.previewApplicationSetName]))
            .apply((values) =>
                Object.fromEntries(
                    services.map(([serviceName], i): [string, ServiceSummary] => [
                        serviceName,
                        { project: values[3 * i] as string, applications: values[3 * i + 1] as Record<string, string>, previews: values[3 * i + 2] as string | undefined },
                    ]),
                ),
            );
        this.registerOutputs({
            argoNamespace: this.argoNamespace,
            adminPassword: this.adminPassword,
            githubWebhookSecret: this.githubWebhookSecret,
            serviceSummaries: this.serviceSummaries,
        });
    }
}
