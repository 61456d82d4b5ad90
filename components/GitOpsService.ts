import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { SyncWindow, appProjectResource, appProjectType } from "./AppProject";
import { check, requireDnsLabel } from "./errors";
import { ApplicationSourceArgs, IgnoreDifference, applicationResource, gitOpsApplicationType } from "./GitOpsApplication";
import { labels } from "./labels";
import { movedOutOfComponent } from "./options";
import { GitHubPullRequestSource, PreviewEnvironments } from "./PreviewEnvironments";
import { SyncPolicy } from "./syncPolicy";

/** One environment a service deploys to. */
export interface ServiceEnvironment {
    /** Environment class (`prod`, `staging`); labels the namespace, which selects the guardrails. */
    readonly name: string;
    /** Branch, tag or commit deployed there. */
    readonly targetRevision: string;
    /** The environment's sync policy (its preset, plus any service override). */
    readonly syncPolicy: SyncPolicy;
    /** @default `<service>-<name>` */
    readonly namespace?: string;
    /** Helm values files for this environment. @default [`values-<name>.yaml`] when the source uses Helm */
    readonly valueFiles?: readonly string[];
    /** @default 10 */
    readonly revisionHistoryLimit?: number;
    /** Annotations on the Application (break-glass audit). @default {} */
    readonly annotations?: Readonly<Record<string, string>>;
}

/** Pull-request previews for the service. */
export interface ServicePreviews {
    readonly github: GitHubPullRequestSource;
    readonly syncPolicy: SyncPolicy;
    /** @default 300 */
    readonly requeueAfterSeconds?: number;
    /** @default "image.tag" */
    readonly imageTagParameter?: string;
}

export interface GitOpsServiceArgs {
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
    /** Applications carry Argo CD's cascade-delete finalizer (see GitOpsApplication). @default true */
    readonly cascadeDelete?: boolean;
    /** Extra project settings. @default none */
    readonly project?: { readonly syncWindows?: readonly SyncWindow[]; readonly annotations?: Readonly<Record<string, string>> };
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

/** Checks what is not checked by the child components. */
export function validateServiceArgs(name: string, args: GitOpsServiceArgs, field = "args"): void {
    requireDnsLabel(name, `${field}.name`, 48);
    requireDnsLabel(args.team, `${field}.team`);
    check(args.environments.length > 0, `${field}.environments`, "is empty", 'deploy the service to at least one environment, e.g. ["staging"]');
    const seen = new Set<string>();
    args.environments.forEach((env, i) => {
        check(!seen.has(env.name), `${field}.environments[${i}].name`, `repeats "${env.name}"`, "list each environment once");
        seen.add(env.name);
    });
}

/**
 * What a team instantiates for one service: a least-privilege AppProject, one Application per
 * environment with that environment's sync preset, and optionally pull-request previews.
 */
export class GitOpsService extends pulumi.ComponentResource {
    readonly projectName: pulumi.Output<string>;
    /** Application names by environment. */
    readonly applicationNames: pulumi.Output<Record<string, string>>;
    /** The previews' ApplicationSet name, when previews are on. */
    readonly previewApplicationSetName: pulumi.Output<string | undefined>;
    /** The AppProject custom resource (held directly: no wrapper component, see movedOutOfComponent). */
    readonly project: k8s.apiextensions.CustomResource;
    /** The Application custom resources by environment. */
    readonly applications: Record<string, k8s.apiextensions.CustomResource> = {};
    readonly previews?: PreviewEnvironments;

    constructor(name: string, args: GitOpsServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        validateServiceArgs(name, args);
        super("gitops-control:service:GitOpsService", name, {}, opts);
        const argoNamespace = args.argoNamespace ?? "argocd";
        const namespaceOf = (env: ServiceEnvironment): string => env.namespace ?? `${name}-${env.name}`;
        const previewGlob = `${name}-pr-*`;
        this.project = appProjectResource(
            name,
            {
                argoNamespace,
                description: `${name} (team ${args.team}), managed by gitops-control`,
                sourceRepos: [args.source.repoURL],
                destinations: [...args.environments.map((env) => ({ namespace: namespaceOf(env) })), ...(args.previews ? [{ namespace: previewGlob }] : [])],
                syncWindows: args.project?.syncWindows ?? [],
                annotations: args.project?.annotations ?? {},
                provider: args.provider,
            },
            { parent: this, ...movedOutOfComponent(this, appProjectType, { type: "kubernetes:argoproj.io/v1alpha1:AppProject", name: `${name}-project` }) },
        );
        for (const env of args.environments) {
            const helm = args.source.helm ?? (args.source.kustomize ? undefined : {});
            this.applications[env.name] = applicationResource(
                `${name}-${env.name}`,
                {
                    argoNamespace,
                    project: name,
                    source: {
                        ...args.source,
                        targetRevision: env.targetRevision,
                        ...(helm ? { helm: { ...helm, valueFiles: env.valueFiles ?? helm.valueFiles ?? [`values-${env.name}.yaml`] } } : {}),
                    },
                    destination: { namespace: namespaceOf(env) },
                    syncPolicy: env.syncPolicy,
                    managedNamespaceMetadata: {
                        labels: { [labels.environment]: env.name, [labels.team]: args.team, [labels.service]: name },
                    },
                    ignoreDifferences: args.ignoreDifferences ?? [],
                    revisionHistoryLimit: env.revisionHistoryLimit ?? 10,
                    cascadeDelete: args.cascadeDelete ?? true,
                    labels: { [labels.environment]: env.name, [labels.team]: args.team, [labels.service]: name },
                    annotations: env.annotations ?? {},
                    provider: args.provider,
                },
                { parent: this, dependsOn: [this.project], ...movedOutOfComponent(this, gitOpsApplicationType, { type: "kubernetes:argoproj.io/v1alpha1:Application", name: `${name}-${env.name}-app` }) },
            );
        }
        if (args.previews) {
            this.previews = new PreviewEnvironments(
                `${name}-previews`,
                {
                    service: name,
                    argoNamespace,
                    project: name,
                    github: args.previews.github,
                    requeueAfterSeconds: args.previews.requeueAfterSeconds ?? 300,
                    imageTagParameter: args.previews.imageTagParameter ?? "image.tag",
                    source: {
                        ...args.source,
                        ...(args.source.kustomize ? {} : { helm: { ...args.source.helm, valueFiles: args.source.helm?.valueFiles ?? ["values-preview.yaml"] } }),
                    },
                    syncPolicy: args.previews.syncPolicy,
                    provider: args.provider,
                },
                { parent: this, dependsOn: [this.project] },
            );
        }
        this.projectName = this.project.metadata.name;
        this.applicationNames = pulumi.all(Object.fromEntries(Object.entries(this.applications).map(([env, app]) => [env, app.metadata.name])));
        this.previewApplicationSetName = this.previews ? this.previews.applicationSetName : pulumi.output(undefined);
        this.registerOutputs({
            projectName: this.projectName,
            applicationNames: this.applicationNames,
            previewApplicationSetName: this.previewApplicationSetName,
        });
    }
}
