import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { resolveService } from "../../components/serviceSpec";
import { RecordedResource, installMocks, settle, valueOf } from "../../scripts/lib/mockRuntime";

// Each suite installs fresh mocks in its `before` (suites of several files share one process).
let recorded: RecordedResource[] = [];

import { DestinationCluster, RepositoryCredentials, argoCdVersion } from "../../components";
import { renderDestination } from "../../components/applications/destinations";
import { renderApplication, waitForSyncAnnotations } from "../../components/applications/GitOpsApplication";
import { renderArgoCdValues } from "../../components/argocd/ArgoCd";
import { buildControlPlaneArgs, loadStack, parseStackConfig } from "../../stacks/config";
import { argoProblems, failingSyncShape } from "../../scripts/lib/argocdStatus";

const caData = Buffer.from("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").toString("base64");
const service = { name: "shop", team: "storefront", repoURL: "https://github.com/acme/shop.git", path: "deploy/chart", targetRevision: "v1.0.0" };
const build = (raw: Record<string, unknown>, secrets = {}) => buildControlPlaneArgs(parseStackConfig(raw), secrets);
const byName = (type: string, name: string) => recorded.find((r) => r.type === type && r.name === name);
/** The value at `path` is secret (itself or an enclosing object). */
const isSecret = (r: RecordedResource, path: string) => r.secretPaths.some((p) => path === p || path.startsWith(`${p}.`));

describe("destinations: clusters registered with Argo CD, addressed by name", () => {
    before(() => {
        recorded = installMocks("unit");
    });
    let cluster: DestinationCluster;
    before(async () => {
        cluster = new DestinationCluster("edge", {
            argoNamespace: "argocd",
            clusterName: "edge",
            server: "https://10.0.0.1:6443",
            bearerToken: pulumi.secret("edge-token"),
            caData,
        });
        await valueOf(cluster.clusterName);
        await settle(recorded);
    });

    it("a cluster Secret labelled for Argo CD, its config (with the token) a Pulumi secret", () => {
        const secret = byName("kubernetes:core/v1:Secret", "edge-cluster")!;
        assert.equal(secret.inputs.metadata.labels["argocd.argoproj.io/secret-type"], "cluster");
        assert.equal(secret.inputs.stringData.name, "edge");
        assert.equal(secret.inputs.stringData.server, "https://10.0.0.1:6443");
        assert.deepEqual(JSON.parse(secret.inputs.stringData.config), { bearerToken: "edge-token", tlsClientConfig: { insecure: false, caData } });
        assert.ok(isSecret(secret, "stringData.config"), `secret paths: ${secret.secretPaths.join(", ")}`);
    });

    it("Applications and projects render the destination by name; in-cluster by server", () => {
        assert.deepEqual(renderDestination({ name: "edge" }, "shop-prod"), { name: "edge", namespace: "shop-prod" });
        assert.deepEqual(renderDestination(undefined, "shop-prod"), { server: "https://kubernetes.default.svc", namespace: "shop-prod" });
    });

    it("bad cluster args are refused before anything is registered", () => {
        assert.throws(
            () => new DestinationCluster("x", { argoNamespace: "argocd", clusterName: "in-cluster", server: "https://a", bearerToken: "t" }),
            /`args\.clusterName` is "in-cluster"/,
        );
        assert.throws(() => new DestinationCluster("x", { argoNamespace: "argocd", clusterName: "a", server: "http://a", bearerToken: "t" }), /`args\.server` is "http:\/\/a"/);
        assert.throws(
            () => new DestinationCluster("x", { argoNamespace: "argocd", clusterName: "a", server: "https://a", bearerToken: "t", caData: "bm9wZQ==" }),
            /`args\.caData` is not a base64-encoded PEM/,
        );
    });

    it("stack config: services deploy to declared clusters; a missing token names the exact command", () => {
        const raw = { environment: "staging", destinations: [{ name: "edge", server: "https://10.0.0.1:6443", caData }], defaultCluster: "edge", services: [service] };
        const args = build(raw, { destinationTokens: { edge: pulumi.secret("t") } });
        assert.equal(args.services[0].args.cluster, "edge");
        assert.equal(args.destinations?.[0].clusterName, "edge");
        assert.throws(() => build(raw), /`gitops-control:destinationTokens\.edge` is not set.*pulumi config set --secret --path 'gitops-control:destinationTokens\.edge' <value>/);
        assert.throws(
            () => build({ environment: "staging", services: [{ ...service, cluster: "nowhere" }] }),
            /`gitops-control:services\[0\]\.cluster` \(service "shop"\) is "nowhere", not a registered cluster\. Fix: declare it in `gitops-control:destinations` or use one of in-cluster/,
        );
        assert.throws(() => build({ environment: "staging", defaultCluster: "edge" }), /`gitops-control:defaultCluster` is "edge", not a registered cluster/);
        // "in-cluster" is Argo CD's own cluster: the default destination, rendered by server.
        const local = build({ environment: "staging", services: [{ ...service, cluster: "in-cluster" }] }).services[0];
        assert.equal(resolveService(local.name, local.args).resolved?.cluster, undefined);
        // An environment's cluster overrides the service's (defaultCluster here), in-cluster included.
        const built = build({ ...raw, services: [{ ...service, environments: [{ name: "staging", cluster: "in-cluster" }] }] }, { destinationTokens: { edge: pulumi.secret("t") } })
            .services[0];
        const envs = resolveService(built.name, built.args).resolved!.environments;
        assert.deepEqual(envs[0].cluster, { server: "https://kubernetes.default.svc" });
    });
});

describe("secret maps: read as Pulumi secrets, never as plain config", () => {
    before(() => {
        recorded = installMocks("unit");
    });
    const edge = { name: "edge", server: "https://10.0.0.1:6443" };
    const stackConfig = (extra: Record<string, string>, secretKeys: string[]) =>
        pulumi.runtime.setAllConfig({ "gitops-control:environment": "staging", "gitops-control:destinations": JSON.stringify([edge]), ...extra }, secretKeys);

    it("a stored secret map is read with requireSecretObject: each token a secret Output, absent from the parsed config", async () => {
        stackConfig({ "gitops-control:destinationTokens": '{"edge":"stored-token"}' }, ["gitops-control:destinationTokens"]);
        const { args, config } = loadStack();
        const token = args.destinations![0].bearerToken as pulumi.Output<string>;
        assert.equal(await pulumi.isSecret(token), true);
        assert.equal(await valueOf(token), "stored-token");
        assert.equal((config as Record<string, unknown>).destinationTokens, undefined);
    });

    it("a secret map in plain text is refused with the command that stores it", () => {
        stackConfig({ "gitops-control:destinationTokens": '{"edge":"plain"}' }, []);
        assert.throws(
            () => loadStack(),
            /`gitops-control:destinationTokens` is stored in plain text.*pulumi config set --secret --path 'gitops-control:destinationTokens\.<name>'/s,
        );
    });

    it("secretOverrides (Automation-API callers) supply the map for one run, wrapped as secrets", async () => {
        stackConfig({}, []);
        assert.throws(() => loadStack(), /`gitops-control:destinationTokens\.edge` is not set/);
        const { args } = loadStack(new Date(), {}, { destinationTokens: { edge: "run-token" } });
        const token = args.destinations![0].bearerToken as pulumi.Output<string>;
        assert.equal(await pulumi.isSecret(token), true);
        assert.equal(await valueOf(token), "run-token");
    });
});

describe("repository credentials: private repositories by URL prefix, secret end to end", () => {
    before(() => {
        recorded = installMocks("unit");
    });
    before(async () => {
        const creds = new RepositoryCredentials("acme", {
            argoNamespace: "argocd",
            url: "https://github.com/acme/",
            auth: { kind: "https", username: "git", password: pulumi.secret("ghp_x") },
        });
        await valueOf(creds.secretName);
        new RepositoryCredentials("infra", { argoNamespace: "argocd", url: "git@github.com:acme/", auth: { kind: "ssh", sshPrivateKey: pulumi.secret("KEY") } });
        await settle(recorded);
    });

    it("a repo-creds template Secret whose password is a Pulumi secret", () => {
        const secret = byName("kubernetes:core/v1:Secret", "acme-repo-creds")!;
        assert.equal(secret.inputs.metadata.labels["argocd.argoproj.io/secret-type"], "repo-creds");
        assert.deepEqual({ ...secret.inputs.stringData }, { type: "git", url: "https://github.com/acme/", username: "git", password: "ghp_x" });
        assert.ok(isSecret(secret, "stringData.password"));
        const ssh = byName("kubernetes:core/v1:Secret", "infra-repo-creds")!;
        assert.equal(ssh.inputs.stringData.sshPrivateKey, "KEY");
        assert.ok(isSecret(ssh, "stringData.sshPrivateKey"));
    });

    it("credentials in the URL, plain http to another host and a wrong SSH prefix are refused", () => {
        const https = (url: string) => new RepositoryCredentials("x", { argoNamespace: "argocd", url, auth: { kind: "https", username: "git", password: "p" } });
        assert.throws(() => https("https://user:token@github.com/acme/"), /`args\.url` is "https:\/\/user:token@github\.com\/acme\/", not an HTTPS URL prefix without credentials/);
        assert.throws(() => https("http://git.example.com/acme/"), /not an HTTPS URL prefix/);
        assert.throws(
            () => new RepositoryCredentials("x", { argoNamespace: "argocd", url: "https://github.com/acme/", auth: { kind: "ssh", sshPrivateKey: "k" } }),
            /not an SSH URL prefix/,
        );
    });

    it("stack config: each credential needs its secret; GitHub Apps need their ids", () => {
        const raw = { environment: "prod", repositoryCredentials: [{ name: "acme", url: "https://github.com/acme/", type: "https" }] };
        assert.throws(() => build(raw), /`gitops-control:repositorySecrets\.acme` is not set.*pulumi config set --secret --path 'gitops-control:repositorySecrets\.acme' <value>/);
        const args = build(raw, { repositorySecrets: { acme: pulumi.secret("ghp") } });
        assert.deepEqual(args.repositoryCredentials?.acme.url, "https://github.com/acme/");
        assert.equal(args.repositoryCredentials?.acme.auth.kind, "https");
        assert.throws(
            () => build({ environment: "prod", repositoryCredentials: [{ name: "app", url: "https://github.com/acme/", type: "githubApp" }] }, { repositorySecrets: { app: "k" } }),
            /`gitops-control:repositoryCredentials\[0\]` is a GitHub App credential without `githubAppId`/,
        );
    });
});

describe("up waits for Argo CD where asked", () => {
    before(() => {
        recorded = installMocks("unit");
    });
    const source = { repoURL: service.repoURL, targetRevision: "v1.0.0", path: "deploy/chart" };
    const base = {
        argoNamespace: "argocd",
        project: "shop",
        source,
        destination: { namespace: "shop-prod" },
        syncPolicy: {
            automated: { enabled: true, prune: true, selfHeal: true, allowEmpty: false },
            syncOptions: [],
            retry: { limit: 1, backoff: { duration: "5s", factor: 2, maxDuration: "1m" }, refresh: false },
        },
    } as const;

    it("waitFor conditions: Synced and Healthy at the source just applied, with the timeout", () => {
        const annotations = renderApplication("shop-prod", { ...base, waitForSync: { timeoutSeconds: 300 } }).metadata!.annotations!;
        assert.deepEqual(JSON.parse(annotations["pulumi.com/waitFor"]), [
            "jsonpath={.status.sync.comparedTo.source.targetRevision}=v1.0.0",
            "jsonpath={.status.sync.comparedTo.source.path}=deploy/chart",
            "jsonpath={.status.sync.status}=Synced",
            "jsonpath={.status.health.status}=Healthy",
        ]);
        assert.equal(annotations["pulumi.com/timeoutSeconds"], "300");
        assert.deepEqual(waitForSyncAnnotations(source, 60)["pulumi.com/timeoutSeconds"], "60");
        assert.equal(renderApplication("shop-prod", base).metadata!.annotations!["pulumi.com/waitFor"], undefined);
    });

    it("stack key waitForSync reaches every Application; absurd timeouts are refused", () => {
        const args = build({ environment: "staging", waitForSync: { enabled: true }, services: [service] });
        assert.deepEqual(args.services[0].args.waitForSync, { timeoutSeconds: 600 });
        assert.equal(build({ environment: "staging", services: [service] }).services[0].args.waitForSync, undefined);
        assert.throws(() => renderApplicationChecked({ timeoutSeconds: 5 }), /`args\.waitForSync\.timeoutSeconds` is 5/);
        assert.throws(() => renderApplicationChecked({ timeoutSeconds: 86400 }), /`args\.waitForSync\.timeoutSeconds` is 86400/);
    });

    function renderApplicationChecked(waitForSync: { timeoutSeconds: number }) {
        // The component validates before registering anything.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { GitOpsApplication } = require("../../components/applications/GitOpsApplication") as typeof import("../../components/applications/GitOpsApplication");
        return new GitOpsApplication("shop-prod", { ...base, waitForSync });
    }
});

describe("drift report: what Argo CD says of the Applications", () => {
    before(() => {
        recorded = installMocks("unit");
    });
    const app = (name: string, status: Record<string, unknown>, automated: Record<string, unknown> = { enabled: true }) => ({
        metadata: { name },
        spec: { syncPolicy: { automated } },
        status,
    });

    it("names OutOfSync, failed, paused and degraded Applications with Argo CD's reasons; healthy ones are not listed", () => {
        const problems = argoProblems([
            app("ok", { sync: { status: "Synced" }, health: { status: "Healthy" } }),
            app("drifted", { sync: { status: "OutOfSync" }, health: { status: "Healthy" } }),
            app("failed", {
                sync: { status: "OutOfSync" },
                health: { status: "Healthy" },
                operationState: {
                    phase: "Failed",
                    message: "one or more objects failed to apply",
                    syncResult: {
                        resources: [{ kind: "Deployment", name: "debug", namespace: "shop-prod", status: "SyncFailed", message: "denied (guardrail disallow-latest-image)" }],
                    },
                },
            }),
            app("paused", { sync: { status: "OutOfSync" }, health: { status: "Healthy" } }, { enabled: false }),
            app("broken", {
                sync: { status: "Unknown" },
                health: { status: "Healthy" },
                conditions: [{ type: "ComparisonError", message: "helm template failed: nosuchfunction" }],
            }),
            app("sick", { sync: { status: "Synced" }, health: { status: "Degraded", message: "crash loop" } }),
        ]);
        assert.deepEqual(
            problems.map((p) => `${p.application}:${p.kind}`),
            ["drifted:OutOfSync", "failed:SyncFailed", "paused:Paused", "broken:Unknown", "sick:Degraded"],
        );
        assert.match(problems[1].reasons.join("\n"), /Deployment shop-prod\/debug: denied \(guardrail disallow-latest-image\)/);
        assert.match(problems[3].reasons.join("\n"), /ComparisonError: helm template failed: nosuchfunction/);
        assert.match(problems[2].reasons[0], /paused/);
    });
});

describe("drift report: a failing sync in every shape Argo CD v3.6.1 writes while it retries", () => {
    // Captured from the real controller by tests/integration/reconcilers.test.ts
    // (GITOPS_CAPTURE_ARGOCD_STATUS=<dir>): shop-prod failing on a guardrail denial.
    const captured = (shape: string) =>
        JSON.parse(fs.readFileSync(path.join(__dirname, "..", "fixtures", "argocd-status", `${shape}.json`), "utf8")) as Parameters<typeof argoProblems>[0][number];
    const guardrail = /ValidatingAdmissionPolicy 'gitops-control-disallow-latest-image'.*\(guardrail disallow-latest-image\)/;

    it("the first attempt still running with a resource already denied: SyncFailed with the guardrail's message", () => {
        const app = captured("failing");
        assert.equal(app.status?.operationState?.retryCount, undefined);
        assert.equal(failingSyncShape(app), "failing");
        const [problem] = argoProblems([app]);
        assert.equal(problem.kind, "SyncFailed");
        assert.match(problem.reasons.join("\n"), /sync failing, attempt running: /);
        assert.match(problem.reasons.join("\n"), guardrail);
    });

    it("waiting for the next retry (phase Running, finishedAt set): SyncFailed with the resource and the guardrail's message", () => {
        const app = captured("waiting");
        assert.equal(failingSyncShape(app), "waiting");
        const [problem] = argoProblems([app]);
        assert.equal(problem.kind, "SyncFailed");
        assert.match(problem.reasons.join("\n"), /sync failing, retry [1-9] of 5: /);
        assert.match(problem.reasons.join("\n"), guardrail);
        assert.match(problem.reasons.join("\n"), /Deployment shop-prod\/shop-debug: /);
    });

    it("a retry running, its result cleared (no syncResult, no finishedAt): still SyncFailed, naming the resource it could not apply", () => {
        const app = captured("retrying");
        assert.equal(app.status?.operationState?.syncResult, undefined, "the capture is the shape without a sync result");
        assert.equal(failingSyncShape(app), "retrying");
        const [problem] = argoProblems([app]);
        assert.equal(problem.kind, "SyncFailed");
        assert.match(problem.reasons.join("\n"), /retry [1-9] of 5 running/);
        assert.match(problem.reasons.join("\n"), /Deployment shop-prod\/shop-debug: OutOfSync.*, not applied by the failed attempt/);
        // With a successful sync in its history (this capture had none yet), the report names the revision prod still runs.
        const deployed = { ...app, status: { ...app.status, history: [{ revision: "0123456789abcdef0123456789abcdef01234567", deployedAt: "2026-12-06T21:03:06Z" }] } };
        assert.match(argoProblems([deployed])[0].reasons.join("\n"), /last successful sync: 0123456789ab at 2026-12-06T21:03:06Z/);
    });

    it("a retry running and writing its result again: SyncFailed, the resource named", () => {
        const app = captured("retrying-in-progress");
        assert.equal(failingSyncShape(app), "retrying");
        const [problem] = argoProblems([app]);
        assert.equal(problem.kind, "SyncFailed");
        assert.match(problem.reasons.join("\n"), /Deployment shop-prod\/shop-debug: OutOfSync/);
    });

    it("ended (terminated by hand or retries exhausted: phase Failed): SyncFailed with Argo CD's last message", () => {
        const app = captured("failed");
        assert.equal(failingSyncShape(app), "failed");
        const [problem] = argoProblems([app]);
        assert.equal(problem.kind, "SyncFailed");
        assert.match(problem.reasons.join("\n"), /last sync (Failed|Error): /);
        assert.doesNotMatch(problem.reasons.join("\n"), /skips auto-sync and self-heal/, "Git still points at the failed revision");
    });

    it("Synced again by a revert after a failed sync: still SyncFailed, and the report says self-heal is off until the next full comparison", () => {
        const app = captured("failed");
        const reverted = "fedcba9876543210fedcba9876543210fedcba98";
        const synced = { ...app, status: { ...app.status, sync: { ...app.status?.sync, status: "Synced", revision: reverted } } };
        const [problem] = argoProblems([synced]);
        assert.equal(problem.kind, "SyncFailed");
        assert.match(problem.reasons.join("\n"), /Synced at fedcba987654 without a sync since the failed one \(eb21bde5a6d6\): Argo CD skips auto-sync and self-heal/);
    });

    it("without the operation state's retry fields, the same status would read OutOfSync: the shapes are what decide", () => {
        const app = captured("retrying");
        const { retryCount: _retryCount, ...op } = app.status?.operationState ?? {};
        const [problem] = argoProblems([{ ...app, status: { ...app.status, operationState: op } }]);
        assert.notEqual(problem?.kind, "SyncFailed");
    });
});

describe("one Argo CD version everywhere", () => {
    before(() => {
        recorded = installMocks("unit");
    });
    it("the version the program installs (images, CRDs) is the one the toolchain builds the reconcilers from", () => {
        const versions = fs.readFileSync(path.join(__dirname, "..", "..", "scripts", "toolchain", "versions.env"), "utf8");
        assert.equal(`v${/^ARGOCD_VERSION=(\S+)$/m.exec(versions)?.[1]}`, argoCdVersion);
        const values = renderArgoCdValues({}) as { global: { image: { tag: string } }; crds: { install: boolean } };
        assert.equal(values.global.image.tag, argoCdVersion);
        assert.equal(values.crds.install, false, "the chart's CRDs are another version's");
    });

    it("no test, script or component reaches the v3.4.4 CRD fixture: every test applies the pinned version's CRDs", () => {
        const root = path.join(__dirname, "..", "..");
        const sources = (dir: string): string[] =>
            fs.readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
                const rel = path.join(dir, e.name);
                if (e.isDirectory()) return e.name === "node_modules" ? [] : sources(rel);
                return /\.(ts|sh|mjs)$/.test(e.name) ? [rel] : [];
            });
        const files = ["tests", "scripts", "components", "stacks", "bench", "policy", "examples"].flatMap(sources);
        assert.ok(files.length > 50, `${files.length} source files read`);
        // A path to the old fixture, joined ("…/v3.4.4/crds") or built from segments ("v3.4.4", "crds").
        const oldFixture = /v3\.4\.4["'`]?\s*(?:\/|,\s*["'`])crds/;
        assert.deepEqual(
            files.filter((f) => f !== path.join("tests", "unit", "argocdLoop.test.ts") && oldFixture.test(fs.readFileSync(path.join(root, f), "utf8"))),
            [],
        );
        assert.ok(oldFixture.test('path.join("fixtures", "argo-cd", "v3.4.4", "crds", "application-crd.yaml")') && oldFixture.test("fixtures/argo-cd/v3.4.4/crds/x.yaml"));
    });
});

describe("GitOpsService deploys each environment to its cluster", () => {
    before(() => {
        recorded = installMocks("unit");
    });
    it("environments name their cluster or take the service's; previews take the service's; project destinations match", async () => {
        const { GitOpsService } = await import("../../components/index.js");
        const svc = new GitOpsService("basket", {
            team: "storefront",
            source: { repoURL: "https://github.com/acme/basket.git", path: "deploy/chart" },
            cluster: { name: "edge" },
            // Prod deploys only to a governed cluster: the platform stack holds edge's kubeconfig.
            governedClusters: ["edge"],
            environments: [
                { name: "prod", targetRevision: "v1.0.0" },
                { name: "staging", targetRevision: "main", cluster: { name: "lab" } },
            ],
            previews: { github: { owner: "acme", repo: "basket", token: pulumi.secret("t") } },
        });
        await valueOf(svc.projectName);
        await settle(recorded);
        const destination = (name: string) => byName("kubernetes:argoproj.io/v1alpha1:Application", `${name}-app`)!.inputs.spec.destination;
        assert.deepEqual(destination("basket-prod"), { name: "edge", namespace: "basket-prod" });
        assert.deepEqual(destination("basket-staging"), { name: "lab", namespace: "basket-staging" });
        const appSet = byName("kubernetes:argoproj.io/v1alpha1:ApplicationSet", "basket-previews-appset")!.inputs.spec.template.spec.destination;
        assert.equal(appSet.name, "edge");
        assert.deepEqual(byName("kubernetes:argoproj.io/v1alpha1:AppProject", "basket-project")!.inputs.spec.destinations, [
            { name: "edge", namespace: "basket-prod" },
            { name: "lab", namespace: "basket-staging" },
        ]);
        // Previews deploy through a project of their own, to their glob only.
        assert.deepEqual(byName("kubernetes:argoproj.io/v1alpha1:AppProject", "basket-previews-project")!.inputs.spec.destinations, [{ name: "edge", namespace: "basket-pr-*" }]);
        assert.throws(
            () =>
                new GitOpsService("bad", {
                    team: "t",
                    source: { repoURL: "https://github.com/acme/bad.git", path: "." },
                    cluster: { server: "http://x" },
                    environments: [{ name: "prod", targetRevision: "v1.0.0" }],
                }),
            /`args\.cluster\.server` is "http:\/\/x"/,
        );
    });
});

describe("projects let Argo CD create their own namespaces, and only those", () => {
    before(() => {
        recorded = installMocks("unit");
    });
    it("CreateNamespace with managedNamespaceMetadata needs the Namespace kind, narrowed to the service's namespaces (previews: their glob, in their own project)", async () => {
        const { GitOpsService, environmentPresets } = await import("../../components/index.js");
        const svc = new GitOpsService("cart", {
            team: "storefront",
            source: { repoURL: "https://github.com/acme/cart.git", path: "deploy/chart" },
            environments: [
                { name: "prod", targetRevision: "v1.0.0", syncPolicy: environmentPresets.prod.syncPolicy },
                { name: "staging", targetRevision: "main", syncPolicy: environmentPresets.staging.syncPolicy, namespace: "cart-stg" },
            ],
            previews: { github: { owner: "acme", repo: "cart", token: pulumi.secret("t") }, syncPolicy: environmentPresets.preview.syncPolicy },
        });
        await valueOf(svc.projectName);
        await settle(recorded);
        const spec = byName("kubernetes:argoproj.io/v1alpha1:AppProject", "cart-project")!.inputs.spec;
        assert.deepEqual(spec.clusterResourceWhitelist, [
            { group: "", kind: "Namespace", name: "cart-prod" },
            { group: "", kind: "Namespace", name: "cart-stg" },
        ]);
        const previews = byName("kubernetes:argoproj.io/v1alpha1:AppProject", "cart-previews-project")!.inputs;
        assert.equal(previews.metadata.name, "cart-previews");
        assert.deepEqual(previews.spec.clusterResourceWhitelist, [{ group: "", kind: "Namespace", name: "cart-pr-*" }]);
        assert.deepEqual(previews.spec.destinations, [{ server: "https://kubernetes.default.svc", namespace: "cart-pr-*" }]);
        assert.equal(byName("kubernetes:argoproj.io/v1alpha1:ApplicationSet", "cart-previews-appset")!.inputs.spec.template.spec.project, "cart-previews");
    });
});
