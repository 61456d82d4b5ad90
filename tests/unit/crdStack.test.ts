/**
 * The Argo CD CRDs in their own stack (issue 12): the `crds` layer installs only them, protected in
 * prod; a platform stack with `argocd.crds.stack` carries none and checks the CRD stack's
 * `argoCdVersion` before its chart. The real engine and API server run the pair in
 * tests/integration/crdStack.test.ts.
 */
import assert from "node:assert/strict";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { ArgoCd } from "../../components/argocd/ArgoCd";
import { argoCdCrdFiles, argoCdVersion, checkCrdStackVersion, protectCrds, retainCrds } from "../../components/argocd/ArgoCdCrds";
import { stackProgram } from "../../stacks/program";
import { RecordedResource, installMocks, readStackFile, registeredTransforms, renderProgram, repoRoot, settle, valueOf } from "../../scripts/lib/mockRuntime";

const release = (file: string) => `https://raw.githubusercontent.com/argoproj/argo-cd/${argoCdVersion}/manifests/crds/${file}`;

describe("a crds stack (Pulumi.prod-crds.yaml) installs the Argo CD CRDs and nothing else", () => {
    let resources: RecordedResource[];
    let exports: Record<string, unknown>;
    before(async () => {
        ({ resources, exports } = await renderProgram("prod-crds", readStackFile(path.join(repoRoot, "Pulumi.prod-crds.yaml"))));
    });

    it("registers the CRD ConfigGroup of the release, protected and retained (prod)", () => {
        const groups = resources.filter((r) => r.type === "kubernetes:yaml/v2:ConfigGroup");
        assert.deepEqual(
            groups.map((g) => g.inputs.files),
            [argoCdCrdFiles.map(release)],
        );
        assert.deepEqual(registeredTransforms, [protectCrds]);
    });

    it("registers nothing else: no namespace, chart, guardrail or Application", () => {
        assert.deepEqual(resources.map((r) => r.type).sort(), ["gitops-control:argocd:ArgoCdCrds", "kubernetes:yaml/v2:ConfigGroup", "pulumi:providers:kubernetes"]);
    });

    it("exports the Argo CD version its CRDs are, for the platform stack's check", async () => {
        assert.equal(await valueOf(exports.argoCdVersion as pulumi.Output<string>), argoCdVersion);
        assert.deepEqual(await valueOf(exports.crds as pulumi.Output<string[]>), ["applications.argoproj.io", "applicationsets.argoproj.io", "appprojects.argoproj.io"]);
    });
});

describe("the staging crds stack retains its CRDs but does not protect them", () => {
    before(async () => {
        await renderProgram("staging-crds", readStackFile(path.join(repoRoot, "Pulumi.staging-crds.yaml")));
    });
    it("registers the retaining transform", () => {
        assert.deepEqual(registeredTransforms, [retainCrds]);
    });
});

/** An ArgoCd whose CRDs are another stack's, under mocks whose CRD stack exports `outputs`. */
async function argoCdAgainst(outputs: Record<string, unknown>, preview: boolean) {
    const recorded = installMocks("prod", { preview, stackReferences: { "organization/gitops-control/prod-crds": outputs } });
    const argo = new ArgoCd("argocd", { crds: { kind: "stack", stack: "prod-crds" } });
    const chartValues = valueOf(argo.chart.urn).then(
        () => "registered",
        (e: Error) => e.message,
    );
    await settle(recorded);
    return { recorded, chart: await chartValues };
}

/** What the CRD-stack check says in `up` about a CRD stack exporting `installed` ("passed" when it passes). */
function upCheck(installed: unknown): string {
    try {
        return checkCrdStackVersion(installed, "prod-crds", "argocd.crds.stack", false) ? "passed" : "failed";
    } catch (e) {
        return (e as Error).message;
    }
}

describe("a platform stack checks its CRD stack's version before the chart", () => {
    // The check names the CRD stack by its qualified name, which needs the (mock) runtime's organization and project.
    before(() => installMocks("prod"));

    it("the matching version: the chart registers, and no CRD is carried", async () => {
        const { recorded, chart } = await argoCdAgainst({ argoCdVersion }, false);
        assert.equal(chart, "registered");
        assert.ok(recorded.some((r) => r.type === "kubernetes:helm.sh/v4:Chart"));
        assert.ok(!recorded.some((r) => r.type === "kubernetes:yaml/v2:ConfigGroup"));
        assert.equal(upCheck(argoCdVersion), "passed");
    });

    // In `up` the check's error rejects the chart's values: the chart never registers and the run fails
    // (the real engine: tests/integration/crdStack.test.ts). Here the check is called as the gate calls it.
    it("up against another version: the gate refuses, naming the key and the fix", async () => {
        const message = await upCheck("v3.4.4");
        assert.match(
            message,
            /`argocd\.crds\.stack` names stack "organization\/gitops-control\/prod-crds", which installed the CRDs of Argo CD v3\.4\.4; this program needs v3\.6\.1/,
        );
        assert.match(message, /Fix: run `pulumi up --stack prod-crds` first/);
    });

    it("up against a CRD stack that exports nothing (never up): refused the same way", async () => {
        const message = await upCheck(undefined);
        assert.match(message, /exports no argoCdVersion: the Argo CD CRDs are not installed there\. Fix: run `pulumi up --stack prod-crds`/);
    });

    it("preview against another version (a PR bumping Argo CD): a warning, the chart still previews", async () => {
        const { recorded, chart } = await argoCdAgainst({ argoCdVersion: "v3.4.4" }, true);
        assert.equal(chart, "registered");
        assert.ok(recorded.some((r) => r.type === "kubernetes:helm.sh/v4:Chart"));
    });
});

describe("a platform stack whose argocd.crds.stack names itself", () => {
    it("is refused before any resource is registered, with the key and the fix", async () => {
        const recorded = installMocks("prod");
        pulumi.runtime.setAllConfig({ "gitops-control:environment": "prod", "gitops-control:argocd": JSON.stringify({ crds: { stack: "prod" } }) }, []);
        await assert.rejects(stackProgram(), (e: Error) =>
            /`gitops-control:argocd\.crds\.stack` is "prod", this stack itself, whose layer is platform: its CRDs would never be installed\. Fix: name the stack that installs them \(its `gitops-control:layer` is crds\), e\.g\. prod-crds/.test(
                e.message,
            ),
        );
        await settle(recorded);
        assert.deepEqual(recorded, []);
    });
});
