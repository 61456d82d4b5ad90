/**
 * Opens a stack of this project for the Automation API with the program inline: the calling Node
 * process serves the language runtime, so the engine needs no separately built Node.js language
 * host. Project settings and `Pulumi.<stack>.yaml` come from the repository.
 */
import * as path from "node:path";
import { EngineEvent, LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { controlPlaneProgram, stackProgram } from "../../stacks/program";

export const repoRoot = path.resolve(__dirname, "..", "..");

export interface StackOptions {
    readonly stackName: string;
    /** `file://…` backend; @default $PULUMI_BACKEND_URL or the CLI's login */
    readonly backendUrl?: string;
    /** @default $PULUMI_CONFIG_PASSPHRASE */
    readonly passphrase?: string;
    /** @default $KUBECONFIG */
    readonly kubeconfig?: string;
    /** Stack config keys (without namespace) replaced for this program run only. @default none */
    readonly configOverrides?: Record<string, unknown>;
    /** Secret maps (`destinationTokens`, `repositorySecrets`) for this program run only; kept secret. @default none */
    readonly secretOverrides?: Parameters<typeof controlPlaneProgram>[1];
}

export async function openStack(options: StackOptions): Promise<Stack> {
    const envVars: Record<string, string> = {
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
        ...(options.backendUrl ? { PULUMI_BACKEND_URL: options.backendUrl } : {}),
        ...(options.passphrase ? { PULUMI_CONFIG_PASSPHRASE: options.passphrase } : {}),
        ...(options.kubeconfig ? { KUBECONFIG: options.kubeconfig } : {}),
    };
    return LocalWorkspace.createOrSelectStack(
        {
            stackName: options.stackName,
            projectName: "gitops-control",
            program: async () => {
                // tsx turns source maps on, and the SDK captures a stack trace per resource and per
                // output: mapping them was 38 % of evaluation CPU (bench/RESULTS.md, "Where the
                // time goes"). The program's own errors name the field and the fix; stack positions
                // are not needed to read them.
                process.setSourceMapsEnabled(false);
                return stackProgram(options.configOverrides ?? {}, options.secretOverrides ?? {});
            },
        },
        { workDir: repoRoot, envVars },
    );
}

/** A resource step of a preview or update, from the engine's event stream. */
export interface ResourceStep {
    readonly op: string;
    readonly urn: string;
    readonly type: string;
    /** Top-level properties that differ (`spec`, `metadata`…), when the engine reports them. */
    readonly diffs: readonly string[];
    /** Property paths that differ, with the kind of change. */
    readonly detailedDiff: Readonly<Record<string, string>>;
    /** The live object after refresh, when known (for "since when" from managedFields). */
    readonly old?: Record<string, unknown>;
    /** A custom (provider-managed) resource; false for components, which own nothing themselves. */
    readonly custom: boolean;
}

/** Collects the resource steps of an operation from `onEvent`. */
export function stepRecorder(): { onEvent: (e: EngineEvent) => void; steps: ResourceStep[] } {
    const steps: ResourceStep[] = [];
    return {
        steps,
        onEvent: (event: EngineEvent) => {
            const meta = event.resourcePreEvent?.metadata;
            if (!meta) return;
            steps.push({
                op: meta.op,
                urn: meta.urn,
                type: meta.type,
                diffs: meta.diffs ?? [],
                detailedDiff: Object.fromEntries(Object.entries(meta.detailedDiff ?? {}).map(([k, v]) => [k, v.diffKind])),
                ...(meta.old?.outputs ? { old: meta.old.outputs as Record<string, unknown> } : {}),
                // The engine omits `custom: false` (components) from its JSON.
                custom: (meta.old ?? meta.new)?.custom === true,
            });
        },
    };
}

/**
 * Steps from the engine event log the CLI writes with `pulumi preview --event-log <file>` (one
 * EngineEvent JSON object per line: the stream the Automation API itself reads), so one preview
 * feeds the PR comment, the policy pack and the prune budget. A log without the final summary is
 * refused: the preview stopped early and the steps are incomplete.
 */
export function stepsFromEventLog(text: string): ResourceStep[] {
    const recorder = stepRecorder();
    let summary = false;
    text.split("\n").forEach((line, i) => {
        if (line.trim() === "") return;
        let event: EngineEvent;
        try {
            event = JSON.parse(line) as EngineEvent;
        } catch {
            throw new Error(`not a \`pulumi preview --event-log\` file: line ${i + 1} is not JSON`);
        }
        if (typeof event !== "object" || event === null || typeof event.sequence !== "number") {
            throw new Error(`not a \`pulumi preview --event-log\` file: line ${i + 1} is not an engine event`);
        }
        summary ||= event.summaryEvent !== undefined;
        recorder.onEvent(event);
    });
    if (!summary) throw new Error("the event log has no summary: the preview did not finish, so its steps are incomplete");
    return recorder.steps;
}
