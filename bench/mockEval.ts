/**
 * One program evaluation under Pulumi's mocks (scripts/lib/mockRuntime.ts), in this fresh process
 * (Pulumi keeps its runtime state on `global`): the `local` stack with `count` benchmark services
 * (bench/services.ts). Prints one JSON line: evaluation time, resources registered, peak RSS.
 *
 *   node --import tsx bench/mockEval.ts <count> [--floor <recorded.json>] [--dump <file.json>] [--overrides <json>]
 *
 * --floor      evaluate the floor program (bench/floor.ts) over resources recorded with --dump
 * --dump       write the recorded non-component resources (the floor's input)
 * --overrides  extra stack config overrides (JSON)
 * --profile    write a CPU profile (.cpuprofile) of the evaluation span only (node:inspector)
 * BENCH_EXP    what-if runtime switches of the hot-spot analysis (bench/experiments.ts)
 */
import * as fs from "node:fs";
import * as inspector from "node:inspector";
import * as pulumi from "@pulumi/pulumi";
import { RecordedResource, installMocks, settle, valueOf } from "../scripts/lib/mockRuntime";
import { controlPlaneProgram } from "../stacks/program";
import { applyExperiments } from "./experiments";
import { floorProgram, readRecorded } from "./floor";
import { benchSecretKeys, benchServices, benchStackConfig } from "./services";

export interface MockEvalResult {
    readonly variant: "ours" | "floor";
    readonly experiments: readonly string[];
    readonly services: number;
    /** Program call until the last resource registered and the exports resolved, ms. */
    readonly evalMs: number;
    /** CPU time of this process (all threads, GC included) over the same span (plus the settle ticks), ms. */
    readonly cpuMs: number;
    /** Process start until the program's modules are loaded, ms. */
    readonly importMs: number;
    /** Registrations (components included). */
    readonly resources: number;
    /** Registrations that are not components of this library. */
    readonly customResources: number;
    readonly peakRssMB: number;
    /** Heap still reachable after the run (only with --expose-gc). */
    readonly retainedHeapMB?: number;
}

function option(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

/** The V8 CPU profiler of this process (same format as `node --cpu-prof`), sampling every 200 µs. */
async function startProfiler(): Promise<{ stop(): Promise<unknown> }> {
    const session = new inspector.Session();
    session.connect();
    const post = (method: string, params?: object) =>
        new Promise<unknown>((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
    await post("Profiler.enable");
    await post("Profiler.setSamplingInterval", { interval: 200 });
    await post("Profiler.start");
    return { stop: async () => ((await post("Profiler.stop")) as { profile: unknown }).profile };
}

async function main(): Promise<void> {
    const importMs = performance.now();
    const count = Number(process.argv[2]);
    if (!Number.isInteger(count) || count < 0) throw new Error("usage: mockEval.ts <count> [--floor file] [--dump file] [--overrides json]");
    const floorFile = option("floor");
    const dumpFile = option("dump");
    const overrides = JSON.parse(option("overrides") ?? "{}") as Record<string, unknown>;

    // As scripts/lib/engine.ts runs every program (and for every variant alike): no source-mapped
    // stack traces (tsx turns them on; the SDK captures one per resource and per output).
    process.setSourceMapsEnabled(false);
    const experiments = applyExperiments();

    const recorded = installMocks("local");
    pulumi.runtime.setAllConfig(benchStackConfig, benchSecretKeys);
    let last = 0;
    const push = recorded.push.bind(recorded);
    recorded.push = (...items: RecordedResource[]) => {
        last = performance.now();
        return push(...items);
    };

    const floorInput = floorFile ? readRecorded(floorFile) : undefined;
    const services = benchServices(count);
    const profileFile = option("profile");
    const profiler = profileFile ? await startProfiler() : undefined;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    if (floorInput) {
        floorProgram(floorInput);
    } else {
        await valueOf(controlPlaneProgram({ services, ...overrides }).services);
    }
    const resolved = performance.now();
    await settle(recorded);
    const evalMs = Math.max(last, resolved) - t0;
    const cpu = process.cpuUsage(cpu0);
    if (profiler && profileFile) fs.writeFileSync(profileFile, JSON.stringify(await profiler.stop()));

    const g = globalThis as { gc?: () => void };
    g.gc?.();
    const result: MockEvalResult = {
        variant: floorInput ? "floor" : "ours",
        experiments,
        services: count,
        evalMs,
        cpuMs: (cpu.user + cpu.system) / 1000,
        importMs,
        resources: recorded.length,
        customResources: recorded.filter((r) => !r.type.startsWith("gitops-control:")).length,
        peakRssMB: process.resourceUsage().maxRSS / 1024,
        ...(g.gc ? { retainedHeapMB: process.memoryUsage().heapUsed / 2 ** 20 } : {}),
    };
    if (dumpFile) {
        fs.writeFileSync(dumpFile, JSON.stringify(recorded.filter((r) => !r.type.startsWith("gitops-control:"))));
    }
    console.log(JSON.stringify(result));
}

main().catch((e: Error) => {
    console.error(e.stack ?? e.message);
    process.exit(1);
});
