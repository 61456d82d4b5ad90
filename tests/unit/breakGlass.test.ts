import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AdmissionGuardrails, GuardrailBinding, bindingForRule, carvedOutUnderBreakGlass, renderBindingSpec } from "../../components/guardrails/AdmissionGuardrails";
import { installMocks, settle } from "../../scripts/lib/mockRuntime";
import { GuardrailEvaluator, admissionRequest } from "../../scripts/lib/policyEvaluator";
import { breakGlassExpiryClusterRules, breakGlassUntilValue } from "../../components/breakglass/BreakGlassExpiry";
import { requireResolvedService } from "../../components/serviceSpec";
import { breakGlassStatus, buildControlPlaneArgs, parseStackConfig, reconcileDebt } from "../../stacks/config";

/** The environments of service `i` as GitOpsService resolves them (presets applied). */
const resolvedEnvironments = (args: ReturnType<typeof buildControlPlaneArgs>, i: number) =>
    requireResolvedService(args.services[i].name, { ...args.services[i].args, argoNamespace: args.argoCd.namespace }).environments;
const now = new Date("2026-11-24T12:00:00Z");
const service = { name: "payments-api", team: "payments", repoURL: "https://github.com/acme/payments-api.git", path: "deploy/chart", targetRevision: "v1.0.0" };
const entry = {
    services: ["payments-api"],
    reason: "INC-4711: hotfix for card declines, patched live",
    ticket: "INC-4711",
    requestedBy: "alice@acme.example",
    requestedAt: "2026-11-24T10:00:00Z",
    expires: "2026-11-24T16:00:00Z",
};
const stack = (breakGlass: unknown[], extra: Record<string, unknown> = {}) =>
    parseStackConfig({ environment: "prod", services: [service, { ...service, name: "checkout", repoURL: "https://github.com/acme/checkout.git" }], breakGlass, ...extra });

describe("break-glass", () => {
    it("an active exception pauses automated sync of the service and annotates its Application", () => {
        const args = buildControlPlaneArgs(stack([entry]), {}, now);
        const [payments, checkout] = args.services.map((_, i) => resolvedEnvironments(args, i)[0]);
        assert.equal(payments.syncPolicy.automated.enabled, false);
        // Only `enabled` changes: prune/selfHeal are kept for when the exception ends.
        assert.deepEqual(payments.syncPolicy.automated, { enabled: false, prune: true, selfHeal: true, allowEmpty: false });
        assert.deepEqual(payments.annotations, {
            "gitops-control.io/break-glass-reason": entry.reason,
            "gitops-control.io/break-glass-ticket": "INC-4711",
            "gitops-control.io/break-glass-expires": "2026-11-24T16:00:00Z",
            "gitops-control.io/break-glass-requested-by": "alice@acme.example",
        });
        assert.equal(checkout.syncPolicy.automated.enabled, true, "other services untouched");
        assert.deepEqual(checkout.annotations, {});
    });

    it("an active exception carves its namespaces out by label: the content rules' prod binding skips labelled namespaces, a [Warn, Audit] binding selects them", () => {
        const { bindings } = buildControlPlaneArgs(stack([entry]), {}, now).guardrails;
        assert.deepEqual(bindings[0], { environment: "prod", validationActions: ["Deny", "Audit"], breakGlass: "exclude" });
        assert.deepEqual(bindings[1], { environment: "prod", validationActions: ["Warn", "Audit"], breakGlass: "only" });
        assert.deepEqual(renderBindingSpec("p", bindings[0], "gitops-control.io/environment").matchResources, {
            namespaceSelector: {
                matchLabels: { "gitops-control.io/environment": "prod" },
                matchExpressions: [{ key: "gitops-control.io/break-glass-until", operator: "DoesNotExist" }],
            },
        });
        assert.deepEqual(renderBindingSpec("p", bindings[1], "gitops-control.io/environment").matchResources, {
            namespaceSelector: { matchLabels: { "gitops-control.io/environment": "prod" }, matchExpressions: [{ key: "gitops-control.io/break-glass-until", operator: "Exists" }] },
        });
        assert.deepEqual(
            buildControlPlaneArgs(stack([]), {}, now).guardrails.bindings,
            [{ environment: "prod", validationActions: ["Deny", "Audit"] }],
            "no carve-out without an open entry",
        );
    });

    it("the component registers each binding once: the Warn binding has a resource name of its own (Pulumi refuses duplicate URNs)", async () => {
        const recorded = installMocks("unit");
        const { rules, bindings } = buildControlPlaneArgs(stack([entry]), {}, now).guardrails;
        new AdmissionGuardrails("g", { rules, bindings });
        await settle(recorded);
        const names = recorded.filter((r) => r.type.endsWith("ValidatingAdmissionPolicyBinding")).map((r) => r.name);
        assert.equal(new Set(names).size, names.length, names.join(", "));
        assert.ok(names.includes("g-require-resources-prod-break-glass"));
        assert.ok(!names.includes("g-restrict-workload-writers-prod-break-glass"));
    });

    it("the carve-out never lifts the writer rule, the namespace rules or Argo CD's inputs: their prod bindings keep the namespace, and no break-glass binding is made", () => {
        const { rules, bindings } = buildControlPlaneArgs(stack([entry]), {}, now).guardrails;
        const rule = (name: string) => rules.find((r) => r.name === name)!;
        for (const name of [
            "restrict-workload-writers",
            "protect-namespace-labels",
            "keep-governed-namespaces",
            "require-namespace-pod-security",
            "protect-sync-policy",
            "protect-break-glass-label",
        ]) {
            assert.equal(bindingForRule(rule(name), bindings[0])?.breakGlass, undefined, name);
            assert.equal(bindingForRule(rule(name), bindings[1]), undefined, name);
        }
        assert.equal(bindingForRule(rule("require-resources"), bindings[0])?.breakGlass, "exclude");
        assert.equal(bindingForRule(rule("require-resources"), bindings[1]), bindings[1]);
        // Offline as on the API server: in a labelled namespace an unsized Deployment is judged by the Warn binding, not the Deny one.
        const unsized = {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "hotfix", namespace: "payments-api-prod", labels: { "app.kubernetes.io/name": "hotfix", "gitops-control.io/team": "payments" } },
            spec: {
                selector: { matchLabels: { "app.kubernetes.io/name": "hotfix" } },
                template: {
                    metadata: { labels: { "app.kubernetes.io/name": "hotfix", "gitops-control.io/team": "payments" } },
                    spec: { securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } }, containers: [{ name: "web", image: "nginx:1.27.3" }] },
                },
            },
        };
        const labelled = { "gitops-control.io/environment": "prod", "gitops-control.io/break-glass-until": breakGlassUntilValue(entry.expires) };
        const decide = (binding: GuardrailBinding, namespaceLabels: Record<string, string>) =>
            new GuardrailEvaluator([rule("require-resources")], { binding }).evaluate(admissionRequest(unsized, { namespaceLabels }))[0];
        assert.deepEqual([decide(bindings[1], labelled).verdict, decide(bindings[1], labelled).binding], ["Warn", "gitops-control-require-resources-prod-break-glass"]);
        assert.equal(decide(bindings[0], labelled).verdict, "NotApplicable");
        assert.equal(decide(bindings[0], { "gitops-control.io/environment": "prod" }).verdict, "Deny", "the label gone, Deny is back");
    });

    it("an active exception provisions the expiry job with the namespaces to label, and no permission on any admission binding", () => {
        const args = buildControlPlaneArgs(stack([entry]), {}, now);
        const expiry = args.breakGlassExpiry;
        assert.ok(expiry, "the expiry job is provisioned while an exception is open");
        assert.deepEqual(expiry.breakGlassNamespaces, [
            {
                name: "payments-api-prod",
                expires: "2026-11-24T16:00:00Z",
                annotations: {
                    "gitops-control.io/break-glass-reason": entry.reason,
                    "gitops-control.io/break-glass-ticket": "INC-4711",
                    "gitops-control.io/break-glass-expires": "2026-11-24T16:00:00Z",
                    "gitops-control.io/break-glass-requested-by": "alice@acme.example",
                },
            },
        ]);
        assert.equal(breakGlassUntilValue(entry.expires), String(Date.parse(entry.expires) / 1000));
        // Only the rules the carve-out lifts (images, resources, labels): never pod security, the replica cap, the writer rule, the namespace rules or Argo CD's inputs.
        const carved = args.guardrails.rules.filter(carvedOutUnderBreakGlass);
        assert.deepEqual(
            carved.map((r) => r.name),
            ["disallow-latest-image", "require-resources", "require-labels"],
        );
        const rules = breakGlassExpiryClusterRules(expiry);
        assert.deepEqual(rules, [
            { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list"] },
            { apiGroups: [""], resources: ["namespaces"], verbs: ["patch"], resourceNames: ["payments-api-prod"] },
        ]);
        assert.equal(buildControlPlaneArgs(stack([]), {}, now).breakGlassExpiry, undefined, "no job without an open exception");
    });

    it("active exceptions are reconcile debt", () => {
        assert.deepEqual(reconcileDebt(breakGlassStatus(stack([entry]), now)), {
            active: [{ ticket: "INC-4711", services: ["payments-api"], expires: entry.expires, hoursLeft: 4 }],
            overdue: [],
        });
    });

    it("an expired exception stops preview and up with the back-port message", () => {
        const later = new Date("2026-11-24T18:30:00Z");
        assert.throws(
            () => buildControlPlaneArgs(stack([entry]), {}, later),
            /break-glass expired: back-port the fix to Git, then remove the entry\. `gitops-control:breakGlass\[0\]` \(INC-4711, payments-api\) expired at 2026-11-24T16:00:00Z, 2\.5 h ago/,
        );
    });

    it("with onExpiry: revert, an expired exception is dropped with a warning and stays as overdue debt", () => {
        const later = new Date("2026-11-24T18:30:00Z");
        const warnings: string[] = [];
        const config = stack([entry], { breakGlassPolicy: { onExpiry: "revert" } });
        const args = buildControlPlaneArgs(config, {}, later, (m) => warnings.push(m));
        assert.equal(resolvedEnvironments(args, 0)[0].syncPolicy.automated.enabled, true);
        assert.deepEqual(
            args.guardrails.bindings.map((b) => b.environment),
            ["prod"],
        );
        assert.match(warnings[0], /break-glass expired: back-port the fix to Git.*reverted automatically/);
        assert.deepEqual(reconcileDebt(breakGlassStatus(config, later)).overdue, [{ ticket: "INC-4711", services: ["payments-api"], expires: entry.expires, hoursOverdue: 2.5 }]);
    });

    it("rejects malformed entries with the field and the fix", () => {
        const cases: [Record<string, unknown>, RegExp][] = [
            [{ ticket: "" }, /`gitops-control:breakGlass\[0\]\.ticket` is "".*Fix: reference the incident or change ticket/],
            [{ ticket: "hotfix" }, /`gitops-control:breakGlass\[0\]\.ticket` is "hotfix"/],
            [{ expires: "2026-11-24T09:00:00Z" }, /`gitops-control:breakGlass\[0\]\.expires` is not after requestedAt/],
            [{ expires: "2026-11-25T11:00:00Z" }, /`gitops-control:breakGlass\[0\]\.expires` is 25\.0 h after requestedAt, more than the 24 h allowed/],
            [{ expires: "tomorrow" }, /`gitops-control:breakGlass\[0\]\.expires` is "tomorrow", not an ISO-8601 time/],
            [{ requestedAt: "2026-11-25T10:00:00Z", expires: "2026-11-25T12:00:00Z" }, /`gitops-control:breakGlass\[0\]\.requestedAt` is in the future/],
            [{ services: ["billing"] }, /`gitops-control:breakGlass\[0\]\.services\[0\]` is "billing", which is not a service of this stack/],
            [{ reason: "fix" }, /`gitops-control:breakGlass\[0\]\.reason` is too short to audit/],
            [{ environments: ["staging"] }, /`gitops-control:breakGlass\[0\]\.environments` matches no environment/],
        ];
        for (const [change, message] of cases) {
            assert.throws(() => buildControlPlaneArgs(stack([{ ...entry, ...change }]), {}, now), message);
        }
        assert.throws(
            () => parseStackConfig({ environment: "prod", breakGlass: [{ ...entry, ticket: undefined }] }),
            /`gitops-control:breakGlass\[0\]\.ticket` is missing|must be string/,
        );
    });
});
