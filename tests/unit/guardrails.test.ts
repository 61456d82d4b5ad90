import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { renderBindingSpec, renderPolicySpec } from "../../components/guardrails/AdmissionGuardrails";
import {
    AdmissionRequest,
    GuardrailEvaluator,
    KubeObject,
    RuleDecision,
    UserInfo,
    admissionRequest,
    argoCdControllerUser,
    compileRule,
    kubernetesCelGaps,
    programUser,
} from "../../scripts/lib/policyEvaluator";
import {
    capReplicas,
    restrictApplicationSets,
    defaultRules,
    disallowHostAccess,
    disallowLatestImage,
    protectSyncPolicy,
    requireLabels,
    requirePodSecurityContext,
    requireResources,
    restrictWorkloadWriters,
} from "../../components/guardrails/rules";
import { GuardrailRule } from "../../components/guardrails/types";
import { governAppProjects, keepGovernedNamespaces, protectApplicationInputs } from "../../components/guardrails/rules";
import { docsPath, rulesTable } from "../../scripts/commands/rules-table";
import { Expectation, caseUser, fixtureRules, placeholderNamespace, readFixture, readFixtureFolder, storedObject } from "../support/guardrailFixtures";

const prodNamespace = { "gitops-control.io/environment": "prod" };
const rules = defaultRules();
/** The fixtures' namespace is the one prod namespace of the cluster: the parameter of require-application-environment. */
const prod = new GuardrailEvaluator(rules, { namespaces: { [placeholderNamespace]: prodNamespace } });

/** A folder of its own namespace (not the placeholder) sits in an unlabelled namespace: no environment binding selects it. */
function requestFor(object: KubeObject, e: Expectation, dir: string, namespace = placeholderNamespace): AdmissionRequest {
    return admissionRequest(object, { namespaceLabels: namespace === placeholderNamespace ? prodNamespace : {}, ...requestOptions(e, object, dir) });
}

const decisionOf = (decisions: readonly RuleDecision[], rule: string): RuleDecision => {
    const d = decisions.find((x) => x.rule === rule);
    assert.ok(d, `decision for ${rule}`);
    return d;
};

/** A minimal compliant Deployment, for tests that are not about fixtures. */
function deployment(overrides: { replicas?: number; name?: string } = {}): KubeObject {
    const name = overrides.name ?? "web";
    const labels = { "app.kubernetes.io/name": name, "gitops-control.io/team": "payments" };
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace: "shop", labels },
        spec: {
            replicas: overrides.replicas ?? 2,
            selector: { matchLabels: { "app.kubernetes.io/name": name } },
            template: {
                metadata: { labels },
                spec: {
                    securityContext: { runAsNonRoot: true },
                    containers: [{ name: "web", image: "nginx:1.27.3", resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } } }],
                },
            },
        },
    };
}

const ruleDirs = fixtureRules();

describe("guardrail fixtures", () => {
    it("every rule of defaultRules() has a fixture folder, and every folder a rule", () => {
        assert.deepEqual(ruleDirs, rules.map((r) => r.name).sort());
    });

    for (const rule of ruleDirs) {
        const { dir, declaredRule, cases, files, namespace } = readFixtureFolder(rule);
        const expectations = { rule: declaredRule, cases };

        describe(rule, () => {
            it("has at least 3 good and 3 bad fixtures, each with an expectation", () => {
                assert.equal(expectations.rule, rule);
                assert.deepEqual(Object.keys(expectations.cases).sort(), files);
                assert.ok(files.filter((f) => f.startsWith("good-")).length >= 3, "3 good fixtures");
                assert.ok(files.filter((f) => f.startsWith("bad-")).length >= 3, "3 bad fixtures");
                for (const [file, e] of Object.entries(expectations.cases)) {
                    assert.equal(e.verdict, file.startsWith("good-") ? "Allow" : "Deny", `${file}: name and verdict agree`);
                    assert.equal(e.message !== undefined, e.verdict === "Deny", `${file}: a message exactly when denied`);
                }
            });

            for (const file of files) {
                const e = expectations.cases[file];
                const title = e.verdict === "Deny" ? `denies ${file}: "${e.message}"` : `admits ${file}`;
                it(title, () => {
                    const object = readFixture(path.join(dir, file));
                    if (object.kind !== "Namespace") assert.equal(object.metadata?.namespace, namespace, "namespaced in the placeholder (or the folder's own namespace)");
                    const decisions = prod.evaluate(requestFor(object, e, dir, namespace));
                    const d = decisionOf(decisions, rule);
                    if (e.verdict === "Deny") {
                        assert.equal(d.verdict, "Deny");
                        assert.equal(d.message, e.message);
                    } else if (e.skippedBy) {
                        assert.equal(d.verdict, "NotApplicable");
                        assert.equal(d.skipped, e.skippedBy);
                    } else {
                        // The rule must have looked at the object and passed it, not skipped it.
                        assert.equal(d.verdict, "Allow", JSON.stringify(d));
                    }
                    // expectations.yaml lists every policy's annotations (the replay reads them all from the audit log); this rule's are its own.
                    const own = Object.fromEntries(Object.entries(e.auditAnnotations ?? {}).filter(([key]) => key.startsWith(`${d.policy}/`)));
                    assert.deepEqual(d.auditAnnotations, own);
                    // Only the folder's rule may object: the fixture is compliant with every other rule.
                    for (const other of decisions.filter((x) => x.rule !== rule)) {
                        assert.ok(other.verdict === "Allow" || other.verdict === "NotApplicable", `${other.rule} also decided ${other.verdict}: ${other.message}`);
                    }
                });
            }

            it("under a staging binding ([Warn, Audit]) bad fixtures warn with the same message", () => {
                const staging = new GuardrailEvaluator(rules, {
                    binding: { environment: "staging", validationActions: ["Warn", "Audit"] },
                    namespaces: { [placeholderNamespace]: { "gitops-control.io/environment": "staging" } },
                });
                for (const file of files.filter((f) => f.startsWith("bad-"))) {
                    const e = expectations.cases[file];
                    const object = readFixture(path.join(dir, file));
                    const relabel = (o: KubeObject): KubeObject =>
                        o.kind === "Application" && rule !== "require-application-environment" && rule !== "require-service-project"
                            ? { ...o, metadata: { ...o.metadata, labels: { ...o.metadata?.labels, "gitops-control.io/environment": "staging" } } }
                            : o;
                    const labelled = relabel(object);
                    const d = decisionOf(
                        staging.evaluate(
                            admissionRequest(labelled, { ...requestOptions(e, labelled, dir, relabel), namespaceLabels: { "gitops-control.io/environment": "staging" } }),
                        ),
                        rule,
                    );
                    if (rule === "protect-namespace-labels" || rule === "keep-governed-namespaces") {
                        // Bound by the object's own label: a prod namespace is no staging object, unless relabelled to staging (then it warns).
                        assert.ok(d.verdict === "NotApplicable" || d.verdict === "Warn", `${file}: ${d.verdict}`);
                    } else if (rule === "require-application-environment" && object.metadata?.labels?.["gitops-control.io/environment"] === "staging") {
                        // Deploying to a staging namespace with the staging label is right.
                        assert.equal(d.verdict, "Allow", file);
                    } else if (rule === "require-application-environment") {
                        assert.equal(d.verdict, "Warn", file);
                        assert.match(d.message ?? "", /guardrail require-application-environment/);
                    } else if (rule === "protect-sync-policy") {
                        assert.equal(d.verdict, "NotApplicable", "only prod Applications are protected");
                    } else if (rule === "protect-application-inputs") {
                        // Staging's inputs are reviewed state too (presets: reviewedInputs), bound [Warn, Audit].
                        assert.equal(d.verdict, "Warn", file);
                        assert.equal(d.message, e.message?.replace("the prod Application", "the staging Application"));
                    } else {
                        assert.equal(d.verdict, "Warn", file);
                        assert.equal(d.message, e.message);
                    }
                }
            });
        });
    }
});

function requestOptions(e: Expectation, object: KubeObject, dir: string, relabel: (o: KubeObject) => KubeObject = (o) => o) {
    return {
        ...(e.oldLabels || e.old ? { oldObject: relabel(storedObject(object, e, dir)) } : {}),
        ...(e.operation ? { operation: e.operation } : {}),
        ...(e.subResource ? { subResource: e.subResource } : {}),
        userInfo: caseUser(object, e),
        ...(e.dryRun ? { dryRun: e.dryRun } : {}),
    };
}

describe("rule builders refuse bad options with the field and the fix", () => {
    const cases: [string, () => unknown, RegExp][] = [
        ["capReplicas.max", () => capReplicas({ max: 0 }), /^`capReplicas\.max` is 0\. Fix: use a whole number > 0/],
        [
            "capReplicas.ticketPattern (RE2)",
            () => capReplicas({ ticketPattern: "^(?!TEST)[A-Z]+-[0-9]+$" }),
            /^`capReplicas\.ticketPattern` ".*" uses lookaround.*RE2.*\. Fix: use an RE2 pattern/,
        ],
        ["capReplicas.ticketPattern (invalid)", () => capReplicas({ ticketPattern: "[A-Z" }), /^`capReplicas\.ticketPattern` ".*" is not a valid regular expression/],
        [
            "requirePodSecurityContext.resources",
            () => requirePodSecurityContext({ resources: [] }),
            /^`requirePodSecurityContext\.resources` is empty, so the rule matches nothing\. Fix:/,
        ],
        [
            "disallowLatestImage.resources[0]",
            () => disallowLatestImage({ resources: [{ apiGroups: ["apps"], apiVersions: ["v1"], resources: [], operations: ["CREATE"] }] }),
            /^`disallowLatestImage\.resources\[0\]` has an empty .* list\. Fix: fill all four/,
        ],
        ["requireResources.requests[1]", () => requireResources({ requests: ["cpu", "Memory!"] }), /^`requireResources\.requests\[1\]` is "Memory!", not a resource name\. Fix:/],
        ["requireResources (nothing required)", () => requireResources({ requests: [], limits: [] }), /^`requireResources` requires neither requests nor limits\. Fix:/],
        ["disallowHostAccess.resources", () => disallowHostAccess({ resources: [] }), /^`disallowHostAccess\.resources` is empty/],
        ["requireLabels.labels (empty)", () => requireLabels({ labels: [] }), /^`requireLabels\.labels` is empty\. Fix: name at least one label key/],
        ["requireLabels.labels[0]", () => requireLabels({ labels: ["team name"] }), /^`requireLabels\.labels\[0\]` is "team name", not a valid label key\. Fix:/],
        ["requireLabels.labels (repeated)", () => requireLabels({ labels: ["team", "team"] }), /^`requireLabels\.labels` repeats a key\. Fix: list each label once/],
        [
            "restrictWorkloadWriters (nobody)",
            () => restrictWorkloadWriters({ allowedUsernames: [], allowedGroups: [] }),
            /^`restrictWorkloadWriters` allows no user and no group.*\. Fix: keep Argo CD/,
        ],
        [
            "defaultRules.programIdentity (nobody)",
            () => defaultRules({ programIdentity: { usernames: [], groups: [] } }),
            /^`defaultRules\.programIdentity` names no username and no group.*\. Fix: name the identity `pulumi up` runs with/,
        ],
        [
            "governAppProjects.programIdentity.groups[0] (everyone)",
            () => governAppProjects({ programIdentity: { groups: ["system:serviceaccounts:argocd"] } }),
            /^`governAppProjects\.programIdentity\.groups\[0\]` is "system:serviceaccounts:argocd", which every authenticated user or service account carries\. Fix:/,
        ],
        [
            "protectApplicationInputs.programIdentity.usernames[0] (Argo CD)",
            () => protectApplicationInputs({ programIdentity: { usernames: ["system:serviceaccount:argocd:argocd-server"] } }),
            /^`protectApplicationInputs\.programIdentity\.usernames\[0\]` is "system:serviceaccount:argocd:argocd-server", one of Argo CD's own service accounts\. Fix:/,
        ],
        [
            "protectApplicationInputs.allowedIgnoreDifferences[0].jsonPointers[0]",
            () => protectApplicationInputs({ allowedIgnoreDifferences: [{ group: "apps", kind: "Deployment", jsonPointers: ["/spec/template/spec"] }] }),
            /^`protectApplicationInputs\.allowedIgnoreDifferences\[0\]\.jsonPointers\[0\]` is "\/spec\/template\/spec", which hides a whole spec.*\. Fix: name the one field/,
        ],
        ["keepGovernedNamespaces.environments", () => keepGovernedNamespaces({ environments: [] }), /^`keepGovernedNamespaces\.environments` is empty, so nothing is kept\. Fix:/],
        [
            "restrictWorkloadWriters.allowedUsernames[0]",
            () => restrictWorkloadWriters({ allowedUsernames: ["argo cd"] }),
            /^`restrictWorkloadWriters\.allowedUsernames\[0\]` is "argo cd"\. Fix:/,
        ],
        [
            "restrictWorkloadWriters.exemptions[0].operations",
            () => restrictWorkloadWriters({ exemptions: [{ usernames: ["system:kube-scheduler"], resources: ["pods"], operations: [], why: "x" }] }),
            /^`restrictWorkloadWriters\.exemptions\[0\]\.operations` is empty\. Fix:/,
        ],
        ["protectSyncPolicy.environments (empty)", () => protectSyncPolicy({ environments: [] }), /^`protectSyncPolicy\.environments` is empty, so nothing is protected\. Fix:/],
        ["protectSyncPolicy.environments[0]", () => protectSyncPolicy({ environments: ["Prod"] }), /^`protectSyncPolicy\.environments\[0\]` is "Prod", not a label value\. Fix:/],
        [
            "protectSyncPolicy.environmentLabel",
            () => protectSyncPolicy({ environmentLabel: "env label" }),
            /^`protectSyncPolicy\.environmentLabel` is "env label", not a label key\. Fix:/,
        ],
        ["defaultRules.argoCdNamespace", () => defaultRules({ argoCdNamespace: "Argo CD" }), /^`defaultRules\.argoCdNamespace` is "Argo CD", not a namespace name\. Fix:/],
    ];
    for (const [field, build, message] of cases) {
        it(`${field}`, () => assert.throws(build, { name: "GitOpsConfigError", message }));
    }
});

describe("defaultRules", () => {
    it("is the whole library in a stable order", () => {
        assert.deepEqual(
            rules.map((r) => r.name),
            [
                "require-pod-security-context",
                "cap-replicas",
                "disallow-latest-image",
                "require-resources",
                "disallow-host-access",
                "restrict-container-privileges",
                "restrict-security-profiles",
                "require-labels",
                "restrict-workload-writers",
                "protect-sync-policy",
                "protect-namespace-labels",
                "restrict-application-sets",
                "require-application-environment",
                "govern-app-projects",
                "require-service-project",
                "protect-application-inputs",
                "keep-governed-namespaces",
                "require-namespace-pod-security",
                "govern-argocd-namespace",
                "protect-break-glass-label",
            ],
        );
    });

    it("takes per-rule options, `false` to leave a rule out, and the Argo CD namespace for the allowed writer", () => {
        const tuned = defaultRules({ capReplicas: { max: 5 }, protectSyncPolicy: false, argoCdNamespace: "gitops" });
        assert.equal(tuned.find((r) => r.name === "cap-replicas")?.params.max, 5);
        assert.equal(
            tuned.some((r) => r.name === "protect-sync-policy"),
            false,
        );
        assert.deepEqual(tuned.find((r) => r.name === "restrict-workload-writers")?.params.allowedUsernames, ["system:serviceaccount:gitops:argocd-application-controller"]);
    });

    it("every rule compiles offline: no expression uses a CEL feature the evaluator cannot model", () => {
        for (const rule of rules) assert.doesNotThrow(() => compileRule(rule), rule.name);
    });

    it("docs/guardrails.md is generated from these rule objects (run npm run docs:guardrails when this fails)", () => {
        const doc = fs.readFileSync(docsPath, "utf8");
        assert.equal(doc, rulesTable(rules));
        for (const rule of rules) assert.match(doc, new RegExp(`^\\| \`${rule.name}\``, "m"), `${rule.name} has a row`);
    });

    it("every validation carries a message naming its guardrail", () => {
        for (const rule of rules) for (const v of rule.validations) assert.match(v.message ?? "", new RegExp(`\\(guardrail ${rule.name}\\)$`), rule.name);
    });
});

describe("rendering", () => {
    it("protect-sync-policy selects Applications by their own label, at policy and binding level", () => {
        const rule = protectSyncPolicy();
        const spec = renderPolicySpec(rule, "Fail") as { matchConstraints: Record<string, unknown> };
        assert.deepEqual(spec.matchConstraints.objectSelector, {
            matchExpressions: [{ key: "gitops-control.io/environment", operator: "In", values: ["prod"] }],
        });
        assert.deepEqual(renderBindingSpec("p", { environment: "prod", validationActions: ["Deny", "Audit"] }, "gitops-control.io/environment", rule.bindingScope), {
            policyName: "p",
            validationActions: ["Deny", "Audit"],
            matchResources: { objectSelector: { matchLabels: { "gitops-control.io/environment": "prod" } } },
        });
    });

    it("restrict-application-sets binds every ApplicationSet, labelled or not (cluster scope: no selectors)", () => {
        const rule = restrictApplicationSets();
        assert.equal(rule.bindingScope, "cluster");
        assert.deepEqual(renderBindingSpec("p", { environment: "staging", validationActions: ["Warn", "Audit"] }, "gitops-control.io/environment", rule.bindingScope), {
            policyName: "p",
            validationActions: ["Warn", "Audit"],
            matchResources: {},
        });
    });

    it("namespace-scoped rules keep selecting namespaces by label (no objectSelector)", () => {
        const spec = renderPolicySpec(requireResources(), "Fail") as { matchConstraints: Record<string, unknown> };
        assert.equal(spec.matchConstraints.objectSelector, undefined);
        assert.deepEqual(renderBindingSpec("p", { environment: "prod", validationActions: ["Deny"], breakGlass: "exclude" }, "env"), {
            policyName: "p",
            validationActions: ["Deny"],
            matchResources: {
                namespaceSelector: { matchLabels: { env: "prod" }, matchExpressions: [{ key: "gitops-control.io/break-glass-until", operator: "DoesNotExist" }] },
            },
        });
        assert.deepEqual(renderBindingSpec("p", { environment: "prod", validationActions: ["Warn", "Audit"], breakGlass: "only" }, "env").matchResources, {
            namespaceSelector: { matchLabels: { env: "prod" }, matchExpressions: [{ key: "gitops-control.io/break-glass-until", operator: "Exists" }] },
        });
    });
});

describe("offline evaluator", () => {
    const rule = (overrides: Partial<GuardrailRule>): GuardrailRule => ({
        name: "test-rule",
        summary: "s",
        why: "w",
        params: {},
        resourceRules: [{ apiGroups: ["apps"], apiVersions: ["v1"], resources: ["deployments"], operations: ["CREATE", "UPDATE"] }],
        variables: [],
        validations: [{ expression: "true", message: "m" }],
        matchConditions: [],
        auditAnnotations: [],
        ...overrides,
    });
    const decide = (r: GuardrailRule, request: AdmissionRequest = admissionRequest(deployment(), { namespaceLabels: prodNamespace }), failurePolicy: "Fail" | "Ignore" = "Fail") =>
        new GuardrailEvaluator([r], { failurePolicy }).evaluate(request)[0];

    it("reads JSON integers as CEL int, so `replicas + 1` and string(replicas) work as in Kubernetes", () => {
        const d = decide(rule({ validations: [{ expression: "object.spec.replicas + 1 == 3", messageExpression: "'got ' + string(object.spec.replicas)" }] }));
        assert.equal(d.verdict, "Allow");
        const denied = decide(rule({ validations: [{ expression: "object.spec.replicas + 1 == 4", messageExpression: "'got ' + string(object.spec.replicas)" }] }));
        assert.equal(denied.message, "got 2");
    });

    for (const [expression, gap] of [
        ["quantity('1Gi').isGreaterThan(quantity('512Mi'))", "quantity"],
        ["url('https://x').getHost() == 'x'", "url"],
        ["authorizer.group('apps').resource('deployments').check('create').allowed()", "authorizer"],
        ["[1, 2].isSorted()", "isSorted"],
        ["sets.contains([1], [1])", "sets"],
        ["ip('10.0.0.1').family() == 4", "ip"],
        ["params.max > 1", "params"],
    ] as const) {
        it(`names the CEL gap ${gap} instead of skipping it`, () => {
            assert.ok(kubernetesCelGaps[gap]);
            assert.throws(() => compileRule(rule({ validations: [{ expression, message: "m" }] })), {
                name: "GitOpsConfigError",
                message: new RegExp(`^\`rules\\.test-rule\\.validations\\[0\\]\\.expression\` uses ${gap}, from .* \\(CEL gap\\)\\. Fix:`),
            });
        });
    }

    it("refuses regular expressions RE2 (the API server) would reject", () => {
        assert.throws(
            () => compileRule(rule({ validations: [{ expression: "object.metadata.name.matches('^(?!tmp-).*$')", message: "m" }] })),
            /passes matches\(\) the pattern .* lookaround/,
        );
        assert.throws(() => compileRule(rule({ validations: [{ expression: "object.metadata.name.matches('(a)\\\\1')", message: "m" }] })), /backreference/);
    });

    it("models the regex library's find() with a shim", () => {
        const d = decide(rule({ validations: [{ expression: "object.spec.template.spec.containers[0].image.find('[0-9.]+$') == '1.27.3'", message: "m" }] }));
        assert.equal(d.verdict, "Allow");
    });

    it("refuses namespaceObject in a matchCondition: the API server evaluates matchConditions without it", () => {
        assert.throws(
            () => compileRule(rule({ matchConditions: [{ name: "ns", expression: "namespaceObject != null" }], validations: [{ expression: "true", message: "m" }] })),
            /`rules\.[a-z-]+\.matchConditions\[0\]\.expression` reads namespaceObject, which the API server does not give matchConditions/,
        );
    });

    it("refuses variables used before they are declared", () => {
        assert.throws(() => compileRule(rule({ validations: [{ expression: "variables.nope", message: "m" }] })), /uses variables\.nope, which is not declared before it/);
    });

    it("failurePolicy Fail denies on an evaluation error; Ignore admits", () => {
        const broken = rule({ validations: [{ expression: "object.spec.missing == 1", message: "m" }] });
        const failed = decide(broken);
        assert.equal(failed.verdict, "Deny");
        assert.match(failed.message ?? "", /^expression 'object\.spec\.missing == 1' resulted in error: No such key: missing/);
        assert.equal(decide(broken, undefined, "Ignore").verdict, "Allow");
    });

    it("falls back to message when messageExpression is blank or fails, and to the expression without either", () => {
        assert.equal(decide(rule({ validations: [{ expression: "false", message: "static", messageExpression: "' '" }] })).message, "static");
        assert.equal(decide(rule({ validations: [{ expression: "false", message: "static", messageExpression: "object.nope" }] })).message, "static");
        assert.equal(decide(rule({ validations: [{ expression: "false" }] })).message, "failed expression: false");
    });

    it("evaluates variables lazily: a failing variable nobody reads does no harm", () => {
        const d = decide(rule({ variables: [{ name: "broken", expression: "object.spec.nope" }], validations: [{ expression: "true", message: "m" }] }));
        assert.equal(d.verdict, "Allow");
    });

    it("a false matchCondition skips the policy", () => {
        const d = decide(rule({ matchConditions: [{ name: "only-big", expression: "object.spec.replicas > 10" }], validations: [{ expression: "false", message: "m" }] }));
        assert.deepEqual([d.verdict, d.skipped], ["NotApplicable", "matchCondition only-big"]);
    });

    it("the prod binding ignores namespaces not labelled prod, and namespaces carved out by break-glass", () => {
        const all = defaultRules();
        const bad = deployment({ replicas: 99 });
        const unlabelled = new GuardrailEvaluator(all).evaluate(admissionRequest(bad, { namespaceLabels: {} }));
        assert.deepEqual(decisionOf(unlabelled, "cap-replicas").skipped, "binding namespaceSelector");
        const carved = new GuardrailEvaluator(all, { binding: { environment: "prod", validationActions: ["Deny", "Audit"], breakGlass: "exclude" } });
        const underBreakGlass = { ...prodNamespace, "gitops-control.io/break-glass-until": "1795550400" };
        const latest = deployment();
        ((latest.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0] as { image: string }).image = "nginx:latest";
        assert.equal(decisionOf(carved.evaluate(admissionRequest(latest, { namespaceLabels: underBreakGlass })), "disallow-latest-image").verdict, "NotApplicable");
        // A prod namespace without the label stays under the carving binding, and a labelled one under the plain prod binding.
        assert.equal(decisionOf(carved.evaluate(admissionRequest(latest, { namespaceLabels: prodNamespace })), "disallow-latest-image").verdict, "Deny");
        assert.equal(decisionOf(prod.evaluate(admissionRequest(latest, { namespaceLabels: underBreakGlass })), "disallow-latest-image").verdict, "Deny");
        // The replica cap holds for everyone, break-glass included: the carve-out does not lift it.
        assert.equal(decisionOf(carved.evaluate(admissionRequest(bad, { namespaceLabels: underBreakGlass })), "cap-replicas").verdict, "Deny");
    });
});

describe("restrict-workload-writers", () => {
    const human: UserInfo = { username: "bob", groups: ["system:authenticated"] };
    const hpa: UserInfo = { username: "system:serviceaccount:kube-system:horizontal-pod-autoscaler", groups: ["system:serviceaccounts"] };
    const writers = (request: AdmissionRequest) => decisionOf(prod.evaluate(request), "restrict-workload-writers");

    it("`kubectl scale` by a person is denied; the autoscaler scaling through /scale is exempt", () => {
        const scale = (userInfo: UserInfo) => writers(admissionRequest(deployment(), { operation: "UPDATE", subResource: "scale", userInfo, namespaceLabels: prodNamespace }));
        const denied = scale(human);
        assert.equal(denied.verdict, "Deny");
        assert.match(denied.message ?? "", /^bob may not UPDATE deployments\/scale web: only /);
        assert.equal(scale(hpa).skipped, "matchCondition not-a-cluster-controller");
    });

    it("the autoscaler may not edit the Deployment itself, only its scale", () => {
        assert.equal(writers(admissionRequest(deployment(), { operation: "UPDATE", userInfo: hpa, namespaceLabels: prodNamespace })).verdict, "Deny");
    });

    it("status writes by controllers are not matched (the status subresource is not governed)", () => {
        const d = writers(
            admissionRequest(deployment(), {
                operation: "UPDATE",
                subResource: "status",
                userInfo: { username: "system:serviceaccount:kube-system:deployment-controller" },
                namespaceLabels: prodNamespace,
            }),
        );
        assert.equal(d.skipped, "resource or operation not matched");
    });

    it("the namespace controller deletes only in a namespace being deleted, and never updates", () => {
        const nsController: UserInfo = { username: "system:serviceaccount:kube-system:namespace-controller" };
        const del = (namespaceDeleting: boolean) =>
            writers(admissionRequest(deployment(), { operation: "DELETE", userInfo: nsController, namespaceLabels: prodNamespace, namespaceDeleting }));
        // Judged in the validation: the API server gives matchConditions no namespaceObject.
        assert.equal(del(true).verdict, "Allow");
        assert.equal(del(false).verdict, "Deny");
        // DeleteCollection is admitted once for the collection (no name, no oldObject), then per object: kube-controller-manager's
        // own name (whose garbage-collector shape reads oldObject) is admitted there too, without an evaluation error.
        for (const userInfo of [nsController, { username: "system:kube-controller-manager" }]) {
            for (const [deleting, verdict] of [
                [true, "Allow"],
                [false, "Deny"],
            ] as const) {
                const collection = {
                    ...admissionRequest(deployment(), { operation: "DELETE", userInfo, namespaceLabels: prodNamespace, namespaceDeleting: deleting }),
                    oldObject: null,
                    name: "",
                };
                const d = writers(collection);
                assert.equal(d.verdict, verdict, `${userInfo.username}, namespace deleting ${deleting}: ${JSON.stringify(d)}`);
                assert.ok(
                    d.violations.every((v) => v.error === undefined),
                    JSON.stringify(d.violations),
                );
            }
        }
        assert.equal(
            writers(admissionRequest(deployment(), { operation: "UPDATE", userInfo: nsController, namespaceLabels: prodNamespace, namespaceDeleting: true })).verdict,
            "Deny",
        );
    });

    describe("each exempt controller writes only its own shape", () => {
        const kcm: UserInfo = { username: "system:kube-controller-manager" };
        const as = (name: string): UserInfo => ({ username: `system:serviceaccount:kube-system:${name}` });
        const owner = (apiVersion: string, kind: string, controller = true) => ({ apiVersion, kind, name: "owner", uid: "u-1", controller });
        const withMeta = (o: KubeObject, meta: Record<string, unknown>): KubeObject => ({ ...o, metadata: { ...o.metadata, ...meta } });
        const update = (object: KubeObject, oldObject: KubeObject, userInfo: UserInfo) =>
            writers(admissionRequest(object, { operation: "UPDATE", oldObject, userInfo, namespaceLabels: prodNamespace }));
        const exempt = (d: RuleDecision) => assert.equal(d.skipped, "matchCondition not-a-cluster-controller", JSON.stringify(d));
        const denied = (d: RuleDecision) => assert.equal(d.verdict, "Deny", JSON.stringify(d));
        const rs = withMeta({ ...deployment(), kind: "ReplicaSet" }, { ownerReferences: [owner("apps/v1", "Deployment")] });
        const pod = (ownerReferences?: object[]): KubeObject => ({
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "web-1", namespace: "shop", labels: { "app.kubernetes.io/name": "web" }, ...(ownerReferences ? { ownerReferences } : {}) },
            spec: (deployment().spec as { template: { spec: object } }).template.spec,
        });
        const configMap = (name: string, data: Record<string, string>): KubeObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace: "shop" }, data });

        it("the garbage collector: removes finalizers and owner references (foreground deletion, orphaning), deletes dependents; nothing more", () => {
            for (const user of [as("generic-garbage-collector"), kcm]) {
                const deleting = withMeta(deployment(), { finalizers: ["foregroundDeletion"], ownerReferences: [owner("example.com/v1", "Shop", false)] });
                exempt(update(withMeta(deployment(), { ownerReferences: [owner("example.com/v1", "Shop", false)] }), deleting, user));
                exempt(update(deployment(), deleting, user));
                denied(update(withMeta(deployment(), { finalizers: ["foregroundDeletion", "example.com/hold"] }), deleting, user));
                denied(update(withMeta(deployment({ replicas: 9 }), { finalizers: [] }), deleting, user));
                denied(update(withMeta(deployment(), { ownerReferences: [owner("example.com/v1", "Other", false)] }), deleting, user));
                denied(update(withMeta(deployment(), { labels: { "app.kubernetes.io/name": "web" } }), deployment(), user));
                exempt(writers(admissionRequest(rs, { operation: "DELETE", userInfo: user, namespaceLabels: prodNamespace })));
                denied(writers(admissionRequest(deployment(), { operation: "DELETE", userInfo: user, namespaceLabels: prodNamespace })));
            }
        });

        it("the deployment controller: ReplicaSets a Deployment controls, their template untouched; no Pods, no Deployments", () => {
            const dc = as("deployment-controller");
            exempt(writers(admissionRequest(rs, { userInfo: dc, namespaceLabels: prodNamespace })));
            denied(writers(admissionRequest({ ...deployment(), kind: "ReplicaSet" }, { userInfo: dc, namespaceLabels: prodNamespace })));
            exempt(update(withMeta(rs, { annotations: { "deployment.kubernetes.io/revision": "2" } }), rs, dc));
            const otherImage = JSON.parse(JSON.stringify(rs)) as { spec: { template: { spec: { containers: { image: string }[] } } } };
            otherImage.spec.template.spec.containers[0].image = "evil:1.0.0";
            denied(update(otherImage as unknown as KubeObject, rs, dc));
            exempt(writers(admissionRequest(rs, { operation: "DELETE", userInfo: dc, namespaceLabels: prodNamespace })));
            denied(writers(admissionRequest(pod([owner("apps/v1", "ReplicaSet")]), { userInfo: dc, namespaceLabels: prodNamespace })));
            denied(update(deployment({ replicas: 3 }), deployment(), dc));
        });

        it("the workload controllers: Pods controlled by their own kind, spec untouched on update", () => {
            const cases: [string, string, string][] = [
                ["replicaset-controller", "apps/v1", "ReplicaSet"],
                ["statefulset-controller", "apps/v1", "StatefulSet"],
                ["daemon-set-controller", "apps/v1", "DaemonSet"],
                ["job-controller", "batch/v1", "Job"],
                ["replication-controller", "v1", "ReplicationController"],
            ];
            for (const [name, apiVersion, kind] of cases) {
                exempt(writers(admissionRequest(pod([owner(apiVersion, kind)]), { userInfo: as(name), namespaceLabels: prodNamespace })));
                denied(writers(admissionRequest(pod(), { userInfo: as(name), namespaceLabels: prodNamespace })));
                denied(writers(admissionRequest(pod([owner(apiVersion, kind, false)]), { userInfo: as(name), namespaceLabels: prodNamespace })));
                exempt(update(withMeta(pod([owner(apiVersion, kind)]), { labels: { "apps.kubernetes.io/pod-index": "0" } }), pod(), as(name)));
                const debugged = { ...pod(), spec: { ...(pod().spec as object), ephemeralContainers: [{ name: "sh", image: "busybox:1.37.0" }] } };
                denied(update(debugged, pod(), as(name)));
                denied(writers(admissionRequest(configMap("web", { a: "b" }), { userInfo: as(name), namespaceLabels: prodNamespace })));
            }
            denied(writers(admissionRequest(pod([owner("apps/v1", "StatefulSet")]), { userInfo: as("replicaset-controller"), namespaceLabels: prodNamespace })));
        });

        it("the root CA publisher writes kube-root-ca.crt with ca.crt only; the service controller only its load-balancer finalizer", () => {
            const publisher = as("root-ca-cert-publisher");
            exempt(writers(admissionRequest(configMap("kube-root-ca.crt", { "ca.crt": "pem" }), { userInfo: publisher, namespaceLabels: prodNamespace })));
            denied(writers(admissionRequest(configMap("app-config", { "ca.crt": "pem" }), { userInfo: publisher, namespaceLabels: prodNamespace })));
            denied(writers(admissionRequest(configMap("kube-root-ca.crt", { "ca.crt": "pem", "evil.sh": "x" }), { userInfo: publisher, namespaceLabels: prodNamespace })));
            const service: KubeObject = { apiVersion: "v1", kind: "Service", metadata: { name: "web", namespace: "shop" }, spec: { selector: { app: "web" } } };
            const sc = as("service-controller");
            exempt(update(withMeta(service, { finalizers: ["service.kubernetes.io/load-balancer-cleanup"] }), service, sc));
            exempt(update(service, withMeta(service, { finalizers: ["service.kubernetes.io/load-balancer-cleanup"] }), sc));
            denied(update(withMeta(service, { finalizers: ["example.com/other"] }), service, sc));
            denied(update({ ...service, spec: { selector: { app: "attacker" } } }, service, sc));
        });

        it("kube-controller-manager's own name gets the union of these shapes, nothing else", () => {
            exempt(writers(admissionRequest(rs, { userInfo: kcm, namespaceLabels: prodNamespace })));
            exempt(writers(admissionRequest(pod([owner("apps/v1", "ReplicaSet")]), { userInfo: kcm, namespaceLabels: prodNamespace })));
            denied(writers(admissionRequest(deployment(), { userInfo: kcm, namespaceLabels: prodNamespace })));
            denied(writers(admissionRequest(configMap("app-config", { a: "b" }), { userInfo: kcm, namespaceLabels: prodNamespace })));
            denied(writers(admissionRequest(pod(), { userInfo: kcm, namespaceLabels: prodNamespace })));
        });
    });

    it("a user without groups is judged by name alone (request.userInfo.groups is absent, not empty)", () => {
        const d = writers(admissionRequest(deployment(), { userInfo: { username: "carol" }, namespaceLabels: prodNamespace }));
        assert.equal(d.verdict, "Deny");
        assert.match(d.message ?? "", /^carol may not CREATE deployments web: only /);
    });
});

describe("govern-argocd-namespace", () => {
    const argo = (o: Partial<KubeObject> & { kind: string; apiVersion: string }): KubeObject => ({ ...o, metadata: { name: "x", namespace: "argocd", ...o.metadata } });
    const decide = (object: KubeObject, options: Parameters<typeof admissionRequest>[1] = {}) =>
        decisionOf(prod.evaluate(admissionRequest(object, { namespaceLabels: {}, ...options })), "govern-argocd-namespace");
    const human: UserInfo = { username: "mallory", groups: ["developers", "system:authenticated"] };
    const breakGlass: UserInfo = { username: "bob", groups: ["gitops-control:break-glass", "system:authenticated"] };
    const controllerPod = argo({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "argocd-application-controller-0" },
        spec: { serviceAccountName: "argocd-application-controller", containers: [] },
    });

    it("closes every door to acting as Argo CD's controller, for people, Argo CD's own accounts and break-glass alike", () => {
        const doors: [string, KubeObject, Parameters<typeof admissionRequest>[1]][] = [
            ["a Pod mounting the controller's ServiceAccount", controllerPod, {}],
            ["kubectl exec into the controller", argo({ apiVersion: "v1", kind: "PodExecOptions", metadata: { name: "argocd-application-controller-0" } }), {}],
            ["kubectl debug (ephemeral container)", controllerPod, { operation: "UPDATE", subResource: "ephemeralcontainers" }],
            ["kubectl port-forward", controllerPod, { operation: "CONNECT", subResource: "portforward" }],
            [
                "kubectl create token argocd-application-controller",
                argo({ apiVersion: "authentication.k8s.io/v1", kind: "TokenRequest", metadata: { name: "argocd-application-controller" } }),
                {},
            ],
            [
                "a legacy token Secret for the controller",
                argo({
                    apiVersion: "v1",
                    kind: "Secret",
                    metadata: { name: "t", annotations: { "kubernetes.io/service-account.name": "argocd-application-controller" } },
                    type: "kubernetes.io/service-account-token",
                }),
                {},
            ],
            [
                "a RoleBinding to the controller's Role",
                argo({
                    apiVersion: "rbac.authorization.k8s.io/v1",
                    kind: "RoleBinding",
                    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "argocd-application-controller" },
                    subjects: [{ kind: "User", name: "mallory" }],
                }),
                {},
            ],
            ["a CronJob", argo({ apiVersion: "batch/v1", kind: "CronJob", spec: {} }), {}],
            [
                "editing the controller StatefulSet's image",
                argo({ apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "argocd-application-controller" }, spec: {} }),
                { operation: "UPDATE" },
            ],
            [
                "argocd-rbac-cm",
                argo({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "argocd-rbac-cm" }, data: { "policy.default": "role:admin" } }),
                { operation: "UPDATE" },
            ],
        ];
        for (const [door, object, options] of doors) {
            const withToken = object.kind === "TokenRequest" ? { ...options, subResource: "token", operation: "CREATE" as const } : options;
            const request = (userInfo: UserInfo) => {
                const r = admissionRequest(object, { namespaceLabels: {}, userInfo, ...withToken });
                // A TokenRequest is the serviceaccounts/token subresource.
                return object.kind === "TokenRequest" ? { ...r, resource: { group: "", version: "v1", resource: "serviceaccounts" } } : r;
            };
            for (const user of [human, breakGlass, argoCdControllerUser]) {
                const d = decisionOf(prod.evaluate(request(user)), "govern-argocd-namespace");
                assert.equal(d.verdict, "Deny", `${door} as ${user.username}: ${JSON.stringify(d)}`);
                assert.match(d.message ?? "", /in the Argo CD namespace argocd: its service accounts write prod/);
            }
            assert.equal(decisionOf(prod.evaluate(request(programUser)), "govern-argocd-namespace").verdict, "Allow", `${door} as the program`);
        }
    });

    it("the chart's Pods come from the cluster's controllers in their shape; other namespaces are not this rule's", () => {
        const owned = (apiVersion: string, kind: string) => ({
            ...controllerPod,
            metadata: { ...controllerPod.metadata, ownerReferences: [{ apiVersion, kind, name: "o", uid: "u", controller: true }] },
        });
        assert.equal(decide(owned("apps/v1", "StatefulSet"), { userInfo: { username: "system:serviceaccount:kube-system:statefulset-controller" } }).verdict, "NotApplicable");
        assert.equal(decide(owned("apps/v1", "ReplicaSet"), { userInfo: { username: "system:kube-controller-manager" } }).verdict, "NotApplicable");
        assert.equal(decide(controllerPod, { userInfo: { username: "system:serviceaccount:kube-system:statefulset-controller" } }).verdict, "Deny");
        assert.equal(
            decide({ ...controllerPod, metadata: { ...controllerPod.metadata, namespace: "shop" } }, { userInfo: human }).skipped,
            "matchCondition in-the-argo-cd-namespace",
        );
        // Pod deletion is no door (a rollout's scale-down, the kubelet's final DELETE): not matched.
        assert.equal(decide(controllerPod, { operation: "DELETE", userInfo: { username: "system:node:worker-1" } }).skipped, "resource or operation not matched");
        const sa = argo({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default" } });
        assert.equal(decide(sa, { userInfo: { username: "system:serviceaccount:kube-system:service-account-controller" } }).verdict, "NotApplicable");
        assert.equal(
            decide(argo({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "argocd-extra" } }), {
                userInfo: { username: "system:serviceaccount:kube-system:service-account-controller" },
            }).verdict,
            "Deny",
        );
    });

    it("follows the Argo CD namespace and the program's identity", () => {
        const [rule] = defaultRules({ argoCdNamespace: "gitops", programIdentity: { usernames: ["ci-deployer"], groups: [] } }).filter((r) => r.name === "govern-argocd-namespace");
        const evaluator = new GuardrailEvaluator([rule]);
        const pod = { ...controllerPod, metadata: { ...controllerPod.metadata, namespace: "gitops" } };
        assert.equal(evaluator.evaluate(admissionRequest(pod, { userInfo: { username: "ci-deployer" } }))[0].verdict, "Allow");
        assert.equal(evaluator.evaluate(admissionRequest(pod, { userInfo: programUser }))[0].verdict, "Deny");
    });
});

describe("protect-sync-policy", () => {
    const app = (automated: Record<string, boolean> | undefined, labels: Record<string, string> = prodNamespace, extra: Record<string, unknown> = {}): KubeObject => ({
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Application",
        metadata: { name: "legacy", namespace: "argocd", labels },
        spec: {
            project: "default",
            destination: { server: "https://kubernetes.default.svc", namespace: "legacy-prod" },
            ...(automated ? { syncPolicy: { automated } } : {}),
        },
        ...extra,
    });
    const sync = (request: AdmissionRequest) => decisionOf(prod.evaluate(request), "protect-sync-policy");

    it("lets Argo CD write status on a legacy Application that predates the rule", () => {
        const legacy = app({ prune: false, selfHeal: false });
        const statusWrite = sync(admissionRequest({ ...legacy, status: { sync: { status: "Synced" } } }, { operation: "UPDATE", oldObject: legacy }));
        assert.deepEqual([statusWrite.verdict, statusWrite.skipped], ["NotApplicable", "matchCondition sync-policy-may-change"]);
    });

    it("denies a spec change that keeps the legacy policy, and checks a new Application", () => {
        const legacy = app({ prune: false, selfHeal: true });
        const changed = app({ prune: false, selfHeal: true });
        (changed.spec as { project: string }).project = "payments";
        assert.equal(sync(admissionRequest(changed, { operation: "UPDATE", oldObject: legacy })).verdict, "Deny");
        assert.equal(sync(admissionRequest(legacy)).verdict, "Deny");
    });

    it("removing the prod label does not escape the rule (the old object still matches)", () => {
        const compliant = app({ prune: true, selfHeal: true });
        const unlabelled = app({ prune: false, selfHeal: true }, {});
        assert.equal(sync(admissionRequest(unlabelled, { operation: "UPDATE", oldObject: compliant })).verdict, "Deny");
    });

    it("pausing needs the break-glass annotations; prune and selfHeal stay protected even then", () => {
        const paused = {
            ...app({ enabled: false, prune: false, selfHeal: true }),
            metadata: {
                name: "x",
                namespace: "argocd",
                labels: prodNamespace,
                annotations: { "gitops-control.io/break-glass-ticket": "INC-1", "gitops-control.io/break-glass-expires": "2026-11-24T16:00:00Z" },
            },
        };
        // As the program: the only writer of the expiry annotation.
        const d = sync(admissionRequest(paused, { userInfo: programUser }));
        assert.equal(d.verdict, "Deny");
        assert.deepEqual(
            d.violations.map((v) => v.message.split(":")[0]),
            ["spec.syncPolicy.automated.prune must be true"],
        );
    });
});
