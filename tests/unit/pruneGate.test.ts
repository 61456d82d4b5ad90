/**
 * The prune gate's contract without a cluster: who may approve a held prune (the `approve-prunes`
 * rule, evaluated by the offline CEL evaluator exactly as rendered), what the gate's fence admits,
 * and what the stack renders. The same rules on the real API server, with Argo CD v3.6.1's
 * controllers: tests/integration/pruneGate.test.ts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { GuardrailEvaluator, KubeObject, UserInfo, admissionRequest, compileRule } from "../../scripts/lib/policyEvaluator";
import { approvePrunes, deletionApprovedAnnotation } from "../../components/guardrails/rules/approve-prunes";
import { pruneApprovalRule, pruneGateScopePolicySpec, pruneGateScript, pruneGateUsername, validatePruneGateArgs } from "../../components/pruning/PruneGate";
import type { GuardrailRule } from "../../components/guardrails/types";
import { requireResolvedService } from "../../components/serviceSpec";
import { buildControlPlaneArgs, parseStackConfig } from "../../stacks/config";

const started = "2026-12-06T23:59:01Z";
const gate: UserInfo = { username: pruneGateUsername("argocd"), groups: ["system:serviceaccounts", "system:serviceaccounts:argocd", "system:authenticated"] };
const approver: UserInfo = { username: "alice@example.com", groups: ["gitops-control:prune-approvers", "system:authenticated"] };
const editor: UserInfo = { username: "bob@example.com", groups: ["test:app-editors", "system:authenticated"] };

/** A prod Application whose sync waits with `pruning` objects to prune. */
function application(pruning: number, annotations: Record<string, string> = {}, environment = "prod"): KubeObject {
    return {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Application",
        metadata: { name: `shop-${environment}`, namespace: "argocd", labels: { "gitops-control.io/environment": environment }, annotations },
        spec: { project: "shop" },
        status: {
            operationState: { phase: "Running", startedAt: started, message: "waiting for pruning confirmation of /ConfigMap/a" },
            resources: [...Array.from({ length: pruning }, (_, i) => ({ kind: "ConfigMap", name: `gone-${i}`, requiresPruning: true })), { kind: "Deployment", name: "shop" }],
        },
    } as KubeObject;
}

function decide(rule: GuardrailRule, old: KubeObject, updated: KubeObject, user: UserInfo) {
    const evaluator = new GuardrailEvaluator([rule]);
    const [d] = evaluator.evaluate(admissionRequest(updated, { operation: "UPDATE", oldObject: old, userInfo: user }));
    return d;
}

const approve = (pruning: number, value: string, user: UserInfo, environment = "prod") =>
    decide(
        pruneApprovalRule({ namespace: "argocd", budget: 1 }),
        application(pruning, {}, environment),
        application(pruning, { [deletionApprovedAnnotation]: value }, environment),
        user,
    );

describe("approve-prunes: who may approve a held prune", () => {
    it("compiles for the API server's CEL (no gaps the offline evaluator cannot model)", () => {
        assert.doesNotThrow(() => compileRule(pruneApprovalRule({ namespace: "argocd" })));
    });

    it("a member of the approver group approves any prune, and the audit log says who approved what", () => {
        const d = approve(7, "2026-12-07T00:10:00Z", approver);
        assert.equal(d.verdict, "Allow", d.message);
        assert.deepEqual(d.auditAnnotations, {
            "gitops-control-approve-prunes/approved": "alice@example.com approved 7 prunes of Application shop-prod (budget 1) as of 2026-12-07T00:10:00Z",
        });
    });

    it("anyone else is refused, with the rule and the fix in the message", () => {
        const d = approve(2, "2026-12-07T00:10:00Z", editor);
        assert.equal(d.verdict, "Deny");
        assert.equal(
            d.message,
            "bob@example.com may not approve the prunes of Application shop-prod (2 to prune, budget 1): only members of gitops-control:prune-approvers approve prunes the gate held (kubectl annotate as one of them) (guardrail approve-prunes)",
        );
    });

    it("the gate approves within the budget, and only the running operation (its startedAt)", () => {
        assert.equal(approve(1, started, gate).verdict, "Allow");
        assert.equal(approve(0, started, gate).verdict, "Allow");
        const later = approve(1, "2099-01-01T00:00:00Z", gate);
        assert.equal(later.verdict, "Deny", "a future time would approve every later operation");
        assert.match(later.message ?? "", /the gate approves only the running operation, with its startedAt/);
    });

    it("the gate over the budget is refused: a person approves", () => {
        const d = approve(2, started, gate);
        assert.equal(d.verdict, "Deny");
        assert.match(d.message ?? "", /gitops-control-prune-gate may not approve the prunes of Application shop-prod \(2 to prune, budget 1\): over the budget, a person approves/);
    });

    it("only covered (prod) Applications; removing the approval or leaving it unchanged is not judged", () => {
        assert.equal(approve(9, started, editor, "staging").verdict, "NotApplicable");
        const rule = pruneApprovalRule({ namespace: "argocd", budget: 1 });
        const withApproval = application(3, { [deletionApprovedAnnotation]: started });
        assert.equal(decide(rule, withApproval, application(3), editor).verdict, "NotApplicable");
        assert.equal(decide(rule, withApproval, withApproval, editor).verdict, "NotApplicable");
    });

    it("refuses bad options with the field and the fix", () => {
        assert.throws(() => approvePrunes({ gateUsername: "gate", budget: 1 }), /`approvePrunes\.gateUsername` is "gate"\. Fix: use the gate's service account/);
        assert.throws(() => approvePrunes({ gateUsername: pruneGateUsername("argocd"), budget: -1 }), /`approvePrunes\.budget` is -1/);
        assert.throws(
            () => validatePruneGateArgs({ namespace: "argocd", approverGroups: ["system:authenticated"] }),
            /`args\.approverGroups\[0\]` is "system:authenticated"\. Fix: name a dedicated group/,
        );
        assert.throws(() => validatePruneGateArgs({ namespace: "argocd", approverGroups: [] }), /`args\.approverGroups` is empty/);
        assert.throws(() => validatePruneGateArgs({ namespace: "argocd", intervalSeconds: 0 }), /`args\.intervalSeconds` is 0/);
    });
});

describe("the prune gate's fence", () => {
    const spec = pruneGateScopePolicySpec(pruneGateUsername("argocd"));
    it("matches only the gate's own requests, and keeps it to two annotations of prod Applications", () => {
        assert.deepEqual(spec.matchConditions, [{ name: "is-gate", expression: "request.userInfo.username == 'system:serviceaccount:argocd:gitops-control-prune-gate'" }]);
        const validations = spec.validations as { expression: string }[];
        assert.match(validations[0].expression, /oldObject\.metadata\.labels\['gitops-control\.io\/environment'\] == 'prod'/);
        for (const field of ["spec", "operation", "status", "metadata.labels"]) assert.ok(validations[1].expression.includes(`object.${field} == oldObject.${field}`), field);
        assert.ok(validations[1].expression.includes("['gitops-control.io/prune-held', 'argocd.argoproj.io/deletion-approved']"));
    });
});

describe("the prune gate in a stack", () => {
    const service = { name: "shop", team: "storefront", repoURL: "https://github.com/acme/shop.git", path: "deploy/chart", targetRevision: "v1.0.0" };
    const build = (raw: Record<string, unknown>) => buildControlPlaneArgs(parseStackConfig(raw), {});
    const syncOptions = (args: ReturnType<typeof build>, env: string) =>
        requireResolvedService(args.services[0].name, {
            ...args.services[0].args,
            ...(args.pruneGate ? { confirmPrunes: true } : {}),
            argoNamespace: args.argoCd.namespace,
        }).environments.find((e) => e.name === env)?.syncPolicy.syncOptions;

    it("on by default in prod stacks, with applicationPruneBudget.prod as its budget; prod Applications get Prune=confirm", () => {
        const args = build({ environment: "prod", services: [service], applicationPruneBudget: { prod: 3 } });
        assert.deepEqual(args.pruneGate, { budget: 3 });
        assert.ok(syncOptions(args, "prod")?.includes("Prune=confirm"));
    });

    it("off by default in the local stack (no kubelet runs it); when enabled there, staging keeps its preset", () => {
        assert.equal(build({ environment: "local", services: [service] }).pruneGate, undefined);
        const on = build({ environment: "local", services: [service], pruneGate: { enabled: true, approverGroups: ["sre:prod-deletes"], intervalSeconds: 2 } });
        assert.deepEqual(on.pruneGate, { budget: 5, approverGroups: ["sre:prod-deletes"], intervalSeconds: 2, skipAwait: true });
        assert.ok(syncOptions(on, "prod")?.includes("Prune=confirm"));
        assert.ok(!syncOptions(on, "staging")?.some((o) => o.startsWith("Prune=")));
    });

    it("bad settings name the stack key and the fix", () => {
        assert.throws(
            () => build({ environment: "prod", services: [service], pruneGate: { approverGroups: ["system:authenticated"] } }),
            /`gitops-control:pruneGate\.approverGroups\[0\]` \(PruneGate arg `approverGroups\[0\]`\) is "system:authenticated"\. Fix: name a dedicated group/,
        );
        assert.throws(
            () => build({ environment: "prod", services: [service], pruneGate: { intervalSeconds: 0 } }),
            /`gitops-control:pruneGate\.intervalSeconds` \(PruneGate arg `intervalSeconds`\) is 0/,
        );
    });
});

describe("one pass of the gate's script (a stand-in kubectl serving Applications as the jsonpath prints them)", () => {
    const waiting = (more: number) =>
        `Running|${started}|||${"true ".repeat(more + 1).trim()}|waiting for pruning confirmation of /ConfigMap/a${more ? ` and ${more} more resources` : ""}`;
    function pass(lines: readonly string[]): { writes: string[]; stdout: string } {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prune-gate-"));
        const fake = path.join(dir, "kubectl");
        fs.writeFileSync(path.join(dir, "apps"), lines.map((l) => `${l}\n`).join(""));
        fs.writeFileSync(
            fake,
            `#!/bin/sh
case "$1" in
  get) cat "${dir}/apps" ;;
  patch) echo "$3 $*" >> "${dir}/writes" ;;
  create) printf 'event %s\\n' "$(sed -n 's/.*"reason":"\\([A-Za-z]*\\)".*/\\1/p')" >> "${dir}/writes" ;;
esac
`,
            { mode: 0o755 },
        );
        try {
            const run = spawnSync("sh", ["-c", pruneGateScript()], { encoding: "utf8", env: { ...process.env, KUBECTL: fake, PRUNE_BUDGET: "2" } });
            assert.equal(run.status, 0, run.stderr);
            const writes = fs.existsSync(path.join(dir, "writes")) ? fs.readFileSync(path.join(dir, "writes"), "utf8").trim().split("\n") : [];
            return { writes, stdout: run.stdout };
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }
    const approval = (name: string) =>
        `${name} patch applications.argoproj.io ${name} -n argocd --type merge -p {"metadata":{"annotations":{"argocd.argoproj.io/deletion-approved":"${started}","gitops-control.io/prune-held":null}}}`;

    it("approves a waiting sync within the budget with its own startedAt, and holds one over it with the reason", () => {
        const { writes, stdout } = pass([`small|u1|${waiting(1)}`, `large|u2|${waiting(2)}`]);
        assert.deepEqual(writes.slice(0, 2), [approval("small"), "event PruneApproved"]);
        assert.match(
            writes[2],
            /^large patch .*"gitops-control\.io\/prune-held":"held: the sync started at 2026-12-06T23:59:01Z would prune 3 objects, over the budget of 2 \(applicationPruneBudget\.prod\)/,
        );
        assert.equal(writes[3], "event PruneHeld");
        assert.equal(writes.length, 4);
        assert.match(stdout, /small: PruneApproved: approved: the sync started at 2026-12-06T23:59:01Z prunes 2 object\(s\), within the budget of 2/);
    });

    it("the larger count decides: a revert pushed while a mass prune waits (current count 0) does not get it approved, nor a later commit removing more", () => {
        const reverted = `Running|${started}|||false false|waiting for pruning confirmation of /ConfigMap/a and 4 more resources`;
        const grown = `Running|${started}|||true true true true|waiting for pruning confirmation of /ConfigMap/a`;
        const { writes } = pass([`reverted|u1|${reverted}`, `grown|u2|${grown}`]);
        assert.match(writes[0], /^reverted patch .*would prune 5 objects/);
        assert.match(writes[2], /^grown patch .*would prune 4 objects/);
        assert.equal(writes.filter((w) => w.includes(`"argocd.argoproj.io/deletion-approved":"`)).length, 0);
    });

    it("writes nothing for an approved operation, a hold already recorded, or an Application with nothing waiting; clears a stale hold", () => {
        const held = `held: the sync started at ${started} would prune 3 objects, over the budget of 2 (applicationPruneBudget.prod). Check the commit; if the removal is intended, a member of gitops-control:prune-approvers approves: kubectl annotate applications.argoproj.io large -n argocd --overwrite argocd.argoproj.io/deletion-approved=<now, UTC RFC 3339>; if not, revert it and end this sync (argocd app terminate-op), or the next commit waits behind it`;
        const { writes } = pass([
            `approved|u1|Running|${started}|2026-12-07T00:05:00Z||true true true|waiting for pruning confirmation of /ConfigMap/a and 2 more resources`,
            `large|u2|Running|${started}||${held}|true true true|waiting for pruning confirmation of /ConfigMap/a and 2 more resources`,
            `synced|u3|Succeeded|${started}||||successfully synced (all tasks run)`,
            `done|u4|Succeeded|${started}||${held}||successfully synced (all tasks run)`,
        ]);
        assert.deepEqual(writes, ['done patch applications.argoproj.io done -n argocd --type merge -p {"metadata":{"annotations":{"gitops-control.io/prune-held":null}}}']);
    });
});
