/**
 * Drift check: `npm run drift -- <stack>` runs `preview --refresh --expect-no-changes` for the stack
 * and prints which resources drifted, which fields, and since when (from the live object's
 * managedFields). Exit codes: 0 no drift, 1 drift, 2 error. `--json` prints the items as JSON.
 *
 * Backend, passphrase and cluster come from the environment (PULUMI_BACKEND_URL,
 * PULUMI_CONFIG_PASSPHRASE, KUBECONFIG), as for any Pulumi command.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { openStack, stepRecorder } from "./lib/engine";
import { DriftItem, driftItems, formatDriftReport } from "./lib/drift";

export interface DriftResult {
    readonly drifted: boolean;
    readonly items: readonly DriftItem[];
    readonly report: string;
}

/** Refreshes and previews the stack; never changes the cluster or the state. */
export async function detectDrift(stack: Stack, onOutput?: (out: string) => void): Promise<DriftResult> {
    const recorder = stepRecorder();
    let drifted = false;
    try {
        await stack.preview({ refresh: true, expectNoChanges: true, diff: true, onEvent: recorder.onEvent, ...(onOutput ? { onOutput } : {}) });
    } catch (error) {
        if (!/no changes were expected/i.test(String(error))) throw error;
        drifted = true;
    }
    const items = driftItems(recorder.steps);
    if (drifted && items.length === 0) {
        throw new Error("the engine reported changes but no resource step was recorded");
    }
    return { drifted, items, report: formatDriftReport(stack.name, items) };
}

async function main(): Promise<number> {
    const args = process.argv.slice(2);
    const stackName = args.find((a) => !a.startsWith("--"));
    if (!stackName) {
        console.error("usage: npm run drift -- <stack> [--json]");
        return 2;
    }
    const result = await detectDrift(await openStack({ stackName }));
    console.log(args.includes("--json") ? JSON.stringify(result.items, null, 2) : result.report);
    return result.drifted ? 1 : 0;
}

if (require.main === module) {
    main().then(
        (code) => process.exit(code),
        (error: Error) => {
            console.error(`drift check failed: ${error.message}`);
            process.exit(2);
        },
    );
}
