/**
 * How the engine commands report what goes wrong, with the real CLI (the toolchain's, found through
 * GITOPS_CONTROL_PULUMI_ROOT) on a throw-away file backend; no cluster is needed because nothing
 * gets as far as a resource. A config error is printed once, as its message, without a stack trace;
 * drift refuses a stack that has no state instead of creating it.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, describe, it } from "node:test";
import { StackOptions, openStack } from "../../scripts/lib/engine";
import { localPassphrase, repoRoot } from "./support";

const backend = fs.mkdtempSync(path.join(os.tmpdir(), "engine-errors-"));
const backendUrl = `file://${backend}`;
after(() => fs.rmSync(backend, { recursive: true, force: true }));

/** A failing preview or up in a child process (fixtures/engineErrorInChild.ts). */
function failing(op: "preview" | "up", options: StackOptions): { passed: boolean; output: string; failure?: string; configError?: string; message?: string } {
    const child = spawnSync(process.execPath, ["--import", "tsx", path.join(__dirname, "fixtures", "engineErrorInChild.ts"), op, JSON.stringify(options)], {
        encoding: "utf8",
        timeout: 5 * 60 * 1000,
    });
    assert.equal(child.status, 0, child.stderr);
    return JSON.parse(child.stdout) as ReturnType<typeof failing>;
}

const badLocal: StackOptions = { stackName: "local", backendUrl, passphrase: localPassphrase, configOverrides: { guardrails: { replicaCap: "x" } } };
const expected =
    'Invalid stack config (1 problem):\n- `gitops-control:guardrails.replicaCap` must be number, not "x". Fix: correct the value (see the config reference in README.md)';

describe("engine commands: errors", () => {
    it("a config error fails the preview before any resource, and is reported once, as the message, without a stack trace", () => {
        const r = failing("preview", badLocal);
        assert.equal(r.passed, false);
        assert.equal(r.configError, expected);
        assert.equal(r.failure, expected);
        // What the engine itself prints: the problem once in its diagnostics (thrown as it was, the
        // SDK's inline-program server printed it twice, as "Unhandled exception" with a stack trace).
        assert.equal(r.output.split("- `gitops-control:guardrails.replicaCap`").length - 1, 1, r.output);
        for (const text of [r.output, r.message ?? ""]) assert.doesNotMatch(text, /Unhandled exception|\n\s+at [\w.<>]+ \(/);
    });

    it("a config error in `up` leaves the stack's last outputs and resources as they were", async () => {
        const stack = await openStack({ stackName: "local", backendUrl, passphrase: localPassphrase });
        // The state of an earlier successful up, as far as this test needs it: the stack's outputs.
        const state = await stack.exportStack();
        const root = {
            urn: "urn:pulumi:local::gitops-control::pulumi:pulumi:Stack::gitops-control-local",
            custom: false,
            type: "pulumi:pulumi:Stack",
            outputs: { environment: "local" },
        };
        await stack.importStack({ ...state, deployment: { ...state.deployment, resources: [root] } });
        const r = failing("up", badLocal);
        assert.equal(r.passed, false);
        assert.equal(r.failure, expected);
        const after = (await stack.exportStack()).deployment.resources as { type: string; outputs?: Record<string, unknown> }[];
        assert.deepEqual(
            after.map((s) => [s.type, s.outputs]),
            [["pulumi:pulumi:Stack", { environment: "local" }]],
        );
    });

    it("the engine route runs the pinned CLI even when a normally installed `pulumi` comes first on PATH", () => {
        assert.ok(process.env.GITOPS_CONTROL_PULUMI_ROOT, "source the toolchain's env first (it names the pinned CLI)");
        // A stand-in for a normal install: `pulumi` with its language host beside it; it only fails.
        const normal = fs.mkdtempSync(path.join(os.tmpdir(), "normal-pulumi-"));
        for (const name of ["pulumi", "pulumi-language-nodejs"]) fs.writeFileSync(path.join(normal, name), "#!/bin/sh\necho 'the normal CLI ran' >&2\nexit 97\n", { mode: 0o755 });
        const empty = fs.mkdtempSync(path.join(os.tmpdir(), "engine-errors-empty-"));
        const r = spawnSync(process.execPath, ["--import", "tsx", path.join(repoRoot, "scripts", "commands", "drift.ts"), "staging"], {
            cwd: repoRoot,
            encoding: "utf8",
            env: { ...process.env, PATH: `${normal}:${process.env.PATH ?? ""}`, PULUMI_BACKEND_URL: `file://${empty}`, PULUMI_CONFIG_PASSPHRASE: "gitops-control-demo" },
        });
        // The pinned CLI looked the stack up (and found none); the stand-in never ran.
        assert.match(r.stderr, /has a stack file but no state in file:/, r.stderr);
        assert.doesNotMatch(r.stderr, /the normal CLI ran/);
        fs.rmSync(normal, { recursive: true, force: true });
        fs.rmSync(empty, { recursive: true, force: true });
    });

    it("npm run drift on a stack with a stack file but no state", () => {
        const empty = fs.mkdtempSync(path.join(os.tmpdir(), "engine-errors-empty-"));
        const r = spawnSync(process.execPath, ["--import", "tsx", path.join(repoRoot, "scripts", "commands", "drift.ts"), "staging"], {
            cwd: repoRoot,
            encoding: "utf8",
            env: { ...process.env, PULUMI_BACKEND_URL: `file://${empty}`, PULUMI_CONFIG_PASSPHRASE: "gitops-control-demo" },
        });
        assert.equal(r.status, 2, r.stderr);
        assert.equal(
            r.stderr,
            `drift check failed: stack "staging" has a stack file but no state in file://${empty}: it was never deployed there. Fix: point PULUMI_BACKEND_URL at the stack's backend, or run pulumi up first\n`,
        );
        assert.ok(!fs.existsSync(path.join(empty, ".pulumi", "stacks")), "no stack was created");
        fs.rmSync(empty, { recursive: true, force: true });
    });
});
