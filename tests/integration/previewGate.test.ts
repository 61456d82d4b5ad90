import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { labels } from "../../components/labels";
import { previewGateAnnotations, previewGateScopePolicySpec, previewGateScript } from "../../components/PreviewGate";
import { janitorRbac, janitorScopePolicySpec, janitorServiceAccount } from "../../components/PreviewJanitor";
import { LocalCluster, applyList, eventually, kubectl, kubectlOk, repoRoot, startCluster, step } from "./support";

/**
 * The preview gate on a real API server, run as its service account by impersonation exactly as its
 * Deployment would run it (no kubelet here): the cap per service, oldest first; the TTL; the reason on
 * the Application (annotation and Event); idempotent passes; and its admission fence (rendered by the
 * component's own pure function). The end-to-end behaviour with Argo CD's controllers is scenario h
 * of previews.test.ts.
 */

const gateUser = `system:serviceaccount:argocd:${janitorServiceAccount}`;
const argoCrd = path.join(repoRoot, "..", "shared", "fixtures", "argo-cd", "v3.4.4", "crds", "application-crd.yaml");
const previewLabels = (service: string) => ({ env: "preview", [labels.environment]: "preview", [labels.service]: service });

function application(name: string, service: string, maxOpen: string, extraLabels: Record<string, string> = previewLabels(service)) {
    return {
        apiVersion: "argoproj.io/v1alpha1",
        kind: "Application",
        metadata: { name, namespace: "argocd", labels: extraLabels, annotations: { [previewGateAnnotations.maxOpen]: maxOpen, [previewGateAnnotations.ttlHours]: "72" } },
        spec: {
            project: service,
            source: { repoURL: `https://github.com/acme/${service}.git`, path: ".", targetRevision: "abc123" },
            destination: { server: "https://kubernetes.default.svc", namespace: name },
            syncPolicy: { automated: { enabled: false, prune: true, selfHeal: true } },
        },
    };
}

/** A role with `rules` bound to the janitor's service account (a Role in argocd, or a ClusterRole). */
function grant(kind: "Role" | "ClusterRole", rules: readonly object[]): object[] {
    const meta = { name: `janitor-${kind.toLowerCase()}`, ...(kind === "Role" ? { namespace: "argocd" } : {}) };
    const rbac = "rbac.authorization.k8s.io/v1";
    return [
        { apiVersion: rbac, kind, metadata: meta, rules },
        {
            apiVersion: rbac,
            kind: `${kind}Binding`,
            metadata: meta,
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind, name: meta.name },
            subjects: [{ kind: "ServiceAccount", namespace: "argocd", name: janitorServiceAccount }],
        },
    ];
}

/** A policy and its always-Deny binding. */
function denyAlways(name: string, spec: object): object[] {
    const api = "admissionregistration.k8s.io/v1";
    return [
        { apiVersion: api, kind: "ValidatingAdmissionPolicy", metadata: { name }, spec },
        { apiVersion: api, kind: "ValidatingAdmissionPolicyBinding", metadata: { name }, spec: { policyName: name, validationActions: ["Deny"] } },
    ];
}

describe("preview gate (real API server, the gate's identity)", { timeout: 5 * 60 * 1000 }, () => {
    let cluster: LocalCluster | undefined;
    const k = (args: readonly string[], input?: string) => kubectl(cluster!, args, input);
    const ok = (args: readonly string[], input?: string) => kubectlOk(cluster!, args, input);
    const runGate = (offsetHours = 0) => {
        const r = spawnSync("sh", ["-c", previewGateScript()], {
            encoding: "utf8",
            env: {
                ...process.env,
                KUBECTL: `kubectl --kubeconfig ${cluster!.kubeconfig} --as ${gateUser}`,
                ARGOCD_NAMESPACE: "argocd",
                PREVIEW_GATE_NOW: String(Math.floor(Date.now() / 1000) + offsetHours * 3600),
            },
        });
        step(`gate: ${r.stdout.trim()} ${r.stderr.trim()}`);
        assert.equal(r.status, 0, r.stderr);
        return r;
    };
    const enabled = (name: string) => ok(["get", "applications.argoproj.io", name, "-n", "argocd", "-o", "jsonpath={.spec.syncPolicy.automated.enabled}"]);
    const heldReason = (name: string) =>
        ok(["get", "applications.argoproj.io", name, "-n", "argocd", "-o", `jsonpath={.metadata.annotations.${previewGateAnnotations.held.replace(/\./g, "\\.")}}`]);
    const events = (name: string) =>
        (
            JSON.parse(ok(["get", "events", "-n", "argocd", "--field-selector", `involvedObject.name=${name}`, "-o", "json"])) as {
                items: { reason: string; type: string; message: string; involvedObject: { kind: string } }[];
            }
        ).items.map((e) => `${e.type} ${e.reason} ${e.involvedObject.kind}: ${e.message}`);

    before(async () => {
        cluster = startCluster();
        ok(["apply", "--server-side", "-f", argoCrd]);
        await eventually("the Application CRD to be established", 60, () => k(["wait", "--for=condition=established", "--timeout=5s", "crd/applications.argoproj.io"]).code === 0);
        step("the gate's RBAC and fences as PreviewJanitor renders them");
        applyList(cluster, [
            { apiVersion: "v1", kind: "Namespace", metadata: { name: "argocd" } },
            ...grant("ClusterRole", janitorRbac.cluster),
            ...grant("Role", janitorRbac.argoNamespace),
            ...denyAlways("janitor-scope", janitorScopePolicySpec(gateUser, { key: "env", value: "preview" })),
            ...denyAlways("gate-scope", previewGateScopePolicySpec(gateUser)),
        ]);
        // Oldest first: created one after another (ties in creationTimestamp are broken by name, in the same order).
        for (const [name, service, maxOpen] of [
            ["shop-pr-1", "shop", "2"],
            ["shop-pr-2", "shop", "2"],
            ["shop-pr-3", "shop", "2"],
            ["cart-pr-1", "cart", "1"],
        ] as const) {
            ok(["apply", "-f", "-"], JSON.stringify(application(name, service, maxOpen)));
        }
        ok(["apply", "-f", "-"], JSON.stringify(application("shop-staging", "shop", "2", { [labels.environment]: "staging", [labels.service]: "shop" })));
        ok(["apply", "-f", "-"], JSON.stringify(application("shop-pr-9", "shop", "many")));
        for (const ns of ["shop-pr-1", "shop-pr-2", "shop-staging"]) {
            ok(
                ["apply", "-f", "-"],
                JSON.stringify({
                    apiVersion: "v1",
                    kind: "Namespace",
                    metadata: { name: ns, labels: ns === "shop-staging" ? { [labels.environment]: "staging" } : previewLabels("shop") },
                }),
            );
        }
        await eventually("the gate's fence to be loaded", 60, () =>
            /preview gate may change only preview Applications/.test(
                k([
                    "patch",
                    "applications.argoproj.io",
                    "shop-staging",
                    "-n",
                    "argocd",
                    "--as",
                    gateUser,
                    "--type",
                    "merge",
                    "-p",
                    '{"spec":{"syncPolicy":{"automated":{"enabled":true}}}}',
                ]).stderr,
            ),
        );
    });

    after(() => cluster?.stop());

    it("admits the oldest previews of each service up to its cap and holds the rest with the reason (annotation and Event)", () => {
        runGate();
        assert.equal(enabled("shop-pr-1"), "true");
        assert.equal(enabled("shop-pr-2"), "true");
        assert.equal(enabled("shop-pr-3"), "false");
        assert.equal(heldReason("shop-pr-3"), "cap: 2 previews of shop are running (services[].previews.maxOpen); held until one of them closes");
        assert.ok(
            events("shop-pr-3").includes("Warning PreviewHeld Application: cap: 2 previews of shop are running (services[].previews.maxOpen); held until one of them closes"),
        );
        assert.ok(events("shop-pr-1").includes("Normal PreviewAdmitted Application: admitted: preview 1 of at most 2 of shop"));
        // Each service has its own cap.
        assert.equal(enabled("cart-pr-1"), "true");
        // A preview without a valid cap is left alone, and said so; a non-preview is never considered.
        assert.equal(enabled("shop-pr-9"), "false");
        assert.equal(heldReason("shop-pr-9"), "");
        assert.equal(enabled("shop-staging"), "false");
        assert.deepEqual(events("shop-staging"), []);
    });

    it("is idempotent: a second pass writes nothing", () => {
        const versions = () => ok(["get", "applications.argoproj.io", "-n", "argocd", "-o", "jsonpath={.items[*].metadata.resourceVersion}"]);
        const before = versions();
        const eventCount = ok(["get", "events", "-n", "argocd", "-o", "name"]).split("\n").length;
        const r = runGate();
        assert.equal(r.stdout.trim(), "");
        assert.equal(versions(), before);
        assert.equal(ok(["get", "events", "-n", "argocd", "-o", "name"]).split("\n").length, eventCount);
    });

    it("admits the held preview when an older one closes", () => {
        ok(["delete", "applications.argoproj.io", "shop-pr-1", "-n", "argocd"]);
        runGate();
        assert.equal(enabled("shop-pr-3"), "true");
        assert.equal(heldReason("shop-pr-3"), "");
        assert.ok(events("shop-pr-3").includes("Normal PreviewAdmitted Application: admitted: preview 2 of at most 2 of shop"));
    });

    it("past the TTL pauses every preview, deletes its namespace and says why; non-previews untouched", async () => {
        runGate(73);
        for (const name of ["shop-pr-2", "shop-pr-3", "cart-pr-1"]) {
            assert.equal(enabled(name), "false", name);
            assert.match(heldReason(name), /^ttl: running longer than 72h \(services\[\]\.previews\.ttlHours of (shop|cart)\)/);
            assert.ok(
                events(name).some((e) => e.startsWith("Warning PreviewExpired Application: ttl:")),
                name,
            );
        }
        await eventually(
            "shop-pr-2's namespace to be terminating or gone",
            30,
            () => !/Active/.test(k(["get", "namespace", "shop-pr-2", "-o", "jsonpath={.status.phase}"]).stdout),
        );
        assert.equal(k(["get", "namespace", "shop-staging", "-o", "jsonpath={.status.phase}"]).stdout, "Active");
    });

    it("its fence: the gate's identity may switch previews on and off, never touch other Applications or a preview's project, destination or source", () => {
        const patch = (name: string, body: object) =>
            k(["patch", "applications.argoproj.io", name, "-n", "argocd", "--as", gateUser, "--type", "merge", "-p", JSON.stringify(body)]);
        assert.match(
            patch("shop-staging", { spec: { syncPolicy: { automated: { enabled: true } } } }).stderr,
            /the preview gate may change only preview Applications, not shop-staging/,
        );
        assert.match(
            patch("shop-pr-2", { spec: { project: "default" } }).stderr,
            /may switch automated sync of shop-pr-2 on or off, not change its project, destination or source/,
        );
        assert.match(patch("shop-pr-2", { spec: { source: { targetRevision: "main" } } }).stderr, /not change its project, destination or source/);
        assert.equal(patch("shop-pr-2", { spec: { syncPolicy: { automated: { enabled: true } } } }).code, 0);
        // RBAC: nothing beyond patch (no delete of Applications).
        assert.match(k(["delete", "applications.argoproj.io", "shop-pr-2", "-n", "argocd", "--as", gateUser]).stderr, /forbidden/);
    });
});
