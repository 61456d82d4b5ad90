import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { check, requireDnsLabel } from "./errors";
import { labels, managedByValue } from "./labels";
import { childOptions } from "./options";
import { defaults } from "./defaults";

export interface ArgoCdAlertsArgs {
    /** Namespace of the PrometheusRule (Argo CD's). */
    readonly namespace: string;
    /** An Application OutOfSync for longer than this alerts. @default 15 */
    readonly outOfSyncMinutes?: number;
    /** An Application Degraded for longer than this alerts. @default 10 */
    readonly degradedMinutes?: number;
    /** Preview namespaces older than this alert (the janitor should have removed them). @default 72 */
    readonly previewTtlHours?: number;
    /** Labels the Prometheus Operator selects rules by, e.g. { release: "kube-prometheus-stack" }. @default {} */
    readonly ruleLabels?: Readonly<Record<string, string>>;
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

interface AlertRule {
    alert: string;
    expr: string;
    for: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
}

/** The alert rules, as the PrometheusRule `spec.groups[0].rules`. Pure. */
export function renderAlertRules(args: Omit<ArgoCdAlertsArgs, "provider" | "namespace">): AlertRule[] {
    const outOfSync = args.outOfSyncMinutes ?? 15;
    const degraded = args.degradedMinutes ?? 10;
    const ttl = args.previewTtlHours ?? defaults.previewTtlHours;
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
            expr: 'sum by (name, project) (increase(argocd_app_sync_total{phase=~"Error|Failed"}[15m])) > 0',
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
            alert: "PreviewNamespaceTooOld",
            expr: `(time() - kube_namespace_created{namespace=~".+-pr-[0-9]+"}) > ${ttl * 3600}`,
            for: "1h",
            labels: { severity: "info" },
            annotations: { summary: "Preview namespace {{ $labels.namespace }} is older than " + ttl + "h: the PR is stale or the janitor is not running." },
        },
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
        for (const key of ["outOfSyncMinutes", "degradedMinutes", "previewTtlHours"] as const) {
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
                spec: { groups: [{ name: "gitops-control.argocd", rules: renderAlertRules(args) }] },
            },
            childOptions(this, args.provider),
        );
        this.ruleName = rule.metadata.name;
        this.registerOutputs({ ruleName: this.ruleName });
    }
}
