/**
 * Settings schemas: the shared machinery. Each concept writes its settings once, as a zod schema
 * next to its component (type, bounds, default, description); the component parses its args with
 * it and the stack schema (stacks/schema.ts) is composed from it, so a JavaScript caller passing a
 * wrong type gets the problem a stack file gets, naming the field (by its path) and the fix.
 */
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { GitOpsConfigError, Path, check } from "./errors";

/** Anything that looks like a Kubernetes provider resource (duck-typed: a second copy of @pulumi/pulumi is fine). */
export const providerSetting = z.custom<import("@pulumi/kubernetes").Provider>((v) => typeof v === "object" && v !== null && "urn" in v, {
    error: "must be a Kubernetes provider",
});

/** A Pulumi input string: a string, an Output or a Promise (secrets arrive as Outputs). */
export const inputString = z.custom<pulumi.Input<string>>((v) => typeof v === "string" || pulumi.Output.isInstance(v) || v instanceof Promise, {
    error: "must be a string or a Pulumi secret",
});

/**
 * Parses a component's args with its settings schema, inside a validator: each problem is recorded
 * (or thrown) through {@link check}, its field under `field`. Returns whether the args parsed; the
 * validator's own checks run only then (they read the typed values).
 */
export function checkSettings(schema: z.ZodType, args: unknown, field: string): boolean {
    const { problems } = parseSettings(schema, args, field === "" ? [] : [field]);
    problems.forEach((p) => check(false, p.path, p.problem, p.fix));
    return problems.length === 0;
}

/** A string that must be written as a string: `1.10` unquoted in YAML is the number 1.1. */
export const revision = (description: string) =>
    z
        .string({
            error: (issue) =>
                typeof issue.input === "number" ? `is the number ${issue.input}: YAML read an unquoted version as a number. Quote it, e.g. "${issue.input}"` : undefined,
        })
        .describe(description);

/**
 * A union issue ("matches none of the forms") replaced by the issues of the one form the input was
 * meant as: the only branch that did not fail on the input itself (a `{ name, ... }` object for an
 * environment is not meant as a bare class name), else the only one of the input's type. Ambiguous
 * unions keep their own message.
 */
function specific(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
    if (issue.code !== "invalid_union" || !("errors" in issue) || !Array.isArray(issue.errors)) return [issue];
    const branches = issue.errors as z.core.$ZodIssue[][];
    const failsAtRoot = (branch: z.core.$ZodIssue[], codes: readonly string[]) => branch.some((i) => i.path.length === 0 && codes.includes(i.code));
    let meant = branches.filter((branch) => !failsAtRoot(branch, ["invalid_type", "invalid_value"]));
    // Else the branch of the input's type whose value is wrong ("qa" for an environment class).
    if (meant.length !== 1) meant = branches.filter((branch) => !failsAtRoot(branch, ["invalid_type"]));
    if (meant.length !== 1) return [issue];
    return meant[0].flatMap((i) => specific({ ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue));
}

const reference = "see the config reference in README.md";

/** What is wrong and how to fix it, for one zod issue; the same words on both onboarding routes. */
function issueText(issue: z.core.$ZodIssue): { problem: string; fix: string } {
    switch (issue.code) {
        case "unrecognized_keys":
            return { problem: `has unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}`, fix: `remove them or correct the spelling (${reference})` };
        case "invalid_type":
            if (issue.input === undefined) return { problem: "is missing", fix: `set it (${reference})` };
            if (!issue.message.startsWith("Invalid input")) return { problem: issue.message, fix: "correct the value" };
            return { problem: `must be ${issue.expected}, not ${JSON.stringify(issue.input)}`, fix: `correct the value (${reference})` };
        case "invalid_value":
            return {
                problem: issue.input === undefined ? "is missing" : `is ${JSON.stringify(issue.input)}`,
                fix: `use one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`,
            };
        case "invalid_union":
            return {
                problem: issue.message.startsWith("Invalid input") ? `is ${JSON.stringify(issue.input)}, which matches none of the allowed forms` : issue.message,
                fix: `${reference} for its forms`,
            };
        case "too_big":
        case "too_small":
            return { problem: `is ${JSON.stringify(issue.input)}: ${issue.message}`, fix: `use a value within the bounds (${reference})` };
        default:
            return { problem: issue.message, fix: "correct the value" };
    }
}

/** One problem per zod issue, its path under `prefix` (`["args"]` for a component, the stack key's for a stack file). */
export function issueProblems(error: z.ZodError, prefix: Path = []): GitOpsConfigError[] {
    return error.issues.flatMap(specific).map((issue) => {
        const { problem, fix } = issueText(issue);
        return new GitOpsConfigError([...prefix, ...(issue.path as (string | number)[])], problem, fix);
    });
}

/** Parses `input` with `schema`: the typed value, or every problem (paths under `prefix`). */
export function parseSettings<S extends z.ZodType>(schema: S, input: unknown, prefix: Path = []): { data?: z.output<S>; problems: GitOpsConfigError[] } {
    const result = schema.safeParse(input, { reportInput: true });
    return result.success ? { data: result.data, problems: [] } : { problems: issueProblems(result.error, prefix) };
}

/**
 * A schema's input type as a TypeScript caller writes it: every list and object readonly (an
 * `as const` list or a readonly `SyncPolicy` is accepted), resources, outputs and promises as they are.
 */
export type Settings<T> = T extends pulumi.Resource | pulumi.Output<unknown> | Promise<unknown> | ((...args: never[]) => unknown)
    ? T
    : T extends readonly (infer U)[]
      ? readonly Settings<U>[]
      : T extends object
        ? { readonly [K in keyof T]: Settings<T[K]> }
        : T;
