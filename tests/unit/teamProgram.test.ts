import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { RecordedResource, installMocks, repoRoot, settle, valueOf } from "../../scripts/lib/mockRuntime";
import { resolveService } from "../../components/serviceSpec";
import { controlPlaneProgram } from "../../stacks/program";

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
        assert.deepEqual(types.sort(), [
            "AppProject/inventory",
            "AppProject/inventory-previews",
            "Application/inventory-prod",
            "Application/inventory-staging",
            "ApplicationSet/inventory-previews",
        ]);
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

    it("keeps the projects least-privilege: its repo and its namespaces; previews their glob only, in their own project", () => {
        const project = (name: string) => resources.find((r) => r.type === "kubernetes:argoproj.io/v1alpha1:AppProject" && r.inputs.metadata.name === name)!.inputs.spec;
        assert.deepEqual(project("inventory").sourceRepos, ["https://github.com/acme/inventory.git"]);
        assert.deepEqual(
            project("inventory").destinations.map((d: { namespace: string }) => d.namespace),
            ["inventory-staging", "inventory-prod"],
        );
        assert.deepEqual(project("inventory-previews").sourceRepos, ["https://github.com/acme/inventory.git"]);
        assert.deepEqual(
            project("inventory-previews").destinations.map((d: { namespace: string }) => d.namespace),
            ["inventory-pr-*"],
        );
    });

    it("passes the team's provider to every Kubernetes child", () => {
        for (const r of resources.filter((x) => x.type.startsWith("kubernetes:"))) {
            assert.match(r.provider ?? "", /::cluster::/, `${r.type} ${r.name}`);
        }
    });
});

describe("the team route is first-class", () => {
    it("components/ imports nothing from stacks/: the library stands alone", () => {
        const files = fs.readdirSync(path.join(repoRoot, "components"), { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
        assert.ok(files.length > 10);
        for (const file of files) assert.doesNotMatch(fs.readFileSync(path.join(repoRoot, "components", file), "utf8"), /from "(\.\.\/)+stacks\//, file);
    });

    it("GitOpsService applies the prod checks itself: prune: false without a reason is refused, nothing registered", async () => {
        const recorded = installMocks("dev", { project: "team-checks" });
        const { GitOpsService } = await import("gitops-control/components");
        const args = {
            team: "fulfilment",
            source: { repoURL: "https://github.com/acme/inventory.git", path: "deploy/chart" },
            environments: [{ name: "prod" as const, targetRevision: "v1.0.0", syncPolicy: { automated: { prune: false } } }],
        };
        assert.throws(
            () => new GitOpsService("inventory", args),
            /GitOpsService "inventory": 1 problem\(s\):\n- `args\.environments\[0\]\.syncPolicy` weakens the prod sync policy: automated\.prune is false.*Fix: .*`unsafeSyncPolicyReason`/,
        );
        assert.throws(
            () => new GitOpsService("inventory", { ...args, environments: [{ name: "production" as "prod", targetRevision: "v1.0.0" }] }),
            /`args\.environments\[0\]\.name` is "production"\. Fix: use one of "prod", "staging"/,
        );
        const reasoned = new GitOpsService("inventory", { ...args, environments: [{ ...args.environments[0], unsafeSyncPolicyReason: "OPS-12: migration keeps old objects" }] });
        await settle(recorded);
        assert.ok(reasoned);
        assert.equal(recorded.filter((r) => r.type === "kubernetes:argoproj.io/v1alpha1:Application").length, 1, "only the reasoned one registered");
    });
    it("pauseAutomatedSync on prod is a break-glass exception: refused without a reason, a ticket and an expiry within the limit, before anything registers", async () => {
        const recorded = installMocks("dev", { project: "team-pause" });
        const { GitOpsService } = await import("gitops-control/components");
        const args = { team: "fulfilment", repoURL: "https://github.com/acme/inventory.git", environments: [{ name: "prod" as const, pauseAutomatedSync: true }] };
        assert.throws(
            () => new GitOpsService("inventory", args),
            (e: Error) => {
                assert.equal(
                    e.message,
                    [
                        'GitOpsService "inventory": 3 problem(s):',
                        "- `args.environments[0].pauseAutomatedSync` weakens the prod sync policy: automated.enabled is false (Git no longer reconciles). Fix: restore the preset, or document the exception in `unsafeSyncPolicyReason` (reason and ticket, at least 10 characters)",
                        "- `args.environments[0].annotations` pauses automated sync with no ticket in gitops-control.io/break-glass-ticket. Fix: reference the incident or change ticket, e.g. INC-4711 (the stack's breakGlass entries set it)",
                        '- `args.environments[0].annotations` pauses automated sync with no expiry in gitops-control.io/break-glass-expires: nothing would end the pause. Fix: set when the pause ends, e.g. "2026-11-24T16:00:00Z" (the stack\'s breakGlass entries set it)',
                    ].join("\n"),
                );
                return true;
            },
        );
        const at = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();
        const paused = (hours: number, extra: object = {}) => ({
            ...args,
            ...extra,
            environments: [
                {
                    ...args.environments[0],
                    unsafeSyncPolicyReason: "INC-4711: hotfix in flight",
                    annotations: { "gitops-control.io/break-glass-ticket": "INC-4711", "gitops-control.io/break-glass-expires": at(hours) },
                },
            ],
        });
        assert.throws(
            () => new GitOpsService("inventory", paused(48)),
            /`args\.environments\[0\]\.annotations` pauses automated sync until \S+, more than 24 h from now\. Fix: end the pause within 24 h \(breakGlassPolicy\.maxHours; GitOpsService arg `breakGlassMaxHours`\)/,
        );
        await settle(recorded);
        assert.equal(recorded.length, 0);
        new GitOpsService("inventory", paused(2));
        await settle(recorded);
        const app = recorded.find((r) => r.type === "kubernetes:argoproj.io/v1alpha1:Application")!;
        assert.equal(app.inputs.spec.syncPolicy.automated.enabled, false);
        assert.equal(app.inputs.metadata.annotations["gitops-control.io/break-glass-ticket"], "INC-4711");
        // The stack's breakGlassPolicy.maxHours reaches the component as `breakGlassMaxHours`.
        assert.doesNotThrow(() => new GitOpsService("inventory-long", paused(48, { breakGlassMaxHours: 72 })));
        // Its registrations end inside this test (the next test's mocks would not know them).
        await settle(recorded);
        assert.ok(recorded.some((r) => r.name === "inventory-long-prod-app" || (r.type === "kubernetes:argoproj.io/v1alpha1:Application" && r.name.startsWith("inventory-long"))));
    });

    it("stack-wide components parse their args with their settings schemas: a wrong type names the field, no crash", async () => {
        const { validateDestinationClusterArgs, validateJanitorArgs } = await import("gitops-control/components");
        const destination = { argoNamespace: "argocd", clusterName: "edge", server: 42, bearerToken: "t" } as unknown as Parameters<typeof validateDestinationClusterArgs>[0];
        assert.throws(() => validateDestinationClusterArgs(destination), /^GitOpsConfigError: `args\.server` must be string, not 42\. Fix: correct the value/);
        const janitor = { namespace: "argocd", ttlHours: "72" } as unknown as Parameters<typeof validateJanitorArgs>[0];
        assert.throws(() => validateJanitorArgs(janitor), /^GitOpsConfigError: `args\.ttlHours` must be (int|number), not "72"/);
        const { validateArgoCdArgs } = await import("gitops-control/components");
        assert.throws(() => validateArgoCdArgs({ ha: "yes" } as never), /^GitOpsConfigError: `args\.ha` must be boolean, not "yes"/);
        assert.throws(() => validateArgoCdArgs({ replicas: { server: "2" } } as never), /^GitOpsConfigError: `args\.replicas\.server` must be (int|number), not "2"/);
    });

    // `render --program` and a consumer project importing the package run as real processes in tests/integration/cli.test.ts.
});

describe("both routes share one resolve/validate path", () => {
    it("resolved once per service: the component's spread of the pipeline's args hits the memo, changed args do not", () => {
        const spec = { team: "t", source: { repoURL: "https://github.com/acme/x.git", path: "." }, environments: [{ name: "prod" as const, targetRevision: "v1.0.0" }] };
        const first = resolveService("x", spec);
        assert.equal(resolveService("x", { ...spec, argoNamespace: "argocd" }), first, "as ControlPlane passes it: { ...args, argoNamespace, provider }");
        assert.notEqual(resolveService("x", { ...spec, source: { ...spec.source, path: "deploy" } }), first);
        assert.notEqual(resolveService("x", { ...spec, argoNamespace: "gitops" }), first);
    });

    it("a stack entry and the same service from a team program render the same Application and AppProject specs", async () => {
        const entry = {
            name: "checkout",
            team: "storefront",
            repoURL: "https://github.com/acme/checkout.git",
            path: "deploy/chart",
            targetRevision: "v5.2.0",
            syncPolicy: { retry: { limit: 8 }, syncOptions: ["ServerSideApply=false"] },
        };
        const specs = (resources: RecordedResource[]) =>
            resources
                .filter((r) => r.type.startsWith("kubernetes:argoproj.io/v1alpha1:") && r.inputs.metadata.name.startsWith("checkout"))
                .map((r) => [r.inputs.kind ?? r.type.split(":").pop(), r.inputs.metadata.name, r.inputs.spec])
                .sort((a, b) => String(a[1]).localeCompare(String(b[1])));

        const stackRoute = installMocks("prod");
        pulumi.runtime.setAllConfig({ "gitops-control:environment": "prod", "gitops-control:services": JSON.stringify([entry]) }, []);
        controlPlaneProgram();
        await settle(stackRoute);

        const teamRoute = installMocks("dev", { project: "team" });
        const { GitOpsService } = await import("gitops-control/components");
        new GitOpsService(entry.name, {
            team: entry.team,
            source: { repoURL: entry.repoURL, path: entry.path },
            environments: [{ name: "prod", targetRevision: entry.targetRevision, syncPolicy: { retry: { limit: 8 }, syncOptions: ["ServerSideApply=false"] } }],
            // The prod stack runs the prune gate: a team program onboarding prod there asks for Prune=confirm too.
            confirmPrunes: true,
        });
        await settle(teamRoute);

        const fromStack = specs(stackRoute);
        assert.deepEqual(
            fromStack.map((s) => s[1]),
            ["checkout", "checkout-prod"],
        );
        assert.deepEqual(specs(teamRoute), fromStack);
        const app = fromStack[1][2] as { syncPolicy: { retry: { limit: number }; syncOptions: string[] }; revisionHistoryLimit: number };
        assert.equal(app.syncPolicy.retry.limit, 8);
        assert.ok(app.syncPolicy.syncOptions.includes("ServerSideApply=false") && !app.syncPolicy.syncOptions.includes("ServerSideApply=true"));
        assert.equal(app.revisionHistoryLimit, 20);
    });
});
