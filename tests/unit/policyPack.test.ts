import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import type { PolicyResource, PolicyResourceOptions, ResourceValidationArgs, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { parse } from "yaml";
import { renderBindingSpec } from "../../components/guardrails/AdmissionGuardrails";
import { chartArgs, pinnedChart } from "../../components/argocd/ArgoCd";
import { renderApplication } from "../../components/applications/GitOpsApplication";
import { annotations, labels } from "../../components/core/labels";
import { renderPreviewApplicationSet } from "../../components/previews/PreviewEnvironments";
import {
    allPolicies,
    applicationSetTemplateSafety,
    chartVersionPinned,
    prodApplicationSyncPolicy,
    prodCrdsRetained,
    prodGuardrailsDeny,
    resourceTypes,
    scmTokenSecretIsSecret,
    scmTokenSecretLabelled,
    selectsLabelValue,
    stackOfUrn,
    tokenRefs,
} from "../../policy/policies";
import { RecordedResource, readStackFile, renderProgram, repoRoot } from "../../scripts/lib/mockRuntime";
import { environmentPresets } from "../../stacks/presets";

// ---- Typed argument builders and assertions (the policies run exactly as the analyzer calls them).

interface ArgsOptions {
    readonly stack?: string;
    readonly name?: string;
    readonly opts?: Partial<PolicyResourceOptions>;
    readonly config?: Record<string, unknown>;
}

const defaultOpts: PolicyResourceOptions = {
    protect: false,
    ignoreChanges: [],
    aliases: [],
    customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
    additionalSecretOutputs: [],
};

const urnOf = (stack: string, type: string, name: string) => `urn:pulumi:${stack}::gitops-control::${type}::${name}`;

/** ResourceValidationArgs as the analyzer builds them. */
function resourceArgs(type: string, props: unknown, options: ArgsOptions = {}): ResourceValidationArgs {
    const name = options.name ?? "test-resource";
    return {
        type,
        props: props as Record<string, unknown>,
        urn: urnOf(options.stack ?? "prod", type, name),
        name,
        opts: { ...defaultOpts, ...options.opts },
        stackTags: new Map(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => (options.config ?? {}) as T,
        notApplicable: (reason?: string): never => {
            throw new Error(`not applicable: ${reason}`);
        },
    };
}

async function violationsOf(policy: ResourceValidationPolicy, args: ResourceValidationArgs): Promise<string[]> {
    const found: string[] = [];
    const validations = policy.validateResource === undefined ? [] : Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
    for (const validate of validations) {
        await validate(args, (message) => found.push(message));
    }
    return found;
}

async function assertHasViolation(policy: ResourceValidationPolicy, args: ResourceValidationArgs, expected: RegExp): Promise<void> {
    const found = await violationsOf(policy, args);
    assert.ok(
        found.some((m) => expected.test(m)),
        `${policy.name}: expected a violation matching ${expected}, got ${found.length === 0 ? "none" : JSON.stringify(found)}`,
    );
}

async function assertNoViolations(policy: ResourceValidationPolicy, args: ResourceValidationArgs): Promise<void> {
    assert.deepEqual(await violationsOf(policy, args), [], `${policy.name} on ${args.type} ${args.name}`);
}

/** Runs a stack policy over resources given as [type, props] pairs; returns messages with their URNs. */
async function stackViolationsOf(policy: StackValidationPolicy, resources: readonly (readonly [string, unknown])[]): Promise<{ message: string; urn?: string }[]> {
    const found: { message: string; urn?: string }[] = [];
    const policyResources: PolicyResource[] = resources.map(([type, props], i) => ({
        type,
        props: props as Record<string, unknown>,
        urn: urnOf("staging", type, `r${i}`),
        name: `r${i}`,
        opts: defaultOpts,
        dependencies: [],
        propertyDependencies: {},
        isType: () => false,
        asType: () => undefined,
    }));
    await policy.validateStack(
        {
            resources: policyResources,
            stackTags: new Map(),
            getConfig: <T extends object>() => ({}) as T,
            notApplicable: () => {
                throw new Error("not applicable");
            },
        },
        (message, urn) => found.push({ message, ...(urn ? { urn } : {}) }),
    );
    return found;
}

// ---- Fixtures rendered by the components themselves, so the pack and the program cannot drift apart.

function prodApplication(overrides: { automated?: Record<string, unknown>; annotations?: Record<string, string>; environment?: string } = {}) {
    const preset = overrides.environment === "staging" ? environmentPresets.staging : environmentPresets.prod;
    const app = renderApplication(`payments-api-${overrides.environment ?? "prod"}`, {
        argoNamespace: "argocd",
        project: "payments-api",
        source: { repoURL: "https://github.com/acme/payments-api.git", path: "deploy/chart", targetRevision: "v2.14.3" },
        destination: { namespace: "payments-api-prod" },
        syncPolicy: preset.syncPolicy,
        labels: { [labels.environment]: overrides.environment ?? "prod" },
        ...(overrides.annotations ? { annotations: overrides.annotations } : {}),
    });
    const automated = { ...(app.spec.syncPolicy?.automated ?? {}), ...overrides.automated };
    for (const [k, v] of Object.entries(automated)) if (v === undefined) delete (automated as Record<string, unknown>)[k];
    return { ...app, spec: { ...app.spec, syncPolicy: { ...app.spec.syncPolicy, automated } } };
}

function previewSet() {
    return renderPreviewApplicationSet(
        "payments-api-previews",
        {
            service: "payments-api",
            argoNamespace: "argocd",
            project: "payments-api",
            github: { owner: "acme", repo: "payments-api", token: "t" },
            source: { repoURL: "https://github.com/acme/payments-api.git", path: "deploy/chart" },
            syncPolicy: environmentPresets.preview.syncPolicy,
        },
        { secretName: "payments-api-scm-token", key: "token" },
    );
}

function withSpec<T extends { spec: object }>(obj: T, spec: Record<string, unknown>): T {
    return { ...obj, spec: { ...obj.spec, ...spec } };
}

const tokenSecret = (extraLabels: Record<string, string> = { "argocd.argoproj.io/secret-type": "scm-creds" }) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "payments-api-scm-token", namespace: "argocd", labels: { [labels.managedBy]: "gitops-control", ...extraLabels } },
    type: "Opaque",
    stringData: { token: "ghp_placeholder" },
});

const binding = (environment: string, actions: readonly ("Deny" | "Warn" | "Audit")[], extra: { namespaces?: string[]; scope?: "object" } = {}) => ({
    metadata: { name: `gitops-control-cap-replicas-${environment}`, labels: { [labels.environment]: environment } },
    spec: renderBindingSpec(
        "gitops-control-cap-replicas",
        { environment, validationActions: actions, ...(extra.namespaces ? { namespaces: extra.namespaces } : {}) },
        labels.environment,
        extra.scope ?? "namespace",
    ),
});

const crd = (keep: boolean) => ({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: "applications.argoproj.io", ...(keep ? { annotations: { "helm.sh/resource-policy": "keep" } } : {}) },
});

// ---- Tests

describe("policy pack: one factory per policy", () => {
    it("every factory takes its enforcement level, names are unique, and the pack entry is not imported here", () => {
        for (const level of ["advisory", "mandatory", "disabled"] as const) {
            for (const policy of allPolicies(level)) assert.equal(policy.enforcementLevel, level, policy.name);
        }
        const names = allPolicies().map((p) => p.name);
        assert.equal(new Set(names).size, names.length);
        assert.deepEqual(names, [
            "prod-application-sync-policy",
            "applicationset-template-safety",
            "scm-token-secret-is-secret",
            "scm-token-secret-labelled",
            "prod-guardrails-deny",
            "prod-crds-retained",
            "chart-version-pinned",
        ]);
        // Importing policy/index.ts would construct the PolicyPack and start its gRPC server.
        assert.equal(
            Object.keys(require.cache).some((f) => f === path.join(repoRoot, "policy", "index.ts")),
            false,
        );
    });

    it("PulumiPolicy.yaml declares the nodejs runtime and the launcher for CLIs without a Node.js language host is executable", () => {
        const project = parse(fs.readFileSync(path.join(repoRoot, "policy", "PulumiPolicy.yaml"), "utf8")) as { runtime: string };
        assert.equal(project.runtime, "nodejs");
        const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "policy", "package.json"), "utf8")) as { version: string };
        assert.match(pkg.version, /^\d+\.\d+\.\d+$/, "PolicyPack reads its version from policy/package.json");
        assert.ok(fs.statSync(path.join(repoRoot, "policy", "analyzer.sh")).mode & 0o111, "policy/analyzer.sh is executable");
    });
});

describe("prod-application-sync-policy", () => {
    const policy = prodApplicationSyncPolicy();
    const args = (props: unknown) => resourceArgs(resourceTypes.application, props, { name: "payments-api-prod-app" });

    it("prod Applications prune, self-heal and refuse an empty desired state: the prod preset passes", async () => {
        await assertNoViolations(policy, args(prodApplication()));
    });

    it("rejects prune, self-heal or allowEmpty weakened in prod", async () => {
        await assertHasViolation(policy, args(prodApplication({ automated: { prune: false } })), /"payments-api-prod" has automated\.prune: false/);
        await assertHasViolation(policy, args(prodApplication({ automated: { selfHeal: false } })), /automated\.selfHeal: false.*Fix: set selfHeal: true/);
        await assertHasViolation(policy, args(prodApplication({ automated: { allowEmpty: true } })), /allowEmpty: true: a bad path could prune everything/);
    });

    it("requires allowEmpty: false spelled out, and an automated block at all", async () => {
        await assertHasViolation(policy, args(prodApplication({ automated: { allowEmpty: undefined } })), /allowEmpty: undefined.*explicitly/);
        const manual = prodApplication();
        await assertHasViolation(policy, args(withSpec(manual, { syncPolicy: { syncOptions: ["CreateNamespace=true"] } })), /has no spec\.syncPolicy\.automated/);
    });

    it("allows paused automated sync only under a break-glass entry", async () => {
        await assertHasViolation(policy, args(prodApplication({ automated: { enabled: false } })), /automated\.enabled: false without a break-glass entry/);
        const glass = { [annotations.breakGlassTicket]: "INC-4711", [annotations.breakGlassReason]: "hotfix", [annotations.breakGlassExpires]: "2030-01-01T00:00:00Z" };
        await assertNoViolations(policy, args(prodApplication({ automated: { enabled: false }, annotations: glass })));
    });

    it("leaves staging Applications (no self-heal by design) and other types alone", async () => {
        await assertNoViolations(policy, args(prodApplication({ environment: "staging" })));
        await assertNoViolations(policy, resourceArgs(resourceTypes.secret, prodApplication({ automated: { prune: false } })));
    });
});

describe("applicationset-template-safety", () => {
    const policy = applicationSetTemplateSafety();
    const args = (props: unknown) => resourceArgs(resourceTypes.applicationSet, props, { stack: "staging", name: "payments-api-previews-appset" });

    it("the preview ApplicationSet as rendered passes", async () => {
        await assertNoViolations(policy, args(previewSet()));
    });

    it("requires Go templates with missingkey=error", async () => {
        await assertHasViolation(policy, args(withSpec(previewSet(), { goTemplateOptions: [] })), /goTemplateOptions \[\].*missingkey=error/);
        await assertHasViolation(policy, args(withSpec(previewSet(), { goTemplate: false })), /does not set spec\.goTemplate: true/);
    });

    it("rejects a project templated from pull-request data, missing, or patched in", async () => {
        const set = previewSet();
        const templated = withSpec(set, { template: { ...set.spec.template, spec: { ...set.spec.template.spec, project: "{{.branch}}" } } });
        await assertHasViolation(policy, args(templated), /templates its project \("\{\{\.branch\}\}"\)/);
        const missing = withSpec(set, { template: { ...set.spec.template, spec: { ...set.spec.template.spec, project: "" } } });
        await assertHasViolation(policy, args(missing), /has no spec\.template\.spec\.project/);
        await assertHasViolation(policy, args(withSpec(set, { templatePatch: "spec:\n  project: '{{.author}}'\n" })), /sets the project in spec\.templatePatch/);
    });
});

describe("scm-token-secret-is-secret", () => {
    const policy = scmTokenSecretIsSecret();
    const secretOutputs = { additionalSecretOutputs: ["data", "stringData"] };

    it("a labelled token Secret with data and stringData as secret outputs passes", async () => {
        await assertNoViolations(policy, resourceArgs(resourceTypes.secret, tokenSecret(), { opts: secretOutputs }));
    });

    it("rejects a token Secret whose data would be stored in plain text", async () => {
        await assertHasViolation(policy, resourceArgs(resourceTypes.secret, tokenSecret()), /does not mark data and stringData as secret/);
        await assertHasViolation(policy, resourceArgs(resourceTypes.secret, tokenSecret(), { opts: { additionalSecretOutputs: ["data"] } }), /does not mark stringData as secret/);
    });

    it("rejects a token Secret without data, and ignores Secrets that are not scm-creds", async () => {
        await assertHasViolation(policy, resourceArgs(resourceTypes.secret, { ...tokenSecret(), stringData: {} }, { opts: secretOutputs }), /holds no data/);
        await assertNoViolations(policy, resourceArgs(resourceTypes.secret, tokenSecret({})));
    });
});

describe("scm-token-secret-labelled (stack policy)", () => {
    const policy = scmTokenSecretLabelled();

    it("finds every tokenRef, in any generator", () => {
        assert.deepEqual(tokenRefs(previewSet().spec.generators), ["payments-api-scm-token"]);
        assert.deepEqual(tokenRefs([{ matrix: { generators: [{ scmProvider: { gitlab: { tokenRef: { secretName: "a", key: "t" } } } }] } }]), ["a"]);
    });

    it("passes when the referenced Secret carries the scm-creds label", async () => {
        assert.deepEqual(
            await stackViolationsOf(policy, [
                [resourceTypes.applicationSet, previewSet()],
                [resourceTypes.secret, tokenSecret()],
            ]),
            [],
        );
    });

    it("rejects an unlabelled Secret a generator reads its token from, naming the Secret's URN", async () => {
        const found = await stackViolationsOf(policy, [
            [resourceTypes.applicationSet, previewSet()],
            [resourceTypes.secret, tokenSecret({})],
        ]);
        assert.equal(found.length, 1);
        assert.match(found[0].message, /Secret "payments-api-scm-token", the tokenRef of ApplicationSet "payments-api-previews", lacks the label/);
        assert.match(found[0].urn ?? "", /kubernetes:core\/v1:Secret::r1$/);
    });

    it("does not guess about Secrets the stack does not manage", async () => {
        assert.deepEqual(await stackViolationsOf(policy, [[resourceTypes.applicationSet, previewSet()]]), []);
    });
});

describe("prod-guardrails-deny", () => {
    const policy = prodGuardrailsDeny();
    const args = (props: unknown) => resourceArgs(resourceTypes.binding, props);

    it("prod bindings from the prod preset deny; staging bindings may warn", async () => {
        await assertNoViolations(policy, args(binding("prod", environmentPresets.prod.validationActions)));
        await assertNoViolations(policy, args(binding("prod", environmentPresets.prod.validationActions, { scope: "object" })));
        await assertNoViolations(policy, args(binding("staging", environmentPresets.staging.validationActions)));
    });

    it("rejects a prod binding that only warns or audits, selected by namespace or by object", async () => {
        await assertHasViolation(
            policy,
            args(binding("prod", ["Warn", "Audit"])),
            /prod guardrail binding "gitops-control-cap-replicas-prod" has validationActions \["Warn","Audit"\]/,
        );
        const byObject = binding("prod", ["Audit"], { scope: "object" });
        await assertHasViolation(policy, args({ ...byObject, metadata: { name: "x" } }), /validationActions \["Audit"\]: violations are admitted/);
    });

    it("recognises prod by an In expression, whatever the binding is called", async () => {
        const props = {
            metadata: { name: "custom-binding" },
            spec: {
                policyName: "p",
                validationActions: ["Warn"],
                matchResources: { namespaceSelector: { matchExpressions: [{ key: labels.environment, operator: "In", values: ["prod", "prod-eu"] }] } },
            },
        };
        await assertHasViolation(policy, args(props), /"custom-binding" has validationActions \["Warn"\]/);
        assert.equal(selectsLabelValue({ matchExpressions: [{ key: labels.environment, operator: "NotIn", values: ["prod"] }] }, labels.environment, "prod"), false);
    });

    it("leaves break-glass bindings (namespaces by name, warn) alone", async () => {
        await assertNoViolations(policy, args(binding("break-glass-inc-4711", ["Warn", "Audit"], { namespaces: ["payments-api-prod"] })));
    });
});

describe("prod-crds-retained", () => {
    const policy = prodCrdsRetained();
    const args = (props: unknown, options: ArgsOptions) => resourceArgs(resourceTypes.crd, props, { name: "gitops-argocd-chart:applications.argoproj.io", ...options });

    it("reads the stack from the URN", () => {
        assert.equal(stackOfUrn("urn:pulumi:prod::gitops-control::kubernetes:helm.sh/v4:Chart$kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition::x"), "prod");
    });

    it("prod CRDs that are protected and kept on uninstall pass", async () => {
        await assertNoViolations(policy, args(crd(true), { stack: "prod", opts: { protect: true } }));
    });

    it("rejects an unprotected or unretained CRD in prod", async () => {
        await assertHasViolation(policy, args(crd(true), { stack: "prod" }), /CRD "applications\.argoproj\.io" in stack "prod" is not protected/);
        await assertHasViolation(policy, args(crd(false), { stack: "prod", opts: { protect: true } }), /lacks helm\.sh\/resource-policy: keep/);
    });

    it("applies to the stacks its config lists, and only to those", async () => {
        await assertNoViolations(policy, args(crd(true), { stack: "staging" }));
        await assertHasViolation(policy, args(crd(true), { stack: "prod-eu", config: { stacks: ["prod", "prod-eu"] } }), /in stack "prod-eu" is not protected/);
        await assertNoViolations(policy, args(crd(true), { stack: "prod", config: { stacks: ["prod-eu"] } }));
        // The prod CRD stack (Pulumi.prod-crds.yaml) is covered by default.
        await assertHasViolation(policy, args(crd(true), { stack: "prod-crds" }), /in stack "prod-crds" is not protected/);
        await assertNoViolations(policy, args(crd(true), { stack: "prod-crds", opts: { protect: true } }));
    });
});

describe("chart-version-pinned", () => {
    const policy = chartVersionPinned();
    const args = (props: unknown) => resourceArgs(resourceTypes.chartV4, props, { name: "gitops-argocd-chart" });

    it("the pinned argo-helm chart and a local chart file pass", async () => {
        await assertNoViolations(policy, args(chartArgs({ kind: "repository", repo: pinnedChart.repo, version: pinnedChart.version })));
        await assertNoViolations(policy, args({ chart: "/charts/argo-cd-10.1.1.tgz" }));
        await assertNoViolations(policy, args({ ...chartArgs(undefined), version: "10.1.1-rc.1" }));
    });

    it("rejects a floating or missing version for a repository or OCI chart", async () => {
        for (const version of ["^10.1.0", "10.x", "~10.1", ">=10.0.0", "latest", "10.1"]) {
            await assertHasViolation(
                policy,
                args({ ...chartArgs(undefined), version }),
                new RegExp(`version "${version.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}", not an exact semantic version`),
            );
        }
        await assertHasViolation(policy, args({ chart: "argo-cd", repositoryOpts: { repo: pinnedChart.repo } }), /has no version/);
        await assertHasViolation(policy, args({ chart: "oci://ghcr.io/argoproj/argo-helm/argo-cd" }), /has no version/);
    });
});

describe("the program's own renders comply (mock engine)", () => {
    let prod: RecordedResource[];

    before(async () => {
        ({ resources: prod } = await renderProgram("prod", readStackFile(path.join(repoRoot, "Pulumi.prod.yaml"))));
    });

    it("every resource of the prod stack passes every resource policy", async () => {
        // Mocks do not expose resource options, so the secret-output check runs in the integration
        // test (tests/integration/policyPack.test.ts) against the real engine instead.
        const policies = allPolicies().filter((p): p is ResourceValidationPolicy => "validateResource" in p && p.name !== "scm-token-secret-is-secret");
        const checked = new Set<string>();
        for (const r of prod) {
            const args = resourceArgs(r.type, r.inputs, { stack: "prod", name: r.name, opts: { protect: true } });
            for (const policy of policies) {
                const found = await violationsOf(policy, args);
                assert.deepEqual(found, [], `${policy.name} on ${r.type} ${r.name}`);
            }
            checked.add(r.type);
        }
        for (const type of [resourceTypes.application, resourceTypes.binding, resourceTypes.chartV4]) assert.ok(checked.has(type), `${type} rendered and checked`);
    });

    it("the prod stack passes the stack policy", async () => {
        assert.deepEqual(
            await stackViolationsOf(
                scmTokenSecretLabelled(),
                prod.map((r) => [r.type, r.inputs] as const),
            ),
            [],
        );
    });
});
