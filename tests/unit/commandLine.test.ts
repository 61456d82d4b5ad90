/**
 * What the commands do with their command line before any work (scripts/lib/commandLine.ts): one
 * line for an unknown option, a missing value or a stack without a stack file, and never a new
 * stack. The engine commands (drift, run-local) are checked here up to the point where they would
 * open the stack (tests/integration/cli.test.ts runs them as processes); tests/support/cliCases.ts
 * covers render, policy:check and prune-budget.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { driftArgs } from "../../scripts/commands/drift";
import { runPolicyCheck } from "../../scripts/commands/policy-check";
import { runPruneBudget } from "../../scripts/commands/prune-budget";
import { UsageError, parseCommandLine } from "../../scripts/lib/commandLine";
import { readStackFile } from "../../stacks/read";
import { stackSecretCases, stackWithCliSecrets } from "../support/cliCases";

describe("command lines", () => {
    it("parseCommandLine: values (both spellings), switches, positionals; anything else is one line with the usage", () => {
        const line = parseCommandLine(
            ["prod", "--budget", "3", "--event-log=e.jsonl", "--approved"],
            { values: ["--budget", "--event-log"], switches: ["--approved"] },
            "usage: x",
        );
        assert.deepEqual(line.positionals, ["prod"]);
        assert.deepEqual(line.values, { "--budget": "3", "--event-log": "e.jsonl" });
        assert.ok(line.switches.has("--approved"));
        assert.throws(
            () => parseCommandLine(["--frob"], {}, "usage: x"),
            (e: Error) => e instanceof UsageError && e.message === "unknown option --frob; usage: x",
        );
        assert.throws(() => parseCommandLine(["--budget"], { values: ["--budget"] }, "usage: x"), /^UsageError: --budget needs a value; usage: x$/);
        assert.throws(() => parseCommandLine(["--budget", "--approved"], { values: ["--budget"], switches: ["--approved"] }, "usage: x"), /--budget needs a value/);
        assert.throws(() => parseCommandLine(["--approved=yes"], { switches: ["--approved"] }, "usage: x"), /unknown option --approved=yes/);
    });

    it("npm run drift: a stack without a stack file is refused with the stacks there are, before the engine creates it", () => {
        assert.deepEqual(driftArgs(["staging", "--json"]), { stackName: "staging", json: true });
        assert.throws(
            () => driftArgs(["stagin"]),
            (e: Error) =>
                e.message ===
                'no stack "stagin" (no Pulumi.stagin.yaml): the stacks here are local, local-crds, prod, prod-crds, staging, staging-crds. Fix: npm run drift -- <one of them>',
        );
        assert.throws(() => driftArgs(["../prod"]), /no stack "\.\.\/prod"/);
        assert.throws(() => driftArgs(["staging", "--jsn"]), /^UsageError: unknown option --jsn; usage: npm run drift -- <stack> \[--json\]$/);
        assert.throws(() => driftArgs([]), /name the stack; usage: npm run drift/);
        assert.throws(() => driftArgs(["staging", "prod"]), /one stack at a time/);
    });
});

describe("stack files with secrets the CLI wrote", () => {
    it("a map of `--secret --path` entries is one secret key, its ciphertexts replaced by placeholders", () => {
        const { config, secretKeys } = readStackFile(stackWithCliSecrets().file);
        assert.deepEqual(secretKeys.sort(), ["gitops-control:destinationTokens", "gitops-control:githubToken", "gitops-control:repositorySecrets"]);
        assert.deepEqual(JSON.parse(config["gitops-control:destinationTokens"]), {
            east: "<secret gitops-control:destinationTokens.east>",
            west: "<secret gitops-control:destinationTokens.west>",
        });
        assert.equal(config["gitops-control:githubToken"], "<secret gitops-control:githubToken>");
    });

    it("a map with a plain entry is not a secret key (the read step refuses it as plain text)", () => {
        for (const variant of ["plain", "one plain"] as const) {
            const { secretKeys } = readStackFile(stackWithCliSecrets(variant).file);
            assert.ok(!secretKeys.includes("gitops-control:destinationTokens"), variant);
        }
    });

    stackSecretCases({
        policyCheck: async (root, ...args) => {
            const r = runPolicyCheck(args, root);
            return { status: r.code, stdout: r.stdout, stderr: r.stderr };
        },
        pruneBudget: async (root, ...args) => {
            const lines: string[] = [];
            const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
            const code = await runPruneBudget(args, { PRUNE_BUDGET_APPROVED: "" }, io, root);
            return { code, out: lines.join("\n") };
        },
    });
});
