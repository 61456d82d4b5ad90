/**
 * Opens a stack of this project for the Automation API with the program inline: the calling Node
 * process serves the language runtime, so the engine needs no separately built Node.js language
 * host. Project settings and `Pulumi.<stack>.yaml` come from the repository.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { CommandError, EngineEvent, LocalWorkspace, PulumiCommand, Stack, StackNotFoundError } from "@pulumi/pulumi/automation";
import { GitOpsConfigError, GitOpsConfigErrors } from "../../components/core/errors";
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
    /**
     * Create the stack in the backend when it has none. Commands that read an existing stack
     * (drift) pass false: a typo must not become a new stack. @default true
     */
    readonly create?: boolean;
    /**
     * The stack's state and the CLI's logs die with the run (tests, benchmarks). Two costs of the
     * CLI v3.259 that only matter for a record that is kept go:
     * - the state is saved once, at the end of each operation, instead of after every step
     *   (`PULUMI_SKIP_CHECKPOINTS`): on the file backend every save marshals, backs up and verifies
     *   the whole state (a first `up` of 334 steps: 21.5 s with them, 5.7 s without; bench/RESULTS.md);
     * - no automatic log: the CLI writes every command's debug log, resource property maps
     *   included, gzip-compressed to `$PULUMI_HOME/logs`, and has no switch for it; it goes on
     *   without one when it cannot create that directory (`pkg/cmd/pulumi/pulumi.go`,
     *   `StartLogging`). The run gets a home of its own whose `logs` is a file, everything else
     *   linked to the real home (bench/FINDINGS.md, finding 7b: ≈ 70 % of the CLI's CPU in a
     *   preview of the Argo CD CRDs).
     * Never for a stack whose state outlives the run: a CLI that dies mid-`up` would leave objects
     * in the cluster that no state records (bench/FINDINGS.md, finding 5). @default false
     */
    readonly disposableState?: boolean;
}

let pinnedCommand: { root: string; command: Promise<PulumiCommand> } | undefined;

let homesWithoutLog: Map<string, string> | undefined;

/**
 * A `PULUMI_HOME` for this process that links every entry of `home` (plugins, workspaces, …)
 * except `logs`, which is a file: the CLI then writes no automatic log (see
 * {@link StackOptions.disposableState}). Made once per process and home; removed at exit.
 */
function homeWithoutAutomaticLog(home: string): string {
    homesWithoutLog ??= new Map();
    const made = homesWithoutLog.get(home);
    if (made) return made;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-pulumi-home-"));
    fs.mkdirSync(home, { recursive: true });
    for (const entry of fs.readdirSync(home)) if (entry !== "logs") fs.symlinkSync(path.join(home, entry), path.join(dir, entry));
    fs.writeFileSync(path.join(dir, "logs"), "A file, so that the Pulumi CLI writes no automatic log here (scripts/lib/engine.ts, disposableState).\n");
    process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
    homesWithoutLog.set(home, dir);
    return dir;
}

/**
 * The pinned CLI the toolchain built (scripts/toolchain/build-pulumi.sh writes its root and home
 * into the env file). The engine route always runs it, whatever `pulumi` comes first on PATH: a
 * normally installed CLI stays the user's `pulumi`, and the tests keep the exact version of
 * @pulumi/pulumi. Without the toolchain's env, the `pulumi` on PATH.
 */
async function pinnedCli(): Promise<{ pulumiCommand?: PulumiCommand; envVars: Record<string, string> }> {
    const root = process.env.GITOPS_CONTROL_PULUMI_ROOT;
    const home = process.env.GITOPS_CONTROL_PULUMI_HOME;
    if (!root) return { envVars: {} };
    // `PulumiCommand.get` runs `pulumi version`: once per process and root.
    if (pinnedCommand?.root !== root) pinnedCommand = { root, command: PulumiCommand.get({ root, skipVersionCheck: true }) };
    return {
        pulumiCommand: await pinnedCommand.command,
        // Its plugins live in its own home; none is taken from PATH (a normal install's differ).
        envVars: { ...(home ? { PULUMI_HOME: home } : {}), PULUMI_IGNORE_AMBIENT_PLUGINS: "true" },
    };
}

/** gRPC's CANCELLED status code (what automation/server.js's `isGrpcError` recognises). */
const grpcCancelled = 1;

/** Config errors of the program's last run, by stack: a failed operation reports them alone (see {@link engineFailure}). */
const configErrors = new Map<string, Error>();

export async function openStack(options: StackOptions): Promise<Stack> {
    const cli = await pinnedCli();
    const envVars: Record<string, string> = {
        ...cli.envVars,
        PULUMI_SKIP_UPDATE_CHECK: "true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
        PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
        ...(options.backendUrl ? { PULUMI_BACKEND_URL: options.backendUrl } : {}),
        ...(options.passphrase ? { PULUMI_CONFIG_PASSPHRASE: options.passphrase } : {}),
        ...(options.kubeconfig ? { KUBECONFIG: options.kubeconfig } : {}),
    };
    if (options.disposableState) {
        envVars.PULUMI_SKIP_CHECKPOINTS = "true";
        envVars.PULUMI_HOME = homeWithoutAutomaticLog(envVars.PULUMI_HOME ?? process.env.PULUMI_HOME ?? path.join(os.homedir(), ".pulumi"));
    }
    const args = {
        stackName: options.stackName,
        projectName: "gitops-control",
        program: async () => {
            // tsx turns source maps on, and the SDK captures a stack trace per resource and per
            // output: mapping them was 38 % of evaluation CPU (bench/RESULTS.md, "Where the
            // time goes"). The program's own errors name the field and the fix; stack positions
            // are not needed to read them.
            process.setSourceMapsEnabled(false);
            configErrors.delete(options.stackName);
            try {
                return await stackProgram(options.configOverrides ?? {}, options.secretOverrides ?? {});
            } catch (error) {
                if (!(error instanceof GitOpsConfigErrors || error instanceof GitOpsConfigError)) throw error;
                // Logged once, as its message. Thrown as it is, the SDK's inline-program server
                // (automation/server.js) prints it twice, as "Unhandled exception" with a stack
                // trace: from its rejection handler and again as the run's error. It does not log
                // an error with a gRPC CANCELLED code, and fails the run because an error was
                // logged. Rejecting (returning would write empty outputs over the stack's last ones
                // in `up`) with a short pointer: the run's error is "One or more errors occurred: …".
                configErrors.set(options.stackName, error);
                await pulumi.log.error(error.message);
                throw Object.assign(new Error("the stack config is invalid (see the error above)"), { code: grpcCancelled });
            }
        },
    };
    const opts = { workDir: repoRoot, envVars, ...(cli.pulumiCommand ? { pulumiCommand: cli.pulumiCommand } : {}) };
    if (options.create === false) {
        try {
            return await LocalWorkspace.selectStack(args, opts);
        } catch (error) {
            if (!(error instanceof StackNotFoundError)) throw error;
            const backend = envVars.PULUMI_BACKEND_URL ?? process.env.PULUMI_BACKEND_URL ?? "the backend of `pulumi whoami`";
            throw new Error(
                `stack "${options.stackName}" has a stack file but no state in ${backend}: it was never deployed there. Fix: point PULUMI_BACKEND_URL at the stack's backend, or run pulumi up first`,
                { cause: error },
            );
        }
    }
    return LocalWorkspace.createOrSelectStack(args, opts);
}

/** The config error of the stack's last program run through {@link openStack}, if it had one. */
export function configErrorOf(stackName: string): Error | undefined {
    return configErrors.get(stackName);
}

/**
 * What a command prints when an engine operation failed: the stack's config error, once and as its
 * message; else the engine's own error lines (not the whole command transcript, which `onOutput`
 * may have streamed already).
 */
export function engineFailure(error: unknown, stackName: string): string {
    const config = configErrors.get(stackName);
    if (config) return config.message;
    if (error instanceof CommandError) {
        // Its message is the transcript ("code: …\n stdout: …\n stderr: …"); keep the error lines.
        const lines = error.message.split("\n").filter((l) => /^\s*error: /.test(l));
        if (lines.length > 0) return [...new Set(lines.map((l) => l.trim()))].join("\n");
    }
    return error instanceof Error ? error.message : String(error);
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
    /** The resource is kept in the cluster when deleted (`retainOnDelete` in its state): a delete only forgets it. */
    readonly retained?: boolean;
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
                ...(meta.old?.retainOnDelete ? { retained: true } : {}),
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
