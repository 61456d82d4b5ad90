import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { ArgoCdArgs, ChartSource } from "../components/ArgoCd";
import { pinnedChart } from "../components/ArgoCd";
import type { ControlPlaneArgs, ControlPlaneService } from "../components/ControlPlane";
import { GitOpsConfigError, check, requireDnsLabel } from "../components/errors";
import { validateSource } from "../components/GitOpsApplication";
import { DefaultRulesOptions, defaultRules } from "../components/guardrails/rules";
import type { ServiceEnvironment } from "../components/GitOpsService";
import { minRequeueAfterSeconds } from "../components/PreviewEnvironments";
import { mergeSyncPolicy, unsafeForProduction, validateSyncPolicy } from "../components/syncPolicy";
import { BreakGlassStatus, breakGlassAnnotations, covers, evaluateBreakGlass, expiredMessage } from "./breakGlass";
import { EnvironmentClass, environmentPresets, stackPresets } from "./presets";
import { ServiceConfig, StackConfig, formatIssues, stackConfigSchema } from "./schema";

/** The project's config namespace (`<namespace>:<key>` in stack files). */
export const configNamespace = "gitops-control";

/** The fixture chart, used by the local stack when no chart is configured. */
export const fixtureChartPath = path.join("..", "shared", "fixtures", "argo-cd", "charts", `argo-cd-${pinnedChart.version}.tgz`);

/** How to set the token; quoted in every error about it. */
export const setTokenCommand = `pulumi config set --secret ${configNamespace}:githubToken <token>`;

/**
 * Parses raw config (key → value, without namespace) into the typed stack config, or throws one
 * error listing every problem with its field and fix.
 */
export function parseStackConfig(raw: Record<string, unknown>): StackConfig {
    const result = stackConfigSchema.safeParse(raw, { reportInput: true });
    if (!result.success) {
        throw new Error(`Invalid stack config:\n${formatIssues(result.error, configNamespace)}`);
    }
    return result.data;
}

/** Secrets the model needs, as Pulumi secrets. */
export interface StackSecrets {
    readonly githubToken?: pulumi.Input<string>;
}

const cfg = (field: string): string => `${configNamespace}:${field}`;

function environmentsOf(service: ServiceConfig, defaults: readonly EnvironmentClass[]) {
    return (service.environments ?? defaults).map((e) => (typeof e === "string" ? { name: e } : e));
}

/** Checks a service's config; field names are the stack-file paths. */
function checkService(config: StackConfig, service: ServiceConfig, i: number, secrets: StackSecrets): void {
    const field = cfg(`services[${i}]`);
    const stack = stackPresets[config.environment];
    requireDnsLabel(service.name, `${field}.name`, 48);
    requireDnsLabel(service.team, `${field}.team`);
    validateSource({ ...service, targetRevision: service.targetRevision }, field);
    for (const env of environmentsOf(service, stack.defaultEnvironments)) {
        const policy = mergeSyncPolicy(environmentPresets[env.name].syncPolicy, service.syncPolicy);
        validateSyncPolicy(policy, `${field}.syncPolicy`);
        const problems = environmentPresets[env.name].requireSafeSyncPolicy ? unsafeForProduction(policy) : [];
        check(
            problems.length === 0 || (service.unsafeSyncPolicyReason ?? "").trim().length >= 10,
            `${field}.syncPolicy`,
            `weakens the ${env.name} sync policy: ${problems.join("; ")}`,
            `restore the preset, or document the exception in \`${field}.unsafeSyncPolicyReason\` (reason and ticket, at least 10 characters)`,
        );
    }
    if (service.previews) {
        check(stack.previews, `${field}.previews`, `is set on a ${config.environment} stack, which runs no previews`, "move previews to the staging stack's service entry");
        check(
            (service.previews.owner ?? config.github?.owner) !== undefined,
            `${field}.previews.owner`,
            "is not set and there is no `gitops-control:github.owner`",
            `set \`${cfg("github")}\` to { owner: <org> } or the service's previews.owner`,
        );
        const requeue = service.previews.requeueAfterSeconds ?? 300;
        check(
            requeue >= minRequeueAfterSeconds,
            `${field}.previews.requeueAfterSeconds`,
            `is ${requeue}; polling GitHub that often exhausts its API rate limit`,
            `use at least ${minRequeueAfterSeconds} (300 is usual; the webhook makes previews instant)`,
        );
        check(
            secrets.githubToken !== undefined,
            cfg("githubToken"),
            `is not set, and ${service.name} has previews (the pull-request generator needs it)`,
            `run \`${setTokenCommand}\``,
        );
    }
}

function chartSource(config: StackConfig): ChartSource | undefined {
    const chart = config.argocd.chart;
    if (chart && "path" in chart) return { kind: "local", path: chart.path };
    if (chart) return { kind: "repository", repo: chart.repo ?? pinnedChart.repo, version: chart.version };
    return config.environment === "local" ? { kind: "local", path: fixtureChartPath } : undefined;
}

/** Option key of each rule of the library, by rule name. */
const ruleOptionKeys: Readonly<Record<string, keyof Omit<DefaultRulesOptions, "argoCdNamespace">>> = {
    "require-pod-security-context": "requirePodSecurityContext",
    "cap-replicas": "capReplicas",
    "disallow-latest-image": "disallowLatestImage",
    "require-resources": "requireResources",
    "disallow-host-access": "disallowHostAccess",
    "require-labels": "requireLabels",
    "restrict-workload-writers": "restrictWorkloadWriters",
    "protect-sync-policy": "protectSyncPolicy",
    "restrict-container-privileges": "restrictContainerPrivileges",
    "restrict-security-profiles": "restrictSecurityProfiles",
    "protect-namespace-labels": "protectNamespaceLabels",
};

/** The stack's guardrail rules: the whole library, tuned and trimmed by `gitops-control:guardrails`. */
export function guardrailRules(config: StackConfig) {
    const g = config.guardrails;
    const off: Partial<Record<keyof Omit<DefaultRulesOptions, "argoCdNamespace">, false>> = {};
    (g.disabledRules ?? []).forEach((name, i) => {
        const key = ruleOptionKeys[name];
        check(key !== undefined, cfg(`guardrails.disabledRules[${i}]`), `is "${name}", not a rule of the library`, `use one of ${Object.keys(ruleOptionKeys).join(", ")}`);
        off[key] = false;
    });
    return defaultRules({
        argoCdNamespace: config.argocd.namespace,
        capReplicas: { max: g.replicaCap ?? 20 },
        ...(g.requiredLabels ? { requireLabels: { labels: g.requiredLabels } } : {}),
        ...off,
    });
}

/** Reconcile debt: break-glass exceptions still open, and those past their expiry. */
export interface ReconcileDebt {
    readonly active: readonly { ticket: string; services: readonly string[]; expires: string; hoursLeft: number }[];
    readonly overdue: readonly { ticket: string; services: readonly string[]; expires: string; hoursOverdue: number }[];
}

/**
 * Validates the break-glass entries and classifies them at `now`. Expired entries stop the program
 * (`onExpiry: fail`, the default) or are dropped with a warning (`revert`).
 */
export function breakGlassStatus(config: StackConfig, now: Date, warn: (message: string) => void = () => undefined): BreakGlassStatus[] {
    const statuses = evaluateBreakGlass(
        config.breakGlass,
        { maxHours: config.breakGlassPolicy.maxHours ?? 24, onExpiry: config.breakGlassPolicy.onExpiry ?? "fail" },
        new Set(config.services.map((s) => s.name)),
        now,
        cfg("breakGlass"),
    );
    statuses.forEach((status, i) => {
        if (status.state !== "expired") return;
        const message = expiredMessage(status, cfg(`breakGlass[${i}]`));
        if ((config.breakGlassPolicy.onExpiry ?? "fail") === "fail") {
            throw new Error(message);
        }
        warn(`${message} (reverted automatically: guardrails and automated sync are back)`);
    });
    return statuses;
}

/** The reconcile-debt stack output. */
export function reconcileDebt(statuses: readonly BreakGlassStatus[]): ReconcileDebt {
    return {
        active: statuses
            .filter((s) => s.state === "active")
            .map((s) => ({ ticket: s.entry.ticket, services: s.entry.services, expires: s.entry.expires, hoursLeft: s.hoursLeft })),
        overdue: statuses
            .filter((s) => s.state === "expired")
            .map((s) => ({ ticket: s.entry.ticket, services: s.entry.services, expires: s.entry.expires, hoursOverdue: -s.hoursLeft })),
    };
}

/**
 * Turns validated stack config into the control plane's typed args: presets applied, services
 * expanded per environment, guardrails bound per environment class, active break-glass applied.
 */
export function buildControlPlaneArgs(
    config: StackConfig,
    secrets: StackSecrets,
    now: Date = new Date(),
    warn?: (message: string) => void,
    /** Break-glass states already evaluated at `now` (by loadStack); computed here when omitted. */
    statuses?: readonly BreakGlassStatus[],
): Omit<ControlPlaneArgs, "provider"> {
    const stack = stackPresets[config.environment];
    const names = new Set<string>();
    config.services.forEach((service, i) => {
        check(!names.has(service.name), cfg(`services[${i}].name`), `repeats "${service.name}"`, "give every service a unique name");
        names.add(service.name);
        checkService(config, service, i, secrets);
    });
    const guardrails = config.guardrails;
    if (guardrails.replicaCap !== undefined) {
        check(guardrails.replicaCap > 0, cfg("guardrails.replicaCap"), `is ${guardrails.replicaCap}`, "use a whole number > 0 (20 is the default)");
    }

    const active = (statuses ?? breakGlassStatus(config, now, warn)).filter((s) => s.state === "active");
    /** Namespaces under break-glass, per environment class. */
    const exempt = new Map<string, { namespaces: string[]; statuses: Set<BreakGlassStatus> }>();

    const services: ControlPlaneService[] = config.services.map((service) => {
        const environments: ServiceEnvironment[] = environmentsOf(service, stack.defaultEnvironments).map((env) => {
            const namespace = env.namespace ?? `${service.name}-${env.name}`;
            const glass = active.find((s) => covers(s.entry, service.name, env.name));
            const preset = mergeSyncPolicy(environmentPresets[env.name].syncPolicy, service.syncPolicy);
            if (glass) {
                const slot = exempt.get(env.name) ?? { namespaces: [], statuses: new Set() };
                slot.namespaces.push(namespace);
                slot.statuses.add(glass);
                exempt.set(env.name, slot);
            }
            return {
                name: env.name,
                targetRevision: env.targetRevision ?? service.targetRevision,
                // Break-glass pauses automated sync (keeping every other switch) so the live hotfix
                // is not reverted mid-incident.
                syncPolicy: glass ? mergeSyncPolicy(preset, { automated: { enabled: false } }) : preset,
                revisionHistoryLimit: environmentPresets[env.name].revisionHistoryLimit,
                namespace,
                ...(env.valueFiles ? { valueFiles: env.valueFiles } : {}),
                ...(glass ? { annotations: breakGlassAnnotations(glass.entry) } : {}),
            };
        });
        const previews = service.previews;
        return {
            name: service.name,
            args: {
                team: service.team,
                source: {
                    repoURL: service.repoURL,
                    path: service.path,
                    ...(service.helm ? { helm: service.helm } : {}),
                    ...(service.kustomize ? { kustomize: service.kustomize } : {}),
                },
                environments,
                ignoreDifferences: service.ignoreDifferences ?? [],
                cascadeDelete: stack.cascadeDelete,
                ...(previews && secrets.githubToken !== undefined
                    ? {
                          previews: {
                              github: {
                                  owner: previews.owner ?? config.github?.owner ?? "",
                                  repo: previews.repo ?? service.name,
                                  labels: previews.labels ?? ["preview"],
                                  ...(config.github?.api ? { api: config.github.api } : {}),
                                  token: secrets.githubToken,
                              },
                              syncPolicy: environmentPresets.preview.syncPolicy,
                              requeueAfterSeconds: previews.requeueAfterSeconds ?? 300,
                              imageTagParameter: previews.imageTagParameter ?? "image.tag",
                          },
                      }
                    : {}),
            },
        };
    });

    active.forEach((glass) => {
        const i = config.breakGlass.findIndex((entry) => entry === glass.entry);
        check(
            [...exempt.values()].some((slot) => slot.statuses.has(glass)),
            cfg(`breakGlass[${i}].environments`),
            "matches no environment of the named services",
            "drop `environments` or name one the services deploy to",
        );
    });

    // Bind the guardrails in every environment class a service deploys to, plus the stack's own.
    const classes = new Set<EnvironmentClass>(stack.defaultEnvironments);
    services.forEach((s) => s.args.environments.forEach((e) => classes.add(e.name as EnvironmentClass)));
    const bindingOrder: EnvironmentClass[] = ["prod", "staging"];

    const argo = config.argocd;
    const argoCd: Omit<ArgoCdArgs, "provider"> = {
        namespace: argo.namespace,
        ha: argo.ha ?? stack.ha,
        protect: stack.protect,
        skipAwait: stack.skipAwait,
        dex: argo.dex ?? false,
        ...(chartSource(config) ? { chart: chartSource(config) } : {}),
        ...(argo.replicas ? { replicas: argo.replicas } : {}),
        ...(argo.settings ? { settings: argo.settings } : {}),
        ...(argo.metrics ? { metrics: argo.metrics } : {}),
        ...(argo.notifications ? { notifications: argo.notifications } : {}),
    };
    const janitor = config.previewJanitor;
    const alerts = argo.alerts;
    const previewRepos = services.flatMap((s) => (s.args.previews ? [s.args.previews.github.repo] : []));
    const gh = config.github;
    // GitHub is managed only when fully configured: without it the github plugin is never loaded.
    const manageGitHub = gh?.owner !== undefined && gh.webhookUrl !== undefined && secrets.githubToken !== undefined && previewRepos.length > 0;
    return {
        argoCd,
        services,
        ...(alerts?.enabled
            ? {
                  alerts: {
                      ...(alerts.outOfSyncMinutes !== undefined ? { outOfSyncMinutes: alerts.outOfSyncMinutes } : {}),
                      ...(alerts.degradedMinutes !== undefined ? { degradedMinutes: alerts.degradedMinutes } : {}),
                      ...(alerts.ruleLabels ? { ruleLabels: alerts.ruleLabels } : {}),
                      previewTtlHours: janitor.ttlHours ?? 72,
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
                  },
              }
            : {}),
        guardrails: {
            rules: guardrailRules(config),
            bindings: [
                ...bindingOrder
                    .filter((c) => classes.has(c))
                    .map((c) => ({
                        environment: c,
                        validationActions: environmentPresets[c].validationActions,
                        excludeNamespaces: exempt.get(c)?.namespaces ?? [],
                    })),
                // One binding per active break-glass entry: its namespaces warn instead of deny.
                ...active.map((glass) => ({
                    environment: `break-glass-${glass.entry.ticket.toLowerCase()}`,
                    validationActions: ["Warn", "Audit"] as const,
                    namespaces: [...exempt.values()].flatMap((slot) => (slot.statuses.has(glass) ? slot.namespaces : [])),
                    annotations: breakGlassAnnotations(glass.entry),
                })),
            ],
            failurePolicy: guardrails.failurePolicy ?? "Fail",
            protect: stack.protect,
        },
    };
}

/** `pulumi.runtime.isConfigSecret` exists at run time but is missing from the SDK's type declarations. */
function isConfigSecret(key: string): boolean {
    const runtime = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
    if (typeof runtime.isConfigSecret !== "function") {
        throw new Error("@pulumi/pulumi no longer exports runtime.isConfigSecret: update stacks/config.ts");
    }
    return runtime.isConfigSecret(key);
}

/** Reads this stack's config from the Pulumi runtime, without namespace, JSON values decoded. */
export function readRawConfig(): Record<string, unknown> {
    return decodeConfig(pulumi.runtime.allConfig());
}

/**
 * Config as Pulumi hands it over (`<namespace>:<key>` → string, structured values as JSON) to raw
 * values without namespace, ready for {@link parseStackConfig}. Keys in `skip` (secrets) are left out.
 */
export function decodeConfig(config: Readonly<Record<string, string>>, skip: readonly string[] = []): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(config)) {
        if (!key.startsWith(`${configNamespace}:`) || skip.includes(key)) continue;
        const name = key.slice(configNamespace.length + 1);
        try {
            raw[name] = JSON.parse(value);
        } catch {
            raw[name] = value;
        }
    }
    return raw;
}

/**
 * Loads, validates and models the current stack's config. Throws before any resource is
 * registered when something is wrong.
 */
export function loadStack(now: Date = new Date(), overrides: Record<string, unknown> = {}): { config: StackConfig; args: Omit<ControlPlaneArgs, "provider">; reconcileDebt: ReconcileDebt } {
    const config = parseStackConfig({ ...readRawConfig(), ...overrides });
    const tokenKey = `${configNamespace}:githubToken`;
    if (config.githubToken !== undefined && !isConfigSecret(tokenKey)) {
        throw new GitOpsConfigError(tokenKey, "is stored in plain text in the stack file", `remove it and run \`${setTokenCommand}\``);
    }
    const githubToken = config.githubToken !== undefined ? new pulumi.Config(configNamespace).requireSecret("githubToken") : undefined;
    // Evaluated once: expiry warnings are logged once, and the same states feed the model and the output.
    const statuses = breakGlassStatus(config, now, (message) => {
        void pulumi.log.warn(message);
    });
    const args = buildControlPlaneArgs({ ...config, githubToken: undefined }, githubToken ? { githubToken } : {}, now, undefined, statuses);
    return { config, args, reconcileDebt: reconcileDebt(statuses) };
}
