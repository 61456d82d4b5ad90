import assert from "node:assert/strict";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { RecordedResource, readStackFile, renderProgram, repoRoot, valueOf } from "../../scripts/lib/mockRuntime";

let resources: RecordedResource[];
let exports: Record<string, unknown>;

/**
 * The local stack has previews but no GitHub management (`github.webhookUrl` unset): the webhook
 * secret still exists, lands in argocd-secret and is exported as a secret, so a hook configured by
 * hand (or the tests' GitHub double) can sign deliveries the ApplicationSet controller accepts.
 */
describe("preview webhook secret without GitHub management (Pulumi.local.yaml)", () => {
    before(async () => {
        ({ resources, exports } = await renderProgram("local", readStackFile(path.join(repoRoot, "Pulumi.local.yaml"))));
    });

    it("is generated, set as webhook.github.secret in argocd-secret, and exported only as a secret", async () => {
        assert.equal(resources.filter((r) => r.type.startsWith("github:")).length, 0, "no github provider is loaded");
        const secret = resources.find((r) => r.type === "kubernetes:core/v1:Secret" && r.inputs.metadata.name === "argocd-secret");
        assert.equal(secret?.inputs.stringData["webhook.github.secret"], "mock-password-gitops-github-webhook-secret");
        const output = exports.previewWebhookSecret as pulumi.Output<string>;
        assert.ok(pulumi.Output.isInstance(output));
        assert.equal(await (output as unknown as { isSecret: Promise<boolean> }).isSecret, true, "exported as a secret");
        assert.equal(await valueOf(output), "mock-password-gitops-github-webhook-secret");
    });
});
