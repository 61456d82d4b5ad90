import { z } from "zod";
import { pinnedChart } from "../components/ArgoCd";
import { bounds, defaults } from "../components/defaults";
import { environmentClasses } from "../components/presets";
import { syncOptions } from "../components/syncPolicy";
import { stackKinds } from "./presets";

/**
 * The stack config schema: every key the program reads, in one place, each with its description
 * (the README's config table and Pulumi.yaml's key descriptions are generated from it:
 * `npm run docs:config`). Strict objects reject unknown keys, so a typo (`selfheal`) fails the
 * preview instead of being silently ignored. Closed lists and defaults come from the component
 * library (components/defaults.ts, presets.ts, syncPolicy.ts); nothing is repeated here.
 */

/** A string that must be written as a string: `1.10` unquoted in YAML is the number 1.1. */
const revision = (description: string) =>
    z
        .string({
            error: (issue) =>
                typeof issue.input === "number" ? `is the number ${issue.input}: YAML read an unquoted version as a number. Quote it, e.g. "${issue.input}"` : undefined,
        })
        .describe(description);

const environmentClass = z.enum(environmentClasses);

const syncPolicyOverrides = z
    .strictObject({
        automated: z
            .strictObject({ enabled: z.boolean(), prune: z.boolean(), selfHeal: z.boolean(), allowEmpty: z.boolean() })
            .partial()
            .optional()
            .describe("Automated sync switches to change."),
        syncOptions: z.array(z.enum(syncOptions)).optional().describe("Sync options; each replaces the preset's option with the same key."),
        retry: z
            .strictObject({
                limit: z.int().min(0).max(100),
                refresh: z.boolean(),
                backoff: z.strictObject({ duration: z.string(), factor: z.int().min(1).max(10), maxDuration: z.string() }).partial(),
            })
            .partial()
            .optional()
            .describe("Retry of failed syncs."),
    })
    .describe("Changes on top of the environment preset (components/presets.ts).");

const serviceEnvironment = z.union([
    environmentClass,
    z.strictObject({
        name: environmentClass,
        targetRevision: revision("Revision deployed in this environment.").optional(),
        namespace: z.string().optional(),
        valueFiles: z.array(z.string()).optional(),
        cluster: z.string().optional().describe("Registered cluster of this environment (a `destinations` name or in-cluster); default: the service's `cluster`."),
    }),
]);

const ignoreDifference = z.strictObject({
    group: z.string().optional(),
    kind: z.string(),
    name: z.string().optional(),
    namespace: z.string().optional(),
    jsonPointers: z.array(z.string()).optional(),
    jqPathExpressions: z.array(z.string()).optional(),
    managedFieldsManagers: z.array(z.string()).optional(),
});

export const serviceSchema = z.strictObject({
    name: z.string().describe("Service name: AppProject `<name>`, Applications `<name>-<env>`, previews `<name>-pr-<n>`."),
    team: z.string().describe("Owning team; labels every namespace."),
    repoURL: z.string().describe("Git repository of the deploy manifests (https, ssh:// or git@host:org/repo; no credentials)."),
    path: z.string().default(defaults.sourcePath).describe("Directory of the manifests inside the repository."),
    targetRevision: revision("Default revision for every environment.").default(defaults.targetRevision),
    environments: z
        .array(serviceEnvironment)
        .min(1)
        .optional()
        .describe("Environment classes (or { name, targetRevision, namespace, valueFiles }). Default: the stack's (prod: prod, staging: staging, local: both)."),
    helm: z
        .strictObject({
            valueFiles: z.array(z.string()).optional(),
            parameters: z.array(z.strictObject({ name: z.string(), value: z.string(), forceString: z.boolean().optional() })).optional(),
            releaseName: z.string().optional(),
        })
        .optional()
        .describe("Helm rendering (default when kustomize is not set)."),
    kustomize: z
        .strictObject({ images: z.array(z.string()).optional(), namePrefix: z.string().optional() })
        .optional()
        .describe("Kustomize rendering."),
    syncPolicy: syncPolicyOverrides.optional(),
    cluster: z.string().optional().describe("Registered cluster (a `destinations` name, or in-cluster) every environment deploys to; default: `defaultCluster`."),
    unsafeSyncPolicyReason: z.string().optional().describe("Required to weaken a guarded sync switch (prod: all four; staging: allowEmpty). Name the ticket."),
    sharedRepository: z.boolean().optional().describe("Set on every service that deploys from the same repoURL as another service, to say it is on purpose."),
    ignoreDifferences: z.array(ignoreDifference).optional().describe("Fields Argo CD must not treat as drift."),
    previews: z
        .strictObject({
            repo: z.string().optional().describe("GitHub repository; default: the one in repoURL."),
            owner: z.string().optional().describe("GitHub owner; default: the one in repoURL, else github.owner."),
            labels: z.array(z.string()).min(1).optional(),
            requeueAfterSeconds: z.int().optional(),
            imageTagParameter: z.string().optional(),
            maxOpen: z
                .int()
                .optional()
                .describe(
                    `Most previews of the service running at once; newer ones wait (paused, with a PreviewHeld event) until one closes. Default: ${defaults.previewMaxOpen}, at most ${bounds.maxPreviewsOpen}.`,
                ),
            ttlHours: z
                .int()
                .optional()
                .describe(
                    `Hours a preview may run while its PR stays open; then it is paused and its namespace deleted (PreviewExpired event). Default: ${defaults.previewTtlHours}.`,
                ),
        })
        .optional()
        .describe("Pull-request previews (staging and local stacks only)."),
});

const chart = z.union([z.strictObject({ version: z.string(), repo: z.string().optional() }), z.strictObject({ path: z.string() })], {
    error: () => "must be { version, repo? } (a chart repository) or { path } (a local chart), not both and nothing else",
});

export const stackConfigSchema = z.strictObject({
    environment: z
        .enum(stackKinds)
        .describe("Stack kind: prod (strict, HA, protected), staging (lenient, previews) or local (local API server, fixture chart when beside a dev checkout)."),
    layer: z
        .enum(["platform", "crds"])
        .default("platform")
        .describe(
            "What this stack installs: platform (Argo CD, services, guardrails) or crds (only the Argo CD CRDs, protected in prod; the platform stack names it in `argocd.crds.stack`).",
        ),
    kubernetes: z
        .strictObject({
            kubeconfig: z.string().optional().describe("Path or contents of a kubeconfig."),
            context: z.string().optional().describe("Context in it."),
        })
        .default({})
        .describe("Cluster to deploy to; default: the ambient kubeconfig."),
    argocd: z
        .strictObject({
            namespace: z.string().default(defaults.argoNamespace).describe("Namespace Argo CD is installed in (and its Applications live in)."),
            chart: chart
                .optional()
                .describe(`Argo CD chart; default: ${pinnedChart.name} ${pinnedChart.version} from its repository (local stack: the fixture beside a dev checkout).`),
            ha: z.boolean().optional().describe("Highly available install (redis-ha, 2× server, repo-server, ApplicationSet). Default: the stack preset (prod only)."),
            replicas: z
                .strictObject({ controller: z.int(), server: z.int(), repoServer: z.int(), applicationSet: z.int() })
                .partial()
                .optional()
                .describe("Replica counts. Default: HA 1/2/2/2, else 1."),
            settings: z
                .strictObject({
                    reconciliationTimeout: z.string(),
                    reconciliationJitter: z.string(),
                    url: z.url(),
                    statusBadge: z.boolean(),
                    resourceExclusions: z.array(z.strictObject({ apiGroups: z.array(z.string()), kinds: z.array(z.string()), clusters: z.array(z.string()).optional() })),
                })
                .partial()
                .optional()
                .describe('Typed argocd-cm. Defaults: reconciliationTimeout "180s", reconciliationJitter "60s", statusBadge false.'),
            metrics: z.strictObject({ enabled: z.boolean(), serviceMonitor: z.boolean() }).partial().optional().describe("Metrics (default on) and ServiceMonitors (default off)."),
            alerts: z
                .strictObject({
                    enabled: z.boolean(),
                    outOfSyncMinutes: z.int().min(1).max(1440),
                    degradedMinutes: z.int().min(1).max(1440),
                    ruleLabels: z.record(z.string(), z.string()),
                })
                .partial()
                .optional()
                .describe("PrometheusRule alerts; only where the Prometheus Operator CRDs exist."),
            notifications: z
                .strictObject({ recipients: z.array(z.string()) })
                .optional()
                .describe('Notification recipients, "<service>:<recipient>".'),
            dex: z.boolean().optional().describe("Run Dex (SSO). Default: false."),
            crds: z
                .union(
                    [
                        z.strictObject({ path: z.string().describe("Directory holding application-crd.yaml and the other CRDs of the installed Argo CD version.") }),
                        z.strictObject({ stack: z.string().describe("The stack of this project that installs them (`layer: crds`), e.g. prod-crds.") }),
                    ],
                    { error: () => "must be { path } (CRD files this stack installs) or { stack } (the stack that installs them), not both and nothing else" },
                )
                .optional()
                .describe(
                    "Where the Argo CD CRDs come from: { path } a directory this stack installs them from (air-gapped), { stack } another stack of this project that installs them (prod and staging: keeps 1.8 MB of CRD schemas out of every preview and checkpoint). Default: this stack installs the release manifests by URL; the local stack uses the fixture copy when present.",
                ),
        })
        .default({ namespace: defaults.argoNamespace })
        .describe("The Argo CD install."),
    github: z
        .strictObject({
            owner: z.string().optional().describe("Organisation of the preview repositories whose repoURL is not on GitHub."),
            api: z.url().optional().describe("GitHub Enterprise API URL. Default: GitHub.com."),
            webhookUrl: z.string().optional().describe("ApplicationSet webhook endpoint; with it (and a token), labels and webhooks are managed on GitHub."),
        })
        .optional()
        .describe("GitHub organisation, API and webhook of the previews."),
    githubToken: z.string().optional().describe("Secret only: `pulumi config set --secret gitops-control:githubToken <token>`."),
    services: z.array(serviceSchema).default([]).describe("The services Argo CD deploys."),
    destinations: z
        .array(
            z.strictObject({
                name: z.string().describe("Name Applications use (`cluster` of a service or environment); not in-cluster."),
                server: z.string().describe("The cluster's API server URL (https)."),
                caData: z.string().optional().describe("Base64 PEM of the API server's CA; default: the system roots."),
                namespaces: z.array(z.string()).optional().describe("Namespaces Argo CD may manage there; default: the whole cluster."),
            }),
        )
        .default([])
        .describe("Clusters registered with Argo CD (cluster Secrets). Each one's bearer token is a secret in `destinationTokens`."),
    destinationTokens: z
        .record(z.string(), z.string())
        .optional()
        .describe("Secret only, a map of destination name to bearer token: `pulumi config set --secret --path 'gitops-control:destinationTokens.<name>' <token>`."),
    defaultCluster: z
        .string()
        .optional()
        .describe("Cluster every service deploys to unless it names one (a `destinations` name or in-cluster). Default: the cluster Argo CD runs in."),
    repositoryCredentials: z
        .array(
            z.strictObject({
                name: z.string().describe("Credential name; its secret part is `repositorySecrets.<name>`."),
                url: z.string().describe("URL prefix, e.g. https://github.com/acme/ or git@github.com:acme/."),
                type: z.enum(["https", "ssh", "githubApp"]),
                username: z.string().optional().describe('HTTPS only; default: "git".'),
                githubAppId: z.int().optional(),
                githubAppInstallationId: z.int().optional(),
                githubAppEnterpriseBaseUrl: z.string().optional(),
            }),
        )
        .default([])
        .describe("Credentials for private repositories, by URL prefix. Each one's secret part (token, SSH key or GitHub App key) is in `repositorySecrets`."),
    repositorySecrets: z
        .record(z.string(), z.string())
        .optional()
        .describe("Secret only, a map of credential name to token, SSH key or App key: `pulumi config set --secret --path 'gitops-control:repositorySecrets.<name>' <value>`."),
    waitForSync: z
        .strictObject({ enabled: z.boolean(), timeoutSeconds: z.int().optional().describe("Default: 600.") })
        .default({ enabled: false })
        .describe(
            "`pulumi up` waits until every Application is Synced and Healthy, and fails with Argo CD's message after the timeout. On for deploys; off where Argo CD cannot run yet.",
        ),
    previewJanitor: z
        .strictObject({
            image: z.string().describe(`Pinned image with sh, GNU date and kubectl. Default: ${defaults.janitorImage}.`),
            schedule: z.string().describe(`Cron schedule. Default: "${defaults.janitorSchedule}".`),
            ttlHours: z.int().min(1).max(bounds.maxPreviewTtlHours).describe(`Previews older than this are deleted. Default: ${defaults.previewTtlHours}.`),
        })
        .partial()
        .default({})
        .describe(
            `Orphan-preview cleanup (a CronJob) and the preview gate that enforces each service's cap and TTL (a Deployment), on whenever a service has previews. Defaults: ${defaults.janitorImage}, "${defaults.janitorSchedule}", ${defaults.previewTtlHours} h.`,
        ),
    pruneBudget: z.int().min(0).max(1000).default(defaults.pruneBudget).describe("Most deletes + replaces a PR's preview may propose without the prune-approved label."),
    breakGlass: z
        .array(
            z.strictObject({
                services: z.array(z.string()).describe("Services whose namespaces and Applications are affected."),
                environments: z.array(environmentClass).optional().describe("Environments affected. Default: all of those services'."),
                reason: z.string().describe("What is broken and what the hotfix does (10+ characters)."),
                ticket: z.string().describe("Incident or change ticket, e.g. INC-4711."),
                requestedBy: z.string().describe("Who pulled the break-glass."),
                requestedAt: z.string().describe('When it was granted, ISO-8601 with zone ("2026-11-24T10:00:00Z").'),
                expires: z.string().describe("When it ends, at most breakGlassPolicy.maxHours after requestedAt."),
            }),
        )
        .default([])
        .describe("Active and past break-glass exceptions; see stacks/breakGlass.ts."),
    breakGlassPolicy: z
        .strictObject({
            maxHours: z.number().positive().max(bounds.maxBreakGlassHours).describe(`Longest exception. Default: ${defaults.breakGlassMaxHours}.`),
            onExpiry: z
                .enum(["fail", "revert"])
                .describe(`After expiry: fail stops every preview/up; revert drops the entry with a warning. Default: ${defaults.breakGlassOnExpiry}.`),
        })
        .partial()
        .default({})
        .describe(`Break-glass limits. Defaults: maxHours ${defaults.breakGlassMaxHours}, onExpiry "${defaults.breakGlassOnExpiry}".`),
    guardrails: z
        .strictObject({
            replicaCap: z.int().positive().max(bounds.maxReplicaCap).describe(`Most replicas a workload may ask for. Default: ${defaults.replicaCap}.`),
            failurePolicy: z.enum(["Fail", "Ignore"]).describe(`When a policy cannot be evaluated. Default: ${defaults.failurePolicy}.`),
            disabledRules: z.array(z.string()).describe("Rule names to leave out of the library (see docs/guardrails.md)."),
            requiredLabels: z.array(z.string()).min(1).describe("Labels every workload must carry."),
            allowedRevisions: z
                .array(z.string())
                .min(1)
                .describe(
                    "RE2 patterns of the targetRevision formats prod Applications may deploy (protect-sync-policy): a format check, not a review. Default: main/master/HEAD, release tags, full commit SHAs.",
                ),
            programIdentity: z
                .strictObject({
                    usernames: z.array(z.string()).describe("Exact usernames of the credentials `pulumi up` runs with."),
                    groups: z.array(z.string()).describe("Groups of those credentials."),
                })
                .partial()
                .describe(
                    "Who `pulumi up` runs as: the only writer of AppProjects, of governed Applications' operation/project/destination/source(s)/ignoreDifferences and of governed namespace deletions (besides break-glass with a ticket). Default: { groups: [\"system:masters\"] } (an admin kubeconfig). Never a group everyone is in, nor Argo CD's own accounts.",
                ),
            ignoreDifferences: z
                .array(
                    z.strictObject({
                        group: z.string().optional(),
                        kind: z.string(),
                        jsonPointers: z.array(z.string()).optional(),
                        jqPathExpressions: z.array(z.string()).optional(),
                        managedFieldsManagers: z.array(z.string()).optional(),
                    }),
                )
                .describe(
                    "The ignoreDifferences governed (prod, staging) Applications may use (protect-application-inputs); a service's must fit. Default: apps Deployment and StatefulSet /spec/replicas; no jq expressions or field managers unless listed.",
                ),
        })
        .partial()
        .default({})
        .describe(`Admission guardrails. Defaults: replicaCap ${defaults.replicaCap}, failurePolicy "${defaults.failurePolicy}".`),
});

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type ServiceConfig = z.infer<typeof serviceSchema>;

/** `services[1].repoURL` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
    return path.reduce<string>((acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), "");
}
