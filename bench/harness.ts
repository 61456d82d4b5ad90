/**
 * What bench/run.ts and bench/scalePulumi.ts share: measured child processes (wall time, CPU of the
 * process tree and of the API server), the CRD stack every prod-shaped `ours` references, the
 * floor's input, and no-op previews of existing stacks, ours and the floor interleaved, each on its
 * own API server.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { LocalCluster } from "../tests/integration/support";
import { startCluster } from "../tests/integration/support";
import { crdStackName, startBenchCluster } from "./cluster";
import type { MockEvalResult } from "./mockEval";
import type { Job, JobResult } from "./realPreview";

export const benchDir = __dirname;
export const repoRoot = path.resolve(__dirname, "..");

/** One measured child process. */
export interface Run<T> {
    readonly rep: number;
    /** 1-minute load average when the run started. */
    readonly load: number;
    /** Wall time of the child process, ms. */
    readonly childMs: number;
    /** CPU time of the child and every process it waited for (CLI, plugins), ms. */
    readonly treeCpuMs: number;
    /** CPU time of kube-apiserver + etcd during the run (real runs), ms. */
    readonly apiCpuMs?: number;
    readonly result: T;
}

/** The value after `--<name>` on the command line. */
export function option(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

const started = Date.now();
export function log(message: string): void {
    const t = new Date().toISOString().slice(11, 19);
    console.error(`[bench] ${t} +${Math.round((Date.now() - started) / 1000)}s ${message}`);
}

const clockTicks = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

/** User + system CPU of this process's waited-for children (and theirs), ms. */
function childrenCpuMs(): number {
    const fields = fs.readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ");
    return ((Number(fields[13]) + Number(fields[14])) * 1000) / clockTicks;
}

/** User + system CPU of running processes by pid, ms (0 for a process that is gone). */
function processCpuMs(pids: readonly number[]): number {
    let total = 0;
    for (const pid of pids) {
        try {
            const fields = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
            total += ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks;
        } catch {
            // exited
        }
    }
    return total;
}

/** The pids of a local cluster's etcd and kube-apiserver (their CPU is the API server's share). */
export function apiServerPids(cluster: LocalCluster): number[] {
    return ["etcd", "kube-apiserver"].map((c) => Number(fs.readFileSync(path.join(cluster.dir, `${c}.pid`), "utf8").trim()));
}

/** Runs bench/<script> in a fresh Node.js process and measures it; its last stdout line is its JSON result. */
export function runChild<T>(
    script: string,
    args: readonly string[],
    rep: number,
    opts: { nodeArgs?: readonly string[]; env?: NodeJS.ProcessEnv; apiPids?: readonly number[] } = {},
): Run<T> {
    const load = os.loadavg()[0];
    const cpu0 = childrenCpuMs();
    const api0 = opts.apiPids ? processCpuMs(opts.apiPids) : 0;
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [...(opts.nodeArgs ?? []), "--import", "tsx", path.join(benchDir, script), ...args], {
        cwd: repoRoot,
        encoding: "utf8",
        env: { ...process.env, ...opts.env },
        maxBuffer: 1 << 28,
    });
    const childMs = performance.now() - t0;
    if (r.status !== 0) {
        throw new Error(`${script} ${args.join(" ").slice(0, 300)} failed (exit ${r.status}):\n${(r.stderr ?? "").split("\n").slice(-40).join("\n")}`);
    }
    const line = r.stdout.trim().split("\n").pop() ?? "";
    return {
        rep,
        load,
        childMs,
        treeCpuMs: childrenCpuMs() - cpu0,
        ...(opts.apiPids ? { apiCpuMs: processCpuMs(opts.apiPids) - api0 } : {}),
        result: JSON.parse(line) as T,
    };
}

/**
 * Ours, prod-shaped, keeps the Argo CD CRDs in their own stack (Pulumi.prod.yaml's
 * argocd.crds.stack). That stack is `up` once, here, on a cluster of its own (every bench cluster
 * has the same CRDs applied up front), into a file backend under `parent`; each run of ours gets a
 * copy of its checkpoint (`Job.crdStackCheckpoint`), which its StackReference reads.
 */
export function upCrdStack(parent: string): { readonly checkpoint: string; readonly run: Run<JobResult> } {
    const checkpoint = fs.mkdtempSync(path.join(parent, "crd-stack-"));
    const crdCluster = startCluster({ LOCAL_CLUSTER_NO_CONTROLLER_MANAGER: "1" });
    try {
        const job: Job = { variant: "crds", services: 0, op: "up", stateDir: checkpoint, kubeconfig: crdCluster.kubeconfig };
        return { checkpoint, run: runChild<JobResult>("realPreview.ts", [JSON.stringify(job)], 0, { apiPids: apiServerPids(crdCluster) }) };
    } finally {
        crdCluster.stop();
    }
}

/**
 * The floor's input: ours' objects at `services`, recorded under mocks (bench/mockEval.ts --dump)
 * with the same overrides as the real runs (Argo CD's namespace, its chart `chartPath`, the CRD
 * stack). Written once per size and chart into `parent`.
 */
export function floorDump(parent: string, services: number, chartPath: string, argoNamespace: string): string {
    const file = path.join(parent, `real-floor-${services}-${path.basename(chartPath)}.json`);
    if (!fs.existsSync(file)) {
        runChild<MockEvalResult>(
            "mockEval.ts",
            [String(services), "--dump", file, "--overrides", JSON.stringify({ argocd: { namespace: argoNamespace, chart: { path: chartPath }, crds: { stack: crdStackName } } })],
            0,
        );
    }
    return file;
}

export const prodVariants = ["ours", "floor"] as const;
export type ProdVariant = (typeof prodVariants)[number];

export interface ExistingStacks {
    readonly services: number;
    /** Argo CD's chart of both programs (the pinned fixture chart: prod-shaped). */
    readonly chartPath: string;
    readonly argoNamespace: string;
    /** Where the CRD stack is up ({@link upCrdStack}). */
    readonly crdStackCheckpoint: string;
    /** The floor's input ({@link floorDump}). */
    readonly floorResources: string;
    /** Scratch directory for the stacks' file backends. */
    readonly parent: string;
    readonly previews: number;
    /** Extra fields of the `up` that creates each stack (its CLI environment, the process tree's memory). */
    readonly up?: Partial<Job>;
    /** Extra fields of each preview. */
    readonly preview?: Partial<Job>;
    /** Order of the `up`s (the previews alternate from this order). @default ours first */
    readonly oursFirst?: boolean;
    readonly onUp: (variant: ProdVariant, run: Run<JobResult>) => void;
    readonly onPreview: (variant: ProdVariant, rep: number, run: Run<JobResult>) => void;
    /** Measures a failed preview once more (bench/run.ts's withRetry). @default measure once */
    readonly retry?: <T>(what: string, attempt: (n: number) => T) => T;
}

/**
 * Ours and the floor, each on a fresh API server of its own (they manage the same cluster-scoped
 * objects): one `up` creates each stack, then `previews` no-op previews of it, each in a fresh
 * process, the variants interleaved in alternating order (load from other processes hits them alike).
 */
export function existingStackPreviews(o: ExistingStacks): void {
    const own = Object.fromEntries(prodVariants.map((v) => [v, startBenchCluster()])) as Record<ProdVariant, LocalCluster>;
    const states = Object.fromEntries(prodVariants.map((v) => [v, fs.mkdtempSync(path.join(o.parent, `noop-${v}-`))])) as Record<ProdVariant, string>;
    const order: readonly ProdVariant[] = o.oursFirst === false ? [...prodVariants].reverse() : prodVariants;
    const retry = o.retry ?? (<T>(_what: string, attempt: (n: number) => T) => attempt(0));
    try {
        const job = (variant: ProdVariant, op: Job["op"]): Job => ({
            variant,
            services: o.services,
            op,
            stateDir: states[variant],
            kubeconfig: own[variant].kubeconfig,
            emptyChart: o.chartPath,
            argoNamespace: o.argoNamespace,
            ...(variant === "floor" ? { floorResources: o.floorResources } : { crdStackCheckpoint: o.crdStackCheckpoint }),
        });
        for (const variant of order) {
            o.onUp(variant, runChild<JobResult>("realPreview.ts", [JSON.stringify({ ...job(variant, "up"), ...o.up })], 0, { apiPids: apiServerPids(own[variant]) }));
        }
        for (let rep = 0; rep < o.previews; rep++) {
            for (const variant of rep % 2 === 0 ? order : [...order].reverse()) {
                const run = retry(`no-op preview ${variant} ${o.services} (repetition ${rep + 1})`, () =>
                    runChild<JobResult>("realPreview.ts", [JSON.stringify({ ...job(variant, "preview"), ...o.preview })], rep, { apiPids: apiServerPids(own[variant]) }),
                );
                o.onPreview(variant, rep, run);
            }
        }
    } finally {
        for (const v of prodVariants) {
            own[v].stop();
            fs.rmSync(states[v], { recursive: true, force: true });
        }
    }
}
