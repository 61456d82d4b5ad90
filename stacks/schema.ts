import { z } from "zod";
import { defaults } from "../components/core/defaults";
import { serviceEntrySettings } from "../components/serviceSpec";
import { argoCdSettingsSchema } from "../components/argocd/ArgoCd";
import { gitHubSettingsSchema } from "../components/previews/GitHubPreviewHooks";
import { destinationsSettingsSchema } from "../components/clusters/DestinationCluster";
import { repositoryCredentialsSettingsSchema } from "../components/argocd/RepositoryCredentials";
import { waitForSyncSettingsSchema } from "../components/applications/GitOpsApplication";
import { previewJanitorSettingsSchema } from "../components/previews/PreviewJanitor";
import { pruneGateSettingsSchema } from "../components/pruning/PruneGate";
import { breakGlassSettingsSchema, breakGlassPolicySettingsSchema } from "../components/breakglass/BreakGlassExpiry";
import { guardrailSettingsSchema } from "../components/guardrails/AdmissionGuardrails";
import { stackKinds } from "./presets";

/**
 * The stack config schema: every key the program reads, in one place, each with its description
 * (the README's config table and Pulumi.yaml's key descriptions are generated from it:
 * `npm run docs:config`). Strict objects reject unknown keys, so a typo (`selfheal`) fails the
 * preview instead of being silently ignored. Closed lists and defaults come from the component
 * library (components/core/defaults.ts, presets.ts, syncPolicy.ts); nothing is repeated here.
 */

/** A service entry: the service concept's settings (components/serviceSpec.ts) plus what only a stack file says. */
export const serviceSchema = z.strictObject({
    name: z.string().describe("Service name: AppProject `<name>`, Applications `<name>-<env>`, previews `<name>-pr-<n>`."),
    ...serviceEntrySettings.shape,
    sharedRepository: z.boolean().optional().describe("Set on every service that deploys from the same repoURL as another service, to say it is on purpose."),
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
    argocd: argoCdSettingsSchema,
    github: gitHubSettingsSchema,
    githubToken: z.string().optional().describe("Secret only: `pulumi config set --secret gitops-control:githubToken <token>`."),
    services: z.array(serviceSchema).default([]).describe("The services Argo CD deploys."),
    destinations: destinationsSettingsSchema,
    destinationTokens: z
        .record(z.string(), z.string())
        .optional()
        .describe("Secret only, a map of destination name to bearer token: `pulumi config set --secret --path 'gitops-control:destinationTokens.<name>' <token>`."),
    destinationKubeconfigs: z
        .record(z.string(), z.string())
        .optional()
        .describe(
            "Secret only, a map of destination name to kubeconfig (contents): the program then governs that cluster (guardrails, Pod Security labels, namespace protections) and creates Argo CD's least-privilege token there, instead of `destinationTokens`: `pulumi config set --secret --path 'gitops-control:destinationKubeconfigs.<name>' \"$(cat kubeconfig)\"`.",
        ),
    defaultCluster: z
        .string()
        .optional()
        .describe("Cluster every service deploys to unless it names one (a `destinations` name or in-cluster). Default: the cluster Argo CD runs in."),
    repositoryCredentials: repositoryCredentialsSettingsSchema,
    repositorySecrets: z
        .record(z.string(), z.string())
        .optional()
        .describe("Secret only, a map of credential name to token, SSH key or App key: `pulumi config set --secret --path 'gitops-control:repositorySecrets.<name>' <value>`."),
    waitForSync: waitForSyncSettingsSchema,
    previewJanitor: previewJanitorSettingsSchema,
    pruneBudget: z.int().min(0).max(1000).default(defaults.pruneBudget).describe("Most deletes + replaces a PR's preview may propose without the prune-approved label."),
    pruneGate: pruneGateSettingsSchema,
    breakGlass: breakGlassSettingsSchema,
    breakGlassPolicy: breakGlassPolicySettingsSchema,
    guardrails: guardrailSettingsSchema,
    applicationPruneBudget: z
        .strictObject({
            prod: z.int().min(0).max(10_000),
            staging: z.int().min(0).max(10_000),
            preview: z.int().min(0).max(10_000),
        })
        .partial()
        .default({})
        .describe(
            `Most objects a config-repository PR may remove from one Application (\`npm run config-check\`) without the prune-approved label, per environment; prod's is also the prune gate's budget at sync time (\`pruneGate\`). Defaults: prod ${defaults.applicationPruneBudget.prod}, staging ${defaults.applicationPruneBudget.staging}, preview ${defaults.applicationPruneBudget.preview}.`,
        ),
});

export type StackConfig = z.infer<typeof stackConfigSchema>;
export type ServiceConfig = z.infer<typeof serviceSchema>;

export { formatPath } from "../components/core/errors";
