/**
 * Reads a V8 CPU profile (.cpuprofile) and attributes its samples: where the program's evaluation
 * time goes (stack-trace capture, garbage collection, this project's own code, the Pulumi SDK).
 */
import * as fs from "node:fs";

interface ProfileNode {
    id: number;
    callFrame: { functionName: string; url: string; lineNumber: number };
    children?: number[];
}

interface CpuProfile {
    nodes: ProfileNode[];
    samples: number[];
    timeDeltas: number[];
}

export interface ProfileSummary {
    readonly totalMs: number;
    /** Inclusive time of V8/Node stack-trace formatting (Error.stack, source-mapped under tsx). */
    readonly stackTraceMs: number;
    /** Part of it spent mapping frames through source maps. */
    readonly sourceMapMs: number;
    readonly gcMs: number;
    /** Self time in this repository's code (components/, stacks/): config parsing, validation, rendering. */
    readonly projectSelfMs: number;
    /** Inclusive time of Pulumi resource construction (Resource constructor: options, stack trace, outputs, RPC preparation). */
    readonly resourceConstructionMs: number;
    /** Inclusive time of the component constructors of this repository, by component. */
    readonly components: Readonly<Record<string, number>>;
    /** Functions with the most self time. */
    readonly topSelf: readonly { readonly name: string; readonly ms: number }[];
}

const label = (n: ProfileNode): string => {
    const url = n.callFrame.url
        .replace(/^file:\/\//, "")
        .replace(/^.*node_modules\//, "")
        .replace(/^.*\/(components|stacks|bench|scripts)\//, "$1/");
    return `${n.callFrame.functionName || "(anonymous)"} ${url}${url ? `:${n.callFrame.lineNumber + 1}` : ""}`;
};

export function summarizeProfile(file: string): ProfileSummary {
    const profile = JSON.parse(fs.readFileSync(file, "utf8")) as CpuProfile;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
    const time = new Map<number, number>();
    profile.samples.forEach((id, i) => time.set(id, (time.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000));

    let totalMs = 0;
    let stackTraceMs = 0;
    let sourceMapMs = 0;
    let gcMs = 0;
    let projectSelfMs = 0;
    let resourceConstructionMs = 0;
    const components: Record<string, number> = {};
    const self = new Map<string, number>();
    const isProject = (n: ProfileNode) => /\/(components|stacks)\/[^/]+\.ts$/.test(n.callFrame.url) && !n.callFrame.url.includes("node_modules");
    for (const [id, ms] of time) {
        const leaf = byId.get(id)!;
        // The profiler's own stop call is not the program's.
        if (leaf.callFrame.url === "node:inspector") continue;
        totalMs += ms;
        self.set(label(leaf), (self.get(label(leaf)) ?? 0) + ms);
        if (leaf.callFrame.functionName === "(garbage collector)") gcMs += ms;
        if (isProject(leaf)) projectSelfMs += ms;
        let stack = false;
        let sourceMap = false;
        let resource = false;
        const seen = new Set<string>();
        for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
            const n = byId.get(cur)!;
            const f = n.callFrame;
            if (f.functionName === "prepareStackTraceCallback") stack = true;
            if (f.url.includes("source_map")) sourceMap = true;
            if (f.functionName === "Resource" && f.url.endsWith("@pulumi/pulumi/resource.js")) resource = true;
            if (isProject(n) && /^[A-Z]/.test(f.functionName) && !seen.has(f.functionName)) {
                seen.add(f.functionName);
                components[f.functionName] = (components[f.functionName] ?? 0) + ms;
            }
        }
        if (stack) stackTraceMs += ms;
        if (stack && sourceMap) sourceMapMs += ms;
        if (resource) resourceConstructionMs += ms;
    }
    const topSelf = [...self]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 10)
        .map(([name, ms]) => ({ name, ms }));
    return { totalMs, stackTraceMs, sourceMapMs, gcMs, projectSelfMs, resourceConstructionMs, components, topSelf };
}
