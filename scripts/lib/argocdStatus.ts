/**
 * What Argo CD itself says about the Applications: the reconciler-layer half of the drift report
 * (the Pulumi-layer half is scripts/lib/drift.ts) and the explanation printed when an `up` that
 * waits for Argo CD fails. Reads the Application objects with kubectl; changes nothing.
 */
import { spawnSync } from "node:child_process";
import { previewGateAnnotations } from "../../components/previews/PreviewGate";

/** An Application that is not Synced and Healthy, or cannot sync on its own, with Argo CD's reason. */
export interface ArgoProblem {
    readonly application: string;
    /** OutOfSync, SyncFailed, Paused, Degraded, Missing, Error… */
    readonly kind: string;
    readonly sync: string;
    readonly health: string;
    /** Argo CD's own words: conditions, the last operation's message, failing resources. */
    readonly reasons: readonly string[];
}

/** A resource of the sync result (what the last attempt did to it). */
interface SyncResultResource {
    kind: string;
    name: string;
    namespace?: string;
    status?: string;
    message?: string;
}

/** The Application fields the report reads, as Argo CD v3.6.1 writes them. */
export interface ApplicationObject {
    metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; creationTimestamp?: string };
    spec: { syncPolicy?: { automated?: { enabled?: boolean } } };
    status?: {
        sync?: { status?: string; revision?: string };
        health?: { status?: string; message?: string };
        conditions?: { type: string; message: string }[];
        /** Every managed resource with its own sync and health status (kept while a retry runs). */
        resources?: { kind: string; name: string; namespace?: string; status?: string; health?: { status?: string } }[];
        /** Successful syncs only: the revision prod runs while later ones fail. */
        history?: { revision?: string; deployedAt?: string }[];
        operationState?: {
            phase?: string;
            message?: string;
            startedAt?: string;
            /** Set on a finished attempt; a Running phase with it is a failed attempt waiting to retry. */
            finishedAt?: string;
            /** Attempts already failed; > 0 while Running means the controller is retrying a failed sync. */
            retryCount?: number;
            operation?: { retry?: { limit?: number } };
            syncResult?: { revision?: string; resources?: SyncResultResource[] };
        };
    };
}

/**
 * The shapes a failing sync takes in Argo CD v3.6.1 (controller/appcontroller.go,
 * processRequestedAppOperation), all of which are one state for the report, `SyncFailed`:
 * - `waiting`: an attempt failed and the next is scheduled: phase Running, `finishedAt` set,
 *   `retryCount` ≥ 1, the message ends "Retrying attempt #N at T.", the sync result names the failures;
 * - `retrying`: the next attempt runs: phase Running, `finishedAt` and the sync result cleared, the
 *   message only "Retrying operation. Attempt #N" (the failure's own words are gone until the attempt ends);
 * - `failed`: retries exhausted or none, or terminated: phase Failed or Error, the sync result kept;
 * - `failing`: an attempt still running whose sync result already holds a failed resource (the
 *   verdict, and the retry, follow when its other tasks end).
 */
export type FailingSyncShape = "failing" | "waiting" | "retrying" | "failed";

/** Which failing-sync shape the Application is in, if any. Pure. */
export function failingSyncShape(app: ApplicationObject): FailingSyncShape | undefined {
    const op = app.status?.operationState;
    if (!op) return undefined;
    if (op.phase === "Failed" || op.phase === "Error") return "failed";
    if (op.phase === "Running" && (op.retryCount ?? 0) > 0) return op.finishedAt ? "waiting" : "retrying";
    // A sync result with failures and no verdict yet (an attempt still writing its result).
    if ((op.syncResult?.resources ?? []).some((r) => r.status === "SyncFailed")) return "failing";
    return undefined;
}

const resourceName = (r: { kind: string; name: string; namespace?: string }) => `${r.kind} ${r.namespace ? `${r.namespace}/` : ""}${r.name}`;

/** Argo CD's reasons for a failing sync, in every shape, as `argocd app get` would show them. */
function failingSyncReasons(app: ApplicationObject, shape: FailingSyncShape): string[] {
    const op = app.status?.operationState ?? {};
    const limit = op.operation?.retry?.limit;
    const attempt = `retry ${op.retryCount ?? 0}${limit !== undefined && limit >= 0 ? ` of ${limit}` : ""}`;
    const failedResources = (op.syncResult?.resources ?? []).filter((r) => r.status === "SyncFailed").map((r) => `${resourceName(r)}: ${r.message ?? "failed"}`);
    // While an attempt runs, the result is cleared: the resources Argo CD still finds out of sync
    // (from status.resources, which the retry keeps) are the ones the failed attempt could not apply.
    const pending =
        shape === "retrying"
            ? (app.status?.resources ?? [])
                  .filter((r) => r.status === "OutOfSync")
                  .map((r) => `${resourceName(r)}: OutOfSync${r.health?.status ? ` (${r.health.status})` : ""}, not applied by the failed attempt`)
            : [];
    const lastGood = (app.status?.history ?? []).at(-1);
    // Synced at a later revision with no sync since the failed one (Git reverted to what runs):
    // v3.6.1 keeps the failed operation as "already attempted" for this source and skips auto-sync,
    // self-heal included, until its next full comparison (alreadyAttemptedSync in appcontroller.go).
    const revision = app.status?.sync?.revision;
    const failedRevision = op.syncResult?.revision;
    const selfHealOff =
        shape === "failed" &&
        app.status?.sync?.status === "Synced" &&
        revision &&
        failedRevision &&
        revision !== failedRevision &&
        app.spec.syncPolicy?.automated?.enabled !== false
            ? [
                  `Synced at ${revision.slice(0, 12)} without a sync since the failed one (${failedRevision.slice(0, 12)}): Argo CD skips auto-sync and self-heal of this Application until its next full comparison; sync it once (argocd app sync) to end that`,
              ]
            : [];
    return [
        shape === "failed"
            ? `last sync ${op.phase ?? "Failed"}: ${op.message ?? ""}`.trim()
            : shape === "failing"
              ? `sync failing, attempt running: ${op.message ?? ""}`.trim()
              : shape === "waiting"
                ? `sync failing, ${attempt}: ${op.message ?? ""}`.trim()
                : `sync failing, ${attempt} running (Argo CD clears the last attempt's result while it retries): ${op.message ?? ""}`.trim(),
        ...failedResources,
        ...pending,
        ...selfHealOff,
        ...(lastGood?.revision ? [`last successful sync: ${lastGood.revision.slice(0, 12)}${lastGood.deployedAt ? ` at ${lastGood.deployedAt}` : ""}`] : []),
    ];
}

/** Classifies Applications. Pure: tests and the report share it. */
export function argoProblems(applications: readonly ApplicationObject[]): ArgoProblem[] {
    const problems: ArgoProblem[] = [];
    for (const app of applications) {
        const sync = app.status?.sync?.status ?? "Unknown";
        const health = app.status?.health?.status ?? "Unknown";
        const shape = failingSyncShape(app);
        const reasons = [
            ...(app.status?.conditions ?? []).map((c) => `${c.type}: ${c.message}`),
            ...(shape ? failingSyncReasons(app, shape) : []),
            ...(health !== "Healthy" && app.status?.health?.message ? [`health: ${app.status.health.message}`] : []),
        ];
        const paused = app.spec.syncPolicy?.automated?.enabled === false;
        const kind = shape
            ? "SyncFailed"
            : paused
              ? "Paused"
              : sync !== "Synced"
                ? sync
                : ["Degraded", "Missing"].includes(health)
                  ? health
                  : (app.status?.conditions ?? []).some((c) => /Error$/.test(c.type))
                    ? "Error"
                    : "";
        if (kind) problems.push({ application: app.metadata.name, kind, sync, health, reasons: paused ? ["automated sync paused (break-glass)", ...reasons] : reasons });
    }
    return problems;
}

/** The Applications in Argo CD's namespace, read with kubectl (KUBECONFIG or `kubeconfig`). */
export function readApplications(argoNamespace = "argocd", kubeconfig?: string): ApplicationObject[] {
    const r = spawnSync("kubectl", [...(kubeconfig ? ["--kubeconfig", kubeconfig] : []), "get", "applications.argoproj.io", "-n", argoNamespace, "-o", "json"], {
        encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`reading Argo CD Applications failed: ${r.stderr.trim()}`);
    return (JSON.parse(r.stdout) as { items: ApplicationObject[] }).items;
}

/**
 * The Applications, read again (once a second, for at most `seconds`) while any of them is in the
 * `retrying` shape, whose failure message Argo CD has cleared until the attempt ends: the report
 * then quotes the failure itself rather than "Retrying operation". Past the deadline it returns
 * what it read; that Application is still SyncFailed, with its out-of-sync resources.
 */
export async function readApplicationsSettled(argoNamespace = "argocd", kubeconfig?: string, seconds = 30): Promise<ApplicationObject[]> {
    const deadline = Date.now() + seconds * 1000;
    let applications = readApplications(argoNamespace, kubeconfig);
    while (applications.some((a) => failingSyncShape(a) === "retrying") && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        applications = readApplications(argoNamespace, kubeconfig);
    }
    return applications;
}

/** The reconciler-layer section of the drift report. */
export function formatArgoProblems(problems: readonly ArgoProblem[]): string {
    if (problems.length === 0) return "Argo CD: every Application is Synced and Healthy.";
    const lines = [`Argo CD: ${problems.length} Application(s) not in sync with Git or not healthy.`];
    for (const p of problems) {
        lines.push(`  ${p.kind.padEnd(10)} ${p.application}  (sync ${p.sync}, health ${p.health})`);
        for (const reason of p.reasons) lines.push(`             ${reason.split("\n")[0]}`);
    }
    return lines.join("\n");
}

/** A namespace as `kubectl get namespaces -o json` lists it. */
export interface NamespaceObject {
    metadata: { name: string; creationTimestamp: string; labels?: Record<string, string> };
}

/** Label every preview Application and namespace carries (the ApplicationSet template sets it). */
export const previewSelector = "env=preview";
const isPreviewName = (name: string) => /-pr-[0-9]+$/.test(name);
const isPreview = (labels: Record<string, string> | undefined, name: string) => labels?.env === "preview" && isPreviewName(name);

export interface PreviewCheckOptions {
    /** Preview namespaces older than this are reported (the janitor's TTL). */
    readonly ttlHours: number;
    /** A preview not Synced and Healthy, or syncing, for longer than this is stuck. @default 15 */
    readonly stuckMinutes?: number;
    readonly now?: Date;
}

/**
 * Previews that need a human: failed syncs (`PreviewSyncFailed`), previews not Synced and Healthy
 * (or with a sync running) for longer than `stuckMinutes` (`PreviewStuck`), and preview namespaces
 * older than the TTL (`PreviewTooOld`, a PR left open or a janitor not running). Previews the
 * preview gate holds over the cap (`PreviewHeld`) or paused past their TTL (`PreviewExpired`) are
 * listed with the gate's reason, never as stuck. Pure.
 */
export function previewProblems(applications: readonly ApplicationObject[], namespaces: readonly NamespaceObject[], options: PreviewCheckOptions): ArgoProblem[] {
    const now = (options.now ?? new Date()).getTime();
    const stuckMs = (options.stuckMinutes ?? 15) * 60_000;
    const since = (t: string | undefined) => (t ? now - Date.parse(t) : 0);
    const problems: ArgoProblem[] = [];
    for (const app of applications.filter((a) => isPreview(a.metadata.labels, a.metadata.name))) {
        const held = app.metadata.annotations?.[previewGateAnnotations.held];
        if (held) {
            const kind = held.startsWith("ttl:") ? "PreviewExpired" : "PreviewHeld";
            problems.push({ application: app.metadata.name, kind, sync: app.status?.sync?.status ?? "Unknown", health: app.status?.health?.status ?? "Unknown", reasons: [held] });
            continue;
        }
        const [problem] = argoProblems([app]);
        const op = app.status?.operationState;
        const running = op?.phase === "Running" && since(op.startedAt) > stuckMs;
        if (problem?.kind === "SyncFailed") {
            problems.push({ ...problem, kind: "PreviewSyncFailed" });
        } else if (running || (problem && since(app.metadata.creationTimestamp) > stuckMs)) {
            const sync = app.status?.sync?.status ?? "Unknown";
            const health = app.status?.health?.status ?? "Unknown";
            const minutes = Math.round(since(running ? op?.startedAt : app.metadata.creationTimestamp) / 60_000);
            const reasons = [running ? `sync running for ${minutes} min` : `not Synced and Healthy ${minutes} min after creation`, ...(problem?.reasons ?? [])];
            problems.push({ application: app.metadata.name, kind: "PreviewStuck", sync, health, reasons });
        }
    }
    for (const ns of namespaces.filter((n) => isPreview(n.metadata.labels, n.metadata.name))) {
        const hours = Math.floor(since(ns.metadata.creationTimestamp) / 3_600_000);
        if (hours >= options.ttlHours) {
            problems.push({
                application: ns.metadata.name,
                kind: "PreviewTooOld",
                sync: "-",
                health: "-",
                reasons: [`namespace ${ns.metadata.name} is ${hours}h old (TTL ${options.ttlHours}h): close the PR or check the preview janitor`],
            });
        }
    }
    return problems;
}

/** Preview namespaces, read with kubectl (KUBECONFIG or `kubeconfig`). */
export function readPreviewNamespaces(kubeconfig?: string): NamespaceObject[] {
    const r = spawnSync("kubectl", [...(kubeconfig ? ["--kubeconfig", kubeconfig] : []), "get", "namespaces", "-l", previewSelector, "-o", "json"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`reading preview namespaces failed: ${r.stderr.trim()}`);
    return (JSON.parse(r.stdout) as { items: NamespaceObject[] }).items;
}

/**
 * Everything Argo CD reports for the drift report: problems of the environments' Applications, and
 * of previews (failed, stuck, older than the TTL).
 */
export function argoAndPreviewProblems(applications: readonly ApplicationObject[], namespaces: readonly NamespaceObject[], options: PreviewCheckOptions): ArgoProblem[] {
    const environments = applications.filter((a) => !isPreview(a.metadata.labels, a.metadata.name));
    return [...argoProblems(environments), ...previewProblems(applications, namespaces, options)];
}
