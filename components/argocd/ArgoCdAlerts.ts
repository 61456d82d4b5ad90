import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { check, requireDnsLabel } from "../core/errors";
import { labels, managedByValue } from "../core/labels";
import { childOptions } from "../core/options";
import { defaults } from "../core/defaults";

export interface ArgoCdAlertsArgs {
    /** Namespace of the PrometheusRule (Argo CD's). */
    readonly namespace: string;
    /** An Application OutOfSync for longer than this alerts. @default {@link defaults.outOfSyncMinutes} */
    readonly outOfSyncMinutes?: number;
    /** An Application Degraded for longer than this alerts. @default {@link defaults.degradedMinutes} */
    readonly degradedMinutes?: number;
    /** Preview namespaces older than this alert (the janitor should have removed them). @default {@link defaults.previewTtlHours} */
    readonly previewTtlHours?: number;
    /**
     * More deletes than this by the application controller for one Application within 15 minutes
     * alert: a bad path or a renamed chart prunes far more than a normal release. @default {@link defaults.pruneVolumeThreshold}
     */
    readonly pruneVolumeThreshold?: number;
    /**
     * Automated sync of an Application (previews aside) off for longer than this alerts: the longest
     * a break-glass pause may last (the stack's `breakGlassPolicy.maxHours`), so a pause still on
     * then is past its expiry (the expiry job did not end it) or never had one. @default {@link defaults.breakGlassMaxHours}
     */
    readonly pauseMaxHours?: number;
    /**
     * A prod Application's sync running for longer than this alerts: with the prune gate, a sync
     * whose prunes are over the budget waits for the approver group. @default {@link defaults.pruneHeldMinutes}
     */
    readonly pruneHeldMinutes?: number;
    /** The preview ApplicationSet failing to generate for longer than this alerts. @default {@link defaults.previewGenerationFailingMinutes} */
    readonly previewGenerationFailingMinutes?: number;
    /**
     * How often the drift records are evaluated, in seconds, which is also their resolution: a drift
     * repaired faster than this may not be seen at all, and each one seen is measured to within it.
     * Set it to the scrape interval of the application controller's metrics (the chart's
     * ServiceMonitor scrapes every 30 s); a shorter one adds nothing the scrapes did not see.
     * @default {@link defaults.recordIntervalSeconds}
     */
    readonly recordIntervalSeconds?: number;
    /** Labels the Prometheus Operator selects rules by, e.g. { release: "kube-prometheus-stack" }. @default {} */
    readonly ruleLabels?: Readonly<Record<string, string>>;
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

export interface AlertRule {
    alert: string;
    expr: string;
    for: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
}

/** A Prometheus recording rule. */
export interface RecordingRule {
    record: string;
    expr: string;
}

/** Per Application: 1 while Argo CD reports it OutOfSync, 0 otherwise (argocd_app_info carries the status as a label). */
export const outOfSyncRecord = "gitops_control:argocd_app_out_of_sync";
/** Mean drift time-to-repair over a day, per Application, in seconds. */
export const driftRepairRecord = "gitops_control:argocd_app_drift_repair_seconds:mean1d";

/**
 * Recording rules for drift time-to-repair, the SRE metric of a GitOps loop: how long Applications
 * stay OutOfSync before they are Synced again. The 0/1 record is taken every `recordIntervalSeconds`
 * (the records group's interval); time OutOfSync over the day is its number of 1 samples times that
 * interval, divided by the number of OutOfSync episodes in the day (rising edges: half the changes,
 * rounded up, at least one). Built only on what the v3.6.1 controller exports (`argocd_app_info`).
 * A 1-minute subquery here once measured every self-heal of a few seconds as 0 or 60 s: the
 * resolution must be the record's own (tests/integration/alerts.test.ts compares it with a measured
 * self-heal).
 */
export function renderRecordingRules(args: Pick<ArgoCdAlertsArgs, "recordIntervalSeconds"> = {}): RecordingRule[] {
    const byApp = "namespace, name, project";
    const every = args.recordIntervalSeconds ?? defaults.recordIntervalSeconds;
    return [
        {
            record: outOfSyncRecord,
            expr: `max by (${byApp}) (argocd_app_info{sync_status="OutOfSync"}) or (max by (${byApp}) (argocd_app_info) * 0)`,
        },
        {
            record: driftRepairRecord,
            expr: `${every} * sum_over_time(${outOfSyncRecord}[1d]) / clamp_min(ceil(changes(${outOfSyncRecord}[1d]) / 2), 1) and max_over_time(${outOfSyncRecord}[1d]) > 0`,
        },
    ];
}

/**
 * What a counter of the controller counted in the last `window`, per series: `increase` for a series
 * that already existed before the window, its whole value for one that appeared in it. The
 * controller creates a labelled counter on its first event (its first failed sync, the first Delete
 * of a kind for an Application), so `increase` alone never counts that first burst: a first prune of
 * 12 objects is one sample of 12, an increase of 0. Caveat: after a gap of more than 5 minutes in
 * the scrapes (Prometheus down), every series looks new for one window and counts whole.
 */
function countedIn(selector: string, window: string): string {
    return `((${selector} unless ${selector} offset ${window}) or increase(${selector}[${window}]))`;
}

/** The alert rules, as the PrometheusRule `spec.groups[0].rules`. Pure. */
export function renderAlertRules(args: Omit<ArgoCdAlertsArgs, "provider" | "namespace">): AlertRule[] {
    const outOfSync = args.outOfSyncMinutes ?? defaults.outOfSyncMinutes;
    const degraded = args.degradedMinutes ?? defaults.degradedMinutes;
    const ttl = args.previewTtlHours ?? defaults.previewTtlHours;
    const pause = args.pauseMaxHours ?? defaults.breakGlassMaxHours;
    return [
        {
            alert: "ArgoCdAppOutOfSync",
            expr: 'max by (name, project) (argocd_app_info{sync_status="OutOfSync"}) == 1',
            for: `${outOfSync}m`,
            labels: { severity: "warning" },
            annotations: { summary: "{{ $labels.name }} has been OutOfSync for more than " + outOfSync + " minutes: Git and the cluster disagree (reconcile debt)." },
        },
        {
            alert: "ArgoCdAppDegraded",
            expr: 'max by (name, project) (argocd_app_info{health_status="Degraded"}) == 1',
            for: `${degraded}m`,
            labels: { severity: "critical" },
            annotations: { summary: "{{ $labels.name }} has been Degraded for more than " + degraded + " minutes." },
        },
        {
            alert: "ArgoCdSyncFailures",
            expr: `sum by (name, project) ${countedIn('argocd_app_sync_total{phase=~"Error|Failed"}', "15m")} > 0`,
            for: "0m",
            labels: { severity: "warning" },
            annotations: { summary: "Syncs of {{ $labels.name }} failed in the last 15 minutes." },
        },
        {
            alert: "ArgoCdReconcileErrors",
            expr: 'sum by (namespace) (increase(argocd_app_reconcile_count{dest_server!=""}[10m])) == 0 and on() up{job=~".*argocd-application-controller.*"} == 1',
            for: "30m",
            labels: { severity: "warning" },
            annotations: { summary: "The application controller has not reconciled any Application for 30 minutes." },
        },
        {
            alert: "ArgoCdUnusualPruneVolume",
            expr: `sum by (namespace, name, project) ${countedIn('argocd_app_k8s_request_total{verb="Delete", dry_run="false", response_code=~"2.."}', "15m")} > ${args.pruneVolumeThreshold ?? defaults.pruneVolumeThreshold}`,
            for: "0m",
            labels: { severity: "critical" },
            annotations: {
                summary:
                    "Argo CD deleted more than " +
                    (args.pruneVolumeThreshold ?? defaults.pruneVolumeThreshold) +
                    " objects of {{ $labels.name }} in 15 minutes: check the last commit's path and chart before the next sync.",
            },
        },
        {
            // argocd_app_info's autosync_enabled is the controller's own reading of automated.enabled;
            // previews (<service>-previews projects) are generated paused and held by the gate.
            alert: "ArgoCdAutomatedSyncPaused",
            expr: 'max by (name, project) (argocd_app_info{autosync_enabled="false", project!~".+-previews"}) == 1',
            for: `${pause}h`,
            labels: { severity: "critical" },
            annotations: {
                summary:
                    "Automated sync of {{ $labels.name }} has been off for more than " +
                    pause +
                    "h, the longest a break-glass pause may last: it is past its expiry (the break-glass-expiry job did not end it) or never had one. Git no longer reconciles it: back-port the fix and turn automated sync back on.",
            },
        },
        {
            // The prune gate holds a prod sync whose prunes exceed the budget: the operation stays
            // Running ("waiting for pruning confirmation") until the approver group approves. A normal
            // sync, gate included, ends in seconds.
            alert: "ArgoCdPruneHeld",
            expr: 'max by (name, project) (argocd_app_info{name=~".+-prod", operation="sync", phase="Running"}) == 1',
            for: `${args.pruneHeldMinutes ?? defaults.pruneHeldMinutes}m`,
            labels: { severity: "critical" },
            annotations: {
                summary:
                    "A sync of {{ $labels.name }} has been running for more than " +
                    (args.pruneHeldMinutes ?? defaults.pruneHeldMinutes) +
                    " minutes: most likely the prune gate holds prunes over the budget (annotation gitops-control.io/prune-held and the PruneHeld Event say why). Check the commit; if the removal is intended, a member of the approver group approves (README: auto-prune scares the team).",
            },
        },
        {
            alert: "PreviewNamespaceTooOld",
            expr: `(time() - kube_namespace_created{namespace=~".+-pr-[0-9]+"}) > ${ttl * 3600}`,
            for: "1h",
            labels: { severity: "info" },
            annotations: { summary: "Preview namespace {{ $labels.namespace }} is older than " + ttl + "h: the PR is stale or the janitor is not running." },
        },
    ];
}

/**
 * Alerts on the preview lifecycle, from the ApplicationSet controller's own metrics (v3.6.1 exports
 * `argocd_appset_info` with the `ResourcesUpToDate` condition's reason as `resource_update_status`,
 * and `argocd_appset_owned_applications`; checked against the running controller by
 * the preview end-to-end test on branch issue-9). While generation fails the controller keeps every existing
 * preview (it deletes only after a successful listing), so the risk is silence: closed PRs keep
 * their previews and new ones get none.
 */
export function renderPreviewAlertRules(args: Pick<ArgoCdAlertsArgs, "previewGenerationFailingMinutes">): AlertRule[] {
    const minutes = args.previewGenerationFailingMinutes ?? defaults.previewGenerationFailingMinutes;
    return [
        {
            alert: "PreviewGenerationFailing",
            expr: 'max by (namespace, name) (argocd_appset_info{resource_update_status="ErrorOccurred"}) == 1',
            for: `${minutes}m`,
            labels: { severity: "warning" },
            annotations: {
                summary:
                    "ApplicationSet {{ $labels.name }} has failed to generate previews for " +
                    minutes +
                    " minutes (GitHub unreachable, token rejected, or a template error): existing previews are kept, but opened and closed PRs are not acted on.",
            },
        },
    ];
}

/** A rule group of the PrometheusRule (the same shape as a Prometheus rule file's groups). */
export interface RuleGroup {
    name: string;
    interval?: string;
    rules: (AlertRule | RecordingRule)[];
}

/**
 * Every rule group the PrometheusRule carries, in order. Pure: what `promtool check rules` and
 * `promtool test rules` read in the tests is exactly what the component deploys.
 */
export function renderRuleGroups(args: Omit<ArgoCdAlertsArgs, "provider" | "namespace">): RuleGroup[] {
    return [
        { name: "gitops-control.argocd", rules: renderAlertRules(args) },
        { name: "gitops-control.argocd.records", interval: `${args.recordIntervalSeconds ?? defaults.recordIntervalSeconds}s`, rules: renderRecordingRules(args) },
        { name: "gitops-control.previews", rules: renderPreviewAlertRules(args) },
    ];
}

/**
 * Prometheus alerts on drift and reconciliation health: Applications OutOfSync or Degraded for too
 * long, failed syncs, a silent application controller, and preview namespaces past their TTL.
 * Needs the Prometheus Operator CRDs: enable it only where they exist.
 */
export class ArgoCdAlerts extends pulumi.ComponentResource {
    readonly ruleName: pulumi.Output<string>;

    constructor(name: string, args: ArgoCdAlertsArgs, opts?: pulumi.ComponentResourceOptions) {
        requireDnsLabel(args.namespace, "args.namespace");
        for (const key of [
            "outOfSyncMinutes",
            "degradedMinutes",
            "previewTtlHours",
            "pauseMaxHours",
            "pruneVolumeThreshold",
            "pruneHeldMinutes",
            "previewGenerationFailingMinutes",
            "recordIntervalSeconds",
        ] as const) {
            const v = args[key];
            if (v !== undefined) check(Number.isInteger(v) && v >= 1, `args.${key}`, `is ${v}`, "use a whole number ≥ 1");
        }
        super("gitops-control:observability:ArgoCdAlerts", name, {}, opts);
        const rule = new k8s.apiextensions.CustomResource(
            `${name}-rules`,
            {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "PrometheusRule",
                metadata: { name: "gitops-control-argocd", namespace: args.namespace, labels: { [labels.managedBy]: managedByValue, ...args.ruleLabels } },
                spec: { groups: renderRuleGroups(args) },
            },
            childOptions(this, args.provider),
        );
        this.ruleName = rule.metadata.name;
        this.registerOutputs({ ruleName: this.ruleName });
    }
}
