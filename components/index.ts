/**
 * The gitops-control component library. A team's own Pulumi program imports from here:
 *
 *     import { GitOpsService } from "gitops-control/components";
 */
export * from "./guardrails/AdmissionGuardrails";
export * from "./applications/AppProject";
export * from "./argocd/ArgoCd";
// ArgoCd re-exports the CRD basics (argoCdVersion, CrdSource, crdFiles, …); the rest of the CRD module:
export { ArgoCdCrds, argoCdCrdNames, checkCrdStack, checkCrdStackVersion, crdConfigGroup, crdStackGate, qualifiedStackName, validateCrdStack } from "./argocd/ArgoCdCrds";
export type { ArgoCdCrdsArgs } from "./argocd/ArgoCdCrds";
export * from "./argocd/ArgoCdAlerts";
export * from "./breakglass/BreakGlassExpiry";
export * from "./ControlPlane";
export * from "./clusters/DestinationCluster";
export * from "./applications/destinations";
export * from "./core/errors";
export * from "./previews/GitHubPreviewHooks";
export * from "./applications/GitOpsApplication";
export * from "./GitOpsService";
export * from "./clusters/GovernedCluster";
export * from "./guardrails/rules";
export * from "./guardrails/types";
export * from "./core/labels";
export * from "./guardrails/OwnershipFence";
export * from "./previews/PreviewEnvironments";
export * from "./core/podSecurity";
export * from "./previews/PreviewJanitor";
export * from "./previews/PreviewGate";
export * from "./pruning/PruneGate";
export * from "./guardrails/rules/approve-prunes";
export * from "./argocd/RepositoryCredentials";
export * from "./core/syncPolicy";
export * from "./core/defaults";
export * from "./core/presets";
export * from "./serviceSpec";
