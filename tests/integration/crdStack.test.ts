import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Stack } from "@pulumi/pulumi/automation";
import { argoCdCrdNames, argoCdVersion } from "../../components/argocd/ArgoCdCrds";
import { StackOptions, openStack } from "../../scripts/lib/engine";
import { LocalCluster, kubectl, kubectlOk, localPassphrase, startCluster, step } from "./support";

/**
 * The Argo CD CRDs in their own stack, as prod and staging run them (Pulumi.<env>-crds.yaml), with
 * the real engine, file backend and API server: `local-crds` (layer crds) installs the CRDs, the
 * `local` stack with `argocd.crds.stack: local-crds` carries none and checks the CRD stack's version
 * before its chart. It starts from a `local` stack that installed the CRDs itself (every stack
 * before this change) and follows the README's migration: nothing is deleted on the way, every CRD
 * and Application keeps its uid.
 */
describe("the Argo CD CRDs in their own stack, migrated from an existing stack (real engine, real API server)", { timeout: 15 * 60 * 1000 }, () => {
    let cluster: LocalCluster;
    let stateDir: string;
    let crdStack: Stack;
    let platform: Stack;
    const splitConfig = { argocd: { namespace: "argocd", crds: { stack: "local-crds" } } };
    /** The local stack as it was before it named a CRD stack (and as any stack was before CRD stacks existed). */
    const unsplitConfig = { argocd: { namespace: "argocd" } };
    const stackOptions = (stackName: string): StackOptions => ({
        stackName,
        backendUrl: `file://${stateDir}`,
        passphrase: localPassphrase,
        kubeconfig: cluster.kubeconfig,
        disposableState: true,
    });
    const open = (stackName: string, configOverrides: Record<string, unknown> = {}) => openStack({ ...stackOptions(stackName), configOverrides });
    /** uid of every Argo CD CRD and Application, by kind/name. */
    const uids = () =>
        kubectlOk(cluster, ["get", "crd", ...argoCdCrdNames, "-o", 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.uid}{"\\n"}{end}']) +
        kubectlOk(cluster, ["get", "applications.argoproj.io", "-n", "argocd", "-o", 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.uid}{"\\n"}{end}']);
    const stateFile = (stack: string) => path.join(stateDir, ".pulumi", "stacks", "gitops-control", `${stack}.json`);
    const typesInState = (stack: string) =>
        (JSON.parse(fs.readFileSync(stateFile(stack), "utf8")) as { checkpoint: { latest: { resources?: { type: string }[] } } }).checkpoint.latest.resources?.map((r) => r.type) ??
        [];
    const crdsIn = (stack: string) => typesInState(stack).filter((t) => t === "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition").length;
    let before0 = "";
    let stateSize0 = 0;

    before(async () => {
        cluster = startCluster();
        stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-crd-stack-"));
        // The stack as every stack was before: the CRDs in its own state (local: retained on delete).
        const existing = await open("local", unsplitConfig);
        await existing.up();
        before0 = uids();
        assert.equal(before0.split("\n").filter((l) => l.startsWith("CustomResourceDefinition/")).length, 3);
        assert.match(before0, /Application\/payments-api-staging=/);
        assert.equal(crdsIn("local"), 3);
        stateSize0 = typesInState("local").length;
        // The CRD stack exists (stack init) but has never run.
        crdStack = await open("local-crds");
        platform = await open("local", splitConfig);
    });

    after(() => {
        cluster?.stop();
        if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
    });

    it("switched before its CRD stack ran: preview warns, up fails naming the key and the fix, and nothing is deleted", async () => {
        let previewOutput = "";
        await platform.preview({ onOutput: (out) => (previewOutput += out) });
        assert.match(previewOutput, /`gitops-control:argocd\.crds\.stack` names stack "organization\/gitops-control\/local-crds", which exports no argoCdVersion/);
        assert.match(previewOutput, /a warning in preview, an error in up/);

        // In a process of its own, as the CLI runs a program (fixtures/upInChild.ts).
        const child = spawnSync(
            process.execPath,
            ["--import", "tsx", path.join(__dirname, "fixtures", "upInChild.ts"), JSON.stringify({ ...stackOptions("local"), configOverrides: splitConfig })],
            { encoding: "utf8", timeout: 5 * 60 * 1000 },
        );
        assert.equal(child.status, 1, `up did not fail:\n${child.stdout}\n${child.stderr}`);
        assert.match(child.stderr, /which exports no argoCdVersion: the Argo CD CRDs are not installed there\. Fix: run `pulumi up --stack local-crds` first/);
        // Only the read of the CRD stack (a StackReference, which owns nothing) may have joined the state.
        assert.equal(typesInState("local").filter((t) => t !== "pulumi:pulumi:StackReference").length, stateSize0, "the failed up changed the state");
        assert.equal(uids(), before0, "a CRD or Application was deleted or replaced");
        assert.equal(crdsIn("local"), 3, "the failed up dropped the CRDs from the state");
    });

    it("up of the CRD stack adopts the live CRDs (server-side apply), marks them kept and exports their version", async () => {
        const result = await crdStack.up();
        assert.equal(result.outputs.argoCdVersion?.value, argoCdVersion);
        assert.equal(uids(), before0);
        assert.equal(crdsIn("local-crds"), 3);
        for (const name of argoCdCrdNames) {
            assert.equal(kubectlOk(cluster, ["get", "crd", name, "-o", "jsonpath={.metadata.annotations.helm\\.sh/resource-policy}"]), "keep", name);
        }
    });

    it("then the platform stack's up drops the CRDs from its state only: retained in the cluster, every uid kept", async () => {
        const result = await platform.up();
        assert.equal(result.summary.result, "succeeded");
        assert.equal(uids(), before0, "a CRD or Application was deleted or replaced");
        const types = typesInState("local");
        assert.ok(types.includes("kubernetes:helm.sh/v4:Chart") && types.includes("pulumi:pulumi:StackReference"));
        assert.ok(!types.some((t) => t.includes("CustomResourceDefinition") || t === "kubernetes:yaml/v2:ConfigGroup"), "a CRD in the platform state");
        const kb = (stack: string) => Math.round(fs.statSync(stateFile(stack)).size / 1024);
        step(`[measure] state size: local ${kb("local")} KiB, local-crds ${kb("local-crds")} KiB`);
        // A second up changes nothing.
        const again = await platform.up();
        assert.deepEqual(Object.keys(again.summary.resourceChanges ?? {}), ["same"]);
    });

    it("destroying both stacks leaves the CRDs in the cluster (retained on delete)", async () => {
        // No Argo CD controller runs here to release its cascade finalizer (tests/integration/reconcilers.test.ts runs them).
        for (const app of kubectlOk(cluster, ["get", "applications.argoproj.io", "-n", "argocd", "-o", "name"]).split("\n").filter(Boolean)) {
            kubectlOk(cluster, ["patch", app, "-n", "argocd", "--type", "merge", "-p", '{"metadata":{"finalizers":null}}']);
        }
        await platform.destroy();
        await crdStack.destroy();
        assert.equal(kubectl(cluster, ["get", "crd", ...argoCdCrdNames]).code, 0);
    });
});
