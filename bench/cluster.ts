/**
 * The local API server of the real-engine benchmarks (tests/integration/support.ts), with Argo CD's
 * CRDs installed up front: Applications, AppProjects and ApplicationSets are then dry-run against
 * their real schemas in every preview, whether or not the program installs Argo CD itself.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { LocalCluster, kubectl, kubectlOk, startCluster } from "../tests/integration/support";
import { fixtureChartPath } from "../stacks/config";
import { repoRoot } from "../scripts/lib/engine";

/** The CRD templates of the pinned chart, template directives removed (they only add annotations/labels). */
export function argoCdCrds(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-bench-chart-"));
    try {
        const tar = spawnSync("tar", ["-xzf", path.resolve(repoRoot, fixtureChartPath), "-C", dir, "argo-cd/templates/crds"], { encoding: "utf8" });
        if (tar.status !== 0) throw new Error(`cannot unpack ${fixtureChartPath}: ${tar.stderr}`);
        const crdDir = path.join(dir, "argo-cd", "templates", "crds");
        return fs
            .readdirSync(crdDir)
            .sort()
            .map((f) =>
                fs
                    .readFileSync(path.join(crdDir, f), "utf8")
                    .split("\n")
                    .filter((line) => !/^\s*\{\{.*\}\}\s*$/.test(line))
                    .join("\n"),
            )
            .join("\n---\n");
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

export function startBenchCluster(): LocalCluster {
    const cluster = startCluster();
    try {
        kubectlOk(cluster, ["apply", "--server-side", "-f", "-"], argoCdCrds());
        // Established once each kind is served.
        const deadline = Date.now() + 60_000;
        while (kubectl(cluster, ["get", "applications.argoproj.io,appprojects.argoproj.io,applicationsets.argoproj.io", "-A"]).code !== 0) {
            if (Date.now() > deadline) throw new Error("Argo CD CRDs not served after 60 s");
            spawnSync("sleep", ["0.5"]);
        }
    } catch (e) {
        cluster.stop();
        throw e;
    }
    return cluster;
}

/** A local chart without templates, created under `parent`: the ArgoCd component stays, the chart renders nothing. */
export function emptyChart(parent: string): string {
    const dir = fs.mkdtempSync(path.join(parent, "empty-chart-"));
    fs.writeFileSync(path.join(dir, "Chart.yaml"), "apiVersion: v2\nname: argo-cd\nversion: 10.1.1\ndescription: empty chart (benchmarks)\n");
    return dir;
}
