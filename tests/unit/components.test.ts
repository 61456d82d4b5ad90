import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { RecordedResource, installMocks, registeredTransforms, settle, valueOf } from "../../scripts/lib/mockRuntime";

// Each suite installs fresh mocks in its `before` (suites of several files share one process).
let recorded: RecordedResource[] = [];

import {
    AdmissionGuardrails,
    AppProject,
    ArgoCd,
    argoCdVersion,
    GitOpsApplication,
    PreviewEnvironments,
    capReplicas,
    environmentPresets,
    protectCrds,
    requirePodSecurityContext,
    retainCrds,
} from "../../components";
import { argoCdCrdFiles, crdFiles } from "../../components/argocd/ArgoCdCrds";
import { renderPreviewApplicationSet } from "../../components/previews/PreviewEnvironments";

const byName = (type: string, name: string) => recorded.find((r) => r.type === type && r.name === name);
const source = { repoURL: "https://github.com/acme/payments-api.git", targetRevision: "v1.0.0", path: "deploy/chart" };

describe("GitOpsApplication", () => {
    let app: GitOpsApplication;
    before(async () => {
        recorded = installMocks("unit");
        app = new GitOpsApplication("payments-api-prod", {
            argoNamespace: "argocd",
            project: "payments-api",
            source: { ...source, helm: { valueFiles: ["values-prod.yaml"], parameters: [{ name: "image.tag", value: "1.0.0" }] } },
            destination: { namespace: "payments-api-prod" },
            syncPolicy: environmentPresets.prod.syncPolicy,
            ignoreDifferences: [{ group: "apps", kind: "Deployment", jsonPointers: ["/spec/replicas"] }],
            revisionHistoryLimit: 7,
        });
        await valueOf(app.applicationName);
        await settle(recorded);
    });

    it("renders every automated switch explicitly", () => {
        const cr = byName("kubernetes:argoproj.io/v1alpha1:Application", "payments-api-prod-app")!;
        assert.deepEqual(cr.inputs.spec.syncPolicy.automated, { enabled: true, prune: true, selfHeal: true, allowEmpty: false });
    });

    it("carries the cascade-delete finalizer, project, destination and history limit", () => {
        const cr = byName("kubernetes:argoproj.io/v1alpha1:Application", "payments-api-prod-app")!;
        assert.deepEqual(cr.inputs.metadata.finalizers, ["resources-finalizer.argocd.argoproj.io"]);
        // Server-side apply takes fields back from kubectl edits instead of conflicting (drift heals);
        // the owner is the running program (the mocks' project/stack), which the OwnershipFence keeps.
        assert.deepEqual(cr.inputs.metadata.annotations, { "pulumi.com/patchForce": "true", "gitops-control.io/owner": "gitops-control/unit" });
        assert.equal(cr.inputs.metadata.namespace, "argocd");
        assert.equal(cr.inputs.spec.project, "payments-api");
        assert.deepEqual(cr.inputs.spec.destination, { server: "https://kubernetes.default.svc", namespace: "payments-api-prod" });
        assert.equal(cr.inputs.spec.revisionHistoryLimit, 7);
        // Argo CD's canonical form: a false forceString is left out, as the controller's own Update of `.operation` leaves it.
        assert.deepEqual(cr.inputs.spec.source.helm.parameters, [{ name: "image.tag", value: "1.0.0" }]);
    });

    it("is parented to the component (child of the component's URN)", async () => {
        const urn = await valueOf(app.application.urn);
        assert.match(urn, /gitops-control:argocd:GitOpsApplication\$kubernetes:argoproj.io\/v1alpha1:Application::payments-api-prod-app$/);
    });

    it("rejects bad args before registering anything", () => {
        const before = recorded.length;
        assert.throws(
            () =>
                new GitOpsApplication("bad", {
                    argoNamespace: "argocd",
                    project: "p",
                    source: { ...source, repoURL: "github.com/acme/x" },
                    destination: { namespace: "x" },
                    syncPolicy: environmentPresets.prod.syncPolicy,
                }),
            /`args.source.repoURL` is "github.com\/acme\/x", not a Git URL.*Fix:/,
        );
        assert.throws(
            () =>
                new GitOpsApplication("bad2", {
                    argoNamespace: "argocd",
                    project: "p",
                    source,
                    destination: { namespace: "x" },
                    syncPolicy: { ...environmentPresets.prod.syncPolicy, syncOptions: ["ServerSideApply=true", "ServerSideApply=false"] },
                }),
            /`args.syncPolicy.syncOptions` sets ServerSideApply twice/,
        );
        assert.throws(
            () =>
                new GitOpsApplication("bad3", {
                    argoNamespace: "argocd",
                    project: "p",
                    source,
                    destination: { namespace: "x" },
                    syncPolicy: environmentPresets.prod.syncPolicy,
                    ignoreDifferences: [{ kind: "Deployment" }],
                }),
            /`args.ignoreDifferences\[0\]` ignores nothing on Deployment/,
        );
        assert.equal(recorded.length, before);
    });
});

describe("AppProject", () => {
    before(async () => {
        recorded = installMocks("unit");
        const project = new AppProject("payments", {
            argoNamespace: "argocd",
            sourceRepos: [source.repoURL],
            destinations: [{ namespace: "payments-*" }],
            syncWindows: [{ kind: "deny", schedule: "0 22 * * *", duration: "8h" }],
        });
        await valueOf(project.projectName);
        await settle(recorded);
    });

    it("is least-privilege: no cluster-scoped kinds, quota and limits denied, orphans warned", () => {
        const spec = byName("kubernetes:argoproj.io/v1alpha1:AppProject", "payments-project")!.inputs.spec;
        assert.deepEqual(spec.clusterResourceWhitelist, []);
        assert.deepEqual(spec.namespaceResourceBlacklist, [
            { group: "", kind: "ResourceQuota" },
            { group: "", kind: "LimitRange" },
        ]);
        assert.deepEqual(spec.orphanedResources, { warn: true });
        assert.deepEqual(spec.sourceRepos, [source.repoURL]);
        assert.deepEqual(spec.destinations, [{ server: "https://kubernetes.default.svc", namespace: "payments-*" }]);
        assert.deepEqual(spec.syncWindows, [{ kind: "deny", schedule: "0 22 * * *", duration: "8h", applications: ["*"], namespaces: [], manualSync: false, timeZone: "UTC" }]);
    });

    it("refuses wildcard repositories and destinations", () => {
        assert.throws(
            () => new AppProject("x", { argoNamespace: "argocd", sourceRepos: ["*"], destinations: [{ namespace: "x" }] }),
            /`args.sourceRepos\[0\]` is "\*"; wildcards let any repository deploy/,
        );
        assert.throws(
            () => new AppProject("y", { argoNamespace: "argocd", sourceRepos: [source.repoURL], destinations: [{ namespace: "*" }] }),
            /`args.destinations\[0\].namespace` is "\*"/,
        );
    });
});

/** The fewest PreviewEnvironments args (without `github`), for tests of one argument. */
const minimalPreview = {
    service: "s",
    argoNamespace: "argocd",
    project: "s",
    source: { repoURL: source.repoURL, path: "." },
    syncPolicy: environmentPresets.preview.syncPolicy,
};

describe("PreviewEnvironments", () => {
    let previews: PreviewEnvironments;
    before(async () => {
        recorded = installMocks("unit");
        previews = new PreviewEnvironments("payments-api-previews", {
            service: "payments-api",
            argoNamespace: "argocd",
            project: "payments-api",
            github: { owner: "acme", repo: "payments-api", labels: ["preview"], token: pulumi.secret("ghp_unit_token") },
            requeueAfterSeconds: 120,
            source: { repoURL: source.repoURL, path: "deploy/chart", helm: { valueFiles: ["values-preview.yaml"] } },
            syncPolicy: environmentPresets.preview.syncPolicy,
        });
        await valueOf(previews.applicationSetName);
        await settle(recorded);
    });
    const appset = () => byName("kubernetes:argoproj.io/v1alpha1:ApplicationSet", "payments-api-previews-appset")!.inputs;

    it("uses the GitHub pull-request generator with labels, tokenRef and requeue interval", () => {
        assert.deepEqual(appset().spec.generators, [
            {
                pullRequest: {
                    github: { owner: "acme", repo: "payments-api", labels: ["preview"], tokenRef: { secretName: "payments-api-scm-token", key: "token" } },
                    requeueAfterSeconds: 120,
                },
            },
        ]);
    });

    it("fails on template typos (goTemplate with missingkey=error)", () => {
        assert.equal(appset().spec.goTemplate, true);
        assert.deepEqual(appset().spec.goTemplateOptions, ["missingkey=error"]);
    });

    it("templates <service>-pr-<number> into its own namespace, with pr-<number> image tag and preview labels", () => {
        const template = appset().spec.template;
        assert.equal(template.metadata.name, "payments-api-pr-{{.number}}");
        assert.equal(template.metadata.labels.env, "preview");
        assert.equal(template.metadata.labels.pr, "{{.number}}");
        assert.equal(template.spec.destination.namespace, "payments-api-pr-{{.number}}");
        assert.equal(template.spec.source.targetRevision, "{{.head_sha}}");
        assert.deepEqual(template.spec.source.helm.parameters, [{ name: "image.tag", value: "pr-{{.number}}", forceString: true }]);
        assert.deepEqual(template.metadata.finalizers, ["resources-finalizer.argocd.argoproj.io"]);
    });

    it("pins a fixed project, never one templated from PR data", () => {
        assert.equal(appset().spec.template.spec.project, "payments-api");
        assert.throws(
            () =>
                new PreviewEnvironments("evil", {
                    service: "evil",
                    argoNamespace: "argocd",
                    project: "{{.branch}}",
                    github: { owner: "acme", repo: "evil", token: "t" },
                    source: { repoURL: source.repoURL, path: "." },
                    syncPolicy: environmentPresets.preview.syncPolicy,
                }),
            /`args.project`/,
        );
    });

    it("syncs previews with the explicit preview policy and tracks the namespace for deletion", () => {
        const sync = appset().spec.template.spec.syncPolicy;
        // Generated paused: the preview gate switches automated sync on within the service's cap.
        assert.deepEqual(sync.automated, { enabled: false, prune: true, selfHeal: true, allowEmpty: false });
        assert.ok(sync.syncOptions.includes("CreateNamespace=true"));
        assert.equal(sync.managedNamespaceMetadata.labels.env, "preview");
        assert.equal(sync.managedNamespaceMetadata.labels["gitops-control.io/environment"], "preview");
        // Previews are held like staging: Pod Security baseline enforced, restricted warned.
        assert.equal(sync.managedNamespaceMetadata.labels["pod-security.kubernetes.io/enforce"], "baseline");
        assert.equal(sync.managedNamespaceMetadata.labels["pod-security.kubernetes.io/warn"], "restricted");
        assert.equal(
            sync.managedNamespaceMetadata.annotations["argocd.argoproj.io/tracking-id"],
            "payments-api-pr-{{.number}}:/Namespace:payments-api-pr-{{.number}}/payments-api-pr-{{.number}}",
        );
        assert.deepEqual(appset().spec.syncPolicy, { applicationsSync: "sync", preserveResourcesOnDeletion: false });
    });

    it("leaves the automated switch and the held reason to the preview gate, and stamps each preview with its cap and TTL", () => {
        const spec = appset().spec;
        assert.deepEqual(spec.ignoreApplicationDifferences, [{ jsonPointers: ["/spec/syncPolicy/automated/enabled"] }]);
        assert.deepEqual(spec.preservedFields, { annotations: ["gitops-control.io/preview-held"] });
        assert.deepEqual(spec.template.metadata.annotations, { "gitops-control.io/preview-max-open": "5", "gitops-control.io/preview-ttl-hours": "72" });
        const base = { ...minimalPreview, github: { owner: "acme", repo: "s", token: "t" } };
        const limited = renderPreviewApplicationSet("s", { ...base, maxOpen: 2, ttlHours: 24 }, { secretName: "s-scm-token", key: "token" });
        assert.deepEqual(limited.spec.template.metadata.annotations, { "gitops-control.io/preview-max-open": "2", "gitops-control.io/preview-ttl-hours": "24" });
        assert.throws(() => new PreviewEnvironments("c", { ...base, maxOpen: 0 }), /`args.maxOpen` is 0\. Fix: use a whole number from 1 to 50/);
        assert.throws(() => new PreviewEnvironments("t", { ...base, ttlHours: 0.5 }), /`args.ttlHours` is 0.5\. Fix: use a whole number of hours from 1 to 672/);
    });

    it("stores the token in a labelled scm-creds Secret, as a secret", async () => {
        const recordedSecret = byName("kubernetes:core/v1:Secret", "payments-api-previews-scm-token")!;
        const secret = recordedSecret.inputs;
        assert.deepEqual(recordedSecret.secretPaths, ["stringData"]);
        assert.equal(secret.metadata.labels["argocd.argoproj.io/secret-type"], "scm-creds");
        assert.equal(secret.metadata.namespace, "argocd");
        assert.equal(secret.stringData.token, "ghp_unit_token");
        assert.equal(await pulumi.isSecret(previews.tokenSecret!.stringData), true);
    });

    it("refuses a requeue interval below the floor and a missing token", () => {
        const base = minimalPreview;
        assert.throws(() => new PreviewEnvironments("a", { ...base, github: { owner: "acme", repo: "s", token: "t" }, requeueAfterSeconds: 5 }), /`args.requeueAfterSeconds` is 5/);
        assert.throws(() => new PreviewEnvironments("b", { ...base, github: { owner: "acme", repo: "s" } }), /`args.github` has neither `token` nor `tokenRef`/);
    });
});

describe("AdmissionGuardrails", () => {
    before(async () => {
        recorded = installMocks("unit");
        const g = new AdmissionGuardrails("g", {
            rules: [requirePodSecurityContext(), capReplicas({ max: 20 })],
            bindings: [
                { environment: "prod", validationActions: ["Deny", "Audit"] },
                { environment: "staging", validationActions: ["Warn", "Audit"] },
            ],
            protect: true,
        });
        await valueOf(g.bindingNames);
        await settle(recorded);
    });
    const policy = (rule: string) => byName("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy", `g-${rule}`)!.inputs;
    const binding = (rule: string, env: string) => byName("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding", `g-${rule}-${env}`)!.inputs;

    it("securityContext policy: fails closed, covers every pod-bearing kind through a variable", () => {
        const spec = policy("require-pod-security-context").spec;
        assert.equal(spec.failurePolicy, "Fail");
        assert.deepEqual(
            spec.matchConstraints.resourceRules.flatMap((r: { resources: string[] }) => r.resources),
            ["deployments", "statefulsets", "daemonsets", "replicasets", "jobs", "cronjobs", "pods", "replicationcontrollers", "pods/ephemeralcontainers"],
        );
        assert.equal(spec.variables[0].name, "podSpec");
        assert.match(spec.variables.find((v: { name: string }) => v.name === "podNonRoot").expression, /variables\.podSpec\.securityContext\.runAsNonRoot/);
        assert.match(spec.validations[0].message, /runAsNonRoot: true/);
    });

    it("replica cap: 20 by default, approval annotation with a ticket, audited", () => {
        const spec = policy("cap-replicas").spec;
        assert.match(spec.validations[0].expression, /object\.spec\.replicas <= 20/);
        assert.match(spec.validations[0].expression, /gitops-control\.io\/replicas-approved/);
        assert.match(spec.validations[0].messageExpression, /exceeds the cap of 20/);
        assert.equal(spec.auditAnnotations[0].key, "replicas-override");
    });

    it("binds per environment by namespace label with that environment's actions", () => {
        assert.deepEqual(binding("cap-replicas", "prod").spec, {
            policyName: "gitops-control-cap-replicas",
            validationActions: ["Deny", "Audit"],
            matchResources: { namespaceSelector: { matchLabels: { "gitops-control.io/environment": "prod" } } },
        });
        assert.deepEqual(binding("require-pod-security-context", "staging").spec.validationActions, ["Warn", "Audit"]);
    });

    it("refuses Deny together with Warn, and a replica cap of 0", () => {
        assert.throws(
            () => new AdmissionGuardrails("bad", { rules: [requirePodSecurityContext()], bindings: [{ environment: "prod", validationActions: ["Deny", "Warn"] }] }),
            /`args.bindings\[0\].validationActions` has both Deny and Warn/,
        );
        assert.throws(() => capReplicas({ max: 0 }), /`capReplicas.max` is 0/);
    });
});

describe("ArgoCd", () => {
    let argo: ArgoCd;
    let transformsBefore: number;
    before(async () => {
        recorded = installMocks("unit");
        transformsBefore = registeredTransforms.length;
        argo = new ArgoCd("argocd", {
            ha: false,
            protect: true,
            skipAwait: true,
            chart: { kind: "local", path: "../shared/fixtures/argo-cd/charts/argo-cd-10.1.1.tgz" },
            githubWebhookSecret: pulumi.secret("hook"),
        });
        await valueOf(argo.namespaceName);
        await settle(recorded);
    });
    const chart = () => byName("kubernetes:helm.sh/v4:Chart", "argocd-chart")!.inputs;

    it("single replica without HA, chart from the local path, skipAwait passed", () => {
        assert.equal(chart().values["redis-ha"].enabled, false);
        assert.equal(chart().values.server.replicas, 1);
        assert.match(chart().chart, /argo-cd-10\.1\.1\.tgz$/);
        assert.equal(chart().skipAwait, true);
        // The program installs the v3.6.1 CRDs itself; the chart's (v3.4.4) are off, and its images are v3.6.1.
        assert.deepEqual(chart().values.crds, { install: false, keep: true });
        assert.equal(chart().values.global.image.tag, argoCdVersion);
    });

    it("its namespace enforces Pod Security restricted, pinned: it holds the service accounts that write prod", () => {
        const ns = byName("kubernetes:core/v1:Namespace", "argocd-ns")!.inputs;
        assert.equal(ns.metadata.name, "argocd");
        for (const mode of ["enforce", "audit", "warn"]) assert.equal(ns.metadata.labels[`pod-security.kubernetes.io/${mode}`], "restricted", mode);
        assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce-version"], "v1.36");
    });

    it("installs the CRDs of the one Argo CD version from the release, before the chart", () => {
        const crds = byName("kubernetes:yaml/v2:ConfigGroup", "argocd-crds")!.inputs;
        assert.deepEqual(
            crds.files,
            argoCdCrdFiles.map((f) => `https://raw.githubusercontent.com/argoproj/argo-cd/${argoCdVersion}/manifests/crds/${f}`),
        );
        assert.deepEqual(crdFiles({ kind: "local", dir: "/x" }), ["/x/application-crd.yaml", "/x/applicationset-crd.yaml", "/x/appproject-crd.yaml"]);
        assert.throws(() => new ArgoCd("bad-crds", { crds: { kind: "local", dir: "/nonexistent" } }), /`args\.crds\.dir` is "\/nonexistent", which lacks application-crd\.yaml/);
    });

    it("argocd-cm settings are typed and explicit", () => {
        const cm = chart().values.configs.cm;
        assert.equal(cm["timeout.reconciliation"], "180s");
        assert.equal(cm["application.resourceTrackingMethod"], "annotation");
    });

    it("the chart values hold no secret; argocd-secret holds the bcrypt hash and webhook secret as secrets", async () => {
        assert.equal(chart().values.configs.secret.createSecret, false);
        assert.doesNotMatch(JSON.stringify(chart().values), /mock-password|mockhash|hook/);
        const recordedSecret = byName("kubernetes:core/v1:Secret", "argocd-argocd-secret")!;
        assert.deepEqual(recordedSecret.secretPaths, ["stringData"]);
        const secret = recordedSecret.inputs;
        assert.match(secret.stringData["admin.password"], /^\$2a\$10\$mockhash/);
        assert.equal(secret.stringData["webhook.github.secret"], "hook");
        assert.equal(secret.metadata.labels["app.kubernetes.io/part-of"], "argocd");
        assert.equal(await pulumi.isSecret(argo.adminSecret.stringData), true);
        assert.equal(await pulumi.isSecret(argo.adminPassword), true);
    });

    it("protected installs protect the namespace and register the CRD-protecting transform", () => {
        assert.equal((argo.namespace as unknown as { __protect: boolean }).__protect, true);
        assert.ok(registeredTransforms.slice(transformsBefore).includes(protectCrds));
        const crd = protectCrds({ type: "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", name: "crd", props: {}, opts: {}, custom: true });
        assert.deepEqual({ protect: crd?.opts.protect, retain: crd?.opts.retainOnDelete }, { protect: true, retain: true });
        assert.equal((crd?.props.metadata as { annotations: Record<string, string> }).annotations["helm.sh/resource-policy"], "keep");
        assert.equal(protectCrds({ type: "kubernetes:apps/v1:Deployment", name: "d", props: {}, opts: {}, custom: true }), undefined);
        // Outside prod the CRDs are still retained on delete, but not protected.
        const kept = retainCrds({ type: "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition", name: "crd", props: {}, opts: {}, custom: true });
        assert.deepEqual({ protect: kept?.opts.protect, retain: kept?.opts.retainOnDelete }, { protect: undefined, retain: true });
    });

    it("rejects a floating chart version and a missing local chart", () => {
        assert.throws(
            () => new ArgoCd("a", { chart: { kind: "repository", repo: "https://argoproj.github.io/argo-helm", version: "10.x" } }),
            /`args.chart.version` is "10.x", not an exact version/,
        );
        assert.throws(() => new ArgoCd("b", { chart: { kind: "local", path: "/nope/argo-cd.tgz" } }), /`args.chart.path` is "\/nope\/argo-cd.tgz", which does not exist/);
    });
});

// Keep the import used: components take an explicit provider.
void k8s;
