import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { breakGlassExpiryServiceAccount, breakGlassUntilValue } from "../../components/breakglass/BreakGlassExpiry";
import { labels } from "../../components/core/labels";
import { Reconcilers, startReconcilers } from "../../scripts/cluster/reconcilers";
import { chartFiles } from "../support/charts";
import { GitServer } from "../support/gitServer";
import { podContainer, runContainer } from "./inContainer";
import { LocalCluster, eventually, kubectl, kubectlOk, openLocalStack, startCluster, step } from "./support";

/**
 * A break-glass pause ends at its expiry with no `pulumi up`: the stack's `up` with an entry pauses
 * automated sync of the prod Application and labels its namespace; a break-glass member's live
 * hotfix stays; past the expiry the BreakGlassExpiry CronJob's container (run as its pod would,
 * with its service account's real token: tests/integration/inContainer.ts) removes the label and
 * turns automated sync back on, and Argo CD v3.6.1's own application controller reverts the hotfix
 * to Git.
 */

const argoNs = "argocd";
const prodNs = "shop-prod";
const breakGlass = ["--as", "oncall@example.com", "--as-group", "gitops-control:break-glass"];

describe("a break-glass pause ends at its expiry: the expiry job resumes automated sync and v3.6.1's controller reverts the hotfix", { timeout: 12 * 60 * 1000 }, () => {
    let cluster: LocalCluster | undefined;
    let git: GitServer | undefined;
    let reconcilers: Reconcilers | undefined;
    let workDir = "";
    const log: string[] = [];
    const service = (repoURL: string) => ({ name: "shop", team: "storefront", repoURL, path: "deploy/chart", targetRevision: "main", environments: ["prod"] });
    const up = async (config: Record<string, unknown>) => {
        const local = await openLocalStack(cluster!, { configOverrides: config }, path.join(workDir, "state"));
        const t0 = Date.now();
        await local.stack.up({ onOutput: (out) => log.push(out) });
        step(`pulumi up in ${Math.round((Date.now() - t0) / 1000)}s`);
    };
    const message = () => kubectl(cluster!, ["get", "configmap", "shop-config", "-n", prodNs, "-o", "jsonpath={.data.message}"]).stdout;
    const automated = () => kubectl(cluster!, ["get", "applications.argoproj.io", "shop-prod", "-n", argoNs, "-o", "jsonpath={.spec.syncPolicy.automated.enabled}"]).stdout;
    const until = () => kubectlOk(cluster!, ["get", "namespace", prodNs, "-o", `jsonpath={.metadata.labels.${labels.breakGlassUntil.replace(/\./g, "\\.")}}`]);

    before(async () => {
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-resume-"));
        fs.mkdirSync(path.join(workDir, "state"));
        cluster = startCluster();
        // RBAC as a platform grants it: the on-call group may patch config; the guardrails decide where.
        kubectlOk(cluster, ["create", "clusterrole", "test-oncall", "--verb=get,patch", "--resource=configmaps"]);
        kubectlOk(cluster, ["create", "clusterrolebinding", "test-oncall", "--clusterrole=test-oncall", "--group=gitops-control:break-glass"]);
        git = await GitServer.start(path.join(workDir, "git"));
        git.createRepo("shop", chartFiles({ service: "shop", team: "storefront" }));
        step("pulumi up: shop in prod; Argo CD's controllers sync it");
        await up({ services: [service(git.url("shop"))] });
        reconcilers = await startReconcilers({ dir: path.join(workDir, "reconcilers"), adminKubeconfig: cluster.kubeconfig, appResyncSeconds: 60 });
        await eventually("shop-prod synced from Git", 180, () => message() === "hello");
    });

    after(() => {
        if (process.exitCode) {
            console.log(log.join("").split("\n").slice(-60).join("\n"));
            if (reconcilers) console.log(reconcilers.tails(40));
        }
        reconcilers?.stop();
        void git?.stop();
        cluster?.stop();
        fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("paused and labelled while the entry is open, the hotfix stays; at the expiry the job's container ends it and Argo CD reverts the hotfix", async () => {
        const now = Date.now();
        // Long enough for the `up` below and a hotfix; short enough to wait for.
        const expires = new Date(now + 150_000).toISOString().replace(/\.\d+Z$/, "Z");
        const entry = {
            services: ["shop"],
            environments: ["prod"],
            reason: "INC-4711: checkout hotfix applied live",
            ticket: "INC-4711",
            requestedBy: "oncall@example.com",
            requestedAt: new Date(now - 60_000).toISOString(),
            expires,
        };
        await up({ services: [service(git!.url("shop"))], breakGlass: [entry] });
        assert.equal(automated(), "false");
        assert.equal(until(), breakGlassUntilValue(expires));
        const editedAt = Date.now();
        kubectlOk(cluster!, ["patch", "configmap", "shop-config", "-n", prodNs, "--type", "merge", "-p", '{"data":{"message":"hotfix"}}', ...breakGlass]);
        // Argo CD looks at the hotfix (a refresh, as a webhook would ask for one) and leaves it: automated sync is paused.
        // Refreshes are asked for after the edit until a reconcile finishes at least 2 s after it.
        await eventually("Argo CD to reconcile shop-prod after the hotfix", 120, () => {
            const at = kubectl(cluster!, ["get", "applications.argoproj.io", "shop-prod", "-n", argoNs, "-o", "jsonpath={.status.reconciledAt}"]).stdout;
            if (Date.parse(at) >= editedAt + 2000) return true;
            kubectl(cluster!, ["annotate", "applications.argoproj.io", "shop-prod", "-n", argoNs, "--overwrite", "argocd.argoproj.io/refresh=normal"]);
            return false;
        });
        const job = podContainer(cluster!, "cronjob", breakGlassExpiryServiceAccount, argoNs);
        const early = await runContainer(cluster!, job);
        assert.equal(early.status, 0, early.stderr);
        assert.doesNotMatch(early.stdout, /expired/, "before the expiry the job changes nothing");
        assert.equal(message(), "hotfix", "paused: Argo CD reconciled and left the hotfix");
        const wait = Date.parse(expires) - Date.now() + 1500;
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const t0 = Date.now();
        const r = await runContainer(cluster!, job);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /break-glass expired: namespace shop-prod governed again/);
        assert.match(r.stdout, /break-glass expired: automated sync of Application shop-prod back on/);
        assert.equal(until(), "");
        assert.equal(automated(), "true");
        await eventually("Argo CD's controller to revert the hotfix to Git", 180, () => message() === "hello");
        step(`[measure] expiry job run to hotfix reverted by Argo CD: ${Math.round((Date.now() - t0) / 100) / 10}s`);
    });
});
