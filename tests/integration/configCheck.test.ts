import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import type { KubeObject } from "../../scripts/lib/policyEvaluator";
import { RepoServer, startRepoServer } from "../../scripts/cluster/reconcilers";
import { CheckedApplication, applicationsFrom, configCheck, runConfigCheck } from "../../scripts/commands/config-check";
import { toManifest } from "../../scripts/commands/render";
import { formatMarkdown, normalize, objectKey } from "../../scripts/lib/configDiff";
import { AppSource, checkout, inDestination, renderSource } from "../../scripts/lib/configRender";
import { readStackFile, renderProgram } from "../../scripts/lib/mockRuntime";
import { chartFiles } from "../support/charts";
import { GitServer } from "../support/gitServer";
import { generateManifest } from "../support/repoServerClient";
import { step } from "./support";

/**
 * The config repository's PR check with the real renderers.
 *
 * Parity: every source shape the check renders (the Helm Applications a stack generates, Helm with
 * release name, parameters, inline values, namespace and API versions, kustomize with a name prefix
 * and images, a plain directory, a missing path) is rendered twice from the same commit of a real Git
 * server: by the check (Helm 4.3.1 / kustomize 5.8.3, scripts/lib/configRender.ts) and by Argo CD
 * v3.6.1's own repo-server through its gRPC GenerateManifest, with the request the application
 * controller sends. Equal means the same objects (group, kind, namespace, name) with the same content
 * after normalisation (key order; the tracking annotation the repo-server adds), and a failure on
 * both sides.
 *
 * Scenarios: `npm run config-check`'s own code on a stack whose prod Application deploys from a
 * fixture config repository, one PR per mistake: a wrong path, a renamed value that drops objects,
 * a deleted directory, a guardrail violation, and a legitimate small change.
 *
 * Needs the toolchain env (GITOPS_ARGOCD_BIN; helm and kustomize on PATH).
 */

const kubeVersion = "1.36.3";
const apiVersions = ["v1", "apps/v1", "monitoring.coreos.com/v1"];

/** The chart of tests/support/charts.ts plus what exercises Helm's corners: names, namespaces, capabilities, CRDs, lists, test hooks, a gated worker. */
function configRepoFiles(): Record<string, string | null> {
    const files = chartFiles({ service: "shop", team: "shop" });
    return {
        ...files,
        "deploy/chart/values.yaml": 'replicas: 0\nimage:\n  tag: "1.0.0"\nworker:\n  enabled: false\ninline: none\nlist: []\n',
        "deploy/chart/values-prod.yaml": "environment: prod\nworker:\n  enabled: true\n",
        "deploy/chart/templates/release.yaml": [
            "apiVersion: v1",
            "kind: ConfigMap",
            "metadata:",
            "  name: {{ .Release.Name }}-release",
            "  namespace: {{ .Release.Namespace }}",
            "data:",
            "  kube: {{ .Capabilities.KubeVersion.Version | quote }}",
            "  inline: {{ .Values.inline | quote }}",
            '  tag: {{ .Values.image.tag | default "none" | quote }}',
            "  list: {{ .Values.list | toJson | quote }}",
            '  environment: {{ .Values.environment | default "none" | quote }}',
            "",
        ].join("\n"),
        "deploy/chart/templates/worker.yaml": [
            "{{- if .Values.worker.enabled }}",
            "apiVersion: v1",
            "kind: ConfigMap",
            "metadata:",
            "  name: {{ .Release.Name }}-worker",
            "data:",
            "  role: worker",
            "---",
            "apiVersion: v1",
            "kind: ConfigMap",
            "metadata:",
            "  name: {{ .Release.Name }}-worker-queue",
            "data:",
            "  role: queue",
            "{{- end }}",
            "",
        ].join("\n"),
        "deploy/chart/templates/monitor.yaml": [
            '{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}',
            "apiVersion: v1",
            "kind: ConfigMapList",
            "items:",
            "  - apiVersion: v1",
            "    kind: ConfigMap",
            "    metadata:",
            "      name: {{ .Release.Name }}-monitor",
            '    data: { scrape: "true" }',
            "{{- end }}",
            "",
        ].join("\n"),
        "deploy/chart/templates/tests/test.yaml": [
            "apiVersion: v1",
            "kind: ConfigMap",
            "metadata:",
            "  name: {{ .Release.Name }}-test",
            "  annotations:",
            "    helm.sh/hook: test",
            'data: { test: "yes" }',
            "",
        ].join("\n"),
        "deploy/chart/crds/widgets.yaml": [
            "apiVersion: apiextensions.k8s.io/v1",
            "kind: CustomResourceDefinition",
            "metadata:",
            "  name: widgets.shop.example",
            "spec:",
            "  group: shop.example",
            "  names: { kind: Widget, plural: widgets }",
            "  scope: Namespaced",
            "  versions:",
            "    - name: v1",
            "      served: true",
            "      storage: true",
            "      schema: { openAPIV3Schema: { type: object } }",
            "",
        ].join("\n"),
        "deploy/kustomize/kustomization.yaml": "resources:\n  - config.yaml\n  - deployment.yaml\n",
        "deploy/kustomize/config.yaml": 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: "1"\n',
        "deploy/kustomize/deployment.yaml": files["deploy/chart/templates/deployment.yaml"]!.replace("{{ .Values.replicas }}", "0"),
        "deploy/plain/a.yaml":
            'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain-a\ndata: { a: "1" }\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: plain-b\nstringData: { b: "2" }\n',
        // YAML 1.1 scalars read as the repo-server's decoder reads them.
        "deploy/plain/widget.yml": "apiVersion: shop.example/v1\nkind: Widget\nmetadata:\n  name: w\nspec:\n  flag: yes\n  mode: on\n  off: no\n  mask: 0755\n  text: '0755'\n",
        "deploy/plain/c.json": JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "plain-c" }, data: { c: "3" } }),
        "deploy/plain/README.md": "not a manifest\n",
    };
}

function git(cwd: string, args: readonly string[]): string {
    const r = spawnSync("git", [...args], {
        cwd,
        encoding: "utf8",
        env: { ...process.env, GIT_AUTHOR_NAME: "test", GIT_AUTHOR_EMAIL: "test@example.invalid", GIT_COMMITTER_NAME: "test", GIT_COMMITTER_EMAIL: "test@example.invalid" },
    });
    if (r.status !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr}`);
    return r.stdout.trim();
}

/** Writes `changes` (null deletes; a path ending in / deletes the folder) and commits on `branch` from `from`. */
function commit(repo: string, from: string | undefined, branch: string, changes: Readonly<Record<string, string | null>>): string {
    git(repo, ["checkout", "--quiet", "-B", branch, ...(from ? [from] : [])]);
    for (const [file, content] of Object.entries(changes)) {
        const target = path.join(repo, file);
        if (content === null) fs.rmSync(target, { recursive: true, force: true });
        else {
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, content);
        }
    }
    git(repo, ["add", "--all"]);
    git(repo, ["commit", "--quiet", "--allow-empty", "-m", branch]);
    return git(repo, ["rev-parse", "HEAD"]);
}

/** The rendered objects by Argo CD's identity, each normalised, for a whole-render comparison. */
function byIdentity(objects: readonly KubeObject[]): Map<string, unknown> {
    return new Map(objects.map((o) => [objectKey(o), normalize(o)] as const).sort(([a], [b]) => a.localeCompare(b)));
}

describe("config-check: renders equal to Argo CD v3.6.1's repo-server (GenerateManifest)", { timeout: 900_000 }, () => {
    let dir: string;
    let gitServer: GitServer;
    let repoServer: RepoServer;
    let repoURL: string;
    let sha: string;
    let root: string;

    before(async () => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "config-check-parity-"));
        gitServer = await GitServer.start(path.join(dir, "git"));
        sha = gitServer.createRepo("shop-config", configRepoFiles());
        repoURL = gitServer.url("shop-config");
        step(`repo-server in ${dir}/argo`);
        repoServer = await startRepoServer({ dir: path.join(dir, "argo") });
        root = checkout(path.join(gitServer.dir, "repos", "shop-config.git"), sha).root;
    });

    after(async () => {
        repoServer?.stop();
        await gitServer?.stop();
        if (root) fs.rmSync(root, { recursive: true, force: true });
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    /** Renders `app` both ways and asserts the same objects with the same content. */
    async function assertParity(app: Pick<CheckedApplication, "name" | "namespace" | "project" | "source">): Promise<number> {
        const ours = renderSource(root, { appName: app.name, namespace: app.namespace, project: app.project, source: app.source, revision: sha, kubeVersion, apiVersions });
        if (!ours.ok) assert.fail(`the check could not render ${app.name}: ${ours.error}`);
        const theirs = await generateManifest(repoServer.repoServerAddress, {
            repoURL,
            revision: sha,
            appName: app.name,
            namespace: app.namespace,
            project: app.project,
            source: app.source,
            kubeVersion,
            apiVersions,
        }).catch((error: Error) => assert.fail(`${error.message}\n${repoServer.tails()}`));
        assert.equal(theirs.sourceType, ours.sourceType, "source type");
        const expected = byIdentity(theirs.manifests.map((m) => inDestination(m as unknown as KubeObject, app.namespace)));
        const actual = byIdentity(ours.objects.map((o) => o.object));
        assert.deepEqual([...actual.keys()], [...expected.keys()], `${app.name}: the same objects`);
        for (const [key, object] of expected) assert.deepEqual(actual.get(key), object, `${app.name}: ${key} has the same content`);
        // The repo-server really tracked them (so the comparison removed something real).
        assert.ok(
            theirs.manifests.some((m) => JSON.stringify(m).includes("argocd.argoproj.io/tracking-id")),
            "the repo-server's tracking annotation is present",
        );
        return actual.size;
    }

    it("the Helm Applications a stack generates (prod and staging value files, its parameters) and its preview template filled for a PR", async () => {
        const stackFile = path.join(dir, "Pulumi.parity.yaml");
        fs.writeFileSync(
            stackFile,
            [
                "config:",
                "  gitops-control:environment: local",
                "  gitops-control:services:",
                "    - name: shop",
                "      team: shop",
                `      repoURL: ${repoURL}`,
                "      path: deploy/chart",
                "      helm:",
                "        parameters:",
                '          - { name: image.tag, value: "2.0.0,rc", forceString: true }',
                '          - { name: replicas, value: "0" }',
                "      previews: { labels: [preview], owner: acme, repo: shop-config }",
                // A secure value (read as a placeholder secret, never decrypted here), as a real stack keeps the token.
                "  gitops-control:githubToken:",
                "    secure: v1:placeholder",
                "",
            ].join("\n"),
        );
        const { resources } = await renderProgram("parity", readStackFile(stackFile), { entry: path.join(__dirname, "..", "..", "index.ts"), project: "gitops-control" });
        const manifests = resources.map(toManifest).filter((m): m is KubeObject => m !== undefined) as KubeObject[];
        const apps = applicationsFrom(manifests, repoURL, { number: "1", head_sha: sha });
        assert.deepEqual(apps.map((a) => a.name).sort(), ["shop-pr-1", "shop-prod", "shop-staging"]);
        const preview = apps.find((a) => a.name === "shop-pr-1");
        assert.equal(preview?.source.targetRevision, sha, "the preview renders the PR's head");
        // The service's own image.tag, then the preview's (the last wins in Argo CD's parameter map and in Helm alike).
        assert.deepEqual(
            preview?.source.helm?.parameters?.filter((p) => p.name === "image.tag").map((p) => p.value),
            ["2.0.0,rc", "pr-1"],
        );
        for (const app of apps) {
            const count = await assertParity(app);
            step(`${app.name}: ${count} objects equal`);
            assert.ok(count >= 7, `${app.name} rendered the chart (${count})`);
        }
    });

    it("Helm with the Application's release name, namespace, inline values, a comma in --set, skipped tests and CRDs", async () => {
        const source: AppSource = {
            repoURL,
            path: "deploy/chart",
            targetRevision: "main",
            helm: {
                releaseName: "web",
                namespace: "shop-other",
                values: "inline: from-the-application\nlist: [a, b]\n",
                valueFiles: ["values-prod.yaml"],
                parameters: [
                    { name: "image.tag", value: "a,b" },
                    { name: "environment", value: "$ARGOCD_APP_NAME", forceString: true },
                ],
                skipTests: true,
                skipCrds: true,
            },
        };
        assert.ok((await assertParity({ name: "shop-custom", namespace: "shop-prod", project: "shop", source })) >= 6);
        const inlineObject: AppSource = { ...source, helm: { valuesObject: { inline: "object", worker: { enabled: false } } } };
        assert.ok((await assertParity({ name: "shop-object", namespace: "shop-prod", project: "shop", source: inlineObject })) >= 5);
    });

    it("kustomize with a name prefix and an image, and a plain directory", async () => {
        const kustomize: AppSource = { repoURL, path: "deploy/kustomize", kustomize: { namePrefix: "k-", images: ["registry.example/shop=registry.example/shop:2.0.0"] } };
        assert.equal(await assertParity({ name: "shop-k", namespace: "shop-prod", project: "shop", source: kustomize }), 2);
        assert.equal(await assertParity({ name: "shop-plain", namespace: "shop-prod", project: "shop", source: { repoURL, path: "deploy/plain" } }), 4);
    });

    it("a path that does not exist fails on both sides", async () => {
        const source: AppSource = { repoURL, path: "deploy/charts", helm: { valueFiles: ["values-prod.yaml"] } };
        const ours = renderSource(root, { appName: "shop-prod", namespace: "shop-prod", source, revision: sha, kubeVersion });
        assert.equal(ours.ok, false);
        await assert.rejects(
            generateManifest(repoServer.repoServerAddress, { repoURL, revision: sha, appName: "shop-prod", namespace: "shop-prod", project: "shop", source, kubeVersion }),
            /app path does not exist/,
        );
        assert.match(ours.ok ? "" : ours.error, /app path does not exist/);
    });
});

describe("config-check: one PR per mistake, on a fixture config repository", { timeout: 600_000 }, () => {
    const repoURL = "https://git.example/acme/shop-config.git";
    let dir: string;
    let repo: string;
    let stackFile: string;
    let base: string;

    before(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "config-check-scenarios-"));
        repo = path.join(dir, "shop-config");
        fs.mkdirSync(repo);
        git(repo, ["init", "--quiet", "--initial-branch=main"]);
        base = commit(repo, undefined, "main", configRepoFiles());
        stackFile = path.join(dir, "Pulumi.shop.yaml");
        fs.writeFileSync(
            stackFile,
            [
                "config:",
                "  gitops-control:environment: prod",
                "  gitops-control:applicationPruneBudget:",
                "    prod: 1",
                "  gitops-control:services:",
                "    - name: shop",
                "      team: shop",
                "      repoURL: git@git.example:acme/shop-config.git",
                "      path: deploy/chart",
                "    - name: other",
                "      team: other",
                "      repoURL: https://git.example/acme/other.git",
                "",
            ].join("\n"),
        );
    });

    after(() => {
        if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    const run = async (head: string, approved = false) => {
        const report = await configCheck({ stack: stackFile, repo, base, head, repoURL, approved, pr: "1", kubeVersion, apiVersions });
        assert.deepEqual(
            report.verdicts.map((v) => v.check.application),
            ["shop-prod"],
            "only the Application that deploys from this repository (written as scp) is checked",
        );
        const markdown = formatMarkdown(report);
        step(`\n${markdown}`);
        return { verdict: report.verdicts[0], markdown };
    };

    it("a wrong path (the chart folder renamed): the head cannot render, Argo CD would show ComparisonError", async () => {
        const moved = Object.fromEntries(
            Object.entries(configRepoFiles())
                .filter(([f]) => f.startsWith("deploy/chart/"))
                .map(([f, c]) => [f.replace("deploy/chart/", "deploy/helm/"), c]),
        );
        const head = commit(repo, base, "wrong-path", { ...moved, "deploy/chart": null });
        const { verdict, markdown } = await run(head);
        assert.equal(verdict.violations.length, 1);
        assert.match(verdict.violations[0], /cannot render it at the head revision.*deploy\/chart: app path does not exist/);
        assert.match(markdown, /\| `shop-prod` \| deploy\/chart \(Helm, values-prod\.yaml\), render fails \|/);
    });

    it("a renamed value that drops objects: removals over the budget listed with their files; prune-approved lets it pass", async () => {
        const head = commit(repo, base, "renamed-value", { "deploy/chart/values-prod.yaml": "environment: prod\nworkers:\n  enabled: true\n" });
        const { verdict, markdown } = await run(head);
        assert.deepEqual(
            verdict.diff.removed.map((c) => [c.object, c.file]),
            [
                ["ConfigMap shop-prod/shop-prod-worker", "deploy/chart/templates/worker.yaml"],
                ["ConfigMap shop-prod/shop-prod-worker-queue", "deploy/chart/templates/worker.yaml"],
            ],
        );
        assert.match(verdict.violations.join("\n"), /removes 2 objects, over the budget of 1 for prod/);
        assert.match(markdown, /\| removed \| `ConfigMap shop-prod\/shop-prod-worker` \| `deploy\/chart\/templates\/worker\.yaml` \|/);
        const approved = await run(head, true);
        assert.deepEqual(approved.verdict.violations, []);
        assert.match(approved.verdict.notes.join("\n"), /approved \(prune-approved\)/);
    });

    it("deleted directories (templates and CRDs): an empty render that allowEmpty: false refuses, not approvable, every object it would prune listed", async () => {
        const head = commit(repo, base, "deleted-directory", { "deploy/chart/templates": null, "deploy/chart/crds": null });
        const { verdict, markdown } = await run(head, true);
        assert.match(verdict.violations.join("\n"), /renders no object \(the base rendered \d+\): `allowEmpty: false` makes Argo CD refuse the sync/);
        assert.ok(verdict.diff.removed.length >= 6);
        assert.ok(verdict.diff.removed.some((c) => c.object === "Deployment shop-prod/shop" && c.file === "deploy/chart/templates/deployment.yaml"));
        assert.match(markdown, /- ❌ renders no object/);
    });

    it("a guardrail violation (an image tagged latest): the stack's prod rules deny it, with the rule, the object and the file", async () => {
        const unsafe = chartFiles({ service: "shop", team: "shop", unsafe: true })["deploy/chart/templates/unsafe.yaml"]!;
        const head = commit(repo, base, "guardrail", { "deploy/chart/templates/unsafe.yaml": unsafe });
        const { verdict, markdown } = await run(head);
        assert.deepEqual(
            verdict.diff.added.map((c) => [c.object, c.file]),
            [["Deployment shop-prod/shop-debug", "deploy/chart/templates/unsafe.yaml"]],
        );
        const denials = verdict.check.guardrails.filter((r) => r.verdict === "Deny");
        assert.ok(denials.length > 0 && denials.every((r) => r.object === "Deployment shop-prod/shop-debug"), JSON.stringify(verdict.check.guardrails));
        assert.match(verdict.violations.join("\n"), /guardrail denial/);
        assert.match(markdown, /\| Deny \| .*latest/);
    });

    it("a legitimate small change (a message edited, one object removed within budget): passes, and says what changed where", async () => {
        const head = commit(repo, base, "small-change", {
            "deploy/chart/templates/configmap.yaml": chartFiles({ service: "shop", team: "shop", message: "hello, world" })["deploy/chart/templates/configmap.yaml"]!,
            "deploy/chart/templates/extra.yaml": null,
        });
        const { verdict } = await run(head);
        assert.deepEqual(verdict.violations, []);
        assert.deepEqual(
            verdict.diff.changed.map((c) => [c.object, c.file, c.fields]),
            [["ConfigMap shop-prod/shop-config", "deploy/chart/templates/configmap.yaml", ["data.message"]]],
        );
        assert.deepEqual(
            verdict.diff.removed.map((c) => [c.object, c.file]),
            [["ConfigMap shop-prod/shop-extra", "deploy/chart/templates/extra.yaml"]],
        );
        // The command: the same report, written to --output, exit 0; and exit 1 for the renamed value.
        const out = path.join(dir, "comment.md");
        const printed: string[] = [];
        const io = { out: (t: string) => printed.push(t), err: (t: string) => printed.push(t) };
        const argv = [stackFile, "--repo", repo, "--base", base, "--repo-url", repoURL, "--output", out, "--kube-version", kubeVersion];
        assert.equal(await runConfigCheck([...argv, "--head", head], {}, io), 0, printed.join(""));
        assert.match(fs.readFileSync(out, "utf8"), /✅ 1 Application checked, no violation\./);
        const renamed = git(repo, ["rev-parse", "renamed-value"]);
        assert.equal(await runConfigCheck([...argv, "--head", renamed], {}, io), 1);
        assert.equal(await runConfigCheck([...argv, "--head", renamed], { PRUNE_BUDGET_APPROVED: "true" }, io), 0);
    });
});
