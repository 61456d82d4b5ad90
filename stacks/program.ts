import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ArgoCdCrds, checkCrdStack, qualifiedStackName } from "../components/argocd/ArgoCdCrds";
import { ControlPlane } from "../components/ControlPlane";
import { GitOpsConfigError } from "../components/core/errors";
import { LoadedStack, StackConfigError, loadStack } from "./config";
import { stackKey } from "./read";

type Overrides = Record<string, unknown>;
type SecretOverrides = Parameters<typeof loadStack>[2];

/**
 * The Pulumi program of every stack: load and validate the stack config once (a bad stack file
 * stops here, before any resource is registered), then build what the stack's `layer` installs:
 * the control plane (platform) or only the Argo CD CRDs (crds). A function, so the same program
 * runs from `index.ts` (the CLI) and inline from the Automation API (tests, scripts). `overrides`
 * replace stack config keys for this run only (what-if previews such as the prune-budget test).
 */
export async function stackProgram(overrides: Overrides = {}, secretOverrides: SecretOverrides = {}) {
    const loaded = loadStack(new Date(), overrides, secretOverrides);
    if (loaded.config.layer === "crds") return crdsProgram(loaded);
    const crds = loaded.args.argoCd.crds;
    if (crds?.kind !== "stack") return platformProgram(loaded);
    if (qualifiedStackName(crds.stack) === qualifiedStackName(pulumi.getStack())) {
        throw new StackConfigError([
            new GitOpsConfigError(
                stackKey("argocd.crds.stack"),
                `is "${crds.stack}", this stack itself, whose layer is platform: its CRDs would never be installed`,
                `name the stack that installs them (its \`${stackKey("layer")}\` is crds), e.g. ${pulumi.getStack()}-crds`,
            ),
        ]);
    }
    // The CRD stack's version, read and checked before any resource is registered: in `up` a CRD
    // stack that has not run (or runs another Argo CD) stops the program with one error.
    const checkedBy = await checkCrdStack("argocd-crd-stack", crds.stack, stackKey("argocd.crds.stack"));
    return platformProgram({ ...loaded, args: { ...loaded.args, argoCd: { ...loaded.args.argoCd, crds: { ...crds, checkedBy } } } });
}

/** The platform program (what {@link stackProgram} runs unless the stack's layer is crds), typed for callers that read its outputs. */
export function controlPlaneProgram(overrides: Overrides = {}, secretOverrides: SecretOverrides = {}) {
    const loaded = loadStack(new Date(), overrides, secretOverrides);
    if (loaded.config.layer === "crds") throw new Error("this stack's gitops-control:layer is crds: run stackProgram, which installs only the Argo CD CRDs there");
    return platformProgram(loaded);
}

function kubernetesProvider(loaded: LoadedStack, name: string, extra: k8s.ProviderArgs = {}): k8s.Provider {
    const { kubeconfig, context } = loaded.config.kubernetes;
    return new k8s.Provider(name, { ...(kubeconfig ? { kubeconfig } : {}), ...(context ? { context } : {}), ...extra });
}

/**
 * Only the Argo CD CRDs (one stack per cluster, `up` when the Argo CD version changes): the
 * platform stack names this one in `argocd.crds.stack` and checks the version exported here.
 */
function crdsProgram(loaded: LoadedStack) {
    const { config, args } = loaded;
    const source = args.argoCd.crds;
    const crds = new ArgoCdCrds("argocd", {
        ...(source && source.kind !== "stack" ? { source } : {}),
        protect: args.argoCd.protect ?? false,
        provider: kubernetesProvider(loaded, "kubernetes"),
    });
    return { environment: config.environment, layer: config.layer, argoCdVersion: crds.argoCdVersion, crds: crds.names };
}

function platformProgram(loaded: LoadedStack) {
    const { config, args, reconcileDebt } = loaded;
    const provider = kubernetesProvider(loaded, "kubernetes");
    // Same cluster, client-side apply: see ControlPlaneArgs.guardrailsProvider.
    const guardrailsProvider = kubernetesProvider(loaded, "kubernetes-guardrails", { enableServerSideApply: false });

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
