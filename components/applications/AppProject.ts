import type { IAppProject } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject" with { "resolution-mode": "import" };
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { check, goDuration, requireDnsLabel } from "../core/errors";
import { ClusterRef, renderDestination, validateClusterRef } from "./destinations";
import { forceOwnership, gitRepoURL, labels, managedByValue } from "../core/labels";
import { defaultOwner, ownerAnnotation, validateOwner } from "../guardrails/OwnershipFence";

/** A Kubernetes kind, by API group ("" for core). */
export interface GroupKind {
    readonly group: string;
    readonly kind: string;
}

/** A cluster-scoped kind, optionally narrowed to names (Go filepath.Match globs, Argo CD ≥ 3.x). */
export interface ClusterResource extends GroupKind {
    /** @default every object of the kind */
    readonly name?: string;
}

/**
 * What `CreateNamespace=true` with `managedNamespaceMetadata` needs: Argo CD applies the
 * destination Namespace itself, as a cluster-scoped resource of the project (measured with the
 * v3.6.1 controller: "resource :Namespace is not permitted in project"). Narrowed by name, so the
 * project may create and label its own namespaces and no other.
 */
export function ownNamespaces(namespaces: readonly string[]): ClusterResource[] {
    return [...new Set(namespaces)].map((name) => ({ group: "", kind: "Namespace", name }));
}

/** Where the project's Applications may deploy. `namespace` may be a glob ("payments-*"). */
export interface ProjectDestination {
    readonly namespace: string;
    /** Cluster, by registered name or API URL. @default the cluster Argo CD runs in */
    readonly cluster?: ClusterRef;
}

/** An Argo CD sync window. */
export interface SyncWindow {
    /** `deny` blocks automated (and, unless `manualSync`, manual) syncs while active. */
    readonly kind: "allow" | "deny";
    /** Cron expression of the window start, e.g. "0 22 * * *". */
    readonly schedule: string;
    /** Go duration, e.g. "1h". */
    readonly duration: string;
    /** Application name globs it applies to. @default ["*"] */
    readonly applications?: readonly string[];
    /** Namespace globs it applies to. @default [] */
    readonly namespaces?: readonly string[];
    /** Allow manual syncs during a deny window. @default false */
    readonly manualSync?: boolean;
    /** IANA time zone of `schedule`. @default "UTC" */
    readonly timeZone?: string;
}

/**
 * Kinds a team may not create inside its own namespaces by default: quota and limit ranges are set
 * by the platform, and a team that can rewrite them can starve its neighbours.
 */
export const defaultNamespaceResourceBlacklist: readonly GroupKind[] = [
    { group: "", kind: "ResourceQuota" },
    { group: "", kind: "LimitRange" },
];

export interface AppProjectArgs {
    /** Namespace Argo CD runs in. */
    readonly argoNamespace: string;
    /**
     * The owning program, stamped as annotation \`gitops-control.io/owner\`; the OwnershipFence
     * refuses another program's write that would change it. @default the running program's
     * \`<project>/<stack>\`
     */
    readonly owner?: string;
    /** Human description shown in the Argo CD UI. @default "Managed by gitops-control" */
    readonly description?: string;
    /** Git repository URLs the project may deploy from. At least one; no "*". */
    readonly sourceRepos: readonly string[];
    /** Where the project may deploy. At least one. */
    readonly destinations: readonly ProjectDestination[];
    /** Cluster-scoped kinds (and names) the project may manage. @default [] (none: least privilege) */
    readonly clusterResourceWhitelist?: readonly ClusterResource[];
    /** Namespaced kinds the project may not manage. @default {@link defaultNamespaceResourceBlacklist} */
    readonly namespaceResourceBlacklist?: readonly GroupKind[];
    /** @default [] */
    readonly syncWindows?: readonly SyncWindow[];
    /** Warn about live resources in the destinations that no Application owns (ghost objects). @default true */
    readonly orphanedResourcesWarn?: boolean;
    /** Extra annotations (e.g. break-glass audit). @default {} */
    readonly annotations?: Readonly<Record<string, string>>;
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

/** Checks every argument before any resource is registered. */
export function validateAppProjectArgs(name: string, args: AppProjectArgs, field = "args"): void {
    requireDnsLabel(name, `${field}.name`);
    requireDnsLabel(args.argoNamespace, `${field}.argoNamespace`);
    validateOwner(args.owner, `${field}.owner`);
    check(name !== "default", `${field}.name`, 'is "default", Argo CD\'s catch-all project', "give the team its own project name");
    check(args.sourceRepos.length > 0, `${field}.sourceRepos`, "is empty", "list the Git repositories the team deploys from");
    args.sourceRepos.forEach((repo, i) =>
        check(
            gitRepoURL.test(repo),
            `${field}.sourceRepos[${i}]`,
            `is "${repo}"; wildcards let any repository deploy into the team's namespaces`,
            "list each repository URL explicitly",
        ),
    );
    check(args.destinations.length > 0, `${field}.destinations`, "is empty", "list the namespaces the team deploys to");
    args.destinations.forEach((d, i) => {
        check(
            d.namespace !== "*" && d.namespace.trim() !== "",
            `${field}.destinations[${i}].namespace`,
            `is "${d.namespace}", which would let the project deploy into every namespace (kube-system too)`,
            'name the namespaces or a team prefix glob, e.g. "payments-*"',
        );
        if (d.cluster) validateClusterRef(d.cluster, `${field}.destinations[${i}].cluster`);
    });
    (args.syncWindows ?? []).forEach((w, i) => {
        check(w.schedule.trim().split(/\s+/).length === 5, `${field}.syncWindows[${i}].schedule`, `is "${w.schedule}"`, 'use a 5-field cron expression, e.g. "0 22 * * *"');
        check(goDuration.test(w.duration), `${field}.syncWindows[${i}].duration`, `is "${w.duration}"`, 'use a Go duration, e.g. "1h"');
    });
}

/** Renders the AppProject object. Pure. */
export function renderAppProject(name: string, args: AppProjectArgs): IAppProject {
    return {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "AppProject",
        metadata: {
            name,
            namespace: args.argoNamespace,
            labels: { [labels.managedBy]: managedByValue },
            annotations: { ...forceOwnership, ...ownerAnnotation(args.owner), ...args.annotations },
        },
        spec: {
            description: args.description ?? "Managed by gitops-control",
            sourceRepos: [...args.sourceRepos],
            destinations: args.destinations.map((d) => renderDestination(d.cluster, d.namespace)),
            clusterResourceWhitelist: (args.clusterResourceWhitelist ?? []).map((g) => ({ group: g.group, kind: g.kind, ...(g.name !== undefined ? { name: g.name } : {}) })),
            namespaceResourceBlacklist: (args.namespaceResourceBlacklist ?? defaultNamespaceResourceBlacklist).map((g) => ({ group: g.group, kind: g.kind })),
            orphanedResources: { warn: args.orphanedResourcesWarn ?? true },
            syncWindows: (args.syncWindows ?? []).map((w) => ({
                kind: w.kind,
                schedule: w.schedule,
                duration: w.duration,
                applications: [...(w.applications ?? ["*"])],
                namespaces: [...(w.namespaces ?? [])],
                manualSync: w.manualSync ?? false,
                timeZone: w.timeZone ?? "UTC",
            })),
        },
    };
}

/**
 * Argo CD's catch-all `default` project, managed deny-all: no repository, no destination, no
 * cluster-scoped and no namespaced kind. argocd-server creates it at start-up as the opposite
 * (`sourceRepos: ['*']`, every destination, every cluster kind) when it does not exist, and an
 * Application that names it could then apply a cluster-admin binding anywhere. Pure.
 */
export function renderDefaultAppProject(argoNamespace: string, owner: string | undefined): IAppProject {
    return {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "AppProject",
        metadata: {
            name: "default",
            namespace: argoNamespace,
            labels: { [labels.managedBy]: managedByValue },
            annotations: { ...forceOwnership, ...ownerAnnotation(owner) },
        },
        spec: {
            description: "Deny-all, managed by gitops-control: every Application names its service's project",
            sourceRepos: [],
            destinations: [],
            clusterResourceWhitelist: [],
            namespaceResourceBlacklist: [{ group: "*", kind: "*" }],
        },
    };
}

export const appProjectType = "gitops-control:argocd:AppProject";

/**
 * The AppProject custom resource alone, checked and rendered: what the {@link AppProject} component
 * wraps, for components that hold it directly (GitOpsService: one registration less per service).
 */
export function appProjectResource(name: string, args: AppProjectArgs, opts: pulumi.CustomResourceOptions): k8s.apiextensions.CustomResource {
    validateAppProjectArgs(name, args);
    const rendered = renderAppProject(name, { ...args, owner: args.owner ?? defaultOwner() });
    return new k8s.apiextensions.CustomResource(
        `${name}-project`,
        { ...rendered, apiVersion: "argoproj.io/v1alpha1", kind: "AppProject" },
        pulumi.mergeOptions(args.provider ? { provider: args.provider } : {}, opts),
    );
}

/**
 * A least-privilege Argo CD project for one team: its repositories, its namespaces, no cluster-scoped
 * kinds unless granted, and warnings for orphaned resources.
 */
export class AppProject extends pulumi.ComponentResource {
    /** Project name, to reference from Applications. */
    readonly projectName: pulumi.Output<string>;
    readonly project: k8s.apiextensions.CustomResource;

    constructor(name: string, args: AppProjectArgs, opts?: pulumi.ComponentResourceOptions) {
        validateAppProjectArgs(name, args);
        super(appProjectType, name, {}, opts);
        this.project = appProjectResource(name, args, { parent: this });
        this.projectName = this.project.metadata.name;
        this.registerOutputs({ projectName: this.projectName });
    }
}
