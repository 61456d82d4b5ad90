import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { driftItems, formatDriftReport, pruneVerdict, stepsFromPreviewJson } from "../../scripts/lib/drift";
import type { ResourceStep } from "../../scripts/lib/engine";
import { repoRoot } from "../../scripts/lib/mockRuntime";
import { stackBudget } from "../../scripts/prune-budget";

const fixture = (name: string) => path.join(repoRoot, "tests", "fixtures", "preview", name);
const removeService = stepsFromPreviewJson(JSON.parse(fs.readFileSync(fixture("remove-service.json"), "utf8")));

function pruneCli(args: string[], env: Record<string, string> = {}) {
    const r = spawnSync(process.execPath, ["--import", "tsx", path.join(repoRoot, "scripts", "prune-budget.ts"), ...args], {
        cwd: repoRoot,
        encoding: "utf8",
        env: { ...process.env, PRUNE_BUDGET_APPROVED: "", ...env },
    });
    return { code: r.status, out: r.stdout + r.stderr };
}

describe("prune budget", () => {
    it("counts each deleted or replaced cluster object once, never components", () => {
        const verdict = pruneVerdict(removeService, 3, false);
        assert.deepEqual(
            verdict.destructive.map((d) => `${d.op} ${d.name}`),
            [
                "delete checkout-project",
                "delete checkout-staging-app",
                "delete checkout-previews-appset",
                "delete checkout-previews-scm-token",
                "replace gitops-argocd-argocd-secret",
            ],
        );
        assert.equal(verdict.ok, false);
        assert.equal(pruneVerdict(removeService, 5, false).ok, true);
        assert.equal(pruneVerdict(removeService, 0, true).ok, true);
    });

    it("the command fails over budget, lists the deletes, and passes with the approval", () => {
        const over = pruneCli(["staging", "--preview-json", fixture("remove-service.json")]);
        assert.equal(over.code, 1, over.out);
        assert.match(over.out, /Prune budget: 5 delete\/replace\(s\), budget 3\./);
        assert.match(over.out, /delete\s+kubernetes:argoproj.io\/v1alpha1:Application\s+checkout-staging-app/);
        assert.match(over.out, /Over budget: .*prune-approved/);
        const approved = pruneCli(["staging", "--preview-json", fixture("remove-service.json")], { PRUNE_BUDGET_APPROVED: "true" });
        assert.equal(approved.code, 0, approved.out);
        assert.match(approved.out, /approved by label/);
        assert.equal(pruneCli(["staging", "--preview-json", fixture("no-changes.json")]).code, 0);
        assert.equal(pruneCli(["staging", "--preview-json", fixture("remove-service.json"), "--budget", "10"]).code, 0);
    });

    it("reads the budget from the stack file and rejects bad input with exit code 2", () => {
        assert.equal(stackBudget("staging"), 3);
        assert.equal(pruneCli(["staging", "--preview-json", fixture("remove-service.json"), "--budget", "-1"]).code, 2);
        const notJson = pruneCli(["staging", "--preview-json", path.join(repoRoot, "package.json")]);
        assert.equal(notJson.code, 2);
        assert.match(notJson.out, /not `pulumi preview --json` output/);
    });
});

describe("drift report", () => {
    const step = (op: string, name: string, extra: Partial<ResourceStep> = {}): ResourceStep => ({
        op,
        urn: `urn:pulumi:local::gitops-control::kubernetes:argoproj.io/v1alpha1:Application::${name}`,
        type: "kubernetes:argoproj.io/v1alpha1:Application",
        diffs: [],
        detailedDiff: {},
        custom: true,
        ...extra,
    });

    it("names drifted resources, their fields and the last foreign writer", () => {
        const items = driftItems([
            step("refresh", "a-app"),
            step("same", "b-app"),
            step("update", "a-app", {
                detailedDiff: { "spec.syncPolicy.automated.selfHeal": "update" },
                old: {
                    metadata: {
                        managedFields: [
                            { manager: "pulumi-kubernetes-abc", time: "2026-11-24T10:00:00Z" },
                            { manager: "kubectl-patch", time: "2026-11-24T11:30:00Z" },
                            { manager: "kubectl-edit", time: "2026-11-24T11:00:00Z" },
                        ],
                    },
                },
            }),
        ]);
        assert.deepEqual(items, [
            {
                op: "update",
                type: "kubernetes:argoproj.io/v1alpha1:Application",
                name: "a-app",
                fields: ["spec.syncPolicy.automated.selfHeal"],
                lastForeignWrite: { manager: "kubectl-patch", time: "2026-11-24T11:30:00Z" },
            },
        ]);
        const report = formatDriftReport("local", items);
        assert.match(report, /Drift in stack local: 1 resource\(s\) differ/);
        assert.match(report, /since: {2}2026-11-24T11:30:00Z \(written by kubectl-patch\)/);
        assert.match(report, /Heal: pulumi up --refresh --stack local/);
    });

    it("reports a clean stack as such", () => {
        assert.deepEqual(driftItems([step("same", "a"), step("refresh", "a")]), []);
        assert.equal(formatDriftReport("prod", []), "No drift in stack prod: the cluster matches the program.");
    });
});
