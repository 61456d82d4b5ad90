/**
 * The npm-script commands as real processes (argv, exit codes, stdout/stderr): the same cases the
 * unit tests run in-process (tests/support/cliCases.ts), the README's offline commands as written,
 * a team's program and a consumer project, and the main job in a fresh clone. Needs no toolchain,
 * only `tsx` (kept out of the unit suite: each process loads TypeScript and the Pulumi SDK anew).
 */
import assert from "node:assert/strict";
import { execFile, execFileSync, execSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { parseAllDocuments } from "yaml";
import { readmePath } from "../../scripts/commands/config-docs";
import { freshClone } from "../support/freshClone";
import { CommandResult, policyCheckCases, pruneBudgetCases, renderCases, repoRoot } from "../support/cliCases";

const tsx = path.join(repoRoot, "node_modules", ".bin", "tsx");

function run(command: string, args: readonly string[], env: Record<string, string> = {}): Promise<CommandResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("error", reject);
        child.on("close", (status) => resolve({ status, stdout, stderr }));
    });
}

describe("npm run policy:check (process)", () => {
    policyCheckCases((...args) => run(tsx, ["scripts/commands/policy-check.ts", ...args]));
});

describe("npm run prune-budget (process)", () => {
    pruneBudgetCases(async (args, env = {}) => {
        const r = await run(process.execPath, ["--import", "tsx", path.join(repoRoot, "scripts", "commands", "prune-budget.ts"), ...args], { PRUNE_BUDGET_APPROVED: "", ...env });
        return { code: r.status, out: r.stdout + r.stderr };
    });
});

describe("npm run render (process)", () => {
    renderCases(async (stack) => {
        const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", path.join(repoRoot, "scripts", "commands", "render.ts"), ...(stack ? [stack] : [])], {
            cwd: repoRoot,
            encoding: "utf8",
            maxBuffer: 1 << 26,
        });
        return stdout;
    });
});

describe("the engine commands refuse bad command lines before the engine (processes)", () => {
    it("npm run drift and run-local.ts as processes: one line, exit 2, no Pulumi.<typo>.yaml, no stack trace", () => {
        for (const [script, args] of [
            ["drift.ts", ["stagin"]],
            ["drift.ts", ["staging", "--jsn"]],
            ["run-local.ts", ["up", "stagin"]],
            ["run-local.ts", ["upp"]],
        ] as const) {
            const r = spawnSync(process.execPath, ["--import", "tsx", path.join(repoRoot, "scripts", "commands", script), ...args], { cwd: repoRoot, encoding: "utf8" });
            assert.equal(r.status, 2, `${script} ${args.join(" ")}: ${r.stderr}`);
            assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
            assert.match(r.stderr, /no stack "stagin"|unknown option --jsn|unknown action "upp"/);
        }
        assert.ok(!fs.existsSync(path.join(repoRoot, "Pulumi.stagin.yaml")));
    });
});

const readme = fs.readFileSync(readmePath, "utf8");

/** README commands that need no cluster, toolchain or network: run as written. */
const offline = /^(npm run --silent render|npm run --silent policy:check|npm run docs:\w+ -- --check|npm run policy:check -- tests\/)/;

function readmeCommands(): string[] {
    const fromBlocks = [...readme.matchAll(/```bash\n([\s\S]*?)```/g)].flatMap((m) => m[1].split("\n")).map((l) => l.replace(/\s+#.*$/, "").trim());
    const fromTable = [...readme.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1].replace(/\\\|/g, "|"));
    return [...new Set([...fromBlocks, ...fromTable])].filter((c) => offline.test(c) && !/[<>]\w|<[a-z]/.test(c.replace(/ > rendered\.yaml/, "")));
}

describe("README commands that run offline work as written", () => {
    const commands = readmeCommands();
    after(() => fs.rmSync(path.join(repoRoot, "rendered.yaml"), { force: true }));

    it("finds them (the render | policy:check pipeline among them)", () => {
        assert.ok(commands.includes("npm run --silent render -- staging > rendered.yaml && npm run --silent policy:check -- rendered.yaml --mode staging"), commands.join("\n"));
        assert.ok(commands.includes("npm run --silent render -- --program examples/team-service"), commands.join("\n"));
    });

    for (const command of commands) {
        it(command, () => {
            const out = execSync(command, { cwd: repoRoot, shell: "/bin/bash", encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
            if (/render -- [\w-]+$|render -- --program/.test(command)) assert.match(out, /^(# (Helm chart|Manifests) .*\n)*---\napiVersion: /, "stdout is YAML only");
        });
    }
});

describe("the team route as processes", () => {
    it("`npm run --silent render -- --program examples/team-service` renders the team program offline, YAML only", () => {
        const output = execFileSync(process.execPath, ["--import", "tsx", path.join(repoRoot, "scripts", "commands", "render.ts"), "--program", "examples/team-service"], {
            cwd: repoRoot,
            encoding: "utf8",
        });
        const kinds = parseAllDocuments(output)
            .map((d) => d.toJS() as { kind: string; metadata: { name: string } })
            .map((d) => `${d.kind}/${d.metadata.name}`);
        assert.deepEqual(kinds.filter((k) => !k.startsWith("Secret/")).sort(), [
            "AppProject/inventory",
            // Previews deploy through a project of their own (issue 17): only the previews' namespaces.
            "AppProject/inventory-previews",
            "Application/inventory-prod",
            "Application/inventory-staging",
            "ApplicationSet/inventory-previews",
            // The program makes each environment's namespace (issue 21).
            "Namespace/inventory-prod",
            "Namespace/inventory-staging",
            // A team's previews get the same protection against a mistaken ApplicationSet delete.
            "ValidatingAdmissionPolicy/gitops-control-keep-previews-inventory",
            "ValidatingAdmissionPolicyBinding/gitops-control-keep-previews-inventory",
        ]);
    });

    it('a consumer project resolves `import { GitOpsService } from "gitops-control/components"` (package exports)', () => {
        const consumer = fs.mkdtempSync(path.join(os.tmpdir(), "consumer-"));
        fs.mkdirSync(path.join(consumer, "node_modules", "@pulumi"), { recursive: true });
        // What `npm install <path to gitops-control>` creates: a link to the package.
        fs.symlinkSync(repoRoot, path.join(consumer, "node_modules", "gitops-control"));
        for (const dep of ["pulumi", "kubernetes"]) fs.symlinkSync(path.join(repoRoot, "node_modules", "@pulumi", dep), path.join(consumer, "node_modules", "@pulumi", dep));
        fs.writeFileSync(path.join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, dependencies: { "gitops-control": "file:../gitops-control" } }));
        fs.writeFileSync(
            path.join(consumer, "index.ts"),
            'import { GitOpsService, environmentPresets } from "gitops-control/components";\nconsole.log(typeof GitOpsService, environmentPresets.prod.revisionHistoryLimit);\n',
        );
        // A TypeScript loader, as Pulumi's Node.js runtime brings one (this repository's tsx here).
        const out = execFileSync(process.execPath, ["--import", require.resolve("tsx"), "index.ts"], { cwd: consumer, encoding: "utf8" });
        assert.equal(out.trim(), "function 20");
    });
});

describe("fresh machine: the main job in a clone without ../shared", () => {
    let clone = "";
    before(() => {
        clone = freshClone();
    });

    it("`bash scripts/commands/run-local.sh` stops in seconds, before the toolchain, with the one line", () => {
        // An unreachable repository (a closed local port) stands in for no network, so the test
        // never depends on whether this machine can reach the real chart repository.
        const stackFile = path.join(clone, "Pulumi.local.yaml");
        const committed = fs.readFileSync(stackFile, "utf8");
        assert.match(committed, /^ {2}gitops-control:argocd:\n/m, "the test adds the chart under the stack file's argocd key");
        fs.writeFileSync(
            stackFile,
            committed.replace(/^ {2}gitops-control:argocd:\n/m, '  gitops-control:argocd:\n    chart: { version: "10.1.1", repo: "https://127.0.0.1:9" }\n'),
        );
        const started = Date.now();
        const result = spawnSync("bash", ["scripts/commands/run-local.sh"], {
            cwd: clone,
            encoding: "utf8",
            env: { PATH: process.env.PATH ?? "", HOME: fs.mkdtempSync(path.join(os.tmpdir(), "home-")) },
        });
        const seconds = (Date.now() - started) / 1000;
        assert.equal(result.status, 1, result.stderr);
        assert.ok(seconds < 30, `${seconds} s`);
        assert.doesNotMatch(result.stdout + result.stderr, /\[toolchain\]/, "the toolchain build never started");
        assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
        assert.match(result.stderr, /no Argo CD chart reachable for stack "local": argo-cd 10\.1\.1 from https:\/\/127\.0\.0\.1:9 cannot be fetched.*Fix:/);
    });

    it("`bash scripts/commands/run-local.sh` ends with the three exports another shell continues with", () => {
        // The slow parts stubbed in the clone (chart check, toolchain, the engine run): what is
        // checked is the script's own ending, evaluated by a shell as a user would paste it.
        const stub = (file: string, text: string) => fs.writeFileSync(path.join(clone, file), text);
        stub("scripts/commands/check-chart.ts", "");
        stub("scripts/commands/run-local.ts", 'console.log("[stub] up of", process.argv.slice(2).join(" "));\n');
        const envFile = path.join(clone, "stub-env.sh");
        fs.writeFileSync(envFile, "export GITOPS_CONTROL_STUB_ENV=1\n");
        stub("scripts/toolchain/install.sh", `echo ${envFile}\n`);
        const kubeconfig = path.join(clone, "my-kubeconfig");
        const run = (env: Record<string, string>) => {
            const r = spawnSync("bash", ["scripts/commands/run-local.sh"], {
                cwd: clone,
                encoding: "utf8",
                env: { PATH: process.env.PATH ?? "", HOME: clone, KUBECONFIG: kubeconfig, ...env },
            });
            assert.equal(r.status, 0, r.stderr);
            // The CRD stack first: the local stack reads the Argo CD version it installed.
            assert.match(r.stdout, /\[stub\] up of up local-crds\n\[stub\] up of up local\n/);
            const exports = r.stdout.split("\n").filter((l) => l.startsWith("export "));
            assert.equal(exports.length, 3, r.stdout);
            const shell = spawnSync("bash", ["-c", `${exports.join("\n")}\nprintf '%s\\n' "$PULUMI_BACKEND_URL" "$PULUMI_CONFIG_PASSPHRASE" "$KUBECONFIG"`], {
                encoding: "utf8",
                env: {},
            });
            return shell.stdout.trim().split("\n");
        };
        assert.deepEqual(run({}), [`file://${clone}/.local/state`, "gitops-control-local", kubeconfig]);
        // A passphrase the user set is theirs: not printed.
        assert.deepEqual(run({ PULUMI_CONFIG_PASSPHRASE: "my-own-secret" }), [`file://${clone}/.local/state`, "<the passphrase you set>", kubeconfig]);
    });
});
