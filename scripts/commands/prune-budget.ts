/**
 * Prune budget, a PR check: fails when a change would delete or replace more resources than the
 * stack's budget (`gitops-control:pruneBudget`, default 3), unless the PR is approved for it (the
 * `prune-approved` label, which the workflow passes as PRUNE_BUDGET_APPROVED=true or --approved).
 * Prints what would be deleted either way.
 *
 *   npm run prune-budget -- <stack> --event-log events.json        from `pulumi preview --event-log` (PR check:
 *                                                                  the same preview as the comment and the policy pack)
 *   npm run prune-budget -- <stack> --preview-json preview.json   from `pulumi preview --json`
 *   npm run prune-budget -- <stack>                                runs the preview itself
 *   options: --budget N (overrides the stack's), --approved
 *
 * Exit codes: 0 within budget (or approved), 1 over budget, 2 error.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ResourceStep, openStack, repoRoot, stepRecorder, stepsFromEventLog } from "../lib/engine";
import { formatPruneReport, pruneVerdict, stepsFromPreviewJson } from "../lib/drift";
import { readStackFile } from "../lib/mockRuntime";
import { decodeConfig, parseStackConfig } from "../../stacks/config";

/** The stack's configured budget, read from its stack file. */
export function stackBudget(stackName: string): number {
    const file = readStackFile(path.join(repoRoot, `Pulumi.${stackName}.yaml`));
    const raw = decodeConfig(file.config, file.secretKeys);
    return parseStackConfig(raw).pruneBudget;
}

function option(args: readonly string[], name: string): string | undefined {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
}

/** Where the command writes (the unit tests capture it in-process). */
export interface Io {
    out(line: string): void;
    err(line: string): void;
}

/** The command: exit code 0 within budget or approved, 1 over budget, 2 bad input. */
export async function runPruneBudget(args: readonly string[], env: NodeJS.ProcessEnv = process.env, io: Io = { out: console.log, err: console.error }): Promise<number> {
    try {
        return await pruneBudget(args, env, io);
    } catch (error) {
        io.err(`prune budget check failed: ${(error as Error).message}`);
        return 2;
    }
}

async function pruneBudget(args: readonly string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
    const stackName = args.find((a, i) => !a.startsWith("--") && !["--preview-json", "--event-log", "--budget"].includes(args[i - 1] ?? ""));
    if (!stackName) {
        io.err("usage: npm run prune-budget -- <stack> [--event-log file | --preview-json file] [--budget N] [--approved]");
        return 2;
    }
    const budgetArg = option(args, "--budget");
    const budget = budgetArg !== undefined ? Number(budgetArg) : stackBudget(stackName);
    if (!Number.isInteger(budget) || budget < 0) {
        io.err(`--budget is "${budgetArg}": use a whole number ≥ 0`);
        return 2;
    }
    const approved = args.includes("--approved") || env.PRUNE_BUDGET_APPROVED === "true";
    const previewFile = option(args, "--preview-json");
    const eventLog = option(args, "--event-log");
    let steps: ResourceStep[];
    if (eventLog) {
        steps = stepsFromEventLog(fs.readFileSync(eventLog, "utf8"));
    } else if (previewFile) {
        steps = stepsFromPreviewJson(JSON.parse(fs.readFileSync(previewFile, "utf8")));
    } else {
        const recorder = stepRecorder();
        await (await openStack({ stackName })).preview({ onEvent: recorder.onEvent });
        steps = recorder.steps;
    }
    const verdict = pruneVerdict(steps, budget, approved);
    io.out(formatPruneReport(verdict));
    return verdict.ok ? 0 : 1;
}

if (require.main === module) {
    void runPruneBudget(process.argv.slice(2)).then((code) => process.exit(code));
}
