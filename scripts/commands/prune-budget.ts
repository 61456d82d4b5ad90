/**
 * Prune budget, a PR check: fails when a change would delete or replace more resources than the
 * stack's budget (`gitops-control:pruneBudget`, default 3), unless the PR is approved for it (the
 * `prune-approved` label, which the workflow passes as PRUNE_BUDGET_APPROVED=true or --approved).
 * Prints what would be deleted either way.
 *
 *   npm run prune-budget -- <stack> --event-log events.jsonl       from `PULUMI_DEBUG_COMMANDS=true pulumi preview
 *                                                                  --stack <stack> --event-log events.jsonl` (PR check:
 *                                                                  the same preview as the comment and the policy pack)
 *   npm run prune-budget -- <stack> --preview-json preview.json   from `pulumi preview --stack <stack> --json`
 *   npm run prune-budget -- <stack>                                runs the preview itself (an existing stack only;
 *                                                                  PULUMI_BACKEND_URL, PULUMI_CONFIG_PASSPHRASE, KUBECONFIG)
 *   options: --budget N (overrides the stack's), --approved
 *
 * With a file it needs no backend, passphrase or cluster: the budget is read from the stack file,
 * whose secrets are never decrypted. Exit codes: 0 within budget (or approved), 1 over budget, 2 bad
 * input (one line: unknown option, missing file, a stack without a stack file) or error.
 */
import { ResourceStep, openStack, stepRecorder, stepsFromEventLog } from "../lib/engine";
import { UsageError, parseCommandLine, readInputFile, repoRoot, stackFile } from "../lib/commandLine";
import { formatPruneReport, pruneVerdict, stepsFromPreviewJson } from "../lib/drift";
import { readStackFile } from "../lib/mockRuntime";
import { decodeConfig, parseStackConfig } from "../../stacks/config";

const usage = "usage: npm run prune-budget -- <stack> [--event-log file | --preview-json file] [--budget N] [--approved]";

/** The stack's configured budget, read from its stack file (never decrypted: secrets are not needed). */
export function stackBudget(stackName: string, root: string = repoRoot): number {
    const file = readStackFile(stackFile(stackName, "npm run prune-budget -- <stack> --event-log events.jsonl", root));
    const raw = decodeConfig(file.config, file.secretKeys);
    return parseStackConfig(raw).pruneBudget;
}

/** Where the command writes (the unit tests capture it in-process). */
export interface Io {
    out(line: string): void;
    err(line: string): void;
}

/** The command: exit code 0 within budget or approved, 1 over budget, 2 bad input. `root`: where the stack files are. */
export async function runPruneBudget(
    args: readonly string[],
    env: NodeJS.ProcessEnv = process.env,
    io: Io = { out: console.log, err: console.error },
    root: string = repoRoot,
): Promise<number> {
    try {
        return await pruneBudget(args, env, io, root);
    } catch (error) {
        io.err(`prune-budget: ${(error as Error).message}`);
        return 2;
    }
}

async function pruneBudget(args: readonly string[], env: NodeJS.ProcessEnv, io: Io, root: string): Promise<number> {
    const line = parseCommandLine(args, { values: ["--event-log", "--preview-json", "--budget"], switches: ["--approved"] }, usage);
    const [stackName, ...extra] = line.positionals;
    if (!stackName) throw new UsageError(`name the stack; ${usage}`);
    if (extra.length > 0) throw new UsageError(`one stack at a time, not ${line.positionals.join(" ")}; ${usage}`);
    const eventLog = line.values["--event-log"];
    const previewFile = line.values["--preview-json"];
    if (eventLog && previewFile) throw new UsageError(`give --event-log or --preview-json, not both; ${usage}`);
    const budgetArg = line.values["--budget"];
    const configured = stackBudget(stackName, root);
    const budget = budgetArg !== undefined ? Number(budgetArg) : configured;
    if (!Number.isInteger(budget) || budget < 0) throw new UsageError(`--budget is "${budgetArg}": use a whole number ≥ 0`);
    const approved = line.switches.has("--approved") || env.PRUNE_BUDGET_APPROVED === "true";
    let steps: ResourceStep[];
    if (eventLog) {
        steps = stepsFromEventLog(readInputFile(eventLog, "--event-log", "write it with `PULUMI_DEBUG_COMMANDS=true pulumi preview --stack <stack> --event-log <file>`"));
    } else if (previewFile) {
        const text = readInputFile(previewFile, "--preview-json", "write it with `pulumi preview --stack <stack> --json > <file>`");
        let json: unknown;
        try {
            json = JSON.parse(text);
        } catch {
            throw new UsageError(
                `--preview-json ${previewFile} is not JSON, so not \`pulumi preview --json\` output. Fix: write it with \`pulumi preview --stack <stack> --json > <file>\``,
            );
        }
        steps = stepsFromPreviewJson(json);
    } else {
        const recorder = stepRecorder();
        await (await openStack({ stackName, create: false })).preview({ onEvent: recorder.onEvent });
        steps = recorder.steps;
    }
    const verdict = pruneVerdict(steps, budget, approved);
    io.out(formatPruneReport(verdict));
    return verdict.ok ? 0 : 1;
}

if (require.main === module) {
    void runPruneBudget(process.argv.slice(2)).then((code) => process.exit(code));
}
