import type { IApplicationSet } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/ApplicationSet" with { "resolution-mode": "import" };
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { check, requireDnsLabel } from "../core/errors";
import { ApplicationSourceArgs, renderSource, validateSource } from "../applications/GitOpsApplication";
import { ClusterRef, renderDestination, validateClusterRef } from "../applications/destinations";
import { cascadeDeleteFinalizer, forceOwnership, labels, managedByValue } from "../core/labels";
import { defaultOwner, ownerAnnotation, validateOwner } from "../guardrails/OwnershipFence";
import { podSecurityLabelsFor } from "../core/podSecurity";
import { gateOwnedField, previewGateAnnotations } from "./PreviewGate";
import { SyncPolicy, renderSyncPolicy, validateSyncPolicy } from "../core/syncPolicy";
import { bounds, defaults } from "../core/defaults";

/** Reference to a Secret key holding the GitHub token, in the Argo CD namespace. */
export interface SecretKeyRef {
    readonly secretName: string;
    readonly key: string;
}

/** The GitHub side of the pull-request generator. */
export interface GitHubPullRequestSource {
    /** Organisation or user that owns the repository. */
    readonly owner: string;
    /** Repository name (without owner). */
    readonly repo: string;
    /** Only PRs carrying all these labels get a preview. @default ["preview"] */
    readonly labels?: readonly string[];
    /** GitHub Enterprise API URL. @default GitHub.com */
    readonly api?: string;
    /** Secret with GitHub App credentials, instead of a token. @default none */
    readonly appSecretName?: string;
    /**
     * The token, as a Pulumi secret: a Secret labelled `argocd.argoproj.io/secret-type: scm-creds`
     * is created for it. Excludes `tokenRef`.
     */
    readonly token?: pulumi.Input<string>;
    /** An existing Secret to read the token from. Excludes `token`. */
    readonly tokenRef?: SecretKeyRef;
}

export interface PreviewEnvironmentsArgs {
    /** Service name; previews are named `<service>-pr-<number>`. At most 48 characters. */
    readonly service: string;
    /** Namespace Argo CD runs in. The ApplicationSet and token Secret live there. */
    readonly argoNamespace: string;
    /**
     * The owning program, stamped as annotation \`gitops-control.io/owner\`; the OwnershipFence
     * refuses another program's write that would change it. @default the running program's
     * \`<project>/<stack>\`
     */
    readonly owner?: string;
    /**
     * The AppProject every preview belongs to. Fixed here on purpose: a project templated from PR
     * data would let whoever opens a PR pick a more privileged project.
     */
    readonly project: string;
    readonly github: GitHubPullRequestSource;
    /**
     * How often Argo CD polls GitHub for PRs, in seconds. A webhook makes previews appear at once;
     * polling is the fallback. At least 30 (GitHub rate limits). @default {@link defaults.requeueAfterSeconds}
     */
    readonly requeueAfterSeconds?: number;
    /** Chart or manifests for a preview. `targetRevision` defaults to the PR head commit. */
    readonly source: Omit<ApplicationSourceArgs, "targetRevision"> & { readonly targetRevision?: string };
    /** Helm parameter that receives the image tag `pr-<number>`. @default {@link defaults.imageTagParameter} */
    readonly imageTagParameter?: string;
    /**
     * Most previews of this service running at once. Previews are generated paused and the preview
     * gate (PreviewJanitor) switches them on, oldest first, up to this cap; the others wait with the
     * reason on the Application (annotation and `PreviewHeld` Event) until one closes. @default {@link defaults.previewMaxOpen}
     */
    readonly maxOpen?: number;
    /**
     * Hours a preview may run while its PR stays open; then the gate pauses it and deletes its
     * namespace (`PreviewExpired` Event). @default {@link defaults.previewTtlHours}
     */
    readonly ttlHours?: number;
    /** The previews' sync policy (the environment preset). `CreateNamespace=true` is required. */
    readonly syncPolicy: SyncPolicy;
    /**
     * Groups whose members may delete a preview Application directly; everyone else (the garbage
     * collector after a mistaken ApplicationSet delete included) is refused by admission, and only the
     * ApplicationSet controller removes previews, when their PR closes. @default ["gitops-control:break-glass"]
     */
    readonly previewDeleteGroups?: readonly string[];
    /** Cluster the previews deploy to, by registered name or API URL. @default the cluster Argo CD runs in */
    readonly cluster?: ClusterRef;
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

/** Lowest polling interval accepted: below it the GitHub API rate limit is exhausted by a few services. */
export const minRequeueAfterSeconds = bounds.minRequeueAfterSeconds;
/** Key of the token in the created scm-creds Secret. */
export const scmTokenKey = "token";
/** ServiceAccount of the chart's ApplicationSet controller: the only writer that deletes previews. */
export const applicationSetControllerAccount = "argocd-applicationset-controller";

/**
 * The admission rule that keeps previews alive when their ApplicationSet is deleted by mistake.
 * Deleting an ApplicationSet makes the garbage collector delete every Application it owns, whose
 * cascade finalizer then deletes every preview's workloads and namespace. Here only the ApplicationSet
 * controller (a closed or unlabelled PR) and the named groups may delete a preview Application of
 * this service; the collector is refused, the previews keep running, and `pulumi up` re-creates the
 * ApplicationSet, which adopts them again (same name). Pure.
 */
export function renderPreviewDeletePolicy(args: Pick<PreviewEnvironmentsArgs, "service" | "argoNamespace" | "previewDeleteGroups">) {
    const controller = `system:serviceaccount:${args.argoNamespace}:${applicationSetControllerAccount}`;
    const groups = args.previewDeleteGroups ?? ["gitops-control:break-glass"];
    const name = `gitops-control-keep-previews-${args.service}`;
    return {
        name,
        spec: {
            failurePolicy: "Fail" as const,
            matchConstraints: { resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["*"], resources: ["applications"], operations: ["DELETE" as const] }] },
            matchConditions: [
                {
                    name: "preview-of-service",
                    expression: `request.namespace == '${args.argoNamespace}' && has(oldObject.metadata.labels) && 'env' in oldObject.metadata.labels && oldObject.metadata.labels['env'] == 'preview' && '${labels.service}' in oldObject.metadata.labels && oldObject.metadata.labels['${labels.service}'] == '${args.service}'`,
                },
                {
                    name: "not-the-applicationset-controller",
                    expression: `request.userInfo.username != '${controller}' && !(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ${JSON.stringify([...groups])}))`,
                },
            ],
            validations: [
                {
                    expression: "false",
                    messageExpression: `'preview ' + oldObject.metadata.name + ' is removed by the ApplicationSet controller when its PR closes or loses its label, not by ' + request.userInfo.username + ' (a deleted ApplicationSet keeps its previews running: re-create it with pulumi up)'`,
                    reason: "Forbidden" as const,
                },
            ],
        },
    };
}

/** The cap and TTL of the preview gate, checked where a component or a stack sets them. */
export function checkPreviewLimits(limits: { readonly maxOpen?: number; readonly ttlHours?: number }, field: string): void {
    const maxOpen = limits.maxOpen ?? defaults.previewMaxOpen;
    check(
        Number.isInteger(maxOpen) && maxOpen >= 1 && maxOpen <= bounds.maxPreviewsOpen,
        `${field}.maxOpen`,
        `is ${maxOpen}`,
        `use a whole number from 1 to ${bounds.maxPreviewsOpen} (${defaults.previewMaxOpen} is the default): previews beyond it wait until one closes`,
    );
    const ttl = limits.ttlHours ?? defaults.previewTtlHours;
    check(
        Number.isInteger(ttl) && ttl >= 1 && ttl <= bounds.maxPreviewTtlHours,
        `${field}.ttlHours`,
        `is ${ttl}`,
        `use a whole number of hours from 1 to ${bounds.maxPreviewTtlHours} (${defaults.previewTtlHours} is the default): a preview running longer is paused and its namespace deleted`,
    );
}

/** Checks every argument before any resource is registered. */
export function validatePreviewArgs(name: string, args: PreviewEnvironmentsArgs, field = "args"): void {
    requireDnsLabel(name, `${field}.name`);
    requireDnsLabel(args.service, `${field}.service`, 48);
    requireDnsLabel(args.argoNamespace, `${field}.argoNamespace`);
    requireDnsLabel(args.project, `${field}.project`);
    validateOwner(args.owner, `${field}.owner`);
    check(!args.project.includes("{{"), `${field}.project`, "is templated from pull-request data, which lets whoever opens a PR choose the project", "set a fixed project name");
    check(/^[A-Za-z0-9_.-]+$/.test(args.github.owner), `${field}.github.owner`, `is "${args.github.owner}"`, "use the GitHub organisation or user name");
    check(/^[A-Za-z0-9_.-]+$/.test(args.github.repo), `${field}.github.repo`, `is "${args.github.repo}"`, "use the repository name without owner or URL");
    check(
        (args.github.token === undefined) !== (args.github.tokenRef === undefined),
        `${field}.github`,
        args.github.token === undefined ? "has neither `token` nor `tokenRef`" : "has both `token` and `tokenRef`",
        "pass the stack's GitHub token as `token` (a Secret is created) or point `tokenRef` at an existing Secret",
    );
    const requeue = args.requeueAfterSeconds ?? defaults.requeueAfterSeconds;
    check(
        Number.isInteger(requeue) && requeue >= minRequeueAfterSeconds,
        `${field}.requeueAfterSeconds`,
        `is ${requeue}; polling that often exhausts the GitHub API rate limit`,
        `use at least ${minRequeueAfterSeconds} (${defaults.requeueAfterSeconds} is usual; add the webhook for instant previews)`,
    );
    check(
        args.syncPolicy.syncOptions.includes("CreateNamespace=true"),
        `${field}.syncPolicy.syncOptions`,
        "lacks CreateNamespace=true, so a preview has no namespace to deploy into",
        'add "CreateNamespace=true"',
    );
    checkPreviewLimits(args, field);
    validateSource({ ...args.source, targetRevision: args.source.targetRevision ?? "{{.head_sha}}" }, `${field}.source`);
    validateSyncPolicy(args.syncPolicy, `${field}.syncPolicy`);
    if (args.cluster) validateClusterRef(args.cluster, `${field}.cluster`);
}

/** Go-template expression for a preview's name and namespace: `<service>-pr-<number>`. */
export function previewName(service: string): string {
    return `${service}-pr-{{.number}}`;
}

/** Renders the ApplicationSet. Pure. `tokenRef` is where the generator reads the token from. */
export function renderPreviewApplicationSet(name: string, args: PreviewEnvironmentsArgs, tokenRef: SecretKeyRef): IApplicationSet {
    const preview = previewName(args.service);
    const tag = "pr-{{.number}}";
    const helm = args.source.helm;
    const source = renderSource({
        ...args.source,
        targetRevision: args.source.targetRevision ?? "{{.head_sha}}",
        ...(helm || !args.source.kustomize
            ? {
                  helm: {
                      ...helm,
                      parameters: [...(helm?.parameters ?? []), { name: args.imageTagParameter ?? defaults.imageTagParameter, value: tag, forceString: true }],
                  },
              }
            : {}),
    });
    const previewLabels = {
        env: "preview",
        pr: "{{.number}}",
        [labels.environment]: "preview",
        [labels.service]: args.service,
        [labels.managedBy]: managedByValue,
    };
    return {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "ApplicationSet",
        metadata: {
            name,
            namespace: args.argoNamespace,
            labels: { [labels.service]: args.service, [labels.managedBy]: managedByValue },
            annotations: { ...forceOwnership, ...ownerAnnotation(args.owner) },
        },
        spec: {
            goTemplate: true,
            // A typo in the template fails the generation instead of rendering "<no value>" names.
            goTemplateOptions: ["missingkey=error"],
            generators: [
                {
                    pullRequest: {
                        github: {
                            owner: args.github.owner,
                            repo: args.github.repo,
                            labels: [...(args.github.labels ?? ["preview"])],
                            tokenRef: { secretName: tokenRef.secretName, key: tokenRef.key },
                            ...(args.github.api ? { api: args.github.api } : {}),
                            ...(args.github.appSecretName ? { appSecretName: args.github.appSecretName } : {}),
                        },
                        requeueAfterSeconds: args.requeueAfterSeconds ?? defaults.requeueAfterSeconds,
                    },
                },
            ],
            // A closed PR disappears from the generator; "sync" lets the ApplicationSet delete its Application.
            syncPolicy: { applicationsSync: "sync", preserveResourcesOnDeletion: false },
            // The preview gate owns the automated switch and its verdict (see PreviewGate.ts): the
            // ApplicationSet's updates leave both as the gate set them.
            ignoreApplicationDifferences: [{ jsonPointers: [gateOwnedField] }],
            preservedFields: { annotations: [previewGateAnnotations.held] },
            template: {
                metadata: {
                    name: preview,
                    labels: previewLabels,
                    annotations: {
                        [previewGateAnnotations.maxOpen]: String(args.maxOpen ?? defaults.previewMaxOpen),
                        [previewGateAnnotations.ttlHours]: String(args.ttlHours ?? defaults.previewTtlHours),
                    },
                    finalizers: [cascadeDeleteFinalizer],
                },
                spec: {
                    project: args.project,
                    source,
                    destination: renderDestination(args.cluster, preview),
                    // Generated paused: the preview gate switches it on within the service's cap.
                    syncPolicy: renderSyncPolicy(
                        { ...args.syncPolicy, automated: { ...args.syncPolicy.automated, enabled: false } },
                        {
                            labels: { ...previewLabels, ...podSecurityLabelsFor("preview") },
                            // Argo CD never deletes a namespace it created with CreateNamespace=true. The
                            // tracking id makes the namespace one of the Application's own resources, so
                            // the cascade delete of a closed PR's Application removes it too. The
                            // preview janitor (label env=preview) is the backstop for anything left.
                            annotations: { "argocd.argoproj.io/tracking-id": `${preview}:/Namespace:${preview}/${preview}` },
                        },
                    ),
                },
            },
        },
    };
}

/** Type token of the PreviewEnvironments component (its children's URNs carry it: see movedOutOfComponent). */
export const previewEnvironmentsType = "gitops-control:argocd:PreviewEnvironments";

/** The Kubernetes objects of a service's previews. */
export interface PreviewObjects {
    readonly applicationSet: k8s.apiextensions.CustomResource;
    /** The scm-creds Secret, when `github.token` is given. */
    readonly tokenSecret?: k8s.core.v1.Secret;
    /** Name of the Secret the generator reads the GitHub token from. */
    readonly tokenSecretName: string;
}

/**
 * The objects of a service's previews, for args checked by validatePreviewArgs: the ApplicationSet, its token
 * Secret (with `github.token`) and the admission policy and binding that keep running previews
 * alive. `options(child)` gives each child's parent and extra options: `PreviewEnvironments` parents
 * them to itself; `GitOpsService` creates them directly (no wrapper component: one registration
 * less per service) with an alias to their URN under the component (movedOutOfComponent).
 */
export function previewObjects(
    name: string,
    args: PreviewEnvironmentsArgs,
    options: (child: { readonly type: string; readonly name: string }) => pulumi.CustomResourceOptions,
): PreviewObjects {
    const opts = (type: string, childName: string, extra: pulumi.CustomResourceOptions = {}): pulumi.CustomResourceOptions =>
        pulumi.mergeOptions({ ...(args.provider ? { provider: args.provider } : {}), ...options({ type, name: childName }) }, extra);
    // validatePreviewArgs guarantees exactly one of `token` and `tokenRef`.
    const tokenRef = args.github.tokenRef ?? { secretName: `${args.service}-scm-token`, key: scmTokenKey };
    const tokenSecret =
        args.github.token === undefined
            ? undefined
            : new k8s.core.v1.Secret(
                  `${name}-scm-token`,
                  {
                      metadata: {
                          name: tokenRef.secretName,
                          namespace: args.argoNamespace,
                          labels: { "argocd.argoproj.io/secret-type": "scm-creds", [labels.managedBy]: managedByValue },
                      },
                      type: "Opaque",
                      stringData: { [tokenRef.key]: pulumi.secret(args.github.token) },
                  },
                  opts("kubernetes:core/v1:Secret", `${name}-scm-token`, { additionalSecretOutputs: ["data", "stringData"] }),
              );
    const rendered = renderPreviewApplicationSet(name, { ...args, owner: args.owner ?? defaultOwner() }, tokenRef);
    const applicationSet = new k8s.apiextensions.CustomResource(
        `${name}-appset`,
        { ...rendered, apiVersion: "argoproj.io/v1alpha1", kind: "ApplicationSet" },
        // The Secret must exist before the generator first polls GitHub.
        opts("kubernetes:argoproj.io/v1alpha1:ApplicationSet", `${name}-appset`, tokenSecret ? { dependsOn: [tokenSecret] } : {}),
    );
    const keep = renderPreviewDeletePolicy(args);
    const keepLabels = { [labels.service]: args.service, [labels.managedBy]: managedByValue };
    const policyType = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy";
    const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(
        `${name}-keep`,
        { metadata: { name: keep.name, labels: keepLabels }, spec: keep.spec },
        opts(policyType, `${name}-keep`),
    );
    new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
        `${name}-keep`,
        {
            metadata: { name: keep.name, labels: keepLabels },
            // Always Deny: it limits who removes running previews, it is no environment guardrail.
            spec: { policyName: policy.metadata.name, validationActions: ["Deny"] },
        },
        opts(`${policyType}Binding`, `${name}-keep`, { dependsOn: [policy] }),
    );
    return { applicationSet, ...(tokenSecret ? { tokenSecret } : {}), tokenSecretName: tokenRef.secretName };
}

/**
 * Pull-request previews: an ApplicationSet with the GitHub pull-request generator that creates one
 * Application and namespace per labelled PR, and removes both when the PR closes.
 */
export class PreviewEnvironments extends pulumi.ComponentResource {
    readonly applicationSetName: pulumi.Output<string>;
    /** Name of the Secret the generator reads the GitHub token from. */
    readonly tokenSecretName: pulumi.Output<string>;
    readonly applicationSet: k8s.apiextensions.CustomResource;
    /** The scm-creds Secret, when this component created it. */
    readonly tokenSecret?: k8s.core.v1.Secret;

    constructor(name: string, args: PreviewEnvironmentsArgs, opts?: pulumi.ComponentResourceOptions) {
        validatePreviewArgs(name, args);
        super(previewEnvironmentsType, name, {}, opts);
        const objects = previewObjects(name, args, () => ({ parent: this }));
        this.applicationSet = objects.applicationSet;
        this.tokenSecret = objects.tokenSecret;
        this.applicationSetName = this.applicationSet.metadata.name;
        this.tokenSecretName = pulumi.output(objects.tokenSecretName);
        this.registerOutputs({ applicationSetName: this.applicationSetName, tokenSecretName: this.tokenSecretName });
    }
}
