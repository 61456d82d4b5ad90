import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import * as k8s from "@pulumi/kubernetes";
import { LocalWorkspace } from "@pulumi/pulumi/automation";
import { detectDrift } from "../../scripts/commands/drift";
import { GitOpsService } from "../../components/GitOpsService";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Reconcilers, startReconcilers } from "../../scripts/cluster/reconcilers";
import { janitorScript } from "../../components/previews/PreviewJanitor";
import { podSecurityLabelsFor } from "../../components/core/podSecurity";
import { formatPruneReport, leavesAsIs, pruneVerdict } from "../../scripts/lib/drift";
import { openStack, repoRoot, stepRecorder } from "../../scripts/lib/engine";
import { readStackFile } from "../../scripts/lib/mockRuntime";
import {
    LocalCluster,
    LocalStack,
    eventually,
    kubectl,
    kubectlOk,
    localPassphrase,
    localToken,
    openLocalStack,
    pathsContaining,
    readStateFile,
    startCluster,
    step,
} from "./support";

/**
 * The whole lifecycle of the `local` stack with the real engine against a real API server:
 * preview, up, what the API server stored and enforces, idempotence, drift and its healing,
 * secrets in state, destroy.
 */

let cluster: LocalCluster;
let local: LocalStack;
let reconcilers: Reconcilers | undefined;
const onOutput = (out: string) => local.log.push(out);

/** Argo CD's application controller: the one identity the guardrails let write prod workloads. */
const argoController = "system:serviceaccount:argocd:argocd-application-controller";

/** A Deployment that passes every guardrail unless an option breaks it. */
function deployment(name: string, namespace: string, opts: { replicas?: number; nonRoot?: boolean; annotations?: Record<string, string> } = {}): string {
    const labels = { app: name, "app.kubernetes.io/name": name, "gitops-control.io/team": "payments" };
    return JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace, labels, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
        spec: {
            replicas: opts.replicas ?? 1,
            selector: { matchLabels: { app: name } },
            template: {
                metadata: { labels },
                spec: {
                    securityContext: { ...(opts.nonRoot === false ? {} : { runAsNonRoot: true, runAsUser: 10001 }), seccompProfile: { type: "RuntimeDefault" } },
                    containers: [
                        {
                            name: "app",
                            image: "registry.example/app:1.0.0",
                            resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
                            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                        },
                    ],
                },
            },
        },
    });
}

/** kubectl apply as Argo CD's application controller. */
const applyAsArgo = (manifest: string) => kubectl(cluster, ["apply", "--as", argoController, "-f", "-"], manifest);

describe("local stack lifecycle (real engine, real API server)", { timeout: 40 * 60 * 1000 }, () => {
    before(async () => {
        cluster = startCluster();
        local = await openLocalStack(cluster);
    });

    after(async () => {
        if (process.exitCode && local) {
            console.log(local.log.join("").split("\n").slice(-80).join("\n"));
        }
        reconcilers?.stop();
        if (reconcilers) fs.rmSync(reconcilers.dir, { recursive: true, force: true });
        local?.remove();
        cluster?.stop();
    });

    it("pulumi preview lists the expected resources", async () => {
        step("pulumi preview");
        const result = await local.stack.preview({ onOutput });
        const creates = result.changeSummary.create ?? 0;
        step(`preview: ${JSON.stringify(result.changeSummary)}`);
        // 2 services: 2 projects, 3 Applications, 1 ApplicationSet + token Secret; Argo CD; 2 rules x 2 environments.
        assert.ok(creates >= 25, `preview creates ${creates} resources`);
        const out = local.log.join("");
        for (const name of [
            "payments-api-prod-app",
            "payments-api-staging-app",
            "checkout-prod-app",
            "payments-api-prod-namespace",
            "payments-api-previews-appset",
            "gitops-argocd-chart",
        ]) {
            assert.match(out, new RegExp(name), `${name} in the preview`);
        }
    });

    it("pulumi up succeeds, adopting a namespace Argo CD made before the program made them", async () => {
        // A stack from before the program made its namespaces: Argo CD applied this one (server-side,
        // its field manager, managedNamespaceMetadata's labels). The program's Namespace takes it over
        // as it is (server-side apply: the same object, the same labels, no conflict).
        kubectlOk(
            cluster,
            ["apply", "--server-side", "--field-manager", "argocd-controller", "-f", "-"],
            JSON.stringify({
                apiVersion: "v1",
                kind: "Namespace",
                metadata: {
                    name: "payments-api-prod",
                    labels: {
                        "gitops-control.io/environment": "prod",
                        "gitops-control.io/team": "payments",
                        "gitops-control.io/service": "payments-api",
                        ...podSecurityLabelsFor("prod"),
                    },
                },
            }),
        );
        const uid = kubectlOk(cluster, ["get", "namespace", "payments-api-prod", "-o", "jsonpath={.metadata.uid}"]);
        step("pulumi up");
        const result = await local.stack.up({ onOutput });
        step(`up: ${JSON.stringify(result.summary.resourceChanges)}`);
        assert.equal(result.summary.result, "succeeded");
        assert.equal(kubectlOk(cluster, ["get", "namespace", "payments-api-prod", "-o", "jsonpath={.metadata.uid}"]), uid, "the namespace Argo CD made is the one kept");
        const state = (await local.stack.exportStack()).deployment.resources ?? [];
        for (const ns of ["payments-api-prod", "payments-api-staging", "checkout-prod"]) {
            assert.ok(
                state.some((r: { type: string; outputs?: { metadata?: { name?: string } } }) => r.type === "kubernetes:core/v1:Namespace" && r.outputs?.metadata?.name === ns),
                `namespace ${ns} in the program's state`,
            );
            const envLabel = kubectlOk(cluster, ["get", "namespace", ns, "-o", "jsonpath={.metadata.labels.gitops-control\\.io/environment}"]);
            assert.equal(envLabel, ns.endsWith("-prod") ? "prod" : "staging", `${ns} labelled before any Application deploys into it`);
        }
        // Argo CD's reconcilers, out of cluster as the chart's ServiceAccounts: the local stack's
        // Applications carry the cascade finalizer, which only a running controller removes.
        reconcilers = await startReconcilers({ dir: fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-reconcilers-")), adminKubeconfig: cluster.kubeconfig });
        await eventually("the application controller to reconcile payments-api-prod", 120, () => {
            const r = kubectl(cluster, ["get", "application", "payments-api-prod", "-n", "argocd", "-o", "jsonpath={.status.reconciledAt}"]);
            return r.code === 0 && r.stdout !== "";
        });
    });

    it("the API server stored the v3.6.1 Argo CD CRDs and accepted the Argo CD objects", () => {
        const crds = kubectlOk(cluster, ["get", "crd", "-o", "name"]);
        for (const crd of ["applications.argoproj.io", "applicationsets.argoproj.io", "appprojects.argoproj.io"]) {
            assert.match(crds, new RegExp(crd));
        }
        const app = JSON.parse(kubectlOk(cluster, ["get", "application", "payments-api-prod", "-n", "argocd", "-o", "json"]));
        assert.deepEqual(app.spec.syncPolicy.automated, { enabled: true, prune: true, selfHeal: true, allowEmpty: false });
        assert.ok(app.spec.syncPolicy.syncOptions.includes("PruneLast=true"));
        assert.equal(app.spec.revisionHistoryLimit, 20);
        const staging = JSON.parse(kubectlOk(cluster, ["get", "application", "payments-api-staging", "-n", "argocd", "-o", "json"]));
        assert.equal(staging.spec.syncPolicy.automated.selfHeal, false);
        const appset = JSON.parse(kubectlOk(cluster, ["get", "applicationset", "payments-api-previews", "-n", "argocd", "-o", "json"]));
        assert.deepEqual(appset.spec.goTemplateOptions, ["missingkey=error"]);
        // Previews deploy through a project of their own, to their own namespaces only (issue 17).
        assert.equal(appset.spec.template.spec.project, "payments-api-previews");
        const previewProject = JSON.parse(kubectlOk(cluster, ["get", "appproject", "payments-api-previews", "-n", "argocd", "-o", "json"]));
        assert.deepEqual(
            previewProject.spec.destinations.map((d: { namespace: string }) => d.namespace),
            ["payments-api-pr-*"],
        );
        assert.equal(appset.spec.generators[0].pullRequest.github.tokenRef.secretName, "payments-api-scm-token");
        const project = JSON.parse(kubectlOk(cluster, ["get", "appproject", "payments-api", "-n", "argocd", "-o", "json"]));
        assert.deepEqual(project.spec.sourceRepos, ["https://github.com/acme/payments-api.git"]);
        const secret = JSON.parse(kubectlOk(cluster, ["get", "secret", "payments-api-scm-token", "-n", "argocd", "-o", "json"]));
        assert.equal(secret.metadata.labels["argocd.argoproj.io/secret-type"], "scm-creds");
        assert.equal(Buffer.from(secret.data.token, "base64").toString(), localToken);
    });

    it("the admission policies deny in prod namespaces, warn in staging ones", async () => {
        for (const env of ["prod", "staging"]) {
            kubectlOk(cluster, ["create", "namespace", `guardrails-${env}`]);
            kubectlOk(cluster, ["label", "namespace", `guardrails-${env}`, `gitops-control.io/environment=${env}`]);
        }
        step("waiting for the policies to be enforced");
        let denied = applyAsArgo(deployment("no-sc", "guardrails-prod", { nonRoot: false }));
        await eventually("the securityContext policy to deny", 60, () => {
            denied = applyAsArgo(deployment("no-sc", "guardrails-prod", { nonRoot: false }));
            return denied.code !== 0;
        });
        assert.match(
            denied.stderr,
            /containers app may run as root: set runAsNonRoot: true in the pod securityContext and do not override it with false \(guardrail require-pod-security-context\)/,
        );
        step("compliant Deployment admitted in prod (written by Argo CD)");
        const ok = applyAsArgo(deployment("ok", "guardrails-prod"));
        assert.equal(ok.code, 0, ok.stderr);
        step("the same Deployment written by a human with kubectl is denied (no silent hotfix drift)");
        const human = kubectl(cluster, ["apply", "-f", "-"], deployment("ok", "guardrails-prod", { replicas: 2 }));
        assert.notEqual(human.code, 0);
        assert.match(human.stderr, /guardrail restrict-workload-writers/);
        step("replicas 21 denied, 20 admitted, 21 with an approval ticket admitted");
        const tooMany = applyAsArgo(deployment("big", "guardrails-prod", { replicas: 21 }));
        assert.notEqual(tooMany.code, 0);
        assert.match(tooMany.stderr, /replicas 21 exceeds the cap of 20/);
        assert.equal(applyAsArgo(deployment("big", "guardrails-prod", { replicas: 20 })).code, 0);
        const approved = applyAsArgo(deployment("big", "guardrails-prod", { replicas: 21, annotations: { "gitops-control.io/replicas-approved": "OPS-1234" } }));
        assert.equal(approved.code, 0, approved.stderr);
        step("the same bad Deployment in staging is admitted with a warning");
        const warned = kubectl(cluster, ["apply", "-f", "-"], deployment("no-sc", "guardrails-staging", { nonRoot: false }));
        assert.equal(warned.code, 0, warned.stderr);
        assert.match(warned.stderr, /Warning: .*containers app may run as root: set runAsNonRoot: true/);
        step("a kubectl edit that disables self-heal on a prod Application is denied");
        const weaken = kubectl(cluster, [
            "patch",
            "application",
            "payments-api-prod",
            "-n",
            "argocd",
            "--type",
            "merge",
            "-p",
            '{"spec":{"syncPolicy":{"automated":{"selfHeal":false}}}}',
        ]);
        assert.notEqual(weaken.code, 0);
        assert.match(weaken.stderr, /guardrail protect-sync-policy/);
    });

    it("the preview janitor deletes only orphaned preview namespaces, and admission stops it anywhere else", async () => {
        const janitor = "system:serviceaccount:argocd:preview-janitor";
        for (const ns of ["payments-api-pr-7", "payments-api-pr-8"]) {
            kubectlOk(cluster, ["create", "namespace", ns]);
            kubectlOk(cluster, ["label", "namespace", ns, "env=preview", "gitops-control.io/environment=preview"]);
        }
        // PR 7 is still open: an Application deploys to its namespace. PR 8 closed and left its namespace.
        kubectlOk(
            cluster,
            ["apply", "-f", "-"],
            JSON.stringify({
                apiVersion: "argoproj.io/v1alpha1",
                kind: "Application",
                // As the previews' ApplicationSet generates it: labelled with its service, in its preview project.
                metadata: { name: "payments-api-pr-7", namespace: "argocd", labels: { "gitops-control.io/environment": "preview", "gitops-control.io/service": "payments-api" } },
                spec: {
                    project: "payments-api-previews",
                    source: { repoURL: "https://github.com/acme/payments-api.git", path: "deploy/chart", targetRevision: "abc123" },
                    destination: { server: "https://kubernetes.default.svc", namespace: "payments-api-pr-7" },
                },
            }),
        );
        step("the janitor's service account may not delete a non-preview namespace");
        const denied = kubectl(cluster, ["delete", "namespace", "guardrails-staging", "--as", janitor, "--wait=false"]);
        assert.notEqual(denied.code, 0);
        assert.match(denied.stderr, /the preview janitor may delete only namespaces labelled env=preview, not guardrails-staging/);
        step("run the janitor's script as its service account");
        const run = spawnSync("sh", ["-c", janitorScript()], {
            encoding: "utf8",
            env: { ...process.env, KUBECTL: `kubectl --kubeconfig ${cluster.kubeconfig} --as ${janitor}`, PREVIEW_TTL_HOURS: "72" },
        });
        console.log(run.stdout + run.stderr);
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /preview_namespace_age_hours\{namespace="payments-api-pr-7"\} 0/);
        assert.match(run.stdout, /deleting namespace payments-api-pr-8: no Application deploys to it/);
        assert.doesNotMatch(run.stdout, /deleting namespace payments-api-pr-7/);
        await eventually("payments-api-pr-8 to be gone", 60, () => kubectl(cluster, ["get", "namespace", "payments-api-pr-8"]).code !== 0);
        assert.equal(kubectl(cluster, ["get", "namespace", "payments-api-pr-7"]).code, 0);
        kubectlOk(cluster, ["delete", "application", "payments-api-pr-7", "-n", "argocd"]);
    });

    it("a second pulumi up changes nothing", async () => {
        step("pulumi up (again)");
        const recorder = stepRecorder();
        const result = await local.stack.up({ onOutput, onEvent: recorder.onEvent });
        // The read of the CRD stack's outputs (a StackReference) is a step of every run, not a change.
        const changed = recorder.steps.filter((s) => !leavesAsIs(s)).map((s) => `${s.op} ${s.urn.split("::").pop()} ${JSON.stringify(s.detailedDiff)}`);
        assert.deepEqual(changed, [], `second up changed: ${JSON.stringify(result.summary.resourceChanges)}`);
    });

    it("a preview that removes a service is over the prune budget unless approved", async () => {
        const services = JSON.parse(readStackFile(path.join(repoRoot, "Pulumi.local.yaml")).config["gitops-control:services"]) as { name: string }[];
        const whatIf = await openStack({
            stackName: "local",
            backendUrl: `file://${local.stateDir}`,
            passphrase: localPassphrase,
            kubeconfig: cluster.kubeconfig,
            configOverrides: { services: services.filter((s) => s.name !== "checkout") },
        });
        step("preview without the checkout service");
        const recorder = stepRecorder();
        await whatIf.preview({ onEvent: recorder.onEvent, onOutput });
        const verdict = pruneVerdict(recorder.steps, 1, false);
        console.log(formatPruneReport(verdict));
        assert.deepEqual(verdict.destructive.map((d) => `${d.op} ${d.name}`).sort(), ["delete checkout-prod-app", "delete checkout-project"]);
        // Its namespace is retained (the engine's step says so): forgotten by the stack, left in the cluster, not counted.
        assert.deepEqual(
            verdict.kept.map((k) => k.name),
            ["checkout-prod-namespace"],
        );
        assert.equal(verdict.ok, false);
        assert.equal(pruneVerdict(recorder.steps, 1, true).ok, true);
    });

    it("drift from a kubectl edit is caught by the drift check and healed by up --refresh", async () => {
        // The drift is healed by the test's own `up`; when an assertion fails before it, by the finally.
        let healedByTest = false;
        try {
            step("kubectl: turn selfHeal on for payments-api-staging and switch a prod binding to Warn");
            kubectlOk(cluster, [
                "patch",
                "application",
                "payments-api-staging",
                "-n",
                "argocd",
                "--type",
                "merge",
                "-p",
                '{"spec":{"syncPolicy":{"automated":{"selfHeal":true}}}}',
            ]);
            kubectlOk(cluster, [
                "patch",
                "validatingadmissionpolicybinding",
                "gitops-control-cap-replicas-prod",
                "--type",
                "merge",
                "-p",
                '{"spec":{"validationActions":["Warn","Audit"]}}',
            ]);
            step("drift check (npm run drift): preview --refresh --expect-no-changes must report both resources");
            const drift = await detectDrift(local.stack, onOutput);
            console.log(drift.report);
            assert.equal(drift.drifted, true);
            const byName = new Map(drift.items.map((i) => [i.name, i]));
            const app = byName.get("payments-api-staging-app");
            assert.ok(app, "the Application is reported");
            assert.ok(
                app.fields.some((f) => f.includes("selfHeal")),
                `fields: ${app.fields.join(", ")}`,
            );
            assert.equal(app.lastForeignWrite?.manager, "kubectl-patch");
            assert.ok(byName.has("gitops-guardrails-cap-replicas-prod"), "the binding is reported");
            step("pulumi up --refresh heals it");
            await local.stack.up({ refresh: true, onOutput });
            healedByTest = true;
            const healed = JSON.parse(kubectlOk(cluster, ["get", "application", "payments-api-staging", "-n", "argocd", "-o", "json"]));
            assert.equal(healed.spec.syncPolicy.automated.selfHeal, false);
            const binding = JSON.parse(kubectlOk(cluster, ["get", "validatingadmissionpolicybinding", "gitops-control-cap-replicas-prod", "-o", "json"]));
            assert.deepEqual(binding.spec.validationActions, ["Deny", "Audit"]);
        } finally {
            if (!healedByTest) await local.stack.up({ refresh: true, onOutput });
        }
        step("drift check passes again");
        const clean = await detectDrift(local.stack, onOutput);
        assert.equal(clean.drifted, false, clean.report);
    });

    it("a team program onboarding a service the stack owns is refused in its preview, and nothing changes hands", async () => {
        // The example: the platform stack onboards `checkout`, then a team's own program does too.
        const owner = (kind: string, name: string) =>
            JSON.parse(kubectlOk(cluster, ["get", kind, name, "-n", "argocd", "-o", "jsonpath={.metadata.annotations}"]))["gitops-control.io/owner"] as string;
        assert.equal(owner("appproject", "checkout"), "gitops-control/local");
        const teamState = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-team-"));
        const team = await LocalWorkspace.createOrSelectStack(
            {
                projectName: "team-storefront",
                stackName: "dev",
                program: async () => {
                    const service = new GitOpsService("checkout", {
                        team: "storefront",
                        source: { repoURL: "https://github.com/acme/checkout.git", path: "deploy/chart" },
                        environments: [{ name: "prod", targetRevision: "v5.3.0" }],
                        provider: new k8s.Provider("cluster", { kubeconfig: cluster.kubeconfig }),
                    });
                    return { project: service.projectName };
                },
            },
            {
                envVars: {
                    PULUMI_BACKEND_URL: `file://${teamState}`,
                    PULUMI_CONFIG_PASSPHRASE: localPassphrase,
                    PULUMI_SKIP_UPDATE_CHECK: "true",
                    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
                },
            },
        );
        try {
            step("team program: pulumi preview must fail on the ownership fence (server-side dry run)");
            await assert.rejects(
                team.preview({ onOutput }),
                /AppProject checkout belongs to gitops-control\/local \(annotation gitops-control.io\/owner\); team-storefront\/dev cannot take it over/,
            );
            step("team program: pulumi up fails the same way and leaves the stack's objects alone");
            await assert.rejects(team.up({ onOutput }), /AppProject checkout belongs to gitops-control\/local/);
            assert.equal(owner("appproject", "checkout"), "gitops-control/local");
            assert.equal(owner("application", "checkout-prod"), "gitops-control/local");
            assert.equal(kubectlOk(cluster, ["get", "application", "checkout-prod", "-n", "argocd", "-o", "jsonpath={.spec.source.targetRevision}"]), "v5.2.0");
        } finally {
            await team.destroy({ onOutput });
            fs.rmSync(teamState, { recursive: true, force: true });
        }
        step("kubectl: only the break-glass group hands an object over (and back)");
        const annotate = (value: string, groups: string[]) =>
            kubectl(cluster, [
                "annotate",
                "application",
                "checkout-prod",
                "-n",
                "argocd",
                "--overwrite",
                `gitops-control.io/owner=${value}`,
                "--as",
                "alice",
                ...groups.flatMap((g) => ["--as-group", g]),
            ]);
        const denied = annotate("team-storefront/dev", ["system:masters"]);
        assert.notEqual(denied.code, 0);
        assert.match(denied.stderr, /Application checkout-prod belongs to gitops-control\/local/);
        const removed = kubectl(cluster, ["annotate", "application", "checkout-prod", "-n", "argocd", "gitops-control.io/owner-", "--as", "alice", "--as-group", "system:masters"]);
        assert.match(removed.stderr, /its owner cannot be removed/);
        assert.equal(annotate("team-storefront/dev", ["system:masters", "gitops-control:break-glass"]).code, 0);
        assert.equal(owner("application", "checkout-prod"), "team-storefront/dev");
        assert.equal(annotate("gitops-control/local", ["system:masters", "gitops-control:break-glass"]).code, 0);
        assert.equal(owner("application", "checkout-prod"), "gitops-control/local");
    });

    it("state and outputs hold no secret in plain text", async () => {
        const outputs = await local.stack.outputs();
        assert.equal(outputs.argocdAdminPassword.secret, true);
        const password = String(outputs.argocdAdminPassword.value);
        assert.ok(password.length >= 24);
        // The state file at rest (the Automation API's exportStack would decrypt with --show-secrets).
        const state = readStateFile(local.stateDir);
        for (const needle of [password, localToken, Buffer.from(localToken).toString("base64")]) {
            assert.deepEqual(pathsContaining(state, needle), [], "a secret is in the exported state in plain text");
        }
        for (const [name, output] of Object.entries(outputs)) {
            if (output.secret) continue;
            const plain = JSON.stringify(output.value);
            assert.ok(!plain.includes(password) && !plain.includes(localToken), `output ${name} leaks a secret`);
        }
    });

    it("pulumi destroy of both stacks removes everything but the CRDs kept by design, Applications through the cascade finalizer", async () => {
        step("pulumi destroy");
        await local.stack.destroy({ onOutput });
        for (const kind of ["applications", "applicationsets", "appprojects"]) {
            assert.equal(kubectlOk(cluster, ["get", kind, "-A", "-o", "name"]).trim(), "", `${kind} left behind`);
        }
        assert.doesNotMatch(kubectlOk(cluster, ["get", "validatingadmissionpolicies", "-o", "name"]), /gitops-control/);
        assert.doesNotMatch(kubectlOk(cluster, ["get", "validatingadmissionpolicybindings", "-o", "name"]), /gitops-control/);
        await eventually("the argocd namespace to be deleted", 120, () => kubectl(cluster, ["get", "namespace", "argocd"]).code !== 0);
        // The services' namespaces stay (retainOnDelete), labelled: what they hold is the workloads', and a
        // prod namespace is never deleted by a stack's teardown.
        for (const ns of ["payments-api-prod", "payments-api-staging", "checkout-prod"]) {
            assert.equal(kubectlOk(cluster, ["get", "namespace", ns, "-o", "jsonpath={.metadata.labels.gitops-control\\.io/service}"]) !== "", true, `${ns} kept, labelled`);
        }
        // Then the CRD stack, as `run-local.sh destroy` does. It installs the CRDs with retainOnDelete:
        // deleting one would delete every object of its kind.
        step("pulumi destroy of the CRD stack (local-crds)");
        const crds = await local.crdStack();
        await crds.destroy({ onOutput });
        assert.deepEqual((await crds.exportStack()).deployment.resources ?? [], [], "the CRD stack's state is empty");
        for (const crd of ["applications.argoproj.io", "applicationsets.argoproj.io", "appprojects.argoproj.io"]) {
            assert.equal(kubectl(cluster, ["get", "crd", crd]).code, 0, `${crd} kept in the cluster`);
        }
    });
});
