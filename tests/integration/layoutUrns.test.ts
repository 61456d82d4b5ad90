import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Stack } from "@pulumi/pulumi/automation";
import { leavesAsIs } from "../../scripts/lib/drift";
import { ResourceStep, openStack, stepRecorder } from "../../scripts/lib/engine";
import { LocalCluster, localPassphrase, repoRoot, startCluster, step } from "./support";

/**
 * Moving the components into folders by concept (issue 20) must not touch a live object: a URN is
 * made of the stack, the project, the parent chain's type tokens, the type token and the name,
 * none of which is a file path, and this proves it with the real engine. `up` of the `local` stack
 * with the program as it was right before the move, then `preview` and `up` of the same stack with
 * the program as the move left it (both trees read from git, each run by its own engine module):
 * every step is `same`, components and Kubernetes objects alike (nothing created, updated,
 * replaced or deleted), the state holds the same URNs, and every object keeps its uid. Both trees
 * are fixed commits, so later changes of the program's behaviour (a new rule, a setting) do not
 * touch this proof; they are the other tests' business.
 */

/** The move's two ends: the commit right before it (flat components/) and the last commit of the move. */
const beforeMove = "821195119d3d637efcc1b7d46e982b1a1847ded4";
const afterMove = "105d52ab1aa8a88f755d43c0e2b9d8a101435ae7";

/** `commit`, checked to be in this clone's history (a shallow clone lacks it; .ci/run fetches the history). */
function verifiedCommit(commit: string): string {
    const r = spawnSync("git", ["-C", repoRoot, "cat-file", "-e", `${commit}^{commit}`], { encoding: "utf8" });
    assert.equal(r.status, 0, `commit ${commit} is not in this clone's history (a shallow clone?): this test needs it (git fetch --unshallow)`);
    return commit;
}

/**
 * The tree of `commit` in `dir`/checkout, with this checkout's node_modules (one @pulumi/pulumi for
 * both programs) and, where this checkout has one, the same `../shared` beside it: the local stack
 * reads its chart and CRDs from there by relative path, so both programs give the provider the same inputs.
 */
function checkoutOf(commit: string, dir: string): string {
    const checkout = path.join(dir, "checkout");
    fs.mkdirSync(checkout);
    const archive = spawnSync("git", ["-C", repoRoot, "archive", "--format=tar", commit], { maxBuffer: 1 << 30 });
    assert.equal(archive.status, 0, `git archive ${commit}: ${archive.stderr}`);
    const tar = spawnSync("tar", ["-x", "-C", checkout], { input: archive.stdout });
    assert.equal(tar.status, 0, `tar: ${tar.stderr}`);
    fs.symlinkSync(fs.realpathSync(path.join(repoRoot, "node_modules")), path.join(checkout, "node_modules"));
    const shared = path.resolve(repoRoot, "..", "shared");
    if (fs.existsSync(shared)) fs.symlinkSync(fs.realpathSync(shared), path.join(dir, "shared"));
    return checkout;
}

interface StateResource {
    readonly urn: string;
    readonly custom?: boolean;
    readonly outputs?: { readonly metadata?: { readonly uid?: string } };
}

/** URN → uid (Kubernetes objects) or "" (components, providers) of the stack's state. */
async function stateUids(stack: Stack): Promise<Record<string, string>> {
    const resources = ((await stack.exportStack()).deployment as { resources?: StateResource[] }).resources ?? [];
    return Object.fromEntries(resources.map((r) => [r.urn, r.outputs?.metadata?.uid ?? ""]));
}

// The read of the CRD stack's outputs (a StackReference) is a step of every run, not a change.
const changed = (steps: readonly ResourceStep[]) => steps.filter((s) => !leavesAsIs(s)).map((s) => `${s.op} ${s.urn} ${JSON.stringify(s.detailedDiff)}`);

describe("the layout by concept keeps every URN of the local stack (real engine, real API server)", { timeout: 20 * 60 * 1000 }, () => {
    let cluster: LocalCluster;
    let stateDir: string;
    let beforeDir: string;
    let afterDir: string;
    let firstUp: ResourceStep[] = [];
    let preview: ResourceStep[] = [];
    let secondUp: ResourceStep[] = [];
    let urnsBefore: Record<string, string> = {};
    let urnsAfter: Record<string, string> = {};

    before(async () => {
        const commit = verifiedCommit(beforeMove);
        beforeDir = fs.mkdtempSync(path.join(os.tmpdir(), "layout-before-"));
        afterDir = fs.mkdtempSync(path.join(os.tmpdir(), "layout-after-"));
        stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "layout-state-"));
        const checkout = checkoutOf(commit, beforeDir);
        assert.ok(!fs.existsSync(path.join(checkout, "components", "core")) && fs.existsSync(path.join(checkout, "components", "ArgoCd.ts")), `${commit} is not the flat layout`);
        const moved = checkoutOf(verifiedCommit(afterMove), afterDir);
        assert.ok(fs.existsSync(path.join(moved, "components", "core", "errors.ts")), `${afterMove} is not the layout by concept`);
        cluster = startCluster();
        // Both programs in the committed layout's shape (the CRDs in the CRD stack, run first; before the
        // move the local stack file still carried them, so both get the same stack key): the move is
        // what differs, not the stack file.
        const common = { backendUrl: `file://${stateDir}`, passphrase: localPassphrase, kubeconfig: cluster.kubeconfig, disposableState: true };
        await (await openStack({ stackName: "local-crds", ...common })).up();
        const options = { stackName: "local", ...common, configOverrides: { argocd: { crds: { stack: "local-crds" } } } };

        step(`up of the local stack with the program before the move (${commit.slice(0, 12)}, flat components/)`);
        // The same engine module, from that tree: its openStack runs that tree's stackProgram in that checkout.
        const legacyEngine = (await import(path.join(checkout, "scripts", "lib", "engine.ts"))) as typeof import("../../scripts/lib/engine");
        const first = stepRecorder();
        const up = await (await legacyEngine.openStack(options)).up({ onEvent: first.onEvent });
        assert.equal(up.summary.result, "succeeded");
        firstUp = first.steps;
        // The moved program, from its own tree and engine module.
        const movedEngine = (await import(path.join(moved, "scripts", "lib", "engine.ts"))) as typeof import("../../scripts/lib/engine");
        const current = await movedEngine.openStack(options);
        urnsBefore = await stateUids(current);

        // A preview first: were a URN to change, `up` would create the object again and delete the old one.
        step(`preview with the program as the move left it (${afterMove.slice(0, 12)}, components by concept)`);
        const previewed = stepRecorder();
        await current.preview({ onEvent: previewed.onEvent });
        preview = previewed.steps;
        if (changed(preview).length > 0) return;
        step("up with the program as the move left it");
        const second = stepRecorder();
        await current.up({ onEvent: second.onEvent });
        secondUp = second.steps;
        urnsAfter = await stateUids(current);
    });

    after(() => {
        cluster?.stop();
        for (const dir of [stateDir, beforeDir, afterDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("the program before the move created the whole local stack", () => {
        const created = firstUp.filter((s) => s.op === "create");
        assert.ok(created.length >= 100, `${created.length} resources created`);
        for (const type of [
            "gitops-control:index:ControlPlane",
            "gitops-control:argocd:ArgoCd",
            "gitops-control:guardrails:AdmissionGuardrails",
            "kubernetes:argoproj.io/v1alpha1:Application",
        ]) {
            assert.ok(
                created.some((s) => s.type === type),
                type,
            );
        }
        assert.equal(Object.keys(urnsBefore).length, new Set(firstUp.map((s) => s.urn)).size);
    });

    it("the preview of the moved program creates, updates, replaces and deletes nothing", () => {
        assert.ok(preview.length > 0, "the preview reported no step");
        assert.deepEqual(changed(preview), []);
        assert.equal(preview.length, firstUp.length);
    });

    it("its up changes nothing either, and the state holds the same URNs, every Kubernetes object with the same uid", () => {
        assert.deepEqual(changed(secondUp), []);
        assert.equal(secondUp.length, firstUp.length);
        assert.deepEqual(urnsAfter, urnsBefore);
        assert.ok(Object.values(urnsBefore).filter((uid) => uid !== "").length >= 50, "uids recorded");
    });
});
