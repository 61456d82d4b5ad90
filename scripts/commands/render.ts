/**
 * Prints the Kubernetes objects a stack asks for, as multi-document YAML, without a cluster or the
 * Pulumi CLI: `npm run --silent render -- prod` (or a path to a stack file), or a team's own program:
 * `npm run --silent render -- --program examples/team-service`. Secret values are redacted.
 * Reviewers read it; PR checks diff it and feed it to `policy:check`.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { UsageError, knownStacks, parseCommandLine, stackFile } from "../lib/commandLine";
import { RecordedResource, readStackFile, renderProgram, repoRoot } from "../lib/mockRuntime";

/** A recorded resource as the Kubernetes object it becomes; secret paths redacted. */
export function toManifest(r: RecordedResource): Record<string, unknown> | undefined {
    const [pkg, module, kind] = r.type.split(":");
    // Charts and manifest files are rendered by the provider at deploy time: listed as comments.
    if (pkg !== "kubernetes" || module === "helm.sh/v4" || module === "yaml/v2") {
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
    // A `<Kind>Patch` resource is a server-side-apply patch of a `<Kind>` the program does not own (fields it sets).
    return { apiVersion: inputs.apiVersion ?? (group === "core" ? version : `${group}/${version}`), kind: inputs.kind ?? kind.replace(/Patch$/, ""), ...inputs };
}

const usage = "usage: npm run --silent render -- <stack | path to Pulumi.<stack>.yaml> | --program <dir> [--stack <name>]";

/** What to render: the platform program on a stack file, or a team program directory. */
export function renderTarget(argv: readonly string[]): { stack: string; file: string | undefined; entry: string; project: string } {
    const line = parseCommandLine(argv, { values: ["--program", "--stack"] }, usage);
    const programDir = line.values["--program"];
    if (programDir !== undefined) {
        if (line.positionals.length > 0) throw new UsageError(`give a stack or --program, not both; ${usage}`);
        const dir = path.resolve(programDir);
        const stack = line.values["--stack"] ?? "dev";
        const projectFile = path.join(dir, "Pulumi.yaml");
        if (!fs.existsSync(projectFile)) {
            throw new UsageError(
                `--program needs a Pulumi program directory (with Pulumi.yaml and index.ts), not "${programDir}". Fix: npm run --silent render -- --program examples/team-service`,
            );
        }
        const project = (parse(fs.readFileSync(projectFile, "utf8")) as { name: string }).name;
        const file = path.join(dir, `Pulumi.${stack}.yaml`);
        return { stack, file: fs.existsSync(file) ? file : undefined, entry: path.join(dir, "index.ts"), project };
    }
    if (line.values["--stack"] !== undefined) throw new UsageError(`--stack goes with --program; for this repository's stacks name the stack alone; ${usage}`);
    const [arg, ...extra] = line.positionals;
    if (!arg) throw new UsageError(usage);
    if (extra.length > 0) throw new UsageError(`one stack at a time, not ${line.positionals.join(" ")}; ${usage}`);
    let file: string;
    if (arg.endsWith(".yaml")) {
        file = path.resolve(arg);
        if (!fs.existsSync(file))
            throw new UsageError(
                `no stack file ${arg}: the stacks here are ${knownStacks().join(", ")}. Fix: npm run --silent render -- <stack>, or give the path of a Pulumi.<stack>.yaml`,
            );
    } else {
        file = stackFile(arg, "npm run --silent render -- <stack>, or give the path of a Pulumi.<stack>.yaml");
    }
    return { stack: path.basename(file).replace(/^Pulumi\.|\.yaml$/g, ""), file, entry: path.join(repoRoot, "index.ts"), project: "gitops-control" };
}

/**
 * The YAML `npm run --silent render -- <args>` prints (the unit tests call it in-process). Only YAML
 * goes to stdout (diagnostics go to stderr), so the output can be piped or redirected. `npm run`
 * itself prints a banner to stdout unless `--silent` is given: hence `npm run --silent`.
 */
export async function renderOutput(argv: readonly string[]): Promise<string> {
    const target = renderTarget(argv);
    const stackFile = target.file ? readStackFile(target.file) : { config: {}, secretKeys: [] };
    const { resources } = await renderProgram(target.stack, stackFile, target);
    const lines: string[] = [];
    for (const chart of resources.filter((r) => r.type === "kubernetes:helm.sh/v4:Chart")) {
        lines.push(`# Helm chart ${chart.name}: ${chart.inputs.chart} ${chart.inputs.version ?? ""} (rendered by the provider at deploy time)`);
    }
    for (const group of resources.filter((r) => r.type === "kubernetes:yaml/v2:ConfigGroup")) {
        lines.push(`# Manifests ${group.name}: ${(group.inputs.files as string[] | undefined)?.join(", ") ?? "inline"} (read by the provider at deploy time)`);
    }
    for (const manifest of resources.map(toManifest)) {
        if (manifest) lines.push(`---\n${stringify(manifest, { lineWidth: 0 }).trimEnd()}`);
    }
    return `${lines.join("\n")}\n`;
}

if (require.main === module) {
    renderOutput(process.argv.slice(2)).then(
        (text) => process.stdout.write(text),
        (e: Error) => {
            console.error(`render: ${e.message}`);
            process.exit(1);
        },
    );
}
