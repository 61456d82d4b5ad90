import * as path from "node:path";
import { bounds, defaults } from "./defaults";
import { ClusterRef, validateClusterRef } from "./destinations";
import { GitOpsConfigError, GitOpsConfigErrors, check, collectProblems, requireDnsLabel } from "./errors";
import type { ApplicationSourceArgs, IgnoreDifference } from "./GitOpsApplication";
import { validateIgnoreDifferences, validateSource, validateWaitForSync } from "./GitOpsApplication";
import { checkPreviewLimits, type GitHubPullRequestSource } from "./PreviewEnvironments";
import { EnvironmentClass, environmentClasses, environmentPresets } from "./presets";
import { SyncPolicy, SyncPolicyOverrides, mergeSyncPolicy, validateSyncPolicy, weakenedSwitches } from "./syncPolicy";

/**
 * The one resolve-and-validate path of a service. `GitOpsService` runs it on its args (a team's
 * program), and the stack pipeline runs the very same function on the args it builds from a stack
 * entry, before any resource is registered. Results are memoised per args object, so the stack
 * route resolves each service once.
 */

/** One environment a service deploys to: an environment class plus what the service changes. */
export interface ServiceEnvironment {
    /** Environment class (`prod`, `staging`): picks the preset, labels the namespace (which selects the guardrails). */
    readonly name: EnvironmentClass;
    /** Branch, tag or commit deployed there. */
    readonly targetRevision: string;
    /** Changes on top of the class preset's sync policy (see components/presets.ts). @default none */
    readonly syncPolicy?: SyncPolicyOverrides;
    /** Required (10+ characters, name the ticket) to weaken a switch the class guards. @default none */
    readonly unsafeSyncPolicyReason?: string;
    /** @default `<service>-<name>` */
    readonly namespace?: string;
    /** Helm values files for this environment. @default [`values-<name>.yaml`] when the source uses Helm */
    readonly valueFiles?: readonly string[];
    /** @default the class preset's (prod 20, staging 10) */
    readonly revisionHistoryLimit?: number;
    /** Pause automated sync (break-glass), after the safety checks, keeping every other switch. @default false */
    readonly pauseAutomatedSync?: boolean;
    /** Annotations on the Application (break-glass audit). @default {} */
    readonly annotations?: Readonly<Record<string, string>>;
    /** Cluster of this environment. @default the service's `cluster` */
    readonly cluster?: ClusterRef;
}

/** Pull-request previews for the service. */
export interface ServicePreviews {
    /** GitHub side; `owner` and `repo` default to those of a GitHub `source.repoURL`. */
    readonly github: Omit<GitHubPullRequestSource, "owner" | "repo"> & { readonly owner?: string; readonly repo?: string };
    /** Changes on top of the preview preset. @default none */
    readonly syncPolicy?: SyncPolicyOverrides;
    /** @default 300 */
    readonly requeueAfterSeconds?: number;
    /** @default "image.tag" */
    readonly imageTagParameter?: string;
    /** Most previews running at once (the preview gate holds the rest). @default 5 */
    readonly maxOpen?: number;
    /** Hours a preview may run while its PR stays open. @default 72 */
    readonly ttlHours?: number;
}

/** The service's args as `GitOpsService` takes them (see GitOpsService.ts for the rest). */
export interface ServiceSpec {
    /** Owning team; labels every namespace. */
    readonly team: string;
    /** Namespace Argo CD runs in. @default "argocd" */
    readonly argoNamespace?: string;
    /** Repository and path of the service's deploy manifests (no revision: that is per environment). */
    readonly source: Omit<ApplicationSourceArgs, "targetRevision">;
    /** At least one. */
    readonly environments: readonly ServiceEnvironment[];
    /** @default no previews */
    readonly previews?: ServicePreviews;
    /** @default [] */
    readonly ignoreDifferences?: readonly IgnoreDifference[];
    /** Cluster every environment and preview deploys to, unless an environment names its own. @default the cluster Argo CD runs in */
    readonly cluster?: ClusterRef;
    /** `pulumi up` waits for each Application to be Synced and Healthy (see GitOpsApplication). @default off */
    readonly waitForSync?: { readonly timeoutSeconds: number };
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
    readonly argoNamespace: string;
    readonly environments: readonly ResolvedEnvironment[];
    readonly previews?: ResolvedPreviews;
}

/** Namespaces no service may deploy to: its AppProject would then allow writing there. */
export const reservedNamespaces = ["kube-system", "kube-public", "kube-node-lease", "default"] as const;

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

function resolveEnvironment(service: string, spec: ServiceSpec, env: ServiceEnvironment, i: number, field: string): ResolvedEnvironment {
    const f = `${field}.environments[${i}]`;
    check(
        (environmentClasses as readonly string[]).includes(env.name),
        `${f}.name`,
        `is "${env.name}", not an environment class`,
        `use one of ${environmentClasses.map((c) => `"${c}"`).join(", ")} (previews are set with \`previews\`)`,
    );
    const preset = environmentPresets[env.name] ?? environmentPresets.prod;
    const merged = mergeSyncPolicy(preset.syncPolicy, env.syncPolicy);
    validateSyncPolicy(merged, `${f}.syncPolicy`);
    const weakened = weakenedSwitches(merged, preset.requireReasonFor);
    check(
        weakened.length === 0 || (env.unsafeSyncPolicyReason ?? "").trim().length >= 10,
        `${f}.syncPolicy`,
        `weakens the ${env.name} sync policy: ${weakened.join("; ")}`,
        `restore the preset, or document the exception in \`${f}.unsafeSyncPolicyReason\` (reason and ticket, at least 10 characters)`,
    );
    const namespace = env.namespace ?? `${service}-${env.name}`;
    requireDnsLabel(namespace, `${f}.namespace`);
    const argoNamespace = spec.argoNamespace ?? defaults.argoNamespace;
    check(
        namespace !== argoNamespace && !(reservedNamespaces as readonly string[]).includes(namespace),
        `${f}.namespace`,
        `is "${namespace}", a system namespace (the AppProject would allow deploying there)`,
        `use the service's own namespace, e.g. "${service}-${env.name}"`,
    );
    check(env.targetRevision.trim() !== "", `${f}.targetRevision`, "is empty", 'name a tag, branch or commit, e.g. "v1.4.2"');
    (env.valueFiles ?? []).forEach((file, j) =>
        check(
            file.trim() !== "" && insideRepository(path.posix.join(spec.source.path || ".", file)),
            `${f}.valueFiles[${j}]`,
            `is "${file}", which leaves the repository`,
            `use a file inside the repository, relative to the source path, e.g. "values-${env.name}.yaml"`,
        ),
    );
    const limit = env.revisionHistoryLimit ?? preset.revisionHistoryLimit;
    check(
        Number.isInteger(limit) && limit >= 1 && limit <= bounds.maxRevisionHistoryLimit,
        `${f}.revisionHistoryLimit`,
        `is ${limit}`,
        `use a whole number from 1 to ${bounds.maxRevisionHistoryLimit} (the ${env.name} preset uses ${preset.revisionHistoryLimit})`,
    );
    if (env.cluster) validateClusterRef(env.cluster, `${f}.cluster`);
    const cluster = env.cluster ?? spec.cluster;
    return {
        name: env.name,
        targetRevision: env.targetRevision,
        // Break-glass pauses automated sync (keeping every other switch) so a live hotfix is not
        // reverted mid-incident; applied after the safety check, which it is an audited exception to.
        syncPolicy: env.pauseAutomatedSync ? mergeSyncPolicy(merged, { automated: { enabled: false } }) : merged,
        namespace,
        ...(env.valueFiles ? { valueFiles: env.valueFiles } : {}),
        revisionHistoryLimit: limit,
        annotations: env.annotations ?? {},
        ...(cluster ? { cluster } : {}),
    };
}

function resolvePreviews(service: string, spec: ServiceSpec, previews: ServicePreviews, field: string): ResolvedPreviews {
    const f = `${field}.previews`;
    const derived = gitHubRepoOf(spec.source.repoURL);
    const owner = previews.github.owner ?? derived?.owner;
    const repo = previews.github.repo ?? derived?.repo;
    check(
        owner !== undefined && repo !== undefined,
        `${f}.github.repo`,
        `cannot be derived: "${spec.source.repoURL}" is not a GitHub repository URL`,
        `set \`${f}.github.owner\` and \`${f}.github.repo\` to the repository pull requests are opened on`,
    );
    check(owner === undefined || /^[A-Za-z0-9_.-]+$/.test(owner), `${f}.github.owner`, `is "${owner}"`, "use the GitHub organisation or user name");
    check(repo === undefined || /^[A-Za-z0-9_.-]+$/.test(repo), `${f}.github.repo`, `is "${repo}"`, "use the repository name without owner or URL");
    check(
        (previews.github.token === undefined) !== (previews.github.tokenRef === undefined),
        `${f}.github`,
        previews.github.token === undefined ? "has neither `token` nor `tokenRef`" : "has both `token` and `tokenRef`",
        "pass the GitHub token as `token` (a Secret is created) or point `tokenRef` at an existing Secret",
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
    const labels = previews.github.labels ?? defaults.previewLabels;
    check(labels.length > 0 && labels.every((l) => l.trim() !== ""), `${f}.github.labels`, "is empty or has an empty label", `list the labels a PR needs, e.g. ["preview"]`);
    const preset = environmentPresets.preview;
    const syncPolicy = mergeSyncPolicy(preset.syncPolicy, previews.syncPolicy);
    validateSyncPolicy(syncPolicy, `${f}.syncPolicy`);
    const weakened = weakenedSwitches(syncPolicy, preset.requireReasonFor);
    check(weakened.length === 0, `${f}.syncPolicy`, `weakens the preview sync policy: ${weakened.join("; ")}`, "restore the preset: a preview with a wrong path would be emptied");
    check(syncPolicy.syncOptions.includes("CreateNamespace=true"), `${f}.syncPolicy.syncOptions`, "drops CreateNamespace=true", "keep it: every preview gets a fresh namespace");
    return {
        github: { ...previews.github, owner: owner ?? "", repo: repo ?? "", labels },
        syncPolicy,
        requeueAfterSeconds: requeue,
        imageTagParameter,
        maxOpen: previews.maxOpen ?? defaults.previewMaxOpen,
        ttlHours: previews.ttlHours ?? defaults.previewTtlHours,
        namespaceGlob: `${service}-pr-*`,
        ...(spec.cluster ? { cluster: spec.cluster } : {}),
    };
}

/** Checks the source beyond what `validateSource` (shared with Applications) checks. */
function checkSource(spec: ServiceSpec, field: string): void {
    const s = spec.source;
    const f = `${field}.source`;
    validateSource({ ...s, targetRevision: "HEAD" }, f);
    check(
        !/^[a-z+]+:\/\/[^/@\s]+@/.test(s.repoURL) || s.repoURL.startsWith("ssh://"),
        `${f}.repoURL`,
        "carries credentials (user:token@)",
        "remove them from the URL and register the repository's credentials with Argo CD (a repository Secret)",
    );
    const https = /^https:\/\/[^/]+\/(.*)$/.exec(s.repoURL);
    check(
        !https ||
            https[1]
                .replace(/\.git$|\/$/g, "")
                .split("/")
                .filter(Boolean).length >= 2,
        `${f}.repoURL`,
        `is "${s.repoURL}", an organisation, not a repository`,
        'name the repository, e.g. "https://github.com/<org>/<repo>.git"',
    );
    check(s.path.trim() !== "", `${f}.path`, "is empty", 'use "." for the repository root, or the directory of the manifests, e.g. "deploy/chart"');
    (s.helm?.valueFiles ?? []).forEach((file, j) =>
        check(
            insideRepository(path.posix.join(s.path || ".", file)),
            `${f}.helm.valueFiles[${j}]`,
            `is "${file}", which leaves the repository`,
            "use a file inside the repository, relative to the source path",
        ),
    );
    (s.kustomize?.images ?? []).forEach((image, j) =>
        check(
            kustomizeImage.test(image),
            `${f}.kustomize.images[${j}]`,
            `is "${image}", not a Kustomize image override`,
            'write "name:tag", "name@sha256:<digest>" or "name=new-name:tag"',
        ),
    );
    validateIgnoreDifferences(spec.ignoreDifferences ?? [], `${field}.ignoreDifferences`);
}

interface Memo {
    readonly name: string;
    readonly field: string;
    readonly spec: ServiceSpec;
    readonly result: { resolved?: ResolvedService; problems: GitOpsConfigError[] };
}

const memo = new WeakMap<object, Memo[]>();

/** Same service args: equal scalars, the same (===) nested objects, as `{ ...args, provider }` keeps them. */
const sameSpec = (a: ServiceSpec, b: ServiceSpec): boolean =>
    a.team === b.team &&
    (a.argoNamespace ?? defaults.argoNamespace) === (b.argoNamespace ?? defaults.argoNamespace) &&
    a.source === b.source &&
    a.environments === b.environments &&
    a.previews === b.previews &&
    a.ignoreDifferences === b.ignoreDifferences &&
    a.cluster === b.cluster &&
    a.waitForSync === b.waitForSync;

/**
 * Applies the presets and checks everything about one service. Returns the resolved service and
 * every problem found (fields prefixed with `field`); memoised, so the stack route (which resolves
 * before building) and the component constructor share one run. A hit needs the very same nested
 * objects (a spread such as `{ ...args, provider }` keeps them), so changed args always resolve anew.
 */
export function resolveService(name: string, spec: ServiceSpec, field = "args"): { resolved?: ResolvedService; problems: readonly GitOpsConfigError[] } {
    const entries = memo.get(spec.environments) ?? [];
    const cached = entries.find((m) => m.name === name && m.field === field && sameSpec(m.spec, spec));
    if (cached) return cached.result;
    let resolved: ResolvedService | undefined;
    const problems = collectProblems(() => {
        requireDnsLabel(name, `${field}.name`, 48);
        requireDnsLabel(spec.team, `${field}.team`);
        const argoNamespace = spec.argoNamespace ?? defaults.argoNamespace;
        requireDnsLabel(argoNamespace, `${field}.argoNamespace`);
        checkSource(spec, field);
        if (spec.cluster) validateClusterRef(spec.cluster, `${field}.cluster`);
        if (spec.waitForSync) validateWaitForSync(spec.waitForSync, `${field}.waitForSync`);
        check(spec.environments.length > 0, `${field}.environments`, "is empty", 'deploy the service to at least one environment, e.g. ["staging"]');
        const environments: ResolvedEnvironment[] = [];
        spec.environments.forEach((env, i) => {
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
        resolved = { argoNamespace, environments, ...(previews ? { previews } : {}) };
    });
    const result = problems.length === 0 ? { resolved, problems } : { problems };
    memo.set(spec.environments, [...entries, { name, field, spec, result }]);
    return result;
}

/** {@link resolveService}, throwing every problem together. */
export function requireResolvedService(name: string, spec: ServiceSpec, field = "args"): ResolvedService {
    const { resolved, problems } = resolveService(name, spec, field);
    if (problems.length > 0 || !resolved) {
        throw new GitOpsConfigErrors(problems, `GitOpsService "${name}": ${problems.length} problem(s)`);
    }
    return resolved;
}
