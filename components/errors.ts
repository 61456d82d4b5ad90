/**
 * Errors for bad input. Every message names the field in backticks and says how to fix it, so a
 * platform engineer reading a failed `pulumi preview` knows what to change without reading code.
 */
export class GitOpsConfigError extends Error {
    constructor(
        /** Dotted path of the offending field, e.g. `services[1].repoURL`. */
        readonly field: string,
        /** What is wrong, e.g. "must be an https:// or ssh Git URL". */
        readonly problem: string,
        /** What to do about it. */
        readonly fix: string,
    ) {
        super(`\`${field}\` ${problem}. Fix: ${fix}`);
        this.name = "GitOpsConfigError";
    }
}

/** Throws a {@link GitOpsConfigError} unless `condition` holds. */
export function check(condition: boolean, field: string, problem: string, fix: string): asserts condition {
    if (!condition) {
        throw new GitOpsConfigError(field, problem, fix);
    }
}

/** Kubernetes object names (RFC 1123 labels): what Argo CD and the API server accept for names and namespaces. */
export const dnsLabel = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Throws unless `value` is a valid RFC 1123 label of at most `max` characters. */
export function requireDnsLabel(value: string, field: string, max = 63): void {
    check(
        value.length > 0 && value.length <= max && dnsLabel.test(value),
        field,
        `is "${value}", which is not a valid Kubernetes name (lower-case letters, digits and '-', at most ${max} characters)`,
        `rename it, e.g. "${value.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, max) || "my-service"}"`,
    );
}

/** Go duration strings as Argo CD parses them ("5s", "3m", "1h30m"). */
export const goDuration = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;
