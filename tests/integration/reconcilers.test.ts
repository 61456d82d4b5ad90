import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, afterEach, before, describe, it } from "node:test";
import { renderAlertRules, renderRecordingRules } from "../../components/argocd/ArgoCdAlerts";
import { detectDrift } from "../../scripts/commands/drift";
import type { StackOptions } from "../../scripts/lib/engine";
import { ApplicationObject, argoProblems, failingSyncShape, readApplications } from "../../scripts/lib/argocdStatus";
import { labels } from "../../components/core/labels";
import { Reconcilers, startReconcilers } from "../../scripts/cluster/reconcilers";
import { chartFiles } from "../support/charts";
import { GitServer } from "../support/gitServer";
import { watchObject } from "../support/kubeWatch";
import { LocalCluster, LocalStack, kubectl, kubectlOk, localPassphrase, openLocalStack, pathsContaining, readStateFile, startCluster, step } from "./support";

/**
 * The reconciler layer: Argo CD v3.6.1's own application controller, repo-server and
 * ApplicationSet controller (built from Go modules, run out of cluster as the chart's
 * ServiceAccounts) against a stack provisioned by `pulumi up` through the real engine, cloning
 * from a real Git server on loopback. Every promise of the sync policy is checked by what the
 * controller does, with convergence times measured (printed as `[measure]` lines).
 *
 * Git changes reach Argo CD through the `argocd.argoproj.io/refresh` annotation, as a Git webhook
 * would deliver them; live changes reach it through its watch on the cluster.
 */

const argoNs = "argocd";
const controllerIdentity = "system:serviceaccount:argocd:argocd-application-controller";
const breakGlass = ["--as", "oncall@example.com", "--as-group", "gitops-control:break-glass"];
const autoscaler = ["--as", "system:serviceaccount:kube-system:horizontal-pod-autoscaler"];
const ledgerCredentials = { username: "argocd", password: "ledger-repo-secret-0b7c1d" };

let cluster: LocalCluster;
let git: GitServer;
let reconcilers: Reconcilers | undefined;
let stateDir: string;
let workDir: string;
const log: string[] = [];
const measured: Record<string, number> = {};

function measure(what: string, since: number): number {
    const seconds = Math.round((Date.now() - since) / 100) / 10;
    measured[what] = seconds;
    step(`[measure] ${what}: ${seconds}s`);
    return seconds;
}

interface App {
    spec: { syncPolicy?: { automated?: { enabled?: boolean } } };
    status?: {
        sync?: { status?: string; revision?: string };
        health?: { status?: string };
        reconciledAt?: string;
        conditions?: { type: string; message: string }[];
        operationState?: {
            phase?: string;
            message?: string;
            startedAt?: string;
            syncResult?: { revision?: string; resources?: { kind: string; name: string; status?: string; message?: string }[] };
        };
    };
}

function app(name: string): App | undefined {
    const r = kubectl(cluster, ["get", "applications.argoproj.io", name, "-n", argoNs, "-o", "json"]);
    return r.code === 0 ? (JSON.parse(r.stdout) as App) : undefined;
}

/** Asks Argo CD to compare with Git now (what a Git webhook triggers). */
function refresh(name: string): void {
    kubectlOk(cluster, ["annotate", "applications.argoproj.io", name, "-n", argoNs, "argocd.argoproj.io/refresh=normal", "--overwrite"]);
}

async function until<T>(what: string, seconds: number, probe: () => T | undefined | false | Promise<T | undefined | false>, every = 500): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    let last: T | undefined | false;
    while (Date.now() < deadline) {
        last = await probe();
        if (last) return last;
        await new Promise((r) => setTimeout(r, every));
    }
    throw new Error(`timed out after ${seconds}s waiting for ${what}${reconcilers ? `\n${reconcilers.tails(15)}` : ""}`);
}

const synced = (name: string, revision?: string) => () => {
    const a = app(name);
    return a?.status?.sync?.status === "Synced" && a.status.health?.status === "Healthy" && (revision === undefined || a.status.sync.revision === revision) && a;
};

/** Refreshes `name` every 3 s until Argo CD reports it Synced and Healthy (at `revision` when given). */
function refreshUntilSynced(name: string, seconds: number, revision?: string): Promise<App> {
    refresh(name);
    return until(
        `${name} Synced and Healthy${revision ? ` at ${revision.slice(0, 8)}` : ""}`,
        seconds,
        () => {
            refresh(name);
            return synced(name, revision)();
        },
        3000,
    );
}

/** What Argo CD says of `name` (sync, health, resources not Synced) and its controller's last log lines about it: for a failure message. */
function explainApp(name: string): string {
    const a = app(name) as (App & { status?: { resources?: { kind: string; name: string; status?: string }[] } }) | undefined;
    const drifted = (a?.status?.resources ?? []).filter((r) => r.status !== "Synced").map((r) => `${r.kind}/${r.name}: ${r.status}`);
    const logFile = reconcilers?.logOf("application-controller");
    const lines =
        logFile && fs.existsSync(logFile)
            ? fs
                  .readFileSync(logFile, "utf8")
                  .split("\n")
                  .filter((l) => l.includes(`"application":"${name}"`) && /sync status|Skipping|diff|Initiated|Updated/i.test(l))
                  .slice(-12)
            : [];
    return `${name}: ${a?.status?.sync?.status}/${a?.status?.health?.status} at ${a?.status?.sync?.revision?.slice(0, 8)}, not Synced: ${drifted.join(", ") || "-"}\n${lines.join("\n")}`;
}

function configMessage(namespace: string, name: string): string | undefined {
    const r = kubectl(cluster, ["get", "configmap", name, "-n", namespace, "-o", "jsonpath={.data.message}"]);
    return r.code === 0 ? r.stdout : undefined;
}

interface AuditEvent {
    verb: string;
    user: { username: string };
    objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
    responseStatus?: { code?: number };
    stageTimestamp: string;
    stage: string;
}

/** Completed writes from the API server's audit log (the real identity of every writer). */
function auditEvents(): AuditEvent[] {
    return fs
        .readFileSync(path.join(cluster.dir, "audit.log"), "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as AuditEvent)
        .filter((e) => e.stage === "ResponseComplete");
}

const shopService = (repoURL: string) => ({
    name: "shop",
    team: "storefront",
    repoURL,
    path: "deploy/chart",
    targetRevision: "main",
    environments: ["prod", "staging"],
    // An autoscaler owns the replica count: neither a diff nor a sync may fight it.
    ignoreDifferences: [{ group: "apps", kind: "Deployment", jsonPointers: ["/spec/replicas"] }],
});

/** The config and secrets of the last `up` (the restore compares them with the known-good ones). */
let lastUp = "";

/** One `pulumi up` of the local stack with these services and stack keys (same state throughout). */
async function up(config: Record<string, unknown>, secrets: StackOptions["secretOverrides"] = {}): Promise<LocalStack> {
    // Recorded before the run: a failed `up` leaves the stack dirty too, and the restore repeats it.
    lastUp = JSON.stringify({ config, secrets });
    const local = await openLocalStack(cluster, { configOverrides: config, secretOverrides: secrets }, stateDir);
    const t0 = Date.now();
    await local.stack.up({ onOutput: (out) => log.push(out) });
    step(`pulumi up in ${Math.round((Date.now() - t0) / 1000)}s`);
    return local;
}

/** An Application as the watch delivers it: what the report reads, plus the operation's revision. */
type WatchedApp = ApplicationObject & { status?: { operationState?: { operation?: { sync?: { revision?: string } } } } };

/** Ends a running operation as `argocd app terminate-op` does. */
function terminateOperation(name: string): void {
    kubectlOk(cluster, ["patch", "applications.argoproj.io", name, "-n", argoNs, "--type", "merge", "-p", '{"status":{"operationState":{"phase":"Terminating"}}}']);
}

/**
 * Waits for `count` full reconciles of `name` that began after `since` (ms), refreshing as a webhook
 * would: the state-based way to say "Argo CD has looked at this change and did nothing about it".
 */
async function reconciles(name: string, since: number, count: number): Promise<App> {
    let after = since;
    let seen: App | undefined;
    for (let i = 1; i <= count; i++) {
        const floor = after;
        seen = await until(
            `${name} reconciled (${i} of ${count}) after ${new Date(floor).toISOString()}`,
            120,
            () => {
                const a = app(name);
                const at = Date.parse(a?.status?.reconciledAt ?? "");
                if (at > floor) return a;
                refresh(name);
                return undefined;
            },
            2000,
        );
        after = Date.parse(seen.status?.reconciledAt ?? "");
    }
    assert.ok(seen);
    return seen;
}

const environments = ["shop-prod", "shop-staging"] as const;

describe("Argo CD in the loop (v3.6.1 reconcilers, real engine, real API server)", { timeout: 50 * 60 * 1000 }, () => {
    /**
     * The known-good state every test starts from and is brought back to after it (afterEach), so a
     * test that fails half-way leaves nothing behind for the next one: the local stack up with the
     * shop service only; `main` of the shop repository at the baseline chart; the live objects as Git
     * says; shop-prod and shop-staging Synced and Healthy at that commit, no operation running.
     */
    let knownGoodSha: string;
    /** What `main` points at now. */
    let shopHead: string;
    let destroyed = false;
    const knownGoodConfig = () => ({ services: [shopService(git.url("shop"))] });

    /** A sync of the known-good revision with the Application's own options, as `argocd app sync` requests it (by the program's identity). */
    const syncOperation = (name: string) => {
        const spec = JSON.parse(kubectlOk(cluster, ["get", "applications.argoproj.io", name, "-n", argoNs, "-o", "jsonpath={.spec.syncPolicy}"])) as { syncOptions?: string[] };
        return { initiatedBy: { username: "gitops-control-test" }, sync: { revision: knownGoodSha, prune: true, syncOptions: spec.syncOptions ?? [] } };
    };

    function commitShop(options: Omit<Parameters<typeof chartFiles>[0], "service" | "team">, message: string): string {
        shopHead = git.commit("shop", chartFiles({ service: "shop", team: "storefront", ...options }), message);
        return shopHead;
    }

    async function restoreKnownGood(): Promise<void> {
        if (destroyed) return;
        const t0 = Date.now();
        if (lastUp !== JSON.stringify({ config: knownGoodConfig(), secrets: {} })) {
            step("restore: pulumi up of the known-good config");
            await up(knownGoodConfig());
        }
        if (shopHead !== knownGoodSha) {
            step("restore: the known-good chart on main");
            knownGoodSha = commitShop({}, "restore the known-good chart");
        }
        // A sync still retrying an older revision would hold the Application until its retries run out.
        for (const name of environments) {
            const op = (app(name) as WatchedApp | undefined)?.status?.operationState;
            if (op?.phase === "Running" && ((op.retryCount ?? 0) > 0 || op.operation?.sync?.revision !== knownGoodSha)) terminateOperation(name);
        }
        // Live edits a test made (staging keeps them by design; replicas are the autoscaler's).
        for (const ns of environments) {
            const message = configMessage(ns, "shop-config");
            if (message !== undefined && message !== "hello") {
                kubectlOk(cluster, ["patch", "configmap", "shop-config", "-n", ns, "--type", "merge", "-p", '{"data":{"message":"hello"}}', ...breakGlass]);
            }
            const replicas = kubectl(cluster, ["get", "deployment", "shop", "-n", ns, "-o", "jsonpath={.spec.replicas}"]);
            if (replicas.code === 0 && replicas.stdout !== "0") kubectlOk(cluster, ["scale", "deployment", "shop", "-n", ns, "--replicas", "0", ...autoscaler]);
        }
        // Synced is not enough: after a failed sync, a commit that only restores the old manifests
        // leaves the failed operation as the last one, and v3.6.1 then skips every auto-sync of that
        // source ("failed previous sync attempt to <bad> and will not retry for <good>": alreadyAttemptedSync
        // compares sources only, as the new revision has no changes) until the next full comparison
        // (the resync period). Self-heal is off meanwhile. And staging has no self-heal: whatever drifted
        // there stays until a sync. The known-good state ends with a successful sync of the known-good
        // revision, as `argocd app sync` would start it, wherever the last operation was not that one or
        // a refresh does not find the Application Synced (the drift is printed).
        for (const name of environments) {
            // A failed (or terminated) last operation is that trap for certain: sync at once.
            const failed = ["Failed", "Error"].includes(app(name)?.status?.operationState?.phase ?? "");
            const synced =
                !failed &&
                (await refreshUntilSynced(name, 90, knownGoodSha).then(
                    () => true,
                    () => false,
                ));
            const last = app(name)?.status?.operationState;
            if (synced && last?.phase === "Succeeded" && last.syncResult?.revision === knownGoodSha) continue;
            step(
                `restore: a sync of ${name} to ${knownGoodSha.slice(0, 8)} (${synced || failed ? `last operation: ${last?.phase ?? "none"} at ${last?.syncResult?.revision?.slice(0, 8) ?? "-"}` : `not Synced after a refresh: ${explainApp(name)}`})`,
            );
            await until(`${name} to take a sync operation`, 60, () => {
                const op = app(name)?.status?.operationState;
                if (op?.phase === "Running") return false;
                return (
                    kubectl(cluster, ["patch", "applications.argoproj.io", name, "-n", argoNs, "--type", "merge", "-p", JSON.stringify({ operation: syncOperation(name) })])
                        .code === 0
                );
            });
            await until(`${name}'s sync to ${knownGoodSha.slice(0, 8)} to succeed`, 120, () => {
                const op = app(name)?.status?.operationState;
                return op?.phase === "Succeeded" && op.syncResult?.revision === knownGoodSha;
            });
            await refreshUntilSynced(name, 120, knownGoodSha).catch((e: Error) => {
                throw new Error(`${e.message}\n${explainApp(name)}`);
            });
        }
        for (const ns of environments) {
            await until(`${ns} as Git declares it`, 60, () => configMessage(ns, "shop-config") === "hello" && configMessage(ns, "shop-extra") === "extra");
        }
        if (Date.now() - t0 > 1000) step(`restore: known-good state in ${Math.round((Date.now() - t0) / 1000)}s`);
    }

    before(async () => {
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-argocd-"));
        stateDir = path.join(workDir, "state");
        fs.mkdirSync(stateDir);
        // The workload controllers, under their own identities as on a real cluster: the deployment
        // controller reports rollouts (Argo CD's health verdict reads them), the garbage collector
        // finishes foreground deletes (prod prunes with PrunePropagationPolicy=foreground).
        cluster = startCluster({ LOCAL_CLUSTER_AUDIT_LOG: "1", LOCAL_CLUSTER_WORKLOAD_CONTROLLERS: "1" });
        // RBAC as a platform grants it (the aggregated `edit` role stays empty without the
        // aggregation controller): the on-call group may edit workloads, and the guardrails decide
        // where; the autoscaler reads the Deployments it scales.
        kubectlOk(cluster, ["create", "clusterrole", "test-break-glass", "--verb=get,list,watch,patch,update", "--resource=configmaps,deployments,deployments/scale"]);
        kubectlOk(cluster, ["create", "clusterrolebinding", "test-break-glass", "--clusterrole=test-break-glass", "--group=gitops-control:break-glass"]);
        // kubectl scale reads the Deployment and patches its scale subresource.
        kubectlOk(cluster, ["create", "clusterrole", "test-read-deployments", "--verb=get,list,patch", "--resource=deployments,deployments/scale"]);
        kubectlOk(cluster, [
            "create",
            "clusterrolebinding",
            "test-autoscaler-reads",
            "--clusterrole=test-read-deployments",
            "--serviceaccount=kube-system:horizontal-pod-autoscaler",
        ]);
        git = await GitServer.start(path.join(workDir, "git"));
        knownGoodSha = shopHead = git.createRepo("shop", chartFiles({ service: "shop", team: "storefront" }));
        git.createRepo("ledger", chartFiles({ service: "ledger", team: "finance" }), { private: ledgerCredentials });
        git.createRepo("broken", chartFiles({ service: "broken", team: "storefront", broken: true }));
        step("pulumi up: Argo CD, guardrails, the shop service in prod and staging");
        await up(knownGoodConfig());
        // The controllers authenticate as the chart's ServiceAccounts, which exist from here on.
        reconcilers = await startReconcilers({ dir: path.join(workDir, "reconcilers"), adminKubeconfig: cluster.kubeconfig, appResyncSeconds: 60 });
    });

    afterEach(restoreKnownGood);

    after(async () => {
        if (process.exitCode || Object.keys(measured).length < 10) {
            console.log(log.join("").split("\n").slice(-60).join("\n"));
            if (reconcilers) console.log(reconcilers.tails(40));
        }
        step(`[measure] summary ${JSON.stringify(measured)}`);
        reconcilers?.stop();
        await git?.stop();
        cluster?.stop();
        fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("a prod Application syncs its Helm chart from Git: labelled namespace, objects written by the controller's identity and admitted, Synced and Healthy", async () => {
        const t0 = Date.now();
        const prod = await until("shop-prod Synced and Healthy", 240, synced("shop-prod", knownGoodSha));
        measure("first sync, controller start to Synced+Healthy (prod)", t0);
        await until("shop-staging Synced and Healthy", 120, synced("shop-staging", knownGoodSha));
        // The sync that got there succeeded (a later auto-sync may already be running: wait for its end).
        await until("shop-prod's last sync to succeed", 60, () => app("shop-prod")?.status?.operationState?.phase === "Succeeded");
        assert.equal(prod.status?.sync?.revision, knownGoodSha);

        const ns = JSON.parse(kubectlOk(cluster, ["get", "namespace", "shop-prod", "-o", "json"])) as { metadata: { labels: Record<string, string> } };
        assert.equal(ns.metadata.labels["gitops-control.io/environment"], "prod");
        assert.equal(ns.metadata.labels["gitops-control.io/team"], "storefront");
        assert.equal(ns.metadata.labels["gitops-control.io/service"], "shop");

        const deploymentWrites = auditEvents().filter(
            (e) =>
                e.objectRef?.resource === "deployments" &&
                e.objectRef.namespace === "shop-prod" &&
                e.objectRef.name === "shop" &&
                e.objectRef.subresource === undefined &&
                ["create", "patch", "update"].includes(e.verb),
        );
        assert.ok(deploymentWrites.length > 0, "the API server saw the Deployment written");
        assert.deepEqual([...new Set(deploymentWrites.map((e) => e.user.username))], [controllerIdentity], "only the controller's ServiceAccount wrote it");
        assert.equal(configMessage("shop-prod", "shop-config"), "hello");
        assert.equal(configMessage("shop-prod", "shop-extra"), "extra");
    });

    it("a commit that breaks a guardrail fails the prod sync; every status Argo CD writes while it retries reads SyncFailed, and the drift report quotes the guardrail", async () => {
        // Every version of shop-prod, so that the short shapes of a retry are seen, not sampled.
        const watch = watchObject<WatchedApp>(cluster.kubeconfig, "applications.argoproj.io", "shop-prod", argoNs);
        try {
            const bad = commitShop({ unsafe: true }, "add a debug deployment on :latest");
            const t0 = Date.now();
            refresh("shop-prod");
            const atBad = () => watch.versions.filter((v) => v.status?.operationState?.operation?.sync?.revision === bad);
            const shapes = () => atBad().map((v) => failingSyncShape(v));
            // The prod preset retries with backoff (10 s, 20 s, …): a failed attempt waiting, the retry
            // running with its result cleared, and the retry failing again (retry 2 scheduled).
            await until("a failed attempt, its retry running, and the retry failing again", 240, () => {
                const seen = shapes();
                const retried = seen.indexOf("retrying");
                return retried >= 0 && atBad().some((v, i) => i > retried && failingSyncShape(v) === "waiting");
            });
            measure("guardrail denial to second retry scheduled", t0);
            const failing = atBad().slice(shapes().findIndex((s) => s !== undefined));
            /** The first version of each shape; a retry is seen with its result cleared and, later, filling again. */
            const firstOf = new Map<string, WatchedApp>();
            for (const version of failing) {
                const shape = failingSyncShape(version);
                const [problem] = argoProblems([version]);
                assert.ok(shape, `once failed, every version stays in a failing shape until the retries end:\n${JSON.stringify(version.status?.operationState)}`);
                assert.equal(problem?.kind, "SyncFailed", `${shape}: ${JSON.stringify(problem)}`);
                const reasons = problem.reasons.join("\n");
                if (shape === "retrying") {
                    // The failure's own words are cleared while the retry runs: the resource it could not apply is named.
                    assert.match(reasons, /Deployment shop-prod\/shop-debug: OutOfSync/, reasons);
                } else {
                    assert.match(reasons, /ValidatingAdmissionPolicy 'gitops-control-disallow-latest-image'.*\(guardrail disallow-latest-image\)/, reasons);
                    assert.match(reasons, /Deployment shop-prod\/shop-debug/, reasons);
                }
                const key = shape === "retrying" && version.status?.operationState?.syncResult ? "retrying-in-progress" : shape;
                if (!firstOf.has(key)) firstOf.set(key, version);
            }
            // The shape that once made the report say OutOfSync: a retry running with no sync result.
            assert.ok(firstOf.has("retrying"), `a retry with its result cleared was seen (seen: ${[...firstOf.keys()].join(", ")})`);
            assert.equal(firstOf.get("retrying")?.status?.operationState?.syncResult, undefined);
            const capture = process.env.GITOPS_CAPTURE_ARGOCD_STATUS;
            if (capture) for (const [key, version] of firstOf) fs.writeFileSync(path.join(capture, `${key}.json`), `${JSON.stringify(version, null, 2)}\n`);
            assert.equal(kubectl(cluster, ["get", "deployment", "shop-debug", "-n", "shop-prod"]).code, 1, "nothing of the failed sync reached prod");

            // The drift report, whichever shape it reads, names the Application, the resource and the guardrail.
            const local = await openLocalStack(cluster, { configOverrides: knownGoodConfig() }, stateDir);
            const drift = await detectDrift(local.stack, (out) => log.push(out), { argoNamespace: argoNs, kubeconfig: cluster.kubeconfig });
            const entry = drift.argo.find((p) => p.application === "shop-prod");
            assert.ok(entry, `drift report lists shop-prod:\n${drift.report}`);
            assert.equal(entry.kind, "SyncFailed");
            assert.match(entry.reasons.join("\n"), /guardrail disallow-latest-image/);
            assert.match(drift.report, /shop-prod/);
            assert.equal(drift.drifted, true);

            // Ended by hand (`argocd app terminate-op`): the operation ends Failed, still SyncFailed.
            terminateOperation("shop-prod");
            const ended = await until("the terminated operation to end", 120, () => {
                const v = app("shop-prod") as WatchedApp | undefined;
                return v && failingSyncShape(v) === "failed" && v;
            });
            const [problem] = argoProblems([ended]);
            assert.equal(problem?.kind, "SyncFailed");
            assert.match(problem.reasons.join("\n"), /last sync (Failed|Error)/);
            if (capture) fs.writeFileSync(path.join(capture, "failed.json"), `${JSON.stringify(ended, null, 2)}\n`);
        } finally {
            watch.stop();
        }
    });

    it("prod self-heals a live change by the break-glass group; staging keeps it and reports OutOfSync", async () => {
        const patch = ["patch", "configmap", "shop-config", "--type", "merge", "-p", '{"data":{"message":"hotfix"}}', ...breakGlass];
        const editedAt = Date.now();
        kubectlOk(cluster, [...patch, "-n", "shop-prod"]);
        kubectlOk(cluster, [...patch, "-n", "shop-staging"]);
        // Measured, not bounded tightly: on a starved machine the watch event can wait for the next
        // periodic comparison (60 s here); the deadline allows two of them.
        await until("prod ConfigMap reverted to Git", 150, () => configMessage("shop-prod", "shop-config") === "hello");
        measure("prod self-heal of a live edit", editedAt);
        // What reverted it is a self-heal: an automated sync of the same revision, started after the edit.
        const heal = (
            app("shop-prod") as WatchedApp & {
                status?: {
                    operationState?: {
                        operation?: { initiatedBy?: { automated?: boolean }; sync?: { autoHealAttemptsCount?: number; resources?: { kind: string; name: string }[] } };
                    };
                };
            }
        )?.status?.operationState;
        assert.equal(heal?.operation?.initiatedBy?.automated, true);
        assert.ok((heal?.operation?.sync?.autoHealAttemptsCount ?? 0) >= 1, `a self-heal operation: ${JSON.stringify(heal?.operation)}`);
        assert.deepEqual(heal?.operation?.sync?.resources, [{ kind: "ConfigMap", name: "shop-config" }], "it synced only what drifted");
        assert.ok(Date.parse(heal?.startedAt ?? "0") >= Math.floor(editedAt / 1000) * 1000, "started after the edit");
        // Staging has no self-heal: two full reconciles after the edit see it and start no sync.
        const staging = await reconciles("shop-staging", editedAt, 2);
        assert.equal(staging.status?.sync?.status, "OutOfSync");
        assert.ok(Date.parse(staging.status?.operationState?.startedAt ?? "0") < editedAt, "no sync started in staging after the edit");
        assert.equal(configMessage("shop-staging", "shop-config"), "hotfix");
    });

    it("a manifest removed from Git is pruned after the rest of the sync (PruneLast), by the controller", async () => {
        const since = new Date().toISOString();
        const sha = commitShop({ message: "v2", extra: false }, "v2, drop the extra ConfigMap");
        const t0 = Date.now();
        refresh("shop-prod");
        await until(
            "shop-extra pruned in prod",
            180,
            () => kubectl(cluster, ["get", "configmap", "shop-extra", "-n", "shop-prod"]).code !== 0 && configMessage("shop-prod", "shop-config") === "v2",
        );
        measure("prune after a commit (refresh to object gone)", t0);
        await until("shop-prod Synced at v2", 60, synced("shop-prod", sha));
        const events = auditEvents().filter((e) => e.stageTimestamp >= since && e.objectRef?.namespace === "shop-prod" && e.user.username === controllerIdentity);
        const applied = events.findIndex((e) => e.objectRef?.name === "shop-config" && e.verb === "patch" && e.responseStatus?.code === 200 && !/dryRun/.test(JSON.stringify(e)));
        const pruned = events.findIndex((e) => e.objectRef?.name === "shop-extra" && e.verb === "delete");
        assert.ok(pruned >= 0, "the controller deleted shop-extra");
        assert.ok(applied >= 0 && applied < pruned, `shop-config was applied (event ${applied}) before shop-extra was pruned (event ${pruned})`);
    });

    it("every Argo CD metric the alert and recording rules use is exported by the running v3.6.1 controller", async () => {
        assert.ok(reconcilers);
        // The prune test's delete is counted once the controller has exported it (no fixed wait).
        const metrics = await until(
            "the controller to export the prune's delete",
            60,
            async () => {
                const text = await (await fetch(`http://127.0.0.1:${reconcilers!.ports.controllerMetrics}/metrics`)).text();
                return /argocd_app_k8s_request_total\{[^}]*name="shop-prod"[^}]*verb="Delete"/.test(text) ? text : undefined;
            },
            1000,
        );
        const exported = new Set([...metrics.matchAll(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{|\s)/gm)].map((m) => m[1]));
        const rules = [...renderAlertRules({}).map((r) => r.expr), ...renderRecordingRules().map((r) => r.expr)];
        // Argo CD's own metrics, not the series this project records (gitops_control:argocd_…).
        const used = new Set(rules.flatMap((expr) => [...expr.matchAll(/(?<![\w:])(argocd_[a-z0-9_]+)/g)].map((m) => m[1])));
        assert.ok(used.size >= 4, [...used].join(", "));
        for (const name of used) assert.ok(exported.has(name), `${name} is not exported by the controller`);
        assert.match(metrics, /argocd_app_info\{[^}]*name="shop-prod"[^}]*sync_status="Synced"/);
    });

    it("ignoreDifferences with RespectIgnoreDifferences: replicas set by an autoscaler are neither reported nor reverted", async () => {
        const scaledAt = Date.now();
        kubectlOk(cluster, ["scale", "deployment", "shop", "-n", "shop-prod", "--replicas", "2", ...autoscaler]);
        // Two full reconciles after the scale: neither reports it nor reverts it.
        const seen = await reconciles("shop-prod", scaledAt, 2);
        assert.equal(seen.status?.sync?.status, "Synced");
        assert.equal(kubectlOk(cluster, ["get", "deployment", "shop", "-n", "shop-prod", "-o", "jsonpath={.spec.replicas}"]), "2");
    });

    it("allowEmpty: false: a commit that renders nothing prunes nothing, and the status says why", async () => {
        const empty = commitShop({ empty: true }, "oops: templates deleted");
        const t0 = Date.now();
        refresh("shop-prod");
        const refused = await until("auto-sync refused", 120, () => {
            const a = app("shop-prod");
            const c = (a?.status?.conditions ?? []).find((x) => x.type === "SyncError" && /wipe out all resources/.test(x.message));
            return a?.status?.sync?.revision === empty && c;
        });
        measure("empty render refused (refresh to condition)", t0);
        assert.match(refused.message, new RegExp(empty));
        // It stays refused: a full reconcile after the refusal prunes nothing either.
        await reconciles("shop-prod", Date.now(), 1);
        assert.equal(configMessage("shop-prod", "shop-config"), "hello", "nothing was pruned");
        assert.equal(configMessage("shop-prod", "shop-extra"), "extra", "nothing was pruned");
        assert.equal(kubectl(cluster, ["get", "deployment", "shop", "-n", "shop-prod"]).code, 0);
    });

    it("break-glass pauses automated sync: a live hotfix stays; removing the entry and running up lets Git win", async () => {
        const now = Date.now();
        const entry = {
            services: ["shop"],
            environments: ["prod"],
            reason: "hotfix for a broken payment provider callback",
            ticket: "INC-4711",
            requestedBy: "oncall@example.com",
            requestedAt: new Date(now - 60_000).toISOString(),
            expires: new Date(now + 2 * 3600_000).toISOString(),
        };
        await up({ ...knownGoodConfig(), breakGlass: [entry] });
        assert.equal(app("shop-prod")?.spec.syncPolicy?.automated?.enabled, false);
        const carveOut = () => kubectlOk(cluster, ["get", "namespace", "shop-prod", "-o", `jsonpath={.metadata.labels.${labels.breakGlassUntil.replace(/\./g, "\\.")}}`]);
        assert.notEqual(carveOut(), "", "the entry labels its namespace (the carve-out)");
        const editedAt = Date.now();
        kubectlOk(cluster, ["patch", "configmap", "shop-config", "-n", "shop-prod", "--type", "merge", "-p", '{"data":{"message":"hotfix"}}', ...breakGlass]);
        // Two full reconciles after the hotfix: reported, not reverted.
        const seen = await reconciles("shop-prod", editedAt, 2);
        assert.equal(seen.status?.sync?.status, "OutOfSync");
        assert.equal(configMessage("shop-prod", "shop-config"), "hotfix");
        const paused = argoProblems(readApplications(argoNs, cluster.kubeconfig)).find((p) => p.application === "shop-prod");
        assert.equal(paused?.kind, "Paused");

        const t0 = Date.now();
        await up(knownGoodConfig());
        await until("Git wins after the entry is removed", 120, () => configMessage("shop-prod", "shop-config") === "hello");
        measure("break-glass removed: up to Git restored", t0);
        // Removing the entry ends the carve-out at once, not at the entry's expiry: the program's patch
        // of the namespace is deleted with the entry, and its label with it.
        assert.equal(carveOut(), "", "the namespace is no longer carved out once the entry is removed");
    });

    it("a private repository: without credentials the Application reports the authentication error; with the program's repository Secret it syncs (to a registered cluster)", async () => {
        assert.ok(reconcilers);
        const ledger = { name: "ledger", team: "finance", repoURL: git.url("ledger"), path: "deploy/chart", targetRevision: "main", environments: ["staging"], cluster: "local" };
        const registered = { destinations: [{ name: "local", server: reconcilers.server, caData: reconcilers.caData }] };
        const tokens = { destinationTokens: { local: reconcilers.tokens.controller } };
        await up({ services: [shopService(git.url("shop")), ledger], ...registered }, tokens);
        const denied = await until("ledger-staging to report the authentication error", 120, () => {
            const c = (app("ledger-staging")?.status?.conditions ?? []).find((x) => x.type === "ComparisonError");
            return c && /auth|401|credentials|Username/i.test(c.message) && c;
        });
        step(`without credentials: ${denied.message.slice(0, 200)}`);
        assert.ok(git.requests.some((r) => r.repo === "ledger" && r.status === 401));

        const t0 = Date.now();
        await up(
            {
                services: [shopService(git.url("shop")), ledger],
                ...registered,
                repositoryCredentials: [{ name: "local-git", url: git.urlPrefix, type: "https", username: ledgerCredentials.username }],
            },
            { ...tokens, repositorySecrets: { "local-git": ledgerCredentials.password } },
        );
        const ledgerApp = await refreshUntilSynced("ledger-staging", 180);
        measure("private repo: credentials up to Synced", t0);
        assert.ok(git.requests.some((r) => r.repo === "ledger" && r.user === ledgerCredentials.username && r.status === 200));
        assert.equal(configMessage("ledger-staging", "ledger-config"), "hello");
        assert.equal(ledgerApp.status?.sync?.status, "Synced");
        const destination = JSON.parse(kubectlOk(cluster, ["get", "applications.argoproj.io", "ledger-staging", "-n", argoNs, "-o", "jsonpath={.spec.destination}"])) as Record<
            string,
            string
        >;
        assert.deepEqual(destination, { name: "local", namespace: "ledger-staging" });

        // Secrets stay secret in state: the repository password and the cluster token.
        const state = readStateFile(stateDir);
        for (const secret of [ledgerCredentials.password, reconcilers.tokens.controller]) {
            assert.deepEqual(pathsContaining(state, secret), [], "secret in state in plain text");
            assert.deepEqual(pathsContaining(state, Buffer.from(secret).toString("base64")), [], "secret in state base64-encoded");
        }
        assert.ok(fs.readFileSync(path.join(stateDir, ".pulumi", "stacks", "gitops-control", "local.json"), "utf8").length > 0);
        assert.equal(localPassphrase.length > 0, true);
    });

    it("up with waiting on fails with Argo CD's message when the chart in Git is broken, and waits for healthy ones", async () => {
        assert.ok(reconcilers);
        const broken = { name: "broken", team: "storefront", repoURL: git.url("broken"), path: "deploy/chart", targetRevision: "main", environments: ["staging"] };
        // The healthy ones are Synced and Healthy right before the up (not only at the last restore).
        for (const name of environments) await refreshUntilSynced(name, 120, knownGoodSha);
        const t0 = Date.now();
        // 60 s per Application: a healthy one is Synced within seconds, even on a busy machine; the broken one never.
        await assert.rejects(up({ services: [shopService(git.url("shop")), broken], waitForSync: { enabled: true, timeoutSeconds: 60 } }), (error: Error) => {
            assert.match(error.message, /broken-staging/);
            if (/shop-(prod|staging)-app \*\*[a-z]+ failed\*\*/.test(error.message))
                assert.fail(`a healthy Application failed the wait:\n${environments.map(explainApp).join("\n")}`);
            // The healthy Applications are waited on and pass: neither errored in the engine's diagnostics
            // nor marked "**… failed**". (Their progress lines may quote Argo CD events of earlier syncs,
            // such as "Sync operation … failed", so the line text itself is not what is asserted.)
            for (const healthy of ["shop-prod-app", "shop-staging-app"]) {
                assert.doesNotMatch(error.message, new RegExp(`${healthy} \\*\\*[a-z]+ failed\\*\\*`));
                assert.doesNotMatch(error.message, new RegExp(`Application \\(${healthy}\\):\\s*\\n\\s*error`));
            }
            assert.match(error.message, /broken-staging-app \*\*creating failed\*\*/);
            return true;
        });
        measure("up with waitForSync: broken chart to failure", t0);
        const problem = argoProblems(readApplications(argoNs, cluster.kubeconfig)).find((p) => p.application === "broken-staging");
        assert.ok(problem, "Argo CD reports the broken Application");
        assert.match(problem.reasons.join("\n"), /nosuchfunction/, "the reason is Helm's error as Argo CD reports it");
    });

    it("destroy removes Applications and their workloads through the real cascade finalizer, without hanging", async () => {
        // The last test: nothing is restored after it.
        destroyed = true;
        const local = await openLocalStack(cluster, { configOverrides: knownGoodConfig() }, stateDir);
        const t0 = Date.now();
        await local.stack.destroy({ onOutput: (out) => log.push(out) });
        const took = measure("destroy with cascade finalizers", t0);
        assert.ok(took < 600);
        assert.equal(kubectlOk(cluster, ["get", "applications.argoproj.io", "-n", argoNs, "-o", "name"]), "");
        for (const ns of environments) {
            assert.equal(kubectlOk(cluster, ["get", "deployments,configmaps", "-n", ns, "-l", "app.kubernetes.io/name", "-o", "name"]), "", `workloads left in ${ns}`);
        }
    });
});
