import type { ISyncPolicy } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/SyncPolicy" with { "resolution-mode": "import" };
import { z } from "zod";
import { check, goDuration } from "./errors";

/** How Argo CD propagates deletion of pruned resources. */
export type PrunePropagationPolicy = "foreground" | "background" | "orphan";

/**
 * Every Application-level sync option Argo CD 3.x understands, spelled exactly as Argo CD reads it.
 * See https://argo-cd.readthedocs.io/en/stable/user-guide/sync-options/. The one closed list: the
 * stack schema and the docs read it from here.
 */
export const syncOptions = [
    "CreateNamespace=true",
    "PruneLast=true",
    "RespectIgnoreDifferences=true",
    "ApplyOutOfSyncOnly=true",
    "ServerSideApply=true",
    "ServerSideApply=false",
    "ClientSideApplyMigration=false",
    "PrunePropagationPolicy=foreground",
    "PrunePropagationPolicy=background",
    "PrunePropagationPolicy=orphan",
    "FailOnSharedResource=true",
    "Validate=true",
    "Validate=false",
    "SkipDryRunOnMissingResource=true",
    "Prune=false",
    "Prune=confirm",
    "Delete=false",
    "Delete=confirm",
    "Replace=true",
    "Force=true",
] as const satisfies readonly `${string}=${string}`[];

export type SyncOption = (typeof syncOptions)[number];

/** Automated sync switches. All four are always rendered: no switch is left to an Argo CD default. */
export interface AutomatedSync {
    /** Automated sync is on. `false` pauses it (break-glass) without losing the other switches. */
    readonly enabled: boolean;
    /** Delete live resources that are no longer in Git. */
    readonly prune: boolean;
    /** Revert live edits (kubectl hotfixes) back to Git. */
    readonly selfHeal: boolean;
    /**
     * Allow a sync that leaves the app with zero resources. Keep `false`: a wrong path or an empty
     * render would otherwise prune everything the app owns.
     */
    readonly allowEmpty: boolean;
}

/** Retry of failed syncs, with exponential backoff. */
export interface SyncRetry {
    /** Attempts after the first failure; `0` disables retries. */
    readonly limit: number;
    readonly backoff: {
        /** First wait, a Go duration ("5s"). */
        readonly duration: string;
        /** Multiplier per attempt (integer ≥ 1). */
        readonly factor: number;
        /** Upper bound of one wait, a Go duration ("3m"). */
        readonly maxDuration: string;
    };
    /** Retry with the newest revision instead of the one that failed. */
    readonly refresh: boolean;
}

/** An Application's complete sync policy, as a typed value. Rendered to the CR in {@link renderSyncPolicy}. */
export interface SyncPolicy {
    readonly automated: AutomatedSync;
    readonly syncOptions: readonly SyncOption[];
    readonly retry: SyncRetry;
}

/** Labels and annotations Argo CD sets on a namespace it creates (`CreateNamespace=true`). */
export interface ManagedNamespaceMetadata {
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
}

/** A partial sync policy: what a service or a break-glass entry changes on top of its environment's preset. */
export interface SyncPolicyOverrides {
    readonly automated?: Partial<AutomatedSync>;
    readonly syncOptions?: readonly SyncOption[];
    readonly retry?: Partial<Omit<SyncRetry, "backoff">> & { readonly backoff?: Partial<SyncRetry["backoff"]> };
}

/** The settings of {@link SyncPolicyOverrides}: what a stack entry and a component arg may change. */
export const syncPolicyOverridesSchema = z
    .strictObject({
        automated: z
            .strictObject({ enabled: z.boolean(), prune: z.boolean(), selfHeal: z.boolean(), allowEmpty: z.boolean() })
            .partial()
            .optional()
            .describe("Automated sync switches to change."),
        syncOptions: z.array(z.enum(syncOptions)).optional().describe("Sync options; each replaces the preset's option with the same key."),
        retry: z
            .strictObject({
                limit: z.int().min(0).max(100),
                refresh: z.boolean(),
                backoff: z.strictObject({ duration: z.string(), factor: z.int().min(1).max(10), maxDuration: z.string() }).partial(),
            })
            .partial()
            .optional()
            .describe("Retry of failed syncs."),
    })
    .describe("Changes on top of the environment preset (components/core/presets.ts).");

/** Option key ("PrunePropagationPolicy") of an option ("PrunePropagationPolicy=foreground"). */
const optionKey = (option: SyncOption): string => option.slice(0, option.indexOf("="));

/**
 * Applies overrides on top of a base policy. Sync options replace the base's option with the same
 * key ("ServerSideApply=false" replaces "ServerSideApply=true") and are otherwise appended.
 */
export function mergeSyncPolicy(base: SyncPolicy, overrides: SyncPolicyOverrides | undefined): SyncPolicy {
    if (!overrides) {
        return base;
    }
    const extra = overrides.syncOptions ?? [];
    const replaced = new Set(extra.map(optionKey));
    return {
        automated: { ...base.automated, ...overrides.automated },
        syncOptions: [...base.syncOptions.filter((o) => !replaced.has(optionKey(o))), ...extra],
        retry: {
            ...base.retry,
            ...overrides.retry,
            backoff: { ...base.retry.backoff, ...overrides.retry?.backoff },
        },
    };
}

/** Rejects a policy Argo CD would misread or silently ignore. `field` prefixes error messages. */
export function validateSyncPolicy(policy: SyncPolicy, field: string): void {
    const seen = new Map<string, SyncOption>();
    for (const option of policy.syncOptions) {
        const key = optionKey(option);
        const earlier = seen.get(key);
        check(earlier === undefined, `${field}.syncOptions`, `sets ${key} twice ("${earlier}" and "${option}")`, `keep only one ${key} option`);
        seen.set(key, option);
    }
    const { limit, backoff } = policy.retry;
    check(Number.isInteger(limit) && limit >= 0, `${field}.retry.limit`, `is ${limit}`, "use a whole number ≥ 0 (0 disables retries)");
    check(Number.isInteger(backoff.factor) && backoff.factor >= 1, `${field}.retry.backoff.factor`, `is ${backoff.factor}`, "use a whole number ≥ 1");
    for (const key of ["duration", "maxDuration"] as const) {
        check(goDuration.test(backoff[key]), `${field}.retry.backoff.${key}`, `is "${backoff[key]}", not a Go duration`, 'write it like "5s", "3m" or "1h"');
    }
}

/** Why each weakened switch is unsafe, keyed by the switch. */
const weakened = {
    "automated.enabled": (p: SyncPolicy) => (!p.automated.enabled ? "automated.enabled is false (Git no longer reconciles)" : undefined),
    "automated.prune": (p: SyncPolicy) => (!p.automated.prune ? "automated.prune is false (deleted manifests stay as ghost objects)" : undefined),
    "automated.selfHeal": (p: SyncPolicy) => (!p.automated.selfHeal ? "automated.selfHeal is false (live edits stay as drift)" : undefined),
    "automated.allowEmpty": (p: SyncPolicy) => (p.automated.allowEmpty ? "automated.allowEmpty is true (a bad path can prune everything)" : undefined),
} as const;

/** The switches of `policy` among `guarded` that are weakened, each with why it is unsafe. */
export function weakenedSwitches(policy: SyncPolicy, guarded: readonly (keyof typeof weakened)[] = Object.keys(weakened) as (keyof typeof weakened)[]): string[] {
    return guarded.flatMap((key) => weakened[key](policy) ?? []);
}

/** True when the policy would let Argo CD sync an empty desired state or leave ghosts behind. */
export function unsafeForProduction(policy: SyncPolicy): string[] {
    return weakenedSwitches(policy);
}

/** `{ [key]: map }` when the map has entries, else nothing. */
function nonEmpty(key: string, map: Readonly<Record<string, string>> | undefined): Record<string, Record<string, string>> {
    return map && Object.keys(map).length > 0 ? { [key]: { ...map } } : {};
}

/**
 * Renders the typed policy to the Application CR's `spec.syncPolicy`. Every switch is written out,
 * so the CR says what happens instead of relying on defaults nobody remembers.
 */
export function renderSyncPolicy(policy: SyncPolicy, managedNamespaceMetadata?: ManagedNamespaceMetadata): ISyncPolicy {
    const { automated, retry } = policy;
    return {
        automated: {
            enabled: automated.enabled,
            prune: automated.prune,
            selfHeal: automated.selfHeal,
            allowEmpty: automated.allowEmpty,
        },
        syncOptions: [...policy.syncOptions],
        retry: {
            limit: retry.limit,
            backoff: { ...retry.backoff },
            refresh: retry.refresh,
        },
        ...(managedNamespaceMetadata
            ? {
                  // No empty map: Argo CD stores the last sync's copy without it (omitempty), and v3.6.1
                  // compares the two with reflect.DeepEqual (HasChangedManagedNamespaceMetadata), so an
                  // `annotations: {}` in the spec reads OutOfSync after every sync, for good.
                  managedNamespaceMetadata: {
                      ...nonEmpty("labels", managedNamespaceMetadata.labels),
                      ...nonEmpty("annotations", managedNamespaceMetadata.annotations),
                  },
              }
            : {}),
    };
}
