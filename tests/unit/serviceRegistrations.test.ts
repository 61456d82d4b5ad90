import assert from "node:assert/strict";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { movedOutOfComponent } from "../../components/core/options";
import { installMocks, readStackFile, renderProgram, repoRoot, settle, valueOf } from "../../scripts/lib/mockRuntime";

/**
 * GitOpsService holds its AppProject, Application and preview objects directly (no wrapper
 * components: half the registrations, steps and checkpoints per service), and each carries
 * an alias to the URN it had under the wrapper, so stacks created before keep their objects. What
 * the engine makes of the alias is proven by tests/integration/flattenAliases.test.ts.
 */
interface Registration {
    readonly type: string;
    readonly name: string;
    readonly parent: string;
    /** Aliases as full URNs (string aliases) or as the parent URN of an alias spec. */
    readonly aliases: readonly string[];
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { MockMonitor } = require("@pulumi/pulumi/runtime/mocks") as { MockMonitor: { prototype: { registerResource(req: RegisterRequest, cb: unknown): Promise<void> } } };
interface RegisterRequest {
    getType(): string;
    getName(): string;
    getParent(): string;
    getAliasesList(): { getUrn(): string; getSpec(): { getParenturn(): string } | undefined }[];
}

describe("GitOpsService registrations (staging stack under mocks)", () => {
    const registrations: Registration[] = [];
    const original = MockMonitor.prototype.registerResource;
    before(async () => {
        MockMonitor.prototype.registerResource = function (req, cb) {
            registrations.push({
                type: req.getType(),
                name: req.getName(),
                parent: req.getParent(),
                aliases: req.getAliasesList().map((a) => a.getUrn() || `parent ${a.getSpec()?.getParenturn()}`),
            });
            return original.call(this, req, cb);
        };
        await renderProgram("staging", readStackFile(path.join(repoRoot, "Pulumi.staging.yaml")));
    });
    after(() => {
        MockMonitor.prototype.registerResource = original;
    });

    const servicePrefix = "urn:pulumi:staging::gitops-control::gitops-control:index:ControlPlane$gitops-control:service:GitOpsService";

    it("registers no AppProject, GitOpsApplication or PreviewEnvironments wrapper components", () => {
        const types = new Set(registrations.map((r) => r.type));
        assert.ok(types.has("gitops-control:service:GitOpsService"));
        assert.ok(!types.has("gitops-control:argocd:AppProject"));
        assert.ok(!types.has("gitops-control:argocd:GitOpsApplication"));
        assert.ok(!types.has("gitops-control:argocd:PreviewEnvironments"));
    });

    it("parents the AppProject to the service, aliased to its URN under the old AppProject component", () => {
        const project = registrations.find((r) => r.type === "kubernetes:argoproj.io/v1alpha1:AppProject" && r.name === "payments-api-project")!;
        assert.equal(project.parent, `${servicePrefix}::payments-api`);
        assert.deepEqual(project.aliases, [`${servicePrefix}$gitops-control:argocd:AppProject$kubernetes:argoproj.io/v1alpha1:AppProject::payments-api-project`]);
    });

    it("parents each Application to the service, aliased to its URN under the old GitOpsApplication component", () => {
        const apps = registrations.filter((r) => r.type === "kubernetes:argoproj.io/v1alpha1:Application" && r.name.startsWith("payments-api-"));
        assert.ok(apps.length > 0);
        for (const app of apps) {
            const env = app.name.replace(/^payments-api-|-app$/g, "");
            assert.equal(app.parent, `${servicePrefix}::payments-api`);
            assert.deepEqual(app.aliases, [`${servicePrefix}$gitops-control:argocd:GitOpsApplication$kubernetes:argoproj.io/v1alpha1:Application::payments-api-${env}-app`]);
        }
    });

    it("parents each preview object to the service, aliased to its URN under the old PreviewEnvironments component", () => {
        const expected = [
            ["kubernetes:core/v1:Secret", "payments-api-previews-scm-token"],
            ["kubernetes:argoproj.io/v1alpha1:ApplicationSet", "payments-api-previews-appset"],
            ["kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy", "payments-api-previews-keep"],
            ["kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding", "payments-api-previews-keep"],
        ];
        for (const [type, name] of expected) {
            const object = registrations.find((r) => r.type === type && r.name === name);
            assert.ok(object, `${type} ${name} registered`);
            assert.equal(object.parent, `${servicePrefix}::payments-api`);
            // The admission classes carry the provider's own aliases (older API versions) after ours.
            assert.equal(object.aliases[0], `${servicePrefix}$gitops-control:argocd:PreviewEnvironments$${type}::${name}`);
            assert.ok(
                object.aliases.slice(1).every((a) => !a.includes("$gitops-control:argocd:")),
                object.aliases.join(", "),
            );
        }
    });
});

describe("movedOutOfComponent: the alias to a child's URN under its old wrapper", () => {
    before(() => {
        installMocks("unit", { project: "proj" });
    });
    const child = { type: "kubernetes:core/v1:Secret", name: "svc-token" };

    it("is a plain string when the parent chain is known at construction (no output per alias)", async () => {
        const outer = new pulumi.ComponentResource("test:index:Outer", "outer");
        const service = new pulumi.ComponentResource("test:index:Service", "svc", {}, { parent: outer });
        const [alias] = movedOutOfComponent(service, "test:index:Wrapper", child).aliases!;
        assert.equal(alias, "urn:pulumi:unit::proj::test:index:Outer$test:index:Service$test:index:Wrapper$kubernetes:core/v1:Secret::svc-token");
        // The string is the URN the engine gives the parent (here the mock monitor).
        assert.equal(await valueOf(service.urn), "urn:pulumi:unit::proj::test:index:Outer$test:index:Service::svc");
        // Let both components' registrations (and their automatic registerOutputs) finish under these
        // mocks: the next file's installMocks would otherwise receive them (unhandled "unknown resource").
        await valueOf(outer.urn);
        await settle([]);
    });

    it("waits for the parent's URN when the chain is not known (a parent given by URN only)", async () => {
        const parent = new pulumi.DependencyResource("urn:pulumi:unit::proj::test:index:Outer$test:index:Service::svc");
        const [alias] = movedOutOfComponent(parent, "test:index:Wrapper", child).aliases!;
        assert.ok(pulumi.Output.isInstance(alias));
        assert.equal(
            await valueOf(alias as pulumi.Output<string>),
            "urn:pulumi:unit::proj::test:index:Outer$test:index:Service$test:index:Wrapper$kubernetes:core/v1:Secret::svc-token",
        );
    });
});
