import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { GuardrailBinding, guardrailManifests, policyName } from "../../components/guardrails/AdmissionGuardrails";
import { GuardrailEvaluator, KubeObject, RuleDecision, UserInfo, admissionRequest, argoCdControllerUser, defaultWriter, resourceOf } from "../../scripts/lib/policyEvaluator";
import { defaultRules } from "../../components/guardrails/rules";
import { GuardrailRule, Operation } from "../../components/guardrails/types";
import { labels } from "../../components/core/labels";
import { Expectation, caseUser, fixtureRules, readFixture, readFixtureFolder, storedObject } from "../support/guardrailFixtures";
import { KubectlResult, LocalCluster, applyList, argoCdCrds, compliantPodSpec, eventually, kubectl, kubectlOk, startCluster, step } from "./support";

/**
 * The guardrail fixtures (components/guardrails/rules, contract in its README.md) replayed through
 * admission on a real kube-apiserver, with every rule of defaultRules() rendered and bound exactly
 * as AdmissionGuardrails deploys it. For each fixture the real verdict and denial message must
 * equal both the offline evaluator's (computed here, at test time) and expectations.yaml: the
 * point is that `npm run policy:check` and the unit tests predict what the API server does.
 * Every disagreement is collected and reported in one table, so one run shows them all.
 *
 * Faithfulness notes (what a kubelet-less local API server can and cannot show):
 * - Admission needs no kubelet: objects are defaulted, validated, admitted and stored exactly as
 *   on a full cluster; nothing runs, which no fixture depends on.
 * - bad-privileged.yaml needs kube-apiserver --allow-privileged=true (scripts/cluster/local-cluster.sh):
 *   object validation runs before validating admission and would refuse it otherwise.
 * - Every write is a server-side apply (`kubectl apply --server-side`): a client-side re-apply of
 *   an unchanged manifest sends no request at all ("unchanged"), so the UPDATE cases would never
 *   reach admission. SSA always sends the PATCH, and admission runs on it like on any update.
 * - Audit annotations only exist in the audit log: the cluster is started with
 *   LOCAL_CLUSTER_AUDIT_LOG=1 and the annotations of each case's last write are read back from
 *   <cluster>/audit.log. Without that log they could not be checked at all.
 * - Why a policy did not apply (`skippedBy` in expectations.yaml: a matchCondition or selector)
 *   is offline-only: the API server's answer to an admitted request does not say whether a policy
 *   passed it or skipped it, so for those fixtures only "admitted" is compared.
 * - Type-checking warnings (ValidatingAdmissionPolicy status.typeChecking) are not read: they are
 *   written by kube-controller-manager's validatingadmissionpolicy-status-controller, which
 *   scripts/cluster/local-cluster.sh does not run. Enforcement does not wait for them, and an expression
 *   that fails at run time shows up here as a denial with the CEL error instead of the message.
 * - The offline evaluator sees the manifest as written; the API server sees it after defaulting
 *   (e.g. an absent pod securityContext becomes {}, StatefulSet replicas 1). Agreement here is
 *   what shows the rules are written for the defaulted object.
 */

/** The placeholder namespace of the fixtures, and the namespace they are replayed in. */
const placeholder = "guardrails-fixtures";
const namespace = "guardrails-replay";
const prefix = "gitops-control";
const environmentLabel = labels.environment;
const failurePolicy = "Fail" as const;
/** The prod binding of the README: what the offline evaluator assumes and what is deployed here. */
const prodBinding: GuardrailBinding = { environment: "prod", validationActions: ["Deny", "Audit"] };

interface Case {
    readonly rule: string;
    readonly file: string;
    /** Where it is replayed: the replay namespace (prod), or its folder's own namespace (e.g. argocd), unlabelled. */
    readonly namespace: string;
    /** The fixture with its namespace substituted: what is sent to the API server and evaluated offline. */
    readonly object: KubeObject;
    /** What an UPDATE or DELETE starts from (the case's `old` or `oldLabels`, else the fixture), namespace substituted. */
    readonly stored: KubeObject;
    readonly expectation: Expectation;
    readonly operation: Operation;
    /** "" for the object itself; `ephemeralcontainers` or `exec` (see components/guardrails/rules/README.md). */
    readonly subResource: string;
    readonly user: UserInfo;
    readonly dryRun: boolean;
}

/** A decision as the table shows it: verdict, and for Deny the message (and which policy said it). */
interface Outcome {
    readonly verdict: "Allow" | "Deny" | "Error";
    readonly message?: string;
    readonly policy?: string;
    readonly auditAnnotations?: Readonly<Record<string, string>>;
}

interface Disagreement {
    readonly fixture: string;
    readonly expected: string;
    readonly offline: string;
    readonly real: string;
    readonly message: string;
}

/** The Pod a `kubectl debug` fixture starts from: the fixture without its ephemeral containers. */
function withoutEphemeral(pod: KubeObject): KubeObject {
    const { ephemeralContainers: _added, ...spec } = pod.spec as Record<string, unknown>;
    return { ...pod, spec };
}

/** The Pod an exec fixture (PodExecOptions named after its Pod) connects to: compliant with every rule. */
function execTarget(options: KubeObject): KubeObject {
    const name = options.metadata?.name ?? "exec-target";
    const podLabels = { "app.kubernetes.io/name": name, [labels.team]: "payments" };
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: options.metadata?.namespace, labels: podLabels },
        spec: compliantPodSpec(),
    };
}

/** The Deployment a Scale fixture (named after it) scales: compliant with every rule, one replica. */
function scaleTarget(scale: KubeObject): KubeObject {
    const pod = execTarget(scale);
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: pod.metadata,
        spec: {
            replicas: 1,
            selector: { matchLabels: { "app.kubernetes.io/name": pod.metadata?.name } },
            template: { metadata: { labels: pod.metadata?.labels }, spec: pod.spec },
        },
    };
}

const rules: GuardrailRule[] = defaultRules();
// The replay namespace is the cluster's one prod namespace: the parameter of require-application-environment.
const offline = new GuardrailEvaluator(rules, {
    binding: prodBinding,
    environmentLabel,
    failurePolicy,
    namePrefix: prefix,
    namespaces: { [namespace]: { [environmentLabel]: prodBinding.environment } },
});
const policyNames = rules.map((r) => policyName(prefix, r));

/** The fixture in the replay namespace; an Application deploying to the placeholder deploys to the replay namespace. */
function withNamespace(fixture: KubeObject): KubeObject {
    const moved = { ...fixture, metadata: { ...fixture.metadata, namespace } };
    const spec = fixture.spec as { destination?: { namespace?: string } } | undefined;
    if (fixture.kind !== "Application" || spec?.destination?.namespace !== placeholder) return moved;
    return { ...moved, spec: { ...spec, destination: { ...spec.destination, namespace } } };
}

function loadCases(): Case[] {
    const dirs = fixtureRules();
    assert.deepEqual(dirs, rules.map((r) => r.name).sort(), "one fixture folder per rule of defaultRules()");
    return dirs.flatMap((rule) => {
        const { dir, declaredRule, cases, files, namespace: folderNamespace } = readFixtureFolder(rule);
        assert.equal(declaredRule, rule, `${dir}/expectations.yaml names its rule`);
        // A folder of its own namespace (not the placeholder) is replayed there, as it is.
        const own = folderNamespace !== placeholder;
        assert.deepEqual(Object.keys(cases).sort(), files, `${rule}: one expectation per fixture`);
        const expectations = { cases };
        return files.map((file): Case => {
            const fixture = readFixture(path.join(dir, file));
            const namespaced = resourceOf(fixture.kind).namespaced;
            if (namespaced) assert.equal(fixture.metadata?.namespace, folderNamespace, `${rule}/${file} sits in the placeholder namespace (or its folder's own)`);
            const e = expectations.cases[file];
            const stored = storedObject(fixture, e, dir);
            return {
                rule,
                file,
                namespace: own ? folderNamespace : namespace,
                object: namespaced && !own ? withNamespace(fixture) : fixture,
                stored: namespaced && !own ? withNamespace(stored) : stored,
                // A message naming the placeholder namespace names the replay namespace here.
                expectation: e.message?.includes(placeholder) ? { ...e, message: e.message.replaceAll(placeholder, namespace) } : e,
                operation: e.operation ?? (fixture.kind === "PodExecOptions" ? "CONNECT" : "CREATE"),
                subResource: e.subResource ?? (fixture.kind === "PodExecOptions" ? "exec" : ""),
                user: caseUser(fixture, e),
                dryRun: e.dryRun ?? false,
            };
        });
    });
}

/** The offline evaluator's answer for one case: denied if any rule denies (the first, in rule order). */
function offlineOutcome(c: Case): Outcome & { readonly denials: readonly RuleDecision[] } {
    const decisions = offline.evaluate(
        admissionRequest(c.object, {
            ...(c.expectation.oldLabels || c.expectation.old ? { oldObject: c.stored } : {}),
            operation: c.operation,
            subResource: c.subResource,
            userInfo: c.user,
            dryRun: c.dryRun,
            namespaceLabels: c.namespace === namespace ? { [environmentLabel]: prodBinding.environment } : {},
        }),
    );
    const auditAnnotations = Object.assign({}, ...decisions.map((d) => d.auditAnnotations)) as Record<string, string>;
    const denials = decisions.filter((d) => d.verdict === "Deny");
    if (denials.length === 0) return { verdict: "Allow", auditAnnotations, denials };
    return { verdict: "Deny", message: denials[0].message, policy: denials[0].policy, auditAnnotations, denials };
}

const asUser = (u: UserInfo): string[] => [`--as=${u.username}`, ...(u.groups ?? []).map((g) => `--as-group=${g}`)];

/**
 * What a CONNECT (`kubectl exec`) gets once admission has let it through, on an API server without
 * nodes: the API server then looks for the Pod's node to proxy to, and there is none.
 */
const connectAdmitted = /does not have a host assigned/;

/** Reads the API server's answer: a VAP denial (policy, message after `denied request: `), admitted, or another error. */
function realOutcome(r: KubectlResult): Outcome {
    if (r.code === 0) return { verdict: "Allow" };
    const denied = /ValidatingAdmissionPolicy '([^']+)' with binding '[^']+' denied request: (.*)$/m.exec(r.stderr);
    if (denied) return { verdict: "Deny", policy: denied[1], message: denied[2] };
    if (connectAdmitted.test(r.stderr)) return { verdict: "Allow" };
    return { verdict: "Error", message: (r.stderr.trim() || `exit ${r.code}`).split("\n")[0] };
}

const describeOutcome = (o: Outcome): string => (o.verdict === "Deny" && o.policy ? `Deny (${o.policy.replace(`${prefix}-`, "")})` : o.verdict);

function table(rows: readonly Disagreement[]): string {
    const head: Disagreement = { fixture: "fixture", expected: "expected", offline: "offline", real: "real", message: "message" };
    const cols = ["fixture", "expected", "offline", "real"] as const;
    const width = Object.fromEntries(cols.map((k) => [k, Math.max(...[head, ...rows].map((r) => r[k].length))])) as Record<(typeof cols)[number], number>;
    const line = (r: Disagreement) => [...cols.map((k) => r[k].padEnd(width[k])), r.message].join("  ");
    return [line(head), ...rows.map(line)].join("\n");
}

describe("guardrail fixtures replayed through admission on a real API server", { timeout: 6 * 60 * 1000 }, () => {
    let cluster: LocalCluster | undefined;
    const cases = loadCases();
    const k = (args: readonly string[], input?: string) => kubectl(cluster!, args, input);
    const ok = (args: readonly string[], input?: string) => kubectlOk(cluster!, args, input);
    /** Server-side apply (see the notes above) as `user`. */
    const apply = (object: KubeObject, user: UserInfo, dryRun: boolean) =>
        k(["apply", "--server-side", ...(dryRun ? ["--dry-run=server"] : []), ...asUser(user), "-f", "-"], JSON.stringify(object));
    const remove = (object: KubeObject, user: UserInfo, dryRun: boolean) =>
        k(["delete", "--wait=false", ...(dryRun ? ["--dry-run=server"] : []), ...asUser(user), "-f", "-"], JSON.stringify(object));

    /** `kubectl debug`'s request: the stored Pod with the fixture's ephemeral containers, PUT to pods/<name>/ephemeralcontainers as `user`. */
    const addEphemeral = (pod: KubeObject, user: UserInfo) => {
        const stored = JSON.parse(ok(["get", "pod", "-n", namespace, pod.metadata?.name ?? "", "-o", "json"])) as { spec: Record<string, unknown> };
        stored.spec.ephemeralContainers = (pod.spec as { ephemeralContainers: unknown[] }).ephemeralContainers;
        return k(["replace", "--raw", `/api/v1/namespaces/${namespace}/pods/${pod.metadata?.name}/ephemeralcontainers`, ...asUser(user), "-f", "-"], JSON.stringify(stored));
    };

    before(() => {
        // Only the API server is needed: no namespace is ever deleted (the whole cluster is thrown
        // away), so the controller-manager would only take CPU from a 2-core machine.
        process.env.LOCAL_CLUSTER_NO_CONTROLLER_MANAGER = "1";
        process.env.LOCAL_CLUSTER_AUDIT_LOG = "1";
        cluster = startCluster();

        step(`namespace ${namespace} labelled ${environmentLabel}=${prodBinding.environment}`);
        ok(["create", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: namespace, labels: { [environmentLabel]: prodBinding.environment } } }));

        // Pods name a ServiceAccount; the controller-manager that would create "default" is not running.
        ok(["create", "serviceaccount", "default", "-n", namespace]);
        // Folders of their own namespace (govern-argocd-namespace's: argocd), unlabelled, as the cluster has them.
        const ownNamespaces = [...new Set(cases.map((c) => c.namespace).filter((n) => n !== namespace))];
        for (const own of ownNamespaces) {
            step(`namespace ${own} (a fixture folder's own, unlabelled)`);
            ok(["create", "namespace", own]);
            ok(["create", "serviceaccount", "default", "-n", own]);
        }

        step("Argo CD's CRDs at the pinned version (server-side apply)");
        ok(["apply", "--server-side", "-f", "-"], argoCdCrds());

        // RBAC: every identity a case impersonates (and Argo CD's controller, which creates the
        // objects UPDATE and DELETE cases start from) may write every fixture kind in the namespace.
        const kinds = new Map<string, Set<string>>();
        for (const c of cases) {
            const group = c.object.apiVersion.includes("/") ? c.object.apiVersion.split("/")[0] : "";
            kinds.set(group, (kinds.get(group) ?? new Set()).add(resourceOf(c.object.kind).resource));
        }
        // The doors into a running Pod: kubectl debug and kubectl exec; kubectl scale of a Deployment.
        kinds.set("", (kinds.get("") ?? new Set()).add("pods").add("pods/ephemeralcontainers").add("pods/exec"));
        kinds.set("apps", (kinds.get("apps") ?? new Set()).add("deployments").add("deployments/scale"));
        const users = new Map([argoCdControllerUser, ...cases.flatMap((c) => [c.user, defaultWriter(c.object.kind)])].map((u) => [u.username, u]));
        const subjects = [...users.keys()].sort().map((name) => {
            const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(name);
            return sa ? { kind: "ServiceAccount", namespace: sa[1], name: sa[2] } : { kind: "User", apiGroup: "rbac.authorization.k8s.io", name };
        });
        step(`RBAC: ClusterRole guardrails-replay-writer bound in ${namespace} to ${subjects.map((s) => s.name).join(", ")}`);
        applyList(cluster!, [
            {
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRole",
                metadata: { name: "guardrails-replay-writer" },
                rules: [...kinds].map(([group, resources]) => ({
                    apiGroups: [group],
                    resources: [...resources].sort(),
                    verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
                })),
            },
            {
                // Namespaces are cluster-scoped: the relabelling cases need a cluster-wide grant.
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRole",
                metadata: { name: "guardrails-replay-namespaces" },
                rules: [{ apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "create", "update", "patch", "delete"] }],
            },
            {
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRoleBinding",
                metadata: { name: "guardrails-replay-namespaces" },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "guardrails-replay-namespaces" },
                subjects,
            },
            ...[namespace, ...ownNamespaces].map((ns) => ({
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "RoleBinding",
                metadata: { name: "guardrails-replay-writer", namespace: ns },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "guardrails-replay-writer" },
                subjects,
            })),
        ]);
        ok(["wait", "--for=condition=established", "--timeout=60s", "crd/applications.argoproj.io", "crd/applicationsets.argoproj.io", "crd/appprojects.argoproj.io"]);

        // Exactly what AdmissionGuardrails creates for one prod binding: its exported renderers and names.
        step(`rendering ${rules.length} rules to ValidatingAdmissionPolicies + prod bindings ${JSON.stringify(prodBinding.validationActions)}`);
        applyList(cluster!, guardrailManifests(rules, [prodBinding], { prefix, environmentLabel, failurePolicy }));
    });

    after(() => {
        if (cluster) step("stopping the local cluster");
        cluster?.stop();
    });

    it("every policy is enforced (a known-bad fixture of each rule is denied by its policy)", async () => {
        // The API server loads policies and bindings through an informer and compiles their CEL
        // asynchronously: probe each rule with its first bad CREATE fixture (renamed, one name per
        // attempt, so an early admission leaves nothing the replay would trip over).
        // A rule that only judges deletions (keep-governed-namespaces) is probed with a bad DELETE of an object its writer created.
        let attempt = 0;
        for (const rule of rules) {
            const bad = (op: Operation) => cases.find((c) => c.rule === rule.name && c.file.startsWith("bad-") && c.operation === op);
            const probe = bad("CREATE") ?? bad("DELETE");
            assert.ok(probe, `${rule.name} has a bad CREATE (or DELETE) fixture to probe with`);
            const policy = policyName(prefix, rule);
            let last: Outcome = { verdict: "Allow" };
            try {
                await eventually(`${policy} to deny ${rule.name}/${probe.file}`, 60, () => {
                    const object = { ...probe.object, metadata: { ...probe.object.metadata, name: `${probe.object.metadata?.name}-probe-${++attempt}` } };
                    if (probe.operation === "DELETE") {
                        const created = realOutcome(apply(object, defaultWriter(object.kind), false));
                        if (created.verdict !== "Allow") return false;
                        last = realOutcome(remove(object, probe.user, probe.dryRun));
                    } else {
                        last = realOutcome(apply(object, probe.user, probe.dryRun));
                    }
                    return last.verdict === "Deny" && last.policy === policy;
                });
            } catch (e) {
                throw new Error(`${(e as Error).message}; the last answer was ${describeOutcome(last)}${last.message ? `: ${last.message}` : ""}`, { cause: e });
            }
            step(`enforced: ${policy}`);
        }
    });

    it("every fixture: the API server's verdict and message equal the offline evaluator's and expectations.yaml", () => {
        const rows: Disagreement[] = [];
        const realOf = new Map<Case, Outcome>();
        const offlineOf = new Map<Case, ReturnType<typeof offlineOutcome>>();
        const id = (c: Case) => `${c.rule}/${c.file}`;
        const expectedText = (e: Expectation) => e.verdict;

        for (const c of cases) {
            const who = c.user.username.replace(/^system:serviceaccount:/, "sa:");
            const off = offlineOutcome(c);
            offlineOf.set(c, off);
            let real: Outcome;
            // UPDATE, DELETE and CONNECT start from the object (for exec: a compliant Pod of that
            // name; for ephemeralcontainers: the Pod without them) created by Argo CD's controller (README).
            const base =
                c.subResource === "exec"
                    ? execTarget(c.object)
                    : c.subResource === "scale"
                      ? scaleTarget(c.object)
                      : c.subResource === "ephemeralcontainers"
                        ? withoutEphemeral(c.object)
                        : c.stored;
            // Created by who writes the kind (Argo CD's controller for workloads, the program for Argo CD's objects).
            const setup = c.operation === "CREATE" ? undefined : realOutcome(apply(base, defaultWriter(base.kind), false));
            if (setup && setup.verdict !== "Allow") {
                real = { verdict: "Error", message: `setup (create as ${defaultWriter(base.kind).username}) failed: ${setup.verdict} ${setup.message}` };
            } else if (c.subResource === "exec") {
                const o = c.object as KubeObject & { container?: string; command?: string[] };
                real = realOutcome(k(["exec", "-n", namespace, ...asUser(c.user), o.metadata?.name ?? "", "-c", o.container ?? "web", "--", ...(o.command ?? ["true"])]));
            } else if (c.subResource === "scale") {
                const replicas = (c.object.spec as { replicas: number }).replicas;
                real = realOutcome(k(["scale", "deployment", c.object.metadata?.name ?? "", "-n", namespace, `--replicas=${replicas}`, ...asUser(c.user)]));
            } else if (c.subResource === "ephemeralcontainers") {
                real = realOutcome(addEphemeral(c.object, c.user));
            } else if (c.expectation.oldLabels) {
                // A relabel replaces the labels (PUT): server-side apply by another manager would
                // leave the labels Argo CD's controller owns in place, so a removal would never reach admission.
                real = realOutcome(k(["replace", ...asUser(c.user), "-f", "-"], JSON.stringify(c.object)));
            } else {
                real = realOutcome(c.operation === "DELETE" ? remove(c.object, c.user, c.dryRun) : apply(c.object, c.user, c.dryRun));
            }
            realOf.set(c, real);
            const e = c.expectation;
            const problems: string[] = [];
            if (off.verdict !== e.verdict || real.verdict !== e.verdict) problems.push("verdict");
            if (e.verdict === "Deny" || off.verdict === "Deny" || real.verdict !== "Allow") {
                if (off.message !== e.message || real.message !== e.message) problems.push("message");
            }
            if (off.denials.length > 1) problems.push(`offline: ${off.denials.length} rules deny (${off.denials.map((d) => d.rule).join(", ")})`);
            if (
                real.verdict === "Deny" &&
                real.policy !==
                    policyName(
                        prefix,
                        rules.find((r) => r.name === c.rule)!,
                    )
            )
                problems.push(`denied by ${real.policy}, not by the folder's rule`);
            step(
                `${id(c)}: ${c.operation}${c.dryRun ? " (dry run)" : ""} as ${who} → real ${describeOutcome(real)}, offline ${describeOutcome(off)}${problems.length ? `  ✗ ${problems.join("; ")}` : "  ✓"}`,
            );
            if (problems.length > 0) {
                const messages = new Set([e.message, off.message, real.message].filter((m) => m !== undefined));
                rows.push({
                    fixture: id(c),
                    expected: expectedText(e),
                    offline: describeOutcome(off),
                    real: describeOutcome(real),
                    message:
                        messages.size <= 1
                            ? `${[...messages][0] ?? ""} [${problems.join("; ")}]`
                            : `[${problems.join("; ")}] expected: ${JSON.stringify(e.message ?? null)} | offline: ${JSON.stringify(off.message ?? null)} | real: ${JSON.stringify(real.message ?? null)}`,
                });
            }
        }

        // Audit annotations, from the audit log: the policies' annotations on each case's last write.
        const auditLog = path.join(cluster!.dir, "audit.log");
        if (!fs.existsSync(auditLog)) {
            rows.push({ fixture: "(all)", expected: "-", offline: "-", real: "-", message: `no audit log at ${auditLog}: audit annotations not checked` });
        } else {
            interface AuditEvent {
                readonly stage: string;
                readonly verb: string;
                readonly objectRef?: { readonly namespace?: string; readonly name?: string; readonly resource?: string };
                readonly annotations?: Record<string, string>;
            }
            const events = fs
                .readFileSync(auditLog, "utf8")
                .split("\n")
                .filter((l) => l.trim() !== "")
                .map((l) => JSON.parse(l) as AuditEvent)
                .filter(
                    (ev) =>
                        ev.stage === "ResponseComplete" &&
                        ["create", "update", "patch", "delete"].includes(ev.verb) &&
                        (cases.some((c) => c.namespace === ev.objectRef?.namespace) || ev.objectRef?.resource === "namespaces"),
                );
            let checked = 0;
            for (const c of cases) {
                const resource = resourceOf(c.object.kind).resource;
                const last = events
                    .filter(
                        (ev) =>
                            ev.objectRef?.name === c.object.metadata?.name &&
                            ev.objectRef?.resource === resource &&
                            (resource === "namespaces" || ev.objectRef?.namespace === c.namespace),
                    )
                    .at(-1);
                const fromPolicies = (a: Readonly<Record<string, string>> | undefined) =>
                    Object.fromEntries(
                        Object.entries(a ?? {})
                            .filter(([key]) => policyNames.some((p) => key.startsWith(`${p}/`)))
                            .sort(([x], [y]) => x.localeCompare(y)),
                    );
                const expected = fromPolicies(c.expectation.auditAnnotations);
                const off = fromPolicies(offlineOf.get(c)?.auditAnnotations);
                if (!last) {
                    rows.push({
                        fixture: id(c),
                        expected: "-",
                        offline: "-",
                        real: "-",
                        message: `no audit event for ${resource}/${c.object.metadata?.name}: audit annotations not checked`,
                    });
                    continue;
                }
                const real = fromPolicies(last.annotations);
                checked++;
                const same = (a: object, b: object) => JSON.stringify(a) === JSON.stringify(b);
                if (!same(expected, off) || !same(expected, real)) {
                    rows.push({
                        fixture: id(c),
                        expected: "(audit)",
                        offline: "(audit)",
                        real: "(audit)",
                        message: `[audit annotations] expected: ${JSON.stringify(expected)} | offline: ${JSON.stringify(off)} | real: ${JSON.stringify(real)}`,
                    });
                }
            }
            step(`audit annotations compared on ${checked}/${cases.length} fixtures (from ${auditLog})`);
        }

        for (const rule of rules) {
            const mine = cases.filter((c) => c.rule === rule.name);
            const bad = rows.filter((r) => r.fixture.startsWith(`${rule.name}/`)).length;
            step(`${rule.name}: ${mine.length} fixtures, ${bad === 0 ? "all agree" : `${bad} disagreement(s)`}`);
        }
        if (rows.length > 0) {
            const report = table(rows);
            console.log(report);
            assert.fail(`${rows.length} disagreement(s) between expectations.yaml, the offline evaluator and the API server:\n${report}`);
        }
        step(`all ${cases.length} fixtures: the API server agrees with the offline evaluator and expectations.yaml`);
    });
});
