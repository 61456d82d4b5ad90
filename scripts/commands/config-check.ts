/**
 * The config repository's PR check: what a change of the repository Argo CD reconciles does to each
 * Application of a stack that deploys from it, before the merge. For every Application whose
 * repoURL is that repository (and every preview ApplicationSet's template), the source is rendered
 * at the base and the head revision as Argo CD v3.6.1's repo-server renders it
 * (scripts/lib/configRender.ts), and the report lists per Application the objects added, changed
 * and removed with the file each comes from; fails on a render Argo CD could not produce, an empty
 * render (`allowEmpty: false` refuses the sync), removals over the Application's prune budget
 * (`gitops-control:applicationPruneBudget.<environment>`; the `prune-approved` label allows them)
 * and guardrail denials on the head render (the stack's own rules, offline, as policy:check).
 *
 *   npm run config-check -- <stack | Pulumi.<stack>.yaml> --repo <checkout> --base <rev> --head <rev>
 *        [--repo-url <url>] [--output comment.md] [--approved] [--pr <number>]
 *        [--kube-version 1.36.3] [--api-versions v1,apps/v1,...]
 *
 * `--repo-url` defaults to the checkout's `origin`. `--approved` (or PRUNE_BUDGET_APPROVED=true, as
 * the workflow passes the label) allows removals over budget. Exit 0 clean, 1 a violation, 2 error.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import type { KubeObject } from "../lib/policyEvaluator";
import { defaults } from "../../components/core/defaults";
import { labels } from "../../components/core/labels";
import { decodeConfig, guardrailRules, parseStackConfig } from "../../stacks/config";
import type { StackConfig } from "../../stacks/schema";
import { ApplicationCheck, ConfigCheckReport, exitCode, formatMarkdown, judge } from "../lib/configDiff";
import { AppSource, RenderResult, checkout, renderSource } from "../lib/configRender";
import { readStackFile, renderProgram, repoRoot } from "../lib/mockRuntime";
import { declaredNamespaceLabels, evaluateGuardrails } from "./policy-check";
import { renderTarget, toManifest } from "./render";

export interface ConfigCheckArgs {
    readonly stack: string;
    readonly repo: string;
    readonly base: string;
    readonly head: string;
    readonly repoURL?: string;
    readonly output?: string;
    readonly approved: boolean;
    /** PR number substituted into preview templates. @default "0" */
    readonly pr: string;
    readonly kubeVersion: string;
    readonly apiVersions: readonly string[];
}

const usage =
    "usage: npm run config-check -- <stack | Pulumi.<stack>.yaml> --repo <checkout> --base <rev> --head <rev> [--repo-url <url>] [--output file.md] [--approved] [--pr <n>] [--kube-version v] [--api-versions a,b]";

/** The Kubernetes version the toolchain pins (what the controller would send for a cluster of that version). */
function pinnedKubeVersion(): string {
    const env = fs.readFileSync(path.join(repoRoot, "scripts", "toolchain", "versions.env"), "utf8");
    return /^KUBERNETES_VERSION=(\S+)/m.exec(env)?.[1] ?? "";
}

export function parseArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): ConfigCheckArgs {
    const values: Record<string, string> = {};
    const positional: string[] = [];
    let approved = env.PRUNE_BUDGET_APPROVED === "true";
    const withValue = ["--repo", "--base", "--head", "--repo-url", "--output", "--pr", "--kube-version", "--api-versions"];
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i];
        if (arg === "--approved") approved = true;
        else if (withValue.includes(arg)) {
            const v = argv[++i];
            if (v === undefined || v === "") throw new Error(`${arg} needs a value\n${usage}`);
            values[arg] = v;
        } else if (arg.startsWith("-")) throw new Error(`unknown option ${arg}\n${usage}`);
        else positional.push(arg);
    }
    const missing = ["--repo", "--base", "--head"].filter((k) => !values[k]);
    if (positional.length !== 1 || missing.length > 0) throw new Error(`${missing.length > 0 ? `missing ${missing.join(", ")}\n` : ""}${usage}`);
    return {
        stack: positional[0],
        repo: path.resolve(values["--repo"]),
        base: values["--base"],
        head: values["--head"],
        ...(values["--repo-url"] ? { repoURL: values["--repo-url"] } : {}),
        ...(values["--output"] ? { output: values["--output"] } : {}),
        approved,
        pr: values["--pr"] ?? "0",
        kubeVersion: values["--kube-version"] ?? pinnedKubeVersion(),
        apiVersions: (values["--api-versions"] ?? "")
            .split(",")
            .map((v) => v.trim())
            .filter((v) => v !== ""),
    };
}

/** One repository however it is written: `git@github.com:acme/x.git`, `https://github.com/acme/x/`, `ssh://git@github.com/acme/x`. */
export function sameRepository(a: string, b: string): boolean {
    const norm = (url: string): string => {
        let u = url
            .trim()
            .replace(/\/+$/, "")
            .replace(/\.git$/, "");
        const scp = /^[\w.-]+@([^:/]+):(.+)$/.exec(u);
        if (scp) u = `${scp[1]}/${scp[2]}`;
        u = u.replace(/^[a-z+]+:\/\//i, "").replace(/^[^@/]+@/, "");
        const slash = u.indexOf("/");
        return slash < 0 ? u.toLowerCase() : `${u.slice(0, slash).toLowerCase()}${u.slice(slash)}`;
    };
    return norm(a) === norm(b);
}

/** An Application the check renders: its name, destination namespace, environment and source. */
export interface CheckedApplication {
    readonly name: string;
    readonly namespace: string;
    readonly environment: string;
    readonly project: string;
    readonly allowEmpty: boolean;
    readonly source: AppSource;
}

interface AppSpec {
    readonly project?: string;
    readonly destination?: { readonly namespace?: string };
    readonly source?: AppSource;
    readonly syncPolicy?: { readonly automated?: { readonly allowEmpty?: boolean }; readonly managedNamespaceMetadata?: { readonly labels?: Record<string, string> } };
}

function application(name: string, objectLabels: Record<string, string> | undefined, spec: AppSpec): CheckedApplication | undefined {
    if (!spec.source) return undefined;
    return {
        name,
        namespace: spec.destination?.namespace ?? "",
        environment: spec.syncPolicy?.managedNamespaceMetadata?.labels?.[labels.environment] ?? objectLabels?.[labels.environment] ?? "staging",
        project: spec.project ?? "default",
        allowEmpty: spec.syncPolicy?.automated?.allowEmpty === true,
        source: spec.source,
    };
}

/**
 * Fills a preview ApplicationSet's Go template for one PR of the config repository, as the
 * pull-request generator would (number, head_sha, branch, …); an unknown key is an error, as the
 * template's `missingkey=error` makes it.
 */
export function fillTemplate<T>(value: T, params: Readonly<Record<string, string>>): T {
    return JSON.parse(
        JSON.stringify(value).replace(/\{\{-?\s*\.(\w+)\s*-?\}\}/g, (_, key: string) => {
            if (!(key in params)) throw new Error(`preview template uses {{.${key}}}, which this check does not fill`);
            return JSON.stringify(params[key]).slice(1, -1);
        }),
    ) as T;
}

/** The stack's Applications (and preview templates) whose source is `repoURL`. */
export function applicationsFrom(manifests: readonly KubeObject[], repoURL: string, previewParams: Readonly<Record<string, string>>): CheckedApplication[] {
    const out: CheckedApplication[] = [];
    for (const m of manifests) {
        if (m.kind === "Application") {
            const app = application(m.metadata?.name ?? "", m.metadata?.labels, m.spec as AppSpec);
            if (app && sameRepository(app.source.repoURL, repoURL)) out.push(app);
        } else if (m.kind === "ApplicationSet") {
            const template = (m.spec as { template?: { metadata?: { name?: string; labels?: Record<string, string> }; spec?: AppSpec } }).template;
            if (!template?.spec?.source || !sameRepository(template.spec.source.repoURL, repoURL)) continue;
            const filled = fillTemplate(template, previewParams);
            const app = application(filled.metadata?.name ?? "", filled.metadata?.labels, filled.spec ?? {});
            if (app) out.push(app);
        }
    }
    return out;
}

function describeSource(app: CheckedApplication, result: RenderResult): string {
    const s = app.source;
    const type = result.ok ? result.sourceType : s.helm ? "Helm" : s.kustomize ? "Kustomize" : "?";
    const values = s.helm?.valueFiles?.length ? `, ${s.helm.valueFiles.join(", ")}` : "";
    return `${s.path ?? "."} (${type}${values})`;
}

function originOf(repo: string): string {
    const r = spawnSync("git", ["-C", repo, "remote", "get-url", "origin"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${repo} has no remote "origin": pass --repo-url <the repoURL the stack's Applications use>`);
    return r.stdout.trim();
}

/** Resets a checkout after a render (kustomize edit writes into it, as on the repo-server). */
function clean(root: string): void {
    spawnSync("git", ["-C", root, "reset", "--hard", "--quiet"]);
    spawnSync("git", ["-C", root, "clean", "-fdxq"]);
}

/** Runs the check; returns the report (the unit and integration tests call it in-process). */
export async function configCheck(args: ConfigCheckArgs): Promise<ConfigCheckReport> {
    const target = renderTarget([args.stack]);
    const stackFile = target.file ? readStackFile(target.file) : { config: {}, secretKeys: [] };
    const config: StackConfig = parseStackConfig(decodeConfig(stackFile.config, stackFile.secretKeys));
    const { resources } = await renderProgram(target.stack, stackFile, target);
    const manifests = resources.map(toManifest).filter((m): m is KubeObject => m !== undefined) as KubeObject[];
    const repoURL = args.repoURL ?? originOf(args.repo);
    const base = checkout(args.repo, args.base);
    const head = checkout(args.repo, args.head);
    try {
        const preview = (sha: string) => ({
            number: args.pr,
            head_sha: sha,
            head_short_sha: sha.slice(0, 8),
            head_short_sha_7: sha.slice(0, 7),
            branch: "config-check",
            branch_slug: "config-check",
            target_branch: "main",
            target_branch_slug: "main",
            title: "config-check",
            author: "config-check",
        });
        const apps = applicationsFrom(manifests, repoURL, preview(head.sha));
        const rules = guardrailRules(config);
        const budgets: Record<string, number> = { ...defaults.applicationPruneBudget, ...config.applicationPruneBudget };
        const checks: ApplicationCheck[] = [];
        for (const app of apps) {
            const request = (sha: string) => ({
                appName: app.name,
                namespace: app.namespace,
                source: app.source,
                project: app.project,
                revision: sha,
                kubeVersion: args.kubeVersion,
                apiVersions: args.apiVersions,
            });
            const baseResult = renderSource(base.root, request(base.sha));
            clean(base.root);
            const headResult = renderSource(head.root, request(head.sha));
            clean(head.root);
            const headObjects = headResult.ok ? headResult.objects.map((o) => o.object) : [];
            const guardrails = headResult.ok
                ? evaluateGuardrails(headObjects, {
                      rules,
                      mode: app.environment === "prod" ? "prod" : "staging",
                      declared: declaredNamespaceLabels([...manifests, ...headObjects]),
                      assumed: {},
                  }).rows
                : [];
            checks.push({
                application: app.name,
                environment: app.environment,
                source: describeSource(app, headResult.ok ? headResult : baseResult),
                allowEmpty: app.allowEmpty,
                budget: budgets[app.environment] ?? budgets.staging,
                base: baseResult,
                head: headResult,
                guardrails,
                guardrailsDeny: app.environment === "prod",
            });
        }
        return { stack: target.stack, repoURL, base: base.sha, head: head.sha, approved: args.approved, verdicts: checks.map((c) => judge(c, args.approved)) };
    } finally {
        fs.rmSync(base.root, { recursive: true, force: true });
        fs.rmSync(head.root, { recursive: true, force: true });
    }
}

/** The command: exit 0 clean, 1 a violation, 2 bad input. */
export async function runConfigCheck(
    argv: readonly string[],
    env: NodeJS.ProcessEnv = process.env,
    io: { out(text: string): void; err(text: string): void } = { out: (t) => process.stdout.write(t), err: (t) => process.stderr.write(t) },
): Promise<number> {
    try {
        const args = parseArgs(argv, env);
        const report = await configCheck(args);
        const markdown = formatMarkdown(report);
        if (args.output) fs.writeFileSync(args.output, markdown);
        io.out(markdown);
        return exitCode(report);
    } catch (error) {
        io.err(`config-check: ${(error as Error).message}\n`);
        return 2;
    }
}

if (require.main === module) {
    void runConfigCheck(process.argv.slice(2)).then((code) => process.exit(code));
}
