/**
 * Prints the Kubernetes objects a stack asks for, as multi-document YAML, without a cluster or the
 * Pulumi CLI: `npm run render -- prod` (or a path to a stack file). Secret values are redacted.
 * Reviewers read it; PR checks diff it and feed it to `policy:check`.
 */
import * as path from "node:path";
import { stringify } from "yaml";
import { RecordedResource, readStackFile, renderProgram, repoRoot } from "./lib/mockRuntime";

/** A recorded resource as the Kubernetes object it becomes; secret paths redacted. */
export function toManifest(r: RecordedResource): Record<string, unknown> | undefined {
    const [pkg, module, kind] = r.type.split(":");
    if (pkg !== "kubernetes" || module === "helm.sh/v4") {
        return undefined;
    }
    const inputs = structuredClone(r.inputs);
    for (const secretPath of r.secretPaths) {
        const keys = secretPath.split(".");
        let node: Record<string, unknown> = inputs;
        for (const key of keys.slice(0, -1)) node = node[key] as Record<string, unknown>;
        const last = keys[keys.length - 1];
        const value = node[last];
        node[last] = value && typeof value === "object" ? Object.fromEntries(Object.keys(value).map((k) => [k, "[secret]"])) : "[secret]";
    }
    const [group, version] = module.includes("/") ? module.split("/") : ["", module];
    return { apiVersion: inputs.apiVersion ?? (group === "core" ? version : `${group}/${version}`), kind: inputs.kind ?? kind, ...inputs };
}

const usage = "usage: npm run render -- <stack name | path to Pulumi.<stack>.yaml>";

/** The YAML `npm run render -- <arg>` prints (the unit tests call it in-process). */
export async function renderStack(arg: string | undefined): Promise<string> {
    if (!arg) throw new Error(usage);
    const file = arg.endsWith(".yaml") ? path.resolve(arg) : path.join(repoRoot, `Pulumi.${arg}.yaml`);
    const stack = path.basename(file).replace(/^Pulumi\.|\.yaml$/g, "");
    const { resources } = await renderProgram(stack, readStackFile(file));
    const lines: string[] = [];
    for (const chart of resources.filter((r) => r.type === "kubernetes:helm.sh/v4:Chart")) {
        lines.push(`# Helm chart ${chart.name}: ${chart.inputs.chart} ${chart.inputs.version ?? ""} (rendered by the provider at deploy time)`);
    }
    for (const manifest of resources.map(toManifest)) {
        if (manifest) lines.push(`---\n${stringify(manifest, { lineWidth: 0 }).trimEnd()}`);
    }
    return `${lines.join("\n")}\n`;
}

if (require.main === module) {
    renderStack(process.argv[2]).then(
        (text) => process.stdout.write(text),
        (e: Error) => {
            console.error(e.message);
            process.exit(e.message === usage ? 2 : 1);
        },
    );
}
