import * as k8s from "@pulumi/kubernetes";
import { ControlPlane } from "./components/ControlPlane";
import { loadStack } from "./stacks/config";

// Config is parsed and validated once, here at the edge: a bad stack file stops the program before
// any resource is registered.
const { config, args, reconcileDebt } = loadStack();

const provider = new k8s.Provider("kubernetes", {
    ...(config.kubernetes.kubeconfig ? { kubeconfig: config.kubernetes.kubeconfig } : {}),
    ...(config.kubernetes.context ? { context: config.kubernetes.context } : {}),
});

const plane = new ControlPlane("gitops", { ...args, provider });

export const environment = config.environment;
export const argocdNamespace = plane.argoNamespace;
/** Secret: `pulumi stack output --show-secrets argocdAdminPassword`. */
export const argocdAdminPassword = plane.adminPassword;
export const services = plane.serviceSummaries;
export const guardrailPolicies = plane.guardrails.policyNames;
export const guardrailBindings = plane.guardrails.bindingNames;
/** Open break-glass exceptions (active) and expired ones not yet removed (overdue, `revert` mode). */
export const breakGlass = reconcileDebt;
