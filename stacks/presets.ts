import type { ValidationAction } from "../components/guardrails/types";
import type { SyncPolicy } from "../components/syncPolicy";

/** Environment classes an Application can deploy to; namespaces carry the class as a label. */
export type EnvironmentClass = "prod" | "staging";

/** Stack kinds: one Argo CD install each. `local` targets the local API server of the tests. */
export type StackKind = "prod" | "staging" | "local";

/** What an environment class fixes for every Application and namespace in it. */
export interface EnvironmentPreset {
    readonly syncPolicy: SyncPolicy;
    /** How guardrails act on namespaces of this class. */
    readonly validationActions: readonly ValidationAction[];
    readonly revisionHistoryLimit: number;
    /** Prod refuses sync policies that can leave ghosts or prune everything, unless a reason is given. */
    readonly requireSafeSyncPolicy: boolean;
}

const retry = (limit: number, refresh: boolean): SyncPolicy["retry"] => ({
    limit,
    backoff: { duration: "10s", factor: 2, maxDuration: "5m" },
    refresh,
});

/**
 * The one typed table of per-environment differences. Prod is strict: Git wins every time (prune,
 * self-heal), an empty render never syncs, and guardrails deny. Staging is lenient: live
 * experiments are allowed to stand until the next Git change (no self-heal) and guardrails warn.
 */
export const environmentPresets: Readonly<Record<EnvironmentClass | "preview", EnvironmentPreset>> = {
    prod: {
        syncPolicy: {
            automated: { enabled: true, prune: true, selfHeal: true, allowEmpty: false },
            syncOptions: [
                "CreateNamespace=true",
                // Delete last, after the new version is healthy: a rename never leaves a gap.
                "PruneLast=true",
                "RespectIgnoreDifferences=true",
                "ApplyOutOfSyncOnly=true",
                "PrunePropagationPolicy=foreground",
                // Two Applications claiming one object is an incident, not a tie to break silently.
                "FailOnSharedResource=true",
                "ServerSideApply=true",
            ],
            retry: retry(5, false),
        },
        validationActions: ["Deny", "Audit"],
        revisionHistoryLimit: 20,
        requireSafeSyncPolicy: true,
    },
    staging: {
        syncPolicy: {
            automated: { enabled: true, prune: true, selfHeal: false, allowEmpty: false },
            syncOptions: ["CreateNamespace=true", "PruneLast=true", "RespectIgnoreDifferences=true", "ApplyOutOfSyncOnly=true", "ServerSideApply=true"],
            retry: retry(3, true),
        },
        validationActions: ["Warn", "Audit"],
        revisionHistoryLimit: 10,
        requireSafeSyncPolicy: false,
    },
    preview: {
        syncPolicy: {
            automated: { enabled: true, prune: true, selfHeal: true, allowEmpty: false },
            syncOptions: ["CreateNamespace=true", "PruneLast=true", "ApplyOutOfSyncOnly=true", "ServerSideApply=true"],
            retry: retry(3, true),
        },
        validationActions: ["Warn", "Audit"],
        revisionHistoryLimit: 3,
        requireSafeSyncPolicy: false,
    },
};

/** What a stack kind fixes for its Argo CD install. */
export interface StackPreset {
    /** Environment classes a service deploys to when it names none. */
    readonly defaultEnvironments: readonly EnvironmentClass[];
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
     * (scripts/lib/reconcilers.ts), which remove the finalizer as in-cluster Argo CD does.
     */
    readonly cascadeDelete: boolean;
}

export const stackPresets: Readonly<Record<StackKind, StackPreset>> = {
    prod: { defaultEnvironments: ["prod"], ha: true, protect: true, previews: false, skipAwait: false, cascadeDelete: true },
    staging: { defaultEnvironments: ["staging"], ha: false, protect: false, previews: true, skipAwait: false, cascadeDelete: true },
    local: { defaultEnvironments: ["staging", "prod"], ha: false, protect: false, previews: true, skipAwait: true, cascadeDelete: true },
};
