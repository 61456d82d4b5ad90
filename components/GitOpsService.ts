import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { appProjectResource, appProjectType, ownNamespaces } from "./applications/AppProject";
import { ClusterRef } from "./applications/destinations";
import { applicationResource, gitOpsApplicationType, manifestGeneratePaths, manifestGeneratePathsAnnotation } from "./applications/GitOpsApplication";
import { previewProjectSuffix } from "./guardrails/argoInputs";
import { inClusterServer, labels } from "./core/labels";
import { movedOutOfComponent } from "./core/options";
import { collectProblems } from "./core/errors";
import { defaultOwner, validateOwner } from "./guardrails/OwnershipFence";
import { podSecurityLabelsFor } from "./core/podSecurity";
import { PreviewEnvironmentsArgs, previewEnvironmentsType, previewObjects, validatePreviewArgs } from "./previews/PreviewEnvironments";
import { GitOpsConfigError, GitOpsConfigErrors } from "./core/errors";
import {
    LegacyServiceFields,
    PlacedService,
    ResolvedEnvironment,
    ResolvedService,
    ServiceArgs,
    ServicePreviews,
    placed,
    requireResolvedService,
    resolveService,
    serviceConflicts,
} from "./serviceSpec";

// The settings schema of a service (shared with the stack file's entries) and the resolve/validate
// path shared with the stack pipeline live in serviceSpec.ts.
export type { ServiceEnvironment, ServicePreviews } from "./serviceSpec";

/**
 * GitOpsService args, with the stack entry's field names (`repoURL`, `path`, `targetRevision`,
 * `helm`, `kustomize`, `syncPolicy`, `previews.labels`, …): see `serviceArgsSchema` in
 * serviceSpec.ts for each field, its default and its bounds.
 */
export type GitOpsServiceArgs = ServiceArgs | LegacyGitOpsServiceArgs;

/**
 * The names GitOpsService took before the routes were unified, still accepted.
 * @deprecated write `repoURL`, `path`, `helm`, `kustomize` at the top level and `previews.{owner, repo, labels, token, tokenRef, api}` instead of `source` and `previews.github`
 */
export type LegacyGitOpsServiceArgs = Omit<ServiceArgs, "repoURL" | "path" | "helm" | "kustomize" | "previews"> &
    LegacyServiceFields & {
        readonly previews?: Omit<ServicePreviews, "owner" | "repo" | "labels" | "api" | "token" | "tokenRef" | "appSecretName"> & {
            /** @deprecated use `previews.owner`, `previews.repo`, `previews.labels`, `previews.token`, `previews.tokenRef`, `previews.api` */
            readonly github: Pick<ServicePreviews, "owner" | "repo" | "labels" | "api" | "token" | "tokenRef" | "appSecretName">;
        };
    };

/** Services constructed in this program run (per engine connection), for the checks across services. */
const programServices = new WeakMap<object, PlacedService[]>();

/** The AppProject of a service's previews: `<service>-previews` (what the require-service-project guardrail expects). */
export function previewProjectName(service: string): string {
    return `${service}${previewProjectSuffix}`;
}

/**
 * Applies the environment presets and checks every argument (the same path the stack pipeline
 * runs), and the service against the GitOpsServices this program already created (names,
 * namespaces, preview globs); throws every problem together.
 */
export function validateServiceArgs(name: string, args: GitOpsServiceArgs, field = "args", earlier: readonly PlacedService[] = []): ResolvedService {
    const resolved = requireResolvedService(name, args, field);
    const problems = collectProblems(() => validateOwner(resolved.settings.owner, `${field}.owner`));
    problems.push(...serviceConflicts(resolved, earlier, field));
    if (problems.length > 0) throw new GitOpsConfigErrors(problems, `GitOpsService "${name}": ${problems.length} problem(s)`);
    return resolved;
}

/** A service checked and ready to build: its resolved settings and, when previews are on, what they get. */
interface ServicePlan {
    readonly resolved: ResolvedService;
    readonly previewArgs?: PreviewEnvironmentsArgs;
}

/** Every check a GitOpsService runs before it registers anything (throws every problem together). */
function planService(name: string, args: GitOpsServiceArgs, field: string, earlier: readonly PlacedService[]): ServicePlan {
    const resolved = validateServiceArgs(name, args, field, earlier);
    const source = resolved.source;
    const previewArgs: PreviewEnvironmentsArgs | undefined = resolved.previews && {
        service: name,
        argoNamespace: resolved.argoNamespace,
        owner: resolved.settings.owner ?? defaultOwner(),
        project: previewProjectName(name),
        github: resolved.previews.github,
        requeueAfterSeconds: resolved.previews.requeueAfterSeconds,
        imageTagParameter: resolved.previews.imageTagParameter,
        maxOpen: resolved.previews.maxOpen,
        ttlHours: resolved.previews.ttlHours,
        source: {
            ...source,
            ...(source.kustomize ? {} : { helm: { ...source.helm, valueFiles: source.helm?.valueFiles ?? ["values-preview.yaml"] } }),
        },
        syncPolicy: resolved.previews.syncPolicy,
        ...(resolved.previews.cluster ? { cluster: resolved.previews.cluster } : {}),
        provider: args.provider,
    };
    if (previewArgs) validatePreviewArgs(`${name}-previews`, previewArgs);
    return { resolved, ...(previewArgs ? { previewArgs } : {}) };
}

/** One service of {@link gitOpsServices}: its GitOpsService args plus its `name` (a stack entry's shape). */
export type NamedGitOpsServiceArgs = GitOpsServiceArgs & { readonly name: string };

/**
 * Checks a program's services together, as the stack pipeline checks its `services` list: each
 * service's args, then each against the services before it in the list and the GitOpsServices the
 * program already created (`earlier`). Throws every problem together, each naming
 * `args[i].<field>` and the service; returns the services' args without their names, in order.
 */
export function validateServicesArgs(args: readonly NamedGitOpsServiceArgs[], earlier: readonly PlacedService[] = []): GitOpsServiceArgs[] {
    if (!Array.isArray(args)) {
        const problem = new GitOpsConfigError("args", `must be a list of services, not ${JSON.stringify(args)}`, 'pass [{ name: "inventory", team, repoURL, environments, … }, …]');
        throw new GitOpsConfigErrors([problem], "gitOpsServices: 1 problem(s)");
    }
    const placedServices = [...earlier];
    const problems: GitOpsConfigError[] = [];
    const list = args.map((entry, i) => {
        const { name, ...serviceArgs } = (typeof entry === "object" && entry !== null ? entry : {}) as NamedGitOpsServiceArgs;
        const found = collectProblems(() => planService(name, serviceArgs as GitOpsServiceArgs, `args[${i}]`, placedServices));
        // As the stack pipeline does: a service that resolves is compared with the ones after it, even when it collides itself.
        const { resolved } = resolveService(name, serviceArgs as GitOpsServiceArgs, `args[${i}]`);
        if (resolved) placedServices.push(placed(resolved));
        // The stack route's words: the field, then the service it belongs to.
        problems.push(...found.map((p) => new GitOpsConfigError(p.path, `(service ${JSON.stringify(name)}) ${p.problem}`, p.fix)));
        return serviceArgs as GitOpsServiceArgs;
    });
    if (problems.length > 0) throw new GitOpsConfigErrors(problems, `gitOpsServices: ${problems.length} problem(s)`);
    return list;
}

/**
 * A team program's several services, checked together before any of them registers: a problem
 * across services (one name, one namespace per service, no service inside another's `<name>-pr-*`
 * previews) is reported before the first service creates anything, which constructing the
 * GitOpsServices one by one cannot do (there the later service is refused after the earlier one
 * has registered). Then each is an ordinary `GitOpsService` with `opts` (its parent included), so
 * its URNs are those of the same service constructed on its own. Returns them in order.
 *
 *     const [inventory, billing] = gitOpsServices([{ name: "inventory", team, repoURL, environments }, { name: "billing", … }], { provider });
 */
export function gitOpsServices(args: readonly NamedGitOpsServiceArgs[], opts?: pulumi.ComponentResourceOptions): GitOpsService[] {
    const monitor = pulumi.runtime.getMonitor();
    const list = validateServicesArgs(args, monitor ? (programServices.get(monitor) ?? []) : []);
    return list.map((serviceArgs, i) => new GitOpsService(args[i].name, serviceArgs, opts));
}

/**
 * What a team instantiates for one service: a least-privilege AppProject, one Application per
 * environment with that environment's sync preset, and optionally pull-request previews. Each
 * environment names its class (`prod`, `staging`) plus overrides; the component applies the preset
 * and the class's safety checks itself, so a team program gets exactly the checks a stack entry gets.
 *
 * The checks across services (one name, one namespace per service, no service inside another's
 * `<name>-pr-*` previews) see only the GitOpsServices constructed before this one: of two colliding
 * services constructed one by one, the second is refused after the first has registered its
 * resources. A program with several services passes them to {@link gitOpsServices}, which checks
 * the whole list before any of them registers.
 */
export class GitOpsService extends pulumi.ComponentResource {
    readonly projectName: pulumi.Output<string>;
    /** Application names by environment. */
    readonly applicationNames: pulumi.Output<Record<string, string>>;
    /** The previews' ApplicationSet name, when previews are on. */
    readonly previewApplicationSetName: pulumi.Output<string | undefined>;
    /** The AppProject custom resource (held directly: no wrapper component, see movedOutOfComponent). */
    readonly project: k8s.apiextensions.CustomResource;
    /** The previews' own AppProject (`<service>-previews`), when previews are on. */
    readonly previewProject?: k8s.apiextensions.CustomResource;
    /** The Application custom resources by environment. */
    readonly applications: Record<string, k8s.apiextensions.CustomResource> = {};
    /** The namespaces the program makes, by environment: every environment on Argo CD's own cluster. */
    readonly namespaces: Record<string, k8s.core.v1.Namespace> = {};
    /**
     * The previews' ApplicationSet, when previews are on (created directly, as `PreviewEnvironments`
     * creates it: no wrapper component, see movedOutOfComponent).
     */
    readonly previewApplicationSet?: k8s.apiextensions.CustomResource;
    /** The previews' scm-creds Secret, when previews are on with `github.token`. */
    readonly previewTokenSecret?: k8s.core.v1.Secret;

    constructor(name: string, args: GitOpsServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        const monitor = pulumi.runtime.getMonitor();
        const earlier = monitor ? (programServices.get(monitor) ?? []) : [];
        const { resolved, previewArgs } = planService(name, args, "args", earlier);
        const settings = resolved.settings;
        const source = resolved.source;
        const argoNamespace = resolved.argoNamespace;
        const owner = settings.owner ?? defaultOwner();
        // Resolved: an environment's own cluster, else the service's; previews deploy to the service's.
        const clusterOf = (target: { readonly cluster?: ClusterRef }): { cluster?: ClusterRef } => (target.cluster ? { cluster: target.cluster } : {});
        const previewsName = `${name}-previews`;
        if (monitor) programServices.set(monitor, [...earlier, placed(resolved)]);
        super("gitops-control:service:GitOpsService", name, {}, opts);
        const namespaceOf = (env: ResolvedEnvironment): string => env.namespace;
        const previewGlob = `${name}-pr-*`;
        this.project = appProjectResource(
            name,
            {
                argoNamespace,
                owner,
                description: `${name} (team ${settings.team}), managed by gitops-control`,
                sourceRepos: [source.repoURL],
                destinations: resolved.environments.map((env) => ({ namespace: namespaceOf(env), ...clusterOf(env) })),
                // Argo CD creates and labels each environment's namespace (CreateNamespace: v3.6.1 checks the
                // namespace it creates against this whitelist), by exact name: no other cluster-scoped kind.
                clusterResourceWhitelist: ownNamespaces(resolved.environments.map(namespaceOf)),
                syncWindows: settings.project?.syncWindows ?? [],
                annotations: settings.project?.annotations ?? {},
                provider: args.provider,
            },
            { parent: this, ...movedOutOfComponent(this, appProjectType, { type: "kubernetes:argoproj.io/v1alpha1:AppProject", name: `${name}-project` }) },
        );
        // Previews get a project of their own: a PR's chart is unreviewed code, so it reaches only the
        // service's preview namespaces (`<service>-pr-*`), never an environment's, and creates, adopts or
        // deletes no namespace but a preview's (its only cluster-scoped kind: Namespace by that glob,
        // which CreateNamespace needs; the namespaces it creates enforce Pod Security baseline, see the
        // require-namespace-pod-security guardrail).
        this.previewProject = resolved.previews
            ? appProjectResource(
                  previewProjectName(name),
                  {
                      argoNamespace,
                      owner,
                      description: `${name} pull-request previews (team ${settings.team}), managed by gitops-control`,
                      sourceRepos: [source.repoURL],
                      destinations: [{ namespace: previewGlob, ...clusterOf(resolved.previews) }],
                      clusterResourceWhitelist: ownNamespaces([previewGlob]),
                      provider: args.provider,
                  },
                  { parent: this },
              )
            : undefined;
        for (const env of resolved.environments) {
            const namespaceLabels = { [labels.environment]: env.name, [labels.team]: settings.team, [labels.service]: name, ...podSecurityLabelsFor(env.name) };
            // The program makes each namespace on Argo CD's own cluster, labelled before any Application
            // deploys into it (the environment label selects the guardrails; Pod Security Admission is the
            // baseline underneath), and keeps it on destroy as Argo CD kept those it created. Not through
            // managedNamespaceMetadata: Argo CD v3.6.1 then applies the namespace in a pass of its own
            // before every sync, self-heals included (README, "Argo CD at scale"). A namespace Argo CD
            // made earlier is adopted (server-side apply, the same labels). Another cluster's namespaces
            // are made by its GovernedCluster; Argo CD still labels them there.
            const onHub = !env.cluster || ("server" in env.cluster && env.cluster.server === inClusterServer);
            const namespace = onHub
                ? new k8s.core.v1.Namespace(
                      `${name}-${env.name}-namespace`,
                      { metadata: { name: namespaceOf(env), labels: namespaceLabels } },
                      { parent: this, retainOnDelete: true, ...(args.provider ? { provider: args.provider } : {}) },
                  )
                : undefined;
            if (namespace) this.namespaces[env.name] = namespace;
            const helm = source.helm ?? (source.kustomize ? undefined : {});
            const appSource = {
                ...source,
                targetRevision: env.targetRevision,
                ...(helm ? { helm: { ...helm, valueFiles: env.valueFiles ?? helm.valueFiles ?? [`values-${env.name}.yaml`] } } : {}),
            };
            this.applications[env.name] = applicationResource(
                `${name}-${env.name}`,
                {
                    argoNamespace,
                    owner,
                    project: name,
                    source: appSource,
                    destination: { namespace: namespaceOf(env), ...clusterOf(env) },
                    ...(settings.waitForSync ? { waitForSync: settings.waitForSync } : {}),
                    syncPolicy: env.syncPolicy,
                    ...(namespace ? {} : { managedNamespaceMetadata: { labels: namespaceLabels } }),
                    ignoreDifferences: resolved.ignoreDifferences,
                    revisionHistoryLimit: env.revisionHistoryLimit,
                    cascadeDelete: settings.cascadeDelete ?? true,
                    labels: { [labels.environment]: env.name, [labels.team]: settings.team, [labels.service]: name },
                    // A commit reaches only the Applications whose directories it touches (webhook
                    // refresh and repo-server cache): README, "Argo CD at scale".
                    annotations: { [manifestGeneratePathsAnnotation]: manifestGeneratePaths(appSource, settings.manifestPaths), ...env.annotations },
                    provider: args.provider,
                },
                {
                    parent: this,
                    dependsOn: [this.project, ...(namespace ? [namespace] : [])],
                    ...movedOutOfComponent(this, gitOpsApplicationType, { type: "kubernetes:argoproj.io/v1alpha1:Application", name: `${name}-${env.name}-app` }),
                },
            );
        }
        if (previewArgs) {
            // What PreviewEnvironments creates, without the component; the ApplicationSet waits for its
            // project as the component did.
            const previews = previewObjects(previewsName, previewArgs, (child) => ({
                parent: this,
                ...(child.type.endsWith(":ApplicationSet") ? { dependsOn: [this.previewProject ?? this.project] } : {}),
                ...movedOutOfComponent(this, previewEnvironmentsType, child),
            }));
            this.previewApplicationSet = previews.applicationSet;
            this.previewTokenSecret = previews.tokenSecret;
        }
        this.projectName = this.project.metadata.name;
        this.applicationNames = pulumi.all(Object.fromEntries(Object.entries(this.applications).map(([env, app]) => [env, app.metadata.name])));
        this.previewApplicationSetName = this.previewApplicationSet ? this.previewApplicationSet.metadata.name : pulumi.output(undefined);
        this.registerOutputs({
            projectName: this.projectName,
            applicationNames: this.applicationNames,
            previewApplicationSetName: this.previewApplicationSetName,
        });
    }
}
