/**
 * The local API server of the real-engine benchmarks (tests/integration/support.ts), with Argo CD's
 * CRDs installed up front: Applications, AppProjects and ApplicationSets are then dry-run against
 * their real schemas in every preview, whether or not the program installs Argo CD itself.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import type { ArgoCdArgs } from "../components/argocd/ArgoCd";
import { repoRoot } from "../scripts/lib/engine";
import { crdSource } from "../stacks/chart";
import { fixtureChartPath } from "../stacks/config";
import { startClusterWithArgoCdCrds } from "../tests/integration/support";

/** The local API server with Argo CD's CRDs (moved to tests/integration/support.ts, shared with the tests). */
export const startBenchCluster = startClusterWithArgoCdCrds;

/** A local chart without templates, created under `parent`: the ArgoCd component stays, the chart renders nothing. */
export function emptyChart(parent: string): string {
    const dir = fs.mkdtempSync(path.join(parent, "empty-chart-"));
    fs.writeFileSync(path.join(dir, "Chart.yaml"), "apiVersion: v2\nname: argo-cd\nversion: 10.1.1\ndescription: empty chart (benchmarks)\n");
    return dir;
}

/** The ArgoCd args of the chart benchmark: the pinned fixture chart, the local stack's CRD files. */
export function argoCdBenchArgs(job: { readonly argoNamespace?: string }): ArgoCdArgs {
    const crds = crdSource({ environment: "local", argocd: { namespace: "argocd" } }, repoRoot);
    if (!crds) throw new Error("no local Argo CD CRDs (../shared/fixtures or GITOPS_ARGOCD_CRDS): source the toolchain env");
    return { namespace: job.argoNamespace ?? "argocd", chart: { kind: "local", path: fixtureChartPath }, crds, skipAwait: true };
}

/** The CRD stack's name (Pulumi.local-crds.yaml). */
export const crdStackName = "local-crds";

/** Copies the CRD stack's checkpoint (and the backend's layout marker) from `from` into the file backend `to`. */
export function copyCrdStack(from: string, to: string): void {
    for (const file of ["meta.yaml", path.join("stacks", "gitops-control", `${crdStackName}.json`)]) {
        fs.mkdirSync(path.dirname(path.join(to, ".pulumi", file)), { recursive: true });
        fs.copyFileSync(path.join(from, ".pulumi", file), path.join(to, ".pulumi", file));
    }
}
