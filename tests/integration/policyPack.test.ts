import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { openStack, repoRoot } from "../../scripts/lib/engine";
import { readStackFile } from "../../scripts/lib/mockRuntime";
import { LocalCluster, LocalStack, localPassphrase, openLocalStack, startCluster, step } from "./support";

/**
 * The policy pack run by the real engine during `pulumi preview` of the `local` stack against a
 * real API server. The CLI built here has no Node.js language host, so the pack is passed as its
 * executable launcher (policy/analyzer.sh), which the CLI starts directly as an analyzer plugin.
 */

const analyzer = path.join(repoRoot, "policy", "analyzer.sh");

let cluster: LocalCluster;
let local: LocalStack;
let scratch: string;
const log: string[] = [];
const onOutput = (out: string) => log.push(out);

/** The local stack with some config keys replaced for one run (a PR's change, without editing the file). */
const withConfig = (configOverrides: Record<string, unknown>) =>
    openStack({ stackName: "local", backendUrl: `file://${local.stateDir}`, passphrase: localPassphrase, kubeconfig: cluster.kubeconfig, configOverrides });

/** Runs a preview with the pack; returns the error text, or undefined when the preview passed. */
async function previewWithPack(stack: LocalStack["stack"], packConfig?: Record<string, unknown>): Promise<string | undefined> {
    const policyPackConfigs: string[] = [];
    if (packConfig) {
        const file = path.join(scratch, `pack-config-${policyPackConfigs.length}-${Date.now()}.json`);
        fs.writeFileSync(file, JSON.stringify(packConfig));
        policyPackConfigs.push(file);
    }
    try {
        await stack.preview({ policyPacks: [analyzer], ...(packConfig ? { policyPackConfigs } : {}), onOutput });
        return undefined;
    } catch (error) {
        return String(error);
    }
}

describe("policy pack in a real preview (local stack)", { timeout: 20 * 60 * 1000 }, () => {
    before(async () => {
        scratch = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-policy-"));
        cluster = startCluster();
        local = await openLocalStack(cluster);
    });

    after(() => {
        if (process.exitCode) console.log(log.join("").split("\n").slice(-80).join("\n"));
        local?.remove();
        cluster?.stop();
        if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
    });

    it("the local stack as committed passes every policy", async () => {
        step("preview with the policy pack");
        const start = log.length;
        const error = await previewWithPack(local.stack);
        assert.equal(error, undefined, `preview failed:\n${error}`);
        const out = log.slice(start).join("");
        // The engine names every pack it ran; without this a silently skipped pack would pass too.
        assert.match(out, /gitops-control@v0\.1\.0/, "the pack ran");
        assert.doesNotMatch(out, /mandatory/i);
    });

    it("a change that weakens a prod Application's sync policy fails the preview", async () => {
        // Allowed by the config validation with a documented reason; the pack still rejects it, so
        // the exception needs a policy exception a reviewer sees, not just a config line.
        const services = JSON.parse(readStackFile(path.join(repoRoot, "Pulumi.local.yaml")).config["gitops-control:services"]) as Record<string, unknown>[];
        const weakened = services.map((s) =>
            s.name === "checkout" ? { ...s, syncPolicy: { automated: { selfHeal: false } }, unsafeSyncPolicyReason: "INC-1234 manual scaling experiment" } : s,
        );
        step("preview with checkout-prod self-heal off");
        const error = await previewWithPack(await withConfig({ services: weakened }));
        assert.ok(error, "the preview must fail");
        assert.match(error, /prod-application-sync-policy/);
        assert.match(error, /checkout-prod.*selfHeal: false/);
    });

    it("the same change passes when the pack config downgrades that policy to advisory", async () => {
        const services = JSON.parse(readStackFile(path.join(repoRoot, "Pulumi.local.yaml")).config["gitops-control:services"]) as Record<string, unknown>[];
        const weakened = services.map((s) =>
            s.name === "checkout" ? { ...s, syncPolicy: { automated: { selfHeal: false } }, unsafeSyncPolicyReason: "INC-1234 manual scaling experiment" } : s,
        );
        step("preview with the exception as policy config");
        const start = log.length;
        const error = await previewWithPack(await withConfig({ services: weakened }), { "prod-application-sync-policy": "advisory" });
        assert.equal(error, undefined, `preview failed:\n${error}`);
        assert.match(log.slice(start).join(""), /selfHeal: false/, "the advisory violation is still reported");
    });

    it("CRDs of a stack the pack treats as prod must be protected: the local CRD stack's are not", async () => {
        step("preview of local-crds (the local stack's CRD stack) with it listed as a prod stack");
        const crds = await local.crdStack();
        const error = await previewWithPack(crds, { "prod-crds-retained": { stacks: ["local-crds"] } });
        assert.ok(error, "the preview must fail");
        assert.match(error, /prod-crds-retained/);
        assert.match(error, /CRD "applications\.argoproj\.io" in stack "local-crds" is not protected/);
    });
});
