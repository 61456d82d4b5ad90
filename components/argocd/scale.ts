import { z } from "zod";
import { defaults } from "../core/defaults";
import { check, goDurationSeconds } from "../core/errors";

/**
 * How Argo CD is sized for the number of Applications it reconciles: one typed setting (the
 * expected Application count) from which the controller's and repo-server's settings follow.
 * Measured on the real v3.6.1 controller and repo-server by the "GitOps loop at scale" section of
 * `npm run bench` (bench/scale.ts, bench/RESULTS.md); the reasoning is in the README.
 *
 * What the measurements say, and so what this sets:
 * - The controller is CPU-bound at scale; more processors or client QPS do not make it faster
 *   (the probe of issue 21: 50/25 processors and QPS 200/400 changed nothing at 1,000). Processors
 *   follow Argo CD's own guidance (50 status / 25 operation at 1,000) so a burst is never queued
 *   behind too few workers, but no higher.
 * - Idle cost is the periodic refresh: every Application is compared with Git every
 *   `timeout.reconciliation` (+ jitter). Its rate (Applications / period) is what competes with a
 *   self-heal and a rollout; the period grows with the count so the rate stays bounded, and the
 *   jitter spreads the refreshes over the period instead of a thundering herd.
 * - A large backlog makes repo-server calls wait: their timeout grows so a queued render is not
 *   reported as a ComparisonError and retried (which adds work).
 */

/** Fewest and most Applications the setting accepts. */
export const scaleBounds = { minApplications: 1, maxApplications: 20_000 } as const;

/** The settings one size gets: what {@link scaleSettings} returns. */
export interface ScaleSettings {
    /** The Application count they are sized for. */
    readonly applications: number;
    /** `controller.status.processors` (Argo CD default 20). */
    readonly statusProcessors: number;
    /** `controller.operation.processors` (Argo CD default 10). */
    readonly operationProcessors: number;
    /** argocd-cm `timeout.reconciliation`, seconds (Argo CD default 180). */
    readonly reconciliationSeconds: number;
    /** argocd-cm `timeout.reconciliation.jitter`, seconds (Argo CD default 60). */
    readonly jitterSeconds: number;
    /** `controller.repo.server.timeout.seconds` (Argo CD default 60). */
    readonly repoServerTimeoutSeconds: number;
}

const clamp = (value: number, min: number, max: number) => Math.min(max, Math.max(min, value));

/**
 * The settings for `applications` Applications. Pure and monotonic: more Applications never get
 * fewer processors or a shorter period.
 * - processors: 1 status processor per 20 Applications, 1 operation processor per 40, within
 *   Argo CD's defaults (20/10) and its guidance for 1,000 (50/25);
 * - refresh period: 180 s up to 500 Applications (≤ 2.8 refreshes/s), then 0.36 s per Application
 *   (the same rate), at most 1 h; jitter a third of the period;
 * - repo-server timeout: 60 s up to 500, then 180 s.
 */
/** Applications refreshed at Argo CD's default rate by the default period: above it, the period grows with the count. */
const applicationsAtDefaultRate = 500;

export function scaleSettings(applications: number): ScaleSettings {
    const basePeriod = goDurationSeconds(defaults.reconciliationTimeout) ?? 180;
    const baseJitter = goDurationSeconds(defaults.reconciliationJitter) ?? 60;
    const reconciliationSeconds = clamp(Math.ceil((applications * basePeriod) / applicationsAtDefaultRate), basePeriod, 3600);
    return {
        applications,
        statusProcessors: clamp(Math.ceil(applications / 20), 20, 50),
        operationProcessors: clamp(Math.ceil(applications / 40), 10, 25),
        reconciliationSeconds,
        // The default's share of the period (60 s of 180 s: a third).
        jitterSeconds: Math.round((reconciliationSeconds * baseJitter) / basePeriod),
        repoServerTimeoutSeconds: applications > 500 ? 180 : 60,
    };
}

/** The `argocd-cmd-params-cm` entries (chart value `configs.params`) of a size. */
export function scaleParams(settings: ScaleSettings): Record<string, string> {
    return {
        "controller.status.processors": String(settings.statusProcessors),
        "controller.operation.processors": String(settings.operationProcessors),
        "controller.repo.server.timeout.seconds": String(settings.repoServerTimeoutSeconds),
    };
}

/** The `argocd.scale` key: the expected Application count. Written once here; the stack schema and ArgoCd's args compose it. */
export const scaleSettingsSchema = z
    .strictObject({
        applications: z
            .int()
            .describe(`Applications this Argo CD reconciles in all (every program's, previews included), ${scaleBounds.minApplications}–${scaleBounds.maxApplications}.`),
    })
    .optional()
    .describe(
        "Sizes the controller for the expected Application count: status/operation processors, refresh period and jitter, repo-server timeout (README: Argo CD at scale). Default: the stack's own Application count. Explicit `settings.reconciliationTimeout`/`reconciliationJitter` win.",
    );

/** Checks the setting (the schema says it is an integer); the error names the key and the fix. */
export function validateScale(scale: { readonly applications: number } | undefined, field: string): void {
    if (scale === undefined) return;
    const n = scale.applications;
    check(
        n >= scaleBounds.minApplications && n <= scaleBounds.maxApplications,
        `${field}.applications`,
        `is ${n}, outside ${scaleBounds.minApplications}–${scaleBounds.maxApplications}`,
        n > scaleBounds.maxApplications
            ? `one controller does not reconcile more than ${scaleBounds.maxApplications} Applications in a useful time on one cluster: split them over several Argo CD installs (one per stack), each with its own count`
            : "give the number of Applications this Argo CD reconciles in all, e.g. 200",
    );
}
