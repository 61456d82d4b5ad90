/**
 * Pre-merge guardrail check: evaluates the admission guardrails offline against manifests, as the
 * API server would when Argo CD applies them.
 *
 *   npm run policy:check -- <file|dir>... [--mode prod|staging] [--rules name,name] [--verbose]
 *
 * prod: bound like prod ([Deny, Audit]); any denial exits 1. staging: [Warn, Audit]; exits 0.
 * One row per denial or warning, one row for an object every rule admits (--verbose: one per rule).
 * Requests are CREATE by Argo CD's application controller in a namespace labelled with the mode's
 * environment. Exit 2: bad arguments, unreadable YAML or a rule the evaluator cannot model.
 */
import { GuardrailEvaluator, RuleDecision, admissionRequest } from "../components/guardrails/evaluate";
import { defaultRules } from "../components/guardrails/rules";
import { loadManifests } from "./lib/manifests";

export type Mode = "prod" | "staging";

export interface PolicyCheckArgs {
    readonly targets: readonly string[];
    readonly mode: Mode;
    /** Rule names; all of defaultRules() when empty. */
    readonly rules: readonly string[];
    /** A row per rule and object, not only per finding. */
    readonly verbose: boolean;
}

const usage = "usage: npm run policy:check -- <file|dir>... [--mode prod|staging] [--rules name,name] [--verbose]";

/** Parses the command line; throws a message fit for the user. */
export function parseArgs(argv: readonly string[]): PolicyCheckArgs {
    const targets: string[] = [];
    const rules: string[] = [];
    let mode: Mode = "prod";
    let verbose = false;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
        const value = (): string => {
            const v = inline ?? argv[++i];
            if (v === undefined || v === "") throw new Error(`${flag} needs a value\n${usage}`);
            return v;
        };
        if (flag === "--mode") {
            const m = value();
            if (m !== "prod" && m !== "staging") throw new Error(`--mode is "${m}": use prod or staging`);
            mode = m;
        } else if (flag === "--rules") {
            rules.push(...value().split(",").map((r) => r.trim()).filter((r) => r !== ""));
        } else if (flag === "--verbose" || flag === "-v") {
            verbose = true;
        } else if (flag === "--help" || flag === "-h") {
            throw new Error(usage);
        } else if (flag.startsWith("-")) {
            throw new Error(`unknown option ${flag}\n${usage}`);
        } else {
            targets.push(arg);
        }
    }
    if (targets.length === 0) throw new Error(`name at least one manifest file or folder\n${usage}`);
    return { targets, mode, rules, verbose };
}

/** One line of the report. */
export interface Row {
    readonly object: string;
    readonly rule: string;
    readonly verdict: RuleDecision["verdict"] | "-";
    readonly message: string;
}

/** Lays rows out as a fixed-width table; the message column is last and unpadded. */
export function formatTable(rows: readonly Row[]): string {
    const header: Row = { object: "OBJECT", rule: "RULE", verdict: "VERDICT" as Row["verdict"], message: "MESSAGE" };
    const all = [header, ...rows];
    const w = (k: "object" | "rule" | "verdict") => Math.max(...all.map((r) => r[k].length));
    const [wo, wr, wv] = [w("object"), w("rule"), w("verdict")];
    return all.map((r) => `${r.object.padEnd(wo)}  ${r.rule.padEnd(wr)}  ${r.verdict.padEnd(wv)}  ${r.message}`.trimEnd()).join("\n");
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
const examples = (files: readonly string[]): string => {
    const unique = [...new Set(files)];
    return unique.length <= 3 ? unique.join(", ") : `${unique.slice(0, 3).join(", ")} and ${unique.length - 3} more`;
};

/** Runs the check; returns the report and the exit code. */
export function policyCheck(args: PolicyCheckArgs): { report: string; exitCode: number } {
    const library = defaultRules();
    const unknown = args.rules.filter((r) => !library.some((rule) => rule.name === r));
    if (unknown.length > 0) throw new Error(`unknown rule ${unknown.join(", ")}: use one of ${library.map((r) => r.name).join(", ")}`);
    const rules = args.rules.length > 0 ? library.filter((r) => args.rules.includes(r.name)) : library;
    const binding = args.mode === "prod" ? { environment: "prod", validationActions: ["Deny", "Audit"] as const } : { environment: "staging", validationActions: ["Warn", "Audit"] as const };
    const evaluator = new GuardrailEvaluator(rules, { binding });
    const namespaceLabels = { "gitops-control.io/environment": args.mode };

    const { manifests, skipped } = loadManifests(args.targets);
    const rows: Row[] = [];
    const count = { Deny: 0, Warn: 0, Allow: 0 };
    for (const m of manifests) {
        const meta = m.object.metadata ?? {};
        const object = `${m.object.kind} ${meta.namespace ? `${meta.namespace}/` : ""}${meta.name ?? meta.generateName ?? "<unnamed>"}`;
        const applied = evaluator.evaluate(admissionRequest(m.object, { namespaceLabels })).filter((d) => d.verdict !== "NotApplicable");
        if (applied.length === 0) rows.push({ object, rule: "-", verdict: "-", message: "no guardrail applies" });
        for (const d of applied) if (d.verdict === "Deny" || d.verdict === "Warn" || d.verdict === "Allow") count[d.verdict]++;
        const findings = applied.filter((d) => d.violations.length > 0);
        if (!args.verbose && applied.length > 0 && findings.length === 0) rows.push({ object, rule: `all ${plural(applied.length, "rule")}`, verdict: "Allow", message: "" });
        for (const d of args.verbose ? applied : findings) {
            if (d.violations.length === 0) rows.push({ object, rule: d.rule, verdict: d.verdict, message: "" });
            for (const v of d.violations) rows.push({ object, rule: d.rule, verdict: d.verdict, message: v.message });
        }
    }
    const summary = [
        `${plural(manifests.length, "object")}, ${args.mode} mode: ${plural(count.Deny + count.Warn + count.Allow, "rule check")}, ${count.Deny} denied, ${count.Warn} warned, ${count.Allow} admitted`,
        ...(skipped.length > 0 ? [`skipped ${plural(skipped.length, "document")} that ${skipped.length === 1 ? "is" : "are"} not a Kubernetes object: ${examples(skipped.map((s) => s.file))}`] : []),
    ];
    return { report: `${formatTable(rows)}\n\n${summary.join("\n")}`, exitCode: args.mode === "prod" && count.Deny > 0 ? 1 : 0 };
}

/** The command: argv in, exit code and output out (the unit tests call it in-process). */
export function runPolicyCheck(argv: readonly string[]): { code: number; stdout: string; stderr: string } {
    try {
        const { report, exitCode } = policyCheck(parseArgs(argv));
        return { code: exitCode, stdout: `${report}\n`, stderr: "" };
    } catch (e) {
        return { code: 2, stdout: "", stderr: `policy:check: ${e instanceof Error ? e.message : String(e)}\n` };
    }
}

if (require.main === module) {
    const { code, stdout, stderr } = runPolicyCheck(process.argv.slice(2));
    process.stdout.write(stdout);
    process.stderr.write(stderr);
    process.exitCode = code;
}
