/**
 * The npm-script commands as real processes (argv, exit codes, stdout/stderr): the same cases the
 * unit tests run in-process (tests/support/cliCases.ts). Needs no toolchain, only `tsx`.
 */
import { execFile, spawn } from "node:child_process";
import * as path from "node:path";
import { describe } from "node:test";
import { promisify } from "node:util";
import { CommandResult, policyCheckCases, pruneBudgetCases, renderCases, repoRoot } from "../support/cliCases";

const tsx = path.join(repoRoot, "node_modules", ".bin", "tsx");

function run(command: string, args: readonly string[], env: Record<string, string> = {}): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
}

describe("npm run policy:check (process)", () => {
    policyCheckCases((...args) => run(tsx, ["scripts/policy-check.ts", ...args]));
});

describe("npm run prune-budget (process)", () => {
    pruneBudgetCases(async (args, env = {}) => {
        const r = await run(process.execPath, ["--import", "tsx", path.join(repoRoot, "scripts", "prune-budget.ts"), ...args], { PRUNE_BUDGET_APPROVED: "", ...env });
        return { code: r.status, out: r.stdout + r.stderr };
    });
});

describe("npm run render (process)", () => {
    renderCases(async (stack) => {
        const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", path.join(repoRoot, "scripts", "render.ts"), ...(stack ? [stack] : [])], {
            cwd: repoRoot,
            encoding: "utf8",
            maxBuffer: 1 << 26,
        });
        return stdout;
    });
});
