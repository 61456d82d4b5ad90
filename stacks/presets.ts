import type { EnvironmentClass } from "../components/core/presets";

// Environment presets belong to the component library (GitOpsService applies them); re-exported
// here for code that imported them from the stack layer.
export { environmentPresets } from "../components/core/presets";
export type { EnvironmentClass, EnvironmentPreset } from "../components/core/presets";

/** Stack kinds: one Argo CD install each. `local` targets the local API server of the tests. */
export const stackKinds = ["prod", "staging", "local"] as const;
export type StackKind = (typeof stackKinds)[number];

/** What a stack kind fixes for its Argo CD install. */
export interface StackPreset {
    /** Environment classes a service deploys to when it names none. */
    readonly defaultEnvironments: readonly EnvironmentClass[];
    /** Environment classes a service may deploy to on this stack. */
    readonly allowedEnvironments: readonly EnvironmentClass[];
    readonly ha: boolean;
    /** Protect the Argo CD namespace, CRDs and guardrails from deletion. */
    readonly protect: boolean;
    /** Pull-request previews allowed in this stack. */
    readonly previews: boolean;
    /** Do not wait for workloads (no kubelet on the local API server). */
    readonly skipAwait: boolean;
    /**
     * Applications carry Argo CD's cascade-delete finalizer, so deleting one deletes what it
     * deployed. On everywhere: the local stack runs Argo CD's reconcilers out of cluster
     * (scripts/cluster/reconcilers.ts), which remove the finalizer as in-cluster Argo CD does.
     */
    readonly cascadeDelete: boolean;
}

export const stackPresets: Readonly<Record<StackKind, StackPreset>> = {
    prod: { defaultEnvironments: ["prod"], allowedEnvironments: ["prod"], ha: true, protect: true, previews: false, skipAwait: false, cascadeDelete: true },
    staging: { defaultEnvironments: ["staging"], allowedEnvironments: ["staging"], ha: false, protect: false, previews: true, skipAwait: false, cascadeDelete: true },
    local: { defaultEnvironments: ["staging", "prod"], allowedEnvironments: ["staging", "prod"], ha: false, protect: false, previews: true, skipAwait: true, cascadeDelete: true },
};
