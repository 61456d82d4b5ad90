/**
 * The local API server of the real-engine benchmarks (tests/integration/support.ts), with Argo CD's
 * CRDs installed up front: Applications, AppProjects and ApplicationSets are then dry-run against
 * their real schemas in every preview, whether or not the program installs Argo CD itself.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { startClusterWithArgoCdCrds } from "../tests/integration/support";

/** The local API server with Argo CD's CRDs (moved to tests/integration/support.ts, shared with the tests). */
export const startBenchCluster = startClusterWithArgoCdCrds;

/** A local chart without templates, created under `parent`: the ArgoCd component stays, the chart renders nothing. */
export function emptyChart(parent: string): string {
    const dir = fs.mkdtempSync(path.join(parent, "empty-chart-"));
    fs.writeFileSync(path.join(dir, "Chart.yaml"), "apiVersion: v2\nname: argo-cd\nversion: 10.1.1\ndescription: empty chart (benchmarks)\n");
    return dir;
}
