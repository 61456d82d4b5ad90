import { z } from "zod";

/**
 * The stack config schema: every key the program reads, in one place. Strict objects reject unknown
 * keys, so a typo (`selfheal`) fails the preview instead of being silently ignored.
 */

const syncOptions = [
    "CreateNamespace=true",
    "PruneLast=true",
    "RespectIgnoreDifferences=true",
    "ApplyOutOfSyncOnly=true",
    "ServerSideApply=true",
    "ServerSideApply=false",
    "ClientSideApplyMigration=false",
    "PrunePropagationPolicy=foreground",
    "PrunePropagationPolicy=background",
    "PrunePropagationPolicy=orphan",
    "FailOnSharedResource=true",
    "Validate=true",
    "Validate=false",
    "SkipDryRunOnMissingResource=true",
    "Prune=false",
    "Prune=confirm",
    "Delete=false",
    "Delete=confirm",
    "Replace=true",
    "Force=true",
] as const;

const environmentClass = z.enum(["prod", "staging"]);

const syncPolicyOverrides = z.strictObject({
    automated: z
        .strictObject({ enabled: z.boolean(), prune: z.boolean(), selfHeal: z.boolean(), allowEmpty: z.boolean() })
        .partial()
        .optional(),
    syncOptions: z.array(z.enum(syncOptions)).optional(),
    retry: z
        .strictObject({
            limit: z.int().min(0),
            refresh: z.boolean(),
            backoff: z.strictObject({ duration: z.string(), factor: z.int().min(1), maxDuration: z.string() }).partial(),
        })
        .partial()
        .optional(),
});

const serviceEnvironment = z.union([
    environmentClass,
    z.strictObject({
        name: environmentClass,
        targetRevision: z.string().optional(),
        namespace: z.string().optional(),
        valueFiles: z.array(z.string()).optional(),
        /** Registered cluster of this environment. @default the service's `cluster` */
        cluster: z.string().optional(),
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
    /** Service name: Applications are `<name>-<env>`, previews `<name>-pr-<n>`. */
    name: z.string(),
    team: z.string(),
    repoURL: z.string(),
    path: z.string().default("."),
    /** Default revision for every environment. */
    targetRevision: z.string().default("HEAD"),
    environments: z.array(serviceEnvironment).min(1).optional(),
    helm: z
        .strictObject({
            valueFiles: z.array(z.string()).optional(),
            parameters: z.array(z.strictObject({ name: z.string(), value: z.string(), forceString: z.boolean().optional() })).optional(),
            releaseName: z.string().optional(),
        })
        .optional(),
    kustomize: z.strictObject({ images: z.array(z.string()).optional(), namePrefix: z.string().optional() }).optional(),
    syncPolicy: syncPolicyOverrides.optional(),
    /** Registered cluster (`gitops-control:destinations[].name`) every environment deploys to. @default `defaultCluster` */
    cluster: z.string().optional(),
    /** Required to weaken a prod sync policy (no prune, no self-heal, allowEmpty). Name the ticket. */
    unsafeSyncPolicyReason: z.string().optional(),
    ignoreDifferences: z.array(ignoreDifference).optional(),
    previews: z
        .strictObject({
            /** GitHub repository of the service. @default the service name */
            repo: z.string().optional(),
            /** @default `github.owner` */
            owner: z.string().optional(),
            labels: z.array(z.string()).min(1).optional(),
            requeueAfterSeconds: z.int().optional(),
            imageTagParameter: z.string().optional(),
        })
        .optional(),
});

export const stackConfigSchema = z.strictObject({
    environment: z.enum(["prod", "staging", "local"]),
    kubernetes: z.strictObject({ kubeconfig: z.string().optional(), context: z.string().optional() }).default({}),
    argocd: z
        .strictObject({
            namespace: z.string().default("argocd"),
            chart: z
                .union([
                    z.strictObject({ version: z.string(), repo: z.string().optional() }),
                    z.strictObject({ path: z.string() }),
                ])
                .optional(),
            ha: z.boolean().optional(),
            replicas: z
                .strictObject({ controller: z.int(), server: z.int(), repoServer: z.int(), applicationSet: z.int() })
                .partial()
                .optional(),
            settings: z
                .strictObject({
                    reconciliationTimeout: z.string(),
                    reconciliationJitter: z.string(),
                    url: z.url(),
                    statusBadge: z.boolean(),
                    resourceExclusions: z.array(
                        z.strictObject({ apiGroups: z.array(z.string()), kinds: z.array(z.string()), clusters: z.array(z.string()).optional() }),
                    ),
                })
                .partial()
                .optional(),
            metrics: z.strictObject({ enabled: z.boolean(), serviceMonitor: z.boolean() }).partial().optional(),
            /** PrometheusRule alerts; only where the Prometheus Operator CRDs exist. */
            alerts: z
                .strictObject({
                    enabled: z.boolean(),
                    outOfSyncMinutes: z.int(),
                    degradedMinutes: z.int(),
                    ruleLabels: z.record(z.string(), z.string()),
                })
                .partial()
                .optional(),
            notifications: z.strictObject({ recipients: z.array(z.string()) }).optional(),
            dex: z.boolean().optional(),
            /** Directory with the Argo CD CRDs (air-gapped installs). @default the release manifests by URL */
            crds: z.strictObject({ path: z.string() }).optional(),
        })
        .default({ namespace: "argocd" }),
    github: z
        .strictObject({
            owner: z.string().optional(),
            api: z.url().optional(),
            /** ApplicationSet webhook endpoint; with it (and a token), labels and webhooks are managed on GitHub. */
            webhookUrl: z.string().optional(),
        })
        .optional(),
    /** Present only as a secret; the value itself is read with `requireSecret`, never from here. */
    githubToken: z.string().optional(),
    services: z.array(serviceSchema).default([]),
    /**
     * Clusters registered with Argo CD (cluster Secrets). Each one's bearer token is a secret:
     * `pulumi config set --secret --path 'gitops-control:destinationTokens.<name>' <token>`.
     */
    destinations: z
        .array(
            z.strictObject({
                name: z.string(),
                server: z.string(),
                /** Base64 PEM of the API server's CA. */
                caData: z.string().optional(),
                namespaces: z.array(z.string()).optional(),
            }),
        )
        .default([]),
    /** Present only as a secret (a map of destination name to bearer token); read with `requireSecretObject`. */
    destinationTokens: z.record(z.string(), z.string()).optional(),
    /** Cluster every service deploys to unless it names one. @default the cluster Argo CD runs in */
    defaultCluster: z.string().optional(),
    /**
     * Credentials for private repositories, by URL prefix. Each one's secret part (token, SSH key or
     * GitHub App key) is a secret: `pulumi config set --secret --path 'gitops-control:repositorySecrets.<name>' <value>`.
     */
    repositoryCredentials: z
        .array(
            z.strictObject({
                name: z.string(),
                /** URL prefix, e.g. https://github.com/acme/ or git@github.com:acme/ */
                url: z.string(),
                type: z.enum(["https", "ssh", "githubApp"]),
                /** HTTPS only. @default "git" */
                username: z.string().optional(),
                githubAppId: z.int().optional(),
                githubAppInstallationId: z.int().optional(),
                githubAppEnterpriseBaseUrl: z.string().optional(),
            }),
        )
        .default([]),
    /** Present only as a secret (a map of credential name to token, SSH key or App key); read with `requireSecretObject`. */
    repositorySecrets: z.record(z.string(), z.string()).optional(),
    /**
     * `pulumi up` waits until every Application is Synced and Healthy, and fails with Argo CD's
     * message after the timeout. On for deploys; off where Argo CD cannot run yet.
     */
    waitForSync: z.strictObject({ enabled: z.boolean(), timeoutSeconds: z.int().optional() }).default({ enabled: false }),
    /** Orphan-preview cleanup (a CronJob), on whenever a service has previews. */
    previewJanitor: z
        .strictObject({ image: z.string(), schedule: z.string(), ttlHours: z.int() })
        .partial()
        .default({}),
    /** Most deletes + replaces a PR's preview may propose without the prune-approved label. */
    pruneBudget: z.int().min(0).default(3),
    /** Active and past break-glass exceptions; see stacks/breakGlass.ts. */
    breakGlass: z
        .array(
            z.strictObject({
                services: z.array(z.string()),
                environments: z.array(environmentClass).optional(),
                reason: z.string(),
                ticket: z.string(),
                requestedBy: z.string(),
                requestedAt: z.string(),
                expires: z.string(),
            }),
        )
        .default([]),
    breakGlassPolicy: z
        .strictObject({ maxHours: z.number().positive().max(168), onExpiry: z.enum(["fail", "revert"]) })
        .partial()
        .default({}),
    guardrails: z
        .strictObject({
            replicaCap: z.int().positive(),
            failurePolicy: z.enum(["Fail", "Ignore"]),
            /** Rule names to leave out of the library (see docs/guardrails.md). */
            disabledRules: z.array(z.string()),
            /** Labels every workload must carry. */
            requiredLabels: z.array(z.string()).min(1),
        })
        .partial()
        .default({}),
});

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type ServiceConfig = z.infer<typeof serviceSchema>;

/** `services[1].repoURL` from a zod path. */
export function formatPath(path: readonly PropertyKey[]): string {
    return path.reduce<string>((acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), "");
}

/** One readable line per problem, each naming the field and the fix. */
export function formatIssues(error: z.ZodError, namespace: string): string {
    return error.issues
        .map((issue) => {
            const field = `${namespace}:${formatPath(issue.path)}`.replace(/:$/, "");
            switch (issue.code) {
                case "unrecognized_keys":
                    return `- \`${field}\` has unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}. Fix: remove them or correct the spelling (see the config reference in README.md).`;
                case "invalid_type":
                    return `- \`${field}\` ${issue.input === undefined ? "is missing" : `must be ${issue.expected}, not ${JSON.stringify(issue.input)}`}. Fix: set it in Pulumi.<stack>.yaml (see the config reference in README.md).`;
                case "invalid_value":
                    return `- \`${field}\` ${issue.input === undefined ? "is missing" : `is ${JSON.stringify(issue.input)}`}. Fix: use one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}.`;
                default:
                    return `- \`${field}\` ${issue.message}. Fix: correct the value in Pulumi.<stack>.yaml.`;
            }
        })
        .join("\n");
}
