import type { IApplication } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application" with { "resolution-mode": "import" };
import type { IApplicationSource } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/ApplicationSource" with { "resolution-mode": "import" };
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { defaults } from "../core/defaults";
import { check, requireDnsLabel } from "../core/errors";
import { ClusterRef, renderDestination, validateClusterRef } from "./destinations";
import { cascadeDeleteFinalizer, forceOwnership, gitRepoURL, labels, managedByValue } from "../core/labels";
import { defaultOwner, ownerAnnotation, validateOwner } from "../guardrails/OwnershipFence";
import { ManagedNamespaceMetadata, SyncPolicy, renderSyncPolicy, validateSyncPolicy } from "../core/syncPolicy";

/** One Helm parameter (`--set name=value`). */
export interface HelmParameter {
    readonly name: string;
    readonly value: string;
    /** Keep the value a string even if it looks like a number or boolean. @default false */
    readonly forceString?: boolean;
}

/** Render the source with Helm. Excludes {@link KustomizeOptions}. */
export interface HelmOptions {
    /** Values files, relative to the source path. @default [] */
    readonly valueFiles?: readonly string[];
    /** `--set` parameters. @default [] */
    readonly parameters?: readonly HelmParameter[];
    /** Helm release name. @default the Application name */
    readonly releaseName?: string;
}

/** Render the source with Kustomize. Excludes {@link HelmOptions}. */
export interface KustomizeOptions {
    /** Image overrides, e.g. `ghcr.io/acme/api:1.2.3`. @default [] */
    readonly images?: readonly string[];
    /** Prefix for every resource name. @default none */
    readonly namePrefix?: string;
}

/** Where the desired state lives in Git. */
export interface ApplicationSourceArgs {
    /** Git repository URL (https, ssh:// or git@host:org/repo). */
    readonly repoURL: string;
    /** Branch, tag or commit. Pin a tag or commit in prod. */
    readonly targetRevision: string;
    /** Directory inside the repository. */
    readonly path: string;
    readonly helm?: HelmOptions;
    readonly kustomize?: KustomizeOptions;
}

/**
 * A field Argo CD must not treat as drift. Give `kind` and at least one of `jsonPointers`,
 * `jqPathExpressions` or `managedFieldsManagers`; enable `RespectIgnoreDifferences=true` if the
 * sync should also leave the field alone (not only the diff).
 */
export interface IgnoreDifference {
    /** API group; "" or omitted for the core group. */
    readonly group?: string;
    readonly kind: string;
    readonly name?: string;
    readonly namespace?: string;
    /** RFC 6901 pointers, e.g. `/spec/replicas` (an HPA owns it). */
    readonly jsonPointers?: readonly string[];
    readonly jqPathExpressions?: readonly string[];
    /** Ignore fields owned by these field managers, e.g. `kube-controller-manager`. */
    readonly managedFieldsManagers?: readonly string[];
}

/** Settings of {@link HelmOptions}. */
export const helmSchema = z
    .strictObject({
        valueFiles: z.array(z.string()).optional(),
        parameters: z.array(z.strictObject({ name: z.string(), value: z.string(), forceString: z.boolean().optional() })).optional(),
        releaseName: z.string().optional(),
    })
    .describe("Helm rendering (default when kustomize is not set).");

/** Settings of {@link KustomizeOptions}. */
export const kustomizeSchema = z.strictObject({ images: z.array(z.string()).optional(), namePrefix: z.string().optional() }).describe("Kustomize rendering.");

/** Settings of {@link IgnoreDifference}. */
export const ignoreDifferenceSchema = z.strictObject({
    group: z.string().optional(),
    kind: z.string(),
    name: z.string().optional(),
    namespace: z.string().optional(),
    jsonPointers: z.array(z.string()).optional(),
    jqPathExpressions: z.array(z.string()).optional(),
    managedFieldsManagers: z.array(z.string()).optional(),
});

export interface GitOpsApplicationArgs {
    /** Namespace Argo CD runs in; Applications live there. */
    readonly argoNamespace: string;
    /**
     * The owning program, stamped as annotation \`gitops-control.io/owner\`; the OwnershipFence
     * refuses another program's write that would change it. @default the running program's
     * \`<project>/<stack>\`
     */
    readonly owner?: string;
    /** AppProject name. A fixed value: never derived from user input. */
    readonly project: string;
    readonly source: ApplicationSourceArgs;
    readonly destination: {
        /** Target namespace. */
        readonly namespace: string;
        /** Target cluster, by registered name or API URL. @default the cluster Argo CD runs in */
        readonly cluster?: ClusterRef;
    };
    /** The complete sync policy; usually an environment preset, see `components/core/presets.ts`. */
    readonly syncPolicy: SyncPolicy;
    /** Labels and annotations for the destination namespace (with `CreateNamespace=true`). @default none */
    readonly managedNamespaceMetadata?: ManagedNamespaceMetadata;
    /** @default [] */
    readonly ignoreDifferences?: readonly IgnoreDifference[];
    /** Sync history kept on the Application. @default {@link defaults.revisionHistoryLimit} */
    readonly revisionHistoryLimit?: number;
    /**
     * Deleting the Application deletes what it deployed (the Argo CD resources finalizer).
     * `false` orphans the workloads instead. @default true
     */
    readonly cascadeDelete?: boolean;
    /** Extra labels on the Application object. @default {} */
    readonly labels?: Readonly<Record<string, string>>;
    /** Extra annotations on the Application object (e.g. break-glass audit). @default {} */
    readonly annotations?: Readonly<Record<string, string>>;
    /**
     * Make `pulumi up` wait until Argo CD reports the Application Synced and Healthy at this
     * source, and fail after `timeoutSeconds` otherwise (the `pulumi.com/waitFor` annotation). Off
     * for a first install, whose controller is not running yet. @default off
     */
    readonly waitForSync?: { readonly timeoutSeconds: number };
    /** Kubernetes provider for the Application object. @default the ambient provider */
    readonly provider?: k8s.Provider;
}

/** Longest `waitForSync.timeoutSeconds` accepted: an `up` that waits longer hides a stuck rollout. */
export const maxWaitForSyncSeconds = 3600;

/**
 * Annotations that make the Kubernetes provider wait for Argo CD. The source conditions tie the
 * verdict to the spec just applied: right after an update, the status may still describe the
 * previous revision as Synced.
 */
export function waitForSyncAnnotations(source: ApplicationSourceArgs, timeoutSeconds: number): Record<string, string> {
    return {
        "pulumi.com/waitFor": JSON.stringify([
            `jsonpath={.status.sync.comparedTo.source.targetRevision}=${source.targetRevision}`,
            `jsonpath={.status.sync.comparedTo.source.path}=${source.path}`,
            "jsonpath={.status.sync.status}=Synced",
            "jsonpath={.status.health.status}=Healthy",
        ]),
        "pulumi.com/timeoutSeconds": String(timeoutSeconds),
    };
}

/** Checks a `waitForSync` setting; `field` names it. Shared with GitOpsService's resolve step. */
export function validateWaitForSync(waitForSync: { readonly timeoutSeconds: number }, field: string): void {
    const t = waitForSync.timeoutSeconds;
    check(
        Number.isInteger(t) && t >= 30 && t <= maxWaitForSyncSeconds,
        `${field}.timeoutSeconds`,
        `is ${t}`,
        `use a whole number of seconds from 30 to ${maxWaitForSyncSeconds} (${defaults.waitForSyncSeconds} is usual)`,
    );
}

/** Checks source args; `field` prefixes messages. Shared by Applications and preview templates. */
export function validateSource(source: ApplicationSourceArgs, field: string): void {
    check(
        gitRepoURL.test(source.repoURL),
        `${field}.repoURL`,
        `is "${source.repoURL}", not a Git URL Argo CD can clone`,
        'use "https://github.com/<org>/<repo>.git" or "git@github.com:<org>/<repo>.git"',
    );
    check(source.targetRevision.trim() !== "", `${field}.targetRevision`, "is empty", 'name a tag, branch or commit, e.g. "v1.4.2"');
    check(
        !source.path.startsWith("/") && !source.path.split("/").includes(".."),
        `${field}.path`,
        `is "${source.path}", which leaves the repository`,
        'use a path relative to the repository root, e.g. "deploy/chart"',
    );
    check(!(source.helm && source.kustomize), field, "sets both `helm` and `kustomize`", "keep the one the path is built with");
}

/** Checks every argument before any resource is registered. */
export function validateApplicationArgs(name: string, args: GitOpsApplicationArgs, field = "args"): void {
    requireDnsLabel(name, `${field}.name`, 253);
    requireDnsLabel(args.argoNamespace, `${field}.argoNamespace`);
    requireDnsLabel(args.project, `${field}.project`);
    requireDnsLabel(args.destination.namespace, `${field}.destination.namespace`);
    if (args.destination.cluster) validateClusterRef(args.destination.cluster, `${field}.destination.cluster`);
    if (args.waitForSync) validateWaitForSync(args.waitForSync, `${field}.waitForSync`);
    validateOwner(args.owner, `${field}.owner`);
    validateSource(args.source, `${field}.source`);
    validateSyncPolicy(args.syncPolicy, `${field}.syncPolicy`);
    const limit = args.revisionHistoryLimit ?? defaults.revisionHistoryLimit;
    check(Number.isInteger(limit) && limit >= 1, `${field}.revisionHistoryLimit`, `is ${limit}`, `use a whole number ≥ 1 (${defaults.revisionHistoryLimit} is usual)`);
    validateIgnoreDifferences(args.ignoreDifferences ?? [], `${field}.ignoreDifferences`);
}

/** Checks ignoreDifferences entries; `field` names the list. Shared with GitOpsService's resolve step. */
export function validateIgnoreDifferences(list: readonly IgnoreDifference[], field: string): void {
    list.forEach((d, i) => {
        check(d.kind.trim() !== "", `${field}[${i}].kind`, "is empty", 'name the kind whose field is ignored, e.g. "Deployment"');
        check(
            (d.jsonPointers?.length ?? 0) + (d.jqPathExpressions?.length ?? 0) + (d.managedFieldsManagers?.length ?? 0) > 0,
            `${field}[${i}]`,
            `ignores nothing on ${d.kind}`,
            "add jsonPointers (e.g. /spec/replicas), jqPathExpressions or managedFieldsManagers",
        );
        (d.jsonPointers ?? []).forEach((p, j) => check(p.startsWith("/"), `${field}[${i}].jsonPointers[${j}]`, `is "${p}"`, 'start the pointer with "/", e.g. "/spec/replicas"'));
    });
}

/** The Argo CD `source` block. */
/**
 * Argo CD's canonical form (its Go types' `omitempty`): no empty list, no false default. Argo CD's
 * controller writes `.operation` with a full-object Update of what it read, which drops them; the
 * protect-application-inputs guardrail compares the inputs before and after, so what the program
 * stores must already be what that round trip gives back.
 */
function nonEmpty<K extends string, T>(key: K, list: readonly T[] | undefined): Partial<Record<K, T[]>> {
    return list && list.length > 0 ? ({ [key]: [...list] } as Record<K, T[]>) : {};
}

/** Argo CD's annotation naming the directories an Application's render reads (webhook and cache scoping). */
export const manifestGeneratePathsAnnotation = "argocd.argoproj.io/manifest-generate-paths";

/**
 * The value of {@link manifestGeneratePathsAnnotation}: `paths` when given, else the source's own
 * directory (".", relative to `source.path`) plus the directories of Helm value files that lie
 * outside it. A commit that changes none of them is neither refreshed by a webhook nor re-rendered
 * by the repo-server (its cached manifests move to the new revision).
 */
export function manifestGeneratePaths(source: Pick<ApplicationSourceArgs, "path" | "helm">, paths?: readonly string[]): string {
    if (paths && paths.length > 0) return [...new Set(paths)].join(";");
    const outside = (source.helm?.valueFiles ?? [])
        .filter((f) => !/^[a-z]+:\/\//.test(f))
        .map((f) => path.posix.dirname(f))
        .filter((dir) => dir === ".." || dir.startsWith("../") || dir.startsWith("/"));
    return [...new Set([".", ...outside])].join(";");
}

export function renderSource(source: ApplicationSourceArgs): IApplicationSource {
    return {
        repoURL: source.repoURL,
        targetRevision: source.targetRevision,
        path: source.path,
        ...(source.helm
            ? {
                  helm: {
                      ...nonEmpty("valueFiles", source.helm.valueFiles),
                      ...nonEmpty(
                          "parameters",
                          (source.helm.parameters ?? []).map((p) => ({ name: p.name, value: p.value, ...(p.forceString ? { forceString: true } : {}) })),
                      ),
                      ...(source.helm.releaseName ? { releaseName: source.helm.releaseName } : {}),
                  },
              }
            : {}),
        ...(source.kustomize && ((source.kustomize.images ?? []).length > 0 || source.kustomize.namePrefix)
            ? {
                  kustomize: {
                      ...nonEmpty("images", source.kustomize.images),
                      ...(source.kustomize.namePrefix ? { namePrefix: source.kustomize.namePrefix } : {}),
                  },
              }
            : {}),
    };
}

/** Renders the complete Application object. Pure: unit tests and the render script call it directly. */
export function renderApplication(name: string, args: GitOpsApplicationArgs): IApplication {
    return {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Application",
        metadata: {
            name,
            namespace: args.argoNamespace,
            labels: { [labels.managedBy]: managedByValue, ...args.labels },
            annotations: {
                ...forceOwnership,
                ...ownerAnnotation(args.owner),
                ...(args.waitForSync ? waitForSyncAnnotations(args.source, args.waitForSync.timeoutSeconds) : {}),
                ...args.annotations,
            },
            // Omitted rather than empty when off: the API server drops an empty list, which would
            // show as a perpetual diff.
            ...((args.cascadeDelete ?? true) ? { finalizers: [cascadeDeleteFinalizer] } : {}),
        },
        spec: {
            project: args.project,
            source: renderSource(args.source),
            destination: renderDestination(args.destination.cluster, args.destination.namespace),
            syncPolicy: renderSyncPolicy(args.syncPolicy, args.managedNamespaceMetadata),
            ...nonEmpty(
                "ignoreDifferences",
                (args.ignoreDifferences ?? []).map((d) => ({
                    ...(d.group ? { group: d.group } : {}),
                    kind: d.kind,
                    ...(d.name ? { name: d.name } : {}),
                    ...(d.namespace ? { namespace: d.namespace } : {}),
                    ...(d.jsonPointers ? { jsonPointers: [...d.jsonPointers] } : {}),
                    ...(d.jqPathExpressions ? { jqPathExpressions: [...d.jqPathExpressions] } : {}),
                    ...(d.managedFieldsManagers ? { managedFieldsManagers: [...d.managedFieldsManagers] } : {}),
                })),
            ),
            revisionHistoryLimit: args.revisionHistoryLimit ?? defaults.revisionHistoryLimit,
        },
    };
}

export const gitOpsApplicationType = "gitops-control:argocd:GitOpsApplication";

/**
 * The Application custom resource alone, checked and rendered: what the {@link GitOpsApplication}
 * component wraps, for components that hold it directly (GitOpsService: one registration less per
 * environment).
 */
export function applicationResource(name: string, args: GitOpsApplicationArgs, opts: pulumi.CustomResourceOptions): k8s.apiextensions.CustomResource {
    validateApplicationArgs(name, args);
    const rendered = renderApplication(name, { ...args, owner: args.owner ?? defaultOwner() });
    return new k8s.apiextensions.CustomResource(
        `${name}-app`,
        { ...rendered, apiVersion: "argoproj.io/v1alpha1", kind: "Application" },
        pulumi.mergeOptions(args.provider ? { provider: args.provider } : {}, opts),
    );
}

/**
 * An Argo CD Application whose sync policy is explicit: every automated switch, every sync option,
 * retry and history limit written out, so what reconciles production is readable in one place.
 */
export class GitOpsApplication extends pulumi.ComponentResource {
    /** Name of the Application object in the Argo CD namespace. */
    readonly applicationName: pulumi.Output<string>;
    /** Namespace the Application deploys into. */
    readonly destinationNamespace: pulumi.Output<string>;
    /** The Application custom resource. */
    readonly application: k8s.apiextensions.CustomResource;

    constructor(name: string, args: GitOpsApplicationArgs, opts?: pulumi.ComponentResourceOptions) {
        validateApplicationArgs(name, args);
        super(gitOpsApplicationType, name, {}, opts);
        this.application = applicationResource(name, args, { parent: this });
        this.applicationName = this.application.metadata.name;
        this.destinationNamespace = pulumi.output(args.destination.namespace);
        this.registerOutputs({ applicationName: this.applicationName, destinationNamespace: this.destinationNamespace });
    }
}

/** The `waitForSync` settings of a stack (GitOpsApplication `waitForSync`). */
export const waitForSyncSettingsSchema = z
    .strictObject({ enabled: z.boolean(), timeoutSeconds: z.int().optional().describe(`Default: ${defaults.waitForSyncSeconds}.`) })
    .default({ enabled: false })
    .describe(
        "`pulumi up` waits until every Application is Synced and Healthy, and fails with Argo CD's message after the timeout. On for deploys; off where Argo CD cannot run yet.",
    );
