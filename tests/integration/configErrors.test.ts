import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { localPassphrase, repoRoot } from "./support";

/**
 * Issue 20 with the real engine: a bad service in the `local` stack (Pulumi.local.yaml, file
 * backend, the Automation API driving the CLI) stops `preview` and `up` before any resource is
 * registered. The engine's event stream has no resource step but the stack itself, and the state
 * holds nothing else: the config is checked before the program registers anything. (Before, a
 * service named `default` was refused after 117 objects in a preview and 111 created by `up`.)
 */
describe("the real engine: a bad service registers nothing", () => {
    let stateDir: string;
    const bad = {
        services: [
            { name: "default", team: "payments", repoURL: "https://github.com/acme/payments.git", path: "deploy", targetRevision: "v1.0.0" },
            { name: "shop", team: "shop", repoURL: "ssh://bob:hunter2@github.com/acme/shop.git", targetRevision: "v1.0.0" },
        ],
    };
    const stateTypes = (): string[] => {
        const file = path.join(stateDir, ".pulumi", "stacks", "gitops-control", "local.json");
        if (!fs.existsSync(file)) return [];
        const state = JSON.parse(fs.readFileSync(file, "utf8")) as { checkpoint: { latest?: { resources?: { type: string }[] } } };
        return state.checkpoint.latest?.resources?.map((r) => r.type) ?? [];
    };

    before(() => {
        stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "config-errors-"));
    });

    after(() => fs.rmSync(stateDir, { recursive: true, force: true }));

    for (const operation of ["preview", "up"] as const) {
        it(`${operation} stops with every problem, naming the stack keys, and nothing registered`, async () => {
            // No cluster (the kubeconfig does not exist): the program must stop before it would need one.
            const run = spawnSync(
                process.execPath,
                ["--import", "tsx", path.join(__dirname, "fixtures", "runWithConfig.ts"), operation, "local", `file://${stateDir}`, localPassphrase, JSON.stringify(bad)],
                { cwd: repoRoot, encoding: "utf8", timeout: 300_000 },
            );
            const line = run.stdout.split("\n").find((l) => l.startsWith("{"));
            assert.ok(line, `no result from the engine run:\n${run.stdout}\n${run.stderr}`);
            const { message, types: steps } = JSON.parse(line) as { message: string; types: string[] };
            assert.match(
                message,
                /`gitops-control:services\[0\]\.name` \(service "default", GitOpsService arg `name`\) is "default", which is Argo CD's built-in AppProject `default`/,
            );
            assert.match(message, /`gitops-control:services\[1\]\.repoURL` \(service "shop", GitOpsService arg `repoURL`\) carries credentials \(user:password@ in the URL\)/);
            const types = steps.filter((t) => t !== "pulumi:pulumi:Stack");
            assert.deepEqual(types, [], `resource steps in the event stream: ${types.join(", ")}`);
            assert.deepEqual(
                stateTypes().filter((t) => t !== "pulumi:pulumi:Stack"),
                [],
                "state holds no resource",
            );
        });
    }
});
