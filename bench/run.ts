/**
 * `npm run bench` (bench/run.sh): how the program's cost grows with the number of services, side
 * by side with a floor program, in one run. Writes bench/RESULTS.md, bench/results.json and
 * bench/time-vs-services.svg. Not part of the test suite.
 *
 *   npm run bench [-- --reps 5] [-- --noop-reps N] [-- --sections mocks,profile,real,noop,up,growth,chart,cel] [-- --no-up-floor]
 *   npm run bench -- --report-only     re-render RESULTS.md and the chart from bench/results.json
 *   npm run bench -- --sections scale [--scale-sizes 100,500,1000] [--scale-parts argo,pulumi]   the GitOps loop at scale
 *                   (alone): Argo CD's side (bench/scale.ts), then the program's Pulumi side (bench/scalePulumi.ts)
 *   npm run bench -- --scale-report-only   re-render RESULTS.md's scale section (scale-results.json, SCALE-FINDINGS.md)
 *
 * Only a full run (the default sections, ≥ 5 repetitions) writes to bench/; partial runs write to
 * $TMPDIR/gitops-bench-partial/.
 *
 * 1. mocks    program evaluation under Pulumi's mocks (bench/mockEval.ts), 1/100/500 services,
 *             each run in a fresh process; the floor program (bench/floor.ts) at 100 and 500
 *    profile  one CPU profile of the 500-service evaluation, attributed (bench/profile.ts)
 * 2. real     `pulumi preview` of a new stack (all creates; CLI, kubernetes plugin, file backend,
 *             local API server) of ours vs the floor at 200 services (bench/realPreview.ts)
 *    noop     no-op `pulumi preview` of an existing stack, prod-shaped (the pinned Argo CD chart
 *             included), ours vs floor at 2 and 50 services, each variant on its own API server;
 *             with the time line of each preview (first engine event, chart span, summary)
 *    up       `pulumi up` of 50 services: first run and second (no-op) run; what-if without
 *             intermediate checkpoints
 *    growth   first `up` at 200 services, ours and floor (one run each: the quadratic checkpoint
 *             cost makes five too long for the 15-minute budget)
 * 3. cel      bench/cel.ts (guardrail CEL throughput)
 * 5. scale    (not in the default run, alone) N Applications reconciled by the real Argo CD v3.6.1
 *             controller and repo-server: chart defaults vs the program's settings (bench/scale.ts);
 *             then the program's first `up` and no-op `preview` at N services vs the floor, each on
 *             its own API server (bench/scalePulumi.ts)
 * 4. chart    preview of the ArgoCd component alone (pinned chart), the same without the chart's
 *             CRDs, an empty program; `helm template` of the same chart and values, and a
 *             server-side dry-run apply of its output (what a user would run instead)
 *
 * Variants that are compared run interleaved (alternating order) in every repetition, so load from
 * other processes on the machine hits them alike; the load average is recorded with every run.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { LocalCluster } from "../tests/integration/support";
import { kubectl, kubectlOk } from "../tests/integration/support";
import { renderArgoCdValues } from "../components/argocd/ArgoCd";
import { fixtureChartPath } from "../stacks/config";
import { renderChart } from "./chart";
import { argoCdBenchArgs, emptyChart, startBenchCluster } from "./cluster";
import { Run, apiServerPids, benchDir, existingStackPreviews, floorDump, log, option, repoRoot, runChild, upCrdStack } from "./harness";
import type { MockEvalResult } from "./mockEval";
import { ProfileSummary, summarizeProfile } from "./profile";
import type { Job, JobResult } from "./realPreview";
import { renderReport } from "./report";
import { summarize } from "./stats";
import { ScaleResults, renderScaleSection, withScaleSection } from "./scaleReport";
import type { ScaleRun } from "./scale";
import type { PulumiScaleResults } from "./scalePulumi";

export type { Run } from "./harness";

export interface Machine {
    readonly date: string;
    readonly cpuModel: string;
    readonly cores: number;
    readonly memGiB: number;
    readonly kernel: string;
    readonly node: string;
    readonly pulumi: string;
    readonly plugins: readonly string[];
    readonly kubeApiserver: string;
    readonly etcd: string;
    readonly sdk: Readonly<Record<string, string>>;
}

export interface Series<T> {
    readonly key: string;
    readonly variant: string;
    readonly services: number;
    readonly experiments: readonly string[];
    readonly runs: Run<T>[];
}

export interface Results {
    readonly machine: Machine;
    readonly reps: number;
    readonly noopReps?: number;
    readonly sections: readonly string[];
    readonly startedAt: string;
    finishedAt?: string;
    totalSeconds?: number;
    readonly sectionSeconds: Record<string, number>;
    /** Runs that failed once and were measured again (what, first line of the error). */
    readonly retries: string[];
    readonly loadStart: readonly number[];
    loadEnd?: readonly number[];
    readonly mocks: Series<MockEvalResult>[];
    profile?: ProfileSummary & { readonly services: number; readonly file: string };
    readonly previews: Series<JobResult>[];
    readonly ups: Series<JobResult>[];
    /** No-op previews of existing prod-shaped stacks (section noop), and the `up` that created each. */
    readonly noop: Series<JobResult>[];
    readonly noopSetup: Series<JobResult>[];
    /** The `up` of the CRD stack (local-crds) whose checkpoint every prod-shaped `ours` references (once per run). */
    crdStack?: Run<JobResult>;
    readonly growth: Series<JobResult>[];
    readonly chart: Series<JobResult>[];
    /** `helm template` and `kubectl apply --server-side --dry-run=server` of its output, per repetition. */
    readonly helm: { readonly rep: number; readonly load: number; readonly templateMs: number; readonly dryRunMs: number; readonly objects: number }[];
    helmVersion?: string;
    /** managed-by labels of the guardrail policies and bindings after ours' first `up` (client-side-apply provider). */
    guardrailLabels?: Readonly<Record<string, number>>;
    cel?: { readonly output: string; readonly objectsPerSecond?: number; readonly objectsPerCpuSecond?: number; readonly evalsPerSecond?: number; readonly load: number };
    /** Resource counts per size of the real runs (ours registrations / floor resources). */
    readonly realSizes: readonly number[];
    readonly mockSizes: readonly number[];
    readonly noopSizes: readonly number[];
    readonly upServices: number;
    readonly growthServices: number;
}

const mockSizes = [100, 500];
const mockFloorSizes = [100, 500];
const realSizes = [200];
const noopSizes = [2, 50];
const upServices = 50;
const growthServices = 200;
/** Argo CD namespace of previews; `up` runs get their own (`argocd-up-<rep>-<variant index>`). */
const benchNamespace = "argocd-bench";

const started = Date.now();

function series<T>(list: Series<T>[], variant: string, services: number, experiments: readonly string[] = []): Series<T> {
    const key = `${variant}/${services}/${experiments.join("+")}`;
    let s = list.find((x) => x.key === key);
    if (!s) {
        s = { key, variant, services, experiments, runs: [] };
        list.push(s);
    }
    return s;
}

function version(cmd: string, args: string[], pattern: RegExp): string {
    const r = spawnSync(cmd, args, { encoding: "utf8" });
    return ((r.stdout ?? "") + (r.stderr ?? "")).match(pattern)?.[1] ?? "unknown";
}

function machine(): Machine {
    const pluginDir = path.join(process.env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi"), "plugins");
    const plugins = fs.existsSync(pluginDir) ? fs.readdirSync(pluginDir).filter((d) => !d.endsWith(".lastused") && !d.endsWith(".lock")) : [];
    const pkg = (name: string) => (JSON.parse(fs.readFileSync(path.join(repoRoot, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
    return {
        date: new Date().toISOString(),
        cpuModel: os.cpus()[0]?.model ?? "unknown",
        cores: os.cpus().length,
        memGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
        kernel: `${os.type()} ${os.release()}`,
        node: process.version,
        pulumi: version("pulumi", ["version"], /(v[\d.]+)/),
        plugins,
        kubeApiserver: version("kube-apiserver", ["--version"], /Kubernetes (v[\d.]+)/),
        etcd: version("etcd", ["--version"], /etcd Version: ([\d.]+)/),
        sdk: Object.fromEntries(["@pulumi/pulumi", "@pulumi/kubernetes", "@pulumi/random", "tsx", "vega", "vega-lite"].map((p) => [p, pkg(p)])),
    };
}

/**
 * Deletes what an `up` run created: its Argo CD namespace and the cluster-scoped objects. Those
 * created through the client-side-apply guardrails provider carry `managed-by=pulumi` (the
 * provider overwrites the program's `managed-by=gitops-control` label), the others the program's.
 */
function cleanUp(cluster: LocalCluster, namespace: string): void {
    kubectlOk(cluster, ["delete", "namespace", namespace, "--ignore-not-found", "--wait=false"]);
    kubectlOk(cluster, [
        "delete",
        "validatingadmissionpolicybindings.admissionregistration.k8s.io,validatingadmissionpolicies.admissionregistration.k8s.io,clusterrolebindings.rbac.authorization.k8s.io,clusterroles.rbac.authorization.k8s.io",
        "-l",
        "app.kubernetes.io/managed-by in (gitops-control,pulumi)",
        "--ignore-not-found",
        "--wait=false",
    ]);
}

/** How many ValidatingAdmissionPolicies and bindings carry each app.kubernetes.io/managed-by value. */
function guardrailLabels(cluster: LocalCluster): Record<string, number> {
    const out = kubectlOk(cluster, [
        "get",
        "validatingadmissionpolicies.admissionregistration.k8s.io,validatingadmissionpolicybindings.admissionregistration.k8s.io",
        "-o",
        'jsonpath={range .items[*]}{.metadata.labels.app\\.kubernetes\\.io/managed-by}{"\\n"}{end}',
    ]);
    const counts: Record<string, number> = {};
    for (const value of out.split("\n").filter((l) => l !== "")) counts[value] = (counts[value] ?? 0) + 1;
    return counts;
}

/** Helm 4: $HELM, the toolchain cache, or PATH. */
function helmBinary(): string {
    const candidates = [process.env.HELM, path.join(os.homedir(), ".cache", "gitops-control", "helm-4.3.1", "bin", "helm"), "helm"].filter((x): x is string => !!x);
    for (const c of candidates) {
        if (spawnSync(c, ["version", "--short"], { encoding: "utf8" }).status === 0) return c;
    }
    throw new Error("no helm binary: set HELM=<path to helm 4.3.1> (GOBIN=<dir> go install helm.sh/helm/v4/cmd/helm@v4.3.1)");
}

const allSections = ["mocks", "profile", "real", "noop", "up", "growth", "chart", "cel", "scale"];
/**
 * What `npm run bench` runs (≤ 15 minutes on this machine): `real` (previews of a new stack at 200
 * services, 1.02× before this round) is left out for time; `--sections real` measures it.
 */
const defaultSections = allSections.filter((x) => x !== "real" && x !== "scale");

/** bench/SCALE-FINDINGS.md: the scale run's findings, written by hand (empty when absent). */
function scaleFindings(): string {
    const file = path.join(benchDir, "SCALE-FINDINGS.md");
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
}

/**
 * `--sections scale` (alone): the GitOps loop at scale, every process under `nice -n 10`: the Argo
 * CD side (bench/scale.ts, ≈ 1 h at 100/500/1,000 on this machine), then the Pulumi side
 * (bench/scalePulumi.ts: the program's first `up` and no-op `preview` vs the floor at each size).
 * `--scale-parts argo` or `--scale-parts pulumi` runs one side; the other side's figures stay as
 * the results file had them. Writes bench/scale-results.json and replaces the "GitOps loop at
 * scale" section of bench/RESULTS.md; the rest of the file stays as the last full run wrote it.
 * `--scale-sizes 20,100` for a quick look (written to the scratch directory instead: only a run
 * that includes 1,000 is published).
 */
const scaleParts = ["argo", "pulumi"] as const;

async function runScaleSection(): Promise<void> {
    const sizes = option("scale-sizes") ?? "100,500,1000";
    const samples = option("scale-samples") ?? "10";
    const profileSeconds = option("scale-profile-seconds") ?? "30";
    const parts = option("scale-parts")?.split(",") ?? [...scaleParts];
    const unknownParts = parts.filter((x) => !(scaleParts as readonly string[]).includes(x));
    if (unknownParts.length > 0 || parts.length === 0) throw new Error(`--scale-parts ${parts.join(",")}: use ${scaleParts.join(",")} (default both)`);
    const published = sizes.split(",").map(Number).includes(1000) || process.argv.includes("--publish");
    const dir = published ? benchDir : path.join(os.tmpdir(), "gitops-bench-partial");
    fs.mkdirSync(dir, { recursive: true });
    const resultsFile = path.join(dir, "scale-results.json");
    // The side this run leaves out keeps the figures the results file has.
    const previous = fs.existsSync(resultsFile) ? (JSON.parse(fs.readFileSync(resultsFile, "utf8")) as ScaleResults) : undefined;
    let results: ScaleResults | undefined = previous;
    const niceNode = (script: string, args: readonly string[]) =>
        spawnSync("nice", ["-n", "10", process.execPath, "--import", "tsx", path.join(benchDir, script), ...args], { cwd: repoRoot, stdio: "inherit" });
    if (parts.includes("argo")) {
        const runsFile = path.join(dir, "scale-runs.json");
        const startedAt = new Date().toISOString();
        const loadStart = os.loadavg();
        log(`scale: sizes ${sizes}, ${samples} self-heal samples; under nice -n 10`);
        // chart and the program at every size; Validate=false priced at the largest; the poll there.
        const r = niceNode("scale.ts", [
            "--sizes",
            sizes,
            "--samples",
            samples,
            "--profile-seconds",
            profileSeconds,
            "--variants",
            "chart,ours",
            "--variants-largest",
            "novalidate",
            "--poll",
            "--out",
            runsFile,
        ]);
        // An interrupted run (a size that did not finish in time) publishes the sizes it measured, and says so.
        const measured = fs.existsSync(runsFile) ? (JSON.parse(fs.readFileSync(runsFile, "utf8")) as ScaleRun[]) : [];
        if (r.status !== 0 && measured.length === 0) throw new Error(`bench/scale.ts failed (exit ${r.status}) before any run finished`);
        if (r.status !== 0) log(`scale: bench/scale.ts stopped (exit ${r.status}); publishing the ${measured.length} runs it finished`);
        const m = machine();
        results = {
            startedAt,
            finishedAt: new Date().toISOString(),
            machine: { cpuModel: m.cpuModel, cores: m.cores, memGiB: m.memGiB },
            loadStart,
            loadEnd: os.loadavg(),
            samples: Number(samples),
            runs: measured,
            ...(r.status !== 0 ? { interrupted: `stopped before every size finished (asked for ${sizes})` } : {}),
            ...(previous?.pulumi ? { pulumi: previous.pulumi } : {}),
        };
        fs.writeFileSync(resultsFile, `${JSON.stringify(results, null, 1)}\n`);
        fs.rmSync(runsFile, { force: true });
    }
    if (parts.includes("pulumi")) {
        const pulumiFile = path.join(dir, "scale-pulumi-runs.json");
        log(`scale: the Pulumi side at ${sizes} services (bench/scalePulumi.ts); under nice -n 10`);
        const passed = (["previews", "checkpoints-up-to"] as const).flatMap((o) => (option(`scale-${o}`) ? [`--${o}`, option(`scale-${o}`)!] : []));
        const r = niceNode("scalePulumi.ts", ["--sizes", sizes, "--out", pulumiFile, ...passed]);
        const pulumi = fs.existsSync(pulumiFile) ? (JSON.parse(fs.readFileSync(pulumiFile, "utf8")) as PulumiScaleResults) : undefined;
        // Argo CD's side, when this run measured it, is written already and still rendered below.
        if (!pulumi && !results) throw new Error(`bench/scalePulumi.ts failed (exit ${r.status}) before any size finished`);
        if (!pulumi) {
            log(`scale: bench/scalePulumi.ts failed (exit ${r.status}) before any size finished; the Pulumi side keeps the figures the results file had`);
            process.exitCode = 1;
        } else {
            if (r.status !== 0) log(`scale: bench/scalePulumi.ts stopped (exit ${r.status}); publishing the ${pulumi.runs.length} sizes it finished`);
            const m = machine();
            results = {
                ...(results ?? {
                    startedAt: pulumi.startedAt,
                    finishedAt: pulumi.finishedAt,
                    machine: { cpuModel: m.cpuModel, cores: m.cores, memGiB: m.memGiB },
                    loadStart: pulumi.loadStart,
                    loadEnd: pulumi.loadEnd,
                    samples: 0,
                    runs: [],
                }),
                pulumi: { ...pulumi, ...(r.status !== 0 ? { interrupted: `stopped before every size finished (asked for ${sizes})` } : {}) },
            };
            fs.writeFileSync(resultsFile, `${JSON.stringify(results, null, 1)}\n`);
            fs.rmSync(pulumiFile, { force: true });
        }
    }
    const report = path.join(dir, "RESULTS.md");
    const current = fs.existsSync(report) ? fs.readFileSync(report, "utf8") : fs.readFileSync(path.join(benchDir, "RESULTS.md"), "utf8");
    fs.writeFileSync(report, withScaleSection(current, renderScaleSection(results!, scaleFindings())));
    log(`scale: ${path.relative(repoRoot, report)} and scale-results.json written`);
}

/**
 * Where results go: bench/ for a full run (every section, ≥ 5 repetitions); a scratch directory
 * for partial runs, so they never overwrite the published figures.
 */
function outputDir(results: Pick<Results, "sections" | "reps">): string {
    const full = defaultSections.every((x) => results.sections.includes(x)) && results.reps >= 5;
    if (full) return benchDir;
    const dir = path.join(os.tmpdir(), "gitops-bench-partial");
    fs.mkdirSync(dir, { recursive: true });
    return dir;
}

/**
 * Runs `attempt(0)`; if it throws (a transient failure of the shared machine), records it and
 * measures once more with `attempt(1)`. A second failure stops the benchmark.
 */
function withRetry<T>(results: Results, what: string, attempt: (n: number) => T): T {
    try {
        return attempt(0);
    } catch (e) {
        const message = (e as Error).message;
        const reason =
            message
                .split("\n")
                .find((l) => /error:/i.test(l))
                ?.trim() ?? message.split("\n")[0];
        log(`${what} failed, measuring it again: ${reason}`);
        results.retries.push(`${what}: ${reason}`);
        return attempt(1);
    }
}

/** Writes RESULTS.md and the chart from the results. */
async function writeReport(results: Results, dir = benchDir): Promise<void> {
    const points = [
        ...results.mocks
            .filter((x) => x.experiments.length === 0)
            .map((x) => ({ name: `program evaluation under mocks: ${x.variant}`, services: x.services, s: summarize(x.runs.map((r) => r.result.evalMs / 1000)) })),
        ...results.previews.map((x) => ({ name: `real pulumi preview: ${x.variant}`, services: x.services, s: summarize(x.runs.map((r) => r.result.opMs[0] / 1000)) })),
    ].map(({ name, services, s }) => ({ series: name, services, median: s.median, min: s.min, max: s.max }));
    if (points.length > 0) {
        fs.writeFileSync(path.join(dir, "time-vs-services.svg"), await renderChart(points, "gitops-control: wall time vs services (ours vs floor)"));
    }
    let report = renderReport(results);
    const scaleFile = path.join(benchDir, "scale-results.json");
    if (fs.existsSync(scaleFile)) {
        report = withScaleSection(report, renderScaleSection(JSON.parse(fs.readFileSync(scaleFile, "utf8")), scaleFindings()));
    }
    fs.writeFileSync(path.join(dir, "RESULTS.md"), report);
}

async function main(): Promise<void> {
    if (process.argv.includes("--scale-report-only")) {
        const report = path.join(benchDir, "RESULTS.md");
        const results = JSON.parse(fs.readFileSync(path.join(benchDir, "scale-results.json"), "utf8")) as ScaleResults;
        fs.writeFileSync(report, withScaleSection(fs.readFileSync(report, "utf8"), renderScaleSection(results, scaleFindings())));
        log("bench/RESULTS.md's scale section written from bench/scale-results.json and bench/SCALE-FINDINGS.md");
        return;
    }
    if (process.argv.includes("--report-only")) {
        await writeReport(JSON.parse(fs.readFileSync(path.join(benchDir, "results.json"), "utf8")) as Results);
        log("bench/RESULTS.md and bench/time-vs-services.svg written from bench/results.json");
        return;
    }
    const reps = Number(option("reps") ?? 5);
    if (!Number.isInteger(reps) || reps < 1) throw new Error("--reps must be a whole number ≥ 1");
    const sections = option("sections")?.split(",") ?? defaultSections;
    const unknown = sections.filter((x) => !allSections.includes(x));
    if (unknown.length > 0) throw new Error(`unknown section(s) ${unknown.join(", ")}: use ${allSections.join(",")}`);
    if (sections.includes("scale")) {
        if (sections.length > 1) throw new Error("--sections scale runs alone (about an hour): npm run bench -- --sections scale");
        return runScaleSection();
    }
    const upFloor = !process.argv.includes("--no-up-floor");
    // --noop-reps: fewer no-op previews (they cost 30-75 s each while the stack carried the CRDs: FINDINGS.md 7b).
    const noopReps = Number(option("noop-reps") ?? reps);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-bench-"));
    const results: Results = {
        machine: machine(),
        reps,
        noopReps,
        sections,
        startedAt: new Date().toISOString(),
        sectionSeconds: {},
        retries: [],
        loadStart: os.loadavg(),
        mocks: [],
        previews: [],
        ups: [],
        noop: [],
        noopSetup: [],
        growth: [],
        chart: [],
        helm: [],
        realSizes,
        mockSizes,
        noopSizes,
        upServices,
        growthServices,
    };
    log(
        `${results.machine.cores} cores, load ${os
            .loadavg()
            .map((l) => l.toFixed(2))
            .join(" ")}; ${reps} repetitions; sections ${sections.join(",")}; scratch ${tmp}`,
    );
    const section = async (name: string, body: () => Promise<void> | void) => {
        if (!sections.includes(name)) return;
        const t = Date.now();
        log(`== ${name}`);
        await body();
        results.sectionSeconds[name] = Math.round((Date.now() - t) / 100) / 10;
        log(`== ${name} done in ${results.sectionSeconds[name]}s`);
    };

    try {
        // 1. Program evaluation under mocks.
        await section("mocks", () => {
            const dumps = new Map(mockFloorSizes.map((n) => [n, path.join(tmp, `mock-floor-${n}.json`)]));
            for (let rep = 0; rep < reps; rep++) {
                const jobs: { variant: string; services: number; experiments: string[] }[] = [
                    ...mockSizes.map((services) => ({ variant: "ours", services, experiments: [] })),
                    ...mockFloorSizes.map((services) => ({ variant: "floor", services, experiments: [] })),
                ];
                // Rep 0 in this order (ours first: it records the floor's input), then alternating.
                if (rep % 2 === 1) jobs.reverse();
                for (const job of jobs) {
                    const args = [String(job.services)];
                    if (job.variant === "floor") args.push("--floor", dumps.get(job.services)!);
                    else if (rep === 0 && job.experiments.length === 0 && dumps.has(job.services)) args.push("--dump", dumps.get(job.services)!);
                    const run = runChild<MockEvalResult>("mockEval.ts", args, rep, { env: { BENCH_EXP: job.experiments.join(",") } });
                    series(results.mocks, job.variant, job.services, job.experiments).runs.push(run);
                    log(
                        `mocks ${rep + 1}/${reps} ${job.variant}${job.experiments.length ? `+${job.experiments}` : ""} ${job.services}: ${(run.result.evalMs / 1000).toFixed(2)} s, ${run.result.peakRssMB.toFixed(0)} MB (load ${run.load.toFixed(2)})`,
                    );
                }
            }
        });

        await section("profile", () => {
            const file = path.join(tmp, "ours-500.cpuprofile");
            runChild<MockEvalResult>("mockEval.ts", ["500", "--profile", file], 0);
            results.profile = { ...summarizeProfile(file), services: 500, file };
        });

        // 2 and 4 need the local API server.
        if (["real", "noop", "up", "growth", "chart"].some((x) => sections.includes(x))) {
            const cluster = startBenchCluster();
            const apiPids = apiServerPids(cluster);
            const chart = emptyChart(tmp);
            // Prod-shaped: ours keeps the Argo CD CRDs in their own stack, `up` once per run (bench/harness.ts).
            const crds = upCrdStack(tmp);
            const crdStackCheckpoint = crds.checkpoint;
            results.crdStack = crds.run;
            log(`CRD stack: up ${(results.crdStack.result.opMs[0] / 1000).toFixed(2)} s (once per run, not per PR)`);
            const real = (variant: Job["variant"], services: number, op: Job["op"], rep: number, extra: Partial<Job> = {}): Run<JobResult> => {
                const stateDir = fs.mkdtempSync(path.join(tmp, "state-"));
                try {
                    const job: Job = {
                        variant,
                        services,
                        op,
                        stateDir,
                        kubeconfig: cluster.kubeconfig,
                        emptyChart: chart,
                        argoNamespace: benchNamespace,
                        ...(variant === "ours" || variant === "argocd" ? { crdStackCheckpoint } : {}),
                        ...extra,
                    };
                    return runChild<JobResult>("realPreview.ts", [JSON.stringify(job)], rep, { apiPids });
                } finally {
                    fs.rmSync(stateDir, { recursive: true, force: true });
                }
            };
            /** The floor's input: ours' objects recorded under mocks with the same overrides (Argo CD's chart: `chartPath`). */
            const floorInput = (services: number, chartPath = chart): string => floorDump(tmp, services, chartPath, benchNamespace);
            try {
                await section("real", () => {
                    for (let rep = 0; rep < reps; rep++) {
                        for (const services of realSizes) {
                            const dump = floorInput(services);
                            const order: Job["variant"][] = rep % 2 === 0 ? ["ours", "floor"] : ["floor", "ours"];
                            for (const variant of order) {
                                const run = withRetry(results, `preview ${variant} ${services} (repetition ${rep + 1})`, () =>
                                    real(variant, services, "preview", rep, variant === "floor" ? { floorResources: dump } : {}),
                                );
                                series(results.previews, variant, services).runs.push(run);
                                log(`preview ${rep + 1}/${reps} ${variant} ${services}: ${(run.result.opMs[0] / 1000).toFixed(2)} s (load ${run.load.toFixed(2)})`);
                            }
                        }
                    }
                });

                await section("noop", () => {
                    // Prod-shaped: the pinned Argo CD chart, not the empty one. Each variant gets its own API
                    // server (ours and the floor manage the same cluster-scoped objects) and one stack, created
                    // by an `up`, then previewed `reps` times in fresh processes, interleaved.
                    const pinned = path.resolve(repoRoot, fixtureChartPath);
                    for (const services of noopSizes) {
                        existingStackPreviews({
                            services,
                            chartPath: pinned,
                            argoNamespace: benchNamespace,
                            crdStackCheckpoint,
                            floorResources: floorInput(services, pinned),
                            parent: tmp,
                            previews: noopReps,
                            // Setup only (not a target): a throw-away stack, so no intermediate checkpoints.
                            up: { engineEnv: { PULUMI_SKIP_CHECKPOINTS: "true" } },
                            onUp: (variant, run) => {
                                series(results.noopSetup, variant, services).runs.push(run);
                                log(`noop setup: up ${variant} ${services} with the chart: ${(run.result.opMs[0] / 1000).toFixed(2)} s`);
                            },
                            onPreview: (variant, rep, run) => {
                                series(results.noop, variant, services).runs.push(run);
                                log(`no-op preview ${rep + 1}/${noopReps} ${variant} ${services}: ${(run.result.opMs[0] / 1000).toFixed(2)} s (load ${run.load.toFixed(2)})`);
                            },
                            retry: (what, attempt) => withRetry(results, what, attempt),
                        });
                    }
                });

                await section("up", () => {
                    const base = fs.readFileSync(floorInput(upServices), "utf8");
                    // What-if: the CLI without intermediate checkpoints (the file backend saves the whole state after every step).
                    const skipCheckpoints = { PULUMI_SKIP_CHECKPOINTS: "true" };
                    const variants: { variant: Job["variant"]; engineEnv?: Record<string, string> }[] = [
                        { variant: "ours" },
                        ...(upFloor ? [{ variant: "floor" as const }] : []),
                        { variant: "ours", engineEnv: skipCheckpoints },
                    ];
                    for (let rep = 0; rep < reps; rep++) {
                        const order = rep % 2 === 0 ? variants : [...variants].reverse();
                        for (const [i, { variant, engineEnv }] of order.entries()) {
                            const experiments = engineEnv ? Object.entries(engineEnv).map(([k, v]) => `${k}=${v}`) : [];
                            const what = `up ${variant}${experiments.length ? `+${experiments}` : ""} ${upServices} (repetition ${rep + 1})`;
                            const run = withRetry(results, what, (attempt) => {
                                const namespace = `argocd-up-${rep}-${i}${attempt > 0 ? `-retry${attempt}` : ""}`;
                                // The what-if needs only the first `up`: a no-op `up` writes no checkpoints anyway.
                                let extra: Partial<Job> = { repeat: engineEnv ? 1 : 2, argoNamespace: namespace, ...(engineEnv ? { engineEnv } : {}) };
                                if (variant === "floor") {
                                    const file = path.join(tmp, `up-floor-${rep}-${attempt}.json`);
                                    fs.writeFileSync(file, base.split(benchNamespace).join(namespace));
                                    extra = { ...extra, floorResources: file };
                                }
                                try {
                                    const measured = real(variant, upServices, "up", rep, extra);
                                    if (variant === "ours" && !engineEnv && !results.guardrailLabels) results.guardrailLabels = guardrailLabels(cluster);
                                    return measured;
                                } finally {
                                    cleanUp(cluster, namespace);
                                }
                            });
                            series(results.ups, variant, upServices, experiments).runs.push(run);
                            log(
                                `up ${rep + 1}/${reps} ${variant}${experiments.length ? `+${experiments}` : ""} ${upServices}: ${run.result.opMs.map((ms) => (ms / 1000).toFixed(2)).join(" s, then ")} s (load ${run.load.toFixed(2)})`,
                            );
                        }
                    }
                });

                await section("growth", () => {
                    // One run each (budget): the first `up` at 200 services, ours then the floor.
                    const base = fs.readFileSync(floorInput(growthServices), "utf8");
                    for (const [i, variant] of (["ours", "floor"] as const).entries()) {
                        const namespace = `argocd-growth-${i}`;
                        let extra: Partial<Job> = { argoNamespace: namespace };
                        if (variant === "floor") {
                            const file = path.join(tmp, "growth-floor.json");
                            fs.writeFileSync(file, base.split(benchNamespace).join(namespace));
                            extra = { ...extra, floorResources: file };
                        }
                        try {
                            const run = real(variant, growthServices, "up", 0, extra);
                            series(results.growth, variant, growthServices).runs.push(run);
                            log(`growth: up ${variant} ${growthServices}: ${(run.result.opMs[0] / 1000).toFixed(2)} s (load ${run.load.toFixed(2)})`);
                        } finally {
                            cleanUp(cluster, namespace);
                        }
                    }
                });

                await section("chart", () => {
                    // What a user would run instead of the Chart resource: helm template of the same chart and
                    // values, then a server-side dry-run apply of its output against the same API server.
                    const helm = helmBinary();
                    results.helmVersion = version(helm, ["version", "--short"], /(v[\d.]+\S*)/);
                    const values = path.join(tmp, "argocd-values.json");
                    fs.writeFileSync(values, JSON.stringify(renderArgoCdValues(argoCdBenchArgs({ argoNamespace: "argocd" }))));
                    kubectl(cluster, ["create", "namespace", "argocd"]);
                    const rendered = path.join(tmp, "argocd-rendered.yaml");
                    const helmRun = (rep: number) => {
                        const load = os.loadavg()[0];
                        let t = performance.now();
                        const tpl = spawnSync(helm, ["template", "gitops-argocd-chart", path.resolve(repoRoot, fixtureChartPath), "--namespace", "argocd", "--values", values], {
                            encoding: "utf8",
                            maxBuffer: 1 << 28,
                        });
                        const templateMs = performance.now() - t;
                        if (tpl.status !== 0) throw new Error(`helm template failed: ${tpl.stderr}`);
                        fs.writeFileSync(rendered, tpl.stdout);
                        t = performance.now();
                        const apply = kubectl(cluster, ["apply", "--server-side", "--dry-run=server", "--field-manager", "bench", "-f", rendered]);
                        const dryRunMs = performance.now() - t;
                        if (apply.code !== 0) throw new Error(`kubectl apply --dry-run=server failed: ${apply.stderr}`);
                        results.helm.push({ rep, load, templateMs, dryRunMs, objects: apply.stdout.split("\n").filter((l) => l.trim() !== "").length });
                        log(`chart ${rep + 1}/${reps} helm template ${(templateMs / 1000).toFixed(2)} s + dry-run apply ${(dryRunMs / 1000).toFixed(2)} s`);
                    };
                    // The CLI-without-automatic-log what-if of finding 7b is gone with the CRDs: the prod-shaped
                    // component no longer carries them (bench/FINDINGS.md, findings 7b and 12).
                    for (let rep = 0; rep < reps; rep++) {
                        const variants: Job["variant"][] = ["argocd", "chart", "empty"];
                        const order = rep % 2 === 0 ? variants : [...variants].reverse();
                        if (rep % 2 === 1) helmRun(rep);
                        for (const variant of order) {
                            const run = withRetry(results, `preview ${variant} (repetition ${rep + 1})`, () => real(variant, 0, "preview", rep, { argoNamespace: "argocd" }));
                            series(results.chart, variant, 0, []).runs.push(run);
                            log(`chart ${rep + 1}/${reps} ${variant}: ${(run.result.opMs[0] / 1000).toFixed(2)} s (load ${run.load.toFixed(2)})`);
                        }
                        if (rep % 2 === 0) helmRun(rep);
                    }
                });
            } finally {
                cluster.stop();
            }
        }

        // 3. Guardrail CEL throughput (bench/cel.ts, unchanged).
        await section("cel", () => {
            const load = os.loadavg()[0];
            const r = spawnSync(process.execPath, ["--import", "tsx", path.join(benchDir, "cel.ts"), "--objects", "10000", "--rounds", "5"], { cwd: repoRoot, encoding: "utf8" });
            if (r.status !== 0) throw new Error(`bench/cel.ts failed: ${r.stderr}`);
            const num = (re: RegExp) => {
                const m = r.stdout.match(re);
                return m ? Number(m[1].replace(/,/g, "")) : undefined;
            };
            results.cel = {
                output: r.stdout.trimEnd(),
                objectsPerSecond: num(/object checks:\s+([\d,]+)\/s/),
                objectsPerCpuSecond: num(/([\d,]+)\/s of CPU time/),
                evalsPerSecond: num(/raw CEL:\s+([\d,]+) evals\/s/),
                load,
            };
            log(`cel: ${results.cel.objectsPerSecond} object checks/s`);
        });
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }

    results.finishedAt = new Date().toISOString();
    const totalSeconds = Math.round((Date.now() - started) / 100) / 10;
    results.totalSeconds = totalSeconds;
    results.loadEnd = os.loadavg();
    const dir = outputDir(results);
    fs.writeFileSync(path.join(dir, "results.json"), `${JSON.stringify(results, null, 1)}\n`);
    await writeReport(results, dir);
    if (totalSeconds > 900)
        log(
            `WARNING: ${totalSeconds}s is over the 15-minute budget (load ${os
                .loadavg()
                .map((l) => l.toFixed(2))
                .join(" ")})`,
        );
    log(
        `done in ${totalSeconds}s: ${dir === benchDir ? "bench" : dir}/RESULTS.md, results.json, time-vs-services.svg${dir === benchDir ? "" : " (partial run: bench/RESULTS.md left as it was)"}`,
    );
}

main().catch((e: Error) => {
    console.error(e.stack ?? e.message);
    process.exit(1);
});
