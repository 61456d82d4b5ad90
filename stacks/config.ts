/**
 * The stack config pipeline, run once per program run before any resource is registered:
 *
 *   read (read.ts) → parse (schema.ts, read.ts) → resolve (model.ts, breakGlass.ts)
 *     → validate (validate.ts; every problem of the run, together) → build (model.ts)
 *
 * The same resolve/validate path of a service runs inside `GitOpsService` (components/serviceSpec.ts),
 * so a team program calling the component gets the checks a stack entry gets.
 */
import * as pulumi from "@pulumi/pulumi";
import type { ControlPlaneArgs } from "../components/ControlPlane";
import { GitOpsConfigError, GitOpsConfigErrors, collectProblems } from "../components/core/errors";
import { BreakGlassStatus, ReconcileDebt, breakGlassStatus as evaluateStatuses, reconcileDebt } from "./breakGlass";
import { ModelService, buildArgs, resolveServices } from "./model";
import { RawStack, SecretOverrides, StackSecrets, parseStack, readRuntimeStack, stackKey } from "./read";
import type { StackConfig } from "./schema";
import { validateStack } from "./validate";

export { reconcileDebt } from "./breakGlass";
export type { ReconcileDebt } from "./breakGlass";
export { fixtureChartPath, fixtureCrdDir } from "./chart";
export { guardrailRules } from "./model";
export { configNamespace, decodeConfig, secretKeys, setSecretEntryCommand, setTokenCommand } from "./read";
export type { SecretOverrides, StackSecrets } from "./read";

/** Thrown when the stack config has problems: all of them, each naming its key and fix. */
export class StackConfigError extends GitOpsConfigErrors {
    constructor(problems: readonly GitOpsConfigError[]) {
        super(problems, `Invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"})`);
        this.name = "StackConfigError";
    }
}

/** The pipeline's result: the typed config, the control plane's args and the break-glass debt. */
export interface LoadedStack {
    readonly config: StackConfig;
    readonly args: Omit<ControlPlaneArgs, "provider">;
    readonly reconcileDebt: ReconcileDebt;
    /** The services as resolved from their entries (index in the stack file, GitOpsService args). */
    readonly services: readonly ModelService[];
}

/** Runs parse → resolve → validate → build on raw values; throws every problem at once. */
export function runPipeline(read: RawStack, now: Date = new Date(), warn: (message: string) => void = () => undefined): LoadedStack {
    const parsed = parseStack(read.raw);
    const problems = [...read.problems, ...parsed.problems];
    const config = parsed.config;
    if (!config) throw new StackConfigError(problems);
    let statuses: BreakGlassStatus[] = [];
    problems.push(...collectProblems(() => (statuses = evaluateStatuses(config, new Set(parsed.services.map((s) => s.service.name)), now, stackKey("breakGlass"), warn))));
    const active = statuses.filter((s) => s.state === "active");
    const services = resolveServices(config, parsed.services, read.secrets, active);
    const build = () => buildArgs(config, services, read.secrets, active, previewRepos(services));
    const breakGlassValid = !problems.some((p) => p.field.startsWith(stackKey("breakGlass")));
    problems.push(...validateStack(config, services, read.secrets, active, build, breakGlassValid));
    if (problems.length > 0) throw new StackConfigError(distinct(problems));
    return { config, args: build(), reconcileDebt: reconcileDebt(statuses), services };
}

/** One problem per key and message: `argocd.namespace` is checked for every service and for Argo CD itself. */
function distinct(problems: readonly GitOpsConfigError[]): GitOpsConfigError[] {
    const seen = new Set<string>();
    return problems.filter((p) => {
        const key = `${p.field}\u0000${p.problem.replace(/^\([^)]*\) /, "")}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
    });
}

/** Repositories that get previews, as resolved by GitOpsService (derived from repoURL when not given). */
function previewRepos(services: readonly ModelService[]): string[] {
    return services.flatMap((s) => {
        const previews = s.args.previews;
        if (!previews) return [];
        const derived = /\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(s.args.repoURL)?.[1];
        return previews.repo ?? derived ?? [];
    });
}

/**
 * Loads, validates and models the current stack's config from the Pulumi runtime. `overrides`
 * replace config keys for this run; `secretOverrides` supply the secret maps (`destinationTokens`,
 * `repositorySecrets`) as an Automation-API caller holds them, wrapped as Pulumi secrets.
 */
export function loadStack(now: Date = new Date(), overrides: Record<string, unknown> = {}, secretOverrides: SecretOverrides = {}): LoadedStack {
    return runPipeline(readRuntimeStack(overrides, secretOverrides), now, (message) => {
        void pulumi.log.warn(message);
    });
}

/** Parses raw config (key → value, without namespace) into the typed stack config; throws every schema problem. */
export function parseStackConfig(raw: Record<string, unknown>): StackConfig {
    const parsed = parseStack(raw);
    if (parsed.problems.length > 0 || !parsed.config) throw new StackConfigError(parsed.problems);
    return parsed.config;
}

/** Resolve → validate → build on an already parsed config (tests, what-if checks). */
export function buildControlPlaneArgs(config: StackConfig, secrets: StackSecrets, now: Date = new Date(), warn?: (message: string) => void): Omit<ControlPlaneArgs, "provider"> {
    return runPipeline({ raw: config as unknown as Record<string, unknown>, secrets, problems: [] }, now, warn).args;
}

/** Break-glass states of a parsed config at `now`; throws when an entry is invalid or expired (`onExpiry: fail`). */
export function breakGlassStatus(config: StackConfig, now: Date, warn?: (message: string) => void): BreakGlassStatus[] {
    let statuses: BreakGlassStatus[] = [];
    const problems = collectProblems(() => (statuses = evaluateStatuses(config, new Set(config.services.map((s) => s.name)), now, stackKey("breakGlass"), warn)));
    if (problems.length > 0) throw new StackConfigError(problems);
    return statuses;
}
