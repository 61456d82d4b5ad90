import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bindingForRule, carvedOutUnderBreakGlass, renderBindingSpec } from "../../components/guardrails/AdmissionGuardrails";
import { breakGlassExpiryClusterRules } from "../../components/breakglass/BreakGlassExpiry";
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

    it("an active exception switches the guardrails of its namespaces to [Warn, Audit], audited", () => {
        const { bindings } = buildControlPlaneArgs(stack([entry]), {}, now).guardrails;
        assert.deepEqual(bindings[0].excludeNamespaces, ["payments-api-prod"]);
        assert.deepEqual(bindings[0].validationActions, ["Deny", "Audit"]);
        const glass = bindings[1];
        assert.equal(glass.environment, "break-glass-inc-4711");
        assert.deepEqual(glass.namespaces, ["payments-api-prod"]);
        assert.deepEqual(glass.validationActions, ["Warn", "Audit"]);
        assert.equal(glass.annotations?.["gitops-control.io/break-glass-ticket"], "INC-4711");
        assert.deepEqual(renderBindingSpec("p", bindings[0], "gitops-control.io/environment").matchResources, {
            namespaceSelector: {
                matchLabels: { "gitops-control.io/environment": "prod" },
                matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "NotIn", values: ["payments-api-prod"] }],
            },
        });
        assert.deepEqual(renderBindingSpec("p", glass, "gitops-control.io/environment").matchResources, {
            namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["payments-api-prod"] }] },
        });
    });

    it("the carve-out never lifts the writer rule, the namespace rules or Argo CD's inputs: their prod bindings keep the namespace, and no break-glass binding is made", () => {
        const { rules, bindings } = buildControlPlaneArgs(stack([entry]), {}, now).guardrails;
        const rule = (name: string) => rules.find((r) => r.name === name)!;
        for (const name of ["restrict-workload-writers", "protect-namespace-labels", "keep-governed-namespaces", "require-namespace-pod-security", "protect-sync-policy"]) {
            assert.equal(bindingForRule(rule(name), bindings[0])?.excludeNamespaces, undefined, name);
            assert.equal(bindingForRule(rule(name), bindings[1]), undefined, name);
        }
        assert.deepEqual(bindingForRule(rule("require-resources"), bindings[0])?.excludeNamespaces, ["payments-api-prod"]);
        assert.equal(bindingForRule(rule("require-resources"), bindings[1]), bindings[1]);
    });

    it("an active exception provisions the expiry job, allowed to patch only the carving bindings and delete only the break-glass ones", () => {
        const args = buildControlPlaneArgs(stack([entry]), {}, now);
        const expiry = args.breakGlassExpiry;
        assert.ok(expiry, "the expiry job is provisioned while an exception is open");
        // Only the rules the carve-out lifts (images, resources, labels): never pod security, the replica cap, the writer rule, the namespace rules or Argo CD's inputs.
        const carved = args.guardrails.rules.filter(carvedOutUnderBreakGlass);
        assert.deepEqual(
            args.guardrails.rules.filter((r) => !carved.includes(r)).map((r) => r.name),
            [
                "require-pod-security-context",
                "cap-replicas",
                "disallow-host-access",
                "restrict-container-privileges",
                "restrict-security-profiles",
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
            ],
        );
        const policies = carved.map((r) => `gitops-control-${r.name}`);
        assert.deepEqual(
            expiry.environmentBindings,
            policies.map((p) => `${p}-prod`),
        );
        assert.deepEqual(
            expiry.breakGlassBindings,
            policies.map((p) => `${p}-break-glass-inc-4711`),
        );
        const rules = breakGlassExpiryClusterRules(expiry);
        assert.deepEqual(rules.find((r) => (r.verbs as string[]).includes("delete"))?.resourceNames, expiry.breakGlassBindings);
        assert.deepEqual(rules.find((r) => (r.verbs as string[]).includes("patch"))?.resourceNames, expiry.environmentBindings);
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
