/**
 * The bad-input matrix (issue 11): every case is one stack input a user can write, run through the
 * whole program (index.ts → stacks/program.ts) under Pulumi's mock monitor, whose resource
 * registration is the spy. Each case must
 *   - fail (nothing accepted silently),
 *   - before any resource is registered (zero registrations, checked after the event loop settles),
 *   - with a message that names the stack-file key (`gitops-control:…`), the fix (`Fix:`), the
 *     service when the key is under `services[i]`, and the case's own fragment (nothing vague).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, repoRoot, settle, valueOf } from "../../scripts/lib/mockRuntime";
import { renderTarget } from "../../scripts/commands/render";
import { readStackFile } from "../../stacks/read";
import { controlPlaneProgram } from "../../stacks/program";

type Stack = "prod" | "staging" | "local";

interface Case {
    /** What the user wrote wrong. */
    readonly name: string;
    /** How the issue classed it before the fix (for the report): accepted silently, vague, late (after resources), wrong, or already clear. */
    readonly was: "silent" | "vague" | "late" | "wrong" | "clear";
    readonly stack?: Stack;
    /** Stack config keys (without namespace) replacing the base. */
    readonly config: Record<string, unknown>;
    /** Raw Pulumi config entries added as they are (other namespaces, plain-text secrets). */
    readonly rawConfig?: Record<string, string>;
    /** No GitHub token secret. */
    readonly noToken?: boolean;
    /** Fragment the message must contain. */
    readonly expect: string;
    /** Service the message must name. */
    readonly service?: string;
}

const now = new Date();
const hoursFromNow = (h: number) => new Date(now.getTime() + h * 3_600_000).toISOString().replace(/\.\d+Z$/, "Z");
const svc = { name: "payments-api", team: "payments", repoURL: "https://github.com/acme/payments-api.git", path: "deploy/chart", targetRevision: "v1.0.0" };
const other = { name: "checkout", team: "storefront", repoURL: "https://github.com/acme/checkout.git", path: "deploy", targetRevision: "v5.2.0" };
const withSvc = (change: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ services: [{ ...svc, ...change }], ...extra });
const glass = {
    services: ["payments-api"],
    reason: "INC-4711: hotfix for card declines",
    ticket: "INC-4711",
    requestedBy: "alice@acme.example",
    requestedAt: hoursFromNow(-1),
    expires: hoursFromNow(3),
};
const withGlass = (change: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ services: [svc, other], breakGlass: [{ ...glass, ...change }], ...extra });
const previews = (change: Record<string, unknown> = {}) => withSvc({ previews: change });
const S = "payments-api";
const EDGE = { name: "edge", server: "https://10.0.0.1:6443" };

const cases: Case[] = [
    // ── Accepted silently before ────────────────────────────────────────────────────────────────
    { was: "silent", name: "service namespace argocd", config: withSvc({ environments: [{ name: "prod", namespace: "argocd" }] }), expect: "a system namespace", service: S },
    {
        was: "silent",
        name: "service namespace kube-system",
        config: withSvc({ environments: [{ name: "prod", namespace: "kube-system" }] }),
        expect: "a system namespace",
        service: S,
    },
    {
        was: "silent",
        name: "service namespace kube-public",
        config: withSvc({ environments: [{ name: "prod", namespace: "kube-public" }] }),
        expect: "a system namespace",
        service: S,
    },
    { was: "silent", name: "service namespace default", config: withSvc({ environments: [{ name: "prod", namespace: "default" }] }), expect: "a system namespace", service: S },
    {
        was: "silent",
        name: "service namespace kube-node-lease",
        config: withSvc({ environments: [{ name: "prod", namespace: "kube-node-lease" }] }),
        expect: "a system namespace",
        service: S,
    },
    {
        was: "silent",
        name: "service namespace = a custom Argo CD namespace",
        config: { argocd: { namespace: "gitops" }, ...withSvc({ environments: [{ name: "prod", namespace: "gitops" }] }) },
        expect: "a system namespace",
        service: S,
    },
    {
        was: "silent",
        name: "another service's namespace",
        config: { services: [svc, { ...other, environments: [{ name: "prod", namespace: "payments-api-prod" }] }] },
        expect: 'which service "payments-api" (prod) deploys to',
        service: "checkout",
    },
    {
        was: "silent",
        name: "two services, one explicit namespace",
        config: {
            services: [
                { ...svc, environments: [{ name: "prod", namespace: "shop" }] },
                { ...other, environments: [{ name: "prod", namespace: "shop" }] },
            ],
        },
        expect: 'namespace "shop"',
        service: "checkout",
    },
    // Issue 20: accepted silently on both routes before.
    {
        was: "silent",
        name: "credentials in the chart repository URL",
        config: { argocd: { chart: { version: "10.1.1", repo: "https://bob:hunter2@charts.example/argo" } } },
        expect: "`gitops-control:argocd.chart.repo` (ArgoCd arg `chart.repo`) carries credentials (user:password@ in the URL). Fix: remove them from the URL",
    },
    {
        was: "silent",
        name: "a token in the chart repository's query string",
        config: { argocd: { chart: { version: "10.1.1", repo: "https://charts.example/argo?token=abc" } } },
        expect: "`gitops-control:argocd.chart.repo` (ArgoCd arg `chart.repo`) carries a query string or fragment",
    },
    {
        was: "silent",
        name: "prod reconciliationTimeout 0s",
        config: { argocd: { settings: { reconciliationTimeout: "0s" } } },
        expect: '`gitops-control:argocd.settings.reconciliationTimeout` (ArgoCd arg `settings.reconciliationTimeout`) is "0s" on a protected (prod) install: Argo CD stops its periodic reconciliation',
    },
    {
        was: "silent",
        name: "a prod stack on staging's CRD stack",
        config: { argocd: { crds: { stack: "staging-crds" } } },
        expect: '`gitops-control:argocd.crds.stack` is "staging-crds", a staging CRD stack, in a prod stack: an upgrade there would change this cluster\'s CRDs. Fix: name the prod CRD stack, e.g. prod-crds',
    },
    {
        was: "silent",
        name: "Argo CD in kube-system",
        config: { argocd: { namespace: "kube-system" } },
        expect: '`gitops-control:argocd.namespace` (ArgoCd arg `namespace`) is "kube-system", a system namespace',
    },
    {
        was: "silent",
        name: "Argo CD in default",
        config: { argocd: { namespace: "default" } },
        expect: '`gitops-control:argocd.namespace` (ArgoCd arg `namespace`) is "default", a system namespace',
    },
    {
        was: "silent",
        name: "a crds stack with guardrails",
        config: { layer: "crds", guardrails: { replicaCap: 5 } },
        expect: "`gitops-control:guardrails` is set in a stack whose `gitops-control:layer` is crds, which ignores it",
    },
    {
        was: "silent",
        name: "a crds stack with Argo CD settings",
        config: { layer: "crds", argocd: { ha: true } },
        expect: "`gitops-control:argocd` is set in a stack whose `gitops-control:layer` is crds, which ignores it (it installs only the Argo CD CRDs; of `argocd` it reads only `crds.path`)",
    },
    {
        was: "silent",
        name: "a crds stack with a prune budget",
        config: { layer: "crds", pruneBudget: 9 },
        expect: "`gitops-control:pruneBudget` is set in a stack whose `gitops-control:layer` is crds",
    },
    // The CRD layer (issue 12: the Argo CD CRDs in their own stack).
    {
        was: "clear",
        name: "a crds stack with services",
        config: { layer: "crds", services: [svc] },
        expect: "`gitops-control:services` has 1 entry in a stack whose `gitops-control:layer` is crds",
    },
    {
        was: "clear",
        name: "a crds stack that names a CRD stack",
        config: { layer: "crds", argocd: { crds: { stack: "prod-crds" } } },
        expect: '`gitops-control:argocd.crds.stack` is "prod-crds" in a stack whose `gitops-control:layer` is crds',
    },
    { was: "clear", name: "argocd.crds with both path and stack", config: { argocd: { crds: { path: "crds", stack: "prod-crds" } } }, expect: "gitops-control:argocd.crds" },
    {
        was: "clear",
        name: "argocd.crds.stack not a stack name",
        config: { argocd: { crds: { stack: "prod crds" } } },
        expect: '`gitops-control:argocd.crds.stack` (ArgoCd arg `crds.stack`) is "prod crds", not a stack name',
    },
    { was: "clear", name: "a layer that does not exist", config: { layer: "crd" }, expect: "gitops-control:layer" },
    {
        was: "silent",
        name: "two environments, one namespace",
        stack: "local",
        config: withSvc({
            environments: [
                { name: "staging", namespace: "pay" },
                { name: "prod", namespace: "pay" },
            ],
        }),
        expect: "the namespace of environments[0] too",
        service: S,
    },
    {
        was: "silent",
        name: "a namespace inside another service's preview range",
        stack: "staging",
        config: {
            github: { owner: "acme" },
            services: [
                { ...svc, previews: {} },
                { ...other, environments: [{ name: "staging", namespace: "payments-api-pr-7" }] },
            ],
        },
        expect: 'a preview namespace of service "payments-api"',
        service: "checkout",
    },
    {
        was: "silent",
        name: "user:token credentials in repoURL",
        config: withSvc({ repoURL: "https://bob:ghp_secret@github.com/acme/payments-api.git" }),
        expect: "carries credentials",
        service: S,
    },
    {
        was: "silent",
        name: "token credentials in repoURL",
        config: withSvc({ repoURL: "https://ghp_secret@github.com/acme/payments-api.git" }),
        expect: "carries credentials",
        service: S,
    },
    { was: "silent", name: "an organisation URL", config: withSvc({ repoURL: "https://github.com/acme" }), expect: "an organisation, not a repository", service: S },
    { was: "silent", name: "an organisation URL with slash", config: withSvc({ repoURL: "https://github.com/acme/" }), expect: "an organisation, not a repository", service: S },
    {
        was: "silent",
        name: "one repository for two services, unsaid",
        config: { services: [svc, { ...other, repoURL: svc.repoURL }] },
        expect: "sharedRepository: true",
        service: "checkout",
    },
    {
        was: "silent",
        name: "one repository, said on one entry only",
        config: { services: [svc, { ...other, repoURL: svc.repoURL.replace(".git", ""), sharedRepository: true }] },
        expect: 'is the repository of service "payments-api" too',
        service: "checkout",
    },
    {
        was: "silent",
        name: 'path: ""',
        config: withSvc({ path: "" }),
        expect: '`gitops-control:services[0].path` (service "payments-api", GitOpsService arg `path`) is empty',
        service: S,
    },
    { was: "silent", name: "path escaping the repository", config: withSvc({ path: "../other-repo" }), expect: "which leaves the repository", service: S },
    { was: "silent", name: "path escaping after a folder", config: withSvc({ path: "deploy/../../x" }), expect: "which leaves the repository", service: S },
    {
        was: "silent",
        name: "environment valueFiles escaping",
        config: withSvc({ environments: [{ name: "prod", valueFiles: ["../../../secrets.yaml"] }] }),
        expect: "services[0].environments[0].valueFiles[0]",
        service: S,
    },
    {
        was: "silent",
        name: "helm valueFiles escaping",
        config: withSvc({ helm: { valueFiles: ["../../../../values.yaml"] } }),
        expect: "services[0].helm.valueFiles[0]",
        service: S,
    },
    {
        was: "silent",
        name: "empty environment value file",
        config: withSvc({ environments: [{ name: "prod", valueFiles: [""] }] }),
        expect: "services[0].environments[0].valueFiles[0]",
        service: S,
    },
    {
        was: "silent",
        name: "empty imageTagParameter",
        stack: "staging",
        config: { github: { owner: "acme" }, ...previews({ imageTagParameter: "" }) },
        expect: "services[0].previews.imageTagParameter",
        service: S,
    },
    {
        was: "silent",
        name: "kustomize image with empty tag",
        config: withSvc({ kustomize: { images: ["ghcr.io/acme/api:"] } }),
        expect: "not a Kustomize image override",
        service: S,
    },
    {
        was: "silent",
        name: "kustomize image with a space",
        config: withSvc({ kustomize: { images: ["ghcr.io/acme/api 1.2"] } }),
        expect: "not a Kustomize image override",
        service: S,
    },
    { was: "silent", name: "kustomize image with two =", config: withSvc({ kustomize: { images: ["a=b=c:1"] } }), expect: "services[0].kustomize.images[0]", service: S },
    {
        was: "silent",
        name: "empty ignoreDifferences kind",
        config: withSvc({ ignoreDifferences: [{ kind: "", jsonPointers: ["/spec/replicas"] }] }),
        expect: "services[0].ignoreDifferences[0].kind",
        service: S,
    },
    {
        was: "silent",
        name: "a prod environment on the staging stack",
        stack: "staging",
        config: withSvc({ environments: ["prod"] }),
        expect: 'is "prod", which a staging stack does not deploy',
        service: S,
    },
    {
        was: "silent",
        name: "a staging environment on the prod stack",
        config: withSvc({ environments: ["staging"] }),
        expect: 'is "staging", which a prod stack does not deploy',
        service: S,
    },
    { was: "silent", name: "replicaCap 1e9", config: { guardrails: { replicaCap: 1e9 } }, expect: "gitops-control:guardrails.replicaCap` is 1000000000" },
    {
        was: "silent",
        name: "requeueAfterSeconds 1e8",
        stack: "staging",
        config: { github: { owner: "acme" }, ...previews({ requeueAfterSeconds: 1e8 }) },
        expect: "use a whole number from 30 to 86400",
        service: S,
    },
    {
        was: "silent",
        name: "preview cap 0",
        stack: "staging",
        config: { github: { owner: "acme" }, ...previews({ maxOpen: 0 }) },
        expect: 'services[0].previews.maxOpen` (service "payments-api", GitOpsService arg `previews.maxOpen`) is 0',
        service: S,
    },
    {
        was: "silent",
        name: "preview TTL 0",
        stack: "staging",
        config: { github: { owner: "acme" }, ...previews({ ttlHours: 0 }) },
        expect: "use a whole number of hours from 1 to 672",
        service: S,
    },
    { was: "silent", name: "retry limit 1e6", config: withSvc({ syncPolicy: { retry: { limit: 1e6 } } }), expect: "services[0].syncPolicy.retry.limit", service: S },
    { was: "silent", name: "previewJanitor.ttlHours 1e6", config: { previewJanitor: { ttlHours: 1e6 } }, expect: "previewJanitor.ttlHours" },
    { was: "silent", name: "pruneBudget 1e9", config: { pruneBudget: 1e9 }, expect: "gitops-control:pruneBudget" },
    { was: "silent", name: "misspelt namespace gitops-contrl", config: {}, rawConfig: { "gitops-contrl:guardrails": '{"replicaCap":5}' }, expect: 'did you mean "gitops-control"' },
    {
        was: "silent",
        name: "misspelt namespace gitops_control",
        config: {},
        rawConfig: { "gitops_control:pruneBudget": "5" },
        expect: "rename the key to `gitops-control:pruneBudget`",
    },
    { was: "silent", name: "misspelt namespace gitop-control", config: {}, rawConfig: { "gitop-control:services": "[]" }, expect: '"gitop-control"' },
    {
        was: "silent",
        name: "allowEmpty: true in staging",
        stack: "staging",
        config: withSvc({ syncPolicy: { automated: { allowEmpty: true } } }),
        expect: "weakens the staging sync policy: automated.allowEmpty is true",
        service: S,
    },
    {
        was: "silent",
        name: "allowEmpty with a too short reason in staging",
        stack: "staging",
        config: withSvc({ syncPolicy: { automated: { allowEmpty: true } }, unsafeSyncPolicyReason: "test" }),
        expect: "unsafeSyncPolicyReason",
        service: S,
    },

    // ── Vague before: internal paths, "Invalid input", no service, no file ──────────────────────
    {
        was: "late",
        name: "chart version not exact",
        config: { argocd: { chart: { version: "10.1" } } },
        expect: "`gitops-control:argocd.chart.version` (ArgoCd arg `chart.version`)",
    },
    { was: "late", name: "chart version with range", config: { argocd: { chart: { version: "^10.1.1" } } }, expect: "argocd.chart.version" },
    { was: "late", name: "chart repository not https/oci", config: { argocd: { chart: { version: "10.1.1", repo: "ftp://charts.example" } } }, expect: "argocd.chart.repo" },
    { was: "late", name: "chart path that does not exist", config: { argocd: { chart: { path: "charts/nope.tgz" } } }, expect: "`gitops-control:argocd.chart.path`" },
    { was: "vague", name: "chart with both version and path", config: { argocd: { chart: { version: "10.1.1", path: "x.tgz" } } }, expect: "not both" },
    {
        was: "late",
        name: "ignoreDifferences pointer without /",
        config: withSvc({ ignoreDifferences: [{ kind: "Deployment", jsonPointers: ["spec/replicas"] }] }),
        expect: "`gitops-control:services[0].ignoreDifferences[0].jsonPointers[0]`",
        service: S,
    },
    {
        was: "late",
        name: "ignoreDifferences that ignores nothing",
        config: withSvc({ ignoreDifferences: [{ kind: "Deployment" }] }),
        expect: "ignores nothing on Deployment",
        service: S,
    },
    { was: "late", name: "Argo CD namespace not a name", config: { argocd: { namespace: "Argo_CD" } }, expect: "`gitops-control:argocd.namespace`" },
    {
        was: "late",
        name: "Argo CD namespace not a name, with services",
        config: { argocd: { namespace: "Argo_CD" }, services: [svc] },
        expect: "`gitops-control:argocd.namespace`",
        service: S,
    },
    { was: "late", name: "Argo CD replicas 0", config: { argocd: { replicas: { server: 0 } } }, expect: "argocd.replicas.server" },
    {
        was: "late",
        name: "reconciliation timeout not a duration",
        config: { argocd: { settings: { reconciliationTimeout: "3 minutes" } } },
        expect: "argocd.settings.reconciliationTimeout",
    },
    {
        was: "late",
        name: "notification recipient without service",
        config: { argocd: { notifications: { recipients: ["platform-alerts"] } } },
        expect: "argocd.notifications.recipients[0]",
    },
    {
        was: "late",
        name: "resource exclusion without kinds",
        config: { argocd: { settings: { resourceExclusions: [{ apiGroups: ["cilium.io"], kinds: [] }] } } },
        expect: "argocd.settings.resourceExclusions[0]",
    },
    {
        was: "late",
        name: "janitor image :latest",
        stack: "staging",
        config: { github: { owner: "acme" }, previewJanitor: { image: "bitnami/kubectl:latest" }, ...previews() },
        expect: "`gitops-control:previewJanitor.image`",
    },
    {
        was: "late",
        name: "janitor schedule not cron",
        stack: "staging",
        config: { github: { owner: "acme" }, previewJanitor: { schedule: "hourly" }, ...previews() },
        expect: "previewJanitor.schedule",
    },
    {
        was: "late",
        name: "webhook URL over http",
        stack: "staging",
        config: { github: { owner: "acme", webhookUrl: "http://argocd.example.com/api/webhook" }, ...previews() },
        expect: "`gitops-control:github.webhookUrl`",
    },
    { was: "vague", name: "unknown stack environment", config: { environment: "production" }, expect: 'use one of "prod", "staging", "local"' },
    { was: "vague", name: "unknown service environment", config: withSvc({ environments: ["qa"] }), expect: 'services[0].environments[0]` (service "payments-api") is "qa"' },
    { was: "vague", name: "targetRevision 1.10 unquoted", config: withSvc({ targetRevision: 1.1 }), expect: 'Quote it, e.g. "1.1"', service: S },
    { was: "vague", name: "environment targetRevision unquoted", config: withSvc({ environments: [{ name: "prod", targetRevision: 2 }] }), expect: "Quote it", service: S },
    {
        was: "vague",
        name: "duplicate break-glass ticket",
        config: { services: [svc, other], breakGlass: [glass, { ...glass, services: ["checkout"] }] },
        expect: 'Invalid stack config (1 problem):\n- `gitops-control:breakGlass[1].ticket` repeats "INC-4711"',
    },
    {
        was: "vague",
        name: "a service name that exists",
        config: { services: [svc, { ...other, name: "payments-api" }] },
        expect: 'is "payments-api", already the name of another service (team payments)',
    },
    { was: "vague", name: "missing stack environment", config: { environment: undefined }, expect: "`gitops-control:environment` is missing" },
    { was: "vague", name: "services not a list", config: { services: "payments-api" }, expect: "`gitops-control:services` must be array" },
    {
        was: "vague",
        name: "helm parameter without value",
        config: withSvc({ helm: { parameters: [{ name: "replicaCount" }] } }),
        expect: 'services[0].helm.parameters[0].value` (service "payments-api") is missing',
    },
    { was: "vague", name: "alerts minutes 0", config: { argocd: { alerts: { enabled: true, outOfSyncMinutes: 0 } } }, expect: "argocd.alerts.outOfSyncMinutes" },

    // ── Wrong behaviour before ──────────────────────────────────────────────────────────────────
    {
        was: "wrong",
        name: "previews on a non-GitHub repository without previews.repo",
        stack: "staging",
        config: { github: { owner: "acme" }, services: [{ ...svc, repoURL: "https://gitlab.example.com/acme/payments-api.git", previews: {} }] },
        expect: "cannot be derived",
        service: S,
    },
    {
        was: "wrong",
        name: "previews.repo with an owner in it",
        stack: "staging",
        config: { github: { owner: "acme" }, ...previews({ repo: "acme/payments-api" }) },
        expect: "services[0].previews.repo",
        service: S,
    },
    { was: "wrong", name: "previews.owner with a space", stack: "staging", config: previews({ owner: "acme corp" }), expect: "services[0].previews.owner", service: S },

    // ── Clear before (tests/unit/config.test.ts and more), kept clear ───────────────────────────
    { was: "clear", name: "unknown top-level key", config: { servces: [] }, expect: '`gitops-control` has unknown key(s) "servces"' },
    {
        was: "clear",
        name: "unknown nested key",
        config: withSvc({ syncPolicy: { automated: { selfheal: true } } }),
        expect: 'services[0].syncPolicy.automated` (service "payments-api") has unknown key(s) "selfheal"',
    },
    { was: "clear", name: "unknown service key", config: withSvc({ repo: "x" }), expect: 'has unknown key(s) "repo"', service: S },
    { was: "clear", name: "replicaCap a word", config: { guardrails: { replicaCap: "twenty" } }, expect: "`gitops-control:guardrails.replicaCap` must be number" },
    { was: "clear", name: "replicaCap 0", config: { guardrails: { replicaCap: 0 } }, expect: "`gitops-control:guardrails.replicaCap` is 0" },
    { was: "clear", name: "replicaCap -3", config: { guardrails: { replicaCap: -3 } }, expect: "`gitops-control:guardrails.replicaCap` is -3" },
    {
        was: "clear",
        name: "unknown sync option",
        config: withSvc({ syncPolicy: { syncOptions: ["CreateNamespace=yes"] } }),
        expect: 'syncOptions[0]` (service "payments-api") is "CreateNamespace=yes"',
    },
    {
        was: "clear",
        name: "one sync option twice",
        config: withSvc({ syncPolicy: { syncOptions: ["ServerSideApply=false", "ServerSideApply=true"] } }),
        expect: "sets ServerSideApply twice",
        service: S,
    },
    {
        was: "clear",
        name: "prod allowEmpty without reason",
        config: withSvc({ syncPolicy: { automated: { allowEmpty: true } } }),
        expect: "weakens the prod sync policy: automated.allowEmpty is true",
        service: S,
    },
    { was: "clear", name: "prod prune: false", config: withSvc({ syncPolicy: { automated: { prune: false } } }), expect: "automated.prune is false", service: S },
    { was: "clear", name: "prod selfHeal: false", config: withSvc({ syncPolicy: { automated: { selfHeal: false } } }), expect: "automated.selfHeal is false", service: S },
    { was: "clear", name: "prod automated sync off", config: withSvc({ syncPolicy: { automated: { enabled: false } } }), expect: "automated.enabled is false", service: S },
    {
        was: "clear",
        name: "prod automated sync off with a reason: a pause without ticket or expiry",
        config: withSvc({ syncPolicy: { automated: { enabled: false } }, unsafeSyncPolicyReason: "INC-4711: maintenance window" }),
        expect: '`gitops-control:services[0].syncPolicy` (service "payments-api", GitOpsService arg `syncPolicy`) turns automated sync of prod off with no ticket and no expiry: nothing would ever end the pause (protect-sync-policy refuses it in the cluster). Fix: keep `automated.enabled` true and pause through a break-glass entry',
        service: S,
    },
    {
        was: "clear",
        name: "prod weakening with a too short reason",
        config: withSvc({ syncPolicy: { automated: { prune: false } }, unsafeSyncPolicyReason: "because" }),
        expect: '`gitops-control:services[0].syncPolicy` (service "payments-api", GitOpsService arg `syncPolicy`) weakens the prod sync policy: automated.prune is false (deleted manifests stay as ghost objects). Fix: restore the preset, or document the exception in `unsafeSyncPolicyReason`',
        service: S,
    },
    {
        was: "clear",
        name: "backoff not a Go duration",
        config: withSvc({ syncPolicy: { retry: { backoff: { duration: "10 seconds" } } } }),
        expect: "not a Go duration",
        service: S,
    },
    { was: "clear", name: "backoff factor 0", config: withSvc({ syncPolicy: { retry: { backoff: { factor: 0 } } } }), expect: "services[0].syncPolicy.retry.backoff.factor" },
    {
        was: "clear",
        name: "repoURL without scheme",
        config: withSvc({ repoURL: "acme/payments-api" }),
        expect: 'is "acme/payments-api", not a Git URL Argo CD can clone',
        service: S,
    },
    { was: "clear", name: "repoURL over http", config: withSvc({ repoURL: "http://github.com/acme/payments-api.git" }), expect: "not a Git URL Argo CD can clone", service: S },
    {
        was: "clear",
        name: "empty targetRevision",
        config: withSvc({ targetRevision: "" }),
        expect: 'targetRevision` (service "payments-api", GitOpsService arg `targetRevision`) is empty',
        service: S,
    },
    { was: "clear", name: "helm and kustomize both", config: withSvc({ helm: {}, kustomize: {} }), expect: "sets both `helm` and `kustomize`", service: S },
    {
        was: "clear",
        name: "requeueAfterSeconds 10",
        stack: "staging",
        config: { github: { owner: "acme" }, ...previews({ requeueAfterSeconds: 10 }) },
        expect: "polling GitHub that often exhausts its API rate limit",
        service: S,
    },
    { was: "clear", name: "service name not a Kubernetes name", config: withSvc({ name: "Payments_API" }), expect: 'rename it, e.g. "payments-api"', service: "Payments_API" },
    { was: "clear", name: "service name too long", config: withSvc({ name: "a".repeat(49) }), expect: "at most 48 characters", service: "a".repeat(49) },
    { was: "clear", name: "team not a Kubernetes name", config: withSvc({ team: "Payments Team" }), expect: "services[0].team", service: S },
    { was: "clear", name: "no environments", config: withSvc({ environments: [] }), expect: "services[0].environments" },
    { was: "clear", name: "one environment twice", config: withSvc({ environments: ["prod", "prod"] }), expect: 'repeats "prod"', service: S },
    {
        was: "clear",
        name: "previews without a token",
        stack: "staging",
        noToken: true,
        config: { github: { owner: "acme" }, ...previews() },
        expect: "`gitops-control:githubToken` is not set, and payments-api has previews",
    },
    {
        was: "clear",
        name: "previews on the prod stack",
        config: { github: { owner: "acme" }, ...previews() },
        expect: "is set on a prod stack, which runs no previews",
        service: S,
    },
    { was: "clear", name: "preview labels empty", stack: "staging", config: previews({ labels: [] }), expect: "services[0].previews.labels" },
    {
        was: "clear",
        name: "token in plain text",
        stack: "staging",
        noToken: true,
        config: {},
        rawConfig: { "gitops-control:githubToken": "ghp_plain" },
        expect: "`gitops-control:githubToken` is stored in plain text",
    },
    {
        was: "clear",
        name: "unknown rule disabled",
        config: { guardrails: { disabledRules: ["no-latest"] } },
        expect: '`gitops-control:guardrails.disabledRules[0]` is "no-latest", not a rule of the library',
    },
    {
        was: "silent",
        name: "prod deploys a feature branch",
        config: withSvc({ environments: [{ name: "prod", targetRevision: "feature/skip-checks" }] }),
        expect: '`gitops-control:services[0].environments[0].targetRevision` (service "payments-api", GitOpsService arg `environments[0].targetRevision`) deploys "feature/skip-checks" to prod, which is not an allowed revision format',
        service: S,
    },
    {
        was: "silent",
        name: "prod ignores the whole pod template",
        config: withSvc({ environments: ["prod"], ignoreDifferences: [{ group: "apps", kind: "Deployment", jsonPointers: ["/spec/template"] }] }),
        expect: '`gitops-control:services[0].ignoreDifferences[0]` (service "payments-api") ignores apps/Deployment /spec/template in prod, which is not on the allow-list (apps/Deployment /spec/replicas; apps/StatefulSet /spec/replicas)',
        service: S,
    },
    {
        was: "silent",
        name: "prod ignores a field manager nobody declared",
        config: withSvc({ environments: ["prod"], ignoreDifferences: [{ group: "apps", kind: "Deployment", managedFieldsManagers: ["kubectl-edit"] }] }),
        expect: '`gitops-control:services[0].ignoreDifferences[0]` (service "payments-api") ignores apps/Deployment manager kubectl-edit in prod, which is not on the allow-list',
        service: S,
    },
    {
        was: "silent",
        name: "allow-list entry hides a whole pod template",
        config: { guardrails: { ignoreDifferences: [{ group: "apps", kind: "Deployment", jsonPointers: ["/spec/template"] }] } },
        expect: '`gitops-control:guardrails.ignoreDifferences[0].jsonPointers[0]` (guardrails arg `ignoreDifferences[0].jsonPointers[0]`) is "/spec/template", which hides a whole spec',
    },
    {
        was: "silent",
        name: "program identity that everyone carries",
        config: { guardrails: { programIdentity: { groups: ["system:authenticated"] } } },
        expect: '`gitops-control:guardrails.programIdentity.groups[0]` (guardrails arg `programIdentity.groups[0]`) is "system:authenticated", which every authenticated user or service account carries',
    },
    {
        was: "silent",
        name: "program identity that names nobody",
        config: { guardrails: { programIdentity: { groups: [] } } },
        expect: "`gitops-control:guardrails.programIdentity` (guardrails arg `programIdentity`) names no username and no group",
    },
    {
        was: "silent",
        name: "program identity that is Argo CD",
        config: { guardrails: { programIdentity: { usernames: ["system:serviceaccount:argocd:argocd-application-controller"] } } },
        expect: '`gitops-control:guardrails.programIdentity.usernames[0]` (guardrails arg `programIdentity.usernames[0]`) is "system:serviceaccount:argocd:argocd-application-controller", one of Argo CD\'s own service accounts',
    },
    {
        was: "silent",
        name: "allowed revision not RE2",
        config: { guardrails: { allowedRevisions: ["^(?!wip).*$"] } },
        expect: '`gitops-control:guardrails.allowedRevisions[0]` "^(?!wip).*$" uses lookaround',
    },
    { was: "clear", name: "no required labels", config: { guardrails: { requiredLabels: [] } }, expect: "guardrails.requiredLabels" },
    { was: "clear", name: "unknown failure policy", config: { guardrails: { failurePolicy: "Deny" } }, expect: 'use one of "Fail", "Ignore"' },
    { was: "clear", name: "kubernetes context a number", config: { kubernetes: { context: 5 } }, expect: "`gitops-control:kubernetes.context` must be string" },
    { was: "clear", name: "GitHub API not a URL", config: { github: { api: "github enterprise" } }, expect: "gitops-control:github.api" },
    { was: "clear", name: "Argo CD URL not a URL", config: { argocd: { settings: { url: "argocd" } } }, expect: "gitops-control:argocd.settings.url" },
    { was: "clear", name: "metrics enabled a word", config: { argocd: { metrics: { enabled: "yes" } } }, expect: "argocd.metrics.enabled` must be boolean" },
    { was: "clear", name: "break-glass ticket not a ticket", config: withGlass({ ticket: "hotfix" }), expect: '`gitops-control:breakGlass[0].ticket` is "hotfix"' },
    { was: "clear", name: "break-glass reason too short", config: withGlass({ reason: "fix" }), expect: "breakGlass[0].reason` is too short to audit" },
    {
        was: "clear",
        name: "break-glass unknown service",
        config: withGlass({ services: ["billing"] }),
        expect: 'breakGlass[0].services[0]` is "billing", which is not a service of this stack',
    },
    { was: "clear", name: "break-glass expiry before request", config: withGlass({ expires: hoursFromNow(-2) }), expect: "breakGlass[0].expires` is not after requestedAt" },
    { was: "clear", name: "break-glass longer than allowed", config: withGlass({ expires: hoursFromNow(30) }), expect: "more than the 24 h allowed" },
    { was: "clear", name: "break-glass expiry not ISO-8601", config: withGlass({ expires: "tomorrow" }), expect: 'is "tomorrow", not an ISO-8601 time' },
    {
        was: "clear",
        name: "break-glass requested in the future",
        config: withGlass({ requestedAt: hoursFromNow(1), expires: hoursFromNow(2) }),
        expect: "breakGlass[0].requestedAt` is in the future",
    },
    {
        was: "clear",
        name: "break-glass environment the services lack",
        config: withGlass({ environments: ["staging"] }),
        expect: "breakGlass[0].environments` matches no environment",
    },
    {
        was: "clear",
        name: "break-glass expired",
        config: withGlass({ requestedAt: hoursFromNow(-10), expires: hoursFromNow(-2) }),
        expect: "break-glass expired: back-port the fix to Git",
    },
    { was: "clear", name: "break-glass maxHours above a week", config: { breakGlassPolicy: { maxHours: 1000 } }, expect: "breakGlassPolicy.maxHours" },
    { was: "clear", name: "break-glass onExpiry unknown", config: { breakGlassPolicy: { onExpiry: "ignore" } }, expect: 'use one of "fail", "revert"' },

    // ── Issue 13's keys (clusters, repository credentials, waitForSync), clear on main, kept clear ──
    {
        was: "clear",
        name: "service cluster not registered",
        config: withSvc({ cluster: "nowhere" }),
        expect: '`gitops-control:services[0].cluster` (service "payments-api") is "nowhere", not a registered cluster',
        service: S,
    },
    {
        was: "clear",
        name: "environment cluster not registered",
        config: withSvc({ environments: [{ name: "prod", cluster: "edge" }] }),
        expect: '`gitops-control:services[0].environments[0].cluster` (service "payments-api", prod) is "edge"',
        service: S,
    },
    { was: "clear", name: "defaultCluster not registered", config: { defaultCluster: "edge" }, expect: '`gitops-control:defaultCluster` is "edge", not a registered cluster' },
    {
        was: "clear",
        name: "destination without its token",
        config: { destinations: [EDGE] },
        expect: "pulumi config set --secret --path 'gitops-control:destinationTokens.edge' <value>",
    },
    {
        was: "clear",
        name: "destination token in plain text",
        config: { destinations: [EDGE] },
        rawConfig: { "gitops-control:destinationTokens": '{"edge":"plain"}' },
        expect: "`gitops-control:destinationTokens` is stored in plain text",
    },
    {
        was: "clear",
        name: "destination over http",
        config: { destinations: [{ ...EDGE, server: "http://10.0.0.1:6443" }] },
        expect: '`gitops-control:destinations[0].server` (DestinationCluster arg `server`) is "http://10.0.0.1:6443"',
    },
    {
        was: "clear",
        name: "destination named in-cluster",
        config: { destinations: [{ ...EDGE, name: "in-cluster" }] },
        expect: '`gitops-control:destinations[0].name` (DestinationCluster arg `clusterName`) is "in-cluster"',
    },
    { was: "clear", name: "destination name twice", config: { destinations: [EDGE, EDGE] }, expect: '`gitops-control:destinations[1].name` repeats "edge"' },
    {
        was: "clear",
        name: "repository credential without its secret",
        config: { repositoryCredentials: [{ name: "acme", url: "https://github.com/acme/", type: "https" }] },
        expect: "pulumi config set --secret --path 'gitops-control:repositorySecrets.acme' <value>",
    },
    {
        was: "clear",
        name: "GitHub App credential without ids",
        config: { repositoryCredentials: [{ name: "app", url: "https://github.com/acme/", type: "githubApp" }] },
        expect: "`gitops-control:repositoryCredentials[0]` is a GitHub App credential without `githubAppId`",
    },
    {
        was: "clear",
        name: "repository credential URL with a token in it",
        config: { repositoryCredentials: [{ name: "acme", url: "https://user:token@github.com/acme/", type: "https" }] },
        expect: "`gitops-control:repositoryCredentials[0].url` (RepositoryCredentials arg `url`)",
    },
    {
        was: "clear",
        name: "waitForSync timeout of 5 s",
        config: { waitForSync: { enabled: true, timeoutSeconds: 5 } },
        expect: "`gitops-control:waitForSync.timeoutSeconds` (GitOpsApplication arg `waitForSync.timeoutSeconds`) is 5",
    },
];

let registered = 0;

/** Runs the program on one case; returns the error message, or "" when the program did not fail. */
async function run(c: Case): Promise<{ message: string; resources: number }> {
    const stack = c.stack ?? "prod";
    const recorded = installMocks(stack);
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries({ environment: stack, ...c.config })) {
        if (value !== undefined) config[`gitops-control:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    }
    const secretKeys: string[] = [];
    if (!c.noToken) {
        config["gitops-control:githubToken"] = "ghp_test";
        secretKeys.push("gitops-control:githubToken");
    }
    Object.assign(config, c.rawConfig ?? {});
    pulumi.runtime.setAllConfig(config, secretKeys);
    let message = "";
    try {
        controlPlaneProgram();
    } catch (e) {
        message = (e as Error).message;
    }
    await settle(recorded);
    registered += recorded.length;
    return { message, resources: recorded.length };
}

describe("the bad-input matrix: every case stopped before any resource, with key, service, fix", () => {
    it("holds at least 108 cases (the issue's matrix: silently accepted, vague, late, wrong and clear ones)", () => {
        // The issue's 108 inputs, rebuilt from its lists, plus the cases of tests/unit/config.test.ts.
        assert.ok(cases.length + fileCases.length >= 108, `${cases.length + fileCases.length} cases`);
        assert.equal(new Set(cases.map((c) => c.name)).size, cases.length, "case names are unique");
    });

    for (const c of cases) {
        it(`${c.was}: ${c.name}`, async () => {
            const { message, resources } = await run(c);
            assert.notEqual(message, "", "accepted silently");
            assert.equal(resources, 0, `${resources} resources registered before the error`);
            assert.ok(message.includes(c.expect), `expected «${c.expect}» in:\n${message}`);
            assert.match(message, /`gitops-control[:`]|`gitops-[a-z_]+:/, "names a stack-file key");
            assert.match(message, /Fix: /, "says how to fix it");
            if (c.service) assert.ok(message.includes(`service "${c.service}"`) || message.includes(`${c.service} has`), `names the service ${c.service}:\n${message}`);
            assert.doesNotMatch(message, /`args\.|`defaultRules\.|Invalid input/, "no internal path, no bare 'Invalid input'");
        });
    }

    it("the spy sees registrations: the same harness on a valid stack registers resources", async () => {
        const { message, resources } = await run({
            was: "clear",
            name: "valid",
            stack: "staging",
            config: { github: { owner: "acme" }, services: [{ ...svc, previews: {} }, other] },
            expect: "",
        });
        assert.equal(message, "");
        assert.ok(resources > 20, `${resources} resources`);
        registered -= resources;
    });

    after(() => assert.equal(registered, 0));
});

/** Cases about the stack file itself, before the program runs. */
const fileCases: { name: string; run: () => void; expect: string }[] = [
    {
        name: "a YAML syntax error names the file",
        run: () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-"));
            const file = path.join(dir, "Pulumi.broken.yaml");
            fs.writeFileSync(file, "config:\n  gitops-control:environment: prod\n  gitops-control:services: [\n");
            readStackFile(file);
        },
        expect: "Pulumi.broken.yaml is not valid YAML",
    },
    {
        name: "render of a stack that does not exist lists the stacks",
        run: () => renderTarget(["nosuch"]),
        expect: "the stacks here are local, local-crds, prod, prod-crds, staging, staging-crds",
    },
];

describe("the bad-input matrix: the stack file", () => {
    for (const c of fileCases) {
        it(c.name, () => {
            assert.throws(c.run, (e: Error) => e.message.includes(c.expect) && /Fix: /.test(e.message));
        });
    }

    it("all errors of one run are reported together (schema and rule problems alike)", async () => {
        const { message, resources } = await run({
            was: "wrong",
            name: "many",
            expect: "",
            config: {
                guardrails: { replicaCap: "x" },
                services: [
                    { ...svc, path: "" },
                    { ...other, environments: ["staging"], syncPolicy: { automated: { selfheal: true } } },
                    { ...svc, name: "third", repoURL: "https://github.com/acme/third.git", syncPolicy: { automated: { prune: false } } },
                ],
            },
        });
        assert.equal(resources, 0);
        const lines = message.split("\n").filter((l) => l.startsWith("- `"));
        assert.match(message, /^Invalid stack config \(4 problems\)/);
        assert.equal(lines.length, 4, message);
        assert.ok(lines.some((l) => l.includes("guardrails.replicaCap")));
        assert.ok(lines.some((l) => l.includes("services[0].path")));
        assert.ok(lines.some((l) => l.includes('services[1].syncPolicy.automated` (service "checkout") has unknown key(s)')));
        assert.ok(lines.some((l) => l.includes("services[2].syncPolicy") && l.includes("automated.prune is false")));
    });

    it("the matrix's stack files exist for the stacks it uses", () => {
        for (const s of ["prod", "staging", "local"]) assert.ok(fs.existsSync(path.join(repoRoot, `Pulumi.${s}.yaml`)));
    });
});

/**
 * Both onboarding routes on one table (issue 20): every service input a user can write, as a
 * platform stack entry (`gitops-control:services`) and as a team program's GitOpsService args
 * (the same field names), must be refused by both with the same words, naming the field: the
 * component names `args.<field>`, the stack the key of the entry and the component arg. The stack
 * route registers nothing; the team route registers nothing for the refused service.
 */
interface RouteProblem {
    /** The field, as a GitOpsService arg and (unless `key`) under the stack entry. */
    readonly arg: string;
    /** Stack key when it is not `services[i].<arg>`. */
    readonly key?: string;
    /** Reported by the schema (the stack names no component arg then). */
    readonly schema?: boolean;
    /** Problem and fix, exactly. */
    readonly text: string;
}
interface RouteCase {
    readonly name: string;
    readonly stack?: Stack;
    /** Stack entries; the team program creates one GitOpsService per entry, in order; the last is refused. */
    readonly services: readonly Record<string, unknown>[];
    readonly problems: readonly RouteProblem[];
}

const prodSvc = { ...svc, environments: ["prod"] };
const stagingSvc = { ...svc, environments: ["staging"] };
const missing = "is missing. Fix: set it (see the config reference in README.md)";
const reasonFix = "Fix: restore the preset, or document the exception in `unsafeSyncPolicyReason` (reason and ticket, at least 10 characters)";
const routeCases: RouteCase[] = [
    { name: "team undefined", services: [{ ...prodSvc, team: undefined }], problems: [{ arg: "team", schema: true, text: missing }] },
    { name: "repoURL missing", services: [{ ...prodSvc, repoURL: undefined }], problems: [{ arg: "repoURL", schema: true, text: missing }] },
    {
        name: "repoURL a number",
        services: [{ ...prodSvc, repoURL: 42 }],
        problems: [{ arg: "repoURL", schema: true, text: "must be string, not 42. Fix: correct the value (see the config reference in README.md)" }],
    },
    {
        name: "environments a string",
        services: [{ ...svc, environments: "prod" }],
        problems: [{ arg: "environments", schema: true, text: 'must be array, not "prod". Fix: correct the value (see the config reference in README.md)' }],
    },
    {
        name: "an environment class that does not exist",
        services: [{ ...svc, environments: [{ name: "production" }] }],
        problems: [{ arg: "environments[0].name", schema: true, text: 'is "production". Fix: use one of "prod", "staging"' }],
    },
    {
        name: "prune a string",
        services: [{ ...prodSvc, syncPolicy: { automated: { prune: "false" } } }],
        problems: [{ arg: "syncPolicy.automated.prune", schema: true, text: 'must be boolean, not "false". Fix: correct the value (see the config reference in README.md)' }],
    },
    {
        name: "previews labels a string",
        stack: "staging",
        services: [{ ...stagingSvc, previews: { labels: "preview" } }],
        problems: [{ arg: "previews.labels", schema: true, text: 'must be array, not "preview". Fix: correct the value (see the config reference in README.md)' }],
    },
    {
        name: "an unknown key in an environment",
        services: [{ ...svc, environments: [{ name: "prod", targetRevison: "v1.2.3" }] }],
        problems: [
            { arg: "environments[0]", schema: true, text: 'has unknown key(s) "targetRevison". Fix: remove them or correct the spelling (see the config reference in README.md)' },
        ],
    },
    {
        name: "revisionHistoryLimit a fraction",
        services: [{ ...svc, environments: [{ name: "prod", revisionHistoryLimit: 2.5 }] }],
        problems: [{ arg: "environments[0].revisionHistoryLimit", schema: true, text: "must be int, not 2.5. Fix: correct the value (see the config reference in README.md)" }],
    },
    {
        name: "prod weakened without a reason",
        services: [{ ...prodSvc, syncPolicy: { automated: { prune: false } } }],
        problems: [{ arg: "syncPolicy", text: `weakens the prod sync policy: automated.prune is false (deleted manifests stay as ghost objects). ${reasonFix}` }],
    },
    {
        name: "prod weakened per environment, reason too short",
        services: [{ ...svc, environments: [{ name: "prod", syncPolicy: { automated: { selfHeal: false } }, unsafeSyncPolicyReason: "because" }] }],
        problems: [{ arg: "environments[0].syncPolicy", text: `weakens the prod sync policy: automated.selfHeal is false (live edits stay as drift). ${reasonFix}` }],
    },
    {
        name: "prod from a feature branch",
        services: [{ ...prodSvc, targetRevision: "feature/skip-checks" }],
        problems: [
            {
                arg: "targetRevision",
                text: 'deploys "feature/skip-checks" to prod, which is not an allowed revision format (guardrails.allowedRevisions; protect-sync-policy would refuse the Application). Fix: deploy a release tag, the default branch or a commit SHA, or add a pattern to the allowed revisions (`gitops-control:guardrails.allowedRevisions`; GitOpsService arg `allowedRevisions`)',
            },
        ],
    },
    {
        name: "a service named default",
        services: [{ ...prodSvc, name: "default" }],
        problems: [{ arg: "name", text: 'is "default", which is Argo CD\'s built-in AppProject `default`. Fix: choose another name, e.g. "default-app"' }],
    },
    {
        name: "a service named kube-…",
        services: [{ ...prodSvc, name: "kube-metrics" }],
        problems: [
            {
                arg: "name",
                text: 'is "kube-metrics", which starts with kube-, which Kubernetes reserves for its own namespaces. Fix: choose another name, e.g. "kube-metrics-app"',
            },
        ],
    },
    {
        name: "a kube- namespace",
        services: [{ ...svc, environments: [{ name: "prod", namespace: "kube-flannel" }] }],
        problems: [
            {
                arg: "environments[0].namespace",
                text: 'is "kube-flannel", a system namespace (the AppProject would allow deploying there). Fix: use the service\'s own namespace, e.g. "payments-api-prod"',
            },
        ],
    },
    {
        name: "ssh user and password in repoURL",
        services: [{ ...prodSvc, repoURL: "ssh://bob:hunter2@github.com/acme/payments-api.git" }],
        problems: [
            {
                arg: "repoURL",
                text: "carries credentials (user:password@ in the URL). Fix: remove them from the URL and register the repository's credentials with Argo CD (`gitops-control:repositoryCredentials`, or a repository Secret)",
            },
        ],
    },
    {
        name: "a token in repoURL's query string",
        services: [{ ...prodSvc, repoURL: "https://github.com/acme/payments-api.git?token=ghp_secret" }],
        problems: [
            {
                arg: "repoURL",
                text: "carries a query string or fragment (?token=… would be stored in plain text). Fix: remove them from the URL and register the repository's credentials with Argo CD (`gitops-control:repositoryCredentials`, or a repository Secret)",
            },
        ],
    },
    {
        name: "a Helm values file from an https URL",
        services: [{ ...prodSvc, helm: { valueFiles: ["https://evil.example/values.yaml"] } }],
        problems: [
            {
                arg: "helm.valueFiles[0]",
                text: 'is "https://evil.example/values.yaml", a URL: Argo CD would render the service with values from outside its reviewed repository. Fix: use a file inside the repository, relative to the source path, e.g. "values.yaml"',
            },
        ],
    },
    {
        name: "an environment values file from an https URL",
        services: [{ ...svc, environments: [{ name: "prod", valueFiles: ["https://evil.example/values.yaml"] }] }],
        problems: [
            {
                arg: "environments[0].valueFiles[0]",
                text: 'is "https://evil.example/values.yaml", a URL: Argo CD would render the service with values from outside its reviewed repository. Fix: use a file inside the repository, relative to the source path, e.g. "values-prod.yaml"',
            },
        ],
    },
    {
        name: "requeueAfterSeconds below the floor",
        stack: "staging",
        services: [{ ...stagingSvc, previews: { requeueAfterSeconds: 5 } }],
        problems: [
            {
                arg: "previews.requeueAfterSeconds",
                text: "is 5; polling GitHub that often exhausts its API rate limit. Fix: use a whole number from 30 to 86400 (300 is usual; the webhook makes previews instant)",
            },
        ],
    },
    {
        name: "two services, one namespace",
        services: [
            { ...svc, environments: [{ name: "prod", namespace: "shop" }] },
            { ...other, environments: [{ name: "prod", namespace: "shop" }] },
        ],
        problems: [
            {
                arg: "environments[0].namespace",
                text: '(prod) deploys to namespace "shop", which service "payments-api" (prod) deploys to. Fix: give each service its own namespaces: an AppProject allowing another team\'s namespace lets it deploy there',
            },
        ],
    },
    {
        name: "two services, one name",
        services: [prodSvc, { ...other, name: svc.name, environments: [{ name: "prod", namespace: "checkout-prod" }] }],
        problems: [
            {
                arg: "name",
                text: 'is "payments-api", already the name of another service (team payments): one AppProject "payments-api" for both. Fix: give every service a unique name; if both teams deploy the same service, one entry must go',
            },
        ],
    },
    {
        name: "a service named inside another's previews",
        stack: "staging",
        services: [
            { ...stagingSvc, name: "shop", previews: {} },
            { ...other, name: "shop-pr-1", environments: ["staging"] },
        ],
        problems: [
            {
                arg: "name",
                text: 'is "shop-pr-1", inside the previews of service "shop" (shop-pr-*): its AppProject may deploy to this service\'s namespaces. Fix: rename the service so it does not start with "shop-pr-"',
            },
            {
                arg: "name",
                text: '(staging) deploys to "shop-pr-1-staging", a preview namespace of service "shop" (shop-pr-*). Fix: rename the namespace: previews of the other service would deploy into it',
            },
        ],
    },
];

/** Component args for a stack entry: the same fields, minus what only a stack file says, plus the token the stack holds as a secret. */
function componentArgs(entry: Record<string, unknown>): Record<string, unknown> {
    const { name: _, sharedRepository: __, previews, ...rest } = entry;
    return { ...rest, ...(previews ? { previews: { ...(previews as object), token: "ghp_test" } } : {}) };
}

/** The problems of a thrown message, one per `- ` line. */
const problemLines = (message: string): string[] => message.split("\n").filter((l) => l.startsWith("- "));

async function runTeamRoute(c: RouteCase, index: number): Promise<{ message: string; before: number; after: number }> {
    const recorded = installMocks("dev", { project: `team-route-${index}` });
    const { GitOpsService } = await import("gitops-control/components");
    let message = "";
    let before = 0;
    for (const [i, entry] of c.services.entries()) {
        if (i === c.services.length - 1) {
            await settle(recorded);
            before = recorded.length;
        }
        try {
            new GitOpsService(String(entry.name), componentArgs(entry) as never);
        } catch (e) {
            message = (e as Error).message;
        }
    }
    await settle(recorded);
    return { message, before, after: recorded.length };
}

describe("both routes on one table: a stack entry and a team's GitOpsService are refused alike (issue 20)", () => {
    routeCases.forEach((c, index) => {
        it(c.name, async () => {
            const refused = c.services.length - 1;
            const name = String(c.services[refused].name);
            const stackRoute = await run({ was: "wrong", name: c.name, stack: c.stack ?? "prod", config: { services: c.services }, expect: "" });
            assert.equal(stackRoute.resources, 0, "stack route: nothing registered");
            assert.deepEqual(
                problemLines(stackRoute.message),
                c.problems.map(
                    (p) => `- \`gitops-control:${p.key ?? `services[${refused}].${p.arg}`}\` (service "${name}"${p.schema ? "" : `, GitOpsService arg \`${p.arg}\``}) ${p.text}`,
                ),
                stackRoute.message,
            );
            const team = await runTeamRoute(c, index);
            assert.equal(team.after, team.before, "team route: nothing registered for the refused service");
            assert.match(team.message, new RegExp(`^GitOpsService "${name}": ${c.problems.length} problem\\(s\\):`));
            assert.deepEqual(
                problemLines(team.message),
                c.problems.map((p) => `- \`args.${p.arg}\` ${p.text}`),
                team.message,
            );
        });
    });

    it("Argo CD in a system namespace: the stack's argocd.namespace and a GitOpsService's argoNamespace, refused alike", async () => {
        const text =
            'is "kube-system", a system namespace: Argo CD\'s AppProjects, Secrets and RBAC would live beside the cluster\'s own. Fix: use a namespace of its own, e.g. "argocd"';
        const stackRoute = await run({
            was: "silent",
            name: "argocd in kube-system",
            stack: "prod",
            config: { argocd: { namespace: "kube-system" }, services: [prodSvc] },
            expect: "",
        });
        assert.equal(stackRoute.resources, 0, "stack route: nothing registered");
        assert.ok(
            problemLines(stackRoute.message).includes(`- \`gitops-control:argocd.namespace\` (service "${svc.name}", GitOpsService arg \`argoNamespace\`) ${text}`),
            stackRoute.message,
        );
        const team = await runTeamRoute({ name: "argoNamespace kube-system", services: [{ ...prodSvc, argoNamespace: "kube-system" }], problems: [] }, 998);
        assert.equal(team.after, team.before, "team route: nothing registered");
        assert.deepEqual(problemLines(team.message), [`- \`args.argoNamespace\` ${text}`], team.message);
    });

    it("what the stack fills in is what the component defaults: an entry without path and targetRevision is accepted by both", async () => {
        const entry = { name: "basket", team: "storefront", repoURL: "https://github.com/acme/basket.git", environments: [{ name: "staging" }] };
        const stackRoute = await run({ was: "clear", name: "defaults", stack: "staging", config: { services: [entry] }, expect: "" });
        assert.equal(stackRoute.message, "");
        registered -= stackRoute.resources;
        const team = await runTeamRoute({ name: "defaults", services: [entry], problems: [] }, 999);
        assert.equal(team.message, "");
        assert.ok(team.after > 0);
    });
});

/**
 * The team route with several services (issue 20): `gitOpsServices` checks the whole list (each
 * service, then each against the ones before it and the program's earlier GitOpsServices) before
 * it constructs any, so a problem across services registers nothing, as on the stack route.
 */
const namedArgs = (services: readonly Record<string, unknown>[]) => services.map((entry) => ({ name: String(entry.name), ...componentArgs(entry) }));

async function runTeamServices(
    services: readonly Record<string, unknown>[],
    project: string,
    first?: Record<string, unknown>,
): Promise<{ message: string; before: number; after: number }> {
    const recorded = installMocks("dev", { project });
    const { GitOpsService, gitOpsServices } = await import("gitops-control/components");
    // A GitOpsService the program constructed on its own before the list.
    if (first) new GitOpsService(String(first.name), componentArgs(first) as never);
    await settle(recorded);
    const before = recorded.length;
    let message = "";
    try {
        gitOpsServices(namedArgs(services) as never);
    } catch (e) {
        message = (e as Error).message;
    }
    await settle(recorded);
    return { message, before, after: recorded.length };
}

const crossService = routeCases.filter((c) => c.services.length > 1);

describe("the team route with several services: gitOpsServices refuses what the stack refuses, before any service registers (issue 20)", () => {
    it("the table has cross-service cases (one namespace, one name, a service inside another's previews)", () => {
        assert.deepEqual(
            crossService.map((c) => c.name),
            ["two services, one namespace", "two services, one name", "a service named inside another's previews"],
        );
    });

    routeCases.forEach((c, index) => {
        it(c.name, async () => {
            const refused = c.services.length - 1;
            const name = String(c.services[refused].name);
            const team = await runTeamServices(c.services, `team-services-${index}`);
            assert.equal(team.after, 0, `${team.after} resources registered before the error`);
            assert.match(team.message, new RegExp(`^gitOpsServices: ${c.problems.length} problem\\(s\\):`));
            assert.deepEqual(
                problemLines(team.message),
                c.problems.map((p) => `- \`args[${refused}].${p.arg}\` (service "${name}") ${p.text}`),
                team.message,
            );
        });
    });

    it("one by one, the second of two colliding GitOpsServices is still refused, after the first registered (the limit gitOpsServices lifts)", async () => {
        for (const [index, c] of crossService.entries()) {
            const team = await runTeamRoute(c, 500 + index);
            assert.ok(team.before > 0, `${c.name}: the first service registered ${team.before} resources before the second was refused`);
            assert.equal(team.after, team.before, `${c.name}: nothing registered for the refused service`);
            assert.match(team.message, new RegExp(`^GitOpsService "${String(c.services[1].name)}": ${c.problems.length} problem\\(s\\):`), c.name);
        }
    });

    it("every problem of every service in one error, each naming args[i] and the service", async () => {
        // As on the stack route, a service with problems of its own is not compared with the others.
        const team = await runTeamServices(
            [
                prodSvc,
                { ...other, environments: [{ name: "prod", namespace: "payments-api-prod" }] },
                { ...other, name: "third", repoURL: "https://github.com/acme/third.git", environments: ["prod"], syncPolicy: { automated: { prune: false } } },
                { ...prodSvc, name: "fourth", path: "" },
            ],
            "team-services-many",
        );
        assert.equal(team.after, 0);
        assert.match(team.message, /^gitOpsServices: 3 problem\(s\):/);
        assert.deepEqual(problemLines(team.message), [
            '- `args[1].environments[0].namespace` (service "checkout") (prod) deploys to namespace "payments-api-prod", which service "payments-api" (prod) deploys to. Fix: give each service its own namespaces: an AppProject allowing another team\'s namespace lets it deploy there',
            `- \`args[2].syncPolicy\` (service "third") weakens the prod sync policy: automated.prune is false (deleted manifests stay as ghost objects). ${reasonFix}`,
            '- `args[3].path` (service "fourth") is empty. Fix: use "." for the repository root, or the directory of the manifests, e.g. "deploy/chart"',
        ]);
    });

    it("refuses a list exactly as the stack refuses the same entries: a colliding service is still compared with the ones after it", async () => {
        const services = [
            prodSvc,
            { ...other, name: svc.name, repoURL: "https://github.com/acme/payments-fork.git", environments: [{ name: "prod", namespace: "shop" }] },
            { ...other, environments: [{ name: "prod", namespace: "shop" }] },
        ];
        const team = await runTeamServices(services, "team-services-parity");
        assert.equal(team.after, 0);
        const stackRoute = await run({ was: "wrong", name: "parity", config: { services }, expect: "" });
        assert.equal(stackRoute.resources, 0);
        const lines = problemLines(team.message);
        assert.equal(lines.length, 2, team.message);
        assert.deepEqual(
            problemLines(stackRoute.message),
            lines.map((l) =>
                l.replace(
                    /^- `args\[(\d)\]\.([^`]+)` \(service "([^"]+)"\)/,
                    (_, i, arg, name) => `- \`gitops-control:services[${i}].${arg}\` (service "${name}", GitOpsService arg \`${arg}\`)`,
                ),
            ),
        );
        assert.ok(lines[1].startsWith('- `args[2].environments[0].namespace` (service "checkout") (prod) deploys to namespace "shop", which service "payments-api"'), lines[1]);
    });

    it("checks the list against the GitOpsServices the program constructed before it", async () => {
        const team = await runTeamServices([{ ...other, name: svc.name, environments: [{ name: "prod", namespace: "checkout-prod" }] }], "team-services-earlier", prodSvc);
        assert.ok(team.before > 0);
        assert.equal(team.after, team.before, "nothing of the list registered");
        assert.deepEqual(problemLines(team.message), [
            '- `args[0].name` (service "payments-api") is "payments-api", already the name of another service (team payments): one AppProject "payments-api" for both. Fix: give every service a unique name; if both teams deploy the same service, one entry must go',
        ]);
    });

    it("refuses args that are not a list, naming `args`", async () => {
        installMocks("dev", { project: "team-services-not-a-list" });
        const { gitOpsServices } = await import("gitops-control/components");
        assert.throws(
            () => gitOpsServices({ name: "inventory" } as never),
            (e: Error) =>
                e.message ===
                'gitOpsServices: 1 problem(s):\n- `args` must be a list of services, not {"name":"inventory"}. Fix: pass [{ name: "inventory", team, repoURL, environments, … }, …]',
        );
    });

    it("a valid list builds each service as a GitOpsService of its own: the same resources and URNs as constructing them one by one, parent included", async () => {
        const services = [
            { ...svc, environments: ["staging", "prod"], previews: {} },
            { ...other, environments: ["staging"] },
        ];
        const build = async (together: boolean) => {
            const recorded = installMocks("dev", { project: "team-services-urns" });
            const { GitOpsService, gitOpsServices } = await import("gitops-control/components");
            const parent = new pulumi.ComponentResource("acme:team:Platform", "platform");
            const built = together
                ? gitOpsServices(namedArgs(services) as never, { parent })
                : services.map((entry) => new GitOpsService(String(entry.name), componentArgs(entry) as never, { parent }));
            const urns = await Promise.all(built.map((s) => valueOf(s.urn)));
            await settle(recorded);
            return { urns, resources: recorded.map((r) => `${r.type} ${r.name}`) };
        };
        const together = await build(true);
        const alone = await build(false);
        assert.equal(together.urns.length, 2);
        assert.ok(
            together.urns.every((urn) => urn.includes("acme:team:Platform$gitops-control:service:GitOpsService::")),
            together.urns.join("\n"),
        );
        assert.deepEqual(together.urns, alone.urns);
        assert.ok(together.resources.length > 5, together.resources.join("\n"));
        assert.deepEqual(together.resources, alone.resources);
    });
});
