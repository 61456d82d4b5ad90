/**
 * Pipeline steps 3 and 5: resolve (stack defaults, break-glass, derived values, once) and build
 * (the control plane's typed args). Validation (step 4) is in validate.ts and runs between them.
 */
import type { ArgoCdArgs, ChartSource } from "../components/argocd/ArgoCd";
import type { ControlPlaneArgs, ControlPlaneService } from "../components/ControlPlane";
import { defaults } from "../components/core/defaults";
import type { RepositoryAuth, RepositoryCredentialsArgs } from "../components/argocd/RepositoryCredentials";
import { defaultRules } from "../components/guardrails/rules";
import { EnvironmentClass, environmentPresets } from "../components/core/presets";
import type { ServiceArgs } from "../components/serviceSpec";
import { gitHubRepoOf, inClusterName } from "../components/serviceSpec";
import { BreakGlassStatus, breakGlassAnnotations, covers } from "./breakGlass";
import { crdSource, resolveChart } from "./chart";
import { scaleBounds } from "../components/argocd/scale";
import { stackPresets } from "./presets";
import type { IndexedService, StackSecrets } from "./read";
import type { ServiceConfig, StackConfig } from "./schema";

/** One environment of a modelled service: always an object (a bare class name becomes `{ name }`). */
export type ModelEnvironment = Exclude<ServiceArgs["environments"][number], string>;

/** A stack entry resolved to GitOpsService args, with where it came from. */
export interface ModelService extends ControlPlaneService {
    /** Index in `gitops-control:services`. */
    readonly index: number;
    readonly config: ServiceConfig;
    readonly args: Omit<ControlPlaneService["args"], "environments"> & { readonly environments: readonly ModelEnvironment[] };
}

/** The services' environment entries as objects (a bare class name is `{ name }`). */
export function environmentsOf(service: ServiceConfig, stack: StackConfig["environment"]) {
    return (service.environments ?? stackPresets[stack].defaultEnvironments).map((e) => (typeof e === "string" ? { name: e } : e));
}

export { inClusterName };

/** Cluster names a service, environment or `defaultCluster` may name: in-cluster and the declared destinations. */
export function clusterNames(config: Pick<StackConfig, "destinations">): string[] {
    return [inClusterName, ...config.destinations.map((d) => d.name)];
}

/** The stack's `waitForSync` as GitOpsService takes it; `undefined` when off. */
export function waitForSyncArg(config: Pick<StackConfig, "waitForSync">): { timeoutSeconds: number } | undefined {
    return config.waitForSync.enabled ? { timeoutSeconds: config.waitForSync.timeoutSeconds ?? defaults.waitForSyncSeconds } : undefined;
}

/** Option key of a rule: its name in camelCase (`cap-replicas` → `capReplicas`). */
export const ruleOptionKey = (rule: string): string => rule.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Rule names of the library, as `defaultRules` builds them (the one list, in components/guardrails/rules.ts). */
export function libraryRuleNames(): string[] {
    return defaultRules().map((r) => r.name);
}

/** The stack's guardrail rules: the whole library, tuned and trimmed by `gitops-control:guardrails`. */
export function guardrailRules(config: StackConfig) {
    const g = config.guardrails;
    const known = new Set(libraryRuleNames());
    const off = Object.fromEntries((g.disabledRules ?? []).filter((n) => known.has(n)).map((n) => [ruleOptionKey(n), false]));
    return defaultRules({
        argoCdNamespace: config.argocd.namespace,
        capReplicas: { max: g.replicaCap ?? defaults.replicaCap },
        ...(g.requiredLabels ? { requireLabels: { labels: g.requiredLabels } } : {}),
        ...(g.allowedRevisions ? { protectSyncPolicy: { allowedRevisions: g.allowedRevisions } } : {}),
        ...(g.programIdentity ? { programIdentity: g.programIdentity } : {}),
        ...(g.ignoreDifferences ? { ignoreDifferences: g.ignoreDifferences } : {}),
        ...off,
    });
}

/**
 * Resolves each parsed service to GitOpsService args: the entry as it is (the component takes the
 * stack entry's field names), plus what the stack decides for every service: its environments
 * (the stack's default classes), active break-glass (pause + audit annotations, the entry's
 * reason), `defaultCluster`, `waitForSync`, the revisions protect-sync-policy allows, and the
 * preview token and owner (from `previews.owner`, else the GitHub repoURL, else `github.owner`).
 */
export function resolveServices(config: StackConfig, services: readonly IndexedService[], secrets: StackSecrets, active: readonly BreakGlassStatus[]): ModelService[] {
    const stack = stackPresets[config.environment];
    // One object for every service: the stack-wide setting.
    const waitForSync = waitForSyncArg(config);
    const protectSyncPolicy = !(config.guardrails.disabledRules ?? []).includes("protect-sync-policy");
    const governedClusters = governedClusterNames(config, secrets);
    return services.map(({ index, service }) => {
        const environments = environmentsOf(service, config.environment).map((env): ModelEnvironment => {
            const glass = active.find((s) => covers(s.entry, service.name, env.name));
            if (!glass) return env;
            const reason = env.unsafeSyncPolicyReason ?? service.unsafeSyncPolicyReason ?? `break-glass ${glass.entry.ticket}: ${glass.entry.reason}`;
            return { ...env, pauseAutomatedSync: true, annotations: breakGlassAnnotations(glass.entry), unsafeSyncPolicyReason: reason };
        });
        const { name, sharedRepository: _, environments: __, cluster, previews, ...settings } = service;
        const serviceCluster = cluster ?? config.defaultCluster;
        const owner = previews?.owner ?? (gitHubRepoOf(service.repoURL) ? undefined : config.github?.owner);
        return {
            index,
            config: service,
            name,
            args: {
                ...settings,
                environments,
                ignoreDifferences: service.ignoreDifferences ?? [],
                // Pauses come from breakGlass entries: the component checks them against the stack's limit.
                ...(config.breakGlassPolicy.maxHours !== undefined ? { breakGlassMaxHours: config.breakGlassPolicy.maxHours } : {}),
                cascadeDelete: stack.cascadeDelete,
                ...(governedClusters.length > 0 ? { governedClusters } : {}),
                ...(serviceCluster !== undefined ? { cluster: serviceCluster } : {}),
                ...(waitForSync ? { waitForSync } : {}),
                ...(protectSyncPolicy
                    ? config.guardrails.allowedRevisions
                        ? { allowedRevisions: config.guardrails.allowedRevisions }
                        : {}
                    : { allowedRevisions: false as const }),
                ...(previews && secrets.githubToken !== undefined
                    ? {
                          previews: {
                              ...previews,
                              ...(owner !== undefined ? { owner } : {}),
                              ...(config.github?.api ? { api: config.github.api } : {}),
                              token: secrets.githubToken,
                          },
                      }
                    : {}),
            },
        };
    });
}

/** A registered cluster as the control plane takes it (its token from the secrets; checked in validate.ts). */
export type DestinationArgs = NonNullable<ControlPlaneArgs["destinations"]>[number];

/**
 * Registered clusters: with their kubeconfig (governed by this program, which creates Argo CD's
 * token there) or with their bearer token.
 */
export function destinationArgs(config: StackConfig, secrets: StackSecrets): DestinationArgs[] {
    return config.destinations.map((d): DestinationArgs => {
        const kubeconfig = secrets.destinationKubeconfigs?.[d.name];
        return {
            clusterName: d.name,
            server: d.server,
            ...(kubeconfig !== undefined ? { kubeconfig } : { bearerToken: secrets.destinationTokens?.[d.name] ?? "" }),
            ...(d.caData ? { caData: d.caData } : {}),
            ...(d.namespaces ? { namespaces: d.namespaces } : {}),
        };
    });
}

/** Registered clusters a program governs: this one (a kubeconfig) or another stack (`governedBy`). Prod may deploy only there (or in-cluster). */
export function governedClusterNames(config: Pick<StackConfig, "destinations">, secrets: StackSecrets): string[] {
    return config.destinations.filter((d) => d.governedBy !== undefined || secrets.destinationKubeconfigs?.[d.name] !== undefined).map((d) => d.name);
}

/** One repository credential entry as the RepositoryCredentials component takes it, its secret part from the secrets. */
export function repositoryCredentialArg(c: StackConfig["repositoryCredentials"][number], secrets: StackSecrets): Omit<RepositoryCredentialsArgs, "provider" | "argoNamespace"> {
    const secret = secrets.repositorySecrets?.[c.name] ?? "";
    let auth: RepositoryAuth;
    if (c.type === "githubApp") {
        auth = {
            kind: "githubApp",
            appId: c.githubAppId ?? 0,
            installationId: c.githubAppInstallationId ?? 0,
            privateKey: secret,
            ...(c.githubAppEnterpriseBaseUrl ? { enterpriseBaseUrl: c.githubAppEnterpriseBaseUrl } : {}),
        };
    } else if (c.type === "ssh") {
        auth = { kind: "ssh", sshPrivateKey: secret };
    } else {
        auth = { kind: "https", username: c.username ?? "git", password: secret };
    }
    return { url: c.url, auth };
}

/** Repository credentials by name. */
export function repositoryCredentialArgs(config: StackConfig, secrets: StackSecrets): NonNullable<ControlPlaneArgs["repositoryCredentials"]> {
    return Object.fromEntries(config.repositoryCredentials.map((c) => [c.name, repositoryCredentialArg(c, secrets)]));
}

/** The Applications a stack's own services render (one per environment), within the scale setting's bounds: `argocd.scale`'s default. */
export function stackApplicationCount(config: StackConfig): number {
    const count = config.services.reduce((n, s) => n + environmentsOf(s, config.environment).length, 0);
    return Math.min(scaleBounds.maxApplications, Math.max(scaleBounds.minApplications, count));
}

/** The Argo CD install's args. */
export function argoCdArgs(config: StackConfig, chart: ChartSource | undefined): Omit<ArgoCdArgs, "provider"> {
    const stack = stackPresets[config.environment];
    const argo = config.argocd;
    return {
        namespace: argo.namespace,
        ha: argo.ha ?? stack.ha,
        protect: stack.protect,
        skipAwait: stack.skipAwait,
        dex: argo.dex ?? false,
        ...(chart ? { chart } : {}),
        ...(crdSource(config) ? { crds: crdSource(config) } : {}),
        ...(argo.replicas ? { replicas: argo.replicas } : {}),
        ...(argo.settings ? { settings: argo.settings } : {}),
        scale: argo.scale ?? { applications: stackApplicationCount(config) },
        ...(argo.metrics ? { metrics: argo.metrics } : {}),
        ...(argo.notifications ? { notifications: argo.notifications } : {}),
    };
}

/**
 * Builds the control plane's typed args from a config the rules have passed: services, guardrails
 * bound per environment class (break-glass namespaces, labelled by BreakGlassExpiry, carved out of
 * the content rules' Deny bindings and under their Warn ones), Argo CD
 * (with its CRDs), registered clusters, repository credentials, GitHub wiring, alerts and the
 * preview janitor.
 */
export function buildArgs(
    config: StackConfig,
    services: readonly ModelService[],
    secrets: StackSecrets,
    active: readonly BreakGlassStatus[],
    previewRepos: readonly string[],
): Omit<ControlPlaneArgs, "provider"> {
    const stack = stackPresets[config.environment];
    const rules = guardrailRules(config);
    /**
     * Namespaces of this cluster under break-glass, with their environment class and entry: the
     * program labels them (BreakGlassExpiry), which carves them out of the bindings of the rules
     * break-glass may lift; the others keep governing them (AdmissionGuardrails). A namespace on
     * another cluster is not labelled: every rule keeps governing it there.
     */
    const exempt = services.flatMap((s) =>
        s.args.environments.flatMap((env) => {
            const glass = active.find((g) => covers(g.entry, s.name, env.name));
            const cluster = env.cluster ?? s.args.cluster;
            const local = cluster === undefined || cluster === inClusterName;
            return glass && local ? [{ environment: env.name, namespace: env.namespace ?? `${s.name}-${env.name}`, glass }] : [];
        }),
    );
    const carvedClasses = new Set(exempt.map((e) => e.environment));
    // Bind the guardrails in every environment class a service deploys to, plus the stack's own.
    const classes = new Set<EnvironmentClass>(stack.defaultEnvironments);
    services.forEach((s) => s.args.environments.forEach((e) => classes.add(e.name)));
    const bindingOrder: EnvironmentClass[] = ["prod", "staging"];
    const janitor = config.previewJanitor;
    const pruneGateOn = (config.pruneGate.enabled ?? config.environment === "prod") && classes.has("prod");
    const alerts = config.argocd.alerts;
    const gh = config.github;
    // GitHub is managed only when fully configured: without it the github plugin is never loaded.
    const manageGitHub = gh?.owner !== undefined && gh.webhookUrl !== undefined && secrets.githubToken !== undefined && previewRepos.length > 0;
    const destinations = destinationArgs(config, secrets);
    const repositoryCredentials = repositoryCredentialArgs(config, secrets);
    return {
        argoCd: argoCdArgs(config, resolveChart(config).source),
        services: services.map(({ name, args }) => ({ name, args })),
        ...(destinations.length > 0 ? { destinations } : {}),
        ...(Object.keys(repositoryCredentials).length > 0 ? { repositoryCredentials } : {}),
        ...(alerts?.enabled
            ? {
                  alerts: {
                      ...(alerts.outOfSyncMinutes !== undefined ? { outOfSyncMinutes: alerts.outOfSyncMinutes } : {}),
                      ...(alerts.degradedMinutes !== undefined ? { degradedMinutes: alerts.degradedMinutes } : {}),
                      ...(alerts.ruleLabels ? { ruleLabels: alerts.ruleLabels } : {}),
                      previewTtlHours: janitor.ttlHours ?? defaults.previewTtlHours,
                      pauseMaxHours: config.breakGlassPolicy.maxHours ?? defaults.breakGlassMaxHours,
                  },
              }
            : {}),
        ...(manageGitHub
            ? {
                  github: {
                      owner: gh.owner!,
                      token: secrets.githubToken!,
                      repositories: [...new Set(previewRepos)],
                      webhookUrl: gh.webhookUrl!,
                      ...(gh.api ? { baseUrl: gh.api } : {}),
                  },
              }
            : {}),
        ...(services.some((s) => s.args.previews)
            ? {
                  previewJanitor: {
                      ...(janitor.image ? { image: janitor.image } : {}),
                      ...(janitor.schedule ? { schedule: janitor.schedule } : {}),
                      ...(janitor.ttlHours !== undefined ? { ttlHours: janitor.ttlHours } : {}),
                      // The gate is a Deployment: not awaited where no kubelet runs it (local).
                      ...(stack.skipAwait ? { skipAwait: true } : {}),
                  },
              }
            : {}),
        // Prod Applications' prunes wait for the gate (within budget) or the approver group.
        ...(pruneGateOn
            ? {
                  pruneGate: {
                      budget: config.applicationPruneBudget.prod ?? defaults.applicationPruneBudget.prod,
                      ...(config.pruneGate.approverGroups ? { approverGroups: config.pruneGate.approverGroups } : {}),
                      ...(config.pruneGate.intervalSeconds !== undefined ? { intervalSeconds: config.pruneGate.intervalSeconds } : {}),
                      ...(janitor.image ? { image: janitor.image } : {}),
                      ...(stack.skipAwait ? { skipAwait: true } : {}),
                  },
              }
            : {}),
        // The carve-out is the namespaces' break-glass label, which the component sets; exceptions end in
        // the cluster at their expiry, not only at the next `up`: the job may only remove that label.
        ...(exempt.length > 0
            ? {
                  breakGlassExpiry: {
                      breakGlassNamespaces: exempt.map((e) => ({ name: e.namespace, expires: e.glass.entry.expires, annotations: breakGlassAnnotations(e.glass.entry) })),
                      ...(janitor.image ? { image: janitor.image } : {}),
                  },
              }
            : {}),
        guardrails: {
            rules,
            bindings: [
                ...bindingOrder
                    .filter((c) => classes.has(c))
                    .map((c) => ({
                        environment: c,
                        validationActions: environmentPresets[c].validationActions,
                        ...(carvedClasses.has(c) ? { breakGlass: "exclude" as const } : {}),
                    })),
                // While an entry is open, the labelled namespaces of a class warn instead of deny (the rules the carve-out lifts).
                ...bindingOrder.filter((c) => carvedClasses.has(c)).map((c) => ({ environment: c, validationActions: ["Warn", "Audit"] as const, breakGlass: "only" as const })),
            ],
            failurePolicy: config.guardrails.failurePolicy ?? defaults.failurePolicy,
            protect: stack.protect,
        },
    };
}
