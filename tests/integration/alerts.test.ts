import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { AlertRule, ArgoCdAlertsArgs, RuleGroup, driftRepairRecord, renderRuleGroups } from "../../components/argocd/ArgoCdAlerts";
import { Reconcilers, startReconcilers } from "../../scripts/cluster/reconcilers";
import { chartFiles, configMap, deployment } from "../support/charts";
import { GitServer } from "../support/gitServer";
import { AlertTest, RuleTestGroup, firing, promtool, testRules } from "../support/promtool";
import { MetricsRecorder, Scrape, Stretch, labelValue, toInputSeries } from "../support/scrapes";
import { LocalCluster, Measurements, eventually, kubectl, kubectlOk, openLocalStack, startCluster, step } from "./support";

/**
 * The alert and recording rules the program renders (components/argocd/ArgoCdAlerts.ts), evaluated on
 * what Argo CD v3.6.1's own application controller exports while it works: a worker thread scrapes
 * the controller's /metrics every second (as Prometheus would, staleness included:
 * tests/support/scrapes.ts) while the scenarios run, and `promtool test rules` of the pinned
 * Prometheus evaluates the rendered groups on those samples, every second, at the scrapes' times.
 *
 * Rules with `for:` of minutes (OutOfSync 15 m, Degraded 10 m) and the 15-minute prune window are
 * evaluated in simulated time: the scrapes are stretched at a point where the test has observed a
 * steady state (the Application still OutOfSync / Degraded after several identical scrapes, the
 * delete counters after the sync finished): in that state every scrape returns the same samples,
 * since nothing in Git or the cluster changes (staging has no self-heal, a Deployment without a
 * scheduler stays unavailable, counters only move on requests). The stretch is those same
 * samples repeated, then the rest of the real scrapes follow.
 */

const argoNs = "argocd";
const scrapeMs = 1000;
/** Per-test prune threshold (render argument) and the number of ConfigMaps one commit prunes. */
const pruneThreshold = 3;
const bulkConfigMaps = pruneThreshold + 2;
/** data.message of the chart's wave-1 ConfigMap shop-late. */
const lateMessage = "late";
const breakGlass = ["--as", "oncall@example.com", "--as-group", "gitops-control:break-glass"];
/** Render arguments: the program's defaults (15 m OutOfSync, 10 m Degraded), records every second like the scrapes. */
const args: Omit<ArgoCdAlertsArgs, "provider" | "namespace"> = { pruneVolumeThreshold: pruneThreshold, recordIntervalSeconds: scrapeMs / 1000 };
const groups: RuleGroup[] = renderRuleGroups(args);
/**
 * Tolerance between the drift record and the self-heal time measured by the test: the record's
 * resolution at each end of the episode (one scrape interval each), plus up to 2 s by which Argo
 * CD's status trails the live object (OutOfSync once its watch event is compared, Synced once the
 * self-heal operation has finished and been compared again).
 */
const driftToleranceSeconds = (2 * scrapeMs) / 1000 + 2;

let cluster: LocalCluster;
let git: GitServer;
let reconcilers: Reconcilers | undefined;
let recorder: MetricsRecorder | undefined;
let workDir: string;
let project: string;
const log: string[] = [];
const m = new Measurements();

function alert(name: string): AlertRule {
    const rule = groups.flatMap((g) => g.rules).find((r): r is AlertRule => "alert" in r && r.alert === name);
    assert.ok(rule, name);
    return rule;
}

/** The chart of the shop service, plus `bulk` ConfigMaps, plus (staging only) a Deployment that can never become available. */
function shopChart(options: { extra: boolean; bulk: boolean; stuck?: boolean }): Record<string, string | null> {
    const bulk = Array.from({ length: bulkConfigMaps }, (_, i) => configMap(`shop-bulk-${i}`, "shop", "storefront", `bulk ${i}`)).join("\n---\n");
    // No scheduler runs in the local cluster: the Pod stays Pending, the rollout passes its deadline
    // (ProgressDeadlineExceeded) and Argo CD's health check says Degraded.
    const stuck = JSON.parse(deployment("shop-stuck", "shop", "storefront", "registry.example/shop:1.0.0", "1")) as { spec: Record<string, unknown> };
    stuck.spec.progressDeadlineSeconds = 10;
    // A ConfigMap in sync wave 1: a self-heal of it and of shop-config (wave 0) applies the two
    // waves in turn, with Argo CD's delay between waves (ARGOCD_SYNC_WAVE_DELAY, 2 s by default,
    // controller/sync.go delayBetweenSyncWaves), so the drift lasts longer than one scrape.
    const late = JSON.parse(configMap("shop-late", "shop", "storefront", lateMessage)) as { metadata: { annotations?: Record<string, string> } };
    late.metadata.annotations = { "argocd.argoproj.io/sync-wave": "1" };
    return {
        ...chartFiles({ service: "shop", team: "storefront", extra: options.extra }),
        "deploy/chart/templates/late.yaml": JSON.stringify(late),
        "deploy/chart/templates/bulk.yaml": options.bulk ? bulk : null,
        "deploy/chart/templates/stuck.yaml": options.stuck ? `{{- if eq .Values.environment "staging" }}\n${JSON.stringify(stuck)}\n{{- end }}\n` : null,
    };
}

interface AppStatus {
    sync?: string;
    health?: string;
    revision?: string;
}

function status(name: string): AppStatus {
    const r = kubectl(cluster, ["get", "applications.argoproj.io", name, "-n", argoNs, "-o", "jsonpath={.status.sync.status} {.status.health.status} {.status.sync.revision}"]);
    const [sync, health, revision] = r.stdout.split(" ");
    return r.code === 0 ? { sync, health, revision } : {};
}

function refresh(name: string): void {
    kubectlOk(cluster, ["annotate", "applications.argoproj.io", name, "-n", argoNs, "argocd.argoproj.io/refresh=normal", "--overwrite"]);
}

/** Commits `files`, refreshes both Applications (what the Git webhook does) and waits until both are Synced and Healthy at it. */
async function commitAndSync(files: Record<string, string | null>, message: string): Promise<string> {
    const sha = git.commit("shop", files, message);
    await syncedAt(sha);
    return sha;
}

async function syncedAt(sha: string, apps = ["shop-prod", "shop-staging"]): Promise<void> {
    for (const a of apps) refresh(a);
    let lastRefresh = Date.now();
    await eventually(`${apps.join(", ")} Synced and Healthy at ${sha.slice(0, 8)}`, 180, () => {
        if (Date.now() - lastRefresh > 3000) {
            for (const a of apps) refresh(a);
            lastRefresh = Date.now();
        }
        return apps.every((a) => {
            const s = status(a);
            return s.sync === "Synced" && s.health === "Healthy" && s.revision === sha;
        });
    });
}

function configMessage(namespace: string, name: string): string | undefined {
    const r = kubectl(cluster, ["get", "configmap", name, "-n", namespace, "-o", "jsonpath={.data.message}"]);
    return r.code === 0 ? r.stdout : undefined;
}

/** argocd_app_info samples of `app` in a scrape. */
function appInfo(scrape: Scrape | undefined, app: string): string[] {
    return [...(scrape?.keys() ?? [])].filter((k) => k.startsWith("argocd_app_info{") && labelValue(k, "name") === app);
}

function hasStatus(scrape: Scrape | undefined, app: string, label: "sync_status" | "health_status", value: string): boolean {
    return appInfo(scrape, app).some((k) => labelValue(k, label) === value);
}

/** Successful, non-dry-run Deletes of `app` in a scrape. */
function deletes(scrape: Scrape | undefined, app: string): number {
    let sum = 0;
    for (const [k, v] of scrape ?? []) {
        if (!k.startsWith("argocd_app_k8s_request_total{") || labelValue(k, "name") !== app) continue;
        if (labelValue(k, "verb") === "Delete" && labelValue(k, "dry_run") === "false" && /^2/.test(labelValue(k, "response_code") ?? "")) sum += v;
    }
    return sum;
}

/** Waits until a scrape taken after now satisfies `probe`; returns its tick. */
async function scraped(what: string, seconds: number, probe: (s: Scrape) => boolean): Promise<number> {
    assert.ok(recorder);
    const r = recorder;
    const from = r.now() + 1;
    let found: number | undefined;
    await eventually(`a scrape showing ${what}`, seconds, () => {
        for (const [tick, s] of r.scrapes) {
            if (tick >= from && probe(s)) {
                found = tick;
                return true;
            }
        }
        return false;
    });
    assert.ok(found !== undefined);
    return found;
}

/** The first tick in `from..to` whose scrape satisfies `probe`. */
function firstTick(from: number, to: number, probe: (s: Scrape) => boolean): number {
    assert.ok(recorder);
    const scrapes = recorder.scrapes;
    for (let t = from; t <= to; t++) {
        const s = scrapes.get(t);
        if (s && probe(s)) return t;
    }
    throw new Error(`no scrape in ticks ${from}..${to} shows it`);
}

/** Runs promtool on the rendered groups; every group evaluated every scrape interval. */
function evaluate(test: RuleTestGroup, rules: readonly RuleGroup[] = groups): void {
    const r = testRules(rules, [test], `${scrapeMs / 1000}s`);
    assert.equal(r.code, 0, `promtool test rules on the scraped series failed:\n${r.output.slice(0, 6000)}`);
}

const at = (slot: number) => `${(slot * scrapeMs) / 1000}s`;
const expectAlerts = (slot: number, alertname: string, exp: AlertTest["exp_alerts"]): AlertTest => ({ eval_time: at(slot), alertname, exp_alerts: exp });

describe("alerts and drift records on Argo CD v3.6.1's live metrics (promtool test rules on the scraped series)", { timeout: 20 * 60 * 1000 }, () => {
    let baseline: string;

    before(async () => {
        promtool(); // fails here, with the fix, when promtool is not built
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-alerts-"));
        const stateDir = path.join(workDir, "state");
        fs.mkdirSync(stateDir);
        // The deployment and replicaset controllers report rollouts (and their deadline) to Argo CD's health check.
        cluster = startCluster({ LOCAL_CLUSTER_WORKLOAD_CONTROLLERS: "1" });
        // The on-call group may edit ConfigMaps; the guardrails decide where.
        kubectlOk(cluster, ["create", "clusterrole", "test-break-glass", "--verb=get,list,watch,patch,update", "--resource=configmaps"]);
        kubectlOk(cluster, ["create", "clusterrolebinding", "test-break-glass", "--clusterrole=test-break-glass", "--group=gitops-control:break-glass"]);
        git = await GitServer.start(path.join(workDir, "git"));
        baseline = git.createRepo("shop", shopChart({ extra: true, bulk: true }));
        const service = { name: "shop", team: "storefront", repoURL: git.url("shop"), path: "deploy/chart", targetRevision: "main", environments: ["prod", "staging"] };
        step("pulumi up: Argo CD and the shop service in prod and staging");
        const local = await openLocalStack(cluster, { configOverrides: { services: [service] } }, stateDir);
        const t0 = Date.now();
        await local.stack.up({ onOutput: (out) => log.push(out) });
        m.measure("pulumi up", t0);
        reconcilers = await startReconcilers({ dir: path.join(workDir, "reconcilers"), adminKubeconfig: cluster.kubeconfig, appResyncSeconds: 60 });
        recorder = new MetricsRecorder(
            `http://127.0.0.1:${reconcilers.ports.controllerMetrics}/metrics`,
            scrapeMs,
            path.join(workDir, "scrapes.jsonl"),
            ["argocd_app_info", "argocd_app_k8s_request_total", "argocd_app_sync_total"],
            [',name="shop-', '{name="shop-'],
        );
        const t1 = Date.now();
        await syncedAt(baseline);
        m.measure("first sync of shop-prod and shop-staging", t1);
        project = kubectlOk(cluster, ["get", "applications.argoproj.io", "shop-prod", "-n", argoNs, "-o", "jsonpath={.spec.project}"]);
    });

    after(async () => {
        if (process.exitCode) {
            console.log(log.join("").split("\n").slice(-40).join("\n"));
            if (reconcilers) console.log(reconcilers.tails(30));
            if (recorder) console.log(recorder.errors().slice(-5).join("\n"));
        }
        step(m.summary());
        await recorder?.stop();
        reconcilers?.stop();
        await git?.stop();
        cluster?.stop();
        fs.rmSync(workDir, { recursive: true, force: true });
    });

    it(`ArgoCdUnusualPruneVolume (threshold ${pruneThreshold}) stays silent for a normal prune of one ConfigMap and fires when one commit prunes ${bulkConfigMaps}; the default threshold lets ${bulkConfigMaps} pass`, async () => {
        assert.ok(recorder);
        try {
            let t0 = Date.now();
            await commitAndSync(shopChart({ extra: false, bulk: true }), "v2: drop the extra ConfigMap");
            const normalDone = await scraped("one Delete by each Application", 30, (s) => deletes(s, "shop-prod") === 1 && deletes(s, "shop-staging") === 1);
            m.measure("normal prune: commit to the Delete in the scrape", t0);
            const beforeMass = recorder.now();
            t0 = Date.now();
            await commitAndSync(shopChart({ extra: false, bulk: false }), `v3: drop ${bulkConfigMaps} ConfigMaps`);
            const massDone = await scraped(
                `${1 + bulkConfigMaps} Deletes by each Application`,
                30,
                (s) => deletes(s, "shop-prod") === 1 + bulkConfigMaps && deletes(s, "shop-staging") === 1 + bulkConfigMaps,
            );
            m.measure("mass prune: commit to the Deletes in the scrape", t0);
            const end = massDone + 2;
            await scraped("the end of the window", 10, () => recorder!.now() >= end);

            // 16 simulated minutes after the normal prune (counters unchanged until the next commit),
            // so the mass prune is counted by increase() over a series older than the window, and 16
            // after the end, when the window has passed.
            const quiet = 16 * 60;
            const stretches: Stretch[] = [
                { afterTick: normalDone, ticks: quiet },
                { afterTick: end, ticks: quiet },
            ];
            const { series, slot, slots } = toInputSeries(recorder, 0, end, stretches);
            const rule = alert("ArgoCdUnusualPruneVolume");
            const both = ["shop-prod", "shop-staging"].map((name) => firing(rule, { namespace: argoNs, name, project }));
            const firstMassTick = firstTick(beforeMass, massDone, (s) => deletes(s, "shop-prod") > 1 || deletes(s, "shop-staging") > 1);
            const test: RuleTestGroup = {
                name: "prune volume on the controller's counters",
                interval: `${scrapeMs / 1000}s`,
                input_series: series,
                alert_rule_test: [
                    expectAlerts(slot(normalDone), "ArgoCdUnusualPruneVolume", []),
                    expectAlerts(slot(firstMassTick) - 1, "ArgoCdUnusualPruneVolume", []),
                    expectAlerts(slot(massDone), "ArgoCdUnusualPruneVolume", both),
                    expectAlerts(slots - 1, "ArgoCdUnusualPruneVolume", []),
                ],
            };
            evaluate(test);
            // The program's default threshold (10) on the same series: silent throughout.
            evaluate({ ...test, alert_rule_test: test.alert_rule_test?.map((a) => ({ ...a, exp_alerts: [] })) }, renderRuleGroups({ ...args, pruneVolumeThreshold: undefined }));
            step(`prune volume: ${deletes(recorder.scrapes.get(massDone), "shop-prod")} Deletes of shop-prod counted; alert at slot ${slot(massDone)} of ${slots}`);
        } finally {
            baseline = git.commit("shop", shopChart({ extra: true, bulk: true }), "restore the baseline");
            await syncedAt(baseline);
        }
    });

    it("the drift time-to-repair record of a prod self-heal matches the self-heal time the test measures", async () => {
        assert.ok(recorder);
        try {
            // The window starts at a scrape showing shop-prod Synced (the previous test's restore done).
            const start = await scraped(
                "shop-prod Synced before the edit",
                60,
                (x) => hasStatus(x, "shop-prod", "sync_status", "Synced") && !hasStatus(x, "shop-prod", "sync_status", "OutOfSync"),
            );
            // One request edits a wave-0 and a wave-1 ConfigMap: since the program makes the
            // namespaces, a self-heal of one object takes one pass, often less than one scrape
            // interval (0.8 s), and the 1-s scrapes may never see it OutOfSync; two waves keep it
            // OutOfSync for Argo CD's 2-s delay between waves at least.
            kubectlOk(cluster, ["patch", "configmap", "shop-config", "shop-late", "-n", "shop-prod", "--type", "merge", "-p", '{"data":{"message":"hotfix"}}', ...breakGlass]);
            const edited = Date.now();
            await eventually(
                "prod ConfigMaps reverted to Git",
                90,
                () => configMessage("shop-prod", "shop-config") === "hello" && configMessage("shop-prod", "shop-late") === lateMessage,
            );
            const healed = m.measure("prod self-heal (live edit to reverted)", edited);
            const synced = await scraped("shop-prod Synced again", 60, (s) => hasStatus(s, "shop-prod", "sync_status", "Synced"));
            const end = synced + 3;
            await scraped("the end of the window", 10, () => recorder!.now() >= end);
            const from = start;
            const { series, slot } = toInputSeries(recorder, from, end);
            // What the rule is meant to compute, from the scrapes: seconds in which the latest scrape said OutOfSync.
            const scrapes = recorder.scrapes;
            let outOfSync = 0;
            let episodes = 0;
            let last: Scrape | undefined;
            let was = false;
            const trace: string[] = [];
            for (let t = from; t <= end; t++) {
                last = scrapes.get(t) ?? last;
                const is = hasStatus(last, "shop-prod", "sync_status", "OutOfSync");
                trace.push(
                    scrapes.has(t)
                        ? appInfo(last, "shop-prod")
                              .map((k) => `${labelValue(k, "sync_status")}/${labelValue(k, "operation") || "-"}/${labelValue(k, "phase") || "-"}`)
                              .join("+")
                        : "(missed)",
                );
                if (is) outOfSync++;
                if (is && !was) episodes++;
                was = is;
            }
            step(`shop-prod per scrape (sync/operation/phase): ${trace.join(" ")}`);
            assert.equal(episodes, 1, `the scrapes show ${episodes} OutOfSync episodes of shop-prod in the window (one self-heal expected)`);
            const expected = (outOfSync * scrapeMs) / 1000;
            step(`[measure] drift record: ${expected}s (${outOfSync} scrapes OutOfSync) against a measured self-heal of ${healed}s`);
            evaluate({
                name: "drift record on a self-heal",
                interval: `${scrapeMs / 1000}s`,
                input_series: series,
                promql_expr_test: [
                    {
                        expr: `${driftRepairRecord}{name="shop-prod"}`,
                        eval_time: at(slot(end)),
                        exp_samples: [{ labels: `${driftRepairRecord}{name="shop-prod", namespace="${argoNs}", project="${project}"}`, value: expected }],
                    },
                ],
            });
            assert.ok(
                Math.abs(expected - healed) <= driftToleranceSeconds,
                `drift record ${expected}s vs measured self-heal ${healed}s: more than ${driftToleranceSeconds}s apart`,
            );
        } finally {
            for (const [name, message] of [
                ["shop-config", "hello"],
                ["shop-late", lateMessage],
            ]) {
                if (configMessage("shop-prod", name) !== message) {
                    kubectlOk(cluster, ["patch", "configmap", name, "-n", "shop-prod", "--type", "merge", "-p", JSON.stringify({ data: { message } }), ...breakGlass]);
                }
            }
        }
    });

    it("ArgoCdAppOutOfSync fires 15 minutes into a staging live edit left standing (no self-heal), not before, and resolves when the edit is undone", async () => {
        assert.ok(recorder);
        const patch = (message: string) =>
            kubectlOk(cluster, ["patch", "configmap", "shop-config", "-n", "shop-staging", "--type", "merge", "-p", JSON.stringify({ data: { message } }), ...breakGlass]);
        try {
            const start = recorder.now();
            patch("experiment");
            refresh("shop-staging");
            const first = await scraped("shop-staging OutOfSync", 60, (s) => hasStatus(s, "shop-staging", "sync_status", "OutOfSync"));
            // Steady: three more scrapes, still OutOfSync, and the edit still stands.
            await scraped("three more scrapes", 30, () => recorder!.now() >= first + 3);
            const scrapes = recorder.scrapes;
            assert.ok(
                [first + 1, first + 2, first + 3].every((t) => !scrapes.has(t) || hasStatus(scrapes.get(t), "shop-staging", "sync_status", "OutOfSync")),
                "still OutOfSync three scrapes later",
            );
            assert.equal(configMessage("shop-staging", "shop-config"), "experiment");
            patch("hello");
            refresh("shop-staging");
            const synced = await scraped("shop-staging Synced again", 60, (s) => hasStatus(s, "shop-staging", "sync_status", "Synced"));
            const end = synced + 2;
            await scraped("the end of the window", 10, () => recorder!.now() >= end);
            const forSeconds = 15 * 60;
            const { series, slot, slots } = toInputSeries(recorder, start - 2, end, [{ afterTick: first + 3, ticks: forSeconds + 60 }]);
            const firingNow = [firing(alert("ArgoCdAppOutOfSync"), { name: "shop-staging", project })];
            evaluate({
                name: "OutOfSync on a live edit",
                interval: `${scrapeMs / 1000}s`,
                input_series: series,
                alert_rule_test: [
                    expectAlerts(slot(first) + forSeconds - 2, "ArgoCdAppOutOfSync", []),
                    expectAlerts(slot(first) + forSeconds + 2, "ArgoCdAppOutOfSync", firingNow),
                    expectAlerts(slots - 1, "ArgoCdAppOutOfSync", []),
                ],
            });
        } finally {
            if (configMessage("shop-staging", "shop-config") !== "hello") patch("hello");
        }
    });

    it("ArgoCdAppDegraded fires 10 minutes after a staging rollout passes its deadline, not before, and resolves when the commit is reverted", async () => {
        assert.ok(recorder);
        try {
            const start = recorder.now();
            git.commit("shop", shopChart({ extra: true, bulk: true, stuck: true }), "a Deployment that cannot become available (staging)");
            refresh("shop-staging");
            const t0 = Date.now();
            const first = await scraped("shop-staging Degraded", 120, (s) => hasStatus(s, "shop-staging", "health_status", "Degraded"));
            m.measure("stuck rollout: commit to Degraded in the scrape", t0);
            await scraped("three more scrapes", 30, () => recorder!.now() >= first + 3);
            const scrapes = recorder.scrapes;
            assert.ok(
                [first + 1, first + 2, first + 3].every((t) => !scrapes.has(t) || hasStatus(scrapes.get(t), "shop-staging", "health_status", "Degraded")),
                "still Degraded three scrapes later",
            );
            assert.equal(status("shop-staging").health, "Degraded");
            baseline = git.commit("shop", shopChart({ extra: true, bulk: true }), "revert the stuck Deployment");
            await syncedAt(baseline, ["shop-staging"]);
            const healthy = await scraped("shop-staging Healthy again", 60, (s) => hasStatus(s, "shop-staging", "health_status", "Healthy"));
            const end = healthy + 2;
            await scraped("the end of the window", 10, () => recorder!.now() >= end);
            const forSeconds = 10 * 60;
            const { series, slot, slots } = toInputSeries(recorder, start - 2, end, [{ afterTick: first + 3, ticks: forSeconds + 60 }]);
            evaluate({
                name: "Degraded rollout",
                interval: `${scrapeMs / 1000}s`,
                input_series: series,
                alert_rule_test: [
                    expectAlerts(slot(first) + forSeconds - 2, "ArgoCdAppDegraded", []),
                    expectAlerts(slot(first) + forSeconds + 2, "ArgoCdAppDegraded", [firing(alert("ArgoCdAppDegraded"), { name: "shop-staging", project })]),
                    expectAlerts(slots - 1, "ArgoCdAppDegraded", []),
                ],
            });
        } finally {
            baseline = git.commit("shop", shopChart({ extra: true, bulk: true }), "restore the baseline");
            await syncedAt(baseline);
        }
    });
});
