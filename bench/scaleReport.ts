/**
 * The "GitOps loop at scale" section of bench/RESULTS.md, rendered from bench/scale-results.json
 * (written by `npm run bench -- --sections scale`, bench/scale.ts). Every figure of one size comes
 * from one run of each variant on the same machine, interleaved.
 */
import type { Run } from "./harness";
import type { JobResult } from "./realPreview";
import type { Latencies, ProcessUse, ScaleRun, ScaleVariant } from "./scale";
import type { PulumiScaleResults, PulumiScaleRun } from "./scalePulumi";
import { stepsOf } from "./scalePulumi";
import { fmt, summarize } from "./stats";

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
    /** The Pulumi side (bench/scalePulumi.ts), run after the Argo CD side. */
    readonly pulumi?: PulumiScaleResults & { readonly interrupted?: string };
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
    noenvrule: "program without require-application-environment",
};

/** `findings`: bench/SCALE-FINDINGS.md, written by hand from the run and its profiles, included below the generated tables. */
export function renderScaleSection(results: ScaleResults, findings = ""): string {
    const lines = [...(results.runs.length > 0 ? renderArgoSide(results) : [scaleSectionTitle, ""]), ...(results.pulumi ? renderPulumiSide(results.pulumi) : [])];
    if (findings.trim() !== "") lines.push(findings.trim(), "");
    return lines.join("\n").trimEnd() + "\n";
}

const secondsOf = (runs: readonly Run<JobResult>[], pick: (r: Run<JobResult>) => number, digits = 2) => fmt(summarize(runs.map(pick)), digits);

/** Ours ÷ floor of the no-op previews, paired by repetition. */
function pairedPreviewRatios(run: PulumiScaleRun): number[] {
    return (run.previews.ours ?? []).flatMap((o) => {
        const f = run.previews.floor?.find((x) => x.rep === o.rep);
        return f ? [o.result.opMs[0] / f.result.opMs[0]] : [];
    });
}

/** "Pulumi side at N services": the program's first `up` and no-op `preview` vs the floor's, per size. */
function renderPulumiSide(p: NonNullable<ScaleResults["pulumi"]>): string[] {
    const lines = [
        "### Pulumi side at N services",
        "",
        `bench/scalePulumi.ts, ${p.startedAt.slice(0, 16).replace("T", " ")}–${p.finishedAt.slice(11, 16)} UTC, load average ${p.loadStart[0].toFixed(1)} at the start and ${p.loadEnd[0].toFixed(1)} at the end, under \`nice -n 10\`. For each size, the program (prod-shaped: the pinned Argo CD chart, the CRDs read from their own stack, as in section 2's no-op previews) and the floor (the very objects it registers, recorded under mocks, registered as plain resources: bench/floor.ts), each on a fresh local API server of its own: the first \`up\` that creates the stack, then no-op \`preview\`s of it, each in a fresh process through the Automation API (CLI, kubernetes plugin, file backend), the two programs interleaved in alternating order. The ratio pairs the runs of one repetition. Peak memory: the Node.js program process's maximum resident set; the CLI and its plugins' summed resident sets, sampled every 100 ms. CPU: the whole process tree (Node.js, CLI, plugins) / kube-apiserver + etcd. The CRD stack's \`up\` (once per run): ${p.crdStackSeconds.toFixed(1)} s.`,
        ...(p.interrupted ? ["", `**Interrupted:** ${p.interrupted}; the table shows the sizes measured.`] : []),
        "",
        "| services | program | first `up`, s | its steps | no-op `preview`, s (runs) | its steps | ours ÷ floor: `up` / `preview` (paired) | peak RSS MB, Node.js: `up` / `preview` | peak RSS MB, CLI + plugins: `up` / `preview` | CPU s of a `preview`: tree / API server |",
        "| ---: | --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ];
    for (const run of [...p.runs].sort((a, b) => a.services - b.services)) {
        const paired = pairedPreviewRatios(run);
        const upRatio = run.up.ours && run.up.floor ? (run.up.ours.result.opMs[0] / run.up.floor.result.opMs[0]).toFixed(2) : "–";
        for (const variant of ["ours", "floor"] as const) {
            const up = run.up[variant];
            const previews = run.previews[variant] ?? [];
            const mode = run.checkpoints ? "" : " (PULUMI_SKIP_CHECKPOINTS)";
            lines.push(
                `| ${run.services} | ${variant === "ours" ? "program" : "floor"} | ${up ? `${(up.result.opMs[0] / 1000).toFixed(1)}${mode}` : "–"} | ${up ? stepsOf(up) : "–"} | ${secondsOf(previews, (r) => r.result.opMs[0] / 1000)} (${previews.length}) | ${previews[0] ? stepsOf(previews[0]) : "–"} | ${variant === "ours" ? `${upRatio} / ${fmt(summarize(paired))}×` : ""} | ${up ? up.result.peakRssMB.toFixed(0) : "–"} / ${secondsOf(previews, (r) => r.result.peakRssMB, 0)} | ${up?.result.peakTreeRssMB?.toFixed(0) ?? "–"} / ${secondsOf(previews, (r) => r.result.peakTreeRssMB ?? NaN, 0)} | ${secondsOf(previews, (r) => r.treeCpuMs / 1000, 1)} / ${secondsOf(previews, (r) => (r.apiCpuMs ?? NaN) / 1000, 1)} |`,
            );
        }
    }
    const largest = [...p.runs].sort((a, b) => b.services - a.services)[0];
    if (largest) {
        const ratio = summarize(pairedPreviewRatios(largest));
        lines.push(
            "",
            `Target (issue 21): the program's no-op \`preview\` at 1,000 services ≤ 1.2× the floor's. Largest size measured, ${largest.services}: ${fmt(ratio)}× (${largest.services < 1000 ? "not the target's size" : ratio.median <= 1.2 ? "**met**" : "**missed**"}).`,
        );
    }
    const skipped = p.runs.filter((r) => !r.checkpoints);
    // The largest checkpointed run of the program, to extrapolate from (the cost grows with the square of the steps).
    const base = p.runs.filter((r) => r.checkpoints && r.up.ours).sort((a, b) => b.services - a.services)[0];
    const steps = (r: PulumiScaleRun) => Object.values(r.up.ours?.result.changes[0] ?? {}).reduce((a, b) => a + b, 0);
    const extrapolated = (r: PulumiScaleRun) => {
        if (!base || !r.up.ours) return "";
        const minutes = ((base.up.ours!.result.opMs[0] / 1000) * (steps(r) / steps(base)) ** 2) / 60;
        return ` ${r.services}: up to about ${minutes.toFixed(0)} min`;
    };
    lines.push(
        "",
        `The first \`up\` runs as a user runs it: the CLI saves the whole state after every step, a cost that grows with the square of the steps (section 2, "growth")${
            skipped.length > 0
                ? `. At ${skipped.map((r) => r.services).join(", ")} services it ran with \`PULUMI_SKIP_CHECKPOINTS=true\` instead (one save at the end: what the program's disposable stacks use, scripts/lib/engine.ts; marked in the table; bench/scalePulumi.ts --checkpoints-up-to)${base ? `; checkpointed, the program's would take, extrapolated from ${(base.up.ours!.result.opMs[0] / 1000).toFixed(0)} s for ${steps(base)} steps at ${base.services} services by the square of the steps (an upper bound: part of the cost is linear):${skipped.map(extrapolated).join(",")}` : ""}`
                : ""
        }.`,
        "",
    );
    return lines;
}

function renderArgoSide(results: ScaleResults): string[] {
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
    return lines;
}

/** RESULTS.md with its scale section replaced (or appended): the rest of the file stays as the last full run wrote it. */
export function withScaleSection(results: string, section: string): string {
    const start = results.indexOf(scaleSectionTitle);
    if (start < 0) return `${results.trimEnd()}\n\n${section}`;
    const next = results.indexOf("\n## ", start + scaleSectionTitle.length);
    return `${results.slice(0, start)}${section}${next < 0 ? "" : `\n${results.slice(next + 1)}`}`;
}
