/**
 * Every default of the library and of the stack config, written once. Components, the stack
 * pipeline, the schema (for its generated documentation) and the README table read them from here.
 */
export const defaults = {
    /** Namespace Argo CD runs in. */
    argoNamespace: "argocd",
    /** Directory of a service's manifests inside its repository. */
    sourcePath: ".",
    /** Revision deployed when an environment names none. */
    targetRevision: "HEAD",
    /** Sync history kept on an Application outside the environment presets. */
    revisionHistoryLimit: 10,
    /** Seconds between two polls of GitHub by the pull-request generator. */
    requeueAfterSeconds: 300,
    /** Helm parameter that receives a preview's image tag. */
    imageTagParameter: "image.tag",
    /** Labels a PR must carry to get a preview. */
    previewLabels: ["preview"] as readonly string[],
    /** Hours a preview may run while its PR stays open (preview gate), and the janitor's and alerts' age limit. */
    previewTtlHours: 72,
    /** Most previews of one service running at once (preview gate). */
    previewMaxOpen: 5,
    /** Seconds between two passes of the preview gate. */
    previewGateIntervalSeconds: 5,
    /** Seconds between two passes of the prune gate: the most it delays a prune within budget. */
    pruneGateIntervalSeconds: 5,
    /** Janitor image: `sh`, GNU `date` and `kubectl`, pinned by tag. */
    janitorImage: "bitnami/kubectl:1.36.3",
    /** Janitor cron schedule. */
    janitorSchedule: "*/30 * * * *",
    /** Most replicas a workload may ask for (cap-replicas guardrail). */
    replicaCap: 20,
    /** What the API server does when a guardrail cannot be evaluated. */
    failurePolicy: "Fail" as "Fail" | "Ignore",
    /** Longest break-glass exception, in hours. */
    breakGlassMaxHours: 24,
    /** What happens when a break-glass entry expires. */
    breakGlassOnExpiry: "fail" as "fail" | "revert",
    /** Deletes + replaces a PR's preview may propose without the prune-approved label. */
    pruneBudget: 3,
    /** How often Argo CD compares Git with the cluster without a webhook (argocd-cm `timeout.reconciliation`). */
    reconciliationTimeout: "180s",
    /** Random spread added to the reconciliation timeout. */
    reconciliationJitter: "60s",
    /** Seconds `pulumi up` waits for an Application to be Synced and Healthy (`waitForSync`). */
    waitForSyncSeconds: 600,
    /** Prefix of the guardrail policy and binding names. */
    guardrailPrefix: "gitops-control",
    /** Minutes an Application may stay OutOfSync / Degraded before its alert fires. */
    outOfSyncMinutes: 15,
    degradedMinutes: 10,
    /** Objects one Application may delete in 15 minutes before the unusual-prune-volume alert fires. */
    pruneVolumeThreshold: 10,
    /** Minutes a prod sync may run before ArgoCdPruneHeld fires (prunes held by the prune gate). */
    pruneHeldMinutes: 10,
    /** Minutes the preview ApplicationSet may fail to generate before its alert fires. */
    previewGenerationFailingMinutes: 15,
    /** Seconds between two evaluations of the drift records (their resolution): the chart's ServiceMonitor scrape interval. */
    recordIntervalSeconds: 30,
    /**
     * Objects a config-repository change may remove from one Application without the
     * prune-approved label (`npm run config-check`), per environment.
     */
    applicationPruneBudget: { prod: 5, staging: 20, preview: 20 },
} as const;

/** Upper and lower bounds of numbers a stack file or a component accepts. */
export const bounds = {
    /** Below it a few services exhaust GitHub's API rate limit. */
    minRequeueAfterSeconds: 30,
    /** Above it (1 day) a missed webhook leaves a PR without preview for too long. */
    maxRequeueAfterSeconds: 86_400,
    /** A replica cap above this is no cap. */
    maxReplicaCap: 1_000,
    /** A week: break-glass is for incidents, not for standing exceptions. */
    maxBreakGlassHours: 168,
    /** More running previews of one service than this is no cap. */
    maxPreviewsOpen: 50,
    /** A week: previews older than that are abandoned. */
    maxPreviewTtlHours: 168 * 4,
    /** Argo CD keeps the history in the Application object; more makes it large. */
    maxRevisionHistoryLimit: 100,
} as const;
