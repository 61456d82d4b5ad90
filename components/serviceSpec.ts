import * as path from "node:path";
import { z } from "zod";
import { bounds, defaults } from "./core/defaults";
import { ClusterRef, inCluster, validateClusterRef } from "./applications/destinations";
import { inClusterServer } from "./core/labels";
import {
    GitOpsConfigError,
    GitOpsConfigErrors,
    Path,
    check,
    checkArgoNamespace,
    collectProblems,
    parsePath,
    requireDnsLabel,
    systemNamespace,
    urlCredentials,
} from "./core/errors";
import type { HelmOptions, IgnoreDifference, KustomizeOptions } from "./applications/GitOpsApplication";
import { helmSchema, ignoreDifferenceSchema, kustomizeSchema, validateIgnoreDifferences, validateSource, validateWaitForSync } from "./applications/GitOpsApplication";
import { defaultAllowedRevisions, expiryFormat } from "./guardrails/rules";
import { defaultTicketPattern } from "./guardrails/identity";
import { annotations } from "./core/labels";
import { checkPreviewLimits, type GitHubPullRequestSource, type SecretKeyRef } from "./previews/PreviewEnvironments";
import { EnvironmentClass, environmentClasses, environmentPresets } from "./core/presets";
import { Settings, inputString, parseSettings, providerSetting, revision } from "./core/settings";
import { SyncPolicy, mergeSyncPolicy, syncPolicyOverridesSchema, validateSyncPolicy, weakenedSwitches } from "./core/syncPolicy";

/**
 * The service concept: its settings schema (written once, with the stack entry's field names), and
 * the one resolve-and-validate path. `GitOpsService` parses its args with the component schema
 * and resolves them; the stack schema (stacks/schema.ts) is composed from the same parts, and the
 * stack pipeline runs the very same functions on the args it builds from a stack entry, before any
 * resource is registered. Results are memoised per args object, so the stack route resolves each
 * service once.
 */

export const environmentClassSchema = z.enum(environmentClasses);

/** Argo CD's name for the cluster it runs in; a valid `cluster` everywhere. */
export const inClusterName = "in-cluster";

/** A cluster by name: a registered one (`destinations`, DestinationCluster) or in-cluster. */
const clusterName = z.string();
/** What a component takes: a name (as in a stack file), or a {@link ClusterRef}. */
const clusterSetting = z.union([z.string(), z.strictObject({ name: z.string() }), z.strictObject({ server: z.string() })]);

/** One environment of a service; `cluster` is a name in a stack file, a name or ClusterRef in a component. */
const environmentEntry = <C extends z.ZodType>(cluster: C) =>
    z.strictObject({
        name: environmentClassSchema.describe("Environment class: picks the preset, labels the namespace (which selects the guardrails)."),
        targetRevision: revision("Revision deployed in this environment; default: the service's `targetRevision`.").optional(),
        namespace: z.string().optional().describe("Default: `<service>-<name>`."),
        valueFiles: z.array(z.string()).optional().describe("Helm values files of this environment, inside the repository; default: [`values-<name>.yaml`]."),
        cluster: cluster.optional().describe("Registered cluster of this environment (a `destinations` name or in-cluster); default: the service's `cluster`."),
        syncPolicy: syncPolicyOverridesSchema.optional().describe("Changes on top of the service's `syncPolicy` for this environment."),
        unsafeSyncPolicyReason: z.string().optional().describe("Required to weaken a switch this class guards; default: the service's."),
        revisionHistoryLimit: z.int().optional().describe(`Sync history kept; default: the class preset's (at most ${bounds.maxRevisionHistoryLimit}).`),
    });

/** Preview settings a stack entry and a component share. */
const previewSettings = z.strictObject({
    repo: z.string().optional().describe("GitHub repository; default: the one in repoURL."),
    owner: z.string().optional().describe("GitHub owner; default: the one in repoURL, else github.owner."),
    labels: z
        .array(z.string())
        .min(1)
        .optional()
        .describe(`Labels a PR needs to get a preview. Default: ${JSON.stringify(defaults.previewLabels)}.`),
    requeueAfterSeconds: z
        .int()
        .optional()
        .describe(`Seconds between two polls of GitHub. Default: ${defaults.requeueAfterSeconds}, from ${bounds.minRequeueAfterSeconds} to ${bounds.maxRequeueAfterSeconds}.`),
    imageTagParameter: z.string().optional().describe(`Helm parameter that receives the preview's image tag. Default: "${defaults.imageTagParameter}".`),
    maxOpen: z
        .int()
        .optional()
        .describe(
            `Most previews of the service running at once; newer ones wait (paused, with a PreviewHeld event) until one closes. Default: ${defaults.previewMaxOpen}, at most ${bounds.maxPreviewsOpen}.`,
        ),
    ttlHours: z
        .int()
        .optional()
        .describe(`Hours a preview may run while its PR stays open; then it is paused and its namespace deleted (PreviewExpired event). Default: ${defaults.previewTtlHours}.`),
    syncPolicy: syncPolicyOverridesSchema.optional().describe("Changes on top of the preview preset (it may not weaken it)."),
});

/** The settings of a service both routes share, with the stack entry's names. */
const serviceSettings = <C extends z.ZodType>(cluster: C) =>
    z.strictObject({
        team: z.string().describe("Owning team; labels every namespace."),
        repoURL: z.string().describe("Git repository of the deploy manifests (https, ssh:// or git@host:org/repo; no credentials)."),
        path: z.string().default(defaults.sourcePath).describe("Directory of the manifests inside the repository."),
        targetRevision: revision("Default revision for every environment.").default(defaults.targetRevision),
        environments: z
            .array(z.union([environmentClassSchema, environmentEntry(cluster)]))
            .min(1)
            .describe("Environment classes (or { name, targetRevision, namespace, valueFiles, … })."),
        helm: helmSchema.optional(),
        kustomize: kustomizeSchema.optional(),
        syncPolicy: syncPolicyOverridesSchema.optional(),
        cluster: cluster.optional().describe("Registered cluster (a `destinations` name, or in-cluster) every environment deploys to; default: `defaultCluster`."),
        unsafeSyncPolicyReason: z.string().optional().describe("Required to weaken a guarded sync switch (prod: all four; staging: allowEmpty). Name the ticket."),
        ignoreDifferences: z.array(ignoreDifferenceSchema).optional().describe("Fields Argo CD must not treat as drift."),
        manifestPaths: z
            .array(z.string())
            .min(1)
            .optional()
            .describe(
                "Directories (relative to `path`, or absolute from the repository root with a leading /) whose changes this service's render reads: a commit touching none of them neither refreshes nor re-renders its Applications (Argo CD's manifest-generate-paths). Default: `path` and the directories of value files outside it; list kustomize bases or Helm `file://` dependencies outside `path` here.",
            ),
        previews: previewSettings.optional().describe("Pull-request previews (staging and local stacks only)."),
    });

/** A service entry of a stack file (stacks/schema.ts adds `name` and `sharedRepository`; `environments` defaults to the stack's). */
export const serviceEntrySettings = serviceSettings(clusterName).extend({
    environments: serviceSettings(clusterName)
        .shape.environments.optional()
        .describe("Environment classes (or { name, targetRevision, namespace, valueFiles, … }). Default: the stack's (prod: prod, staging: staging, local: both)."),
});

/** What `GitOpsService` takes: the shared settings plus what only a program passes. */
export const serviceArgsSchema = serviceSettings(clusterSetting).extend({
    environments: z
        .array(
            z.union([
                environmentClassSchema,
                environmentEntry(clusterSetting).extend({
                    pauseAutomatedSync: z
                        .boolean()
                        .optional()
                        .describe("Pause automated sync (break-glass), keeping every other switch; needs `unsafeSyncPolicyReason` where the class guards automated.enabled."),
                    annotations: z.record(z.string(), z.string()).optional().describe("Annotations on the Application (break-glass audit)."),
                }),
            ]),
        )
        .min(1),
    previews: previewSettings
        .extend({
            token: inputString.optional().describe("The GitHub token, as a Pulumi secret (a scm-creds Secret is created). Excludes `tokenRef`."),
            tokenRef: z.strictObject({ secretName: z.string(), key: z.string() }).optional().describe("An existing Secret to read the token from. Excludes `token`."),
            api: z.string().optional().describe("GitHub Enterprise API URL. Default: GitHub.com."),
            appSecretName: z.string().optional().describe("Secret with GitHub App credentials, instead of a token."),
        })
        .optional(),
    argoNamespace: z.string().optional().describe(`Namespace Argo CD runs in. Default: "${defaults.argoNamespace}".`),
    waitForSync: z.strictObject({ timeoutSeconds: z.int() }).optional().describe("`pulumi up` waits for each Application to be Synced and Healthy."),
    breakGlassMaxHours: z
        .number()
        .positive()
        .max(bounds.maxBreakGlassHours)
        .optional()
        .describe(`Longest pause (\`pauseAutomatedSync\`) from now, in hours. Default: ${defaults.breakGlassMaxHours} (the stack's breakGlassPolicy.maxHours).`),
    allowedRevisions: z
        .union([z.array(z.string()).min(1), z.literal(false)])
        .optional()
        .describe("RE2 patterns of the revisions prod may deploy (the protect-sync-policy guardrail's); false when that guardrail is off. Default: the guardrail's."),
    cascadeDelete: z.boolean().optional().describe("Applications carry Argo CD's cascade-delete finalizer. Default: true."),
    confirmPrunes: z
        .boolean()
        .optional()
        .describe(
            "Prod Applications add the sync option Prune=confirm: a sync's prunes wait for approval (the prune gate's within the budget, the approver group's beyond it). Set by the control plane where its prune gate runs; without a gate nothing approves. Default: false.",
        ),
    governedClusters: z
        .array(z.string())
        .optional()
        .describe(
            "Registered clusters whose guardrails, Pod Security labels and namespace protections a program installs (the platform stack, from the cluster's kubeconfig, or the cluster's own stack): the only named clusters prod may deploy to. Default: none (prod on in-cluster only).",
        ),
    project: z
        .strictObject({
            syncWindows: z.array(z.custom<import("./applications/AppProject").SyncWindow>((v) => typeof v === "object" && v !== null)).optional(),
            annotations: z.record(z.string(), z.string()).optional(),
        })
        .optional(),
    owner: z.string().optional().describe("The owning program, `<project>/<stack>`. Default: the running program's."),
    provider: providerSetting.optional(),
});

/** GitOpsService args as a caller writes them (defaults optional). */
export type ServiceArgs = Settings<z.input<typeof serviceArgsSchema>>;
/** GitOpsService args after parsing: defaults filled in. */
export type ServiceSettings = z.output<typeof serviceArgsSchema>;
/** One environment entry as a caller writes it: a class name or `{ name, … }`. */
export type ServiceEnvironment = ServiceArgs["environments"][number];
/** Pull-request previews as a caller writes them. */
export type ServicePreviews = NonNullable<ServiceArgs["previews"]>;

/**
 * The names the component took before the routes were unified, still accepted: `source: { repoURL,
 * path, helm, kustomize }` and `previews.github: { owner, repo, labels, api, token, tokenRef }`.
 * @deprecated write `repoURL`, `path`, `helm`, `kustomize` and `previews.{owner, repo, labels, token, …}` instead
 */
export interface LegacyServiceFields {
    /** @deprecated use `repoURL`, `path`, `helm`, `kustomize` */
    readonly source?: { readonly repoURL: string; readonly path: string; readonly helm?: HelmOptions; readonly kustomize?: KustomizeOptions };
}

const sourceKeys = ["repoURL", "path", "helm", "kustomize"] as const;
const githubKeys = ["owner", "repo", "labels", "api", "token", "tokenRef", "appSecretName"] as const;

/** Legacy names lifted to the unified ones; `moved` says which, so problems name what the caller wrote. */
function liftLegacy(args: unknown): { input: unknown; moved: { source: boolean; github: boolean } } {
    const moved = { source: false, github: false };
    if (typeof args !== "object" || args === null) return { input: args, moved };
    let input = args as Record<string, unknown>;
    const source = input.source;
    if (typeof source === "object" && source !== null && sourceKeys.every((k) => input[k] === undefined)) {
        const { source: _, ...rest } = input;
        input = { ...rest, ...(source as Record<string, unknown>) };
        moved.source = true;
    }
    const previews = input.previews as Record<string, unknown> | undefined;
    const github = previews?.github;
    if (typeof github === "object" && github !== null && githubKeys.every((k) => previews?.[k] === undefined)) {
        const { github: _, ...rest } = previews!;
        input = { ...input, previews: { ...rest, ...(github as Record<string, unknown>) } };
        moved.github = true;
    }
    return { input, moved };
}

/** A problem's path as the caller wrote it (legacy names put back). */
function legacyPath(path: Path, moved: { source: boolean; github: boolean }): Path {
    const [head, key, ...rest] = path;
    if (moved.source && (sourceKeys as readonly unknown[]).includes(head)) return ["source", ...path];
    if (moved.github && head === "previews" && (githubKeys as readonly unknown[]).includes(key)) return ["previews", "github", key, ...rest];
    return path;
}

/** Cluster setting → ClusterRef: "in-cluster" is Argo CD's own cluster, rendered by server. */
export function clusterRefOf(cluster: string | ClusterRef | undefined): ClusterRef | undefined {
    if (cluster === undefined) return undefined;
    if (typeof cluster !== "string") return cluster;
    return cluster === inClusterName ? inCluster : { name: cluster };
}

export interface ResolvedEnvironment {
    readonly name: EnvironmentClass;
    readonly targetRevision: string;
    readonly syncPolicy: SyncPolicy;
    readonly namespace: string;
    readonly valueFiles?: readonly string[];
    readonly revisionHistoryLimit: number;
    readonly annotations: Readonly<Record<string, string>>;
    /** The environment's cluster, else the service's. @default the cluster Argo CD runs in */
    readonly cluster?: ClusterRef;
}

export interface ResolvedPreviews {
    readonly github: GitHubPullRequestSource & { readonly labels: readonly string[] };
    readonly syncPolicy: SyncPolicy;
    readonly requeueAfterSeconds: number;
    readonly imageTagParameter: string;
    readonly maxOpen: number;
    readonly ttlHours: number;
    /** Namespaces previews deploy to. */
    readonly namespaceGlob: string;
    /** The service's cluster. @default the cluster Argo CD runs in */
    readonly cluster?: ClusterRef;
}

export interface ResolvedService {
    readonly name: string;
    readonly team: string;
    readonly argoNamespace: string;
    /** The parsed settings (defaults filled in). */
    readonly settings: ServiceSettings;
    readonly source: { readonly repoURL: string; readonly path: string; readonly helm?: HelmOptions; readonly kustomize?: KustomizeOptions };
    readonly environments: readonly ResolvedEnvironment[];
    readonly previews?: ResolvedPreviews;
    readonly ignoreDifferences: readonly IgnoreDifference[];
    readonly cluster?: ClusterRef;
}

/**
 * Service names taken by Argo CD or Kubernetes: `default` is Argo CD's own AppProject (every
 * Argo CD has it; the OwnershipFence refuses taking it over, after everything else registered), and
 * `kube-…` names make `kube-…` namespaces, which Kubernetes reserves for itself.
 */
export function reservedServiceName(name: string): string | undefined {
    if (name === "default") return "is Argo CD's built-in AppProject `default`";
    if (name.startsWith("kube-")) return "starts with kube-, which Kubernetes reserves for its own namespaces";
    return undefined;
}

/** `owner/repo` of a GitHub repository URL (https, ssh:// or git@github.com:), else undefined. */
export function gitHubRepoOf(repoURL: string): { owner: string; repo: string } | undefined {
    const m = /^(?:https:\/\/github\.com\/|ssh:\/\/git@github\.com\/|git@github\.com:)([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(repoURL);
    return m ? { owner: m[1], repo: m[2] } : undefined;
}

/** Kustomize image overrides: `name[=newName][:tag|@sha256:digest]`. */
const kustomizeImage = /^[a-z0-9][a-z0-9._/-]*(:[0-9]+\/[a-z0-9._/-]+)?(=[a-z0-9][a-z0-9._/:-]*[a-z0-9])?(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})?$/;

/** A repository-relative path that stays inside the repository. */
function insideRepository(p: string): boolean {
    const normal = path.posix.normalize(p);
    return !p.startsWith("/") && normal !== ".." && !normal.startsWith("../");
}

/** A values file Argo CD would fetch from elsewhere: a URL (`https://…`) instead of a file of the repository. */
const remoteFile = /^[a-z][a-z0-9+.-]*:/i;

function checkValueFile(file: string, sourcePath: string, field: string, example: string): void {
    check(
        !remoteFile.test(file),
        field,
        `is "${file}", a URL: Argo CD would render the service with values from outside its reviewed repository`,
        `use a file inside the repository, relative to the source path, e.g. "${example}"`,
    );
    check(
        remoteFile.test(file) || (file.trim() !== "" && insideRepository(path.posix.join(sourcePath || ".", file))),
        field,
        `is "${file}", which leaves the repository`,
        `use a file inside the repository, relative to the source path, e.g. "${example}"`,
    );
}

type EnvironmentSetting = Exclude<ServiceSettings["environments"][number], string>;

/**
 * A pause carries its break-glass ticket and an expiry no later than `maxHours` from now (5 minutes
 * of clock skew, as the stack allows for requestedAt): the expiry job ends it there, and
 * protect-sync-policy refuses a pause without them.
 */
function checkPause(notes: Readonly<Record<string, string>>, maxHours: number, f: string): void {
    const ticket = notes[annotations.breakGlassTicket] ?? "";
    const expires = notes[annotations.breakGlassExpires] ?? "";
    const annotationsField = `${f}.annotations`;
    check(
        new RegExp(defaultTicketPattern).test(ticket),
        annotationsField,
        `pauses automated sync with ${ticket === "" ? "no ticket" : `ticket "${ticket}", which is not a ticket`} in ${annotations.breakGlassTicket}`,
        "reference the incident or change ticket, e.g. INC-4711 (the stack's breakGlass entries set it)",
    );
    const at = new RegExp(expiryFormat).test(expires) ? Date.parse(expires) : NaN;
    check(
        !Number.isNaN(at),
        annotationsField,
        `pauses automated sync with ${expires === "" ? "no expiry" : `expiry "${expires}", not an ISO-8601 time with zone,`} in ${annotations.breakGlassExpires}: nothing would end the pause`,
        'set when the pause ends, e.g. "2026-11-24T16:00:00Z" (the stack\'s breakGlass entries set it)',
    );
    check(
        Number.isNaN(at) || at <= Date.now() + maxHours * 3_600_000 + 5 * 60_000,
        annotationsField,
        `pauses automated sync until ${expires}, more than ${maxHours} h from now`,
        `end the pause within ${maxHours} h (breakGlassPolicy.maxHours; GitOpsService arg \`breakGlassMaxHours\`); renew with a new entry if the incident is still open`,
    );
}

function resolveEnvironment(service: string, spec: ServiceSettings, env: EnvironmentSetting, i: number, field: string): ResolvedEnvironment {
    const f = `${field}.environments[${i}]`;
    const preset = environmentPresets[env.name];
    // Where a prune gate runs, prod prunes wait for its approval (or the approver group's): the
    // preset's own option, which a service's or environment's Prune option still replaces.
    const base = spec.confirmPrunes && env.name === "prod" ? mergeSyncPolicy(preset.syncPolicy, { syncOptions: ["Prune=confirm"] }) : preset.syncPolicy;
    const merged = mergeSyncPolicy(mergeSyncPolicy(base, spec.syncPolicy), env.syncPolicy);
    // Where the sync policy came from: the environment's own overrides, else the service's.
    const policyField = env.syncPolicy === undefined && spec.syncPolicy !== undefined ? `${field}.syncPolicy` : `${f}.syncPolicy`;
    validateSyncPolicy(merged, policyField);
    // Break-glass pauses automated sync (keeping every other switch) so a live hotfix is not
    // reverted mid-incident: a weakening like any other, with its reason.
    const effective = env.pauseAutomatedSync ? mergeSyncPolicy(merged, { automated: { enabled: false } }) : merged;
    const reason = env.unsafeSyncPolicyReason ?? spec.unsafeSyncPolicyReason ?? "";
    const weakened = weakenedSwitches(effective, preset.requireReasonFor);
    const pausedOnly = weakenedSwitches(merged, preset.requireReasonFor).length === 0;
    check(
        weakened.length === 0 || reason.trim().length >= 10,
        env.pauseAutomatedSync && pausedOnly ? `${f}.pauseAutomatedSync` : policyField,
        `weakens the ${env.name} sync policy: ${weakened.join("; ")}`,
        "restore the preset, or document the exception in `unsafeSyncPolicyReason` (reason and ticket, at least 10 characters)",
    );
    // A pause is a break-glass exception: a ticket and an expiry, which the expiry job ends in the cluster.
    const guardsPause = preset.requireReasonFor.includes("automated.enabled");
    check(
        !guardsPause || merged.automated.enabled || reason.trim().length < 10,
        policyField,
        `turns automated sync of ${env.name} off with no ticket and no expiry: nothing would ever end the pause (protect-sync-policy refuses it in the cluster)`,
        "keep `automated.enabled` true and pause through a break-glass entry (`gitops-control:breakGlass`: ticket and expiry within breakGlassPolicy.maxHours; GitOpsService: `pauseAutomatedSync` with its annotations)",
    );
    if (env.pauseAutomatedSync) checkPause(env.annotations ?? {}, spec.breakGlassMaxHours ?? defaults.breakGlassMaxHours, f);
    const namespace = env.namespace ?? `${service}-${env.name}`;
    const namespaceField = env.namespace !== undefined ? `${f}.namespace` : `${field}.name`;
    requireDnsLabel(namespace, namespaceField);
    const argoNamespace = spec.argoNamespace ?? defaults.argoNamespace;
    check(
        // A derived namespace of a reserved name is that name's problem, reported once.
        !systemNamespace(namespace, argoNamespace) || (env.namespace === undefined && reservedServiceName(service) !== undefined),
        namespaceField,
        `is "${namespace}", a system namespace (the AppProject would allow deploying there)`,
        `use the service's own namespace, e.g. "${service}-${env.name}"`,
    );
    const targetRevision = env.targetRevision ?? spec.targetRevision;
    const revisionField = env.targetRevision !== undefined ? `${f}.targetRevision` : `${field}.targetRevision`;
    check(targetRevision.trim() !== "", revisionField, "is empty", 'name a tag, branch or commit, e.g. "v1.4.2"');
    // What protect-sync-policy would refuse in the cluster is refused here first.
    const allowed = spec.allowedRevisions === false ? undefined : (spec.allowedRevisions ?? defaultAllowedRevisions);
    if (env.name === "prod" && allowed && targetRevision.trim() !== "") {
        check(
            allowed.some((p) => safeRegExp(p)?.test(targetRevision) ?? false),
            revisionField,
            `deploys "${targetRevision}" to prod, which is not an allowed revision format (guardrails.allowedRevisions; protect-sync-policy would refuse the Application)`,
            "deploy a release tag, the default branch or a commit SHA, or add a pattern to the allowed revisions (`gitops-control:guardrails.allowedRevisions`; GitOpsService arg `allowedRevisions`)",
        );
    }
    (env.valueFiles ?? []).forEach((file, j) => checkValueFile(file, spec.path, `${f}.valueFiles[${j}]`, `values-${env.name}.yaml`));
    const limit = env.revisionHistoryLimit ?? preset.revisionHistoryLimit;
    check(
        Number.isInteger(limit) && limit >= 1 && limit <= bounds.maxRevisionHistoryLimit,
        `${f}.revisionHistoryLimit`,
        `is ${limit}`,
        `use a whole number from 1 to ${bounds.maxRevisionHistoryLimit} (the ${env.name} preset uses ${preset.revisionHistoryLimit})`,
    );
    const own = clusterRefOf(env.cluster);
    if (own) validateClusterRef(own, `${f}.cluster`);
    const cluster = own ?? serviceCluster(spec);
    if (env.name === "prod" && cluster) checkGovernedCluster(cluster, spec.governedClusters ?? [], own ? `${f}.cluster` : `${field}.cluster`);
    return {
        name: env.name,
        targetRevision,
        syncPolicy: effective,
        namespace,
        ...(env.valueFiles ? { valueFiles: env.valueFiles } : {}),
        revisionHistoryLimit: limit,
        annotations: env.annotations ?? {},
        ...(cluster ? { cluster } : {}),
    };
}

/**
 * Prod runs only where the guardrails run: in the cluster Argo CD runs in, or on a registered
 * cluster a program governs (`governedClusters`). A registered cluster is only a URL and a token to
 * Argo CD; without its own guardrails, Pod Security labels and namespace protections, "only Argo CD
 * writes to prod" would not hold there.
 */
function checkGovernedCluster(cluster: ClusterRef, governed: readonly string[], field: string): void {
    if ("server" in cluster) {
        check(
            cluster.server === inClusterServer,
            field,
            `is the server "${cluster.server}": prod may deploy only to the cluster Argo CD runs in or to a governed cluster, addressed by name`,
            "register the cluster (`gitops-control:destinations`, with its kubeconfig in `gitops-control:destinationKubeconfigs`) and name it",
        );
        return;
    }
    check(
        governed.includes(cluster.name),
        field,
        `is "${cluster.name}", a cluster no program governs (no kubeconfig in \`gitops-control:destinationKubeconfigs\`, no \`governedBy\`; GitOpsService arg \`governedClusters\` does not list it): prod there would run without guardrails, Pod Security labels and namespace protections`,
        `supply its kubeconfig as a stack secret (\`${governedClusterCommand(cluster.name)}\`) so the platform installs them there, or set \`governedBy\` on its \`gitops-control:destinations\` entry when that cluster's own stack does (a team program: list it in \`governedClusters\`)`,
    );
}

/** The command that hands the platform stack a cluster's kubeconfig (quoted in errors). */
export const governedClusterCommand = (name: string): string => `pulumi config set --secret --path 'gitops-control:destinationKubeconfigs.${name}' "$(cat kubeconfig)"`;

/** The service's cluster: none for in-cluster (rendered by server); an environment's explicit in-cluster overrides it. */
const serviceCluster = (spec: ServiceSettings): ClusterRef | undefined => (spec.cluster === inClusterName ? undefined : clusterRefOf(spec.cluster));

/** A pattern as a JavaScript RegExp, or undefined when it is not one (the stack reports RE2 problems itself). */
function safeRegExp(pattern: string): RegExp | undefined {
    try {
        return new RegExp(pattern);
    } catch {
        return undefined;
    }
}

function resolvePreviews(service: string, spec: ServiceSettings, previews: NonNullable<ServiceSettings["previews"]>, field: string): ResolvedPreviews {
    const f = `${field}.previews`;
    const derived = gitHubRepoOf(spec.repoURL);
    const owner = previews.owner ?? derived?.owner;
    const repo = previews.repo ?? derived?.repo;
    check(
        owner !== undefined && repo !== undefined,
        `${f}.repo`,
        `cannot be derived: "${spec.repoURL}" is not a GitHub repository URL`,
        "set `previews.owner` and `previews.repo` to the repository pull requests are opened on",
    );
    check(owner === undefined || /^[A-Za-z0-9_.-]+$/.test(owner), `${f}.owner`, `is "${owner}"`, "use the GitHub organisation or user name");
    check(repo === undefined || /^[A-Za-z0-9_.-]+$/.test(repo), `${f}.repo`, `is "${repo}"`, "use the repository name without owner or URL");
    check(
        (previews.token === undefined) !== (previews.tokenRef === undefined),
        `${f}.token`,
        previews.token === undefined ? "is not set (nor `tokenRef`)" : "is set together with `tokenRef`",
        "pass the GitHub token as `previews.token` (a Secret is created) or point `previews.tokenRef` at an existing Secret",
    );
    const requeue = previews.requeueAfterSeconds ?? defaults.requeueAfterSeconds;
    check(
        Number.isInteger(requeue) && requeue >= bounds.minRequeueAfterSeconds && requeue <= bounds.maxRequeueAfterSeconds,
        `${f}.requeueAfterSeconds`,
        `is ${requeue}; ${requeue < bounds.minRequeueAfterSeconds ? "polling GitHub that often exhausts its API rate limit" : "a missed webhook would leave PRs without preview that long"}`,
        `use a whole number from ${bounds.minRequeueAfterSeconds} to ${bounds.maxRequeueAfterSeconds} (${defaults.requeueAfterSeconds} is usual; the webhook makes previews instant)`,
    );
    const imageTagParameter = previews.imageTagParameter ?? defaults.imageTagParameter;
    check(
        /^[A-Za-z0-9_][A-Za-z0-9_.\-[\]]*$/.test(imageTagParameter),
        `${f}.imageTagParameter`,
        `is "${imageTagParameter}"`,
        `name the Helm parameter of the image tag, e.g. "${defaults.imageTagParameter}"`,
    );
    checkPreviewLimits(previews, f);
    const labels = previews.labels ?? defaults.previewLabels;
    check(labels.length > 0 && labels.every((l) => l.trim() !== ""), `${f}.labels`, "is empty or has an empty label", `list the labels a PR needs, e.g. ["preview"]`);
    const preset = environmentPresets.preview;
    const syncPolicy = mergeSyncPolicy(preset.syncPolicy, previews.syncPolicy);
    validateSyncPolicy(syncPolicy, `${f}.syncPolicy`);
    const weakened = weakenedSwitches(syncPolicy, preset.requireReasonFor);
    check(weakened.length === 0, `${f}.syncPolicy`, `weakens the preview sync policy: ${weakened.join("; ")}`, "restore the preset: a preview with a wrong path would be emptied");
    check(syncPolicy.syncOptions.includes("CreateNamespace=true"), `${f}.syncPolicy.syncOptions`, "drops CreateNamespace=true", "keep it: every preview gets a fresh namespace");
    const cluster = serviceCluster(spec);
    const github: GitHubPullRequestSource = {
        owner: owner ?? "",
        repo: repo ?? "",
        ...(previews.api !== undefined ? { api: previews.api } : {}),
        ...(previews.appSecretName !== undefined ? { appSecretName: previews.appSecretName } : {}),
        ...(previews.token !== undefined ? { token: previews.token } : {}),
        ...(previews.tokenRef !== undefined ? { tokenRef: previews.tokenRef satisfies SecretKeyRef } : {}),
    };
    return {
        github: { ...github, labels },
        syncPolicy,
        requeueAfterSeconds: requeue,
        imageTagParameter,
        maxOpen: previews.maxOpen ?? defaults.previewMaxOpen,
        ttlHours: previews.ttlHours ?? defaults.previewTtlHours,
        namespaceGlob: previewGlob(service),
        ...(cluster ? { cluster } : {}),
    };
}

/** Namespaces (and Application names) of a service's previews, as the AppProject allows them. */
export const previewGlob = (service: string): string => `${service}-pr-*`;

/** Checks the source beyond what `validateSource` (shared with Applications) checks. */
function checkSource(spec: ServiceSettings, field: string): void {
    validateSource({ repoURL: spec.repoURL, path: spec.path, helm: spec.helm, kustomize: spec.kustomize, targetRevision: "HEAD" }, field);
    const credentials = urlCredentials(spec.repoURL);
    check(
        credentials === undefined,
        `${field}.repoURL`,
        credentials ?? "",
        "remove them from the URL and register the repository's credentials with Argo CD (`gitops-control:repositoryCredentials`, or a repository Secret)",
    );
    const https = /^https:\/\/[^/]+\/(.*)$/.exec(spec.repoURL);
    check(
        !https ||
            https[1]
                .replace(/\.git$|\/$/g, "")
                .split("/")
                .filter(Boolean).length >= 2,
        `${field}.repoURL`,
        `is "${spec.repoURL}", an organisation, not a repository`,
        'name the repository, e.g. "https://github.com/<org>/<repo>.git"',
    );
    check(spec.path.trim() !== "", `${field}.path`, "is empty", 'use "." for the repository root, or the directory of the manifests, e.g. "deploy/chart"');
    (spec.helm?.valueFiles ?? []).forEach((file, j) => checkValueFile(file, spec.path, `${field}.helm.valueFiles[${j}]`, "values.yaml"));
    (spec.kustomize?.images ?? []).forEach((image, j) =>
        check(
            kustomizeImage.test(image),
            `${field}.kustomize.images[${j}]`,
            `is "${image}", not a Kustomize image override`,
            'write "name:tag", "name@sha256:<digest>" or "name=new-name:tag"',
        ),
    );
    validateIgnoreDifferences(spec.ignoreDifferences ?? [], `${field}.ignoreDifferences`);
    (spec.manifestPaths ?? []).forEach((p, j) =>
        check(
            p.trim() !== "" && !p.includes(";"),
            `${field}.manifestPaths[${j}]`,
            `is "${p}"`,
            'give one directory per entry, relative to `path` (e.g. "../base") or from the repository root ("/shared/values"), without ";"',
        ),
    );
}

interface Memo {
    readonly name: string;
    readonly field: string;
    readonly args: Readonly<Record<string, unknown>>;
    readonly result: { resolved?: ResolvedService; problems: readonly GitOpsConfigError[] };
}

const memo = new WeakMap<object, Memo[]>();

/** Same service args: the same (===) values under every key but the provider, as `{ ...args, provider }` keeps them. */
function sameArgs(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    keys.delete("provider");
    if ((a.argoNamespace ?? defaults.argoNamespace) !== (b.argoNamespace ?? defaults.argoNamespace)) return false;
    keys.delete("argoNamespace");
    return [...keys].every((k) => a[k] === b[k]);
}

/**
 * Parses the args with the service schema, applies the presets and checks everything about one
 * service. Returns the resolved service and every problem found (paths under `field`); memoised,
 * so the stack route (which resolves before building) and the component constructor share one run.
 * A hit needs the very same nested objects (a spread such as `{ ...args, provider }` keeps them),
 * so changed args always resolve anew.
 */
export function resolveService(
    name: string,
    args: ServiceArgs | (Omit<ServiceArgs, "repoURL"> & LegacyServiceFields),
    field = "args",
): { resolved?: ResolvedService; problems: readonly GitOpsConfigError[] } {
    const raw = (typeof args === "object" && args !== null ? args : {}) as Readonly<Record<string, unknown>>;
    const key = (typeof raw.environments === "object" && raw.environments !== null ? raw.environments : raw) as object;
    const entries = memo.get(key) ?? [];
    const cached = entries.find((m) => m.name === name && m.field === field && sameArgs(m.args, raw));
    if (cached) return cached.result;
    const result = resolveUncached(name, args, field);
    memo.set(key, [...entries, { name, field, args: raw, result }]);
    return result;
}

function resolveUncached(name: string, args: unknown, field: string): { resolved?: ResolvedService; problems: readonly GitOpsConfigError[] } {
    const prefix: Path = field === "" ? [] : parsePath(field);
    const nameProblems = collectProblems(() => {
        check(typeof name === "string", `${field}.name`, `must be string, not ${JSON.stringify(name)}`, "name the service");
        requireDnsLabel(name, `${field}.name`, 48);
        const reserved = reservedServiceName(name);
        check(reserved === undefined, `${field}.name`, `is "${name}", which ${reserved}`, `choose another name, e.g. "${name}-app"`);
    });
    const { input, moved } = liftLegacy(args);
    const parsed = parseSettings(serviceArgsSchema, input);
    if (!parsed.data) {
        const problems = parsed.problems.map((p) => new GitOpsConfigError([...prefix, ...legacyPath(p.path, moved)], p.problem, p.fix));
        return { problems: [...nameProblems, ...problems] };
    }
    const spec = parsed.data;
    let resolved: ResolvedService | undefined;
    const problems = collectProblems(() => {
        requireDnsLabel(spec.team, `${field}.team`);
        const argoNamespace = spec.argoNamespace ?? defaults.argoNamespace;
        checkArgoNamespace(argoNamespace, `${field}.argoNamespace`);
        checkSource(spec, field);
        const cluster = serviceCluster(spec);
        if (cluster) validateClusterRef(cluster, `${field}.cluster`);
        if (spec.waitForSync) validateWaitForSync(spec.waitForSync, `${field}.waitForSync`);
        const environments: ResolvedEnvironment[] = [];
        spec.environments.forEach((entry, i) => {
            const env = typeof entry === "string" ? { name: entry } : entry;
            const problem = collectProblems(() => environments.push(resolveEnvironment(name, spec, env, i, field)));
            problem.forEach((p) => check(false, p.field, p.problem, p.fix));
        });
        const seen = new Map<string, number>();
        const seenNamespaces = new Map<string, number>();
        environments.forEach((env, i) => {
            check(!seen.has(env.name), `${field}.environments[${i}].name`, `repeats "${env.name}"`, "list each environment once");
            seen.set(env.name, i);
            const other = seenNamespaces.get(env.namespace);
            check(
                other === undefined,
                `${field}.environments[${i}].namespace`,
                `is "${env.namespace}", the namespace of environments[${other}] too`,
                "give every environment its own namespace",
            );
            seenNamespaces.set(env.namespace, i);
        });
        const previews = spec.previews ? resolvePreviews(name, spec, spec.previews, field) : undefined;
        resolved = {
            name,
            team: spec.team,
            argoNamespace,
            settings: spec,
            source: {
                repoURL: spec.repoURL,
                path: spec.path,
                ...(spec.helm ? { helm: spec.helm } : {}),
                ...(spec.kustomize ? { kustomize: spec.kustomize } : {}),
            },
            environments,
            ...(previews ? { previews } : {}),
            ignoreDifferences: spec.ignoreDifferences ?? [],
            ...(cluster ? { cluster } : {}),
        };
    });
    const all = [...nameProblems, ...problems.map((p) => new GitOpsConfigError(legacyPath(p.path, moved), p.problem, p.fix))];
    return all.length === 0 ? { resolved, problems: all } : { problems: all };
}

/** {@link resolveService}, throwing every problem together. */
export function requireResolvedService(name: string, args: Parameters<typeof resolveService>[1], field = "args"): ResolvedService {
    const { resolved, problems } = resolveService(name, args, field);
    if (problems.length > 0 || !resolved) {
        throw new GitOpsConfigErrors(problems, `GitOpsService "${name}": ${problems.length} problem(s)`);
    }
    return resolved;
}

/** What another service of the same program (or stack) deploys to, for {@link serviceConflicts}. */
export interface PlacedService {
    readonly name: string;
    readonly team: string;
    readonly environments: readonly Pick<ResolvedEnvironment, "name" | "namespace">[];
    readonly previews: boolean;
}

/** A resolved service as {@link serviceConflicts} compares it. */
export const placed = (s: ResolvedService): PlacedService => ({ name: s.name, team: s.team, environments: s.environments, previews: s.previews !== undefined });

/**
 * Problems of `service` against services placed before it (a stack file's earlier entries, a
 * program's earlier GitOpsServices): one name is one AppProject, one namespace belongs to one
 * service, and a service's previews (`<name>-pr-*`, a glob its AppProject allows) cover no other
 * service's namespace or name. Fields are `service`'s args, under `field`.
 */
export function serviceConflicts(service: ResolvedService, earlier: readonly PlacedService[], field = "args"): GitOpsConfigError[] {
    const spec = service.settings;
    const envField = (i: number) => {
        const entry = spec.environments[i];
        return typeof entry === "object" && entry.namespace !== undefined ? `${field}.environments[${i}].namespace` : `${field}.name`;
    };
    return collectProblems(() => {
        for (const other of earlier) {
            check(
                other.name !== service.name,
                `${field}.name`,
                `is "${service.name}", already the name of another service (team ${other.team}): one AppProject "${service.name}" for both`,
                "give every service a unique name; if both teams deploy the same service, one entry must go",
            );
            if (other.name === service.name) continue;
            service.environments.forEach((env, i) => {
                const taken = other.environments.find((e) => e.namespace === env.namespace);
                check(
                    taken === undefined,
                    envField(i),
                    `(${env.name}) deploys to namespace "${env.namespace}", which service "${other.name}" (${taken?.name}) deploys to`,
                    "give each service its own namespaces: an AppProject allowing another team's namespace lets it deploy there",
                );
            });
            const glob = (s: { name: string }) => `${s.name}-pr-`;
            if (other.previews) {
                check(
                    !service.name.startsWith(glob(other)),
                    `${field}.name`,
                    `is "${service.name}", inside the previews of service "${other.name}" (${previewGlob(other.name)}): its AppProject may deploy to this service's namespaces`,
                    `rename the service so it does not start with "${glob(other)}"`,
                );
                service.environments.forEach((env, i) =>
                    check(
                        !env.namespace.startsWith(glob(other)),
                        envField(i),
                        `(${env.name}) deploys to "${env.namespace}", a preview namespace of service "${other.name}" (${previewGlob(other.name)})`,
                        "rename the namespace: previews of the other service would deploy into it",
                    ),
                );
            }
            if (service.previews) {
                const covered = [other.name, ...other.environments.map((e) => e.namespace)].filter((n) => n.startsWith(glob(service)));
                check(
                    covered.length === 0,
                    `${field}.previews`,
                    `deploy to ${previewGlob(service.name)}, which covers "${covered[0]}" of service "${other.name}": this service's AppProject could deploy there`,
                    `rename service "${other.name}" or this one`,
                );
            }
        }
    });
}
