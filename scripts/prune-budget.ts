/**
 * Prune budget, a PR check: fails when a change would delete or replace more resources than the
 * stack's budget (`gitops-control:pruneBudget`, default 3), unless the PR is approved for it (the
 * `prune-approved` label, which the workflow passes as PRUNE_BUDGET_APPROVED=true or --approved).
 * Prints what would be deleted either way.
 *
 *   npm run prune-budget -- <stack> --preview-json preview.json   from `pulumi preview --json`
 *   npm run prune-budget -- <stack>                                runs the preview itself
 *   options: --budget N (overrides the stack's), --approved
 *
 * Exit codes: 0 within budget (or approved), 1 over budget, 2 error.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { ResourceStep, openStack, repoRoot, stepRecorder } from "./lib/engine";
import { formatPruneReport, pruneVerdict, stepsFromPreviewJson } from "./lib/drift";
import { readStackFile } from "./lib/mockRuntime";
import { decodeConfig, parseStackConfig } from "../stacks/config";

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

async function main(): Promise<number> {
    const args = process.argv.slice(2);
    const stackName = args.find((a, i) => !a.startsWith("--") && !["--preview-json", "--budget"].includes(args[i - 1] ?? ""));
    if (!stackName) {
        console.error("usage: npm run prune-budget -- <stack> [--preview-json file] [--budget N] [--approved]");
        return 2;
    }
    const budgetArg = option(args, "--budget");
    const budget = budgetArg !== undefined ? Number(budgetArg) : stackBudget(stackName);
    if (!Number.isInteger(budget) || budget < 0) {
        console.error(`--budget is "${budgetArg}": use a whole number ≥ 0`);
        return 2;
    }
    const approved = args.includes("--approved") || process.env.PRUNE_BUDGET_APPROVED === "true";
    const previewFile = option(args, "--preview-json");
    let steps: ResourceStep[];
    if (previewFile) {
        steps = stepsFromPreviewJson(JSON.parse(fs.readFileSync(previewFile, "utf8")));
    } else {
        const recorder = stepRecorder();
        await (await openStack({ stackName })).preview({ onEvent: recorder.onEvent });
        steps = recorder.steps;
    }
    const verdict = pruneVerdict(steps, budget, approved);
    console.log(formatPruneReport(verdict));
    return verdict.ok ? 0 : 1;
}

if (require.main === module) {
    main().then(
        (code) => process.exit(code),
        (error: Error) => {
            console.error(`prune budget check failed: ${error.message}`);
            process.exit(2);
        },
    );
}
