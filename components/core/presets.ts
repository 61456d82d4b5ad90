import type { SyncPolicy } from "./syncPolicy";

/** What the API server does when a validation fails. Deny and Warn never go together. */
export type ValidationAction = "Deny" | "Warn" | "Audit";

/** Environment classes an Application deploys to; namespaces carry the class as a label. */
export const environmentClasses = ["prod", "staging"] as const;
export type EnvironmentClass = (typeof environmentClasses)[number];

/** A sync-policy switch that weakens Git's hold on the cluster. */
export type UnsafeSwitch = "automated.enabled" | "automated.prune" | "automated.selfHeal" | "automated.allowEmpty";

/** What an environment class fixes for every Application and namespace in it. */
export interface EnvironmentPreset {
    readonly syncPolicy: SyncPolicy;
    /** How guardrails act on namespaces of this class. */
    readonly validationActions: readonly ValidationAction[];
    readonly revisionHistoryLimit: number;
    /**
     * Switches that may be weakened only with a written reason (`unsafeSyncPolicyReason`). Prod
     * guards all four. Staging and previews guard `allowEmpty` only: a wrong path with
     * `allowEmpty: true` prunes a whole environment, and no staging workflow needs it. Turning
     * self-heal or prune off is what staging is for, so those stay free there.
     */
    readonly requireReasonFor: readonly UnsafeSwitch[];
    /**
     * Argo CD's inputs are reviewed state here: an Application's operation, project, destination,
     * source(s) and ignoreDifferences change only through the program (or Argo CD's automated sync,
     * or break-glass), and the class's namespaces are deleted only by the program
     * (protect-application-inputs, keep-governed-namespaces; enforced at the class's validation actions).
     */
    readonly reviewedInputs: boolean;
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
 * `GitOpsService` applies it (environment class + overrides), so a team program and a stack entry
 * get the same policy and the same checks.
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
        requireReasonFor: ["automated.enabled", "automated.prune", "automated.selfHeal", "automated.allowEmpty"],
        reviewedInputs: true,
    },
    staging: {
        syncPolicy: {
            automated: { enabled: true, prune: true, selfHeal: false, allowEmpty: false },
            syncOptions: ["CreateNamespace=true", "PruneLast=true", "RespectIgnoreDifferences=true", "ApplyOutOfSyncOnly=true", "ServerSideApply=true"],
            retry: retry(3, true),
        },
        validationActions: ["Warn", "Audit"],
        revisionHistoryLimit: 10,
        requireReasonFor: ["automated.allowEmpty"],
        // Staging lets live experiments stand, but what Argo CD deploys there is still reviewed
        // config: an input changed by hand is warned about and audited (staging binds [Warn, Audit]).
        reviewedInputs: true,
    },
    preview: {
        syncPolicy: {
            automated: { enabled: true, prune: true, selfHeal: true, allowEmpty: false },
            syncOptions: ["CreateNamespace=true", "PruneLast=true", "ApplyOutOfSyncOnly=true", "ServerSideApply=true"],
            retry: retry(3, true),
        },
        validationActions: ["Warn", "Audit"],
        revisionHistoryLimit: 3,
        requireReasonFor: ["automated.allowEmpty"],
        // A preview's inputs are generated from the PR by the ApplicationSet controller.
        reviewedInputs: false,
    },
};

/** Environment classes whose Argo CD inputs are reviewed state ({@link EnvironmentPreset.reviewedInputs}). */
export function reviewedInputClasses(): EnvironmentClass[] {
    return environmentClasses.filter((c) => environmentPresets[c].reviewedInputs);
}
