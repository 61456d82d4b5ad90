/**
 * The gitops-control component library. A team's own Pulumi program imports from here:
 *
 *     import { GitOpsService } from "gitops-control/components";
 */
export * from "./AdmissionGuardrails";
export * from "./AppProject";
export * from "./ArgoCd";
// ArgoCd re-exports the CRD basics (argoCdVersion, CrdSource, crdFiles, …); the rest of the CRD module:
export { ArgoCdCrds, argoCdCrdNames, checkCrdStack, checkCrdStackVersion, crdConfigGroup, crdStackGate, qualifiedStackName, validateCrdStack } from "./ArgoCdCrds";
export type { ArgoCdCrdsArgs } from "./ArgoCdCrds";
export * from "./ArgoCdAlerts";
export * from "./BreakGlassExpiry";
export * from "./ControlPlane";
export * from "./DestinationCluster";
export * from "./destinations";
export * from "./errors";
export * from "./GitHubPreviewHooks";
export * from "./GitOpsApplication";
export * from "./GitOpsService";
export * from "./GovernedCluster";
export * from "./guardrails/rules";
export * from "./guardrails/types";
export * from "./labels";
export * from "./OwnershipFence";
export * from "./PreviewEnvironments";
export * from "./podSecurity";
export * from "./PreviewJanitor";
export * from "./PreviewGate";
export * from "./PruneGate";
export * from "./guardrails/pruneApproval";
export * from "./RepositoryCredentials";
export * from "./syncPolicy";
export * from "./defaults";
export * from "./presets";
export * from "./serviceSpec";
