/**
 * What-if switches for the hot-spot analysis (BENCH_EXP, comma-separated), applied in a benchmark
 * child before the program runs. They change the runtime, never the program:
 *   nosourcemaps  process.setSourceMapsEnabled(false): tsx turns source maps on, so every stack
 *                 trace Pulumi captures (one per resource, one per output promise) is source-mapped
 *   nocallsites   no per-resource stack trace (Resource.callsites returns nothing)
 *   nostack       Error.stackTraceLimit = 0 (promise stack traces empty)
 */
import * as pulumi from "@pulumi/pulumi";

export function applyExperiments(spec = process.env.BENCH_EXP ?? ""): string[] {
    const experiments = spec.split(",").filter((e) => e !== "");
    for (const e of experiments) {
        if (e === "nosourcemaps") process.setSourceMapsEnabled(false);
        else if (e === "nocallsites") (pulumi.Resource as unknown as { callsites: () => unknown[] }).callsites = () => [];
        else if (e === "nostack") Error.stackTraceLimit = 0;
        else throw new Error(`unknown BENCH_EXP experiment "${e}"`);
    }
    return experiments;
}
