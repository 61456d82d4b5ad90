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
import { openStack, stepRecorder } from "../lib/engine";
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

async function main(): Promise<number> {
    const args = process.argv.slice(2);
    const stackName = args.find((a) => !a.startsWith("--"));
    if (!stackName) {
        console.error("usage: npm run drift -- <stack> [--json]");
        return 2;
    }
    const stack = await openStack({ stackName });
    const result = await detectDrift(stack, undefined, await argoSourceOf(stack));
    console.log(args.includes("--json") ? JSON.stringify({ pulumi: result.items, argo: result.argo }, null, 2) : result.report);
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
