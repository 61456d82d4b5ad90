/**
 * Drift and prune analysis of engine steps. Pure: the steps come from a live preview
 * (`stepRecorder`) or from `pulumi preview --json` output, so PR checks, the scheduled drift job and
 * the tests share one reading of "what would change".
 */
import type { ResourceStep } from "./engine";

/** Ops that leave the resource as it is. */
const unchanged = new Set(["same", "refresh", "read", "read-replacement", "import"]);

/** True for a step that leaves its resource as it is (`same`, or a read such as a StackReference's on every run). */
export const leavesAsIs = (step: Pick<ResourceStep, "op">): boolean => unchanged.has(step.op);
/** Ops that delete a live object (a replace deletes the old one). */
const destructive = new Set(["delete", "replace", "create-replacement", "delete-replaced", "discard", "discard-replaced"]);

export interface DriftItem {
    readonly op: string;
    readonly type: string;
    /** Logical name (last URN segment). */
    readonly name: string;
    /** Property paths that differ; empty when the engine did not say. */
    readonly fields: readonly string[];
    /** Last write by someone other than Pulumi, from the live object's managedFields. */
    readonly lastForeignWrite?: { readonly manager: string; readonly time: string };
}

const nameOf = (urn: string): string => urn.split("::").pop() ?? urn;

interface ManagedField {
    manager?: string;
    time?: string;
}

/** The newest managedFields entry written by a field manager that is not Pulumi's. */
export function lastForeignWrite(live: Record<string, unknown> | undefined): DriftItem["lastForeignWrite"] {
    const metadata = live?.metadata as { managedFields?: ManagedField[] } | undefined;
    const foreign = (metadata?.managedFields ?? []).filter((f) => f.manager && f.time && !f.manager.startsWith("pulumi-kubernetes"));
    foreign.sort((a, b) => (a.time! < b.time! ? 1 : -1));
    return foreign[0] ? { manager: foreign[0].manager!, time: foreign[0].time! } : undefined;
}

/** Resources whose live state differs from the program, one entry per resource. */
export function driftItems(steps: readonly ResourceStep[]): DriftItem[] {
    const seen = new Set<string>();
    const items: DriftItem[] = [];
    for (const step of steps) {
        if (unchanged.has(step.op) || seen.has(step.urn)) continue;
        seen.add(step.urn);
        const fields = Object.keys(step.detailedDiff).length > 0 ? Object.keys(step.detailedDiff) : [...step.diffs];
        const foreign = lastForeignWrite(step.old);
        items.push({ op: step.op, type: step.type, name: nameOf(step.urn), fields, ...(foreign ? { lastForeignWrite: foreign } : {}) });
    }
    return items;
}

/** A readable drift report. */
export function formatDriftReport(stack: string, items: readonly DriftItem[]): string {
    if (items.length === 0) {
        return `No drift in stack ${stack}: the cluster matches the program.`;
    }
    const lines = [`Drift in stack ${stack}: ${items.length} resource(s) differ from the program.`];
    for (const item of items) {
        lines.push(`  ${item.op.padEnd(8)} ${item.type}  ${item.name}`);
        if (item.fields.length > 0) lines.push(`           fields: ${item.fields.join(", ")}`);
        if (item.lastForeignWrite) lines.push(`           since:  ${item.lastForeignWrite.time} (written by ${item.lastForeignWrite.manager})`);
    }
    lines.push(`Heal: pulumi up --refresh --stack ${stack} (Git wins), or port the live change into the program first.`);
    return lines.join("\n");
}

export interface PruneVerdict {
    /** Resources the change deletes or replaces. */
    readonly destructive: readonly { op: string; type: string; name: string }[];
    /** Resources the change stops managing but leaves in the cluster (deletes of `retainOnDelete` resources): not counted. */
    readonly kept: readonly { type: string; name: string }[];
    readonly budget: number;
    readonly approved: boolean;
    readonly ok: boolean;
}

/** Counts deletes and replaces (once per resource) against the budget. */
export function pruneVerdict(steps: readonly Pick<ResourceStep, "op" | "urn" | "type" | "custom" | "retained">[], budget: number, approved: boolean): PruneVerdict {
    const byUrn = new Map<string, { op: string; type: string; name: string }>();
    const kept = new Map<string, { type: string; name: string }>();
    for (const step of steps) {
        // Components own nothing in the cluster: only custom resources count against the budget.
        if (!destructive.has(step.op) || !step.custom) continue;
        // A retained resource's delete leaves the object in the cluster (a service's namespace): nothing is lost.
        if (step.op === "delete" && step.retained) {
            kept.set(step.urn, { type: step.type, name: nameOf(step.urn) });
            continue;
        }
        const op = step.op === "delete" ? "delete" : "replace";
        if (!byUrn.has(step.urn)) byUrn.set(step.urn, { op, type: step.type, name: nameOf(step.urn) });
    }
    const list = [...byUrn.values()];
    return { destructive: list, kept: [...kept.values()], budget, approved, ok: list.length <= budget || approved };
}

export function formatPruneReport(verdict: PruneVerdict): string {
    const lines = [`Prune budget: ${verdict.destructive.length} delete/replace(s), budget ${verdict.budget}${verdict.approved ? " (approved by label)" : ""}.`];
    for (const d of verdict.destructive) lines.push(`  ${d.op.padEnd(8)} ${d.type}  ${d.name}`);
    for (const k of verdict.kept) lines.push(`  ${"kept".padEnd(8)} ${k.type}  ${k.name} (retainOnDelete: left in the cluster, not counted)`);
    if (!verdict.ok) {
        lines.push(`Over budget: review the list; if it is intended, add the "prune-approved" label to the PR (sets PRUNE_BUDGET_APPROVED=true).`);
    }
    return lines.join("\n");
}

/** Steps from `pulumi preview --json` output (the CLI's format). */
export function stepsFromPreviewJson(json: unknown): ResourceStep[] {
    const steps = (json as { steps?: unknown[] } | null)?.steps;
    if (!Array.isArray(steps)) {
        throw new Error("not `pulumi preview --json` output: no `steps` array");
    }
    return steps.map((raw) => {
        const s = raw as {
            op: string;
            urn: string;
            newState?: { type?: string; custom?: boolean };
            oldState?: { type?: string; custom?: boolean; outputs?: Record<string, unknown>; retainOnDelete?: boolean };
            detailedDiff?: Record<string, { kind?: string }>;
            diffReasons?: string[];
        };
        const type = s.newState?.type ?? s.oldState?.type ?? s.urn.split("::")[2]?.split("$").pop() ?? "";
        return {
            op: s.op,
            urn: s.urn,
            type,
            diffs: s.diffReasons ?? [],
            detailedDiff: Object.fromEntries(Object.entries(s.detailedDiff ?? {}).map(([k, v]) => [k, v.kind ?? "update"])),
            ...(s.oldState?.outputs ? { old: s.oldState.outputs } : {}),
            custom: (s.oldState ?? s.newState)?.custom === true,
            ...(s.oldState?.retainOnDelete ? { retained: true } : {}),
        };
    });
}
