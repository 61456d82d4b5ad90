/**
 * Drift check: `npm run drift -- <stack>` runs `preview --refresh --expect-no-changes` for the stack
 * and prints which resources drifted, which fields, and since when (from the live object's
 * managedFields); then what Argo CD says of the Applications: OutOfSync, last sync failed, paused,
 * degraded, with Argo CD's reason. Exit codes: 0 no drift, 1 drift (either layer), 2 error.
 * `--json` prints both lists as JSON.
 *
 * Backend, passphrase and cluster come from the environment (PULUMI_BACKEND_URL,
 * PULUMI_CONFIG_PASSPHRASE, KUBECONFIG), as for any Pulumi command.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { ArgoProblem, argoAndPreviewProblems, formatArgoProblems, readApplicationsSettled, readPreviewNamespaces } from "../lib/argocdStatus";
import { UsageError, parseCommandLine, stackFile } from "../lib/commandLine";
import { engineFailure, openStack, stepRecorder } from "../lib/engine";
import { DriftItem, driftItems, formatDriftReport } from "../lib/drift";

export interface DriftResult {
    readonly drifted: boolean;
    readonly items: readonly DriftItem[];
    /** Applications Argo CD reports out of sync, failed, paused or unhealthy; empty when not asked. */
    readonly argo: readonly ArgoProblem[];
    readonly report: string;
}

/** Where to read Argo CD's Applications for the reconciler half of the report. */
export interface ArgoSource {
    readonly argoNamespace: string;
    /** @default $KUBECONFIG */
    readonly kubeconfig?: string;
    /** Preview namespaces older than this are drift (the janitor's TTL). @default 72 */
    readonly previewTtlHours?: number;
}

/** Refreshes and previews the stack; never changes the cluster or the state. */
export async function detectDrift(stack: Stack, onOutput?: (out: string) => void, argoSource?: ArgoSource): Promise<DriftResult> {
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
    const argo = argoSource
        ? argoAndPreviewProblems(await readApplicationsSettled(argoSource.argoNamespace, argoSource.kubeconfig), readPreviewNamespaces(argoSource.kubeconfig), {
              ttlHours: argoSource.previewTtlHours ?? 72,
          })
        : [];
    const report = [formatDriftReport(stack.name, items), ...(argoSource ? [formatArgoProblems(argo)] : [])].join("\n");
    return { drifted: drifted || argo.length > 0, items, argo, report };
}

/** The stack's Argo CD namespace, from its last `up` (the reconciler half needs the cluster to exist). */
async function argoSourceOf(stack: Stack): Promise<ArgoSource | undefined> {
    const outputs = await stack.outputs();
    const ns = outputs.argocdNamespace?.value;
    const janitor = (await stack.getAllConfig())["gitops-control:previewJanitor"]?.value;
    const ttl = janitor ? (JSON.parse(janitor) as { ttlHours?: number }).ttlHours : undefined;
    return typeof ns === "string" ? { argoNamespace: ns, ...(ttl !== undefined ? { previewTtlHours: ttl } : {}) } : undefined;
}

const usage = "usage: npm run drift -- <stack> [--json]";

/** The command line: the stack (its stack file must exist) and `--json`; a {@link UsageError} otherwise. */
export function driftArgs(argv: readonly string[], root?: string): { stackName: string; json: boolean } {
    const line = parseCommandLine(argv, { switches: ["--json"] }, usage);
    const [stackName, ...extra] = line.positionals;
    if (!stackName) throw new UsageError(`name the stack; ${usage}`);
    if (extra.length > 0) throw new UsageError(`one stack at a time, not ${line.positionals.join(" ")}; ${usage}`);
    stackFile(stackName, "npm run drift -- <stack>", root);
    return { stackName, json: line.switches.has("--json") };
}

async function main(): Promise<number> {
    let args: ReturnType<typeof driftArgs>;
    try {
        args = driftArgs(process.argv.slice(2));
    } catch (error) {
        console.error(`drift: ${(error as Error).message}`);
        return 2;
    }
    try {
        // An existing stack only: drift of a stack that was never deployed means nothing.
        const stack = await openStack({ stackName: args.stackName, create: false });
        const result = await detectDrift(stack, undefined, await argoSourceOf(stack));
        console.log(args.json ? JSON.stringify({ pulumi: result.items, argo: result.argo }, null, 2) : result.report);
        return result.drifted ? 1 : 0;
    } catch (error) {
        console.error(`drift check failed: ${engineFailure(error, args.stackName)}`);
        return 2;
    }
}

if (require.main === module) {
    void main().then((code) => process.exit(code));
}
