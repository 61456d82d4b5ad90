import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Stack } from "@pulumi/pulumi/automation";
import { argoCdCrdNames, argoCdVersion } from "../../components/ArgoCdCrds";
import { openStack } from "../../scripts/lib/engine";
import { LocalCluster, kubectl, kubectlOk, localPassphrase, startCluster, step } from "./support";

/**
 * The Argo CD CRDs in their own stack, as prod and staging run them (Pulumi.<env>-crds.yaml), with
 * the real engine, file backend and API server: `local-crds` (layer crds) installs the CRDs, the
 * `local` stack with `argocd.crds.stack: local-crds` carries none and checks the CRD stack's version
 * before its chart. The order deploy.yml runs them in, and what happens when it is not kept.
 */
describe("the Argo CD CRDs in their own stack (real engine, real API server)", { timeout: 15 * 60 * 1000 }, () => {
    let cluster: LocalCluster;
    let stateDir: string;
    let crdStack: Stack;
    let platform: Stack;
    const open = (stackName: string, configOverrides: Record<string, unknown> = {}) =>
        openStack({ stackName, backendUrl: `file://${stateDir}`, passphrase: localPassphrase, kubeconfig: cluster.kubeconfig, configOverrides });
    const crdNamesInCluster = () =>
        kubectlOk(cluster, ["get", "crd", "-o", "jsonpath={.items[*].metadata.name}"])
            .split(" ")
            .filter((n) => n.endsWith(".argoproj.io"))
            .sort();
    const stateFile = (stack: string) => path.join(stateDir, ".pulumi", "stacks", "gitops-control", `${stack}.json`);
    const typesInState = (stack: string) =>
        (JSON.parse(fs.readFileSync(stateFile(stack), "utf8")) as { checkpoint: { latest: { resources?: { type: string }[] } } }).checkpoint.latest.resources?.map(
            (r) => r.type,
        ) ?? [];

    before(async () => {
        cluster = startCluster();
        stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-crd-stack-"));
        // The CRD stack exists (stack init) but has never run: what a first deploy that skipped it sees.
        crdStack = await open("local-crds");
        platform = await open("local", { argocd: { namespace: "argocd", crds: { stack: "local-crds" } } });
    });

    after(() => {
        cluster?.stop();
        if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
    });

    it("before the CRD stack ran: preview warns, up fails naming the key and the fix, and no chart object is created", async () => {
        let previewOutput = "";
        await platform.preview({ onOutput: (out) => (previewOutput += out) });
        assert.match(previewOutput, /`argocd\.crds\.stack` names stack "organization\/gitops-control\/local-crds", which exports no argoCdVersion/);
        assert.match(previewOutput, /a warning in preview, an error in up/);

        let upOutput = "";
        await assert.rejects(
            platform.up({ onOutput: (out) => (upOutput += out) }),
            (e: Error) => /which exports no argoCdVersion: the Argo CD CRDs are not installed there\. Fix: run `pulumi up --stack local-crds` first/.test(e.message + upOutput),
        );
        // The chart waits for the check: none of its objects exist, and neither do the CRDs nor any Application.
        assert.equal(kubectl(cluster, ["get", "deployment", "argocd-server", "-n", "argocd"]).code, 1);
        assert.equal(kubectl(cluster, ["get", "configmap", "argocd-cm", "-n", "argocd"]).code, 1);
        assert.deepEqual(crdNamesInCluster(), []);
        assert.ok(!typesInState("local").includes("kubernetes:helm.sh/v4:Chart"), "the chart reached the state");
    });

    it("up of the CRD stack installs the three CRDs, marked kept, and exports their version", async () => {
        const result = await crdStack.up();
        assert.equal(result.outputs.argoCdVersion?.value, argoCdVersion);
        assert.deepEqual(crdNamesInCluster(), [...argoCdCrdNames]);
        for (const name of argoCdCrdNames) {
            assert.equal(kubectlOk(cluster, ["get", "crd", name, "-o", "jsonpath={.metadata.annotations.helm\\.sh/resource-policy}"]), "keep", name);
        }
    });

    it("then the platform stack comes up and its state carries no CRD", async () => {
        const result = await platform.up();
        assert.equal(result.summary.result, "succeeded");
        kubectlOk(cluster, ["get", "configmap", "argocd-cm", "-n", "argocd"]);
        // The Applications of the stack file were applied against the CRD stack's CRDs.
        assert.match(kubectlOk(cluster, ["get", "applications.argoproj.io", "-n", "argocd", "-o", "name"]), /payments-api-staging/);
        const types = typesInState("local");
        assert.ok(types.includes("kubernetes:helm.sh/v4:Chart") && types.includes("pulumi:pulumi:StackReference"));
        assert.ok(!types.some((t) => t.includes("CustomResourceDefinition") || t === "kubernetes:yaml/v2:ConfigGroup"), "a CRD in the platform state");
        assert.ok(typesInState("local-crds").filter((t) => t === "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition").length === 3);
        const kb = (stack: string) => Math.round(fs.statSync(stateFile(stack)).size / 1024);
        step(`[measure] state size: local ${kb("local")} KiB, local-crds ${kb("local-crds")} KiB`);
        assert.ok(kb("local") < kb("local-crds"), "the platform state is larger than the CRDs' own");
    });

    it("destroying both stacks leaves the CRDs in the cluster (retained on delete): nothing else is lost with them", async () => {
        // No Argo CD controller runs here to release its cascade finalizer (tests/integration/reconcilers.test.ts runs them).
        for (const app of kubectlOk(cluster, ["get", "applications.argoproj.io", "-n", "argocd", "-o", "name"]).split("\n").filter(Boolean)) {
            kubectlOk(cluster, ["patch", app, "-n", "argocd", "--type", "merge", "-p", '{"metadata":{"finalizers":null}}']);
        }
        await platform.destroy();
        await crdStack.destroy();
        assert.deepEqual(crdNamesInCluster(), [...argoCdCrdNames]);
    });
});
