/**
 * The alert and recording rules as the program renders them, checked and evaluated by Prometheus's
 * own promtool (pinned in scripts/toolchain/versions.env): `promtool check rules` on every render,
 * `promtool test rules` with synthetic series for each alert (fires when it should, silent when it
 * should, `for` respected) and for the drift records. The last tests break rules on purpose and
 * show these tests fail. The same rules on series scraped from Argo CD v3.6.1's controller:
 * tests/integration/alerts.test.ts.
 *
 * promtool is part of the toolchain (scripts/toolchain/build-prometheus.sh); when it is missing
 * these tests fail with that command, they never skip.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ArgoCdAlertsArgs, AlertRule, RuleGroup, driftRepairRecord, outOfSyncRecord, renderRuleGroups } from "../../components/argocd/ArgoCdAlerts";
import { AlertTest, InputSeries, RuleTestGroup, checkRules, firing, testRules } from "../support/promtool";

type Args = Omit<ArgoCdAlertsArgs, "provider" | "namespace">;

function alertRule(groups: readonly RuleGroup[], name: string): AlertRule {
    const rule = groups.flatMap((g) => g.rules).find((r): r is AlertRule => "alert" in r && r.alert === name);
    assert.ok(rule, `no alert ${name} rendered`);
    return rule;
}

/** promtool's expanding notation from runs of [value, samples]: `1x3` is four samples, `_x3` three. */
function samples(...runs: [string | number, number][]): string {
    return runs
        .filter(([, n]) => n > 0)
        .map(([v, n]) => (v === "_" ? (n === 1 ? "_" : `_x${n}`) : v === "stale" ? Array(n).fill("stale").join(" ") : n === 1 ? `${v}` : `${v}x${n - 1}`))
        .join(" ");
}

function selector(name: string, labels: Record<string, string>): string {
    return `${name}{${Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(",")}}`;
}

const app = (name: string) => ({ namespace: "argocd", name, project: "storefront" });

/** argocd_app_info as the v3.6.1 controller exports it (status as labels, value 1). */
function appInfo(name: string, sync: string, health: string, autosync = "true", project = "storefront"): string {
    return selector("argocd_app_info", {
        ...app(name),
        project,
        autosync_enabled: autosync,
        dest_namespace: name,
        dest_server: "https://kubernetes.default.svc",
        health_status: health,
        operation: "",
        repo: "https://git.example/shop.git",
        sync_status: sync,
    });
}

/** argocd_app_k8s_request_total for Deletes of ConfigMaps by one Application. */
function deletes(name: string, code = "200", dryRun = "false"): string {
    return selector("argocd_app_k8s_request_total", {
        ...app(name),
        dry_run: dryRun,
        resource_kind: "ConfigMap",
        resource_namespace: name,
        response_code: code,
        server: "https://kubernetes.default.svc",
        verb: "Delete",
    });
}

interface Scenario {
    readonly name: string;
    readonly args: Args;
    /** How often promtool evaluates every group: the interval the rules under test run at. */
    readonly every: string;
    readonly test: (groups: readonly RuleGroup[]) => RuleTestGroup;
}

/** An Application Synced/Healthy, then `bad` from `from` to `to` (minutes, 1-minute scrapes), then good again. */
function statusEpisode(name: string, bad: { sync: string; health: string }, from: number, to: number, end: number): InputSeries[] {
    return [
        { series: appInfo(name, "Synced", "Healthy"), values: samples([1, from], ["stale", 1], ["_", to - from - 1], [1, end - to]) },
        { series: appInfo(name, bad.sync, bad.health), values: samples(["_", from], [1, to - from], ["stale", 1]) },
    ];
}

function alertAt(eval_time: string, alertname: string, exp: AlertTest["exp_alerts"]): AlertTest {
    return { eval_time, alertname, exp_alerts: exp };
}

/** argocd_app_info of an Application with a sync operation in `phase` (operation and phase as labels). */
function syncInfo(name: string, phase: string): string {
    return selector("argocd_app_info", {
        ...app(name),
        autosync_enabled: "true",
        dest_namespace: name,
        dest_server: "https://kubernetes.default.svc",
        health_status: "Healthy",
        hydrator_status: "",
        operation: phase === "" ? "" : "sync",
        phase,
        repo: "https://git.example/shop.git",
        sync_status: "OutOfSync",
    });
}

const scenarios: Scenario[] = [
    {
        name: "ArgoCdPruneHeld fires for a prod sync running 10 minutes (held prunes), not before; a 3-minute prod sync, a long staging sync and a finished one stay silent",
        args: {},
        every: "1m",
        test: (groups) => {
            const rule = alertRule(groups, "ArgoCdPruneHeld");
            return {
                name: "prune held",
                interval: "1m",
                input_series: [
                    // shop-prod: held from minute 5 to 30, then approved and done.
                    { series: syncInfo("shop-prod", "Running"), values: samples(["_", 5], [1, 25], ["stale", 1]) },
                    { series: syncInfo("shop-prod", "Succeeded"), values: samples(["_", 30], [1, 10]) },
                    // cart-prod: a sync of 3 minutes (the gate approved it within budget).
                    { series: syncInfo("cart-prod", "Running"), values: samples(["_", 5], [1, 3], ["stale", 1]) },
                    // shop-staging: a long sync, but staging has no gate.
                    { series: syncInfo("shop-staging", "Running"), values: samples(["_", 5], [1, 35]) },
                ],
                alert_rule_test: [
                    alertAt("14m", "ArgoCdPruneHeld", []),
                    alertAt("15m", "ArgoCdPruneHeld", [firing(rule, { name: "shop-prod", project: "storefront" })]),
                    alertAt("29m", "ArgoCdPruneHeld", [firing(rule, { name: "shop-prod", project: "storefront" })]),
                    alertAt("32m", "ArgoCdPruneHeld", []),
                ],
            };
        },
    },
    {
        name: "ArgoCdAppOutOfSync fires after 15 minutes OutOfSync (not before) and resolves when Synced",
        args: {},
        every: "1m",
        test: (groups) => {
            const rule = alertRule(groups, "ArgoCdAppOutOfSync");
            return {
                name: "out of sync",
                interval: "1m",
                input_series: statusEpisode("shop-staging", { sync: "OutOfSync", health: "Healthy" }, 5, 30, 40),
                alert_rule_test: [
                    alertAt("19m", "ArgoCdAppOutOfSync", []),
                    alertAt("20m", "ArgoCdAppOutOfSync", [firing(rule, { name: "shop-staging", project: "storefront" })]),
                    alertAt("29m", "ArgoCdAppOutOfSync", [firing(rule, { name: "shop-staging", project: "storefront" })]),
                    alertAt("31m", "ArgoCdAppOutOfSync", []),
                    alertAt("31m", "ArgoCdAppDegraded", []),
                ],
            };
        },
    },
    {
        name: "ArgoCdAppOutOfSync with outOfSyncMinutes: 5 fires after 5 minutes",
        args: { outOfSyncMinutes: 5 },
        every: "1m",
        test: (groups) => ({
            name: "out of sync, 5m",
            interval: "1m",
            input_series: statusEpisode("shop-staging", { sync: "OutOfSync", health: "Healthy" }, 5, 30, 40),
            alert_rule_test: [
                alertAt("9m", "ArgoCdAppOutOfSync", []),
                alertAt("10m", "ArgoCdAppOutOfSync", [firing(alertRule(groups, "ArgoCdAppOutOfSync"), { name: "shop-staging", project: "storefront" })]),
            ],
        }),
    },
    {
        name: "ArgoCdAppDegraded fires after 10 minutes Degraded (not before), resolves when Healthy; a Progressing app is silent",
        args: {},
        every: "1m",
        test: (groups) => ({
            name: "degraded",
            interval: "1m",
            input_series: [
                ...statusEpisode("shop-prod", { sync: "Synced", health: "Degraded" }, 5, 30, 40),
                ...statusEpisode("shop-staging", { sync: "Synced", health: "Progressing" }, 5, 30, 40),
            ],
            alert_rule_test: [
                alertAt("14m", "ArgoCdAppDegraded", []),
                alertAt("15m", "ArgoCdAppDegraded", [firing(alertRule(groups, "ArgoCdAppDegraded"), { name: "shop-prod", project: "storefront" })]),
                alertAt("15m", "ArgoCdAppOutOfSync", []),
                alertAt("31m", "ArgoCdAppDegraded", []),
            ],
        }),
    },
    {
        name: "ArgoCdUnusualPruneVolume counts successful real deletes only: 12 in one sync fire, also as a counter's first samples; dry runs, 4xx answers, one prune and a slow trickle do not",
        args: {},
        every: "1m",
        test: (groups) => {
            const rule = alertRule(groups, "ArgoCdUnusualPruneVolume");
            return {
                name: "prune volume",
                interval: "1m",
                input_series: [
                    // An Application that pruned once before, then a sync that deletes 12 at 21m.
                    { series: deletes("mass"), values: samples([1, 21], [13, 30]) },
                    // The controller's first deletes for this Application: the counter is born at 12.
                    { series: deletes("first"), values: samples(["_", 21], [12, 30]) },
                    // A dry-run sync (argocd app sync --dry-run) deleting 12: counted with dry_run="true".
                    { series: deletes("dryrun"), values: samples([1, 51]) },
                    { series: deletes("dryrun", "200", "true"), values: samples([1, 21], [13, 30]) },
                    // 12 Deletes the API server refused or found gone already.
                    { series: deletes("refused"), values: samples([1, 51]) },
                    { series: deletes("refused", "403"), values: samples(["_", 21], [6, 30]) },
                    { series: deletes("refused", "404"), values: samples([1, 21], [7, 30]) },
                    // A normal release pruning one object.
                    { series: deletes("normal"), values: samples([1, 21], [2, 30]) },
                    // Half a delete a minute for 50 minutes: 7.5 in any 15 minutes.
                    { series: deletes("trickle"), values: "1+0.5x50" },
                ],
                alert_rule_test: [
                    alertAt("20m", "ArgoCdUnusualPruneVolume", []),
                    alertAt("22m", "ArgoCdUnusualPruneVolume", [firing(rule, app("mass")), firing(rule, app("first"))]),
                    // The range is left-open: at 35m the sample before the burst (20m) has left it.
                    alertAt("34m", "ArgoCdUnusualPruneVolume", [firing(rule, app("mass")), firing(rule, app("first"))]),
                    // 15 minutes after the burst the window no longer holds it: resolved.
                    alertAt("40m", "ArgoCdUnusualPruneVolume", []),
                ],
            };
        },
    },
    {
        name: "ArgoCdUnusualPruneVolume with pruneVolumeThreshold: 3 fires for 5 deletes (2 stay silent), which the default 10 lets pass",
        args: { pruneVolumeThreshold: 3 },
        every: "1m",
        test: (groups) => ({
            name: "prune volume, threshold 3",
            interval: "1m",
            input_series: [
                { series: deletes("five"), values: samples([1, 21], [6, 10]) },
                { series: deletes("two"), values: samples([1, 21], [3, 10]) },
            ],
            alert_rule_test: [alertAt("22m", "ArgoCdUnusualPruneVolume", [firing(alertRule(groups, "ArgoCdUnusualPruneVolume"), app("five"))])],
        }),
    },
    {
        name: "ArgoCdUnusualPruneVolume with the default threshold is silent for the same 5 deletes",
        args: {},
        every: "1m",
        test: () => ({
            name: "prune volume, default threshold",
            interval: "1m",
            input_series: [{ series: deletes("five"), values: samples([1, 21], [6, 10]) }],
            alert_rule_test: [alertAt("22m", "ArgoCdUnusualPruneVolume", [])],
        }),
    },
    {
        name: "ArgoCdSyncFailures fires on a failed sync, also the first one (a counter born at 1), and not on successful syncs",
        args: {},
        every: "1m",
        test: (groups) => {
            const sync = (name: string, phase: string) =>
                selector("argocd_app_sync_total", { ...app(name), dest_server: "https://kubernetes.default.svc", dry_run: "false", phase });
            const rule = alertRule(groups, "ArgoCdSyncFailures");
            return {
                name: "sync failures",
                interval: "1m",
                input_series: [
                    // Errors before the data began, one more at 25m; the first failure of shop-prod (a counter born at 1) at 30m.
                    { series: sync("shop-staging", "Error"), values: samples([2, 25], [3, 30]) },
                    { series: sync("shop-prod", "Failed"), values: samples(["_", 30], [1, 25]) },
                    { series: sync("ledger-prod", "Succeeded"), values: "1+1x54" },
                ],
                alert_rule_test: [
                    alertAt("24m", "ArgoCdSyncFailures", []),
                    alertAt("26m", "ArgoCdSyncFailures", [firing(rule, { name: "shop-staging", project: "storefront" })]),
                    alertAt("31m", "ArgoCdSyncFailures", [
                        firing(rule, { name: "shop-prod", project: "storefront" }),
                        firing(rule, { name: "shop-staging", project: "storefront" }),
                    ]),
                    alertAt("50m", "ArgoCdSyncFailures", []),
                ],
            };
        },
    },
    {
        name: "ArgoCdReconcileErrors fires after 30 minutes without a reconcile while the controller is up, not while it reconciles",
        args: {},
        every: "1m",
        test: (groups) => {
            const reconciles = (ns: string) => selector("argocd_app_reconcile_count", { namespace: ns, dest_server: "https://kubernetes.default.svc" });
            return {
                name: "reconcile errors",
                interval: "1m",
                input_series: [
                    { series: reconciles("argocd"), values: samples([100, 60]) },
                    { series: reconciles("team-argocd"), values: "100+3x59" },
                    { series: selector("up", { job: "argocd-application-controller-metrics", instance: "10.0.0.1:8082" }), values: samples([1, 60]) },
                ],
                alert_rule_test: [
                    alertAt("30m", "ArgoCdReconcileErrors", []),
                    alertAt("32m", "ArgoCdReconcileErrors", [firing(alertRule(groups, "ArgoCdReconcileErrors"), { namespace: "argocd" })]),
                ],
            };
        },
    },
    {
        name: "PreviewNamespaceTooOld fires for a preview namespace past the TTL (72 h) for an hour, not for other namespaces",
        args: {},
        every: "30m",
        test: (groups) => ({
            name: "preview ttl",
            interval: "5m",
            input_series: [
                { series: selector("kube_namespace_created", { namespace: "shop-pr-12" }), values: samples([0, 12 * 80]) },
                { series: selector("kube_namespace_created", { namespace: "shop-prod" }), values: samples([0, 12 * 80]) },
            ],
            alert_rule_test: [
                alertAt("73h", "PreviewNamespaceTooOld", []),
                alertAt("74h", "PreviewNamespaceTooOld", [firing(alertRule(groups, "PreviewNamespaceTooOld"), { namespace: "shop-pr-12" })]),
            ],
        }),
    },
    {
        name: "PreviewNamespaceTooOld with previewTtlHours: 1 fires two hours after creation",
        args: { previewTtlHours: 1 },
        every: "5m",
        test: (groups) => ({
            name: "preview ttl 1h",
            interval: "5m",
            input_series: [{ series: selector("kube_namespace_created", { namespace: "shop-pr-12" }), values: samples([0, 30]) }],
            alert_rule_test: [
                alertAt("120m", "PreviewNamespaceTooOld", []),
                alertAt("125m", "PreviewNamespaceTooOld", [firing(alertRule(groups, "PreviewNamespaceTooOld"), { namespace: "shop-pr-12" })]),
            ],
        }),
    },
    {
        name: "PreviewGenerationFailing fires after 15 minutes of ErrorOccurred, and resolves when generation succeeds again",
        args: {},
        every: "1m",
        test: (groups) => {
            const appset = (status: string) => selector("argocd_appset_info", { namespace: "argocd", name: "shop-previews", resource_update_status: status });
            return {
                name: "preview generation",
                interval: "1m",
                input_series: [
                    { series: appset("ApplicationSetUpToDate"), values: samples([1, 5], ["stale", 1], ["_", 24], [1, 10]) },
                    { series: appset("ErrorOccurred"), values: samples(["_", 5], [1, 25], ["stale", 1]) },
                ],
                alert_rule_test: [
                    alertAt("19m", "PreviewGenerationFailing", []),
                    alertAt("20m", "PreviewGenerationFailing", [firing(alertRule(groups, "PreviewGenerationFailing"), { namespace: "argocd", name: "shop-previews" })]),
                    alertAt("31m", "PreviewGenerationFailing", []),
                ],
            };
        },
    },
    {
        name: "drift records (every 30 s): 0/1 OutOfSync per Application, and a mean time-to-repair of 240 s over episodes of 3 and 5 minutes",
        args: {},
        every: "30s",
        test: () => {
            const labels = 'name="shop-staging", namespace="argocd", project="storefront"';
            return {
                name: "drift records",
                interval: "30s",
                input_series: [
                    // Synced 0–2:30, OutOfSync 2:30–5:30 (3 min), Synced 5:30–15:30, OutOfSync 15:30–20:30 (5 min), Synced after.
                    { series: appInfo("shop-staging", "Synced", "Healthy"), values: samples([1, 5], ["stale", 1], ["_", 5], [1, 20], ["stale", 1], ["_", 9], [1, 20]) },
                    { series: appInfo("shop-staging", "OutOfSync", "Healthy"), values: samples(["_", 5], [1, 6], ["stale", 1], ["_", 19], [1, 10], ["stale", 1]) },
                    // Never OutOfSync: a 0 record, and no time-to-repair at all.
                    { series: appInfo("shop-prod", "Synced", "Healthy"), values: samples([1, 60]) },
                ],
                promql_expr_test: [
                    {
                        expr: outOfSyncRecord,
                        eval_time: "3m",
                        exp_samples: [
                            { labels: `${outOfSyncRecord}{${labels}}`, value: 1 },
                            { labels: `${outOfSyncRecord}{name="shop-prod", namespace="argocd", project="storefront"}`, value: 0 },
                        ],
                    },
                    {
                        expr: outOfSyncRecord,
                        eval_time: "10m",
                        exp_samples: [
                            { labels: `${outOfSyncRecord}{${labels}}`, value: 0 },
                            { labels: `${outOfSyncRecord}{name="shop-prod", namespace="argocd", project="storefront"}`, value: 0 },
                        ],
                    },
                    { expr: driftRepairRecord, eval_time: "8m", exp_samples: [{ labels: `${driftRepairRecord}{${labels}}`, value: 180 }] },
                    { expr: driftRepairRecord, eval_time: "25m", exp_samples: [{ labels: `${driftRepairRecord}{${labels}}`, value: 240 }] },
                ],
            };
        },
    },
    {
        name: "ArgoCdAutomatedSyncPaused fires once automated sync has been off longer than a pause may last (24 h), resolves when it is back on; a paused preview is silent",
        args: {},
        every: "10m",
        test: (groups) => {
            const rule = alertRule(groups, "ArgoCdAutomatedSyncPaused");
            // 10-minute scrapes: on for 1 h, paused for 30 h, on again; a preview held paused the whole time.
            return {
                name: "sync paused",
                interval: "10m",
                input_series: [
                    { series: appInfo("shop-prod", "Synced", "Healthy"), values: samples([1, 6], ["stale", 1], ["_", 179], [1, 12]) },
                    { series: appInfo("shop-prod", "Synced", "Healthy", "false"), values: samples(["_", 6], [1, 180], ["stale", 1]) },
                    { series: appInfo("shop-pr-7", "Synced", "Healthy", "false", "shop-previews"), values: samples([1, 200]) },
                ],
                alert_rule_test: [
                    alertAt("24h50m", "ArgoCdAutomatedSyncPaused", []),
                    alertAt("25h10m", "ArgoCdAutomatedSyncPaused", [firing(rule, { name: "shop-prod", project: "storefront" })]),
                    alertAt("30h50m", "ArgoCdAutomatedSyncPaused", [firing(rule, { name: "shop-prod", project: "storefront" })]),
                    alertAt("31h20m", "ArgoCdAutomatedSyncPaused", []),
                ],
            };
        },
    },
    {
        name: "ArgoCdAutomatedSyncPaused with pauseMaxHours: 2 fires two hours into a pause",
        args: { pauseMaxHours: 2 },
        every: "10m",
        test: (groups) => ({
            name: "sync paused, 2h",
            interval: "10m",
            input_series: [{ series: appInfo("shop-prod", "Synced", "Healthy", "false"), values: samples([1, 30]) }],
            alert_rule_test: [
                alertAt("1h50m", "ArgoCdAutomatedSyncPaused", []),
                alertAt("2h", "ArgoCdAutomatedSyncPaused", [firing(alertRule(groups, "ArgoCdAutomatedSyncPaused"), { name: "shop-prod", project: "storefront" })]),
            ],
        }),
    },
    {
        name: "drift records with recordIntervalSeconds: 5 measure a 15-second self-heal as 15 s",
        args: { recordIntervalSeconds: 5 },
        every: "5s",
        test: () => ({
            name: "drift records, 5s",
            interval: "5s",
            input_series: [
                { series: appInfo("shop-prod", "Synced", "Healthy"), values: samples([1, 12], ["stale", 1], ["_", 2], [1, 30]) },
                { series: appInfo("shop-prod", "OutOfSync", "Healthy"), values: samples(["_", 12], [1, 3], ["stale", 1]) },
            ],
            promql_expr_test: [
                {
                    expr: driftRepairRecord,
                    eval_time: "2m",
                    exp_samples: [{ labels: `${driftRepairRecord}{name="shop-prod", namespace="argocd", project="storefront"}`, value: 15 }],
                },
            ],
        }),
    },
];

function runScenario(s: Scenario, groups: readonly RuleGroup[] = renderRuleGroups(s.args)) {
    return testRules(groups, [s.test(renderRuleGroups(s.args))], s.every);
}

describe("alert and recording rules, checked and evaluated by promtool", () => {
    it("promtool check rules (with lint) accepts every render: defaults and changed arguments", () => {
        const renders: Args[] = [
            {},
            {
                outOfSyncMinutes: 5,
                degradedMinutes: 3,
                previewTtlHours: 1,
                pauseMaxHours: 2,
                pruneVolumeThreshold: 3,
                previewGenerationFailingMinutes: 7,
                recordIntervalSeconds: 5,
            },
            { pruneVolumeThreshold: 250, recordIntervalSeconds: 60, ruleLabels: { release: "kube-prometheus-stack" } },
        ];
        for (const args of renders) {
            const groups = renderRuleGroups(args);
            const r = checkRules(groups);
            assert.equal(r.code, 0, `${JSON.stringify(args)}:\n${r.output}`);
            assert.match(r.output, new RegExp(`SUCCESS: ${groups.flatMap((g) => g.rules).length} rules found`));
        }
    });

    it("promtool check rules rejects a render with a PromQL syntax error, naming the rule's expression", () => {
        const groups = renderRuleGroups({});
        const broken = groups.map((g) => ({
            ...g,
            rules: g.rules.map((r) => ("alert" in r && r.alert === "ArgoCdUnusualPruneVolume" ? { ...r, expr: r.expr.replace("sum by (", "sum by ") } : r)),
        }));
        const r = checkRules(broken);
        assert.notEqual(r.code, 0);
        assert.match(r.output, /parse error/);
    });

    for (const s of scenarios) {
        it(s.name, () => {
            const r = runScenario(s);
            assert.equal(r.code, 0, r.output);
            assert.match(r.output, /SUCCESS/);
        });
    }

    it("the tests above fail when a rule breaks: a misspelt metric, a dropped matcher, increase() alone, a 1-minute drift subquery", () => {
        const byName = (name: string) => scenarios.find((s) => s.name.startsWith(name));
        const mutate = (groups: RuleGroup[], name: string, edit: (expr: string) => string): RuleGroup[] =>
            groups.map((g) => ({ ...g, rules: g.rules.map((r) => (("alert" in r ? r.alert : r.record) === name ? { ...r, expr: edit(r.expr) } : r)) }));
        const cases: [string, string, (expr: string) => string][] = [
            ["ArgoCdAppOutOfSync fires", "ArgoCdAppOutOfSync", (e) => e.replace("argocd_app_info", "argocd_app_infos")],
            ["ArgoCdAppDegraded", "ArgoCdAppDegraded", (e) => e.replace('health_status="Degraded"', 'health_status="Degradded"')],
            ["ArgoCdUnusualPruneVolume counts", "ArgoCdUnusualPruneVolume", (e) => e.replaceAll(', dry_run="false"', "")],
            ["ArgoCdUnusualPruneVolume counts", "ArgoCdUnusualPruneVolume", (e) => e.replaceAll(', response_code=~"2.."', "")],
            [
                "ArgoCdUnusualPruneVolume counts",
                "ArgoCdUnusualPruneVolume",
                () => 'sum by (namespace, name, project) (increase(argocd_app_k8s_request_total{verb="Delete", dry_run="false", response_code=~"2.."}[15m])) > 10',
            ],
            ["ArgoCdSyncFailures", "ArgoCdSyncFailures", () => 'sum by (name, project) (increase(argocd_app_sync_total{phase=~"Error|Failed"}[15m])) > 0'],
            ["ArgoCdReconcileErrors", "ArgoCdReconcileErrors", (e) => e.replace("argocd_app_reconcile_count", "argocd_app_reconcile_total")],
            ["ArgoCdAutomatedSyncPaused fires", "ArgoCdAutomatedSyncPaused", (e) => e.replace('autosync_enabled="false"', 'autosync_enabled="False"')],
            ["ArgoCdAutomatedSyncPaused fires", "ArgoCdAutomatedSyncPaused", (e) => e.replace(', project!~".+-previews"', "")],
            ["PreviewNamespaceTooOld fires", "PreviewNamespaceTooOld", (e) => e.replace("> 259200", "> 2592000")],
            ["PreviewGenerationFailing", "PreviewGenerationFailing", (e) => e.replace("ErrorOccurred", "Error")],
            ["ArgoCdPruneHeld fires", "ArgoCdPruneHeld", (e) => e.replace('name=~".+-prod", ', "")],
            ["ArgoCdPruneHeld fires", "ArgoCdPruneHeld", (e) => e.replace(', phase="Running"', "")],
            ["drift records (every 30 s)", outOfSyncRecord, (e) => e.replace('sync_status="OutOfSync"', 'sync_status="Unknown"')],
            ["drift records with recordIntervalSeconds: 5", driftRepairRecord, (e) => e.replace(/^5 \* sum_over_time\(([^[]+)\[1d\]\)/, "60 * sum_over_time($1[1d:1m])")],
        ];
        for (const [scenario, rule, edit] of cases) {
            const s = byName(scenario);
            assert.ok(s, scenario);
            const groups = renderRuleGroups(s.args);
            const broken = mutate(groups, rule, edit);
            assert.notDeepEqual(broken, groups, `the edit of ${rule} changed nothing`);
            const r = runScenario(s, broken);
            assert.notEqual(r.code, 0, `${s.name} still passes with ${rule} broken:\n${r.output}`);
            assert.match(r.output, /FAILED/);
        }
    });
});
