/**
 * A fresh clone without ../shared beside it: the main job (`bash scripts/commands/run-local.sh`) must stop in
 * seconds, before the toolchain build, with one line naming the chart and the fix, when no chart
 * is reachable; the chart is resolved as configured path → ../shared fixture → chart repository.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { checkStack } from "../../scripts/commands/check-chart";
import { repoRoot } from "../../scripts/lib/mockRuntime";
import { freshClone } from "../support/freshClone";

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
    // `bash scripts/commands/run-local.sh` in such a clone runs as a real process in tests/integration/cli.test.ts.
});
