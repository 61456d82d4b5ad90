import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { LocalCluster, LocalStack, eventually, kubectl, kubectlOk, localToken, openLocalStack, pathsContaining, startCluster, step } from "./support";

/**
 * The whole lifecycle of the `local` stack with the real engine against a real API server:
 * preview, up, what the API server stored and enforces, idempotence, drift and its healing,
 * secrets in state, destroy.
 */

let cluster: LocalCluster;
let local: LocalStack;
const onOutput = (out: string) => local.log.push(out);

function deployment(name: string, namespace: string, opts: { replicas?: number; nonRoot?: boolean; annotations?: Record<string, string> } = {}): string {
    return JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace, ...(opts.annotations ? { annotations: opts.annotations } : {}) },
        spec: {
            replicas: opts.replicas ?? 1,
            selector: { matchLabels: { app: name } },
            template: {
                metadata: { labels: { app: name } },
                spec: {
                    ...(opts.nonRoot ? { securityContext: { runAsNonRoot: true, runAsUser: 10001 } } : {}),
                    containers: [{ name: "app", image: "registry.example/app:1.0.0" }],
                },
            },
        },
    });
}

describe("local stack lifecycle (real engine, real API server)", { timeout: 40 * 60 * 1000 }, () => {
    before(async () => {
        cluster = startCluster();
        local = await openLocalStack(cluster);
    });

    after(async () => {
        if (process.exitCode && local) {
            console.log(local.log.join("").split("\n").slice(-80).join("\n"));
        }
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
        for (const name of ["payments-api-prod-app", "payments-api-staging-app", "checkout-prod-app", "payments-api-previews-appset", "gitops-argocd-chart"]) {
            assert.match(out, new RegExp(name), `${name} in the preview`);
        }
    });

    it("pulumi up succeeds", async () => {
        step("pulumi up");
        const result = await local.stack.up({ onOutput });
        step(`up: ${JSON.stringify(result.summary.resourceChanges)}`);
        assert.equal(result.summary.result, "succeeded");
    });

    it("the API server stored the chart's Argo CD CRDs and accepted the Argo CD objects", () => {
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
        assert.equal(appset.spec.template.spec.project, "payments-api");
        assert.equal(appset.spec.generators[0].pullRequest.github.tokenRef.secretName, "payments-api-scm-token");
        const project = JSON.parse(kubectlOk(cluster, ["get", "appproject", "payments-api", "-n", "argocd", "-o", "json"]));
        assert.deepEqual(project.spec.sourceRepos, ["https://github.com/acme/payments-api.git"]);
        const secret = JSON.parse(kubectlOk(cluster, ["get", "secret", "payments-api-scm-token", "-n", "argocd", "-o", "json"]));
        assert.equal(secret.metadata.labels["argocd.argoproj.io/secret-type"], "scm-creds");
        assert.equal(Buffer.from(secret.data.token, "base64").toString(), localToken);
    });

    it("the admission policy denies in prod namespaces, warns in staging ones", async () => {
        kubectlOk(cluster, ["create", "namespace", "guardrails-prod"]);
        kubectlOk(cluster, ["label", "namespace", "guardrails-prod", "gitops-control.io/environment=prod"]);
        kubectlOk(cluster, ["create", "namespace", "guardrails-staging"]);
        kubectlOk(cluster, ["label", "namespace", "guardrails-staging", "gitops-control.io/environment=staging"]);
        step("waiting for the policies to be enforced");
        let denied = kubectl(cluster, ["apply", "-f", "-"], deployment("no-sc", "guardrails-prod"));
        await eventually("the securityContext policy to deny", 60, () => {
            denied = kubectl(cluster, ["apply", "-f", "-"], deployment("no-sc", "guardrails-prod"));
            return denied.code !== 0;
        });
        assert.match(denied.stderr, /pod securityContext must set runAsNonRoot: true \(guardrail require-pod-security-context\)/);
        step("compliant Deployment admitted in prod");
        kubectlOk(cluster, ["apply", "-f", "-"], deployment("ok", "guardrails-prod", { nonRoot: true }));
        step("replicas 21 denied, 20 admitted, 21 with an approval ticket admitted");
        const tooMany = kubectl(cluster, ["apply", "-f", "-"], deployment("big", "guardrails-prod", { nonRoot: true, replicas: 21 }));
        assert.notEqual(tooMany.code, 0);
        assert.match(tooMany.stderr, /replicas 21 exceeds the cap of 20/);
        kubectlOk(cluster, ["apply", "-f", "-"], deployment("big", "guardrails-prod", { nonRoot: true, replicas: 20 }));
        kubectlOk(cluster, ["apply", "-f", "-"], deployment("big", "guardrails-prod", { nonRoot: true, replicas: 21, annotations: { "gitops-control.io/replicas-approved": "OPS-1234" } }));
        step("the same bad Deployment in staging is admitted with a warning");
        const warned = kubectl(cluster, ["apply", "-f", "-"], deployment("no-sc", "guardrails-staging"));
        assert.equal(warned.code, 0, warned.stderr);
        assert.match(warned.stderr, /Warning: .*pod securityContext must set runAsNonRoot: true/);
    });

    it("a second pulumi up changes nothing", async () => {
        step("pulumi up (again)");
        const result = await local.stack.up({ onOutput });
        const changes = { ...result.summary.resourceChanges };
        delete changes.same;
        assert.deepEqual(changes, {}, `second up changed: ${JSON.stringify(result.summary.resourceChanges)}`);
    });

    it("drift from a kubectl edit is caught by the drift check and healed by up --refresh", async () => {
        step("kubectl: flip selfHeal off on payments-api-prod and switch a binding to Warn");
        kubectlOk(cluster, ["patch", "application", "payments-api-prod", "-n", "argocd", "--type", "merge", "-p", '{"spec":{"syncPolicy":{"automated":{"selfHeal":false}}}}']);
        kubectlOk(cluster, ["patch", "validatingadmissionpolicybinding", "gitops-control-cap-replicas-prod", "--type", "merge", "-p", '{"spec":{"validationActions":["Warn","Audit"]}}']);
        step("drift check: preview --refresh --expect-no-changes must fail and name the resources");
        const before = local.log.length;
        await assert.rejects(local.stack.preview({ refresh: true, expectNoChanges: true, diff: true, onOutput }), /no changes were expected but changes were proposed|expect-no-changes/i);
        const report = local.log.slice(before).join("");
        assert.match(report, /payments-api-prod-app/);
        assert.match(report, /gitops-guardrails-cap-replicas-prod/);
        step("pulumi up --refresh heals it");
        await local.stack.up({ refresh: true, onOutput });
        const app = JSON.parse(kubectlOk(cluster, ["get", "application", "payments-api-prod", "-n", "argocd", "-o", "json"]));
        assert.equal(app.spec.syncPolicy.automated.selfHeal, true);
        const binding = JSON.parse(kubectlOk(cluster, ["get", "validatingadmissionpolicybinding", "gitops-control-cap-replicas-prod", "-o", "json"]));
        assert.deepEqual(binding.spec.validationActions, ["Deny", "Audit"]);
        step("drift check passes again");
        await local.stack.preview({ refresh: true, expectNoChanges: true, onOutput });
    });

    it("state and outputs hold no secret in plain text", async () => {
        const outputs = await local.stack.outputs();
        assert.equal(outputs.argocdAdminPassword.secret, true);
        const password = String(outputs.argocdAdminPassword.value);
        assert.ok(password.length >= 24);
        const state = await local.stack.exportStack();
        for (const needle of [password, localToken, Buffer.from(localToken).toString("base64")]) {
            assert.deepEqual(pathsContaining(state, needle), [], "a secret is in the exported state in plain text");
        }
        for (const [name, output] of Object.entries(outputs)) {
            if (output.secret) continue;
            const plain = JSON.stringify(output.value);
            assert.ok(!plain.includes(password) && !plain.includes(localToken), `output ${name} leaks a secret`);
        }
    });

    it("pulumi destroy removes everything but the CRDs kept by design", async () => {
        step("pulumi destroy");
        await local.stack.destroy({ onOutput });
        for (const kind of ["applications", "applicationsets", "appprojects"]) {
            assert.equal(kubectlOk(cluster, ["get", kind, "-A", "-o", "name"]).trim(), "", `${kind} left behind`);
        }
        assert.doesNotMatch(kubectlOk(cluster, ["get", "validatingadmissionpolicies", "-o", "name"]), /gitops-control/);
        assert.doesNotMatch(kubectlOk(cluster, ["get", "validatingadmissionpolicybindings", "-o", "name"]), /gitops-control/);
        // helm.sh/resource-policy: keep (crds.keep) makes the chart's CRDs retainOnDelete.
        assert.match(kubectlOk(cluster, ["get", "crd", "-o", "name"]), /applications\.argoproj\.io/);
        await eventually("the argocd namespace to be deleted", 120, () => kubectl(cluster, ["get", "namespace", "argocd"]).code !== 0);
    });
});
