import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { RecordedResource, installMocks, settle, valueOf } from "../../scripts/lib/mockRuntime";

// Each suite installs fresh mocks in its `before` (suites of several files share one process).
let recorded: RecordedResource[] = [];

import { GitOpsService } from "../../components/GitOpsService";
import { OwnershipFence, renderOwnershipPolicy } from "../../components/guardrails/OwnershipFence";

const argoKinds = ["kubernetes:argoproj.io/v1alpha1:AppProject", "kubernetes:argoproj.io/v1alpha1:Application", "kubernetes:argoproj.io/v1alpha1:ApplicationSet"];

describe("every Argo CD object names the program that owns it", () => {
    before(() => {
        recorded = installMocks("dev", { project: "team-storefront" });
    });
    before(async () => {
        const service = new GitOpsService("checkout", {
            team: "storefront",
            source: { repoURL: "https://github.com/acme/checkout.git", path: "deploy/chart" },
            environments: [{ name: "staging", targetRevision: "main" }],
            previews: { github: { token: pulumi.secret("t") } },
        });
        const named = new GitOpsService("cart", {
            team: "storefront",
            owner: "platform/prod",
            source: { repoURL: "https://github.com/acme/cart.git", path: "deploy/chart" },
            environments: [{ name: "staging", targetRevision: "main" }],
        });
        await valueOf(service.projectName);
        await valueOf(named.projectName);
        await settle(recorded);
    });

    it("defaults to the running program's <project>/<stack>: AppProject, Applications and the ApplicationSet alike", () => {
        const objects = recorded.filter((r) => argoKinds.includes(r.type) && String(r.inputs.metadata.name).startsWith("checkout"));
        // The service's project and its previews' project, the Application, the ApplicationSet.
        assert.deepEqual(objects.map((r) => r.type).sort(), [...argoKinds, "kubernetes:argoproj.io/v1alpha1:AppProject"].sort());
        for (const r of objects) assert.equal(r.inputs.metadata.annotations["gitops-control.io/owner"], "team-storefront/dev", r.name);
    });

    it("takes an explicit owner", () => {
        const objects = recorded.filter((r) => argoKinds.includes(r.type) && String(r.inputs.metadata.name).startsWith("cart"));
        assert.equal(objects.length, 2);
        for (const r of objects) assert.equal(r.inputs.metadata.annotations["gitops-control.io/owner"], "platform/prod", r.name);
    });

    it("refuses a malformed owner before any resource, naming the argument and the fix", () => {
        const before = recorded.length;
        assert.throws(
            () =>
                new GitOpsService("basket", {
                    team: "storefront",
                    owner: "two words",
                    source: { repoURL: "https://github.com/acme/basket.git", path: "deploy/chart" },
                    environments: [{ name: "staging", targetRevision: "main" }],
                }),
            /`args.owner` is "two words".*Fix: name the owning program as "<project>\/<stack>"/,
        );
        assert.equal(recorded.length, before);
    });
});

describe("the ownership fence", () => {
    before(() => {
        recorded = installMocks("dev", { project: "team-storefront" });
    });
    it("denies, always, an update that changes or removes the owner of an owned Argo CD object, except for the transfer groups", async () => {
        const fence = new OwnershipFence("ownership", { argoNamespace: "gitops" });
        await valueOf(fence.policyName);
        await settle(recorded);
        const policy = recorded.find((r) => r.type === "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy" && r.name === "ownership");
        const binding = recorded.find((r) => r.type === "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding" && r.name === "ownership");
        assert.equal(policy?.inputs.metadata.name, "gitops-control-protect-ownership");
        assert.deepEqual(policy.inputs.spec.matchConstraints.resourceRules, [
            { apiGroups: ["argoproj.io"], apiVersions: ["*"], resources: ["appprojects", "applications", "applicationsets"], operations: ["UPDATE"] },
        ]);
        const [owned, group] = policy.inputs.spec.matchConditions as { expression: string }[];
        assert.match(owned!.expression, /^request.namespace == 'gitops' && .*oldObject.metadata.annotations\['gitops-control.io\/owner'\].* != ''/);
        assert.match(group!.expression, /\["gitops-control:break-glass"\]/);
        assert.deepEqual(binding?.inputs.spec, { policyName: "gitops-control-protect-ownership", validationActions: ["Deny"] });
        // 422, not 403: the provider's preview swallows a 403 (it takes it for missing RBAC), so a
        // Forbidden denial would not fail the second program's preview.
        assert.equal(policy.inputs.spec.validations[0].reason, "Invalid");
    });

    it("names other transfer groups in the condition and in the message", () => {
        const spec = renderOwnershipPolicy({ argoNamespace: "argocd", transferGroups: ["platform-admins"] }).spec;
        assert.match(spec.matchConditions[1]!.expression, /\["platform-admins"\]/);
        assert.match(spec.validations[0]!.messageExpression, /member of platform-admins .*--as-group platform-admins/);
    });

    it("refuses an empty transfer group list", () => {
        assert.throws(() => new OwnershipFence("nobody", { argoNamespace: "argocd", transferGroups: [] }), /`args.transferGroups` is empty, so no owner could ever be changed/);
    });
});
