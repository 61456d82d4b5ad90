import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { driftItems, formatDriftReport, formatPruneReport, pruneVerdict, stepsFromPreviewJson } from "../../scripts/lib/drift";
import { ResourceStep, stepsFromEventLog } from "../../scripts/lib/engine";
import { repoRoot } from "../../scripts/lib/mockRuntime";
import { runPruneBudget, stackBudget } from "../../scripts/commands/prune-budget";
import { pruneBudgetCases } from "../support/cliCases";

const fixture = (name: string) => path.join(repoRoot, "tests", "fixtures", "preview", name);
const removeService = stepsFromPreviewJson(JSON.parse(fs.readFileSync(fixture("remove-service.json"), "utf8")));

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

    it("a retained resource's delete (a service's namespace, retainOnDelete) is listed as kept and not counted; its replace still counts", () => {
        const urn = (name: string, type: string) => `urn:pulumi:prod::gitops-control::gitops-control:service:GitOpsService$${type}::${name}`;
        const ns = "kubernetes:core/v1:Namespace";
        const steps = [
            { op: "delete", urn: urn("checkout-prod-namespace", ns), type: ns, custom: true, retained: true },
            { op: "delete", urn: urn("checkout-prod-app", "kubernetes:argoproj.io/v1alpha1:Application"), type: "kubernetes:argoproj.io/v1alpha1:Application", custom: true },
            { op: "replace", urn: urn("billing-prod-namespace", ns), type: ns, custom: true, retained: true },
        ];
        const verdict = pruneVerdict(steps, 1, false);
        assert.deepEqual(
            verdict.destructive.map((d) => `${d.op} ${d.name}`),
            ["delete checkout-prod-app", "replace billing-prod-namespace"],
        );
        assert.deepEqual(verdict.kept, [{ type: ns, name: "checkout-prod-namespace" }]);
        assert.equal(verdict.ok, false);
        assert.match(formatPruneReport(verdict), /kept {5}kubernetes:core\/v1:Namespace {2}checkout-prod-namespace \(retainOnDelete: left in the cluster, not counted\)/);
        // From `pulumi preview --json`: the old state's retainOnDelete.
        const fromJson = stepsFromPreviewJson({ steps: [{ op: "delete", urn: urn("checkout-prod-namespace", ns), oldState: { type: ns, custom: true, retainOnDelete: true } }] });
        assert.equal(pruneVerdict(fromJson, 0, false).ok, true);
    });

    it("the event log of `pulumi preview --event-log` yields the steps of `pulumi preview --json`", () => {
        const fromLog = stepsFromEventLog(fs.readFileSync(fixture("remove-service.events.jsonl"), "utf8"));
        const pick = (steps: readonly ResourceStep[]) => steps.map(({ op, urn, type, custom }) => ({ op, urn, type, custom }));
        assert.deepEqual(pick(fromLog), pick(removeService));
        assert.deepEqual(pruneVerdict(fromLog, 3, false), pruneVerdict(removeService, 3, false));
    });

    it("reads the budget from the stack file", () => {
        assert.equal(stackBudget("staging"), 3);
    });

    // In-process; tests/integration/cli.test.ts runs the same cases through a real process.
    pruneBudgetCases(async (args, env = {}) => {
        const lines: string[] = [];
        const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
        const code = await runPruneBudget(args, { ...process.env, PRUNE_BUDGET_APPROVED: "", ...env }, io);
        return { code, out: lines.join("\n") };
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
