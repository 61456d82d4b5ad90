/**
 * Prometheus's own rule tooling on the rules the program renders: `promtool check rules` (parse,
 * PromQL, templates, duplicates) and `promtool test rules` (the rule manager and PromQL engine of
 * the pinned Prometheus evaluating the groups over given series, alert by alert, at given times).
 * promtool is built by scripts/toolchain/build-prometheus.sh (part of install.sh).
 *
 * No skip when it is missing: every caller fails with the command that builds it. It is found
 * through GITOPS_PROMTOOL (the toolchain env), else on PATH, else in the toolchain cache at the
 * pinned version, so `npm run test:unit` finds it without sourcing the env once it is built.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import type { AlertRule, RuleGroup } from "../../components/argocd/ArgoCdAlerts";

const repoRoot = path.resolve(__dirname, "..", "..");

/** PROMETHEUS_VERSION from scripts/toolchain/versions.env. */
export function pinnedPrometheusVersion(): string {
    const env = fs.readFileSync(path.join(repoRoot, "scripts", "toolchain", "versions.env"), "utf8");
    const m = /^PROMETHEUS_VERSION=(\S+)$/m.exec(env);
    if (!m) throw new Error("PROMETHEUS_VERSION is missing from scripts/toolchain/versions.env");
    return m[1];
}

let found: string | undefined;

/** Path of the pinned promtool; throws naming the fix when it is not built. */
export function promtool(): string {
    if (found) return found;
    const version = pinnedPrometheusVersion();
    const cache = process.env.GITOPS_CONTROL_CACHE ?? path.join(os.homedir(), ".cache", "gitops-control");
    const onPath = spawnSync("sh", ["-c", "command -v promtool"], { encoding: "utf8" }).stdout.trim();
    const candidates = [process.env.GITOPS_PROMTOOL, onPath, path.join(cache, `prometheus-${version}`, "bin", "promtool")].filter((c): c is string => !!c);
    const seen: string[] = [];
    for (const candidate of candidates) {
        if (!fs.existsSync(candidate)) continue;
        const v = spawnSync(candidate, ["--version"], { encoding: "utf8" });
        const reported = /promtool, version (\S+)/.exec(v.stdout ?? "")?.[1];
        if (reported === version) return (found = candidate);
        seen.push(`${candidate} reports ${reported ?? "no version"}`);
    }
    throw new Error(
        `promtool ${version} (the version scripts/toolchain/versions.env pins) is not built${seen.length ? ` (${seen.join("; ")})` : ""}. ` +
            "The alert and recording rule tests need it. Fix: run `bash scripts/toolchain/build-prometheus.sh` (cold up to ≈ 18 min on 2 busy cores, then cached in ~/.cache/gitops-control), " +
            'or the whole toolchain: source "$(bash scripts/toolchain/install.sh --print-env)"',
    );
}

export interface PromtoolResult {
    readonly code: number;
    readonly output: string;
}

/** A Prometheus rule file holding these groups (the PrometheusRule's `spec` is the same document). */
export function ruleFile(groups: readonly RuleGroup[]): string {
    return stringify({ groups }, { lineWidth: 0 });
}

function run(dir: string, args: string[]): PromtoolResult {
    const r = spawnSync(promtool(), args, { cwd: dir, encoding: "utf8", timeout: 300_000 });
    if (r.error) throw r.error;
    return { code: r.status ?? -1, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

function withDir<T>(fn: (dir: string) => T): T {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-promtool-"));
    try {
        return fn(dir);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** `promtool check rules --lint=all --lint-fatal` on the groups. */
export function checkRules(groups: readonly RuleGroup[]): PromtoolResult {
    return withDir((dir) => {
        fs.writeFileSync(path.join(dir, "rules.yml"), ruleFile(groups));
        return run(dir, ["check", "rules", "--lint=all", "--lint-fatal", "rules.yml"]);
    });
}

/** One input series of a promtool test: a PromQL series selector and its values in promtool's expanding notation. */
export interface InputSeries {
    readonly series: string;
    readonly values: string;
}

export interface ExpectedAlert {
    readonly exp_labels: Record<string, string>;
    readonly exp_annotations: Record<string, string>;
}

export interface AlertTest {
    readonly eval_time: string;
    readonly alertname: string;
    readonly exp_alerts: readonly ExpectedAlert[];
}

export interface ExprTest {
    readonly expr: string;
    readonly eval_time: string;
    readonly exp_samples: readonly { labels: string; value: number }[];
}

/** One promtool test group (`tests[]` of a promtool test file). */
export interface RuleTestGroup {
    readonly name: string;
    /** Interval of the input series' samples. */
    readonly interval: string;
    readonly input_series: readonly InputSeries[];
    readonly alert_rule_test?: readonly AlertTest[];
    readonly promql_expr_test?: readonly ExprTest[];
}

/**
 * `promtool test rules` of `tests` against the groups. promtool evaluates every group at
 * `evaluationInterval`, whatever the group's own interval: callers pass the interval the group
 * under test runs at in Prometheus (the records group's `recordIntervalSeconds`).
 */
export function testRules(groups: readonly RuleGroup[], tests: readonly RuleTestGroup[], evaluationInterval: string): PromtoolResult {
    return withDir((dir) => {
        fs.writeFileSync(path.join(dir, "rules.yml"), ruleFile(groups));
        fs.writeFileSync(path.join(dir, "test.yml"), stringify({ rule_files: ["rules.yml"], evaluation_interval: evaluationInterval, tests }, { lineWidth: 0 }));
        return run(dir, ["test", "rules", "test.yml"]);
    });
}

/** The labels and annotations Prometheus gives a firing alert of `rule` for a series with `labels`. */
export function firing(rule: AlertRule, labels: Record<string, string>): ExpectedAlert {
    const expand = (text: string) => text.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, key: string) => labels[key] ?? "");
    return {
        exp_labels: { ...labels, ...rule.labels },
        exp_annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, v]) => [k, expand(v)])),
    };
}
