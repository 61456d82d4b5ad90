/**
 * `pulumi up` / `destroy` of a stack through the Automation API with the program inline (the
 * toolchain built here has no separate Node.js language host). Backend, passphrase and cluster come
 * from the environment, as for the CLI. Used by scripts/commands/run-local.sh.
 *
 *   tsx scripts/commands/run-local.ts up [stack]       preview, then up; prints the outputs (secrets hidden)
 *   tsx scripts/commands/run-local.ts destroy [stack]
 */
import { argoProblems, formatArgoProblems, readApplications } from "../lib/argocdStatus";
import { UsageError, parseCommandLine, stackFile } from "../lib/commandLine";
import { configErrorOf, engineFailure, openStack } from "../lib/engine";

const usage = "usage: tsx scripts/commands/run-local.ts up|destroy [stack]";

/** An engine failure whose output was already printed: only this one line follows it. */
class AlreadyShown extends Error {}

async function main(action: string, stackName: string): Promise<void> {
    const stack = await openStack({ stackName });
    const onOutput = (out: string) => process.stdout.write(out);
    if (action === "destroy") {
        await stack.destroy({ onOutput }).catch((error: unknown) => {
            throw new AlreadyShown(`destroy of stack ${stackName} failed: see the engine's diagnostics above`, { cause: error });
        });
        return;
    }
    // The preview's output is held back until it ends: a bad stack file then prints its problems
    // once, as the message, not inside the engine's progress lines and diagnostics as well.
    console.log(`[run-local] preview of stack ${stackName}...`);
    let previewOutput = "";
    try {
        await stack.preview({ onOutput: (out) => (previewOutput += out) });
    } catch (error) {
        const config = configErrorOf(stackName);
        if (config) throw new AlreadyShown(config.message, { cause: error });
        process.stdout.write(previewOutput);
        throw new AlreadyShown(`preview of stack ${stackName} failed: see the engine's diagnostics above`, { cause: error });
    }
    process.stdout.write(previewOutput);
    let result;
    try {
        result = await stack.up({ onOutput });
    } catch (error) {
        // With waitForSync on, a timed-out Application is Argo CD's verdict: print Argo CD's reasons.
        const outputs = await stack.outputs().catch(() => ({}) as Awaited<ReturnType<typeof stack.outputs>>);
        const ns = outputs.argocdNamespace?.value;
        if (typeof ns === "string") {
            try {
                console.error(formatArgoProblems(argoProblems(readApplications(ns))));
            } catch {
                // Argo CD not reachable: the engine's error stands alone.
            }
        }
        throw new AlreadyShown(`up of stack ${stackName} failed: see the engine's diagnostics above`, { cause: error });
    }
    console.log("\nOutputs:");
    for (const [name, output] of Object.entries(result.outputs)) {
        console.log(`  ${name}: ${output.secret ? "[secret]" : JSON.stringify(output.value)}`);
    }
}

const line = (() => {
    try {
        const { positionals } = parseCommandLine(process.argv.slice(2), {}, usage);
        const [action = "up", stackName = "local", ...extra] = positionals;
        if (action !== "up" && action !== "destroy") throw new UsageError(`unknown action "${action}": use up or destroy; ${usage}`);
        if (extra.length > 0) throw new UsageError(`one stack at a time; ${usage}`);
        stackFile(stackName, "tsx scripts/commands/run-local.ts up <stack>");
        return { action, stackName };
    } catch (error) {
        console.error((error as Error).message);
        return process.exit(2);
    }
})();

main(line.action, line.stackName).catch((error: unknown) => {
    // Once, as its message (never the engine's whole transcript again, never a stack trace).
    console.error(error instanceof AlreadyShown ? error.message : engineFailure(error, line.stackName));
    process.exit(1);
});
