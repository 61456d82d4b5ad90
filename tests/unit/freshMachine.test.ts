/**
 * A fresh clone without ../shared beside it: the main job (`bash scripts/run-local.sh`) must stop in
 * seconds, before the toolchain build, with one line naming the chart and the fix, when no chart
 * is reachable; the chart is resolved as configured path → ../shared fixture → chart repository.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { checkStack } from "../../scripts/check-chart";
import { repoRoot } from "../../scripts/lib/mockRuntime";

/** A copy of the tracked files (what `git clone` gives), node_modules linked, nothing beside it. */
function freshClone(): string {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fresh-")), "gitops-control");
    const files = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: repoRoot, encoding: "utf8" }).stdout.split("\0").filter(Boolean);
    for (const file of files) {
        if (!fs.lstatSync(path.join(repoRoot, file), { throwIfNoEntry: false })?.isFile()) continue;
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.copyFileSync(path.join(repoRoot, file), path.join(dir, file));
    }
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}

describe("fresh machine: the chart is resolved before anything slow", () => {
    let clone = "";
    before(() => {
        clone = freshClone();
    });

    it("without ../shared and with the chart repository unreachable, the local stack names the chart and the fix", async () => {
        const probed: string[] = [];
        const { problem } = await checkStack("local", async (repo) => (probed.push(repo), false), clone);
        assert.deepEqual(probed, ["https://argoproj.github.io/argo-helm"], "falls back to the chart repository");
        assert.match(
            problem ?? "",
            /^no Argo CD chart reachable for stack "local": argo-cd 10\.1\.1 from https:\/\/argoproj\.github\.io\/argo-helm cannot be fetched.*Fix: .*gitops-control:argocd\.chart\.path/,
        );
        assert.equal(problem?.split("\n").length, 1, "one line");
    });

    it("with the chart repository reachable, the local stack uses it", async () => {
        assert.deepEqual(await checkStack("local", async () => true, clone), { chart: "argo-cd 10.1.1 from https://argoproj.github.io/argo-helm" });
    });

    it("in a development checkout, the fixture beside it wins (nothing probed)", async () => {
        assert.deepEqual(await checkStack("local", async () => assert.fail("no probe"), repoRoot), { chart: "../shared/fixtures/argo-cd/charts/argo-cd-10.1.1.tgz" });
    });

    it("a configured chart path that does not exist is named", async () => {
        const file = path.join(clone, "Pulumi.missing.yaml");
        fs.writeFileSync(file, "config:\n  gitops-control:environment: local\n  gitops-control:argocd:\n    chart:\n      path: charts/argo-cd.tgz\n");
        const { problem } = await checkStack("missing", async () => true, clone);
        assert.match(problem ?? "", /`gitops-control:argocd\.chart\.path` of stack "missing" is "charts\/argo-cd\.tgz", which does not exist\. Fix:/);
    });

    it("`bash scripts/run-local.sh` stops in seconds, before the toolchain, with the one line", () => {
        // An unreachable repository (a closed local port) stands in for no network, so the test
        // never depends on whether this machine can reach the real chart repository.
        const stackFile = path.join(clone, "Pulumi.local.yaml");
        fs.writeFileSync(
            stackFile,
            fs.readFileSync(stackFile, "utf8").replace("config:\n", 'config:\n  gitops-control:argocd:\n    chart: { version: "10.1.1", repo: "https://127.0.0.1:9" }\n'),
        );
        const started = Date.now();
        const result = spawnSync("bash", ["scripts/run-local.sh"], {
            cwd: clone,
            encoding: "utf8",
            env: { PATH: process.env.PATH ?? "", HOME: fs.mkdtempSync(path.join(os.tmpdir(), "home-")) },
        });
        const seconds = (Date.now() - started) / 1000;
        assert.equal(result.status, 1, result.stderr);
        assert.ok(seconds < 30, `${seconds} s`);
        assert.doesNotMatch(result.stdout + result.stderr, /\[toolchain\]/, "the toolchain build never started");
        assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
        assert.match(result.stderr, /no Argo CD chart reachable for stack "local": argo-cd 10\.1\.1 from https:\/\/127\.0\.0\.1:9 cannot be fetched.*Fix:/);
    });
});
