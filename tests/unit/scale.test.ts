import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { renderArgoCdValues } from "../../components/argocd/ArgoCd";
import { manifestGeneratePaths, manifestGeneratePathsAnnotation } from "../../components/applications/GitOpsApplication";
import { scaleBounds, scaleSettings } from "../../components/argocd/scale";
import { buildControlPlaneArgs, parseStackConfig } from "../../stacks/config";
import { RecordedResource, installMocks, settle, valueOf } from "../../scripts/lib/mockRuntime";
import { admissionUse, controllerEnvironment, webhookTargets } from "../../bench/scale";

const service = { name: "shop", team: "storefront", repoURL: "https://github.com/acme/shop.git", path: "deploy/chart", targetRevision: "v1.0.0" };
const build = (raw: Record<string, unknown>) => buildControlPlaneArgs(parseStackConfig(raw), {});
/** The config error message of a stack that fails validation. */
const problemsOf = (raw: Record<string, unknown>): string => {
    try {
        build(raw);
    } catch (e) {
        return (e as Error).message;
    }
    assert.fail("the stack was accepted");
};

describe("argocd.scale: Argo CD sized for the expected Application count", () => {
    it("small installs keep Argo CD's own settings; 1,000 get its guidance (50/25) and a longer, spread refresh", () => {
        assert.deepEqual(scaleSettings(3), {
            applications: 3,
            statusProcessors: 20,
            operationProcessors: 10,
            reconciliationSeconds: 180,
            jitterSeconds: 60,
            repoServerTimeoutSeconds: 60,
        });
        assert.deepEqual(scaleSettings(1000), {
            applications: 1000,
            statusProcessors: 50,
            operationProcessors: 25,
            reconciliationSeconds: 360,
            jitterSeconds: 120,
            repoServerTimeoutSeconds: 180,
        });
        // Bounded: no more processors than the guidance, no refresh period over an hour.
        const largest = scaleSettings(scaleBounds.maxApplications);
        assert.equal(largest.statusProcessors, 50);
        assert.equal(largest.reconciliationSeconds, 3600);
    });

    it("is monotonic: more Applications never get fewer processors or a shorter period", () => {
        let previous = scaleSettings(1);
        for (let n = 2; n <= scaleBounds.maxApplications; n += 37) {
            const s = scaleSettings(n);
            for (const key of ["statusProcessors", "operationProcessors", "reconciliationSeconds", "jitterSeconds", "repoServerTimeoutSeconds"] as const) {
                assert.ok(s[key] >= previous[key], `${key} at ${n}: ${s[key]} < ${previous[key]}`);
            }
            previous = s;
        }
    });

    it("renders argocd-cmd-params-cm and argocd-cm; explicit settings.reconciliationTimeout/Jitter win", () => {
        const values = renderArgoCdValues({ scale: { applications: 1000 } }) as { configs: { cm: Record<string, unknown>; params: Record<string, string> } };
        assert.deepEqual(values.configs.params, {
            "controller.status.processors": "50",
            "controller.operation.processors": "25",
            "controller.repo.server.timeout.seconds": "180",
        });
        assert.equal(values.configs.cm["timeout.reconciliation"], "360s");
        assert.equal(values.configs.cm["timeout.reconciliation.jitter"], "120s");
        const explicit = renderArgoCdValues({ scale: { applications: 1000 }, settings: { reconciliationTimeout: "90s", reconciliationJitter: "10s" } }) as typeof values;
        assert.equal(explicit.configs.cm["timeout.reconciliation"], "90s");
        assert.equal(explicit.configs.cm["timeout.reconciliation.jitter"], "10s");
        // Without the setting (a program using the component directly): Argo CD's own, no params.
        assert.equal((renderArgoCdValues({}) as typeof values).configs.params, undefined);
    });

    it("several controller shards spread the clusters by consistent hashing; one shard sets no algorithm", () => {
        type Values = { controller: { replicas: number }; configs: { params?: Record<string, string> } };
        const sharded = renderArgoCdValues({ replicas: { controller: 3 } }) as Values;
        assert.equal(sharded.controller.replicas, 3);
        assert.deepEqual(sharded.configs.params, { "controller.sharding.algorithm": "consistent-hashing" });
        const both = renderArgoCdValues({ replicas: { controller: 2 }, scale: { applications: 1000 } }) as Values;
        assert.equal(both.configs.params?.["controller.sharding.algorithm"], "consistent-hashing");
        assert.equal(both.configs.params?.["controller.status.processors"], "50");
        assert.equal((renderArgoCdValues({ replicas: { controller: 1 } }) as Values).configs.params, undefined);
    });

    it("the bench hands the rendered settings to the out-of-cluster controller as the chart's StatefulSet maps them", () => {
        const { env, resyncSeconds } = controllerEnvironment(renderArgoCdValues({ scale: { applications: 1000 } }) as Record<string, unknown>);
        assert.equal(resyncSeconds, 360);
        assert.deepEqual(env, {
            ARGOCD_APPLICATION_CONTROLLER_STATUS_PROCESSORS: "50",
            ARGOCD_APPLICATION_CONTROLLER_OPERATION_PROCESSORS: "25",
            ARGOCD_APPLICATION_CONTROLLER_REPO_SERVER_TIMEOUT_SECONDS: "180",
            ARGOCD_RECONCILIATION_JITTER: "120s",
            // The chart gives the repo-server argocd-cm's period too (its revision cache expiry).
            ARGOCD_RECONCILIATION_TIMEOUT: "360s",
        });
        // The chart's own defaults: the period only (Argo CD's 180 s), nothing else.
        assert.deepEqual(controllerEnvironment({}), { env: { ARGOCD_RECONCILIATION_TIMEOUT: "180s" }, resyncSeconds: 180 });
    });

    it("a stack defaults to its own Application count; an explicit count wins", () => {
        const two = build({ environment: "local", services: [{ ...service, environments: ["prod", "staging"] }] });
        assert.deepEqual(two.argoCd.scale, { applications: 2 });
        const many = build({ environment: "prod", services: [service], argocd: { scale: { applications: 1200 } } });
        assert.deepEqual(many.argoCd.scale, { applications: 1200 });
    });

    it("bad counts are refused naming the stack key and the fix", () => {
        assert.match(
            problemsOf({ environment: "prod", services: [service], argocd: { scale: { applications: 0 } } }),
            /`gitops-control:argocd\.scale\.applications` .*is 0, outside 1–20000.*Fix: give the number of Applications/,
        );
        assert.match(
            problemsOf({ environment: "prod", services: [service], argocd: { scale: { applications: 50_000 } } }),
            /`gitops-control:argocd\.scale\.applications` .*is 50000, outside 1–20000.*Fix: .*split them over several Argo CD installs/,
        );
        assert.throws(() => parseStackConfig({ environment: "prod", argocd: { scale: { applications: "many" } } }), /`gitops-control:argocd\.scale\.applications`/);
        assert.throws(() => parseStackConfig({ environment: "prod", argocd: { scale: { apps: 10 } } }), /`gitops-control:argocd\.scale` has unknown key\(s\) "apps"/);
        assert.throws(() => parseStackConfig({ environment: "prod", argocd: { scale: { applications: 10.5 } } }), /`gitops-control:argocd\.scale\.applications`/);
    });
});

describe("manifest-generate-paths: a commit reaches only the Applications whose directories it touches", () => {
    it("the source's own directory, plus value files outside it; explicit paths replace both", () => {
        assert.equal(manifestGeneratePaths({ path: "deploy/chart" }), ".");
        assert.equal(
            manifestGeneratePaths({ path: "deploy/chart", helm: { valueFiles: ["values-prod.yaml", "../shared/values.yaml", "/env/prod/values.yaml"] } }),
            ".;../shared;/env/prod",
        );
        assert.equal(manifestGeneratePaths({ path: "overlays/prod" }, [".", "../../base"]), ".;../../base");
    });

    it("what a push webhook refreshes: every Application without the annotation, only the touched ones with it", () => {
        const apps = [
            { name: "a", path: "services/a", generatePaths: "." },
            { name: "b", path: "services/b", generatePaths: ".;../shared" },
            { name: "c", path: "services/c" },
        ];
        assert.deepEqual(webhookTargets(apps, ["services/a/templates/cm.yaml"]), ["a", "c"]);
        assert.deepEqual(webhookTargets(apps, ["services/shared/values.yaml"]), ["b", "c"]);
        assert.deepEqual(webhookTargets(apps, ["README.md"]), ["c"]);
    });

    it("the scale bench reads the API server's admission work from its metrics (lines of a 1000-Application cold start)", () => {
        const lines = [
            'apiserver_admission_match_condition_evaluation_seconds_sum{kind="policy",name="gitops-control-protect-ownership",operation="UPDATE",type="validate"} 10.621846886000014',
            'apiserver_admission_match_condition_evaluation_seconds_count{kind="policy",name="gitops-control-protect-ownership",operation="UPDATE",type="validate"} 9041',
            'apiserver_admission_match_condition_evaluation_seconds_sum{kind="policy",name="gitops-control-require-application-environment",operation="UPDATE",type="validate"} 5321.103601979462',
            'apiserver_admission_match_condition_evaluation_seconds_count{kind="policy",name="gitops-control-require-application-environment",operation="UPDATE",type="validate"} 8.041e+06',
            'apiserver_admission_match_condition_evaluation_seconds_sum{kind="policy",name="gitops-control-require-application-environment",operation="CREATE",type="validate"} 0.5',
            'apiserver_admission_match_condition_evaluation_seconds_count{kind="policy",name="gitops-control-require-application-environment",operation="CREATE",type="validate"} 1000',
            'apiserver_admission_match_condition_evaluation_seconds_bucket{kind="policy",name="gitops-control-protect-ownership",operation="UPDATE",type="validate",le="0.005"} 9000',
            'apiserver_admission_step_admission_duration_seconds_sum{operation="UPDATE",rejected="false",type="admit"} 7.502877950999969',
            'apiserver_admission_step_admission_duration_seconds_sum{operation="UPDATE",rejected="false",type="validate"} 9599.613838516054',
            'apiserver_admission_step_admission_duration_seconds_count{operation="UPDATE",rejected="false",type="validate"} 15773',
            'apiserver_admission_step_admission_duration_seconds_summary_sum{operation="UPDATE",rejected="false",type="validate"} 9599.613838516054',
            'apiserver_admission_step_admission_duration_seconds_sum{operation="CREATE",rejected="false",type="validate"} 362.6',
        ];
        assert.deepEqual(admissionUse(lines), {
            validateUpdateSeconds: 9599.6,
            validateUpdates: 15773,
            matchConditions: [
                { policy: "require-application-environment", evaluations: 8_042_000, seconds: 5321.6 },
                { policy: "protect-ownership", evaluations: 9041, seconds: 10.6 },
            ],
        });
    });

    let recorded: RecordedResource[] = [];
    before(() => {
        recorded = installMocks("unit");
    });
    it("every Application of a service carries it; `manifestPaths` names directories outside `path`; bad entries are refused", async () => {
        const { GitOpsService } = await import("../../components/index.js");
        const svc = new GitOpsService("ledger", {
            team: "finance",
            source: { repoURL: "https://github.com/acme/ledger.git", path: "deploy/overlays" },
            environments: [
                { name: "prod", targetRevision: "v1.0.0" },
                { name: "staging", targetRevision: "main", valueFiles: ["../common/values-staging.yaml"] },
            ],
        });
        const base = new GitOpsService("wallet", {
            team: "finance",
            source: { repoURL: "https://github.com/acme/wallet.git", path: "deploy/prod" },
            manifestPaths: [".", "../base"],
            environments: [{ name: "prod", targetRevision: "v1.0.0" }],
        });
        await valueOf(svc.projectName);
        await valueOf(base.projectName);
        await settle(recorded);
        const annotation = (name: string) =>
            recorded.find((r) => r.type === "kubernetes:argoproj.io/v1alpha1:Application" && r.inputs.metadata?.name === name)?.inputs.metadata.annotations[
                manifestGeneratePathsAnnotation
            ];
        assert.equal(annotation("ledger-prod"), ".");
        assert.equal(annotation("ledger-staging"), ".;../common");
        assert.equal(annotation("wallet-prod"), ".;../base");
        assert.throws(
            () =>
                new GitOpsService("broken", {
                    team: "finance",
                    source: { repoURL: "https://github.com/acme/broken.git", path: "deploy" },
                    manifestPaths: ["a;b"],
                    environments: ["prod"],
                }),
            /manifestPaths\[0\]` is "a;b".*Fix: give one directory per entry/,
        );
    });
});
