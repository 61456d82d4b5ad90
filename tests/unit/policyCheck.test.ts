import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";

const repoRoot = path.join(__dirname, "..", "..");
const fixtures = path.join("tests", "fixtures", "guardrails");
const tsx = path.join(repoRoot, "node_modules", ".bin", "tsx");

/** Runs the command exactly as `npm run policy:check -- <args>` does. */
function policyCheck(...args: string[]) {
    const r = spawnSync(tsx, ["scripts/policy-check.ts", ...args], { cwd: repoRoot, encoding: "utf8" });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function scratch(name: string, text: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "policy-check-"));
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
}

const fixtureFiles = (prefix: string) => fs.readdirSync(fixtures, { recursive: true, encoding: "utf8" }).filter((f) => path.basename(f).startsWith(prefix) && f.endsWith(".yaml"));

describe("npm run policy:check", () => {
    it("is wired as an npm script", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> };
        assert.equal(pkg.scripts["policy:check"], "tsx scripts/policy-check.ts");
    });

    it("prod mode on the fixtures: a table of findings, and exit 1 because some are denied", () => {
        const r = policyCheck(fixtures, "--mode", "prod");
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
        // Requests are CREATEs by Argo CD's controller, so the writer rule's fixtures pass, and of the namespace-relabelling
        // fixtures (UPDATEs of a prod namespace) only the one a CREATE can show: a prod namespace that also says env=preview;
        // Application deletions are DELETEs (as CREATEs they are compliant Applications).
        const bad = fixtureFiles("bad-").filter(
            (f) =>
                !f.startsWith("restrict-workload-writers") &&
                !/^protect-sync-policy\/bad-.*-delete\.yaml$/.test(f) &&
                (!f.startsWith("protect-namespace-labels") || f.endsWith("bad-prod-also-preview.yaml")),
        );
        // ...and one good fixture is denied: the HPA controller's scale to 40, which as Argo CD's controller is over the cap.
        assert.ok(lines.some((l) => /^Scale guardrails-fixtures\/cap-scale-hpa\s+cap-replicas\s+Deny\s/.test(l)));
        const denied = bad.length + 1;
        assert.equal(lines.filter((l) => /\sDeny\s/.test(l)).length, denied);
        const objects = fixtureFiles("good-").length + fixtureFiles("bad-").length;
        assert.match(r.stdout, new RegExp(`^${objects} objects, prod mode: \\d+ rule checks, ${denied} denied, 0 warned, \\d+ admitted$`, "m"));
        assert.match(r.stdout, /skipped 13 documents that are not a Kubernetes object: .*expectations\.yaml/);
    });

    it("staging mode warns instead of denying and exits 0", () => {
        const r = policyCheck(fixtures, "--mode=staging");
        assert.equal(r.status, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /\sDeny\s/);
        assert.match(r.stdout, /^Deployment guardrails-fixtures\/img-bad-latest\s+disallow-latest-image\s+Warn\s+images must carry /m);
    });

    it("--rules narrows the check; compliant manifests exit 0 in prod", () => {
        const r = policyCheck(path.join(fixtures, "disallow-latest-image"), "--rules", "cap-replicas");
        assert.equal(r.status, 0, r.stdout);
        assert.doesNotMatch(r.stdout, /disallow-latest-image\s+Deny/);
        assert.match(r.stdout, /all 1 rule\s+Allow/);
    });

    it("--verbose lists every rule that applies", () => {
        const r = policyCheck(path.join(fixtures, "cap-replicas", "good-at-cap.yaml"), "--verbose");
        assert.equal(r.status, 0);
        assert.equal(r.stdout.split("\n").filter((l) => l.startsWith("Deployment guardrails-fixtures/cap-good-at-cap")).length, 9);
    });

    it("reads multi-document files and reports every object", () => {
        const good = fs.readFileSync(path.join(fixtures, "cap-replicas", "good-at-cap.yaml"), "utf8");
        const bad = fs.readFileSync(path.join(fixtures, "disallow-latest-image", "bad-untagged.yaml"), "utf8");
        const r = policyCheck(scratch("app.yaml", `${good}---\n${bad}---\n# an empty document\n`));
        assert.equal(r.status, 1);
        assert.match(r.stdout, /cap-good-at-cap\s+all 9 rules\s+Allow/);
        assert.match(r.stdout, /img-bad-untagged\s+disallow-latest-image\s+Deny\s+images must carry a version tag other than latest, or a digest \(@sha256:…\): web=nginx /);
        assert.match(r.stdout, /^2 objects, prod mode/m);
    });

    it("--stack reads namespace labels from the manifests: an Application's managedNamespaceMetadata governs its namespace, an unlabelled one is reported", () => {
        const deployment = fs.readFileSync(path.join(fixtures, "cap-replicas", "bad-over-cap.yaml"), "utf8");
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
        const r = policyCheck(scratch("stack.yaml", `${app}\n---\n${governed}---\n${deployment}`), "--stack", "prod");
        assert.equal(r.status, 1, r.stdout + r.stderr);
        assert.match(r.stdout, /^Deployment shop-prod\/cap-bad-over-cap\s+cap-replicas\s+Deny\s+replicas 21 exceeds the cap of 20/m);
        assert.match(r.stdout, /^Deployment guardrails-fixtures\/cap-bad-over-cap\s+-\s+-\s+no guardrail applies \(namespace not governed\)$/m);
        assert.match(r.stdout, /3 objects, stack prod \(prod mode\)/);
    });

    it("--as/--as-group/--operation ask whether a person's write would be denied", () => {
        const good = path.join(fixtures, "cap-replicas", "good-at-cap.yaml");
        const human = policyCheck(good, "--as", "alice@example.com", "--as-group", "developers", "--operation", "UPDATE");
        assert.equal(human.status, 1);
        assert.match(human.stdout, /restrict-workload-writers\s+Deny\s+alice@example\.com may not UPDATE deployments cap-good-at-cap/);
        const breakGlass = policyCheck(good, "--as", "bob@example.com", "--as-group", "gitops-control:break-glass", "--operation", "UPDATE");
        assert.equal(breakGlass.status, 0, breakGlass.stdout);
        assert.match(policyCheck(good, "--as-group", "developers").stderr, /--as-group needs --as <user>/);
        assert.match(policyCheck(good, "--stack", "qa").stderr, /--stack is "qa": use prod or staging/);
    });

    it("exits 2 with a clear message on bad arguments or broken YAML", () => {
        const unknown = policyCheck(fixtures, "--rules", "no-such-rule");
        assert.equal(unknown.status, 2);
        assert.match(unknown.stderr, /unknown rule no-such-rule: use one of require-pod-security-context, /);
        assert.match(policyCheck(fixtures, "--mode", "qa").stderr, /--mode is "qa": use prod or staging/);
        assert.match(policyCheck().stderr, /name at least one manifest file or folder/);
        const broken = policyCheck(scratch("broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: [unclosed\n"));
        assert.equal(broken.status, 2);
        assert.match(broken.stderr, /broken\.yaml:\d+:\d+: /);
    });
});
