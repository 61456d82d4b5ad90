/**
 * The command-line checks of `npm run policy:check`, `npm run prune-budget` and `npm run render`,
 * written once and run twice: in-process by the unit tests (fast; the commands' exported entry
 * points) and as real child processes by tests/integration/cli.test.ts (exit codes, argv, stdout
 * and stderr of the process). The case functions take the way of running the command.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, it } from "node:test";
import { parseAllDocuments } from "yaml";

export const repoRoot = path.resolve(__dirname, "..", "..");

export interface CommandResult {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
}

const fixtures = path.join("components", "guardrails", "rules");
const previewFixture = (name: string) => path.join(repoRoot, "tests", "fixtures", "preview", name);

function scratch(name: string, text: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "policy-check-"));
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
}

const fixtureFiles = (prefix: string) =>
    fs.readdirSync(path.join(repoRoot, fixtures), { recursive: true, encoding: "utf8" }).filter((f) => path.basename(f).startsWith(prefix) && f.endsWith(".yaml"));

/**
 * A folder holding Pulumi.staging.yaml plus the keys tests/fixtures/stacks/cli-secrets.staging.yaml
 * holds: destinations and repository credentials whose tokens `pulumi config set --secret --path`
 * wrote (`{ secure: … }` under the map). `plain`: the same with the tokens written without
 * `--secret` (all of them, or only `west`'s: a map mixing both).
 */
export function stackWithCliSecrets(tokens: "secret" | "plain" | "one plain" = "secret"): { root: string; file: string } {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "stack-secrets-"));
    const staging = fs.readFileSync(path.join(repoRoot, "Pulumi.staging.yaml"), "utf8");
    let keys = fs.readFileSync(path.join(repoRoot, "tests", "fixtures", "stacks", "cli-secrets.staging.yaml"), "utf8").split("config:\n")[1];
    if (tokens === "plain") keys = keys.replace(/\n {6}secure: v1:[^\n]+/g, " plain-token");
    if (tokens === "one plain") keys = keys.replace(/(\n {4}west:)\n {6}secure: v1:[^\n]+/, "$1 plain-token");
    const file = path.join(root, "Pulumi.staging.yaml");
    fs.writeFileSync(file, staging.replace(/^encryptionsalt:/m, `${keys}encryptionsalt:`));
    return { root, file };
}

/** `npm run policy:check -- <args>`, run from the repository root. */
export function policyCheckCases(policyCheck: (...args: string[]) => Promise<CommandResult>): void {
    it("prod mode on the fixtures: a table of findings, and exit 1 because some are denied", async () => {
        const r = await policyCheck(fixtures, "--mode", "prod");
        assert.equal(r.status, 1, r.stderr);
        const lines = r.stdout.split("\n");
        assert.match(lines[0], /^OBJECT\s+RULE\s+VERDICT\s+MESSAGE$/);
        assert.ok(
            lines.some((l) => /^Deployment guardrails-fixtures\/cap-bad-over-cap\s+cap-replicas\s+Deny\s+replicas 21 exceeds the cap of 20: /.test(l)),
            "the over-cap Deployment is denied with its message",
        );
        assert.ok(
            lines.some((l) => /^Deployment guardrails-fixtures\/img-good-tag\s+all 9 rules\s+Allow$/.test(l)),
            "a compliant object gets one Allow row",
        );
        // Requests are CREATEs by who writes the kind (Argo CD's controller for workloads), so the writer rule's fixtures pass, and of the namespace-relabelling
        // fixtures (UPDATEs of a prod namespace) only the one a CREATE can show: a prod namespace that also says env=preview;
        // Application deletions are DELETEs (as CREATEs they are compliant Applications).
        // Argo CD's own objects are written by the program: its AppProject writes pass, and of a governed Application's
        // inputs only the ignoreDifferences allow-list binds it; namespace deletions are DELETEs.
        const bad = fixtureFiles("bad-").filter(
            (f) =>
                !f.startsWith("restrict-workload-writers") &&
                !f.startsWith("govern-app-projects") &&
                !f.startsWith("keep-governed-namespaces") &&
                (!f.startsWith("protect-application-inputs") || path.basename(f).startsWith("bad-ignore-")) &&
                !/^protect-sync-policy\/bad-.*-delete\.yaml$/.test(f) &&
                // An expiry set or moved is the program's to write: as its CREATE, a pause with an expiry passes.
                !/^protect-sync-policy\/bad-(break-glass-moves-expiry|human-pauses-with-expiry)\.yaml$/.test(f) &&
                (!f.startsWith("protect-namespace-labels") || f.endsWith("bad-prod-also-preview.yaml")),
        );
        // ...and two good fixtures are denied: the HPA controller's scale to 40, which as Argo CD's controller is over the cap.
        assert.ok(lines.some((l) => /^Scale guardrails-fixtures\/cap-scale-hpa\s+cap-replicas\s+Deny\s/.test(l)));
        // ...and the program's privileged namespace, which as Argo CD's controller (the CREATE default for a Namespace) is refused.
        assert.ok(lines.some((l) => /^Namespace rnps-good-program-privileged\s+require-namespace-pod-security\s+Deny\s/.test(l)));
        // ...and the Argo CD namespace's good fixtures (the program's Deployment and Secret, the Redis secret init's Secret),
        // which as Argo CD's controller are refused by govern-argocd-namespace: it may not write its own namespace.
        const argoGood = ["argocd-good-program-deployment", "argocd-good-program-secret", "argocd-redis"];
        assert.equal(fixtureFiles("good-").filter((f) => f.startsWith("govern-argocd-namespace")).length, argoGood.length);
        for (const name of argoGood)
            assert.ok(
                lines.some((l) => new RegExp(`^\\S+ argocd/${name}\\s+govern-argocd-namespace\\s+Deny\\s`).test(l)),
                name,
            );
        // ...and the program's break-glass labels, which as Argo CD's controller (the CREATE default for a Namespace) are refused.
        const breakGlassGood = ["pbl-good-program-opens", "pbl-good-program-creates"];
        for (const name of breakGlassGood)
            assert.ok(
                lines.some((l) => new RegExp(`^Namespace ${name}\\s+protect-break-glass-label\\s+Deny\\s`).test(l)),
                name,
            );
        const denied = bad.length + 2 + argoGood.length + breakGlassGood.length;
        assert.equal(lines.filter((l) => /\sDeny\s/.test(l)).length, denied);
        // Stored objects (the start of UPDATE cases) are manifests too.
        const objects = fixtureFiles("good-").length + fixtureFiles("bad-").length + fixtureFiles("stored-").length;
        assert.match(r.stdout, new RegExp(`^${objects} objects, prod mode: \\d+ rule checks, ${denied} denied, 0 warned, \\d+ admitted$`, "m"));
        assert.match(r.stdout, /skipped 20 documents that are not a Kubernetes object: .*expectations\.yaml/);
    });

    it("staging mode warns instead of denying and exits 0", async () => {
        const r = await policyCheck(fixtures, "--mode=staging");
        assert.equal(r.status, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /\sDeny\s/);
        assert.match(r.stdout, /^Deployment guardrails-fixtures\/img-bad-latest\s+disallow-latest-image\s+Warn\s+images must carry /m);
    });

    it("--rules narrows the check; compliant manifests exit 0 in prod", async () => {
        const r = await policyCheck(path.join(fixtures, "disallow-latest-image"), "--rules", "cap-replicas");
        assert.equal(r.status, 0, r.stdout);
        assert.doesNotMatch(r.stdout, /disallow-latest-image\s+Deny/);
        assert.match(r.stdout, /all 1 rule\s+Allow/);
    });

    it("--verbose lists every rule that applies", async () => {
        const r = await policyCheck(path.join(fixtures, "cap-replicas", "good-at-cap.yaml"), "--verbose");
        assert.equal(r.status, 0);
        assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("Deployment guardrails-fixtures/cap-good-at-cap")).length, 9);
    });

    it("reads multi-document files and reports every object", async () => {
        const good = fs.readFileSync(path.join(repoRoot, fixtures, "cap-replicas", "good-at-cap.yaml"), "utf8");
        const bad = fs.readFileSync(path.join(repoRoot, fixtures, "disallow-latest-image", "bad-untagged.yaml"), "utf8");
        const r = await policyCheck(scratch("app.yaml", `${good}---\n${bad}---\n# an empty document\n`));
        assert.equal(r.status, 1);
        assert.match(r.stdout, /cap-good-at-cap\s+all 9 rules\s+Allow/);
        assert.match(r.stdout, /img-bad-untagged\s+disallow-latest-image\s+Deny\s+images must carry a version tag other than latest, or a digest \(@sha256:…\): web=nginx /);
        assert.match(r.stdout, /^2 objects, prod mode/m);
    });

    it("--stack reads namespace labels from the manifests: an Application's managedNamespaceMetadata governs its namespace, an unlabelled one is reported", async () => {
        const deployment = fs.readFileSync(path.join(repoRoot, fixtures, "cap-replicas", "bad-over-cap.yaml"), "utf8");
        const app = [
            "apiVersion: argoproj.io/v1alpha1",
            "kind: Application",
            "metadata: {name: shop-prod, namespace: argocd, labels: {gitops-control.io/environment: prod}}",
            "spec:",
            "  project: shop",
            "  destination: {server: https://kubernetes.default.svc, namespace: shop-prod}",
            "  syncPolicy:",
            "    automated: {enabled: true, prune: true, selfHeal: true, allowEmpty: false}",
            "    managedNamespaceMetadata: {labels: {gitops-control.io/environment: prod, pod-security.kubernetes.io/enforce: restricted}}",
        ].join("\n");
        const governed = deployment.replace("namespace: guardrails-fixtures", "namespace: shop-prod");
        const r = await policyCheck(scratch("stack.yaml", `${app}\n---\n${governed}---\n${deployment}`), "--stack", "prod");
        assert.equal(r.status, 1, r.stdout + r.stderr);
        assert.match(r.stdout, /^Deployment shop-prod\/cap-bad-over-cap\s+cap-replicas\s+Deny\s+replicas 21 exceeds the cap of 20/m);
        assert.match(r.stdout, /^Deployment guardrails-fixtures\/cap-bad-over-cap\s+-\s+-\s+no guardrail applies \(namespace not governed\)$/m);
        assert.match(r.stdout, /3 objects, stack prod \(prod mode\)/);
    });

    it("--as/--as-group/--operation ask whether a person's write would be denied", async () => {
        const good = path.join(fixtures, "cap-replicas", "good-at-cap.yaml");
        const human = await policyCheck(good, "--as", "alice@example.com", "--as-group", "developers", "--operation", "UPDATE");
        assert.equal(human.status, 1);
        assert.match(human.stdout, /restrict-workload-writers\s+Deny\s+alice@example\.com may not UPDATE deployments cap-good-at-cap/);
        const breakGlass = await policyCheck(good, "--as", "bob@example.com", "--as-group", "gitops-control:break-glass", "--operation", "UPDATE");
        assert.equal(breakGlass.status, 0, breakGlass.stdout);
        assert.match((await policyCheck(good, "--as-group", "developers")).stderr, /--as-group needs --as <user>/);
        assert.match((await policyCheck(good, "--stack", "qa")).stderr, /--stack is "qa": use prod or staging/);
    });

    it("exits 2 with a clear message on bad arguments or broken YAML", async () => {
        const unknown = await policyCheck(fixtures, "--rules", "no-such-rule");
        assert.equal(unknown.status, 2);
        assert.match(unknown.stderr, /unknown rule no-such-rule: use one of require-pod-security-context, /);
        assert.match((await policyCheck(fixtures, "--mode", "qa")).stderr, /--mode is "qa": use prod or staging/);
        assert.match((await policyCheck()).stderr, /name at least one manifest file or folder/);
        const broken = await policyCheck(scratch("broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n"));
        assert.equal(broken.status, 2);
        assert.match(broken.stderr, /broken\.yaml:\d+:\d+: /);
    });

    it("refuses input without a Kubernetes object instead of reporting 0 denied", async () => {
        const notManifests = path.dirname(scratch("values.yaml", "replicaCount: 3\nimage: {tag: latest}\n"));
        const emptyFolder = fs.mkdtempSync(path.join(os.tmpdir(), "policy-check-empty-"));
        for (const target of [notManifests, emptyFolder, path.join(fixtures, "cap-replicas", "expectations.yaml")]) {
            const r = await policyCheck(target, "--mode", "prod");
            assert.equal(r.status, 2, `${target}: ${r.stdout}`);
            assert.equal(r.stdout, "");
            assert.match(r.stderr, /^policy:check: .* holds no Kubernetes object \(no YAML or JSON document with apiVersion and kind\), so there is nothing to check\. Fix: /);
            assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        }
    });

    it("a missing file or an unknown option: one line with the fix or the usage, exit 2", async () => {
        const missing = await policyCheck("no-such-dir/rendered.yaml");
        assert.equal(missing.status, 2);
        assert.equal(
            missing.stderr,
            "policy:check: no-such-dir/rendered.yaml does not exist. Fix: name a manifest file or folder, e.g. the output of npm run --silent render -- staging > rendered.yaml\n",
        );
        for (const args of [
            [fixtures, "--sttack", "prod"],
            [fixtures, "--mode"],
            ["--mode", "prod"],
        ]) {
            const r = await policyCheck(...args);
            assert.equal(r.status, 2, args.join(" "));
            assert.match(r.stderr, /^policy:check: .*; usage: npm run policy:check -- <file\|dir>\.\.\. /, args.join(" "));
            assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        }
        assert.match((await policyCheck(fixtures, "--sttack", "prod")).stderr, /unknown option --sttack; usage/);
    });
}

/** `npm run prune-budget -- <args>` with PRUNE_BUDGET_APPROVED from `env` (empty unless given). */
export function pruneBudgetCases(pruneCli: (args: string[], env?: Record<string, string>) => Promise<{ code: number | null; out: string }>): void {
    it("the command fails over budget, lists the deletes, and passes with the approval", async () => {
        const over = await pruneCli(["staging", "--preview-json", previewFixture("remove-service.json")]);
        assert.equal(over.code, 1, over.out);
        assert.match(over.out, /Prune budget: 5 delete\/replace\(s\), budget 3\./);
        assert.match(over.out, /delete\s+kubernetes:argoproj.io\/v1alpha1:Application\s+checkout-staging-app/);
        assert.match(over.out, /Over budget: .*prune-approved/);
        const approved = await pruneCli(["staging", "--preview-json", previewFixture("remove-service.json")], { PRUNE_BUDGET_APPROVED: "true" });
        assert.equal(approved.code, 0, approved.out);
        assert.match(approved.out, /approved by label/);
        assert.equal((await pruneCli(["staging", "--preview-json", previewFixture("no-changes.json")])).code, 0);
        assert.equal((await pruneCli(["staging", "--preview-json", previewFixture("remove-service.json"), "--budget", "10"])).code, 0);
    });

    it("reads the steps from the PR preview's event log: the same verdict as from `--json`", async () => {
        const over = await pruneCli(["staging", "--event-log", previewFixture("remove-service.events.jsonl")]);
        assert.equal(over.code, 1, over.out);
        assert.match(over.out, /Prune budget: 5 delete\/replace\(s\), budget 3\./);
        assert.match(over.out, /delete\s+kubernetes:argoproj.io\/v1alpha1:Application\s+checkout-staging-app/);
        assert.equal((await pruneCli(["staging", "--event-log", previewFixture("no-changes.events.jsonl")])).code, 0);
        const truncated = scratch("events.jsonl", fs.readFileSync(previewFixture("remove-service.events.jsonl"), "utf8").split("\n").slice(0, 6).join("\n"));
        const stopped = await pruneCli(["staging", "--event-log", truncated]);
        assert.equal(stopped.code, 2, stopped.out);
        assert.match(stopped.out, /the event log has no summary: the preview did not finish/);
    });

    it("rejects bad input with exit code 2", async () => {
        assert.equal((await pruneCli(["staging", "--preview-json", previewFixture("remove-service.json"), "--budget", "-1"])).code, 2);
        const notJson = await pruneCli(["staging", "--preview-json", path.join(repoRoot, "package.json")]);
        assert.equal(notJson.code, 2);
        assert.match(notJson.out, /not `pulumi preview --json` output/);
        const notEvents = await pruneCli(["staging", "--event-log", path.join(repoRoot, "package.json")]);
        assert.equal(notEvents.code, 2);
        assert.match(notEvents.out, /not a `pulumi preview --event-log` file: line 1 is not/);
        const notJsonAtAll = await pruneCli(["staging", "--preview-json", path.join(repoRoot, "README.md")]);
        assert.equal(notJsonAtAll.code, 2);
        assert.match(notJsonAtAll.out, /^prune-budget: --preview-json \S+README\.md is not JSON, so not `pulumi preview --json` output\. Fix: /);
    });

    it("a missing file, an unknown option or a stack without a stack file: one line, exit 2, nothing created", async () => {
        const missing = await pruneCli(["staging", "--event-log", "no-such-events.jsonl"]);
        assert.equal(missing.code, 2);
        assert.equal(
            missing.out.trimEnd(),
            "prune-budget: --event-log no-such-events.jsonl does not exist. Fix: write it with `PULUMI_DEBUG_COMMANDS=true pulumi preview --stack <stack> --event-log <file>`",
        );
        const unknown = await pruneCli(["staging", "--event-log", previewFixture("no-changes.events.jsonl"), "--aproved"]);
        assert.equal(unknown.code, 2);
        assert.match(unknown.out, /^prune-budget: unknown option --aproved; usage: npm run prune-budget -- <stack> /);
        const typo = await pruneCli(["stagin", "--event-log", previewFixture("no-changes.events.jsonl")]);
        assert.equal(typo.code, 2);
        assert.equal(
            typo.out.trimEnd(),
            'prune-budget: no stack "stagin" (no Pulumi.stagin.yaml): the stacks here are local, local-crds, prod, prod-crds, staging, staging-crds. Fix: npm run prune-budget -- <one of them> --event-log events.jsonl',
        );
        // Without a file the command would preview the stack itself: a typo must not reach the engine.
        assert.equal((await pruneCli(["stagin"])).code, 2);
        assert.ok(!fs.existsSync(path.join(repoRoot, "Pulumi.stagin.yaml")));
        for (const out of [missing.out, unknown.out, typo.out]) assert.doesNotMatch(out.trimEnd(), /\n|ENOENT|\s{4}at /);
    });
}

/** `npm run render -- <stack>`: the YAML it prints; rejects (message includes stderr) on failure. */
export function renderCases(render: (stack?: string) => Promise<string>): void {
    let output: string;
    let docs: { kind: string; metadata: { name: string }; stringData?: Record<string, string> }[];
    before(async () => {
        output = await render("staging");
        docs = parseAllDocuments(output).map((d) => d.toJS() as (typeof docs)[number]);
    });

    it("prints every Kubernetes object of the stack as YAML", () => {
        const kinds = docs.map((d) => `${d.kind}/${d.metadata.name}`);
        for (const expected of [
            "Namespace/argocd",
            "Secret/argocd-secret",
            "AppProject/payments-api",
            "Application/payments-api-staging",
            "ApplicationSet/payments-api-previews",
            "ValidatingAdmissionPolicy/gitops-control-require-pod-security-context",
            "ValidatingAdmissionPolicyBinding/gitops-control-cap-replicas-staging",
        ]) {
            assert.ok(kinds.includes(expected), `${expected} in ${kinds.join(", ")}`);
        }
        assert.match(output, /^# Helm chart gitops-argocd-chart: argo-cd 10\.1\.1/);
    });

    it("redacts every secret value", () => {
        const secrets = docs.filter((d) => d.kind === "Secret");
        assert.equal(secrets.length, 3);
        for (const s of secrets) {
            assert.ok(
                Object.values(s.stringData ?? {}).every((v) => v === "[secret]"),
                `${s.metadata.name} redacted`,
            );
        }
        assert.doesNotMatch(output, /mock-password|mockhash|<secret gitops-control:githubToken>/);
    });

    it("fails with a usage message without a stack", async () => {
        await assert.rejects(render(), /usage: npm run --silent render/);
    });

    it("refuses a stack that has no stack file, naming the stacks, and creates nothing", async () => {
        await assert.rejects(
            render("stagin"),
            /no stack "stagin" \(no Pulumi\.stagin\.yaml\): the stacks here are local, local-crds, prod, prod-crds, staging, staging-crds\. Fix: /,
        );
        assert.ok(!fs.existsSync(path.join(repoRoot, "Pulumi.stagin.yaml")));
    });

    it("renders a stack whose destination and repository tokens `pulumi config set --secret --path` wrote, redacted", async () => {
        const out = await render(stackWithCliSecrets().file);
        const rendered = parseAllDocuments(out).map((d) => d.toJS() as (typeof docs)[number] & { metadata: { labels?: Record<string, string> } });
        const byType = (type: string) => rendered.filter((d) => d.kind === "Secret" && d.metadata.labels?.["argocd.argoproj.io/secret-type"] === type).map((d) => d.metadata.name);
        assert.deepEqual(byType("cluster"), ["cluster-east", "cluster-west"]);
        assert.deepEqual(byType("repo-creds"), ["repo-creds-acme"]);
        for (const d of rendered.filter((r) => r.kind === "Secret"))
            assert.ok(
                Object.values(d.stringData ?? {}).every((v) => v === "[secret]"),
                d.metadata.name,
            );
        assert.doesNotMatch(out, /v1:[A-Za-z0-9+/]{8,}|<secret /);
    });

    it("still refuses destination tokens stored in plain text, all of them or one", async () => {
        for (const variant of ["plain", "one plain"] as const) {
            await assert.rejects(
                render(stackWithCliSecrets(variant).file),
                /`gitops-control:destinationTokens` is stored in plain text in the stack file\. Fix: remove it and run `pulumi config set --secret --path 'gitops-control:destinationTokens\.<name>' <value>`/,
                variant,
            );
        }
    });
}

/**
 * policy:check --stack and prune-budget on a stack whose tokens the CLI wrote as secrets: in-process
 * (the commands read the stack files of `root`; the processes read the repository's).
 */
export function stackSecretCases(commands: {
    policyCheck(root: string, ...args: string[]): Promise<CommandResult>;
    pruneBudget(root: string, ...args: string[]): Promise<{ code: number | null; out: string }>;
}): void {
    it("policy:check --stack and prune-budget read a stack whose tokens `pulumi config set --secret --path` wrote", async () => {
        const { root } = stackWithCliSecrets();
        const manifests = path.join(fixtures, "cap-replicas");
        const checked = await commands.policyCheck(root, manifests, "--stack", "staging");
        assert.equal(checked.status, 0, checked.stderr);
        assert.match(checked.stdout, /stack staging \(staging mode\)/);
        const pruned = await commands.pruneBudget(root, "staging", "--preview-json", previewFixture("remove-service.json"));
        assert.equal(pruned.code, 1, pruned.out);
        assert.match(pruned.out, /Prune budget: 5 delete\/replace\(s\), budget 3\./);
    });
}
