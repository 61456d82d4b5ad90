import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { guardrailManifests } from "../../components/guardrails/AdmissionGuardrails";
import { protectNamespaceLabels } from "../../components/guardrails/rules";
import { labels } from "../../components/core/labels";
import { PreviewJanitor, janitorServiceAccount } from "../../components/previews/PreviewJanitor";
import { PodContainer, podContainer, renderComponent, runContainer, serviceAccountKubectl } from "./inContainer";
import { LocalCluster, applyList, eventually, kubectl, kubectlOk, startClusterWithArgoCdCrds, step } from "./support";

/**
 * The preview janitor aimed at prod, on a real API server holding what PreviewJanitor renders (its
 * service account, RBAC, fence and CronJob): the fence refuses prod namespaces, and the CronJob's
 * container runs as its pod would (tests/integration/inContainer.ts): its rendered command and
 * environment, the service account's real token through the in-cluster configuration, uid 65532 on
 * a read-only root. No kubelet here, so the process runs on the host.
 */

const preview = { env: "preview", [labels.environment]: "preview" };

describe("preview janitor fence (real API server, janitor's identity)", { timeout: 5 * 60 * 1000 }, () => {
    let cluster: LocalCluster | undefined;
    const k = (args: readonly string[], input?: string) => kubectl(cluster!, args, input);
    const ok = (args: readonly string[], input?: string) => kubectlOk(cluster!, args, input);
    const namespace = (name: string, l: Record<string, string>) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels: l } });
    let cronJob: PodContainer;
    /** kubectl with the janitor's real token, for probes of its fence. */
    let asJanitor: ReturnType<typeof serviceAccountKubectl>;

    before(async () => {
        // Argo CD's CRDs at the version the program installs (v3.6.1).
        cluster = startClusterWithArgoCdCrds();
        const rule = protectNamespaceLabels();
        step("everything PreviewJanitor renders (service account, RBAC, fence, CronJob); protect-namespace-labels bound for prod");
        applyList(cluster, [
            { apiVersion: "v1", kind: "Namespace", metadata: { name: "argocd" } },
            ...(await renderComponent(() => new PreviewJanitor("janitor", { namespace: "argocd", skipAwait: true }))),
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
        cronJob = podContainer(cluster, "cronjob", janitorServiceAccount, "argocd");
        asJanitor = serviceAccountKubectl(cluster, "argocd", cronJob.serviceAccountName);
        let last = "";
        await eventually("the janitor's fence to be loaded", 60, () => {
            last = asJanitor(["delete", "namespace", "shop-prod", "--dry-run=server"]).stderr;
            return /the preview janitor may delete only namespaces/.test(last);
        }).catch((e: Error) => {
            throw new Error(`${e.message}; last answer: ${last}`);
        });
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
        const r = asJanitor(["delete", "namespace", "legacy-prod", "--wait=false"]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /the preview janitor may delete only namespaces of environment class preview \(gitops-control\.io\/environment=preview\), not legacy-prod/);
    });

    it("the CronJob's container is what the component renders: /bin/sh -c <script>, read-only root, its own service account", () => {
        assert.deepEqual(cronJob.command.slice(0, 2), ["/bin/sh", "-c"]);
        assert.equal(cronJob.serviceAccountName, janitorServiceAccount);
        assert.equal(cronJob.readOnlyRootFilesystem, true);
        assert.equal(cronJob.runAsUser, 65532);
        assert.deepEqual(Object.keys(cronJob.env), ["PREVIEW_TTL_HOURS", "PREVIEW_SELECTOR"]);
    });

    it("in its container the API server sees the account's own token (user and groups, no impersonation), and nothing is writable", async () => {
        // The container's environment and identity with a probe for a command: who am I, can I write HOME, cwd, /tmp.
        const probe = await runContainer(cluster!, cronJob, {
            command: ["/bin/sh", "-c", 'kubectl auth whoami -o json; for d in "$HOME" "$PWD" /tmp; do touch "$d/probe" 2>/dev/null && echo "wrote $d"; done; id -u'],
        });
        assert.equal(probe.status, 0, probe.stderr);
        const [whoami, uid] = [probe.stdout.slice(0, probe.stdout.lastIndexOf("}") + 1), probe.stdout.slice(probe.stdout.lastIndexOf("}") + 1).trim()];
        const user = (JSON.parse(whoami) as { status: { userInfo: { username: string; groups: string[]; extra?: Record<string, string[]> } } }).status.userInfo;
        assert.equal(user.username, `system:serviceaccount:argocd:${janitorServiceAccount}`);
        assert.deepEqual(user.groups, ["system:serviceaccounts", "system:serviceaccounts:argocd", "system:authenticated"]);
        // A bound token from the TokenRequest API carries its credential id; impersonation would not.
        assert.ok(user.extra?.["authentication.kubernetes.io/credential-id"]?.[0]?.startsWith("JTI="), JSON.stringify(user));
        assert.equal(uid, "65532", "no directory was writable and the user is the pod's");
    });

    it("the container deletes only orphaned previews: targeted ones stay even past the TTL, prod is never considered", async () => {
        // PREVIEW_TTL_HOURS=0 over the rendered 72: every preview is past its TTL (namespaces here are minutes old).
        const run = await runContainer(cluster!, cronJob, { env: { PREVIEW_TTL_HOURS: "0" } });
        assert.equal(run.status, 0, run.stderr);
        // kubectl in the pod cannot write its cache under a read-only HOME: nothing else may go to stderr.
        assert.equal(run.stderr, "");
        assert.match(run.stdout, /deleting namespace shop-pr-2: no Application deploys to it/);
        assert.match(run.stdout, /keeping namespace shop-pr-1: older than 0h, but an Application still deploys to it/);
        assert.doesNotMatch(run.stdout, /legacy-prod|shop-prod/);
        await eventually("shop-pr-2 to be terminating or gone", 30, () => !/Active/.test(k(["get", "namespace", "shop-pr-2", "-o", "jsonpath={.status.phase}"]).stdout));
        assert.equal(k(["get", "namespace", "shop-pr-1", "-o", "jsonpath={.status.phase}"]).stdout, "Active");
        assert.equal(k(["get", "namespace", "legacy-prod", "-o", "jsonpath={.status.phase}"]).stdout, "Active");
    });
});
