import assert from "node:assert/strict";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { RecordedResource, readStackFile, registeredTransforms, renderProgram, repoRoot, valueOf } from "../../scripts/lib/mockRuntime";
import { unselectiveRules } from "../support/guardrailFixtures";

let resources: RecordedResource[];
let exports: Record<string, unknown>;
const ofType = (type: string) => resources.filter((r) => r.type === type);
const application = (name: string) => ofType("kubernetes:argoproj.io/v1alpha1:Application").find((r) => r.inputs.metadata.name === name);

describe("prod stack (Pulumi.prod.yaml)", () => {
    before(async () => {
        ({ resources, exports } = await renderProgram("prod", readStackFile(path.join(repoRoot, "Pulumi.prod.yaml"))));
    });

    it("prod Applications prune, self-heal and refuse an empty desired state", () => {
        for (const name of ["payments-api-prod", "checkout-prod"]) {
            const app = application(name);
            assert.ok(app, `Application ${name} rendered`);
            assert.deepEqual(app.inputs.spec.syncPolicy.automated, { enabled: true, prune: true, selfHeal: true, allowEmpty: false });
        }
    });

    it("prod Applications carry every sync option of the prod preset, retry and history", () => {
        const spec = application("payments-api-prod")!.inputs.spec;
        assert.deepEqual(spec.syncPolicy.syncOptions, [
            "CreateNamespace=true",
            "PruneLast=true",
            "RespectIgnoreDifferences=true",
            "ApplyOutOfSyncOnly=true",
            "PrunePropagationPolicy=foreground",
            "FailOnSharedResource=true",
            "ServerSideApply=true",
            // The prod stack runs the prune gate: prunes wait for its approval (within budget) or the approver group's.
            "Prune=confirm",
        ]);
        assert.deepEqual(spec.syncPolicy.retry, { limit: 5, backoff: { duration: "10s", factor: 2, maxDuration: "5m" }, refresh: false });
        assert.equal(spec.revisionHistoryLimit, 20);
        assert.equal(spec.source.targetRevision, "v2.14.3");
        assert.deepEqual(spec.source.helm.valueFiles, ["values-prod.yaml"]);
        assert.deepEqual(spec.ignoreDifferences, [{ group: "apps", kind: "Deployment", jsonPointers: ["/spec/replicas"] }]);
        // The program makes the namespace (below), so no managedNamespaceMetadata: with it, v3.6.1 applies
        // the namespace in a pass of its own before every sync, self-heals included.
        assert.equal(spec.syncPolicy.managedNamespaceMetadata, undefined);
    });

    it("the program makes each prod namespace, labelled for the guardrails and Pod Security, before its Application", () => {
        const ns = ofType("kubernetes:core/v1:Namespace").find((r) => r.inputs.metadata.name === "payments-api-prod");
        assert.ok(ns, "Namespace payments-api-prod rendered");
        assert.equal(ns.name, "payments-api-prod-namespace");
        assert.deepEqual(ns.inputs.metadata.labels, {
            "gitops-control.io/environment": "prod",
            "gitops-control.io/team": "payments",
            "gitops-control.io/service": "payments-api",
            // Pod Security Admission underneath the guardrails: restricted in every mode, enforcement pinned.
            "pod-security.kubernetes.io/enforce": "restricted",
            "pod-security.kubernetes.io/enforce-version": "v1.36",
            "pod-security.kubernetes.io/audit": "restricted",
            "pod-security.kubernetes.io/warn": "restricted",
        });
        // Every prod Application's destination is a namespace the program makes.
        for (const app of ofType("kubernetes:argoproj.io/v1alpha1:Application")) {
            const dest = app.inputs.spec.destination.namespace as string;
            assert.ok(
                ofType("kubernetes:core/v1:Namespace").some((r) => r.inputs.metadata.name === dest),
                `${app.inputs.metadata.name}: namespace ${dest} made by the program`,
            );
        }
    });

    it("guardrails: the whole rule library, denying and auditing in prod, bound by label", () => {
        const all = ofType("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding");
        // The ownership fence is no environment guardrail: one binding, always Deny, every Argo CD object.
        const fence = all.find((b) => b.inputs.metadata.name === "gitops-control-protect-ownership");
        assert.deepEqual(fence?.inputs.spec, { policyName: "gitops-control-protect-ownership", validationActions: ["Deny"] });
        // So is the prune gate's own fence: its service account may set two annotations of prod Applications, nothing else.
        const gateFence = all.find((b) => b.inputs.metadata.name === "gitops-control-prune-gate-scope");
        assert.deepEqual(gateFence?.inputs.spec, { policyName: "gitops-control-prune-gate-scope", validationActions: ["Deny"] });
        const bindings = all.filter((b) => b !== fence && b !== gateFence);
        assert.deepEqual(bindings.map((b) => b.inputs.metadata.name).sort(), [
            "gitops-control-approve-prunes-prod",
            "gitops-control-cap-replicas-prod",
            "gitops-control-disallow-host-access-prod",
            "gitops-control-disallow-latest-image-prod",
            "gitops-control-govern-app-projects-prod",
            "gitops-control-govern-argocd-namespace-prod",
            "gitops-control-keep-governed-namespaces-prod",
            "gitops-control-protect-application-inputs-prod",
            "gitops-control-protect-break-glass-label-prod",
            "gitops-control-protect-namespace-labels-prod",
            "gitops-control-protect-sync-policy-prod",
            "gitops-control-require-application-environment-prod",
            "gitops-control-require-labels-prod",
            "gitops-control-require-namespace-pod-security-prod",
            "gitops-control-require-pod-security-context-prod",
            "gitops-control-require-resources-prod",
            "gitops-control-require-service-project-prod",
            "gitops-control-restrict-application-sets-prod",
            "gitops-control-restrict-container-privileges-prod",
            "gitops-control-restrict-security-profiles-prod",
            "gitops-control-restrict-workload-writers-prod",
        ]);
        for (const b of bindings) {
            assert.deepEqual(b.inputs.spec.validationActions, ["Deny", "Audit"]);
            // Workload rules select namespaces by label; the sync-policy guard selects the prod
            // Applications themselves (they all live in the argocd namespace), and the label guard the
            // prod Namespace objects themselves (a namespaceSelector would let the relabel through).
            // ApplicationSets are bound whatever their labels; the destination rule takes the prod
            // namespaces as its parameters instead of selecting objects.
            const name = b.inputs.metadata.name as string;
            // Argo CD's projects, every Application's and ApplicationSet's project, and the namespaces Argo CD applies: whatever their labels.
            if (unselectiveRules.some((r) => name === `gitops-control-${r}-prod`)) {
                assert.deepEqual(b.inputs.spec.matchResources, {});
                continue;
            }
            if (name === "gitops-control-require-application-environment-prod") {
                assert.deepEqual(b.inputs.spec.matchResources, {});
                assert.deepEqual(b.inputs.spec.paramRef, { selector: { matchLabels: { "gitops-control.io/environment": "prod" } }, parameterNotFoundAction: "Allow" });
                continue;
            }
            const objectScoped = [
                "gitops-control-protect-sync-policy-prod",
                "gitops-control-protect-namespace-labels-prod",
                "gitops-control-protect-application-inputs-prod",
                "gitops-control-keep-governed-namespaces-prod",
                "gitops-control-approve-prunes-prod",
            ].includes(name);
            const selector = objectScoped ? b.inputs.spec.matchResources.objectSelector : b.inputs.spec.matchResources.namespaceSelector;
            assert.deepEqual(selector.matchLabels, { "gitops-control.io/environment": "prod" }, name);
        }
        for (const p of ofType("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy")) {
            assert.equal(p.inputs.spec.failurePolicy, "Fail");
        }
    });

    it("Argo CD is HA in prod", () => {
        const [chart] = ofType("kubernetes:helm.sh/v4:Chart");
        assert.equal(chart.inputs.values["redis-ha"].enabled, true);
        assert.equal(chart.inputs.values.server.replicas, 2);
        assert.equal(chart.inputs.values.repoServer.replicas, 2);
        assert.equal(chart.inputs.values.applicationSet.replicas, 2);
        assert.equal(chart.inputs.version, "10.1.1");
        assert.equal(chart.inputs.repositoryOpts.repo, "https://argoproj.github.io/argo-helm");
    });

    it("protects the Argo CD namespace; the CRDs are the prod-crds stack's, checked by version, not carried here", () => {
        const ns = ofType("kubernetes:core/v1:Namespace").find((n) => n.inputs.metadata.name === "argocd");
        assert.ok(ns, "argocd namespace managed");
        const [chart] = ofType("kubernetes:helm.sh/v4:Chart");
        // Neither the chart's CRDs nor the program's: Pulumi.prod-crds.yaml installs them (tests/unit/crdStack.test.ts).
        assert.deepEqual(chart.inputs.values.crds, { install: false, keep: true });
        assert.equal(ofType("kubernetes:yaml/v2:ConfigGroup").length, 0);
        assert.deepEqual(registeredTransforms, []);
        assert.deepEqual(
            ofType("pulumi:pulumi:StackReference").map((r) => r.inputs.name),
            ["organization/gitops-control/prod-crds"],
        );
    });

    it("runs no preview janitor and manages nothing on GitHub (no previews in prod), so no github plugin is needed", () => {
        assert.equal(ofType("kubernetes:batch/v1:CronJob").length, 0);
        assert.deepEqual(
            resources.filter((r) => r.type.startsWith("github:") || r.type === "pulumi:providers:github"),
            [],
        );
    });

    it("alerts on OutOfSync/Degraded apps, failed syncs, a silent controller, a pause past the longest break-glass, held prunes and stale previews", () => {
        const [rule] = ofType("kubernetes:monitoring.coreos.com/v1:PrometheusRule");
        assert.equal(rule.inputs.metadata.labels.release, "kube-prometheus-stack");
        const rules = rule.inputs.spec.groups[0].rules as { alert: string; for: string; expr: string }[];
        assert.deepEqual(
            rules.map((r) => `${r.alert}/${r.for}`),
            [
                "ArgoCdAppOutOfSync/15m",
                "ArgoCdAppDegraded/10m",
                "ArgoCdSyncFailures/0m",
                "ArgoCdReconcileErrors/30m",
                "ArgoCdUnusualPruneVolume/0m",
                "ArgoCdAutomatedSyncPaused/24h",
                "ArgoCdPruneHeld/10m",
                "PreviewNamespaceTooOld/1h",
            ],
        );
        assert.match(rules[5].expr, /autosync_enabled="false"/);
        assert.match(rules[6].expr, /phase="Running"/);
        assert.match(rules[7].expr, /> 259200$/);
        assert.match(rules[4].expr, /argocd_app_k8s_request_total\{verb="Delete", dry_run="false"[^}]*\}\[15m\]\)\) > 10$/);
        const records = rule.inputs.spec.groups[1].rules as { record: string; expr: string }[];
        assert.deepEqual(
            records.map((r) => r.record),
            ["gitops_control:argocd_app_out_of_sync", "gitops_control:argocd_app_drift_repair_seconds:mean1d"],
        );
        assert.equal(rule.inputs.spec.groups[1].interval, "30s");
        assert.match(records[1].expr, /^30 \* sum_over_time\(gitops_control:argocd_app_out_of_sync\[1d\]\)/);
    });

    it("notifies the platform channel on sync failures and degraded health; metrics scraped", () => {
        const [chart] = ofType("kubernetes:helm.sh/v4:Chart");
        const n = chart.inputs.values.notifications;
        assert.deepEqual(n.subscriptions, [{ recipients: ["slack:platform-alerts"], triggers: ["on-sync-failed", "on-health-degraded"] }]);
        assert.match(n.triggers["trigger.on-sync-failed"], /operationState.phase in \['Error', 'Failed'\]/);
        assert.match(n.triggers["trigger.on-health-degraded"], /health.status == 'Degraded'/);
        assert.deepEqual(chart.inputs.values.controller.metrics, { enabled: true, serviceMonitor: { enabled: true } });
    });

    it("every Kubernetes resource uses the stack's explicit provider", () => {
        const k8sResources = resources.filter((r) => r.type.startsWith("kubernetes:") && !r.type.startsWith("pulumi:providers"));
        assert.ok(k8sResources.length > 5);
        for (const r of k8sResources) {
            const expected = r.type.startsWith("kubernetes:admissionregistration")
                ? /pulumi:providers:kubernetes::kubernetes-guardrails::/
                : /pulumi:providers:kubernetes::kubernetes::/;
            assert.match(r.provider ?? "", expected, `${r.type} ${r.name} has the explicit provider`);
        }
        const guardrailsProvider = resources.find((r) => r.type === "pulumi:providers:kubernetes" && r.name === "kubernetes-guardrails");
        assert.equal(guardrailsProvider?.inputs.enableServerSideApply, "false", "guardrails use client-side apply so binding drift can be healed");
    });

    it("the admin password is exported only as a secret", async () => {
        const password = exports.argocdAdminPassword as pulumi.Output<string>;
        assert.equal(await pulumi.isSecret(password), true);
        assert.match(await valueOf(password), /^mock-password-/);
    });
});
