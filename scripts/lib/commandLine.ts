/**
 * What every command does with its command line before any work: options it does not know, a
 * missing value, a stack that has no stack file, a file that is not there. Each is refused with one
 * line that says what was wrong and how to call the command, never a stack trace, never by creating
 * something (a stack, a `Pulumi.<typo>.yaml`) the user did not ask for.
 */
import * as fs from "node:fs";
import * as path from "node:path";

export const repoRoot = path.resolve(__dirname, "..", "..");

/** Bad input on the command line: the message is the whole report (one line, no stack trace). */
export class UsageError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "UsageError";
    }
}

/** The options a command takes: those with a value (`--budget 3`, `--budget=3`) and switches (`--json`). */
export interface OptionSpec {
    readonly values?: readonly string[];
    readonly switches?: readonly string[];
}

export interface CommandLine {
    readonly positionals: readonly string[];
    /** Last value of each value option given. */
    readonly values: Readonly<Record<string, string>>;
    readonly switches: ReadonlySet<string>;
}

/** Splits argv by the spec; an unknown option or a missing value is a {@link UsageError} that quotes `usage`. */
export function parseCommandLine(argv: readonly string[], spec: OptionSpec, usage: string): CommandLine {
    const positionals: string[] = [];
    const values: Record<string, string> = {};
    const switches = new Set<string>();
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (!arg.startsWith("-") || arg === "-") {
            positionals.push(arg);
            continue;
        }
        const eq = arg.indexOf("=");
        const [flag, inline] = arg.startsWith("--") && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
        if (spec.values?.includes(flag)) {
            const value = inline ?? argv[++i];
            if (value === undefined || value === "" || (inline === undefined && value.startsWith("--"))) throw new UsageError(`${flag} needs a value; ${usage}`);
            values[flag] = value;
        } else if (spec.switches?.includes(flag) && inline === undefined) {
            switches.add(flag);
        } else {
            throw new UsageError(`unknown option ${arg}; ${usage}`);
        }
    }
    return { positionals, values, switches };
}

/** The stacks of this project: the `Pulumi.<stack>.yaml` files beside Pulumi.yaml. */
export function knownStacks(root: string = repoRoot): string[] {
    return fs
        .readdirSync(root)
        .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .sort();
}

/**
 * The stack file of `stack`, or a {@link UsageError} naming the stacks there are. A command never
 * creates a stack: a typo would otherwise become a new, empty stack and a `Pulumi.<typo>.yaml`.
 */
export function stackFile(stack: string, command: string, root: string = repoRoot): string {
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    if (!/^[\w.-]+$/.test(stack) || !fs.existsSync(file)) {
        throw new UsageError(
            `no stack "${stack}" (no Pulumi.${stack}.yaml): the stacks here are ${knownStacks(root).join(", ")}. Fix: ${command.replace("<stack>", "<one of them>")}`,
        );
    }
    return file;
}

/** The text of a file named on the command line, or a {@link UsageError} naming the option and the file. */
export function readInputFile(file: string, option: string, hint: string): string {
    try {
        return fs.readFileSync(file, "utf8");
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const what = code === "ENOENT" ? "does not exist" : code === "EISDIR" ? "is a folder, not a file" : `cannot be read (${code ?? (e as Error).message})`;
        throw new UsageError(`${option} ${file} ${what}. Fix: ${hint}`);
    }
}
