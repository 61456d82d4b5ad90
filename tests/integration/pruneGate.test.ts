import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { AlertRule, renderRuleGroups } from "../../components/argocd/ArgoCdAlerts";
import { pruneGateAnnotations, pruneGateServiceAccount } from "../../components/pruning/PruneGate";
import { Reconcilers, startReconcilers } from "../../scripts/cluster/reconcilers";
import { chartFiles, configMap } from "../support/charts";
import { GitServer } from "../support/gitServer";
import { firing, testRules } from "../support/promtool";
import { labelValue, parseExposition } from "../support/scrapes";
import { podContainer, serviceAccountKubectl, startContainer } from "./inContainer";
import { LocalCluster, kubectl, kubectlOk, openLocalStack, startCluster, step } from "./support";

/**
 * The prune budget at sync time, proven by Argo CD v3.6.1's own controllers (out of cluster, as the
 * chart's ServiceAccounts; scripts/cluster/reconcilers.ts) against the local stack provisioned by
 * `pulumi up` with the prune gate on and `applicationPruneBudget.prod: 1`. The gate runs as its pod
 * would (tests/integration/inContainer.ts: the Deployment's own command and environment, its
 * service account's real token, uid 65532, read-only root). Prod Applications sync with
 * `Prune=confirm`: a sync pruning one object is approved by the gate at once (the delay it adds is
 * measured against staging, which has no gate); one pruning two waits, with the reason on the
 * Application and in the gate's Event, until the approver group approves; nobody else may approve,
 * the gate included; an empty render is still refused by allowEmpty: false.
 */

const argoNs = "argocd";
const budget = 1;
const approver = ["--as", "alice@example.com", "--as-group", "gitops-control:prune-approvers"];
const editor = ["--as", "bob@example.com", "--as-group", "test:app-editors"];
const approved = pruneGateAnnotations.approved;

interface App {
    metadata: { annotations?: Record<string, string> };
    spec: { syncPolicy?: { syncOptions?: string[] } };
    status?: {
        sync?: { status?: string; revision?: string };
        health?: { status?: string };
        conditions?: { type: string; message: string }[];
        operationState?: { phase?: string; message?: string; startedAt?: string; operation?: { sync?: { revision?: string } } };
    };
}

let cluster: LocalCluster;
let git: GitServer;
let reconcilers: Reconcilers | undefined;
let workDir: string;
let gateLoop: ReturnType<typeof startContainer> | undefined;
const measured: Record<string, number> = {};

function measure(what: string, ms: number): void {
    measured[what] = Math.round(ms / 100) / 10;
    step(`[measure] ${what}: ${measured[what]}s`);
}

function app(name: string): App | undefined {
    const r = kubectl(cluster, ["get", "applications.argoproj.io", name, "-n", argoNs, "-o", "json"]);
    return r.code === 0 ? (JSON.parse(r.stdout) as App) : undefined;
}

/** What a Git webhook triggers: Argo CD compares with Git now. */
function refresh(name: string): void {
    kubectlOk(cluster, ["annotate", "applications.argoproj.io", name, "-n", argoNs, "argocd.argoproj.io/refresh=normal", "--overwrite"]);
}

async function waitFor<T>(what: string, seconds: number, probe: () => T | undefined | false, every = 250): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
        const seen = probe();
        if (seen) return seen;
        await new Promise((r) => setTimeout(r, every));
    }
    throw new Error(
        `timed out after ${seconds}s waiting for ${what}${reconcilers ? `\n${reconcilers.tails(15)}` : ""}${gateLoop ? `\ngate:\n${gateLoop.output().slice(-2000)}` : ""}`,
    );
}

const exists = (kind: string, name: string, ns: string) => kubectl(cluster, ["get", kind, name, "-n", ns]).code === 0;

/** The gate's Events on an Application (reason: message). */
function gateEvents(name: string): string[] {
    const list = JSON.parse(kubectlOk(cluster, ["get", "events", "-n", argoNs, "--field-selector", `involvedObject.name=${name}`, "-o", "json"])) as {
        items: { reason: string; type: string; message: string; source?: { component?: string } }[];
    };
    return list.items.filter((e) => e.source?.component === "gitops-control-prune-gate").map((e) => `${e.type} ${e.reason}: ${e.message}`);
}

/** The chart at a given set of objects: the shop chart plus a second extra ConfigMap. */
function chart(objects: { config?: boolean; extra?: boolean; extra2?: boolean; empty?: boolean }): Record<string, string | null> {
    const files = chartFiles({ service: "shop", team: "storefront", extra: objects.extra ?? true, empty: objects.empty ?? false });
    files["deploy/chart/templates/extra-2.yaml"] = (objects.extra2 ?? true) && !objects.empty ? configMap("shop-extra-2", "shop", "storefront", "extra 2") : null;
    if (objects.config === false) files["deploy/chart/templates/configmap.yaml"] = null;
    return files;
}

/** Ends shop-prod's running operation as `argocd app terminate-op` does. */
function terminateHeldSync(): void {
    kubectlOk(cluster, ["patch", "applications.argoproj.io", "shop-prod", "-n", argoNs, "--type", "merge", "-p", '{"status":{"operationState":{"phase":"Terminating"}}}']);
}

describe("prune budget at sync time (v3.6.1 reconcilers, the prune gate in its container, real API server)", { timeout: 10 * 60 * 1000 }, () => {
    let base: string;

    before(async () => {
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-prunegate-"));
        const stateDir = path.join(workDir, "state");
        fs.mkdirSync(stateDir);
        // The garbage collector finishes prod's foreground prunes; the audit log records approvals.
        cluster = startCluster({ LOCAL_CLUSTER_AUDIT_LOG: "1", LOCAL_CLUSTER_WORKLOAD_CONTROLLERS: "1" });
        // RBAC as a platform grants it: approvers and editors may annotate Applications; admission decides who may approve.
        kubectlOk(
            cluster,
            ["apply", "-f", "-"],
            JSON.stringify({
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRole",
                metadata: { name: "test-annotate-applications" },
                rules: [{ apiGroups: ["argoproj.io"], resources: ["applications"], verbs: ["get", "list", "patch"] }],
            }),
        );
        for (const group of ["gitops-control:prune-approvers", "test:app-editors"]) {
            kubectlOk(cluster, ["create", "clusterrolebinding", `test-annotate-${group.replace(/:/g, "-")}`, "--clusterrole=test-annotate-applications", `--group=${group}`]);
        }
        git = await GitServer.start(path.join(workDir, "git"));
        base = git.createRepo("shop", chart({}));
        step("pulumi up: Argo CD, guardrails, the prune gate, the shop service in prod and staging");
        const local = await openLocalStack(
            cluster,
            {
                configOverrides: {
                    services: [{ name: "shop", team: "storefront", repoURL: git.url("shop"), path: "deploy/chart", targetRevision: "main", environments: ["prod", "staging"] }],
                    pruneGate: { enabled: true },
                    applicationPruneBudget: { prod: budget },
                },
            },
            stateDir,
        );
        const t0 = Date.now();
        const log: string[] = [];
        try {
            await local.stack.up({ onOutput: (out) => log.push(out) });
        } catch (e) {
            console.log(log.join("").split("\n").slice(-60).join("\n"));
            throw e;
        }
        step(`pulumi up in ${Math.round((Date.now() - t0) / 1000)}s`);
        reconcilers = await startReconcilers({ dir: path.join(workDir, "reconcilers"), adminKubeconfig: cluster.kubeconfig, appResyncSeconds: 60 });
        // The gate's Deployment as the program rendered it, run as its pod would.
        gateLoop = startContainer(cluster, podContainer(cluster, "deployment", "prune-gate", argoNs));
        for (const name of ["shop-prod", "shop-staging"]) {
            await waitFor(`${name} Synced and Healthy at the first commit`, 240, () => {
                const a = app(name);
                return (
                    a?.status?.sync?.status === "Synced" &&
                    a.status.health?.status === "Healthy" &&
                    a.status.sync.revision === base &&
                    a.status.operationState?.phase === "Succeeded"
                );
            });
        }
    });

    after(async () => {
        step(`[measure] summary ${JSON.stringify(measured)}`);
        if (process.exitCode && reconcilers) console.log(reconcilers.tails(40));
        await gateLoop?.stop();
        if (gateLoop) step(`gate loop output (last lines):\n${gateLoop.output().split("\n").slice(-20).join("\n")}`);
        reconcilers?.stop();
        await git?.stop();
        cluster?.stop();
        fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("prod Applications sync with Prune=confirm; staging keeps its preset's (no confirmation)", () => {
        assert.ok(app("shop-prod")?.spec.syncPolicy?.syncOptions?.includes("Prune=confirm"));
        assert.ok(!app("shop-staging")?.spec.syncPolicy?.syncOptions?.some((o) => o.startsWith("Prune=")));
    });

    it("a commit removing one object (within the budget) is pruned in prod without anyone acting: the gate approves that operation", async () => {
        git.commit("shop", chart({ extra: false }), "drop shop-extra");
        const t0 = Date.now();
        refresh("shop-prod");
        refresh("shop-staging");
        const gone = { prod: 0, staging: 0 };
        await waitFor("shop-extra pruned in prod and staging", 180, () => {
            if (!gone.prod && !exists("configmap", "shop-extra", "shop-prod")) gone.prod = Date.now();
            if (!gone.staging && !exists("configmap", "shop-extra", "shop-staging")) gone.staging = Date.now();
            return gone.prod && gone.staging;
        });
        measure("prune of one object, commit+refresh to gone, prod (Prune=confirm + gate)", gone.prod - t0);
        measure("prune of one object, commit+refresh to gone, staging (no gate)", gone.staging - t0);
        measure("delay the gate adds (prod minus staging, same commit)", gone.prod - gone.staging);
        // The gate approved the operation that pruned, with that operation's own startedAt (Argo CD
        // accepts a time at or after it; a later sync needs its own approval).
        // The gate records its Event right after the approval, which may land after the prune itself.
        const approvals = await waitFor("the gate's PruneApproved Event", 30, () => {
            const seen = gateEvents("shop-prod").filter((e) => e.startsWith("Normal PruneApproved"));
            return seen.length > 0 && seen;
        });
        assert.equal(approvals.length, 1, approvals.join("\n"));
        const approvedAs = app("shop-prod")?.metadata.annotations?.[approved];
        assert.equal(
            approvals[0],
            `Normal PruneApproved: approved: the sync started at ${approvedAs} prunes 1 object(s), within the budget of ${budget} (applicationPruneBudget.prod)`,
        );
        assert.ok(Date.parse(approvedAs ?? "") <= gone.prod, "approved before the prune");
        assert.ok(exists("configmap", "shop-extra-2", "shop-prod") && exists("configmap", "shop-config", "shop-prod"), "only the removed object was pruned");
    });

    it("a commit removing more than the budget prunes nothing in prod: the Application and the gate's Event say why; only the approver group may approve, and its approval prunes", async () => {
        const sha = git.commit("shop", chart({ extra: false, extra2: false, config: false }), "drop shop-config and shop-extra-2");
        try {
            await heldThenApproved(sha);
        } finally {
            // A sync still held would keep every later commit from syncing.
            if (app("shop-prod")?.status?.operationState?.phase === "Running") terminateHeldSync();
        }
    });

    async function heldThenApproved(sha: string): Promise<void> {
        refresh("shop-prod");
        refresh("shop-staging");
        const reason = `held: the sync started at`;
        const held = await waitFor("the gate to hold shop-prod's prunes", 180, () => {
            const a = app("shop-prod");
            return a?.metadata.annotations?.[pruneGateAnnotations.held]?.startsWith(reason) && a;
        });
        const started = held.status?.operationState?.startedAt ?? "";
        assert.equal(held.status?.operationState?.phase, "Running");
        assert.equal(held.status?.operationState?.operation?.sync?.revision, sha);
        // Argo CD's own words on the Application: what waits.
        assert.match(held.status?.operationState?.message ?? "", /^waiting for pruning confirmation of \/ConfigMap\/shop-(config|extra-2) and 1 more resources$/);
        const why = `held: the sync started at ${started} would prune 2 objects, over the budget of ${budget} (applicationPruneBudget.prod). Check the commit; if the removal is intended, a member of gitops-control:prune-approvers approves: kubectl annotate applications.argoproj.io shop-prod -n argocd --overwrite argocd.argoproj.io/deletion-approved=<now, UTC RFC 3339>; if not, revert it and end this sync (argocd app terminate-op), or the next commit waits behind it`;
        assert.equal(held.metadata.annotations?.[pruneGateAnnotations.held], why);

        // ArgoCdPruneHeld reads what the controller exports while the sync is held: its
        // argocd_app_info series for shop-prod, scraped now, held for the alert's `for:` and evaluated
        // by promtool with the rule as the program renders it.
        const exposition = await (await fetch(`http://127.0.0.1:${reconcilers!.ports.controllerMetrics}/metrics`)).text();
        const [info] = [...parseExposition(exposition, ["argocd_app_info"], (l) => labelValue(l, "name") === "shop-prod").keys()];
        assert.ok(info, "the controller exports argocd_app_info for shop-prod");
        const labelSet = info.slice(info.indexOf("{"));
        assert.deepEqual([labelValue(labelSet, "operation"), labelValue(labelSet, "phase")], ["sync", "Running"], info);
        const groups = renderRuleGroups({});
        const rule = groups.flatMap((g) => g.rules).find((r): r is AlertRule => "alert" in r && r.alert === "ArgoCdPruneHeld");
        assert.ok(rule);
        const minutes = Number(/^(\d+)m$/.exec(rule.for)?.[1]);
        const evaluated = testRules(
            groups,
            [
                {
                    name: "the held sync as scraped",
                    interval: "1m",
                    input_series: [{ series: info, values: `1x${minutes + 2}` }],
                    alert_rule_test: [
                        { eval_time: `${minutes - 1}m`, alertname: "ArgoCdPruneHeld", exp_alerts: [] },
                        { eval_time: `${minutes + 1}m`, alertname: "ArgoCdPruneHeld", exp_alerts: [firing(rule, { name: "shop-prod", project: "shop" })] },
                    ],
                },
            ],
            "1m",
        );
        assert.equal(evaluated.code, 0, evaluated.output);
        await waitFor("the gate's PruneHeld Event", 30, () => gateEvents("shop-prod").includes(`Warning PruneHeld: ${why}`));
        // Staging keeps its preset: the same commit prunes there unattended.
        await waitFor("both ConfigMaps pruned in staging", 120, () => !exists("configmap", "shop-config", "shop-staging") && !exists("configmap", "shop-extra-2", "shop-staging"));
        assert.ok(exists("configmap", "shop-config", "shop-prod") && exists("configmap", "shop-extra-2", "shop-prod"), "nothing pruned in prod");

        const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
        const annotate = (as: readonly string[]) =>
            kubectl(cluster, ["annotate", "applications.argoproj.io", "shop-prod", "-n", argoNs, "--overwrite", `${approved}=${now()}`, ...as]);
        // Anyone else is refused by the API server, naming the rule.
        const byEditor = annotate(editor);
        assert.notEqual(byEditor.code, 0);
        assert.match(
            byEditor.stderr,
            /bob@example\.com may not approve the prunes of Application shop-prod \(2 to prune, budget 1\): only members of gitops-control:prune-approvers approve prunes the gate held .*\(guardrail approve-prunes\)/,
        );
        // The gate itself, with its real token, over the budget: refused too.
        const asGate = serviceAccountKubectl(cluster, argoNs, pruneGateServiceAccount);
        const byGate = asGate(["annotate", "applications.argoproj.io", "shop-prod", "-n", argoNs, "--overwrite", `${approved}=${started}`]);
        assert.notEqual(byGate.code, 0);
        assert.match(byGate.stderr, /gitops-control-prune-gate may not approve the prunes of Application shop-prod \(2 to prune, budget 1\): over the budget, a person approves/);
        // Still nothing pruned, still waiting.
        assert.ok(exists("configmap", "shop-config", "shop-prod") && exists("configmap", "shop-extra-2", "shop-prod"));
        assert.match(app("shop-prod")?.status?.operationState?.message ?? "", /^waiting for pruning confirmation/);

        const since = new Date(Date.now() - 1000).toISOString();
        const t0 = Date.now();
        const byApprover = annotate(approver);
        assert.equal(byApprover.code, 0, byApprover.stderr);
        await waitFor(
            "both ConfigMaps pruned in prod after the approval",
            120,
            () => !exists("configmap", "shop-config", "shop-prod") && !exists("configmap", "shop-extra-2", "shop-prod"),
        );
        measure("approval by the group to both objects gone (prod)", Date.now() - t0);
        assert.ok(exists("deployment", "shop", "shop-prod"), "what Git still declares stays");
        await waitFor("shop-prod's sync to succeed and the gate to clear its hold", 60, () => {
            const a = app("shop-prod");
            return a?.status?.operationState?.phase === "Succeeded" && a.metadata.annotations?.[pruneGateAnnotations.held] === undefined;
        });
        // The approval is in the audit log, with who approved what.
        const audited = fs
            .readFileSync(path.join(cluster.dir, "audit.log"), "utf8")
            .split("\n")
            .filter((l) => l.includes("approve-prunes/approved"))
            .map((l) => JSON.parse(l) as { stageTimestamp: string; annotations?: Record<string, string> })
            .filter((e) => e.stageTimestamp >= since)
            .flatMap((e) =>
                Object.entries(e.annotations ?? {})
                    .filter(([k]) => k.endsWith("approve-prunes/approved"))
                    .map(([, v]) => v),
            );
        assert.ok(
            audited.some((v) => /^alice@example\.com approved 2 prunes of Application shop-prod \(budget 1\) as of \d{4}-/.test(v)),
            audited.join("\n"),
        );
    }

    it("an empty render is still refused by allowEmpty: false, and nothing is pruned", async () => {
        const empty = git.commit("shop", chart({ empty: true }), "oops: templates deleted");
        refresh("shop-prod");
        await waitFor("auto-sync refused", 120, () => {
            const a = app("shop-prod");
            return a?.status?.sync?.revision === empty && (a.status.conditions ?? []).some((c) => c.type === "SyncError" && /wipe out all resources/.test(c.message));
        });
        assert.ok(exists("deployment", "shop", "shop-prod"), "nothing was pruned");
    });

    it("a mass prune held by mistake, ended as the runbook says (revert, then terminate-op), prunes nothing and the revert syncs", async () => {
        const full = git.commit("shop", chart({}), "restore every object");
        refresh("shop-prod");
        const syncedAt = (sha: string) => () => {
            const a = app("shop-prod");
            return a?.status?.sync?.status === "Synced" && a.status.sync.revision === sha && a.status.operationState?.phase !== "Running";
        };
        await waitFor("shop-prod Synced with every object again", 180, syncedAt(full));
        git.commit("shop", chart({ extra: false, extra2: false }), "drop two ConfigMaps by mistake");
        refresh("shop-prod");
        await waitFor("the gate to hold the mistake", 120, () => app("shop-prod")?.metadata.annotations?.[pruneGateAnnotations.held]?.includes("would prune 2 objects"));
        const revert = git.commit("shop", chart({}), "revert the mistake");
        terminateHeldSync();
        refresh("shop-prod");
        await waitFor("shop-prod Synced at the revert", 180, syncedAt(revert));
        assert.ok(exists("configmap", "shop-extra", "shop-prod") && exists("configmap", "shop-extra-2", "shop-prod"), "nothing was pruned");
        await waitFor("the gate to clear its hold", 30, () => app("shop-prod")?.metadata.annotations?.[pruneGateAnnotations.held] === undefined);
    });

    it("the gate's fence: with its own token it may set only its two annotations, and only on prod Applications", () => {
        const asGate = serviceAccountKubectl(cluster, argoNs, pruneGateServiceAccount);
        const relabel = asGate(["label", "applications.argoproj.io", "shop-prod", "-n", argoNs, "team=someone-else"]);
        assert.notEqual(relabel.code, 0);
        assert.match(relabel.stderr, /the prune gate may set only gitops-control\.io\/prune-held and argocd\.argoproj\.io\/deletion-approved of shop-prod, nothing else/);
        const staging = asGate(["annotate", "applications.argoproj.io", "shop-staging", "-n", argoNs, `${pruneGateAnnotations.held}=x`]);
        assert.notEqual(staging.code, 0);
        assert.match(staging.stderr, /the prune gate may annotate only prod Applications, not shop-staging/);
        const own = asGate(["annotate", "applications.argoproj.io", "shop-prod", "-n", argoNs, "--overwrite", `${pruneGateAnnotations.held}=fence check`]);
        assert.equal(own.code, 0, own.stderr);
        asGate(["annotate", "applications.argoproj.io", "shop-prod", "-n", argoNs, `${pruneGateAnnotations.held}-`]);
    });
});
