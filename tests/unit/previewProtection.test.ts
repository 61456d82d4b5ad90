import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { RecordedResource, installMocks, settle, valueOf } from "../../scripts/lib/mockRuntime";

// Each suite installs fresh mocks in its `before` (suites of several files share one process).
let recorded: RecordedResource[] = [];

import { GitOpsService } from "../../components/GitOpsService";
import { PreviewEnvironments, renderPreviewDeletePolicy } from "../../components/previews/PreviewEnvironments";
import { environmentPresets } from "../../stacks/presets";

describe("preview Applications outlive a deleted ApplicationSet", () => {
    before(() => {
        recorded = installMocks("unit");
    });
    before(async () => {
        const previews = new PreviewEnvironments("shop-previews", {
            service: "shop",
            argoNamespace: "argocd",
            project: "shop",
            github: { owner: "acme", repo: "shop", token: pulumi.secret("t") },
            source: { repoURL: "https://github.com/acme/shop.git", path: "deploy/chart" },
            syncPolicy: environmentPresets.preview.syncPolicy,
        });
        await valueOf(previews.applicationSetName);
        await settle(recorded);
    });

    it("only the ApplicationSet controller and break-glass may delete this service's previews; the binding always denies", () => {
        const policy = recorded.find((r) => r.type === "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy");
        const binding = recorded.find((r) => r.type === "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding");
        assert.equal(policy?.inputs.metadata.name, "gitops-control-keep-previews-shop");
        assert.deepEqual(policy.inputs.spec.matchConstraints.resourceRules, [
            { apiGroups: ["argoproj.io"], apiVersions: ["*"], resources: ["applications"], operations: ["DELETE"] },
        ]);
        const [scope, who] = policy.inputs.spec.matchConditions as { expression: string }[];
        assert.match(scope!.expression, /request.namespace == 'argocd'/);
        assert.match(scope!.expression, /oldObject.metadata.labels\['env'\] == 'preview'/);
        assert.match(scope!.expression, /oldObject.metadata.labels\['gitops-control.io\/service'\] == 'shop'/);
        assert.match(who!.expression, /request.userInfo.username != 'system:serviceaccount:argocd:argocd-applicationset-controller'/);
        assert.match(who!.expression, /\["gitops-control:break-glass"\]/);
        assert.deepEqual(binding?.inputs.spec, { policyName: "gitops-control-keep-previews-shop", validationActions: ["Deny"] });
    });

    it("names other groups when asked", () => {
        const rendered = renderPreviewDeletePolicy({ service: "cart", argoNamespace: "gitops", previewDeleteGroups: ["sre"] });
        assert.match(rendered.spec.matchConditions[1]!.expression, /'system:serviceaccount:gitops:argocd-applicationset-controller'[\s\S]*\["sre"\]/);
    });
});

describe("a service's project may create exactly its own namespaces", () => {
    before(() => {
        recorded = installMocks("unit");
    });
    it("whitelists Namespace by name: one per environment; the preview glob only in the previews' own project", async () => {
        const service = new GitOpsService("cart", {
            team: "storefront",
            argoNamespace: "argocd",
            source: { repoURL: "https://github.com/acme/cart.git", path: "deploy/chart" },
            environments: [{ name: "staging", targetRevision: "main", syncPolicy: environmentPresets.staging.syncPolicy, namespace: "cart-staging" }],
            previews: { github: { owner: "acme", repo: "cart", token: pulumi.secret("t") }, syncPolicy: environmentPresets.preview.syncPolicy },
        });
        await valueOf(service.projectName);
        await settle(recorded);
        const project = recorded.find((r) => r.type === "kubernetes:argoproj.io/v1alpha1:AppProject" && r.inputs.metadata.name === "cart");
        assert.deepEqual(project?.inputs.spec.clusterResourceWhitelist, [{ group: "", kind: "Namespace", name: "cart-staging" }]);
        assert.deepEqual(project?.inputs.spec.destinations, [{ server: "https://kubernetes.default.svc", namespace: "cart-staging" }]);
        const previews = recorded.find((r) => r.type === "kubernetes:argoproj.io/v1alpha1:AppProject" && r.inputs.metadata.name === "cart-previews");
        assert.deepEqual(previews?.inputs.spec.clusterResourceWhitelist, [{ group: "", kind: "Namespace", name: "cart-pr-*" }]);
        assert.deepEqual(previews?.inputs.spec.destinations, [{ server: "https://kubernetes.default.svc", namespace: "cart-pr-*" }]);
    });
});
