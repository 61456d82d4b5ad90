import * as fs from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { check, checkArgoNamespace, goDuration, goDurationSeconds, urlCredentials } from "../core/errors";
import { defaults } from "../core/defaults";
import { labels, managedByValue } from "../core/labels";
import { CrdSource, argoCdCrdFiles, argoCdVersion, crdConfigGroup, crdStackGate, validateCrdStack } from "./ArgoCdCrds";
import { renderDefaultAppProject } from "../applications/AppProject";
import { childOptions, protection } from "../core/options";
import { z } from "zod";
import { checkSettings, inputString, providerSetting } from "../core/settings";
import { defaultOwner } from "../guardrails/OwnershipFence";
import { scaleParams, scaleSettings, scaleSettingsSchema, validateScale } from "./scale";
import { argoCdPodSecurity, podSecurityLabels } from "../core/podSecurity";

/** The pinned argo-cd Helm chart. Its templates ship Argo CD v3.4.4; see {@link argoCdVersion}. */
export const pinnedChart = {
    name: "argo-cd",
    version: "10.1.1",
    appVersion: "v3.4.4",
    repo: "https://argoproj.github.io/argo-helm",
} as const;

export { argoCdCrdFiles, argoCdVersion, crdFiles, protectCrds, retainCrds } from "./ArgoCdCrds";
export type { CrdSource } from "./ArgoCdCrds";

/**
 * Where the chart comes from: the official repository at a pinned version, or a local chart
 * (directory or .tgz) for air-gapped installs and tests.
 */
export type ChartSource = { readonly kind: "repository"; readonly repo: string; readonly version: string } | { readonly kind: "local"; readonly path: string };

/** One `resource.exclusions` entry of argocd-cm: kinds Argo CD neither watches nor diffs. */
export interface ResourceExclusion {
    readonly apiGroups: readonly string[];
    readonly kinds: readonly string[];
    /** @default ["*"] */
    readonly clusters?: readonly string[];
}

/** Typed `argocd-cm` settings. */
export interface ArgoCdSettings {
    /** How often Argo CD compares Git with the cluster without a webhook, a Go duration. @default {@link defaults.reconciliationTimeout} */
    readonly reconciliationTimeout?: string;
    /** Random spread added to the reconciliation timeout. @default {@link defaults.reconciliationJitter} */
    readonly reconciliationJitter?: string;
    /** Kinds to exclude. @default the chart's list (events, endpoints, leases, …) */
    readonly resourceExclusions?: readonly ResourceExclusion[];
    /** Public URL of the Argo CD UI (used in notifications and SSO). @default none */
    readonly url?: string;
    /** Application status badges. @default false */
    readonly statusBadge?: boolean;
}

/** Replica counts; used when `ha` is on. */
export interface ArgoCdReplicas {
    /** @default 1 (the controller shards by cluster; one cluster needs one). Above 1, clusters are spread by `consistent-hashing`. */
    readonly controller?: number;
    /** @default 2 */
    readonly server?: number;
    /** @default 2 */
    readonly repoServer?: number;
    /** @default 2 */
    readonly applicationSet?: number;
}

export interface ArgoCdArgs {
    /** Namespace created for Argo CD. @default {@link defaults.argoNamespace} */
    readonly namespace?: string;
    /** @default the official repository at {@link pinnedChart} */
    readonly chart?: ChartSource;
    /**
     * The Argo CD CRDs, at {@link argoCdVersion}: installed by this component (release or local
     * files), or by another stack (`{ kind: "stack" }`, an `ArgoCdCrds` program) whose
     * `argoCdVersion` output this component checks. @default the release manifests by URL
     */
    readonly crds?: CrdSource;
    /** HA: redis-ha and several replicas of server, repo-server and ApplicationSet controller. @default false */
    readonly ha?: boolean;
    /** @default {@link ArgoCdReplicas} defaults when `ha`, 1 each otherwise */
    readonly replicas?: ArgoCdReplicas;
    /** @default {} */
    readonly settings?: ArgoCdSettings;
    /**
     * The Application count the controller is sized for (components/argocd/scale.ts: processors, refresh
     * period and jitter, repo-server timeout). Explicit `settings.reconciliationTimeout`/`Jitter` win.
     * @default Argo CD's own settings (the stack pipeline passes the stack's Application count)
     */
    readonly scale?: { readonly applications: number };
    /** Prometheus metrics endpoints, and ServiceMonitors (needs the Prometheus Operator CRDs). @default metrics on, ServiceMonitors off */
    readonly metrics?: { readonly enabled?: boolean; readonly serviceMonitor?: boolean };
    /**
     * Argo CD notifications for sync failures and degraded health, sent to these recipients
     * (`<service>:<recipient>`, e.g. "slack:platform-alerts"; the notifier service itself, with its
     * token, is configured in argocd-notifications-secret by the platform team). @default off
     */
    readonly notifications?: { readonly recipients: readonly string[] };
    /** Dex (SSO). @default false */
    readonly dex?: boolean;
    /**
     * Prod: protect the namespace and the Argo CD CRDs from deletion (`protect`, `retainOnDelete`,
     * `crds.keep`). Deleting a CRD deletes every Application with it. @default false
     */
    readonly protect?: boolean;
    /** Do not wait for workloads to become ready (local API server without nodes only). @default false */
    readonly skipAwait?: boolean;
    /** GitHub webhook secret, set as `webhook.github.secret` in argocd-secret. @default none */
    readonly githubWebhookSecret?: pulumi.Input<string>;
    /** Extra chart values, merged last. Prefer the typed fields. @default {} */
    readonly extraValues?: Readonly<Record<string, unknown>>;
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

/** Checks every argument before any resource is registered. */
export function validateArgoCdArgs(args: ArgoCdArgs, field = "args"): void {
    if (!checkSettings(argoCdArgsSchema(), args, field)) return;
    const namespace = args.namespace ?? defaults.argoNamespace;
    checkArgoNamespace(namespace, `${field}.namespace`);
    const chart = args.chart;
    if (chart?.kind === "local") {
        check(
            fs.existsSync(chart.path),
            `${field}.chart.path`,
            `is "${chart.path}", which does not exist`,
            `point it at the argo-cd chart .tgz or directory (e.g. argo-cd-${pinnedChart.version}.tgz), or use the repository source`,
        );
    } else if (chart?.kind === "repository") {
        check(/^(https|oci):\/\/\S+$/.test(chart.repo), `${field}.chart.repo`, `is "${chart.repo}"`, `use an https:// or oci:// Helm repository, e.g. ${pinnedChart.repo}`);
        const credentials = urlCredentials(chart.repo);
        check(
            credentials === undefined,
            `${field}.chart.repo`,
            credentials ?? "",
            "remove them from the URL: the chart repository URL is stored in plain text in the state and the Helm release",
        );
        check(
            /^[0-9]+\.[0-9]+\.[0-9]+$/.test(chart.version),
            `${field}.chart.version`,
            `is "${chart.version}", not an exact version: a floating chart version upgrades Argo CD behind your back`,
            `pin an exact version, e.g. "${pinnedChart.version}"`,
        );
    }
    if (args.crds?.kind === "local") {
        const dir = args.crds.dir;
        const missing = argoCdCrdFiles.filter((f) => !fs.existsSync(path.join(dir, f)));
        check(
            missing.length === 0,
            `${field}.crds.dir`,
            `is "${dir}", which lacks ${missing.join(", ")}`,
            `point it at a directory with the ${argoCdVersion} CRDs (manifests/crds of the argo-cd release), or use the release source`,
        );
    }
    if (args.crds?.kind === "stack") validateCrdStack(args.crds.stack, `${field}.crds.stack`);
    validateScale(args.scale, `${field}.scale`);
    for (const [key, value] of Object.entries(args.replicas ?? {})) {
        check(Number.isInteger(value) && value >= 1, `${field}.replicas.${key}`, `is ${value}`, "use a whole number ≥ 1");
    }
    const settings = args.settings ?? {};
    for (const key of ["reconciliationTimeout", "reconciliationJitter"] as const) {
        const value = settings[key];
        if (value !== undefined) {
            check(goDuration.test(value), `${field}.settings.${key}`, `is "${value}"`, `use a Go duration such as "${defaults.reconciliationTimeout}" or "3m"`);
        }
    }
    const timeout = settings.reconciliationTimeout === undefined ? undefined : goDurationSeconds(settings.reconciliationTimeout);
    check(
        !(args.protect && timeout === 0),
        `${field}.settings.reconciliationTimeout`,
        `is "${settings.reconciliationTimeout}" on a protected (prod) install: Argo CD stops its periodic reconciliation, so drift and missed webhooks go unnoticed`,
        `use a positive duration such as "${defaults.reconciliationTimeout}" (the default)`,
    );
    (args.notifications?.recipients ?? []).forEach((r, i) =>
        check(/^[a-z0-9-]+:\S+$/.test(r), `${field}.notifications.recipients[${i}]`, `is "${r}"`, 'use "<service>:<recipient>", e.g. "slack:platform-alerts"'),
    );
    (settings.resourceExclusions ?? []).forEach((e, i) =>
        check(
            e.kinds.length > 0 && e.apiGroups.length > 0,
            `${field}.settings.resourceExclusions[${i}]`,
            "has no kinds or apiGroups",
            'list them, e.g. { apiGroups: ["cilium.io"], kinds: ["CiliumIdentity"] }',
        ),
    );
}

/** Chart source resolved to Chart args. */
export function chartArgs(source: ChartSource | undefined): Pick<k8s.helm.v4.ChartArgs, "chart" | "version" | "repositoryOpts"> {
    const chart = source ?? { kind: "repository", repo: pinnedChart.repo, version: pinnedChart.version };
    return chart.kind === "local" ? { chart: path.resolve(chart.path) } : { chart: pinnedChart.name, version: chart.version, repositoryOpts: { repo: chart.repo } };
}

/** Renders the chart values from typed args (secrets are added by the component). Pure. */
export function renderArgoCdValues(args: ArgoCdArgs): Record<string, unknown> {
    const ha = args.ha ?? false;
    const replicas = {
        controller: args.replicas?.controller ?? 1,
        server: args.replicas?.server ?? (ha ? 2 : 1),
        repoServer: args.replicas?.repoServer ?? (ha ? 2 : 1),
        applicationSet: args.replicas?.applicationSet ?? (ha ? 2 : 1),
    };
    const metricsOn = args.metrics?.enabled ?? true;
    const metrics = { enabled: metricsOn, serviceMonitor: { enabled: metricsOn && (args.metrics?.serviceMonitor ?? false) } };
    const settings = args.settings ?? {};
    const scale = args.scale ? scaleSettings(args.scale.applications) : undefined;
    const params: Record<string, string> = {
        ...(scale ? scaleParams(scale) : {}),
        // Several controller shards split the destination clusters between them; Argo CD's default
        // (`legacy`, by cluster uid) can give one shard most clusters, `consistent-hashing` spreads them
        // evenly and moves the fewest when a cluster or a shard is added.
        ...(replicas.controller > 1 ? { "controller.sharding.algorithm": "consistent-hashing" } : {}),
    };
    const cm: Record<string, string | boolean> = {
        "timeout.reconciliation": settings.reconciliationTimeout ?? (scale ? `${scale.reconciliationSeconds}s` : defaults.reconciliationTimeout),
        "timeout.reconciliation.jitter": settings.reconciliationJitter ?? (scale ? `${scale.jitterSeconds}s` : defaults.reconciliationJitter),
        "statusbadge.enabled": settings.statusBadge ?? false,
        // Annotation tracking: resources are owned by the Application that created them, not by
        // whatever else copied the instance label.
        "application.resourceTrackingMethod": "annotation",
        // Kinds its account may not list on a cluster drop out of the cache instead of failing it: a
        // governed cluster's account reads only its service namespaces (GovernedCluster).
        "resource.respectRBAC": "normal",
    };
    if (settings.url !== undefined) cm.url = settings.url;
    if (settings.resourceExclusions !== undefined) {
        cm["resource.exclusions"] = settings.resourceExclusions
            .map((e) =>
                [
                    `- apiGroups: [${e.apiGroups.map((g) => JSON.stringify(g)).join(", ")}]`,
                    `  kinds: [${e.kinds.map((k) => JSON.stringify(k)).join(", ")}]`,
                    `  clusters: [${(e.clusters ?? ["*"]).map((c) => JSON.stringify(c)).join(", ")}]`,
                ].join("\n"),
            )
            .join("\n");
    }
    return {
        notifications: renderNotifications(args.notifications?.recipients ?? []),
        // The program installs the CRDs of argoCdVersion itself (the chart's are v3.4.4's), and keeps
        // them on uninstall in every environment: deleting them deletes every Application.
        crds: { install: false, keep: true },
        // Images of argoCdVersion (the 3.4 -> 3.6 upgrade notes need no other value change here:
        // GnuPG, mTLS and OTLP changes concern features this install leaves off).
        global: { domain: settings.url ? new URL(settings.url).host : "argocd.local", image: { tag: argoCdVersion } },
        configs: { cm, ...(Object.keys(params).length > 0 ? { params } : {}), secret: { createSecret: false } },
        dex: { enabled: args.dex ?? false },
        "redis-ha": { enabled: ha },
        controller: { replicas: replicas.controller, metrics },
        server: { replicas: replicas.server, metrics },
        repoServer: { replicas: replicas.repoServer, metrics },
        applicationSet: { replicas: replicas.applicationSet, metrics },
        ...args.extraValues,
    };
}

/**
 * Notification triggers and templates for the two failures a platform team must hear about: a
 * sync that failed and an app that turned Degraded. Without recipients no subscription is made.
 */
export function renderNotifications(recipients: readonly string[]): Record<string, unknown> {
    return {
        enabled: true,
        triggers: {
            "trigger.on-sync-failed": [
                "- description: Application syncing has failed",
                "  send: [app-sync-failed]",
                "  when: app.status.operationState != nil and app.status.operationState.phase in ['Error', 'Failed']",
            ].join("\n"),
            "trigger.on-health-degraded": ["- description: Application has degraded", "  send: [app-health-degraded]", "  when: app.status.health.status == 'Degraded'"].join("\n"),
        },
        templates: {
            "template.app-sync-failed":
                "message: |\n  Sync of {{.app.metadata.name}} failed at {{.app.status.operationState.finishedAt}}: {{.app.status.operationState.message}}\n",
            "template.app-health-degraded": "message: |\n  {{.app.metadata.name}} is Degraded (revision {{.app.status.sync.revision}}).\n",
        },
        subscriptions: recipients.length > 0 ? [{ recipients: [...recipients], triggers: ["on-sync-failed", "on-health-degraded"] }] : [],
    };
}

/**
 * Argo CD, installed from the pinned argo-helm chart into its own namespace, with an admin password
 * that is a Pulumi secret end to end (only its bcrypt hash reaches the chart).
 */
export class ArgoCd extends pulumi.ComponentResource {
    /** Namespace Argo CD runs in. */
    readonly namespaceName: pulumi.Output<string>;
    /** The admin password, as a secret. */
    readonly adminPassword: pulumi.Output<string>;
    /** Chart version installed. */
    readonly chartVersion: pulumi.Output<string>;
    readonly namespace: k8s.core.v1.Namespace;
    readonly chart: k8s.helm.v4.Chart;
    /** The Argo CD CRDs of {@link argoCdVersion}, when this component installs them. */
    readonly crds: k8s.yaml.v2.ConfigGroup | undefined;
    /** The stack that installs the CRDs, when another one does (`crds: { kind: "stack" }`). */
    readonly crdStack: pulumi.StackReference | undefined;
    /** argocd-secret: admin password hash, server key, webhook secret. */
    readonly adminSecret: k8s.core.v1.Secret;
    /** Argo CD's `default` AppProject, deny-all (renderDefaultAppProject). */
    readonly defaultProject: k8s.apiextensions.CustomResource;

    constructor(name: string, args: ArgoCdArgs, opts?: pulumi.ComponentResourceOptions) {
        validateArgoCdArgs(args);
        super("gitops-control:argocd:ArgoCd", name, {}, opts);
        const protect = args.protect ?? false;
        const namespaceName = args.namespace ?? defaults.argoNamespace;
        this.namespace = new k8s.core.v1.Namespace(
            `${name}-ns`,
            // Pod Security restricted: the namespace holds the service accounts that write prod (argoCdPodSecurity: what the chart's pods pass).
            { metadata: { name: namespaceName, labels: { [labels.managedBy]: managedByValue, "app.kubernetes.io/part-of": "argocd", ...podSecurityLabels(argoCdPodSecurity) } } },
            childOptions(this, args.provider, protection(protect)),
        );

        // Generated, never configured: the plain password exists only in state (encrypted) and in the
        // secret output. argocd-secret is managed here rather than by the chart, so the chart values
        // hold no secret (and stay known during preview) and no secret passes through Helm.
        const generated = new random.RandomPassword(`${name}-admin-password`, { length: 24, special: false }, { parent: this });
        // Argo CD writes a server signing key into argocd-secret when none exists; providing one keeps
        // that write from showing up as drift.
        const serverKey = new random.RandomPassword(`${name}-server-secretkey`, { length: 48, special: false }, { parent: this });
        this.adminSecret = new k8s.core.v1.Secret(
            `${name}-argocd-secret`,
            {
                metadata: {
                    name: "argocd-secret",
                    namespace: this.namespace.metadata.name,
                    // Argo CD only reads settings objects carrying this label.
                    labels: { "app.kubernetes.io/part-of": "argocd", "app.kubernetes.io/name": "argocd-secret", [labels.managedBy]: managedByValue },
                },
                type: "Opaque",
                stringData: {
                    "admin.password": pulumi.secret(generated.bcryptHash),
                    "server.secretkey": pulumi.secret(serverKey.result),
                    ...(args.githubWebhookSecret !== undefined ? { "webhook.github.secret": pulumi.secret(args.githubWebhookSecret) } : {}),
                },
            },
            childOptions(this, args.provider, { additionalSecretOutputs: ["data", "stringData"] }),
        );

        const crds = args.crds;
        // The chart waits for the CRDs: installed here, or checked in the stack that installs them
        // (its values wait for the check, so a wrong version stops `up` before the chart).
        const gate = crds?.kind === "stack" && !crds.checkedBy ? crdStackGate(`${name}-crd-stack`, crds.stack, "args.crds.stack", this) : undefined;
        this.crdStack = crds?.kind === "stack" ? (crds.checkedBy ?? gate?.reference) : undefined;
        this.crds = crds?.kind === "stack" ? undefined : crdConfigGroup(`${name}-crds`, crds, protect, this, args.provider);
        // Argo CD's `default` project, deny-all, before the chart: argocd-server would otherwise create
        // it open at start-up (and the govern-app-projects guardrail refuses that write).
        this.defaultProject = new k8s.apiextensions.CustomResource(
            `${name}-default-project`,
            { ...renderDefaultAppProject(namespaceName, defaultOwner()), apiVersion: "argoproj.io/v1alpha1", kind: "AppProject" },
            childOptions(this, args.provider, { dependsOn: [this.namespace, (this.crds ?? this.crdStack)!] }),
        );
        const values = renderArgoCdValues(args);
        this.chart = new k8s.helm.v4.Chart(
            `${name}-chart`,
            {
                ...chartArgs(args.chart),
                namespace: this.namespace.metadata.name,
                skipAwait: args.skipAwait ?? false,
                values: gate ? gate.ready.apply(() => values) : values,
            },
            childOptions(this, args.provider, { dependsOn: [this.adminSecret, (this.crds ?? this.crdStack)!, this.defaultProject] }),
        );
        const password = pulumi.secret(generated.result);
        this.namespaceName = this.namespace.metadata.name;
        this.adminPassword = password;
        this.chartVersion = pulumi.output(args.chart?.kind === "repository" ? args.chart.version : pinnedChart.version);
        this.registerOutputs({ namespaceName: this.namespaceName, adminPassword: this.adminPassword, chartVersion: this.chartVersion });
    }
}

const chart = z.union([z.strictObject({ version: z.string(), repo: z.string().optional() }), z.strictObject({ path: z.string() })], {
    error: () => "must be { version, repo? } (a chart repository) or { path } (a local chart), not both and nothing else",
});

/**
 * Argo CD settings a stack's `argocd` key and the ArgoCd component share, written once: the stack
 * schema and {@link argoCdArgsSchema} are composed from them.
 */
const argoCdShared = {
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
        .describe(
            `Typed argocd-cm. Defaults: reconciliationTimeout "${defaults.reconciliationTimeout}", reconciliationJitter "${defaults.reconciliationJitter}", statusBadge false.`,
        ),
    scale: scaleSettingsSchema,
    metrics: z.strictObject({ enabled: z.boolean(), serviceMonitor: z.boolean() }).partial().optional().describe("Metrics (default on) and ServiceMonitors (default off)."),
    notifications: z
        .strictObject({ recipients: z.array(z.string()) })
        .optional()
        .describe('Notification recipients, "<service>:<recipient>".'),
    dex: z.boolean().optional().describe("Run Dex (SSO). Default: false."),
};

/** The `argocd` settings of a stack: the Argo CD install (ArgoCd). Written once here; stacks/schema.ts composes it. */
export const argoCdSettingsSchema = z
    .strictObject({
        namespace: z.string().default(defaults.argoNamespace).describe("Namespace Argo CD is installed in (and its Applications live in)."),
        chart: chart
            .optional()
            .describe(`Argo CD chart; default: ${pinnedChart.name} ${pinnedChart.version} from its repository (local stack: the fixture beside a dev checkout).`),
        ha: argoCdShared.ha,
        replicas: argoCdShared.replicas,
        settings: argoCdShared.settings,
        scale: argoCdShared.scale,
        metrics: argoCdShared.metrics,
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
        notifications: argoCdShared.notifications,
        dex: argoCdShared.dex,
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
    .describe("The Argo CD install.");

/** The ArgoCd component's args: the shared settings plus what the stack pipeline resolves (chart and CRD sources) or a program passes. */
const argoCdArgsSchema = () =>
    z.strictObject({
        namespace: z.string().optional(),
        chart: z
            .union([z.strictObject({ kind: z.literal("repository"), repo: z.string(), version: z.string() }), z.strictObject({ kind: z.literal("local"), path: z.string() })])
            .optional(),
        crds: z
            .custom<CrdSource>((v) => typeof v === "object" && v !== null && "kind" in v, { error: 'must be a CRD source ({ kind: "release" | "local" | "stack", … })' })
            .optional(),
        ...argoCdShared,
        protect: z.boolean().optional(),
        skipAwait: z.boolean().optional(),
        githubWebhookSecret: inputString.optional(),
        extraValues: z.record(z.string(), z.unknown()).optional(),
        provider: providerSetting.optional(),
    });
