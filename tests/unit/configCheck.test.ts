import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KubeObject } from "../../scripts/lib/policyEvaluator";
import { applicationsFrom, fillTemplate, parseArgs, sameRepository } from "../../scripts/commands/config-check";
import type { Row } from "../../scripts/commands/policy-check";
import { ApplicationCheck, changedPaths, diffRenders, exitCode, formatMarkdown, judge, normalize, objectKey } from "../../scripts/lib/configDiff";
import { RenderRequest, RenderedObject, envsubst, helmSetValue, helmTemplateArgs, kubeVersionArg, splitManifests } from "../../scripts/lib/configRender";

/**
 * The config-repository check's pure parts: the diff of two renders, the verdict per Application,
 * the Markdown comment, the `helm template` argv built as Argo CD v3.6.1's repo-server builds it,
 * and which Applications of a stack a repository feeds. The real renders and their parity with the
 * repo-server are in tests/integration/configCheck.test.ts.
 */

const cm = (name: string, data: Record<string, string> = { a: "1" }, extra: Partial<KubeObject> = {}): KubeObject => ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "shop-prod" },
    data,
    ...extra,
});
const rendered = (object: KubeObject, file?: string): RenderedObject => (file ? { object, file } : { object });

describe("diffRenders: what a change does to one Application's objects", () => {
    it("lists added, changed (with the fields) and removed objects, each with the file it comes from", () => {
        const base = [
            rendered(cm("keep"), "deploy/chart/templates/keep.yaml"),
            rendered(cm("gone"), "deploy/chart/templates/gone.yaml"),
            rendered(cm("edit"), "deploy/chart/templates/edit.yaml"),
        ];
        const head = [
            rendered(cm("keep"), "deploy/chart/templates/keep.yaml"),
            rendered(cm("edit", { a: "2" }), "deploy/chart/templates/edit.yaml"),
            rendered(cm("new"), "deploy/chart/templates/new.yaml"),
        ];
        const diff = diffRenders(base, head);
        assert.deepEqual(
            diff.added.map((c) => [c.object, c.file]),
            [["ConfigMap shop-prod/new", "deploy/chart/templates/new.yaml"]],
        );
        assert.deepEqual(
            diff.removed.map((c) => [c.object, c.file]),
            [["ConfigMap shop-prod/gone", "deploy/chart/templates/gone.yaml"]],
        );
        assert.deepEqual(
            diff.changed.map((c) => [c.object, c.file, c.fields]),
            [["ConfigMap shop-prod/edit", "deploy/chart/templates/edit.yaml", ["data.a"]]],
        );
    });

    it("identifies objects by group, kind, namespace and name: a new apiVersion of the same group is a change, not a remove and add", () => {
        const before = { ...cm("x"), apiVersion: "apps/v1beta2", kind: "Deployment" };
        const after = { ...cm("x"), apiVersion: "apps/v1", kind: "Deployment" };
        assert.equal(objectKey(before), objectKey(after));
        const diff = diffRenders([rendered(before)], [rendered(after)]);
        assert.deepEqual([diff.added.length, diff.removed.length, diff.changed.length], [0, 0, 1]);
        assert.deepEqual(diff.changed[0].fields, ["apiVersion"]);
    });

    it("ignores key order and Argo CD's tracking annotation (the repo-server adds it, Git does not carry it)", () => {
        const tracked = cm("x", { a: "1" }, { metadata: { name: "x", namespace: "shop-prod", annotations: { "argocd.argoproj.io/tracking-id": "app:/ConfigMap:shop-prod/x" } } });
        const reordered = { data: { a: "1" }, metadata: { namespace: "shop-prod", name: "x" }, kind: "ConfigMap", apiVersion: "v1" } as KubeObject;
        assert.deepEqual(normalize(tracked), normalize(reordered));
        assert.deepEqual(diffRenders([rendered(tracked)], [rendered(reordered)]).changed, []);
    });

    it("names a duplicate object (the same identity rendered twice)", () => {
        assert.deepEqual(diffRenders([], [rendered(cm("x")), rendered(cm("x"))]).duplicates, ["ConfigMap shop-prod/x"]);
    });

    it("names at most the given number of changed fields, deepest first", () => {
        assert.deepEqual(changedPaths({ spec: { a: 1, b: { c: 1 } } }, { spec: { a: 2, b: { c: 2 } } }), ["spec.a", "spec.b.c"]);
        assert.deepEqual(changedPaths({ a: 1, b: 1, c: 1 }, { a: 2, b: 2, c: 2 }, 2), ["a", "b"]);
    });
});

const check = (over: Partial<ApplicationCheck> = {}): ApplicationCheck => ({
    application: "shop-prod",
    environment: "prod",
    source: "deploy/chart (Helm, values-prod.yaml)",
    allowEmpty: false,
    budget: 2,
    base: { ok: true, sourceType: "Helm", objects: [rendered(cm("a"), "deploy/chart/templates/a.yaml"), rendered(cm("b")), rendered(cm("c")), rendered(cm("d"))] },
    head: { ok: true, sourceType: "Helm", objects: [rendered(cm("a"), "deploy/chart/templates/a.yaml"), rendered(cm("b")), rendered(cm("c")), rendered(cm("d"))] },
    guardrails: [],
    guardrailsDeny: true,
    ...over,
});
const deny: Row = { object: "Deployment shop-prod/web", rule: "disallow-latest-tag", verdict: "Deny", message: "image tag latest" };
const warn: Row = { ...deny, verdict: "Warn" };

describe("judge: what fails a config-repository PR", () => {
    it("passes a change with nothing removed, rendered and admitted", () => {
        const v = judge(check(), false);
        assert.deepEqual([v.violations, v.notes], [[], []]);
    });

    it("fails an empty render that allowEmpty: false would refuse, naming what the base had", () => {
        const v = judge(check({ head: { ok: true, sourceType: "Helm", objects: [] } }), false);
        assert.equal(v.violations.length, 1);
        assert.match(v.violations[0], /renders no object \(the base rendered 4\): `allowEmpty: false` makes Argo CD refuse the sync/);
        assert.equal(v.diff.removed.length, 4, "the objects it would have pruned are listed");
    });

    it("only notes an empty render when the Application allows it, and says what a sync would prune", () => {
        const v = judge(check({ allowEmpty: true, budget: 10, head: { ok: true, sourceType: "Helm", objects: [] } }), false);
        assert.deepEqual(v.violations, []);
        assert.match(v.notes[0], /allowEmpty is on, so a sync would prune all 4 objects/);
    });

    it("fails removals over the environment's budget unless approved (prune-approved)", () => {
        const head = { ok: true as const, sourceType: "Helm" as const, objects: [rendered(cm("a"))] };
        const over = judge(check({ head }), false);
        assert.equal(over.violations.length, 1);
        assert.match(over.violations[0], /removes 3 objects, over the budget of 2 for prod \(`applicationPruneBudget\.prod`\)\. Fix: if intended, label the PR `prune-approved`/);
        const approved = judge(check({ head }), true);
        assert.deepEqual(approved.violations, []);
        assert.match(approved.notes[0], /approved \(prune-approved\)/);
        const within = judge(check({ head, budget: 3 }), false);
        assert.deepEqual(within.violations, []);
    });

    it("fails a head that Argo CD cannot render (ComparisonError), with the render's message", () => {
        const v = judge(check({ head: { ok: false, error: "deploy/chrt: app path does not exist" } }), true);
        assert.equal(v.violations.length, 1);
        assert.match(v.violations[0], /cannot render it at the head revision \(ComparisonError.*\): deploy\/chrt: app path does not exist/);
    });

    it("fails a guardrail denial in prod; a warning (staging) is a note", () => {
        assert.match(judge(check({ guardrails: [deny] }), true).violations[0], /1 guardrail denial: Argo CD's sync would be refused by admission/);
        const staging = judge(check({ environment: "staging", guardrailsDeny: false, guardrails: [warn] }), false);
        assert.deepEqual(staging.violations, []);
        assert.match(staging.notes[0], /1 guardrail warning/);
    });
});

describe("formatMarkdown: the PR comment", () => {
    it("carries the stack's marker, a summary row per Application, its problems, and each object with its file", () => {
        const head = { ok: true as const, sourceType: "Helm" as const, objects: [rendered(cm("a"), "deploy/chart/templates/a.yaml")] };
        const report = {
            stack: "prod",
            repoURL: "https://git.example/acme/shop.git",
            base: "a".repeat(40),
            head: "b".repeat(40),
            approved: false,
            verdicts: [judge(check({ head, guardrails: [deny] }), false)],
        };
        const md = formatMarkdown(report);
        assert.ok(md.startsWith("<!-- gitops-control:config-check:prod -->\n"));
        assert.match(md, /\| `shop-prod` \| deploy\/chart \(Helm, values-prod\.yaml\), 1 object \| 0 \| 0 \| 3 \(2\) \| 1 denied, 0 warned \| ❌ \|/);
        assert.match(md, /#### `shop-prod`/);
        assert.match(md, /- ❌ removes 3 objects, over the budget of 2/);
        assert.match(md, /\| removed \| `ConfigMap shop-prod\/b` \| – \|/);
        assert.match(md, /\| `disallow-latest-tag` \| `Deployment shop-prod\/web` \| Deny \| image tag latest \|/);
        assert.equal(exitCode(report), 1);
        assert.equal(exitCode({ ...report, verdicts: [judge(check(), false)] }), 0);
    });

    it("says so when no Application of the stack deploys from the repository", () => {
        const md = formatMarkdown({ stack: "prod", repoURL: "https://git.example/acme/other.git", base: "a", head: "b", approved: false, verdicts: [] });
        assert.match(md, /No Application of stack `prod` deploys from https:\/\/git\.example\/acme\/other\.git\./);
    });
});

describe("helmTemplateArgs: `helm template` as Argo CD v3.6.1's repo-server runs it", () => {
    const request = (helm: NonNullable<RenderRequest["source"]["helm"]>): RenderRequest => ({
        appName: "shop-prod",
        namespace: "shop-prod",
        kubeVersion: "v1.36.3",
        apiVersions: ["apps/v1", "v1"],
        revision: "0123456789abcdef",
        source: { repoURL: "https://git.example/acme/shop.git", path: "deploy/chart", helm },
    });

    it("release name (the Application's unless set), namespace, kube version, --set before --set-string, value files, inline values last, API versions, CRDs included", () => {
        const args = helmTemplateArgs(
            request({
                valueFiles: ["values-prod.yaml", "/shared/common.yaml"],
                parameters: [
                    { name: "image.tag", value: "pr-1", forceString: true },
                    { name: "replicas", value: "2" },
                ],
            }),
            "/repo",
            "/repo/deploy/chart",
            "/tmp/inline.yaml",
        );
        assert.deepEqual(args, [
            "template",
            ".",
            "--name-template",
            "shop-prod",
            "--namespace",
            "shop-prod",
            "--kube-version",
            "1.36.3",
            "--set",
            "replicas=2",
            "--set-string",
            "image.tag=pr-1",
            "--values",
            "/repo/deploy/chart/values-prod.yaml",
            "--values",
            "/repo/shared/common.yaml",
            "--values",
            "/tmp/inline.yaml",
            "--api-versions",
            "apps/v1",
            "--api-versions",
            "v1",
            "--include-crds",
        ]);
    });

    it("honours the source's releaseName, namespace, kubeVersion, apiVersions, skipCrds, skipTests and skipSchemaValidation", () => {
        const args = helmTemplateArgs(
            request({ releaseName: "shop", namespace: "other", kubeVersion: "1.30", apiVersions: ["x/v1"], skipCrds: true, skipTests: true, skipSchemaValidation: true }),
            "/repo",
            "/repo/deploy/chart",
            undefined,
        );
        assert.deepEqual(args, [
            "template",
            ".",
            "--name-template",
            "shop",
            "--namespace",
            "other",
            "--kube-version",
            "1.30.0",
            "--api-versions",
            "x/v1",
            "--skip-schema-validation",
            "--skip-tests",
        ]);
    });

    it("substitutes Argo CD's build variables in parameters and escapes commas unless the value is a {list}", () => {
        const args = helmTemplateArgs(
            request({
                parameters: [
                    { name: "rev", value: "$ARGOCD_APP_REVISION_SHORT,${ARGOCD_APP_NAME}" },
                    { name: "l", value: "{a,b}" },
                ],
            }),
            "/repo",
            "/repo/deploy/chart",
            undefined,
        );
        assert.deepEqual(args.slice(8, 12), ["--set", "rev=0123456\\,shop-prod", "--set", "l={a,b}"]);
        assert.equal(helmSetValue("a\\,b,c"), "a\\,b\\,c");
        assert.equal(envsubst("$UNKNOWN ${ARGOCD_APP_NAME}", { ARGOCD_APP_NAME: "x" }), "$UNKNOWN x");
    });

    it("refuses a value file outside the repository", () => {
        assert.throws(() => helmTemplateArgs(request({ valueFiles: ["../../../etc/passwd"] }), "/repo", "/repo/deploy/chart", undefined), /outside the repository/);
    });

    it("parses Kubernetes versions as k8s ParseGeneric does", () => {
        assert.equal(kubeVersionArg("v1.36.3"), "1.36.3");
        assert.equal(kubeVersionArg("1.36"), "1.36.0");
        assert.equal(kubeVersionArg(undefined), undefined);
        assert.throws(() => kubeVersionArg("latest"), /could not parse kubernetes version latest/);
    });
});

describe("splitManifests: objects with the file they come from", () => {
    it("takes the file from Helm's `# Source:` comment, expands Lists and drops empty documents", () => {
        const text = [
            "---",
            "# Source: shop/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a",
            "---",
            "# Source: shop/templates/empty.yaml",
            "---",
            "# Source: shop/templates/list.yaml",
            "apiVersion: v1\nkind: ConfigMapList\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: b",
        ].join("\n");
        const objects = splitManifests(text, (source) => (source ? `deploy/chart/${source.split("/").slice(1).join("/")}` : undefined));
        assert.deepEqual(
            objects.map((o) => [o.object.metadata?.name, o.file]),
            [
                ["a", "deploy/chart/templates/cm.yaml"],
                ["b", "deploy/chart/templates/list.yaml"],
            ],
        );
    });
});

describe("which Applications a config repository feeds", () => {
    const app = (name: string, repoURL: string, env: string): KubeObject => ({
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Application",
        metadata: { name, namespace: "argocd" },
        spec: {
            project: "shop",
            destination: { namespace: name },
            source: { repoURL, path: "deploy/chart", helm: { valueFiles: [`values-${env}.yaml`] } },
            syncPolicy: { automated: { allowEmpty: false }, managedNamespaceMetadata: { labels: { "gitops-control.io/environment": env } } },
        },
    });
    const appSet: KubeObject = {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "ApplicationSet",
        metadata: { name: "shop-previews" },
        spec: {
            template: {
                metadata: { name: "shop-pr-{{.number}}", labels: { "gitops-control.io/environment": "preview" } },
                spec: {
                    project: "shop",
                    destination: { namespace: "shop-pr-{{.number}}" },
                    source: {
                        repoURL: "https://github.com/acme/shop.git",
                        path: "deploy/chart",
                        targetRevision: "{{.head_sha}}",
                        helm: { parameters: [{ name: "image.tag", value: "pr-{{.number}}" }] },
                    },
                },
            },
        },
    };

    it("matches the repository however its URL is written, and fills preview templates for the PR", () => {
        const manifests = [app("shop-prod", "git@github.com:acme/shop.git", "prod"), app("other-prod", "https://github.com/acme/other.git", "prod"), appSet];
        const apps = applicationsFrom(manifests, "https://github.com/acme/shop", { number: "7", head_sha: "abc" });
        assert.deepEqual(
            apps.map((a) => [a.name, a.namespace, a.environment, a.source.targetRevision ?? ""]),
            [
                ["shop-prod", "shop-prod", "prod", ""],
                ["shop-pr-7", "shop-pr-7", "preview", "abc"],
            ],
        );
        assert.equal(apps[1].source.helm?.parameters?.[0].value, "pr-7");
    });

    it("compares repository URLs across https, ssh and scp forms, case-insensitive host only", () => {
        assert.ok(sameRepository("https://github.com/acme/shop.git", "git@github.com:acme/shop"));
        assert.ok(sameRepository("ssh://git@GitHub.com/acme/shop/", "https://github.com/acme/shop"));
        assert.ok(!sameRepository("https://github.com/acme/shop", "https://github.com/acme/Shop"));
        assert.ok(!sameRepository("https://github.com/acme/shop", "https://github.com/acme/shop-config"));
    });

    it("refuses a preview template key it cannot fill, as missingkey=error would", () => {
        assert.throws(() => fillTemplate({ a: "{{.labels}}" }, { number: "1" }), /uses \{\{\.labels\}\}, which this check does not fill/);
    });
});

describe("config-check arguments", () => {
    it("needs a stack, --repo, --base and --head; the label arrives as PRUNE_BUDGET_APPROVED", () => {
        assert.throws(() => parseArgs(["prod", "--repo", "."]), /missing --base, --head/);
        assert.throws(() => parseArgs(["prod", "--repo", ".", "--base", "a", "--head", "b", "--bogus"]), /unknown option --bogus/);
        const args = parseArgs(["prod", "--repo", ".", "--base", "a", "--head", "b", "--api-versions", "v1, apps/v1"], { PRUNE_BUDGET_APPROVED: "true" });
        assert.equal(args.approved, true);
        assert.deepEqual(args.apiVersions, ["v1", "apps/v1"]);
        assert.match(args.kubeVersion, /^\d+\.\d+\.\d+$/, "defaults to the Kubernetes version the toolchain pins");
        assert.equal(parseArgs(["prod", "--repo", ".", "--base", "a", "--head", "b"], {}).approved, false);
    });
});
