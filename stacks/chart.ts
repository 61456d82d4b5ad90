import * as fs from "node:fs";
import * as path from "node:path";
import type { ChartSource, CrdSource } from "../components/argocd/ArgoCd";
import { argoCdVersion, pinnedChart } from "../components/argocd/ArgoCd";
import type { StackConfig } from "./schema";

/** Repository root (where Pulumi.yaml is); stack-file paths are relative to it. */
const projectRoot = path.resolve(__dirname, "..");

/** The fixture chart beside a development checkout (`../shared`), used by the local stack when no chart is configured. */
export const fixtureChartPath = path.join("..", "shared", "fixtures", "argo-cd", "charts", `argo-cd-${pinnedChart.version}.tgz`);

/** The Argo CD CRDs beside a development checkout (shared/fixtures), at {@link argoCdVersion}. */
export const fixtureCrdDir = path.join("..", "shared", "fixtures", "argo-cd", argoCdVersion, "crds");

/**
 * The Argo CD CRDs: a configured directory or CRD stack; for the local stack the fixture beside a development
 * checkout, else the copy the toolchain extracted from the argo-cd Go module (`GITOPS_ARGOCD_CRDS`);
 * else `undefined`, the release by URL (the component's default).
 */
export function crdSource(config: Pick<StackConfig, "argocd" | "environment">, root: string = projectRoot): CrdSource | undefined {
    const crds = config.argocd.crds;
    if (crds) return "stack" in crds ? { kind: "stack", stack: crds.stack } : { kind: "local", dir: crds.path };
    if (config.environment !== "local") return undefined;
    const candidates = [fixtureCrdDir, process.env.GITOPS_ARGOCD_CRDS].filter((d): d is string => d !== undefined && d !== "");
    const found = candidates.find((dir) => fs.existsSync(path.resolve(root, dir, "application-crd.yaml")));
    return found ? { kind: "local", dir: found } : undefined;
}

/** Where the stack's Argo CD chart comes from, and how to say it in one line. */
export interface ResolvedChart {
    /** `undefined`: the pinned chart from its repository (the component's default). */
    readonly source: ChartSource | undefined;
    /** "argo-cd 10.1.1 from <repo>" or "<path>". */
    readonly description: string;
    /** Only a repository source needs the network (checked by scripts/commands/check-chart.ts before slow steps). */
    readonly needsNetwork: boolean;
}

/**
 * Resolves the chart: a configured path or version; else, on the local stack, the fixture beside a
 * development checkout when it exists; else the chart repository. Pure apart from one `existsSync`.
 */
export function resolveChart(config: Pick<StackConfig, "argocd" | "environment">, root: string = projectRoot): ResolvedChart {
    const chart = config.argocd.chart;
    if (chart && "path" in chart) return { source: { kind: "local", path: chart.path }, description: chart.path, needsNetwork: false };
    if (chart) {
        const repo = chart.repo ?? pinnedChart.repo;
        return { source: { kind: "repository", repo, version: chart.version }, description: `${pinnedChart.name} ${chart.version} from ${repo}`, needsNetwork: true };
    }
    if (config.environment === "local" && fs.existsSync(path.resolve(root, fixtureChartPath))) {
        return { source: { kind: "local", path: fixtureChartPath }, description: fixtureChartPath, needsNetwork: false };
    }
    return { source: undefined, description: `${pinnedChart.name} ${pinnedChart.version} from ${pinnedChart.repo}`, needsNetwork: true };
}

/** The one line printed when no chart is reachable. */
export function chartUnreachableMessage(chart: ResolvedChart, stack: string): string {
    return (
        `no Argo CD chart reachable for stack "${stack}": ${chart.description} cannot be fetched and ${fixtureChartPath} does not exist. ` +
        `Fix: download argo-cd-${pinnedChart.version}.tgz and run \`pulumi config set --path gitops-control:argocd.chart.path <file.tgz> --stack ${stack}\` ` +
        `(or check out the shared fixtures beside this repository).`
    );
}
