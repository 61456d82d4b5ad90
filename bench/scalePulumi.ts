/**
 * The Pulumi side of the GitOps loop at scale (issue 21): for each size N, the program ("ours",
 * prod-shaped: the pinned Argo CD chart, the CRDs in their own stack) and the floor (the very
 * objects ours registers, recorded under mocks, as plain resources: bench/floor.ts), each on a
 * fresh local API server of its own: the first `up` that creates the stack, then no-op `preview`s
 * of it, each in a fresh process, the two interleaved (bench/harness.ts, as the noop section of
 * bench/run.ts). Wall time, CPU, peak memory of the Node.js program process and of the CLI with its
 * plugins, steps. Writes one JSON file (rewritten after every size: an interrupted run keeps the
 * sizes it finished). Run by `npm run bench -- --sections scale` after the Argo CD side.
 *
 *   node --import tsx bench/scalePulumi.ts --sizes 100,500,1000 --out file.json [--previews N] [--checkpoints-up-to N]
 *
 * --previews            no-op previews per variant and size. @default 3 up to 500 services, 1 above
 * --checkpoints-up-to   the first `up` runs as a user runs it (the CLI saves the whole state after
 *                       every step: its cost grows with the square of the size) up to this many
 *                       services; above, with PULUMI_SKIP_CHECKPOINTS=true (one save at the end), and
 *                       the table says so. @default 200. Measured here (load 5–8): the program's
 *                       first `up` at 100 services (709 steps, the chart included) took 190 s
 *                       checkpointed and 23 s without; by the square of the steps, a checkpointed one
 *                       would take up to about an hour at 500 and 3.5 hours at 1,000 (per program)
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fixtureChartPath } from "../stacks/config";
import { ProdVariant, Run, existingStackPreviews, floorDump, log, option, repoRoot, upCrdStack } from "./harness";
import type { JobResult } from "./realPreview";

export interface PulumiScaleRun {
    readonly services: number;
    /** The first `up` saved the state after every step (the CLI's default), or once (PULUMI_SKIP_CHECKPOINTS). */
    readonly checkpoints: boolean;
    /** Which variant ran its `up` first (the previews alternate from that order). */
    readonly first: ProdVariant;
    readonly up: Partial<Record<ProdVariant, Run<JobResult>>>;
    readonly previews: Partial<Record<ProdVariant, Run<JobResult>[]>>;
}

export interface PulumiScaleResults {
    readonly startedAt: string;
    finishedAt: string;
    readonly loadStart: readonly number[];
    loadEnd: readonly number[];
    /** The CRD stack's `up` (once per run; ours reads it through its StackReference). */
    readonly crdStackSeconds: number;
    readonly runs: PulumiScaleRun[];
}

/** Argo CD's namespace in both programs. */
const argoNamespace = "argocd-bench";

function positive(name: string, value: string): number {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} ${value}: use a whole number ≥ 1`);
    return n;
}

function main(): void {
    const sizes = (option("sizes") ?? "100,500,1000").split(",").map((x) => positive("sizes", x));
    const out = option("out");
    if (!out) throw new Error("usage: scalePulumi.ts --sizes 100,500,1000 --out file.json [--previews N] [--checkpoints-up-to N]");
    const previewsOption = option("previews");
    const checkpointsUpTo = positive("checkpoints-up-to", option("checkpoints-up-to") ?? "200");
    const pinned = path.resolve(repoRoot, fixtureChartPath);
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-bench-pulumi-"));
    try {
        const crds = upCrdStack(tmp);
        const results: PulumiScaleResults = {
            startedAt: new Date().toISOString(),
            finishedAt: "",
            loadStart: os.loadavg(),
            loadEnd: [],
            crdStackSeconds: crds.run.result.opMs[0] / 1000,
            runs: [],
        };
        const save = () => {
            results.finishedAt = new Date().toISOString();
            results.loadEnd = os.loadavg();
            fs.writeFileSync(out, `${JSON.stringify(results, null, 1)}\n`);
        };
        for (const [i, services] of sizes.entries()) {
            const checkpoints = services <= checkpointsUpTo;
            const previews = previewsOption ? positive("previews", previewsOption) : services <= 500 ? 3 : 1;
            const run: PulumiScaleRun = { services, checkpoints, first: i % 2 === 0 ? "ours" : "floor", up: {}, previews: {} };
            log(
                `pulumi ${services}: first up (${checkpoints ? "checkpoint after every step" : "PULUMI_SKIP_CHECKPOINTS=true"}), then ${previews} no-op previews each, ${run.first} first`,
            );
            existingStackPreviews({
                services,
                chartPath: pinned,
                argoNamespace,
                crdStackCheckpoint: crds.checkpoint,
                floorResources: floorDump(tmp, services, pinned, argoNamespace),
                parent: tmp,
                previews,
                oursFirst: run.first === "ours",
                up: { treeRss: true, ...(checkpoints ? {} : { engineEnv: { PULUMI_SKIP_CHECKPOINTS: "true" } }) },
                preview: { treeRss: true },
                onUp: (variant, r) => {
                    run.up[variant] = r;
                    log(`pulumi ${services}: up ${variant} ${(r.result.opMs[0] / 1000).toFixed(1)} s, ${stepsOf(r)} (load ${r.load.toFixed(2)})`);
                },
                onPreview: (variant, rep, r) => {
                    (run.previews[variant] ??= []).push(r);
                    log(`pulumi ${services}: no-op preview ${rep + 1}/${previews} ${variant} ${(r.result.opMs[0] / 1000).toFixed(2)} s, ${stepsOf(r)} (load ${r.load.toFixed(2)})`);
                },
            });
            results.runs.push(run);
            save();
        }
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

/** "create 334" / "same 334": the steps the engine reported for the first operation. */
export function stepsOf(r: Run<JobResult>): string {
    return Object.entries(r.result.changes[0] ?? {})
        .filter(([, n]) => n > 0)
        .map(([k, n]) => `${k} ${n}`)
        .join(", ");
}

if (require.main === module) {
    try {
        main();
    } catch (e) {
        console.error((e as Error).stack ?? (e as Error).message);
        process.exit(1);
    }
}
