/**
 * One real Pulumi operation (CLI + kubernetes plugin against the local API server, file backend),
 * the program served inline through the Automation API (scripts/lib/engine.ts), in this fresh
 * process. Prints one JSON line with the duration of each operation.
 *
 *   node --import tsx bench/realPreview.ts '<json Job>'
 *
 * Programs (`variant`):
 *   ours    controlPlaneProgram with `services` benchmark services (bench/services.ts), Argo CD's
 *           chart replaced by an empty local chart (its cost is measured on its own: `argocd`);
 *           with `crdStackCheckpoint`, prod-shaped: the CRDs are the `local-crds` stack's
 *           (`argocd.crds.stack`), as Pulumi.prod.yaml has them
 *   crds    the CRD stack itself (`local-crds`, Pulumi.local-crds.yaml: only the Argo CD CRDs)
 *   floor   the very same Kubernetes objects (type, name, inputs: recorded from `ours` under mocks),
 *           registered as plain @pulumi/kubernetes resources at the stack root: no components, no
 *           config parsing, no validation, no outputs (bench/floor.ts)
 *   argocd  only the ArgoCd component: namespace, argocd-secret and the pinned fixture chart (its
 *           own CRDs off), rendered by the provider; the Argo CD CRDs are the CRD stack's when
 *           `crdStackCheckpoint` is set (prod-shaped), else a ConfigGroup of the local CRD files
 *   chart   only the Helm Chart resource of the ArgoCd component, same chart and values: the chart's
 *           share, comparable with `helm template` of the same values
 *   empty   an empty program (the fixed cost of CLI, plugins and engine)
 *
 * `statePersists`: the stack's state dir is kept between jobs, so a `preview` after an `up` is a
 * no-op preview of an existing stack (what every PR check runs).
 */
import { Worker } from "node:worker_threads";
import * as k8s from "@pulumi/kubernetes";
import { EngineEvent, LocalWorkspace, PulumiFn } from "@pulumi/pulumi/automation";
import { ArgoCd, chartArgs, renderArgoCdValues } from "../components/argocd/ArgoCd";
import { repoRoot } from "../scripts/lib/engine";
import { controlPlaneProgram, stackProgram } from "../stacks/program";
import { argoCdBenchArgs, copyCrdStack, crdStackName } from "./cluster";
import { applyExperiments } from "./experiments";
import { floorProgram, readRecorded } from "./floor";
import { benchServices } from "./services";

export type Variant = "ours" | "floor" | "argocd" | "chart" | "empty" | "crds";
export type Operation = "preview" | "up";

export interface Job {
    readonly variant: Variant;
    readonly services: number;
    readonly op: Operation;
    /** `up`: how many consecutive updates (the second one is the no-op). @default 1 */
    readonly repeat?: number;
    readonly stateDir: string;
    readonly kubeconfig: string;
    /** Argo CD namespace (`up` runs use a fresh one each, so they never collide). @default "argocd" */
    readonly argoNamespace?: string;
    /** ours: local chart that replaces Argo CD's (the empty chart, or the pinned fixture chart for prod-shaped runs). */
    readonly emptyChart?: string;
    /** What-if runtime switches (bench/experiments.ts). @default none */
    readonly experiments?: readonly string[];
    /** Extra environment of the CLI (what-ifs such as PULUMI_SKIP_CHECKPOINTS). @default none */
    readonly engineEnv?: Readonly<Record<string, string>>;
    /** floor: recorded resources of `ours` (bench/mockEval.ts --dump). */
    readonly floorResources?: string;
    /**
     * A file backend directory where the `local-crds` stack is up (made once per benchmark run): its
     * checkpoint is copied into this job's fresh backend, so `ours` reads its `argoCdVersion` through
     * the StackReference as the prod stack does. @default none: ours installs the CRDs itself
     */
    readonly crdStackCheckpoint?: string;
    /** Sample the resident memory of this process's descendants (the CLI and its plugins): `peakTreeRssMB`. @default false */
    readonly treeRss?: boolean;
}

export interface JobResult {
    readonly variant: Variant;
    readonly services: number;
    readonly op: Operation;
    readonly experiments: readonly string[];
    /** Duration of each `stack.preview()` / `stack.up()` call, ms. */
    readonly opMs: number[];
    /** Resource steps the engine reported for each operation (same/create/...). */
    readonly changes: Record<string, number>[];
    /** CPU time of this Node.js process during each operation (program, SDK, Automation API), ms. */
    readonly opNodeCpuMs: number[];
    /** CPU time of this Node.js process over its whole life (module loading included), ms. */
    readonly nodeCpuMs: number;
    /** Time to create/select the stack (pulumi stack init/select), ms. */
    readonly stackMs: number;
    readonly peakRssMB: number;
    /**
     * With `treeRss`: the largest sum of the resident sets of this process's descendants (the CLI
     * and the plugins it runs), sampled every 100 ms from /proc by a worker thread (the program's
     * own event loop can be busy for seconds), MB.
     */
    readonly peakTreeRssMB?: number;
    /** Process start until the program's modules (tsx, SDKs, components) are loaded, ms. */
    readonly importMs: number;
    /**
     * Time line of each operation from the engine events as they arrived (ms from the call):
     * first event (CLI and plugins started, program connected), the Helm chart's step until the last
     * event of its children (rendering + their check/diff/dry-run; other steps may overlap), the summary.
     */
    readonly timeline: { firstEvent?: number; chartStart?: number; chartEnd?: number; summary?: number; steps: number }[];
}

const importMs = performance.now();

function program(job: Job): PulumiFn {
    switch (job.variant) {
        case "ours":
            return async () =>
                controlPlaneProgram({
                    services: benchServices(job.services),
                    argocd: {
                        namespace: job.argoNamespace ?? "argocd",
                        ...(job.emptyChart ? { chart: { path: job.emptyChart } } : {}),
                        ...(job.crdStackCheckpoint ? { crds: { stack: crdStackName } } : {}),
                    },
                });
        case "crds":
            return async () => stackProgram();
        case "floor": {
            const recorded = readRecorded(job.floorResources!);
            return async () => {
                floorProgram(recorded);
                return {};
            };
        }
        case "argocd":
            return async () => {
                const provider = new k8s.Provider("kubernetes", {});
                const args = argoCdBenchArgs(job);
                const argo = new ArgoCd("gitops-argocd", { ...args, ...(job.crdStackCheckpoint ? { crds: { kind: "stack", stack: crdStackName } } : {}), provider });
                return { namespace: argo.namespaceName };
            };
        case "chart":
            return async () => {
                const provider = new k8s.Provider("kubernetes", {});
                const args = argoCdBenchArgs(job);
                // As ArgoCd creates it (components/argocd/ArgoCd.ts), without the objects around it.
                new k8s.helm.v4.Chart(
                    "gitops-argocd-chart",
                    { ...chartArgs(args.chart), namespace: args.namespace, skipAwait: true, values: renderArgoCdValues(args) },
                    { provider },
                );
                return {};
            };
        case "empty":
            return async () => ({});
    }
}

/**
 * The peak of the summed resident sets of `pid`'s descendants, sampled every 100 ms in a worker
 * thread (Linux /proc). `stop()` resolves to the peak in MB.
 */
function sampleDescendantsRss(pid: number): { stop: () => Promise<number> } {
    const code = `
const fs = require("node:fs");
const { parentPort, workerData } = require("node:worker_threads");
const read = (file) => { try { return fs.readFileSync(file, "utf8"); } catch { return ""; } };
const children = (pid) => read("/proc/" + pid + "/task/" + pid + "/children").split(" ").filter((x) => x.trim() !== "").map(Number);
let peak = 0;
const sample = () => {
    let kB = 0;
    const todo = children(workerData.pid);
    while (todo.length > 0) {
        const p = todo.pop();
        const m = read("/proc/" + p + "/status").match(/VmRSS:\\s+(\\d+) kB/);
        if (m) kB += Number(m[1]);
        todo.push(...children(p));
    }
    peak = Math.max(peak, kB);
};
const timer = setInterval(sample, 100);
parentPort.on("message", () => { clearInterval(timer); sample(); parentPort.postMessage(peak / 1024); });
`;
    const worker = new Worker(code, { eval: true, workerData: { pid } });
    return {
        stop: () =>
            new Promise<number>((resolve, reject) => {
                worker.once("message", (mb: number) => {
                    void worker.terminate();
                    resolve(mb);
                });
                worker.once("error", reject);
                worker.postMessage("stop");
            }),
    };
}

async function main(): Promise<void> {
    const job = JSON.parse(process.argv[2]) as Job;
    // As scripts/lib/engine.ts runs every program (and for every variant alike): no source-mapped
    // stack traces (tsx turns them on; the SDK captures one per resource and per output).
    process.setSourceMapsEnabled(false);
    const experiments = applyExperiments(job.experiments?.join(","));
    const envVars: Record<string, string> = {
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
        PULUMI_BACKEND_URL: `file://${job.stateDir}`,
        PULUMI_CONFIG_PASSPHRASE: "gitops-control-local",
        KUBECONFIG: job.kubeconfig,
        ...job.engineEnv,
    };
    if (job.crdStackCheckpoint) copyCrdStack(job.crdStackCheckpoint, job.stateDir);
    const treeRss = job.treeRss ? sampleDescendantsRss(process.pid) : undefined;
    let t = performance.now();
    // Same project, stack and stack file (Pulumi.local.yaml) for every variant but the CRD stack, as scripts/lib/engine.ts opens it.
    const stackName = job.variant === "crds" ? crdStackName : "local";
    const stack = await LocalWorkspace.createOrSelectStack({ stackName, projectName: "gitops-control", program: program(job) }, { workDir: repoRoot, envVars });
    const stackMs = performance.now() - t;
    const opMs: number[] = [];
    const changes: Record<string, number>[] = [];
    const opNodeCpuMs: number[] = [];
    const timeline: JobResult["timeline"] = [];
    const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;
    for (let i = 0; i < (job.repeat ?? 1); i++) {
        const cpu0 = process.cpuUsage();
        t = performance.now();
        const tl: JobResult["timeline"][number] = { steps: 0 };
        const onEvent = (e: EngineEvent) => {
            const at = performance.now() - t;
            tl.firstEvent ??= at;
            const pre = e.resourcePreEvent?.metadata;
            if (pre) tl.steps++;
            if (pre?.type === "kubernetes:helm.sh/v4:Chart") tl.chartStart ??= at;
            // The chart's span ends with the last event of one of its children (their URNs carry the Chart's type).
            const urn = e.resOutputsEvent?.metadata.urn ?? pre?.urn ?? "";
            if (urn.includes("kubernetes:helm.sh/v4:Chart$")) tl.chartEnd = at;
            if (e.summaryEvent) tl.summary = at;
        };
        const summary = job.op === "preview" ? (await stack.preview({ onEvent })).changeSummary : (await stack.up({ onEvent })).summary.resourceChanges;
        opMs.push(performance.now() - t);
        timeline.push(tl);
        opNodeCpuMs.push(cpuMs(process.cpuUsage(cpu0)));
        changes.push(Object.fromEntries(Object.entries(summary ?? {}).map(([k, v]) => [k, v ?? 0])));
    }
    const peakTreeRssMB = await treeRss?.stop();
    const out: JobResult = {
        variant: job.variant,
        services: job.services,
        op: job.op,
        experiments,
        opMs,
        opNodeCpuMs,
        nodeCpuMs: cpuMs(process.cpuUsage()),
        changes,
        stackMs,
        peakRssMB: process.resourceUsage().maxRSS / 1024,
        ...(peakTreeRssMB !== undefined ? { peakTreeRssMB } : {}),
        importMs,
        timeline,
    };
    console.log(JSON.stringify(out));
}

main().catch((e: Error) => {
    console.error(e.stack ?? e.message);
    process.exit(1);
});
