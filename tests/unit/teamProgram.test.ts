import assert from "node:assert/strict";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { RecordedResource, installMocks, repoRoot, settle, valueOf } from "../../scripts/lib/mockRuntime";

let resources: RecordedResource[];
let exports: Record<string, unknown>;

describe("a team's own program (examples/team-service) using GitOpsService", () => {
    before(async () => {
        resources = installMocks("dev", { project: "team-service" });
        pulumi.runtime.setAllConfig({ "team-service:githubToken": "ghp_team", "team-service:prodRevision": "v3.2.0" }, ["team-service:githubToken"]);
        exports = await import(path.join(repoRoot, "examples", "team-service", "index.ts"));
        await settle(resources);
    });

    it("creates the project, one Application per environment and the previews", async () => {
        const types = resources.filter((r) => r.type.startsWith("kubernetes:argoproj.io")).map((r) => `${r.type.split(":").pop()}/${r.inputs.metadata.name}`);
        assert.deepEqual(types.sort(), ["AppProject/inventory", "Application/inventory-prod", "Application/inventory-staging", "ApplicationSet/inventory-previews"]);
        assert.deepEqual(await valueOf(exports.applications as pulumi.Output<Record<string, string>>), { staging: "inventory-staging", prod: "inventory-prod" });
        assert.equal(await valueOf(exports.previews as pulumi.Output<string>), "inventory-previews");
    });

    it("applies the environment presets and the team's override", () => {
        const app = (name: string) => resources.find((r) => r.inputs?.metadata?.name === name && r.type === "kubernetes:argoproj.io/v1alpha1:Application")!.inputs.spec;
        assert.deepEqual(app("inventory-prod").syncPolicy.automated, { enabled: true, prune: true, selfHeal: true, allowEmpty: false });
        assert.equal(app("inventory-prod").syncPolicy.retry.limit, 8);
        assert.equal(app("inventory-prod").source.targetRevision, "v3.2.0");
        assert.equal(app("inventory-prod").revisionHistoryLimit, 20);
        assert.deepEqual(app("inventory-prod").source.helm.valueFiles, ["values-prod.yaml"]);
        assert.deepEqual(app("inventory-staging").syncPolicy.automated, { enabled: true, prune: true, selfHeal: false, allowEmpty: false });
    });

    it("keeps the project least-privilege: its repo, its namespaces and its preview glob only", () => {
        const project = resources.find((r) => r.type === "kubernetes:argoproj.io/v1alpha1:AppProject")!.inputs.spec;
        assert.deepEqual(project.sourceRepos, ["https://github.com/acme/inventory.git"]);
        assert.deepEqual(project.destinations.map((d: { namespace: string }) => d.namespace), ["inventory-staging", "inventory-prod", "inventory-pr-*"]);
    });

    it("passes the team's provider to every Kubernetes child", () => {
        for (const r of resources.filter((x) => x.type.startsWith("kubernetes:"))) {
            assert.match(r.provider ?? "", /::cluster::/, `${r.type} ${r.name}`);
        }
    });
});
