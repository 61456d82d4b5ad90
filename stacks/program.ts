import * as k8s from "@pulumi/kubernetes";
import { ControlPlane } from "../components/ControlPlane";
import { loadStack } from "./config";

/**
 * The Pulumi program: load and validate the stack config once (a bad stack file stops here, before
 * any resource is registered), then build the control plane. A function, so the same program runs
 * from `index.ts` (the CLI) and inline from the Automation API (tests, scripts). `overrides`
 * replace stack config keys for this run only (what-if previews such as the prune-budget test).
 */
export function controlPlaneProgram(overrides: Record<string, unknown> = {}, secretOverrides: Parameters<typeof loadStack>[2] = {}) {
    const { config, args, reconcileDebt } = loadStack(new Date(), overrides, secretOverrides);

    const cluster = {
        ...(config.kubernetes.kubeconfig ? { kubeconfig: config.kubernetes.kubeconfig } : {}),
        ...(config.kubernetes.context ? { context: config.kubernetes.context } : {}),
    };
    const provider = new k8s.Provider("kubernetes", cluster);
    // Same cluster, client-side apply: see ControlPlaneArgs.guardrailsProvider.
    const guardrailsProvider = new k8s.Provider("kubernetes-guardrails", { ...cluster, enableServerSideApply: false });

    const plane = new ControlPlane("gitops", { ...args, provider, guardrailsProvider });

    return {
        environment: config.environment,
        argocdNamespace: plane.argoNamespace,
        /** Secret: `pulumi stack output --show-secrets argocdAdminPassword`. */
        argocdAdminPassword: plane.adminPassword,
        /** Secret, when a service has previews: what GitHub signs pull_request webhooks with. */
        previewWebhookSecret: plane.githubWebhookSecret,
        services: plane.serviceSummaries,
        guardrailPolicies: plane.guardrails.policyNames,
        guardrailBindings: plane.guardrails.bindingNames,
        /** Open break-glass exceptions (active) and expired ones not yet removed (overdue, `revert` mode). */
        breakGlass: reconcileDebt,
    };
}
