import assert from "node:assert/strict";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { RecordedResource, readStackFile, renderProgram, repoRoot } from "../../scripts/lib/mockRuntime";

/**
 * Every Argo CD object the program renders is validated against the typed Argo CD v3 models'
 * JSON schemas (@kubernetes-models/argo-cd): wrong types and missing required fields fail here,
 * before an API server sees them.
 */
type Model = new (data: unknown) => { validate(): void };
let models: Record<string, Model>;
let rendered: RecordedResource[] = [];

describe("rendered Argo CD objects satisfy the Argo CD v3 models", () => {
    before(async () => {
        const v1alpha1 = (await import("@kubernetes-models/argo-cd/argoproj.io/v1alpha1")) as unknown as Record<string, Model>;
        models = { Application: v1alpha1.Application, ApplicationSet: v1alpha1.ApplicationSet, AppProject: v1alpha1.AppProject };
        ({ resources: rendered } = await renderProgram("staging", readStackFile(path.join(repoRoot, "Pulumi.staging.yaml"))));
    });

    it("validates Applications, ApplicationSets and AppProjects", () => {
        const argo = rendered.filter((r) => r.type.startsWith("kubernetes:argoproj.io/v1alpha1:"));
        assert.deepEqual([...new Set(argo.map((r) => r.inputs.kind))].sort(), ["AppProject", "Application", "ApplicationSet"]);
        for (const r of argo) {
            assert.doesNotThrow(() => new models[r.inputs.kind](r.inputs).validate(), `${r.inputs.kind} ${r.inputs.metadata.name}`);
        }
    });

    it("the validation catches a wrong type (the check is not vacuous)", () => {
        const app = rendered.find((r) => r.inputs.kind === "Application")!.inputs;
        const broken = { ...app, spec: { ...app.spec, revisionHistoryLimit: "ten" } };
        assert.throws(() => new models.Application(broken).validate(), /revisionHistoryLimit/);
    });
});
