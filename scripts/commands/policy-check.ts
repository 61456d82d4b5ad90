/**
 * Pre-merge guardrail check: evaluates the admission guardrails offline against manifests, as the
 * API server would when Argo CD applies them.
 *
 *   npm run policy:check -- <file|dir>... [--stack prod|staging | --mode prod|staging] [--rules name,name]
 *        [--as user [--as-group group]...] [--operation CREATE|UPDATE|DELETE|CONNECT] [--verbose]
 *
 * prod: bound like prod ([Deny, Audit]); any denial exits 1. staging: [Warn, Audit]; exits 0.
 * `--stack` evaluates the stack's own rules (replicaCap, requiredLabels, disabledRules from
 * Pulumi.<stack>.yaml, as the deployed policies) and takes every namespace's labels from the
 * manifests (Namespace objects, Applications' managedNamespaceMetadata): a namespace they do not
 * label is reported "no guardrail applies (namespace not governed)". `--mode` is for ad-hoc checks:
 * the default rules, and a namespace the manifests do not describe is assumed to be of that class.
 * One row per denial or warning, one row for an object every rule admits (--verbose: one per rule).
 * Requests are CREATEs by who writes the kind in a GitOps cluster (the program, group system:masters,
 * for Applications, ApplicationSets and AppProjects; Argo CD's application controller for the rest) unless --as/--as-group/--operation say
 * otherwise ("would a person's kubectl edit be denied"). Exit 2: bad arguments, unreadable YAML or
 * a rule the evaluator cannot model.
 */
import { GuardrailEvaluator, KubeObject, RuleDecision, UserInfo, admissionRequest, defaultWriter } from "../lib/policyEvaluator";
import { defaultRules } from "../../components/guardrails/rules";
import { GuardrailRule, Operation } from "../../components/guardrails/types";
import { labels } from "../../components/core/labels";
import { decodeConfig, guardrailRules, parseStackConfig } from "../../stacks/config";
import { repoRoot, stackFile } from "../lib/commandLine";
import { loadManifests } from "../lib/manifests";
import { readStackFile } from "../lib/mockRuntime";

export type Mode = "prod" | "staging";

export interface PolicyCheckArgs {
    readonly targets: readonly string[];
    readonly mode: Mode;
    /** The stack whose rules and namespaces are checked (`--stack`); ad hoc (`--mode`) when absent. */
    readonly stack?: Mode;
    /** The requester. @default Argo CD's application controller */
    readonly user?: UserInfo;
    /** @default "CREATE" */
    readonly operation?: Operation;
    /** Rule names; all of defaultRules() when empty. */
    readonly rules: readonly string[];
    /** A row per rule and object, not only per finding. */
    readonly verbose: boolean;
}

const usage =
    "usage: npm run policy:check -- <file|dir>... [--stack prod|staging | --mode prod|staging] [--rules name,name] [--as user [--as-group group]...] [--operation CREATE|UPDATE|DELETE|CONNECT] [--verbose]";
const operations: readonly Operation[] = ["CREATE", "UPDATE", "DELETE", "CONNECT"];

/** Parses the command line; throws a message fit for the user. */
export function parseArgs(argv: readonly string[]): PolicyCheckArgs {
    const targets: string[] = [];
    const rules: string[] = [];
    let mode: Mode = "prod";
    let stack: Mode | undefined;
    let modeGiven = false;
    let username: string | undefined;
    const groups: string[] = [];
    let operation: Operation | undefined;
    let verbose = false;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        const [flag, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
        const value = (): string => {
            const v = inline ?? argv[++i];
            if (v === undefined || v === "") throw new Error(`${flag} needs a value; ${usage}`);
            return v;
        };
        if (flag === "--mode") {
            const m = value();
            if (m !== "prod" && m !== "staging") throw new Error(`--mode is "${m}": use prod or staging`);
            mode = m;
            modeGiven = true;
        } else if (flag === "--stack") {
            const m = value();
            if (m !== "prod" && m !== "staging") throw new Error(`--stack is "${m}": use prod or staging (the stack files Pulumi.prod.yaml, Pulumi.staging.yaml)`);
            stack = m;
        } else if (flag === "--as") {
            username = value();
        } else if (flag === "--as-group") {
            groups.push(value());
        } else if (flag === "--operation") {
            const o = value().toUpperCase() as Operation;
            if (!operations.includes(o)) throw new Error(`--operation is "${o}": use ${operations.join(", ")}`);
            operation = o;
        } else if (flag === "--rules") {
            rules.push(
                ...value()
                    .split(",")
                    .map((r) => r.trim())
                    .filter((r) => r !== ""),
            );
        } else if (flag === "--verbose" || flag === "-v") {
            verbose = true;
        } else if (flag === "--help" || flag === "-h") {
            throw new Error(usage);
        } else if (flag.startsWith("-")) {
            throw new Error(`unknown option ${arg}; ${usage}`);
        } else {
            targets.push(arg);
        }
    }
    if (targets.length === 0) throw new Error(`name at least one manifest file or folder; ${usage}`);
    if (stack && modeGiven) throw new Error("give --stack or --mode, not both: --stack takes the mode from the stack");
    if (groups.length > 0 && username === undefined) throw new Error("--as-group needs --as <user>");
    const user = username === undefined ? undefined : { username, groups: [...groups, "system:authenticated"] };
    return { targets, mode: stack ?? mode, rules, verbose, ...(stack ? { stack } : {}), ...(user ? { user } : {}), ...(operation ? { operation } : {}) };
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

/** The stack's own rules, as the program deploys them (Pulumi.<stack>.yaml in `root`; secrets are never read). */
function stackRules(stack: Mode, root: string): GuardrailRule[] {
    const { config, secretKeys } = readStackFile(stackFile(stack, "npm run policy:check -- <dir|file> --stack <stack>", root));
    return guardrailRules(parseStackConfig(decodeConfig(config, secretKeys)));
}

/** Namespace labels as the manifests give them: Namespace objects, and Applications' managedNamespaceMetadata for their destination. */
export function declaredNamespaceLabels(objects: readonly KubeObject[]): Map<string, Readonly<Record<string, string>>> {
    const out = new Map<string, Readonly<Record<string, string>>>();
    for (const o of objects) {
        if (o.kind === "Namespace" && o.metadata?.name) out.set(o.metadata.name, { ...out.get(o.metadata.name), ...o.metadata.labels });
        const spec =
            o.kind === "Application"
                ? (o.spec as { destination?: { namespace?: string }; syncPolicy?: { managedNamespaceMetadata?: { labels?: Record<string, string> } } } | undefined)
                : undefined;
        const ns = spec?.destination?.namespace;
        const managed = spec?.syncPolicy?.managedNamespaceMetadata?.labels;
        if (ns && managed) out.set(ns, { ...out.get(ns), ...managed });
    }
    return out;
}

/** What {@link evaluateGuardrails} needs besides the objects. */
export interface GuardrailRunOptions {
    readonly rules: readonly GuardrailRule[];
    readonly mode: Mode;
    /** Namespace labels the manifests (or the stack's Applications) declare. */
    readonly declared: ReadonlyMap<string, Readonly<Record<string, string>>>;
    /** Labels of a namespace nothing declares ({} with a stack: "not governed"). */
    readonly assumed: Readonly<Record<string, string>>;
    /** @default Argo CD's application controller */
    readonly user?: UserInfo;
    readonly operation?: Operation;
    /** A row per rule and object, not only per finding. */
    readonly verbose?: boolean;
}

/**
 * The guardrails on objects as the API server would decide them when Argo CD applies each one:
 * one row per denial or warning, one per object every rule admits (all rows with `verbose`).
 * `policy:check` and `config-check` (scripts/commands/config-check.ts) share it.
 */
export function evaluateGuardrails(objects: readonly KubeObject[], options: GuardrailRunOptions): { rows: Row[]; count: { Deny: number; Warn: number; Allow: number } } {
    const binding =
        options.mode === "prod"
            ? { environment: "prod", validationActions: ["Deny", "Audit"] as const }
            : { environment: "staging", validationActions: ["Warn", "Audit"] as const };
    // The cluster's namespaces as the manifests give them (rules that read other namespaces, e.g. an Application's destination).
    const namespaces: Record<string, Readonly<Record<string, string>>> = {};
    for (const o of objects) if (o.metadata?.namespace) namespaces[o.metadata.namespace] = options.assumed;
    for (const [name, l] of options.declared) namespaces[name] = l;
    const evaluator = new GuardrailEvaluator(options.rules, { binding, namespaces });
    const rows: Row[] = [];
    const count = { Deny: 0, Warn: 0, Allow: 0 };
    for (const o of objects) {
        const meta = o.metadata ?? {};
        const object = `${o.kind} ${meta.namespace ? `${meta.namespace}/` : ""}${meta.name ?? meta.generateName ?? "<unnamed>"}`;
        const ns = meta.namespace ?? "default";
        const namespaceLabels = options.declared.get(ns) ?? options.assumed;
        const governed = o.kind === "Namespace" || labels.environment in namespaceLabels || o.kind === "Application";
        const request = admissionRequest(o, {
            namespaceLabels,
            userInfo: options.user ?? defaultWriter(o.kind),
            ...(options.operation ? { operation: options.operation } : {}),
        });
        const applied = evaluator.evaluate(request).filter((d) => d.verdict !== "NotApplicable");
        if (applied.length === 0) rows.push({ object, rule: "-", verdict: "-", message: governed ? "no guardrail applies" : "no guardrail applies (namespace not governed)" });
        for (const d of applied) if (d.verdict === "Deny" || d.verdict === "Warn" || d.verdict === "Allow") count[d.verdict]++;
        const findings = applied.filter((d) => d.violations.length > 0);
        if (!options.verbose && applied.length > 0 && findings.length === 0) rows.push({ object, rule: `all ${plural(applied.length, "rule")}`, verdict: "Allow", message: "" });
        for (const d of options.verbose ? applied : findings) {
            if (d.violations.length === 0) rows.push({ object, rule: d.rule, verdict: d.verdict, message: "" });
            for (const v of d.violations) rows.push({ object, rule: d.rule, verdict: d.verdict, message: v.message });
        }
    }
    return { rows, count };
}

/** Runs the check; returns the report and the exit code. `root`: where the stack files are. */
export function policyCheck(args: PolicyCheckArgs, root: string = repoRoot): { report: string; exitCode: number } {
    const library = args.stack ? stackRules(args.stack, root) : defaultRules();
    const unknown = args.rules.filter((r) => !library.some((rule) => rule.name === r));
    if (unknown.length > 0) throw new Error(`unknown rule ${unknown.join(", ")}: use one of ${library.map((r) => r.name).join(", ")}`);
    const rules = args.rules.length > 0 ? library.filter((r) => args.rules.includes(r.name)) : library;
    const { manifests, skipped } = loadManifests(args.targets);
    // "0 denied" about nothing would pass a PR check whose render step produced no manifests.
    if (manifests.length === 0) {
        throw new Error(
            `${args.targets.join(", ")} hold${args.targets.length === 1 ? "s" : ""} no Kubernetes object (no YAML or JSON document with apiVersion and kind), so there is nothing to check. Fix: name rendered manifests, e.g. npm run --silent render -- staging > rendered.yaml`,
        );
    }
    const objects = manifests.map((m) => m.object);
    // Ad hoc (--mode): a namespace the manifests do not describe is assumed to be of the mode's class.
    const assumed: Readonly<Record<string, string>> = args.stack ? {} : { [labels.environment]: args.mode };
    const { rows, count } = evaluateGuardrails(objects, {
        rules,
        mode: args.mode,
        declared: declaredNamespaceLabels(objects),
        assumed,
        verbose: args.verbose,
        ...(args.user ? { user: args.user } : {}),
        ...(args.operation ? { operation: args.operation } : {}),
    });
    const summary = [
        `${plural(manifests.length, "object")}, ${args.stack ? `stack ${args.stack} (${args.mode} mode)` : `${args.mode} mode`}${args.user ? ` as ${args.user.username}` : ""}${args.operation ? ` (${args.operation})` : ""}: ${plural(count.Deny + count.Warn + count.Allow, "rule check")}, ${count.Deny} denied, ${count.Warn} warned, ${count.Allow} admitted`,
        ...(skipped.length > 0
            ? [`skipped ${plural(skipped.length, "document")} that ${skipped.length === 1 ? "is" : "are"} not a Kubernetes object: ${examples(skipped.map((s) => s.file))}`]
            : []),
    ];
    return { report: `${formatTable(rows)}\n\n${summary.join("\n")}`, exitCode: args.mode === "prod" && count.Deny > 0 ? 1 : 0 };
}

/** The command: argv in, exit code and output out (the unit tests call it in-process). */
export function runPolicyCheck(argv: readonly string[], root: string = repoRoot): { code: number; stdout: string; stderr: string } {
    try {
        const { report, exitCode } = policyCheck(parseArgs(argv), root);
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
