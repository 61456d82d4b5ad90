/**
 * The "GitOps loop at scale" section of bench/RESULTS.md, rendered from bench/scale-results.json
 * (written by `npm run bench -- --sections scale`, bench/scale.ts). Every figure of one size comes
 * from one run of each variant on the same machine, interleaved.
 */
import type { Latencies, ProcessUse, ScaleRun, ScaleVariant } from "./scale";

export interface ScaleResults {
    readonly startedAt: string;
    readonly finishedAt: string;
    readonly machine: { readonly cpuModel: string; readonly cores: number; readonly memGiB: number };
    readonly loadStart: readonly number[];
    readonly loadEnd: readonly number[];
    readonly samples: number;
    readonly runs: readonly ScaleRun[];
    /** A run measured again, and why (written when results are spliced by hand). */
    readonly rerun?: string;
    /** Set when the run was stopped before every size finished. */
    readonly interrupted?: string;
}

export const scaleSectionTitle = "## GitOps loop at scale";

const s1 = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–");
const s2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "–");
const lat = (l: Latencies) => (l.samples.length === 0 ? "– (wave over first)" : `${s2(l.p50)} / ${s2(l.p95)} / ${s2(l.max)} (${l.samples.length})`);
const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(1)}×` : "–");
const cpu = (u: ProcessUse) => `${s1(u.controller)} / ${s1(u.repoServer)} / ${s1(u.apiServer)}`;

const variantTitle: Record<ScaleVariant, string> = {
    chart: "chart defaults",
    ours: "program",
    novalidate: "program + `Validate=false`",
};

/** `findings`: bench/SCALE-FINDINGS.md, written by hand from the run and its profiles, included below the generated tables. */
export function renderScaleSection(results: ScaleResults, findings = ""): string {
    const sizes = [...new Set(results.runs.map((r) => r.applications))].sort((a, b) => a - b);
    const variants = (["chart", "ours", "novalidate"] as const).filter((v) => results.runs.some((r) => r.variant === v));
    const lines: string[] = [
        scaleSectionTitle,
        "",
        `One run of \`npm run bench -- --sections scale\` (bench/scale.ts), ${results.startedAt.slice(0, 16).replace("T", " ")}–${results.finishedAt.slice(11, 16)} UTC, ${results.machine.cores} cores (${results.machine.cpuModel}), load average ${results.loadStart[0].toFixed(1)} at the start and ${results.loadEnd[0].toFixed(1)} at the end (other developers' runs share the machine; every bench process runs under \`nice -n 10\`). Each size runs every variant on a fresh local API server (etcd, kube-apiserver, kube-controller-manager with the workload controllers), the program's guardrails and AppProjects installed, Argo CD v3.6.1's real application controller and repo-server out of cluster, and one Git repository served by \`git daemon\`; the variants alternate which goes first.`,
        ...(results.interrupted ? ["", `**Interrupted:** ${results.interrupted}; the tables show the sizes measured.`] : []),
        ...(results.rerun ? ["", `**Measured again:** ${results.rerun}`] : []),
        "",
        "Variants: **chart defaults** — Argo CD's own processors, refresh period and jitter, and the Applications as the program rendered them before issue 21: no `manifest-generate-paths` (a push refreshes every Application of the repository), the namespace made and labelled by Argo CD (`managedNamespaceMetadata`, which v3.6.1 applies in a pass of its own before every sync); **program** — the program as it is: `argocd.scale.applications: N` (components/argocd/scale.ts), `manifest-generate-paths` on each Application, and the namespaces made by the program (GitOpsService); **program + `Validate=false`** (largest size only) — the program's, with Argo CD's `Validate=false` sync option: the price of kubectl's schema check in every apply, measured to decide it (not the program's setting).",
        "",
        "Self-heal: a live edit of a ConfigMap by the break-glass group until the controller has put Git's value back (watched), one sample at a time, p50 / p95 / max in seconds (samples). Rollout: one commit changes half of the services and is delivered as Argo CD's push webhook delivers it; live edits on untouched Applications meanwhile. CPU: seconds of controller / repo-server (with its git and helm children) / kube-apiserver + etcd.",
        "",
    ];
    for (const n of sizes) {
        const run = (v: ScaleVariant) => results.runs.find((r) => r.applications === n && r.variant === v);
        const rows: [string, (r: ScaleRun) => string, ((a: ScaleRun, b: ScaleRun) => string)?][] = [
            ["cold controller → all Synced + Healthy, s", (r) => s1(r.coldSeconds), (a, b) => ratio(a.coldSeconds, b.coldSeconds)],
            ["self-heal, idle (p50 / p95 / max)", (r) => lat(r.idleHeal), (a, b) => ratio(a.idleHeal.p95, b.idleHeal.p95)],
            ["commit → Synced, one Application, webhook, s", (r) => s1(r.webhookCommitSeconds), (a, b) => ratio(a.webhookCommitSeconds, b.webhookCommitSeconds)],
            [
                "commit → live, by poll (no webhook), 10 Applications (p50 / p95 / max)",
                (r) =>
                    r.pollCommit
                        ? `${lat(r.pollCommit)}${r.pollTried && r.pollTried > r.pollCommit.samples.length ? `, ${r.pollTried - r.pollCommit.samples.length} not live by the deadline` : ""}`
                        : "–",
                (a, b) => (a.pollCommit && b.pollCommit ? ratio(a.pollCommit.p50, b.pollCommit.p50) : ""),
            ],
            ["rollout of N/2: Applications the push refreshes", (r) => String(r.rolloutRefreshed)],
            ["rollout of N/2: self-heal of an untouched one meanwhile", (r) => lat(r.rolloutHeal), (a, b) => ratio(a.rolloutHeal.p95, b.rolloutHeal.p95)],
            ["rollout of N/2: commit → all changed Synced, s", (r) => s1(r.rolloutSeconds), (a, b) => ratio(a.rolloutSeconds, b.rolloutSeconds)],
            ["CPU s, cold start (controller / repo-server / API server)", (r) => cpu(r.use.cold)],
            ["CPU s, rollout", (r) => cpu(r.use.rollout)],
            // 0: not read (the run's metrics scrape failed).
            ["API requests, cold start", (r) => (r.use.cold.apiRequests > 0 ? String(Math.round(r.use.cold.apiRequests)) : "–")],
            ["peak RSS MiB (controller / repo-server)", (r) => `${r.peakRssMiB.controller} / ${r.peakRssMiB.repoServer}`],
            ["Applications ever in ComparisonError", (r) => String(r.comparisonErrors)],
        ];
        const base = run("chart");
        const compared = variants.filter((v) => v !== "chart");
        lines.push(`### ${n} Applications`, "");
        lines.push(
            `| figure | ${variants.map((v) => variantTitle[v]).join(" | ")} | ${compared.map((v) => `chart ÷ ${v === "ours" ? "program" : "+ `Validate=false`"}`).join(" | ")} |`,
        );
        lines.push(`| --- | ${variants.map(() => "---").join(" | ")} | ${compared.map(() => "---").join(" | ")} |`);
        for (const [name, cell, cmp] of rows) {
            const cells = variants.map((v) => {
                const r = run(v);
                return r ? cell(r) : "–";
            });
            const ratios = compared.map((v) => {
                const r = run(v);
                return cmp && base && r ? cmp(base, r) : "";
            });
            lines.push(`| ${name} | ${cells.join(" | ")} | ${ratios.join(" | ")} |`);
        }
        const settings = run("ours")?.settings;
        if (settings)
            lines.push(
                "",
                `Program settings at ${n}: ${Object.entries(settings)
                    .map(([k, v]) => `\`${k}=${v}\``)
                    .join(", ")}.`,
            );
        lines.push("");
    }
    lines.push("### Cold start curve (Synced + Healthy Applications over time)", "");
    for (const r of results.runs) {
        const points = r.coldCurve.filter((_, i, all) => i % Math.max(1, Math.ceil(all.length / 12)) === 0 || i === all.length - 1);
        lines.push(`- ${r.applications}, ${variantTitle[r.variant]}: ${points.map(([t, c]) => `${t}s ${c}`).join(" · ")}`);
    }
    lines.push("");
    const largest = sizes[sizes.length - 1];
    for (const r of results.runs.filter((x) => x.applications === largest && x.controllerProfile)) {
        lines.push(
            `Controller CPU profile, ${largest} Applications, ${variantTitle[r.variant]}, first seconds of the cold start (\`go tool pprof -top -cum\`):`,
            "",
            "```",
            ...(r.controllerProfile ?? []),
            "```",
            "",
        );
    }
    if (findings.trim() !== "") lines.push(findings.trim(), "");
    return lines.join("\n").trimEnd() + "\n";
}

/** RESULTS.md with its scale section replaced (or appended): the rest of the file stays as the last full run wrote it. */
export function withScaleSection(results: string, section: string): string {
    const start = results.indexOf(scaleSectionTitle);
    if (start < 0) return `${results.trimEnd()}\n\n${section}`;
    const next = results.indexOf("\n## ", start + scaleSectionTitle.length);
    return `${results.slice(0, start)}${section}${next < 0 ? "" : `\n${results.slice(next + 1)}`}`;
}
