import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { runPolicyCheck } from "../../scripts/commands/policy-check";
import { policyCheckCases, repoRoot } from "../support/cliCases";

// In-process: the command's entry point with the same argv. tests/integration/cli.test.ts runs the
// same cases through a real `tsx scripts/commands/policy-check.ts` process.
describe("npm run policy:check", () => {
    it("is wired as an npm script", () => {
        const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> };
        assert.equal(pkg.scripts["policy:check"], "tsx scripts/commands/policy-check.ts");
    });

    policyCheckCases(async (...args) => {
        const r = runPolicyCheck(args);
        return { status: r.code, stdout: r.stdout, stderr: r.stderr };
    });
});
