/**
 * What Argo CD itself says about the Applications: the reconciler-layer half of the drift report
 * (the Pulumi-layer half is scripts/lib/drift.ts) and the explanation printed when an `up` that
 * waits for Argo CD fails. Reads the Application objects with kubectl; changes nothing.
 */
import { spawnSync } from "node:child_process";

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

interface ApplicationObject {
    metadata: { name: string; labels?: Record<string, string> };
    spec: { syncPolicy?: { automated?: { enabled?: boolean } } };
    status?: {
        sync?: { status?: string };
        health?: { status?: string; message?: string };
        conditions?: { type: string; message: string }[];
        operationState?: {
            phase?: string;
            message?: string;
            syncResult?: { resources?: { kind: string; name: string; namespace?: string; status?: string; message?: string }[] };
        };
    };
}

/** Classifies Applications. Pure: tests and the report share it. */
export function argoProblems(applications: readonly ApplicationObject[]): ArgoProblem[] {
    const problems: ArgoProblem[] = [];
    for (const app of applications) {
        const sync = app.status?.sync?.status ?? "Unknown";
        const health = app.status?.health?.status ?? "Unknown";
        const op = app.status?.operationState;
        const reasons = [
            ...(app.status?.conditions ?? []).map((c) => `${c.type}: ${c.message}`),
            ...(op && ["Failed", "Error"].includes(op.phase ?? "") ? [`last sync ${op.phase}: ${op.message ?? ""}`.trim()] : []),
            ...(op?.phase === "Running" && /retrying/i.test(op.message ?? "") ? [`sync retrying: ${op.message}`] : []),
            ...(op?.syncResult?.resources ?? [])
                .filter((r) => r.status === "SyncFailed")
                .map((r) => `${r.kind} ${r.namespace ? `${r.namespace}/` : ""}${r.name}: ${r.message ?? "failed"}`),
            ...(health !== "Healthy" && app.status?.health?.message ? [`health: ${app.status.health.message}`] : []),
        ];
        const paused = app.spec.syncPolicy?.automated?.enabled === false;
        // A failed sync that Argo CD is retrying shows phase Running: its failed resources tell.
        const failed = op !== undefined && (["Failed", "Error"].includes(op.phase ?? "") || (op.syncResult?.resources ?? []).some((r) => r.status === "SyncFailed"));
        const kind = failed
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
    const r = spawnSync("kubectl", [...(kubeconfig ? ["--kubeconfig", kubeconfig] : []), "get", "applications.argoproj.io", "-n", argoNamespace, "-o", "json"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`reading Argo CD Applications failed: ${r.stderr.trim()}`);
    return (JSON.parse(r.stdout) as { items: ApplicationObject[] }).items;
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
