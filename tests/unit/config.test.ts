import { defaultRules } from "../../components/guardrails/rules";
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { renderApplication } from "../../components/applications/GitOpsApplication";
import { requireResolvedService } from "../../components/serviceSpec";
import { buildControlPlaneArgs, loadStack, parseStackConfig } from "../../stacks/config";

const service = {
    name: "payments-api",
    team: "payments",
    repoURL: "https://github.com/acme/payments-api.git",
    path: "deploy/chart",
    targetRevision: "v1.0.0",
};
const token = { githubToken: pulumi.secret("t") };
const resolvedEnvironments = (args: ReturnType<typeof buildControlPlaneArgs>, i: number) =>
    requireResolvedService(args.services[i].name, { ...args.services[i].args, argoNamespace: args.argoCd.namespace }).environments;
const build = (raw: Record<string, unknown>, secrets = {}) => buildControlPlaneArgs(parseStackConfig(raw), secrets);

describe("stack config: every mistake fails before any resource, naming the field and the fix", () => {
    it("unknown top-level and nested keys", () => {
        assert.throws(() => parseStackConfig({ environment: "prod", servces: [] }), /`gitops-control` has unknown key\(s\) "servces".*Fix: remove them or correct the spelling/);
        assert.throws(
            () => parseStackConfig({ environment: "prod", services: [{ ...service, syncPolicy: { automated: { selfheal: true } } }] }),
            /`gitops-control:services\[0\]\.syncPolicy\.automated` \(service "payments-api"\) has unknown key\(s\) "selfheal"/,
        );
    });

    it("missing or unknown environment", () => {
        assert.throws(() => parseStackConfig({}), /`gitops-control:environment` is missing/);
        assert.throws(() => parseStackConfig({ environment: "production" }), /`gitops-control:environment` is "production". Fix: use one of "prod", "staging", "local"/);
    });

    it("wrong types", () => {
        assert.throws(() => parseStackConfig({ environment: "prod", guardrails: { replicaCap: "twenty" } }), /`gitops-control:guardrails\.replicaCap` must be number/);
        assert.throws(
            () => parseStackConfig({ environment: "prod", services: [{ ...service, syncPolicy: { syncOptions: ["CreateNamespace=yes"] } }] }),
            /`gitops-control:services\[0\]\.syncPolicy\.syncOptions\[0\]` \(service "payments-api"\) is "CreateNamespace=yes"/,
        );
    });

    it("a prod stack with allowEmpty: true needs a documented reason", () => {
        const weak = { ...service, syncPolicy: { automated: { allowEmpty: true } } };
        assert.throws(
            () => build({ environment: "prod", services: [weak] }),
            /`gitops-control:services\[0\]\.syncPolicy` \(service "payments-api", GitOpsService arg `syncPolicy`\) weakens the prod sync policy: automated\.allowEmpty is true.*Fix: .*unsafeSyncPolicyReason/,
        );
        const args = build({ environment: "prod", services: [{ ...weak, unsafeSyncPolicyReason: "OPS-991: migration empties the app" }] });
        assert.equal(resolvedEnvironments(args, 0)[0].syncPolicy.automated.allowEmpty, true);
    });

    it("a prod stack with prune: false or selfHeal: false needs a documented reason", () => {
        assert.throws(() => build({ environment: "prod", services: [{ ...service, syncPolicy: { automated: { prune: false } } }] }), /automated\.prune is false/);
        assert.throws(() => build({ environment: "prod", services: [{ ...service, syncPolicy: { automated: { selfHeal: false } } }] }), /automated\.selfHeal is false/);
        // Staging is lenient: the same override is fine there.
        const args = build({ environment: "staging", services: [{ ...service, syncPolicy: { automated: { prune: false } } }] });
        assert.equal(resolvedEnvironments(args, 0)[0].syncPolicy.automated.prune, false);
    });

    it("a malformed repo URL", () => {
        assert.throws(
            () => build({ environment: "prod", services: [{ ...service, repoURL: "acme/payments-api" }] }),
            /`gitops-control:services\[0\]\.repoURL` \(service "payments-api", GitOpsService arg `repoURL`\) is "acme\/payments-api", not a Git URL Argo CD can clone. Fix: use "https:/,
        );
    });

    it("a requeueAfterSeconds below the floor", () => {
        assert.throws(
            () => build({ environment: "staging", github: { owner: "acme" }, services: [{ ...service, previews: { requeueAfterSeconds: 10 } }] }, token),
            /`gitops-control:services\[0\]\.previews\.requeueAfterSeconds` \(service "payments-api".*\) is 10.*Fix: use a whole number from 30/,
        );
    });

    it("a preview cap and TTL out of range, each named with its key, service and fix", () => {
        assert.throws(
            () => build({ environment: "staging", github: { owner: "acme" }, services: [{ ...service, previews: { maxOpen: 0 } }] }, token),
            /`gitops-control:services\[0\]\.previews\.maxOpen` \(service "payments-api".*\) is 0\. Fix: use a whole number from 1 to 50 \(5 is the default\): previews beyond it wait until one closes/,
        );
        assert.throws(
            () => build({ environment: "staging", github: { owner: "acme" }, services: [{ ...service, previews: { ttlHours: 10_000 } }] }, token),
            /`gitops-control:services\[0\]\.previews\.ttlHours` \(service "payments-api".*\) is 10000\. Fix: use a whole number of hours from 1 to 672/,
        );
        assert.throws(
            () => build({ environment: "staging", github: { owner: "acme" }, services: [{ ...service, previews: { maxOpen: 2.5 } }] }, token),
            /`gitops-control:services\[0\]\.previews\.maxOpen`/,
        );
    });

    it("a replica cap of zero or below", () => {
        assert.throws(() => parseStackConfig({ environment: "prod", guardrails: { replicaCap: 0 } }), /`gitops-control:guardrails\.replicaCap` is 0: Too small/);
        assert.throws(() => parseStackConfig({ environment: "prod", guardrails: { replicaCap: -3 } }), /guardrails\.replicaCap/);
    });

    it("an unknown rule in guardrails.disabledRules", () => {
        assert.throws(
            () => build({ environment: "prod", guardrails: { disabledRules: ["no-latest"] } }),
            /`gitops-control:guardrails\.disabledRules\[0\]` is "no-latest", not a rule of the library. Fix: use one of require-pod-security-context/,
        );
        const rules = build({ environment: "prod", guardrails: { disabledRules: ["restrict-workload-writers"], requiredLabels: ["team"] } }).guardrails.rules;
        assert.equal(rules.length, defaultRules().length - 1);
        assert.ok(!rules.some((r) => r.name === "restrict-workload-writers"));
        assert.deepEqual(rules.find((r) => r.name === "require-labels")?.params.labels, ["team"]);
    });

    it("duplicate service names", () => {
        assert.throws(
            () => build({ environment: "prod", services: [service, { ...service, team: "other" }] }),
            /`gitops-control:services\[1\]\.name` \(service "payments-api", GitOpsService arg `name`\) is "payments-api", already the name of another service \(team payments\)/,
        );
    });

    it("service names that are not Kubernetes names", () => {
        assert.throws(
            () => build({ environment: "prod", services: [{ ...service, name: "Payments_API" }] }),
            /`gitops-control:services\[0\]\.name` \(service "Payments_API", GitOpsService arg `name`\) is "Payments_API".*Fix: rename it, e.g. "payments-api"/,
        );
    });

    it("previews without a GitHub token name the command to set it", () => {
        assert.throws(
            () => build({ environment: "staging", github: { owner: "acme" }, services: [{ ...service, previews: {} }] }),
            /`gitops-control:githubToken` is not set.*Fix: run `pulumi config set --secret gitops-control:githubToken <token>`/,
        );
    });

    it("previews on a prod stack", () => {
        assert.throws(
            () => build({ environment: "prod", github: { owner: "acme" }, services: [{ ...service, previews: {} }] }, token),
            /`gitops-control:services\[0\]\.previews` \(service "payments-api"\) is set on a prod stack/,
        );
    });

    it("a token stored in plain text", () => {
        pulumi.runtime.setAllConfig({ "gitops-control:environment": "staging", "gitops-control:githubToken": "ghp_plain" }, []);
        assert.throws(() => loadStack(), /`gitops-control:githubToken` is stored in plain text.*pulumi config set --secret/);
        pulumi.runtime.setAllConfig({ "gitops-control:environment": "staging", "gitops-control:githubToken": "ghp_plain" }, ["gitops-control:githubToken"]);
        assert.doesNotThrow(() => loadStack());
    });

    it("reports every problem at once", () => {
        const error = (() => {
            try {
                parseStackConfig({ environment: "qa", guardrails: { replicaCap: "x" }, extra: 1 });
            } catch (e) {
                return (e as Error).message;
            }
            return "";
        })();
        assert.equal(error.split("\n").filter((l) => l.startsWith("- `")).length, 3);
    });
});

describe("stack config: presets", () => {
    it("the local stack deploys to staging and prod, binds both, uses the fixture chart and skips awaiting", () => {
        const args = build({ environment: "local", services: [service] });
        assert.deepEqual(
            args.services[0].args.environments.map((e) => (typeof e === "string" ? e : e.name)),
            ["staging", "prod"],
        );
        assert.deepEqual(
            args.guardrails.bindings.map((b) => [b.environment, b.validationActions]),
            [
                ["prod", ["Deny", "Audit"]],
                ["staging", ["Warn", "Audit"]],
            ],
        );
        assert.deepEqual(args.argoCd.chart, { kind: "local", path: "../shared/fixtures/argo-cd/charts/argo-cd-10.1.1.tgz" });
        assert.equal(args.argoCd.skipAwait, true);
        // Argo CD's reconcilers run out of cluster there (scripts/cluster/reconcilers.ts): destroy works as in prod.
        assert.equal(args.services[0].args.cascadeDelete, true);
        assert.equal(
            renderApplication("a", {
                argoNamespace: "argocd",
                project: "p",
                source: { ...service, helm: {} },
                destination: { namespace: "n" },
                syncPolicy: resolvedEnvironments(args, 0)[0].syncPolicy,
                cascadeDelete: false,
            }).metadata?.finalizers,
            undefined,
        );
        assert.equal(build({ environment: "prod", services: [service] }).services[0].args.cascadeDelete, true);
    });

    it("prod protects and runs HA; staging does neither", () => {
        const prod = build({ environment: "prod" });
        const staging = build({ environment: "staging" });
        assert.deepEqual([prod.argoCd.ha, prod.argoCd.protect, prod.guardrails.protect], [true, true, true]);
        assert.deepEqual([staging.argoCd.ha, staging.argoCd.protect, staging.guardrails.protect], [false, false, false]);
    });

    it("a service sync override replaces an option by key and keeps the rest", () => {
        const args = build({ environment: "staging", services: [{ ...service, syncPolicy: { syncOptions: ["ServerSideApply=false"], retry: { limit: 1 } } }] });
        const policy = resolvedEnvironments(args, 0)[0].syncPolicy;
        assert.deepEqual(policy.syncOptions, ["CreateNamespace=true", "PruneLast=true", "RespectIgnoreDifferences=true", "ApplyOutOfSyncOnly=true", "ServerSideApply=false"]);
        assert.equal(policy.retry.limit, 1);
        assert.equal(policy.retry.backoff.duration, "10s");
    });
});
