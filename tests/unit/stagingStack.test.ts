import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { RecordedResource, readStackFile, renderProgram, repoRoot, valueOf } from "../../scripts/lib/mockRuntime";
import { unselectiveRules } from "../support/guardrailFixtures";

let resources: RecordedResource[];
let exports: Record<string, unknown>;
const ofType = (type: string) => resources.filter((r) => r.type === type);
const stackFile = readStackFile(path.join(repoRoot, "Pulumi.staging.yaml"));

describe("staging stack (Pulumi.staging.yaml)", () => {
    before(async () => {
        ({ resources, exports } = await renderProgram("staging", stackFile));
    });

    it("keeps the GitHub token encrypted in the stack file", () => {
        assert.deepEqual(stackFile.secretKeys, ["gitops-control:githubToken"]);
        const text = fs.readFileSync(path.join(repoRoot, "Pulumi.staging.yaml"), "utf8");
        assert.match(text, /gitops-control:githubToken:\n\s+secure: v1:/);
        assert.doesNotMatch(text, /ghp_/);
    });

    it("staging Applications prune but do not self-heal, and never sync an empty state", () => {
        const apps = ofType("kubernetes:argoproj.io/v1alpha1:Application");
        assert.deepEqual(apps.map((a) => a.inputs.metadata.name).sort(), ["checkout-staging", "payments-api-staging"]);
        for (const app of apps) {
            assert.deepEqual(app.inputs.spec.syncPolicy.automated, { enabled: true, prune: true, selfHeal: false, allowEmpty: false });
            assert.deepEqual(app.inputs.spec.syncPolicy.retry, { limit: 3, backoff: { duration: "10s", factor: 2, maxDuration: "5m" }, refresh: true });
            assert.equal(app.inputs.spec.revisionHistoryLimit, 10);
        }
    });

    it("staging namespaces enforce Pod Security baseline and warn and audit on restricted, pinned to v1.36", () => {
        const namespaces = ofType("kubernetes:core/v1:Namespace").filter((r) => r.inputs.metadata.labels?.["gitops-control.io/environment"] !== undefined);
        assert.deepEqual(namespaces.map((r) => r.inputs.metadata.name).sort(), ["checkout-staging", "payments-api-staging"]);
        for (const ns of namespaces) {
            const l = ns.inputs.metadata.labels;
            assert.equal(l["gitops-control.io/environment"], "staging");
            assert.equal(l["pod-security.kubernetes.io/enforce"], "baseline");
            assert.equal(l["pod-security.kubernetes.io/enforce-version"], "v1.36");
            assert.equal(l["pod-security.kubernetes.io/warn"], "restricted");
            assert.equal(l["pod-security.kubernetes.io/audit"], "restricted");
        }
    });

    it("guardrails warn and audit in staging", () => {
        const all = ofType("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding");
        // The preview janitor's own scope policy always denies: it limits a robot, it is no guardrail.
        const janitor = all.find((b) => b.inputs.metadata.name === "gitops-control-preview-janitor-scope");
        assert.deepEqual(janitor?.inputs.spec.validationActions, ["Deny"]);
        // The preview gate's fence too (same robot: it may only switch previews on and off).
        const gate = all.find((b) => b.inputs.metadata.name === "gitops-control-preview-gate-scope");
        assert.deepEqual(gate?.inputs.spec.validationActions, ["Deny"]);
        // So do the per-service rules that keep previews alive when their ApplicationSet is deleted.
        const keep = all.filter((b) => String(b.inputs.metadata.name).startsWith("gitops-control-keep-previews-"));
        assert.deepEqual(keep.map((b) => `${b.inputs.metadata.name}:${b.inputs.spec.validationActions}`).sort(), [
            "gitops-control-keep-previews-checkout:Deny",
            "gitops-control-keep-previews-payments-api:Deny",
        ]);
        // And the ownership fence: always Deny, in every stack.
        const fence = all.find((b) => b.inputs.metadata.name === "gitops-control-protect-ownership");
        assert.deepEqual(fence?.inputs.spec.validationActions, ["Deny"]);
        const bindings = all.filter((b) => b !== janitor && b !== gate && b !== fence && !keep.includes(b));
        assert.equal(bindings.length, 20);
        for (const b of bindings) {
            assert.deepEqual(b.inputs.spec.validationActions, ["Warn", "Audit"]);
            // Every ApplicationSet, and the staging namespaces as parameters of the destination rule.
            const selector = b.inputs.spec.matchResources.namespaceSelector ?? b.inputs.spec.matchResources.objectSelector ?? b.inputs.spec.paramRef?.selector;
            if (unselectiveRules.some((r) => b.inputs.metadata.name === `gitops-control-${r}-staging`)) assert.equal(selector, undefined, b.inputs.metadata.name);
            else assert.deepEqual(selector.matchLabels, { "gitops-control.io/environment": "staging" }, b.inputs.metadata.name);
        }
    });

    it("Argo CD runs single-replica without redis-ha, not protected", () => {
        const [chart] = ofType("kubernetes:helm.sh/v4:Chart");
        assert.equal(chart.inputs.values["redis-ha"].enabled, false);
        assert.equal(chart.inputs.values.server.replicas, 1);
        assert.equal(chart.inputs.values.configs.cm["timeout.reconciliation"], "120s");
        assert.equal(chart.inputs.skipAwait, false);
    });

    it("each service gets a preview ApplicationSet reading the token from an scm-creds Secret", () => {
        const appsets = ofType("kubernetes:argoproj.io/v1alpha1:ApplicationSet");
        assert.deepEqual(appsets.map((a) => a.inputs.metadata.name).sort(), ["checkout-previews", "payments-api-previews"]);
        const secrets = ofType("kubernetes:core/v1:Secret").filter((s) => s.inputs.metadata.labels?.["argocd.argoproj.io/secret-type"] === "scm-creds");
        assert.equal(secrets.length, 2);
        for (const s of secrets) {
            assert.deepEqual(s.secretPaths, ["stringData"]);
            assert.equal(s.inputs.stringData.token, "<secret gitops-control:githubToken>");
        }
        for (const a of appsets) {
            assert.equal(a.inputs.spec.generators[0].pullRequest.github.owner, "acme");
            assert.equal(a.inputs.spec.generators[0].pullRequest.requeueAfterSeconds, 300);
        }
    });

    it("runs the preview janitor because services have previews", () => {
        const [cron] = ofType("kubernetes:batch/v1:CronJob");
        assert.equal(cron.inputs.metadata.namespace, "argocd");
        assert.equal(cron.inputs.spec.jobTemplate.spec.template.spec.serviceAccountName, "preview-janitor");
    });

    it("manages the preview label and a signed pull_request webhook in each service repository", () => {
        const labelsRes = ofType("github:index/issueLabel:IssueLabel");
        assert.deepEqual(labelsRes.map((l) => `${l.inputs.repository}:${l.inputs.name}`).sort(), ["checkout:preview", "payments-api:preview"]);
        const hooks = ofType("github:index/repositoryWebhook:RepositoryWebhook");
        assert.equal(hooks.length, 2);
        for (const hook of hooks) {
            assert.deepEqual(hook.inputs.events, ["pull_request"]);
            assert.equal(hook.inputs.configuration.url, "https://argocd-appset.staging.example.com/api/webhook");
            assert.equal(hook.inputs.configuration.contentType, "json");
            assert.ok(
                hook.secretPaths.some((p) => p.startsWith("configuration")),
                "the webhook secret is a Pulumi secret",
            );
            assert.match(hook.provider ?? "", /pulumi:providers:github::gitops-github-github::/);
        }
        const secret = ofType("kubernetes:core/v1:Secret").find((s) => s.inputs.metadata.name === "argocd-secret")!;
        assert.equal(secret.inputs.stringData["webhook.github.secret"], "mock-password-gitops-github-webhook-secret");
        const [provider] = ofType("pulumi:providers:github");
        assert.equal(provider.inputs.owner, "acme");
        assert.ok(provider.secretPaths.includes("token"), "the GitHub token is a secret provider input");
    });

    it("no output carries the token or the admin password in plain text", async () => {
        for (const [name, value] of Object.entries(exports)) {
            if (!pulumi.Output.isInstance(value)) continue;
            const plain = JSON.stringify(await valueOf(value as pulumi.Output<unknown>));
            if (await pulumi.isSecret(value as pulumi.Output<unknown>)) continue;
            assert.doesNotMatch(plain ?? "", /secret gitops-control:githubToken|mock-password|mockhash/, `output ${name} is plain and leaks a secret`);
        }
        assert.equal(await pulumi.isSecret(exports.argocdAdminPassword as pulumi.Output<string>), true);
    });
});
