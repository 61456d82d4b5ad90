/**
 * `pulumi up` / `destroy` of a stack through the Automation API with the program inline (the
 * toolchain built here has no separate Node.js language host). Backend, passphrase and cluster come
 * from the environment, as for the CLI. Used by scripts/commands/run-local.sh.
 *
 *   tsx scripts/commands/run-local.ts up [stack]       preview, then up; prints the outputs (secrets hidden)
 *   tsx scripts/commands/run-local.ts destroy [stack]
 */
import { argoProblems, formatArgoProblems, readApplications } from "../lib/argocdStatus";
import { openStack } from "../lib/engine";

async function main(): Promise<void> {
    const [action = "up", stackName = "local"] = process.argv.slice(2);
    const stack = await openStack({ stackName });
    const onOutput = (out: string) => process.stdout.write(out);
    if (action === "destroy") {
        await stack.destroy({ onOutput });
        return;
    }
    if (action !== "up") {
        throw new Error(`unknown action "${action}": use up or destroy`);
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

main().catch((error: Error) => {
    console.error(error.message);
    process.exit(1);
});
