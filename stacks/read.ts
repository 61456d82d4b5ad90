/**
 * Pipeline steps 1 and 2: read (stack file or Pulumi runtime → raw values, secrets kept apart) and
 * parse (zod, strict). Problems are returned, not thrown, so one run reports them all.
 */
import * as fs from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { z } from "zod";
import { GitOpsConfigError, formatPath } from "../components/core/errors";
import { issueProblems as settingsIssueProblems } from "../components/core/settings";
import { ServiceConfig, StackConfig, serviceSchema, stackConfigSchema } from "./schema";

/** The project's config namespace (`<namespace>:<key>` in stack files). */
export const configNamespace = "gitops-control";

/** How to set the token; quoted in every error about it. */
export const setTokenCommand = `pulumi config set --secret ${configNamespace}:githubToken <token>`;

/** `gitops-control:<field>`: how a stack-file key is named in messages. */
export const stackKey = (field: string): string => (field ? `${configNamespace}:${field}` : configNamespace);

/** A `{ secure: <ciphertext> }` leaf: what `pulumi config set --secret` writes. */
const isSecure = (value: unknown): boolean => value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).join() === "secure";

/**
 * A stack-file value with every `{ secure }` leaf replaced by a placeholder (the ciphertext is never
 * decrypted here), and how many leaves were secure and plain. `pulumi config set --secret --path
 * 'ns:key.name'` stores a map whose leaves are secure; the whole key is then a secret for Pulumi.
 */
function redactSecure(value: unknown, at: string): { value: unknown; secure: number; plain: number } {
    if (isSecure(value)) return { value: `<secret ${at}>`, secure: 1, plain: 0 };
    if (value === null || typeof value !== "object") return { value, secure: 0, plain: 1 };
    const entries = Object.entries(value).map(([k, v]) => [k, redactSecure(v, Array.isArray(value) ? `${at}[${k}]` : `${at}.${k}`)] as const);
    const redacted = Object.fromEntries(entries.map(([k, r]) => [k, r.value]));
    return {
        value: Array.isArray(value) ? Object.values(redacted) : redacted,
        secure: entries.reduce((n, [, r]) => n + r.secure, 0),
        plain: entries.reduce((n, [, r]) => n + r.plain, 0),
    };
}

/**
 * Stack config from `Pulumi.<stack>.yaml`: plain values as Pulumi stores them, secure values as
 * placeholders. A key is secret when it is stored encrypted: `{ secure }` itself, or a map or list
 * whose every leaf is (`--secret --path`). A map mixing encrypted and plain leaves is not secret:
 * the read step then refuses its plain part like any secret stored in plain text.
 */
export function readStackFile(file: string): { config: Record<string, string>; secretKeys: string[] } {
    let text: string;
    try {
        text = fs.readFileSync(file, "utf8");
    } catch (e) {
        throw new Error(`cannot read the stack file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
    }
    let doc: { config?: Record<string, unknown> };
    try {
        doc = (parse(text) ?? {}) as typeof doc;
    } catch (e) {
        throw new Error(`${file} is not valid YAML: ${(e as Error).message}. Fix: correct the syntax at that line (indentation, quotes, a missing ':')`, { cause: e });
    }
    const config: Record<string, string> = {};
    const secretKeys: string[] = [];
    for (const [key, value] of Object.entries(doc.config ?? {})) {
        const redacted = redactSecure(value, key);
        if (redacted.secure > 0 && redacted.plain === 0) secretKeys.push(key);
        config[key] = typeof redacted.value === "string" ? redacted.value : JSON.stringify(redacted.value);
    }
    return { config, secretKeys };
}

/**
 * Config as Pulumi hands it over (`<namespace>:<key>` → string, structured values as JSON) to raw
 * values without namespace. Keys in `skip` (secrets) are left out.
 */
export function decodeConfig(config: Readonly<Record<string, string>>, skip: readonly string[] = []): Record<string, unknown> {
    const raw: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(config)) {
        if (!key.startsWith(`${configNamespace}:`) || skip.includes(key)) continue;
        const name = key.slice(configNamespace.length + 1);
        try {
            raw[name] = JSON.parse(value);
        } catch {
            raw[name] = value;
        }
    }
    return raw;
}

/** Edit distance, for namespaces that look like a misspelt `gitops-control`. */
function distance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let prev = row[0];
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const next = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
            prev = row[j];
            row[j] = next;
        }
    }
    return row[b.length];
}

/**
 * Keys under a namespace close to `gitops-control` (`gitops-contrl:guardrails`): Pulumi hands them
 * to nobody, so the setting would silently not apply. Reported as errors, not warnings: a guardrail
 * setting that does not apply is what the program exists to prevent.
 */
export function misspeltNamespaceProblems(config: Readonly<Record<string, string>>): GitOpsConfigError[] {
    return Object.keys(config).flatMap((key) => {
        const ns = key.includes(":") ? key.slice(0, key.indexOf(":")) : "";
        if (ns === configNamespace || ns === "" || distance(ns.toLowerCase(), configNamespace) > 3) return [];
        const rest = key.slice(ns.length + 1);
        return [
            new GitOpsConfigError(
                key,
                `is under the namespace "${ns}", which nothing reads (did you mean "${configNamespace}"?)`,
                `rename the key to \`${configNamespace}:${rest}\``,
            ),
        ];
    });
}

/** `pulumi.runtime.isConfigSecret` exists at run time but is missing from the SDK's type declarations. */
function isConfigSecret(key: string): boolean {
    const runtime = pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean };
    if (typeof runtime.isConfigSecret !== "function") {
        throw new Error("@pulumi/pulumi no longer exports runtime.isConfigSecret: update stacks/read.ts");
    }
    return runtime.isConfigSecret(key);
}

/** Secrets the model needs, as Pulumi secrets. Kept apart from the parsed config. */
export interface StackSecrets {
    readonly githubToken?: pulumi.Input<string>;
    /** Bearer token per registered destination cluster. */
    readonly destinationTokens?: Readonly<Record<string, pulumi.Input<string>>>;
    /** Kubeconfig per governed destination cluster (the program installs the guardrails there and creates Argo CD's token). */
    readonly destinationKubeconfigs?: Readonly<Record<string, pulumi.Input<string>>>;
    /** Token, SSH key or GitHub App key per repository credential. */
    readonly repositorySecrets?: Readonly<Record<string, pulumi.Input<string>>>;
}

/** Secret maps: one secret per name, set with `--path`. */
export type SecretMapKey = "destinationTokens" | "destinationKubeconfigs" | "repositorySecrets";

/** Keys whose values are read only as secrets (never from the decoded plain config). */
export const secretKeys = ["githubToken", "destinationTokens", "destinationKubeconfigs", "repositorySecrets"] as const;

/** The command that stores one entry of a secret map; quoted in errors about it. */
export const setSecretEntryCommand = (key: SecretMapKey, name: string): string => `pulumi config set --secret --path '${configNamespace}:${key}.${name}' <value>`;

/**
 * Secret maps supplied for one program run, as an Automation-API caller holds them (tests, scripts);
 * wrapped as Pulumi secrets on reading. @default none
 */
export type SecretOverrides = Partial<Record<SecretMapKey, Record<string, string>>>;

/** What the read step hands on: raw values, secrets apart, and problems found while reading. */
export interface RawStack {
    readonly raw: Record<string, unknown>;
    readonly secrets: StackSecrets;
    readonly problems: readonly GitOpsConfigError[];
}

/**
 * Reads this stack's config from the Pulumi runtime. Secret keys must be stored as secrets; their
 * values are read with `requireSecret`/`requireSecretObject` (or taken from `secretOverrides`) and
 * kept out of the raw values, so they stay Pulumi secrets end to end.
 */
export function readRuntimeStack(overrides: Record<string, unknown> = {}, secretOverrides: SecretOverrides = {}): RawStack {
    const all = pulumi.runtime.allConfig();
    const raw: Record<string, unknown> = { ...decodeConfig(all), ...overrides };
    const problems = misspeltNamespaceProblems(all);
    const stackConfig = new pulumi.Config(configNamespace);
    const plain = new Set<string>();
    for (const key of secretKeys) {
        const full = stackKey(key);
        if (raw[key] !== undefined && !isConfigSecret(full)) {
            const fix = key === "githubToken" ? setTokenCommand : `pulumi config set --secret --path '${full}.<name>' <value>`;
            problems.push(new GitOpsConfigError(full, "is stored in plain text in the stack file", `remove it and run \`${fix}\``));
            plain.add(key);
        }
    }
    const githubToken = raw.githubToken !== undefined && !plain.has("githubToken") ? stackConfig.requireSecret("githubToken") : undefined;
    const secretMap = (key: SecretMapKey): Record<string, pulumi.Input<string>> | undefined => {
        const override = secretOverrides[key];
        if (!override && plain.has(key)) return undefined;
        const stored = raw[key];
        const names = Object.keys(override ?? (stored !== null && typeof stored === "object" ? stored : {}));
        if (names.length === 0) return undefined;
        const values = override ? pulumi.secret(override) : stackConfig.requireSecretObject<Record<string, string>>(key);
        return Object.fromEntries(names.map((name) => [name, values.apply((m) => m[name] ?? "")]));
    };
    const destinationTokens = secretMap("destinationTokens");
    const destinationKubeconfigs = secretMap("destinationKubeconfigs");
    const repositorySecrets = secretMap("repositorySecrets");
    // Secret values never reach the parsed config: only the secrets hold them.
    for (const key of secretKeys) delete raw[key];
    const secrets: StackSecrets = {
        ...(githubToken ? { githubToken } : {}),
        ...(destinationTokens ? { destinationTokens } : {}),
        ...(destinationKubeconfigs ? { destinationKubeconfigs } : {}),
        ...(repositorySecrets ? { repositorySecrets } : {}),
    };
    return { raw, secrets, problems };
}

/** One problem per zod issue, each naming the stack-file key and the fix (the words of components/core/settings.ts, shared with the components). */
export function issueProblems(error: z.ZodError, raw: Record<string, unknown> = {}): GitOpsConfigError[] {
    return settingsIssueProblems(error).map((p) => withService(new GitOpsConfigError(stackKey(formatPath(p.path)), p.problem, p.fix), p.path, raw));
}

/** Names the service of a problem under `services[i]` (`(service "checkout") ...`). */
function withService(problem: GitOpsConfigError, path: readonly PropertyKey[], raw: Record<string, unknown>): GitOpsConfigError {
    const entry = path[0] === "services" && typeof path[1] === "number" && Array.isArray(raw.services) ? (raw.services[path[1]] as { name?: unknown } | undefined) : undefined;
    return typeof entry?.name === "string" ? new GitOpsConfigError(problem.field, `(service "${entry.name}") ${problem.problem}`, problem.fix) : problem;
}

/** A service that parsed, with its index in the stack file. */
export interface IndexedService {
    readonly index: number;
    readonly service: ServiceConfig;
}

/** What the parse step hands on: the typed config (best effort when there are problems). */
export interface ParsedStack {
    /** Typed config; when the whole file did not parse, the keys that did (services that did not are left out). */
    readonly config?: StackConfig;
    readonly services: readonly IndexedService[];
    readonly problems: readonly GitOpsConfigError[];
}

/**
 * Parses raw config. On failure it still parses what it can (each top-level key, each service
 * alone), so the rules can run on the rest and one run reports schema and rule problems together.
 */
export function parseStack(raw: Record<string, unknown>): ParsedStack {
    const result = stackConfigSchema.safeParse(raw, { reportInput: true });
    if (result.success) {
        return { config: result.data, services: result.data.services.map((service, index) => ({ index, service })), problems: [] };
    }
    const problems = issueProblems(result.error, raw);
    const shape = stackConfigSchema.shape;
    const partial: Record<string, unknown> = {};
    for (const [key, schema] of Object.entries(shape)) {
        if (key === "services") continue;
        // A key that did not parse falls back to its default, so the other rules can still run.
        const one = (schema as z.ZodType).safeParse(raw[key]);
        const fallback = one.success ? one : (schema as z.ZodType).safeParse(undefined);
        if (fallback.success) partial[key] = fallback.data;
    }
    const services = (Array.isArray(raw.services) ? raw.services : []).flatMap((s, index) => {
        const one = serviceSchema.safeParse(s);
        return one.success ? [{ index, service: one.data }] : [];
    });
    const config = partial.environment !== undefined ? ({ ...partial, services: services.map((s) => s.service) } as StackConfig) : undefined;
    return { ...(config ? { config } : {}), services, problems };
}
