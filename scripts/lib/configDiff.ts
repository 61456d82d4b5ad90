/**
 * The config-repository check's logic, as pure functions: what a change of the config repository
 * does to each Application's rendered objects (added, changed, removed, with the file each comes
 * from), which of that Argo CD would refuse or regret (an empty render that `allowEmpty: false`
 * refuses, removals over the Application's prune budget, a guardrail denial), and the Markdown
 * comment a PR gets. The renders come from scripts/lib/configRender.ts; the command is
 * scripts/commands/config-check.ts.
 */
import type { KubeObject } from "./policyEvaluator";
import type { Row } from "../commands/policy-check";
import type { RenderResult, RenderedObject } from "./configRender";

/** Argo CD's identity of an object: group, kind, namespace, name (the version does not count). */
export function objectKey(o: KubeObject): string {
    const group = o.apiVersion.includes("/") ? o.apiVersion.slice(0, o.apiVersion.indexOf("/")) : "";
    return `${group}/${o.kind}/${o.metadata?.namespace ?? ""}/${o.metadata?.name ?? ""}`;
}

/** `Deployment shop/web` */
export function objectLabel(o: KubeObject): string {
    const ns = o.metadata?.namespace;
    return `${o.kind} ${ns ? `${ns}/` : ""}${o.metadata?.name ?? "<unnamed>"}`;
}

/** Annotations and labels that say who tracks an object, not what it is (set by the repo-server). */
const trackingAnnotation = "argocd.argoproj.io/tracking-id";

/**
 * An object as compared: key order irrelevant, Argo CD's tracking annotation removed (the
 * repo-server adds it, Git does not carry it), empty annotation/label maps dropped.
 */
export function normalize(o: KubeObject): unknown {
    const copy = structuredClone(o) as KubeObject & { metadata?: Record<string, unknown> };
    const meta = copy.metadata as { annotations?: Record<string, string>; labels?: Record<string, string> } | undefined;
    if (meta?.annotations) {
        delete meta.annotations[trackingAnnotation];
        if (Object.keys(meta.annotations).length === 0) delete meta.annotations;
    }
    if (meta?.labels && Object.keys(meta.labels).length === 0) delete meta.labels;
    return sortKeys(copy);
}

function sortKeys(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(sortKeys);
    if (value !== null && typeof value === "object") {
        return Object.fromEntries(
            Object.keys(value)
                .sort()
                .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
        );
    }
    return value;
}

/** Dotted paths (at most `limit`) where two values differ, e.g. `spec.replicas`, `data.message`. */
export function changedPaths(a: unknown, b: unknown, limit = 5, at = ""): string[] {
    if (JSON.stringify(a) === JSON.stringify(b)) return [];
    const isObj = (v: unknown) => v !== null && typeof v === "object" && !Array.isArray(v);
    if (!isObj(a) || !isObj(b)) return [at || "(whole object)"];
    const out: string[] = [];
    const keys = [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])].sort();
    for (const k of keys) {
        if (out.length >= limit) break;
        out.push(...changedPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], limit - out.length, at ? `${at}.${k}` : k));
    }
    return out.slice(0, limit);
}

export interface ObjectChange {
    readonly change: "added" | "changed" | "removed";
    readonly object: string;
    readonly key: string;
    /** The file in the config repository it comes from (the head's for added/changed, the base's for removed). */
    readonly file?: string;
    /** For a change: the fields that differ. */
    readonly fields?: readonly string[];
}

export interface RenderDiff {
    readonly added: readonly ObjectChange[];
    readonly changed: readonly ObjectChange[];
    readonly removed: readonly ObjectChange[];
    /** Objects rendered twice under one identity (Argo CD reports them as a sync error). */
    readonly duplicates: readonly string[];
}

function byKey(objects: readonly RenderedObject[]): { map: Map<string, RenderedObject>; duplicates: string[] } {
    const map = new Map<string, RenderedObject>();
    const duplicates: string[] = [];
    for (const o of objects) {
        const key = objectKey(o.object);
        if (map.has(key)) duplicates.push(objectLabel(o.object));
        map.set(key, o);
    }
    return { map, duplicates };
}

/** What changes between two renders of one Application, by Argo CD's identity of objects. */
export function diffRenders(base: readonly RenderedObject[], head: readonly RenderedObject[]): RenderDiff {
    const b = byKey(base);
    const h = byKey(head);
    const entry = (change: ObjectChange["change"], key: string, o: RenderedObject, fields?: string[]): ObjectChange => ({
        change,
        key,
        object: objectLabel(o.object),
        ...(o.file ? { file: o.file } : {}),
        ...(fields ? { fields } : {}),
    });
    const added: ObjectChange[] = [];
    const changed: ObjectChange[] = [];
    const removed: ObjectChange[] = [];
    for (const [key, o] of h.map) {
        const before = b.map.get(key);
        if (!before) added.push(entry("added", key, o));
        else {
            const fields = changedPaths(normalize(before.object), normalize(o.object));
            if (fields.length > 0) changed.push(entry("changed", key, o, fields));
        }
    }
    for (const [key, o] of b.map) if (!h.map.has(key)) removed.push(entry("removed", key, o));
    const order = (a: ObjectChange, c: ObjectChange) => a.key.localeCompare(c.key);
    return { added: added.sort(order), changed: changed.sort(order), removed: removed.sort(order), duplicates: h.duplicates };
}

/** One Application's check: its renders at both revisions and the guardrails on the head. */
export interface ApplicationCheck {
    readonly application: string;
    /** prod, staging or preview (the namespace label the program sets). */
    readonly environment: string;
    /** `deploy/chart` (Helm, values-prod.yaml) */
    readonly source: string;
    readonly allowEmpty: boolean;
    /** Most removals without approval (stack key `applicationPruneBudget.<environment>`). */
    readonly budget: number;
    readonly base: RenderResult;
    readonly head: RenderResult;
    /** The guardrails' rows on the head render (policy:check's), when it rendered. */
    readonly guardrails: readonly Row[];
    /** prod binding: a Deny blocks; staging/preview: Warn only. */
    readonly guardrailsDeny: boolean;
}

export interface ApplicationVerdict {
    readonly check: ApplicationCheck;
    readonly diff: RenderDiff;
    /** What fails the check, each a sentence with the fix. */
    readonly violations: readonly string[];
    /** What the reviewer should know but does not fail it. */
    readonly notes: readonly string[];
}

/** Judges one Application: a failing head render, an empty render, removals over budget, a guardrail denial. */
export function judge(check: ApplicationCheck, approved: boolean): ApplicationVerdict {
    const violations: string[] = [];
    const notes: string[] = [];
    const base = check.base.ok ? check.base.objects : [];
    const head = check.head.ok ? check.head.objects : [];
    const diff = check.head.ok ? diffRenders(base, head) : { added: [], changed: [], removed: [], duplicates: [] };
    if (!check.base.ok) notes.push(`the base revision did not render either: ${firstLine(check.base.error)}`);
    if (!check.head.ok) {
        violations.push(
            `Argo CD cannot render it at the head revision (ComparisonError; nothing syncs until fixed): ${firstLine(check.head.error)}. Fix: correct the path, chart or values it names`,
        );
    } else if (head.length === 0) {
        if (check.allowEmpty) notes.push(`renders no object: allowEmpty is on, so a sync would prune all ${base.length} objects`);
        else
            violations.push(
                `renders no object${base.length > 0 ? ` (the base rendered ${base.length})` : ""}: \`allowEmpty: false\` makes Argo CD refuse the sync, and this is what a wrong path, a renamed value or a deleted directory looks like. Fix: restore the objects, or remove the Application from the stack instead`,
            );
    }
    if (diff.duplicates.length > 0) violations.push(`renders the same object twice: ${diff.duplicates.join(", ")}. Fix: give each a unique name`);
    if (check.head.ok && head.length > 0 && diff.removed.length > check.budget) {
        const what = `removes ${diff.removed.length} object${diff.removed.length === 1 ? "" : "s"}, over the budget of ${check.budget} for ${check.environment} (\`applicationPruneBudget.${check.environment}\`)`;
        if (approved) notes.push(`${what}: approved (prune-approved)`);
        else violations.push(`${what}. Fix: if intended, label the PR \`prune-approved\`; otherwise restore what the change dropped`);
    }
    const denied = check.guardrails.filter((r) => r.verdict === "Deny");
    const warned = check.guardrails.filter((r) => r.verdict === "Warn");
    if (denied.length > 0 && check.guardrailsDeny) {
        violations.push(
            `${denied.length} guardrail denial${denied.length === 1 ? "" : "s"}: Argo CD's sync would be refused by admission. Fix: change the manifests as each message says`,
        );
    }
    if (warned.length > 0) notes.push(`${warned.length} guardrail warning${warned.length === 1 ? "" : "s"} (admitted with a warning in ${check.environment})`);
    return { check, diff, violations, notes };
}

const firstLine = (s: string): string =>
    s
        .split("\n")
        .find((l) => l.trim() !== "")
        ?.trim() ?? s;

export interface ConfigCheckReport {
    readonly stack: string;
    readonly repoURL: string;
    readonly base: string;
    readonly head: string;
    readonly approved: boolean;
    readonly verdicts: readonly ApplicationVerdict[];
}

/** Marks the comment so the workflow updates it in place. */
export const commentMarker = (stack: string): string => `<!-- gitops-control:config-check:${stack} -->`;

const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

/** The PR comment: a summary table, then per Application its problems, object changes with files, and guardrail findings. */
export function formatMarkdown(report: ConfigCheckReport): string {
    const failed = report.verdicts.filter((v) => v.violations.length > 0);
    const lines = [
        commentMarker(report.stack),
        `### Config repository check: stack \`${report.stack}\`, \`${report.base.slice(0, 12)}\` → \`${report.head.slice(0, 12)}\``,
        "",
        report.verdicts.length === 0
            ? `No Application of stack \`${report.stack}\` deploys from ${report.repoURL}.`
            : failed.length === 0
              ? `✅ ${report.verdicts.length} Application${report.verdicts.length === 1 ? "" : "s"} checked, no violation.`
              : `❌ ${failed.length} of ${report.verdicts.length} Applications would be refused or prune more than allowed.`,
        "",
    ];
    if (report.verdicts.length > 0) {
        lines.push("| Application | source | added | changed | removed (budget) | guardrails | verdict |", "| --- | --- | --- | --- | --- | --- | --- |");
        for (const v of report.verdicts) {
            const g = v.check.guardrails;
            const deny = g.filter((r) => r.verdict === "Deny").length;
            const warn = g.filter((r) => r.verdict === "Warn").length;
            const render = v.check.head.ok ? `${v.check.head.objects.length} object${v.check.head.objects.length === 1 ? "" : "s"}` : "render fails";
            lines.push(
                `| \`${v.check.application}\` | ${cell(v.check.source)}, ${render} | ${v.diff.added.length} | ${v.diff.changed.length} | ${v.diff.removed.length} (${v.check.budget}) | ${deny} denied, ${warn} warned | ${v.violations.length > 0 ? "❌" : "✅"} |`,
            );
        }
    }
    for (const v of report.verdicts) {
        const changes = [...v.diff.removed, ...v.diff.added, ...v.diff.changed];
        const findings = v.check.guardrails.filter((r) => r.verdict === "Deny" || r.verdict === "Warn");
        if (v.violations.length === 0 && v.notes.length === 0 && changes.length === 0 && findings.length === 0) continue;
        lines.push("", `#### \`${v.check.application}\` (${cell(v.check.source)})`, "");
        for (const problem of v.violations) lines.push(`- ❌ ${problem}`);
        for (const note of v.notes) lines.push(`- ℹ️ ${note}`);
        if (changes.length > 0) {
            lines.push("", "| change | object | file | fields |", "| --- | --- | --- | --- |");
            const shown = changes.slice(0, 50);
            for (const c of shown) lines.push(`| ${c.change} | \`${cell(c.object)}\` | ${c.file ? `\`${cell(c.file)}\`` : "–"} | ${c.fields ? cell(c.fields.join(", ")) : ""} |`);
            if (changes.length > shown.length) lines.push(`| … | ${changes.length - shown.length} more | | |`);
        }
        if (findings.length > 0) {
            lines.push("", "| guardrail | object | verdict | message |", "| --- | --- | --- | --- |");
            for (const r of findings) lines.push(`| \`${r.rule}\` | \`${cell(r.object)}\` | ${r.verdict} | ${cell(r.message)} |`);
        }
    }
    lines.push(
        "",
        report.approved
            ? "_Label `prune-approved` is set: removals over the budget are allowed._"
            : "_Removals over an Application's budget need the `prune-approved` label; empty renders and guardrail denials cannot be approved._",
    );
    return `${lines.join("\n")}\n`;
}

/** Exit code: 1 when any Application has a violation. */
export function exitCode(report: ConfigCheckReport): number {
    return report.verdicts.some((v) => v.violations.length > 0) ? 1 : 0;
}
