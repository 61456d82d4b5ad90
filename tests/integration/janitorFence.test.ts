import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { guardrailManifests } from "../../components/AdmissionGuardrails";
import { protectNamespaceLabels } from "../../components/guardrails/rules";
import { labels } from "../../components/labels";
import { janitorScopePolicySpec, janitorScript, janitorServiceAccount } from "../../components/PreviewJanitor";
import { LocalCluster, applyList, eventually, kubectl, kubectlOk, repoRoot, startCluster, step } from "./support";

/**
 * The preview janitor aimed at prod, on a real API server: its admission fence (rendered by the
 * component's own pure function) and its script, run as its service account by impersonation,
 * exactly as the CronJob would run it (no kubelet here, so the script runs outside the cluster).
 */

const janitor = `system:serviceaccount:argocd:${janitorServiceAccount}`;
const argoCrd = path.join(repoRoot, "..", "shared", "fixtures", "argo-cd", "v3.4.4", "crds", "application-crd.yaml");
const preview = { env: "preview", [labels.environment]: "preview" };

describe("preview janitor fence (real API server, janitor's identity)", { timeout: 5 * 60 * 1000 }, () => {
    let cluster: LocalCluster | undefined;
    const k = (args: readonly string[], input?: string) => kubectl(cluster!, args, input);
    const ok = (args: readonly string[], input?: string) => kubectlOk(cluster!, args, input);
    const namespace = (name: string, l: Record<string, string>) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels: l } });
    const runJanitor = () =>
        spawnSync("sh", ["-c", janitorScript()], {
            encoding: "utf8",
            env: { ...process.env, KUBECTL: `kubectl --kubeconfig ${cluster!.kubeconfig} --as ${janitor}`, PREVIEW_TTL_HOURS: "0" },
        });

    before(async () => {
        cluster = startCluster();
        ok(["apply", "--server-side", "-f", argoCrd]);
        await eventually("the Application CRD to be established", 60, () => k(["wait", "--for=condition=established", "--timeout=5s", "crd/applications.argoproj.io"]).code === 0);
        const rule = protectNamespaceLabels();
        step("janitor RBAC and fence as PreviewJanitor renders it; protect-namespace-labels bound for prod");
        applyList(cluster!, [
            { apiVersion: "v1", kind: "Namespace", metadata: { name: "argocd" } },
            {
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRole",
                metadata: { name: "janitor" },
                rules: [
                    { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "delete"] },
                    { apiGroups: ["argoproj.io"], resources: ["applications"], verbs: ["get", "list"] },
                ],
            },
            {
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRoleBinding",
                metadata: { name: "janitor" },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "janitor" },
                subjects: [{ kind: "ServiceAccount", namespace: "argocd", name: janitorServiceAccount }],
            },
            {
                apiVersion: "admissionregistration.k8s.io/v1",
                kind: "ValidatingAdmissionPolicy",
                metadata: { name: "janitor-scope" },
                spec: janitorScopePolicySpec(janitor, { key: "env", value: "preview" }),
            },
            {
                apiVersion: "admissionregistration.k8s.io/v1",
                kind: "ValidatingAdmissionPolicyBinding",
                metadata: { name: "janitor-scope" },
                spec: { policyName: "janitor-scope", validationActions: ["Deny"] },
            },
            ...guardrailManifests([rule], [{ environment: "prod", validationActions: ["Deny", "Audit"] }]),
            namespace("shop-prod", { [labels.environment]: "prod" }),
            // The attack, already in place (e.g. from before the label guard): env=preview on a prod namespace.
            namespace("legacy-prod", { [labels.environment]: "prod" }),
            namespace("shop-pr-1", preview),
            namespace("shop-pr-2", preview),
        ]);
        step("shop-pr-1 is still targeted by an Application; shop-pr-2 is orphaned");
        ok(
            ["apply", "-f", "-"],
            JSON.stringify({
                apiVersion: "argoproj.io/v1alpha1",
                kind: "Application",
                metadata: { name: "shop-pr-1", namespace: "argocd" },
                spec: {
                    project: "shop",
                    source: { repoURL: "https://github.com/acme/shop.git", path: ".", targetRevision: "abc123" },
                    destination: { server: "https://kubernetes.default.svc", namespace: "shop-pr-1" },
                },
            }),
        );
        await eventually("the label guard to refuse env=preview on a prod namespace", 60, () =>
            /protect-namespace-labels/.test(k(["label", "namespace", "shop-prod", "env=preview"]).stderr),
        );
    });

    after(() => cluster?.stop());

    it("nobody can aim it at prod: env=preview on a prod namespace is refused (protect-namespace-labels)", () => {
        const r = k(["label", "namespace", "shop-prod", "env=preview"]);
        assert.match(r.stderr, /a prod namespace cannot also carry env=preview .*\(guardrail protect-namespace-labels\)/);
    });

    it("its fence refuses a prod namespace that carries env=preview anyway (environment class must be preview)", async () => {
        // Written before the guard existed: lift it for one write, as an old cluster would have it.
        ok(["delete", "validatingadmissionpolicybinding", "gitops-control-protect-namespace-labels-prod"]);
        await eventually("the legacy relabel to go through", 30, () => k(["label", "namespace", "legacy-prod", "env=preview"]).code === 0);
        const r = k(["delete", "namespace", "legacy-prod", "--as", janitor, "--wait=false"]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /the preview janitor may delete only namespaces of environment class preview \(gitops-control\.io\/environment=preview\), not legacy-prod/);
    });

    it("the script deletes only orphaned previews: targeted ones stay even past the TTL, prod is never considered", async () => {
        const run = runJanitor();
        step(run.stdout + run.stderr);
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /deleting namespace shop-pr-2: no Application deploys to it/);
        assert.match(run.stdout, /keeping namespace shop-pr-1: older than 0h, but an Application still deploys to it/);
        assert.doesNotMatch(run.stdout, /legacy-prod|shop-prod/);
        await eventually("shop-pr-2 to be terminating or gone", 30, () => !/Active/.test(k(["get", "namespace", "shop-pr-2", "-o", "jsonpath={.status.phase}"]).stdout));
        assert.equal(k(["get", "namespace", "shop-pr-1", "-o", "jsonpath={.status.phase}"]).stdout, "Active");
        assert.equal(k(["get", "namespace", "legacy-prod", "-o", "jsonpath={.status.phase}"]).stdout, "Active");
    });
});
