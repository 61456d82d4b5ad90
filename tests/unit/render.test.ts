import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as path from "node:path";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { repoRoot } from "../../scripts/lib/mockRuntime";

const render = (stack: string) => execFileSync(process.execPath, ["--import", "tsx", path.join(repoRoot, "scripts", "render.ts"), stack], { cwd: repoRoot, encoding: "utf8" });

describe("npm run render", () => {
    const output = render("staging");
    const docs = parseAllDocuments(output).map((d) => d.toJS() as { kind: string; metadata: { name: string }; stringData?: Record<string, string> });

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

    it("fails with a usage message without a stack", () => {
        assert.throws(
            () => execFileSync(process.execPath, ["--import", "tsx", path.join(repoRoot, "scripts", "render.ts")], { cwd: repoRoot, stdio: "pipe" }),
            /usage: npm run --silent render/,
        );
    });
});
