/**
 * Errors for bad input. Every message names the field in backticks and says how to fix it, so a
 * platform engineer reading a failed `pulumi preview` knows what to change without reading code.
 */
import { defaults } from "./defaults";

export class GitOpsConfigError extends Error {
    /** Dotted path of the offending field, e.g. `services[1].repoURL`. */
    readonly field: string;
    /** The same path as keys (`["services", 1, "repoURL"]`): what maps a component arg to its stack key. */
    readonly path: Path;
    constructor(
        field: string | Path,
        /** What is wrong, e.g. "must be an https:// or ssh Git URL". */
        readonly problem: string,
        /** What to do about it. */
        readonly fix: string,
    ) {
        const path = typeof field === "string" ? parsePath(field) : field;
        const text = typeof field === "string" ? field : formatPath(field);
        super(`\`${text}\` ${problem}. Fix: ${fix}`);
        this.field = text;
        this.path = path;
        this.name = "GitOpsConfigError";
    }
}

/** A field as keys: object keys and list indexes. */
export type Path = readonly (string | number)[];

/** `services[1].repoURL` from `["services", 1, "repoURL"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
    return path.reduce<string>((acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc ? `${acc}.${String(key)}` : String(key)), "");
}

/** `["services", 1, "repoURL"]` from `services[1].repoURL` (what a string field written by a check means). */
export function parsePath(field: string): Path {
    const path: (string | number)[] = [];
    for (const part of field.split(".")) {
        const bracket = part.indexOf("[");
        const head = bracket < 0 ? part : part.slice(0, bracket);
        if (head) path.push(head);
        if (bracket >= 0) for (const index of part.slice(bracket + 1, -1).split("][")) path.push(Number(index));
    }
    return path;
}

/** Several problems found in one run, reported together. */
export class GitOpsConfigErrors extends Error {
    constructor(
        readonly problems: readonly GitOpsConfigError[],
        heading = `${problems.length} problem(s) in the configuration`,
    ) {
        super(`${heading}:\n${problems.map((p) => `- ${p.message}`).join("\n")}`);
        this.name = "GitOpsConfigErrors";
    }
}

/** Where {@link check} records problems while {@link collectProblems} runs; throws otherwise. */
let collector: GitOpsConfigError[] | undefined;

/**
 * Throws a {@link GitOpsConfigError} unless `condition` holds. Inside {@link collectProblems} the
 * problem is recorded instead and checking goes on, so one run reports every problem.
 */
export function check(condition: boolean, field: string | Path, problem: string, fix: string): asserts condition {
    if (!condition) {
        const error = new GitOpsConfigError(field, problem, fix);
        if (collector) {
            collector.push(error);
            return;
        }
        throw error;
    }
}

/**
 * Runs validation code and returns every problem it found (none: valid). A crash after a recorded
 * problem is its consequence (a check let a bad value through to later code) and is dropped; a
 * crash without one is a bug and is rethrown.
 */
export function collectProblems(run: () => void): GitOpsConfigError[] {
    const outer = collector;
    const found: GitOpsConfigError[] = [];
    collector = found;
    try {
        run();
    } catch (e) {
        if (e instanceof GitOpsConfigError) found.push(e);
        else if (e instanceof GitOpsConfigErrors) found.push(...e.problems);
        else if (found.length === 0) throw e;
    } finally {
        collector = outer;
    }
    return found;
}

/** Throws all problems found by `run` together, or returns quietly. */
export function checkAll(run: () => void, heading?: string): void {
    const problems = collectProblems(run);
    if (problems.length > 0) throw new GitOpsConfigErrors(problems, heading);
}

/** Kubernetes object names (RFC 1123 labels): what Argo CD and the API server accept for names and namespaces. */
export const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Throws unless `value` is a valid RFC 1123 label of at most `max` characters. */
export function requireDnsLabel(value: string, field: string, max = 63): void {
    check(
        value.length > 0 && value.length <= max && dnsLabel.test(value),
        field,
        `is "${value}", which is not a valid Kubernetes name (lower-case letters, digits and '-', at most ${max} characters)`,
        `rename it, e.g. "${
            value
                .toLowerCase()
                .replace(/[^a-z0-9-]+/g, "-")
                .replace(/^-+|-+$/g, "")
                .slice(0, max) || "my-service"
        }"`,
    );
}

/** Go duration strings as Argo CD parses them ("5s", "3m", "1h30m"). */
export const goDuration = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;

/**
 * Why a repository URL carries credentials, or undefined: a password or token in its user info
 * (`https://user:token@`, `https://token@`, `ssh://user:password@`) or a query string or fragment
 * (`?token=`). Argo CD would store it in plain text in the Application, the AppProject and its logs.
 */
export function urlCredentials(url: string): string | undefined {
    const scheme = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)/i.exec(url);
    if (scheme) {
        const at = scheme[2].lastIndexOf("@");
        const userInfo = at < 0 ? "" : scheme[2].slice(0, at);
        if (userInfo.includes(":")) return "carries credentials (user:password@ in the URL)";
        if (userInfo !== "" && scheme[1].toLowerCase() !== "ssh") return "carries credentials (user:token@ or token@ in the URL)";
    }
    if (/[?#]/.test(url)) return "carries a query string or fragment (?token=… would be stored in plain text)";
    return undefined;
}

/** Namespaces no service (and no Argo CD) may take: an AppProject allowing them allows writing there. */
export const reservedNamespaces = ["kube-system", "kube-public", "kube-node-lease", "default"] as const;

/** True for a system namespace: reserved, Kubernetes' own `kube-` prefix, or Argo CD's (`argoNamespace`). */
export function systemNamespace(namespace: string, argoNamespace?: string): boolean {
    return namespace === argoNamespace || (reservedNamespaces as readonly string[]).includes(namespace) || namespace.startsWith("kube-");
}

/**
 * Argo CD's own namespace, checked alike wherever it is given (`ArgoCd`'s `namespace`, a
 * `GitOpsService`'s `argoNamespace`): a DNS label, and not a system namespace.
 */
export function checkArgoNamespace(namespace: string, field: string): void {
    requireDnsLabel(namespace, field);
    check(
        !systemNamespace(namespace),
        field,
        `is "${namespace}", a system namespace: Argo CD's AppProjects, Secrets and RBAC would live beside the cluster's own`,
        `use a namespace of its own, e.g. "${defaults.argoNamespace}"`,
    );
}

/** Seconds of a Go duration ("1h30m" → 5400); undefined when it is not one. */
export function goDurationSeconds(value: string): number | undefined {
    if (!goDuration.test(value)) return undefined;
    const unit: Record<string, number> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };
    let total = 0;
    for (const m of value.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * unit[m[2]];
    return total;
}
