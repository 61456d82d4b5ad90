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
import { engineFailure, openStack } from "../lib/engine";

const usage = "usage: tsx scripts/commands/run-local.ts up|destroy [stack]";

async function main(action: string, stackName: string): Promise<void> {
    const stack = await openStack({ stackName });
    const onOutput = (out: string) => process.stdout.write(out);
    if (action === "destroy") {
        await stack.destroy({ onOutput });
        return;
    }
    await stack.preview({ onOutput });
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
        throw error;
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
    // The engine already streamed its output: print the error once, as its message (a config error
    // without a stack trace), not the whole command transcript again.
    console.error(engineFailure(error, line.stackName));
    process.exit(1);
});
