/**
 * The gitops-control component library's public API: what a team's own Pulumi program needs. It
 * imports from here:
 *
 *     import { GitOpsService } from "gitops-control/components";
 *
 * Each component with its args type and the validator its constructor runs (so a program can check
 * its args before it builds anything), the rule library, the environment presets and sync-policy
 * types, the errors the checks throw, the label vocabulary and the defaults table. Renderers,
 * settings schemas and the helpers the concepts share stay inside their folders (the stack
 * pipeline in stacks/ and the tests import them from there); tests/unit/layout.test.ts lists what
 * this file exports, so a change to the public API is a deliberate one.
 */

// The two compositions: what a team instantiates, and what a stack builds.
export { GitOpsService, gitOpsServices, validateServiceArgs, validateServicesArgs, previewProjectName } from "./GitOpsService";
export type { GitOpsServiceArgs, LegacyGitOpsServiceArgs, NamedGitOpsServiceArgs } from "./GitOpsService";
export type { ServiceArgs, ServiceEnvironment, ServicePreviews } from "./serviceSpec";
export { ControlPlane } from "./ControlPlane";
export type { ControlPlaneArgs, ControlPlaneDestination, ControlPlaneService, ServiceSummary } from "./ControlPlane";

// Argo CD.
export { ArgoCd, validateArgoCdArgs, pinnedChart } from "./argocd/ArgoCd";
export type { ArgoCdArgs, ArgoCdReplicas, ArgoCdSettings, ChartSource, ResourceExclusion } from "./argocd/ArgoCd";
export { ArgoCdCrds, argoCdCrdNames, argoCdVersion, protectCrds, retainCrds } from "./argocd/ArgoCdCrds";
export type { ArgoCdCrdsArgs, CrdSource } from "./argocd/ArgoCdCrds";
export { ArgoCdAlerts } from "./argocd/ArgoCdAlerts";
export type { ArgoCdAlertsArgs } from "./argocd/ArgoCdAlerts";
export { RepositoryCredentials, validateRepositoryCredentialsArgs } from "./argocd/RepositoryCredentials";
export type { RepositoryAuth, RepositoryCredentialsArgs } from "./argocd/RepositoryCredentials";

// Applications and their projects.
export { AppProject, validateAppProjectArgs } from "./applications/AppProject";
export type { AppProjectArgs, ClusterResource, GroupKind, ProjectDestination, SyncWindow } from "./applications/AppProject";
export { GitOpsApplication, validateApplicationArgs } from "./applications/GitOpsApplication";
export type { ApplicationSourceArgs, GitOpsApplicationArgs, HelmOptions, HelmParameter, IgnoreDifference, KustomizeOptions } from "./applications/GitOpsApplication";
export { inCluster } from "./applications/destinations";
export type { ClusterRef } from "./applications/destinations";

// Pull-request previews.
export { PreviewEnvironments, validatePreviewArgs } from "./previews/PreviewEnvironments";
export type { GitHubPullRequestSource, PreviewEnvironmentsArgs, SecretKeyRef } from "./previews/PreviewEnvironments";
export { GitHubPreviewHooks, validateGitHubArgs } from "./previews/GitHubPreviewHooks";
export type { GitHubPreviewHooksArgs } from "./previews/GitHubPreviewHooks";
export { PreviewJanitor, validateJanitorArgs } from "./previews/PreviewJanitor";
export type { PreviewJanitorArgs } from "./previews/PreviewJanitor";
export { PreviewGate, validatePreviewGateArgs } from "./previews/PreviewGate";
export type { PreviewGateArgs } from "./previews/PreviewGate";

// Pruning, break-glass, clusters.
export { PruneGate, validatePruneGateArgs } from "./pruning/PruneGate";
export type { PruneGateArgs } from "./pruning/PruneGate";
export { BreakGlassExpiry, validateBreakGlassExpiryArgs } from "./breakglass/BreakGlassExpiry";
export type { BreakGlassExpiryArgs } from "./breakglass/BreakGlassExpiry";
export { DestinationCluster, validateDestinationClusterArgs } from "./clusters/DestinationCluster";
export type { DestinationClusterArgs } from "./clusters/DestinationCluster";
export { GovernedCluster, validateGovernedClusterArgs } from "./clusters/GovernedCluster";
export type { GovernedClusterArgs, GovernedNamespace } from "./clusters/GovernedCluster";

// Guardrails: the components and the rule library (one builder per rule, defaultRules() composing them).
export { AdmissionGuardrails, validateGuardrailArgs } from "./guardrails/AdmissionGuardrails";
export type { AdmissionGuardrailsArgs, GuardrailBinding } from "./guardrails/AdmissionGuardrails";
export { OwnershipFence, validateOwnershipFenceArgs } from "./guardrails/OwnershipFence";
export type { OwnershipFenceArgs } from "./guardrails/OwnershipFence";
export {
    approvePrunes,
    capReplicas,
    clusterControllerExemptions,
    defaultRequiredLabels,
    defaultRules,
    disallowHostAccess,
    disallowLatestImage,
    governAppProjects,
    governArgoCdNamespace,
    keepGovernedNamespaces,
    protectApplicationInputs,
    protectNamespaceLabels,
    protectSyncPolicy,
    requireApplicationEnvironment,
    requireLabels,
    requireNamespacePodSecurity,
    requirePodSecurityContext,
    requireResources,
    requireServiceProject,
    restrictApplicationSets,
    restrictContainerPrivileges,
    restrictSecurityProfiles,
    restrictWorkloadWriters,
} from "./guardrails/rules";
export type {
    AllowedIgnoreDifference,
    ApprovePrunesOptions,
    CapReplicasOptions,
    DefaultRulesOptions,
    DisallowHostAccessOptions,
    DisallowLatestImageOptions,
    GovernAppProjectsOptions,
    GovernArgoCdNamespaceOptions,
    KeepGovernedNamespacesOptions,
    ProtectApplicationInputsOptions,
    ProtectNamespaceLabelsOptions,
    ProtectSyncPolicyOptions,
    RequireApplicationEnvironmentOptions,
    RequireLabelsOptions,
    RequireNamespacePodSecurityOptions,
    RequirePodSecurityContextOptions,
    RequireResourcesOptions,
    RequireServiceProjectOptions,
    RestrictApplicationSetsOptions,
    RestrictContainerPrivilegesOptions,
    RestrictSecurityProfilesOptions,
    RestrictWorkloadWritersOptions,
    WriterExemption,
} from "./guardrails/rules";
export type * from "./guardrails/types";

// The core every component shares: presets, sync policy, errors, labels, defaults.
export { environmentClasses, environmentPresets } from "./core/presets";
export type { EnvironmentClass, EnvironmentPreset } from "./core/presets";
export { syncOptions } from "./core/syncPolicy";
export type { AutomatedSync, ManagedNamespaceMetadata, PrunePropagationPolicy, SyncOption, SyncPolicy, SyncPolicyOverrides, SyncRetry } from "./core/syncPolicy";
export { GitOpsConfigError, GitOpsConfigErrors, checkAll, collectProblems } from "./core/errors";
export { annotations, labels } from "./core/labels";
export { defaults } from "./core/defaults";
