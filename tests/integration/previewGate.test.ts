import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { labels } from "../../components/core/labels";
import { previewGateAnnotations } from "../../components/previews/PreviewGate";
import { PreviewJanitor, janitorServiceAccount } from "../../components/previews/PreviewJanitor";
import { PodContainer, podContainer, renderComponent, runContainer, serviceAccountKubectl, startContainer } from "./inContainer";
import { LocalCluster, applyList, eventually, kubectl, kubectlOk, startClusterWithArgoCdCrds, step } from "./support";

/**
 * The preview gate on a real API server holding what PreviewJanitor renders (the gate's Deployment,
 * Role and fence, under the janitor's service account), its container run as its pod would
 * (tests/integration/inContainer.ts: the rendered command and environment, the service account's
 * real token through the in-cluster configuration, uid 65532 on a read-only root; no kubelet here):
 * the cap per service, oldest first; the TTL; the reason on the Application (annotation and Event);
 * idempotent passes; and its admission fence. The end-to-end behaviour with Argo CD's controllers is
 * scenario h of previews.test.ts.
 */

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

describe("preview gate (real API server, the gate's identity)", { timeout: 5 * 60 * 1000 }, () => {
    let cluster: LocalCluster | undefined;
    const k = (args: readonly string[], input?: string) => kubectl(cluster!, args, input);
    const ok = (args: readonly string[], input?: string) => kubectlOk(cluster!, args, input);
    let gate: PodContainer;
    /** kubectl with the gate's real token, for probes of its fence. */
    let asGate: ReturnType<typeof serviceAccountKubectl>;
    /**
     * One pass, as each turn of the Deployment's loop runs it (`sh -c "$GATE"` in the container's
     * environment); `offsetHours` moves the gate's clock (PREVIEW_GATE_NOW) for the TTL.
     */
    const runGate = async (offsetHours = 0) => {
        const r = await runContainer(cluster!, gate, {
            command: ["/bin/sh", "-c", 'sh -c "$GATE"'],
            ...(offsetHours ? { env: { PREVIEW_GATE_NOW: String(Math.floor(Date.now() / 1000) + offsetHours * 3600) } } : {}),
        });
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
        // Argo CD's CRDs at the version the program installs (v3.6.1).
        cluster = startClusterWithArgoCdCrds();
        step("everything PreviewJanitor renders: the gate's Deployment, Role and fence, the janitor's service account and fence");
        applyList(cluster, [
            { apiVersion: "v1", kind: "Namespace", metadata: { name: "argocd" } },
            ...(await renderComponent(() => new PreviewJanitor("janitor", { namespace: "argocd", skipAwait: true }))),
        ]);
        gate = podContainer(cluster, "deployment", "preview-gate", "argocd");
        asGate = serviceAccountKubectl(cluster, "argocd", gate.serviceAccountName);
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
                asGate(["patch", "applications.argoproj.io", "shop-staging", "-n", "argocd", "--type", "merge", "-p", '{"spec":{"syncPolicy":{"automated":{"enabled":true}}}}'])
                    .stderr,
            ),
        );
    });

    after(() => cluster?.stop());

    it("its Deployment's container is what the component renders: a loop over the script in GATE, read-only root, the janitor's account", () => {
        assert.equal(gate.serviceAccountName, janitorServiceAccount);
        assert.equal(gate.readOnlyRootFilesystem, true);
        assert.equal(gate.runAsUser, 65532);
        assert.deepEqual(gate.command.slice(0, 2), ["/bin/sh", "-c"]);
        assert.match(gate.command[2], /^while :; do sh -c "\$GATE" \|\| echo "preview gate: pass failed" >&2; sleep "\$INTERVAL"; done$/);
        assert.deepEqual(Object.keys(gate.env), ["GATE", "INTERVAL", "ARGOCD_NAMESPACE"]);
    });

    it("its running loop admits the oldest previews of each service up to its cap and holds the rest with the reason (annotation and Event)", async () => {
        // The Deployment's own command, as its pod runs it, until the verdicts are in.
        const loop = startContainer(cluster!, gate);
        try {
            // shop-pr-3's Event is the last write of a pass (Applications go by service, then age).
            await eventually("the gate's loop to hold shop-pr-3 (its PreviewHeld Event)", 90, () => events("shop-pr-3").some((e) => e.startsWith("Warning PreviewHeld")));
        } finally {
            await loop.stop();
            step(`gate loop output:\n${loop.output()}`);
        }
        assert.doesNotMatch(loop.output(), /pass failed/);
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

    it("is idempotent: a second pass writes nothing", async () => {
        const versions = () => ok(["get", "applications.argoproj.io", "-n", "argocd", "-o", "jsonpath={.items[*].metadata.resourceVersion}"]);
        const before = versions();
        const eventCount = ok(["get", "events", "-n", "argocd", "-o", "name"]).split("\n").length;
        const r = await runGate();
        assert.equal(r.stdout.trim(), "");
        assert.equal(versions(), before);
        assert.equal(ok(["get", "events", "-n", "argocd", "-o", "name"]).split("\n").length, eventCount);
    });

    it("admits the held preview when an older one closes", async () => {
        ok(["delete", "applications.argoproj.io", "shop-pr-1", "-n", "argocd"]);
        await runGate();
        assert.equal(enabled("shop-pr-3"), "true");
        assert.equal(heldReason("shop-pr-3"), "");
        assert.ok(events("shop-pr-3").includes("Normal PreviewAdmitted Application: admitted: preview 2 of at most 2 of shop"));
    });

    it("a closing preview whose sync is still retrying: the gate terminates the operation (Argo CD finalizes no Application while one runs) and says so", async () => {
        // As Argo CD leaves a preview whose failing sync is in its retry backoff: an operation with
        // phase Running; the PR closed, so the ApplicationSet controller deleted it, and the
        // resources finalizer keeps it until the application controller finalizes it.
        ok(["apply", "-f", "-"], JSON.stringify(application("shop-pr-4", "shop", "2")));
        const startedAt = new Date().toISOString().replace(/\.\d+Z$/, "Z");
        try {
            ok([
                "patch",
                "applications.argoproj.io",
                "shop-pr-4",
                "-n",
                "argocd",
                "--type",
                "merge",
                "-p",
                JSON.stringify({
                    metadata: { finalizers: ["resources-finalizer.argocd.argoproj.io"] },
                    status: {
                        operationState: {
                            phase: "Running",
                            startedAt,
                            finishedAt: startedAt,
                            retryCount: 1,
                            message: "Retrying attempt #1",
                            operation: { sync: { revision: "abc123" } },
                        },
                    },
                }),
            ]);
            ok(["delete", "applications.argoproj.io", "shop-pr-4", "-n", "argocd", "--wait=false"]);
            const r = await runGate();
            assert.match(r.stdout, /shop-pr-4: PreviewClosing: closing: terminated the sync/);
            assert.equal(ok(["get", "applications.argoproj.io", "shop-pr-4", "-n", "argocd", "-o", "jsonpath={.status.operationState.phase}"]), "Terminating");
            assert.ok(events("shop-pr-4").some((e) => e.startsWith("Normal PreviewClosing Application: closing: terminated the sync")));
            // Idempotent: the next pass leaves a terminating operation alone.
            const version = ok(["get", "applications.argoproj.io", "shop-pr-4", "-n", "argocd", "-o", "jsonpath={.metadata.resourceVersion}"]);
            await runGate();
            assert.equal(ok(["get", "applications.argoproj.io", "shop-pr-4", "-n", "argocd", "-o", "jsonpath={.metadata.resourceVersion}"]), version);
            // The gate's token may do that to a preview only: a non-preview's operation is not its to end.
            assert.match(
                asGate([
                    "patch",
                    "applications.argoproj.io",
                    "shop-staging",
                    "-n",
                    "argocd",
                    "--type",
                    "merge",
                    "-p",
                    JSON.stringify({ status: { operationState: { phase: "Terminating", startedAt, operation: { sync: { revision: "abc123" } } } } }),
                ]).stderr,
                /the preview gate may change only preview Applications, not shop-staging/,
            );
        } finally {
            // What Argo CD's controller does once the operation has ended.
            k(["patch", "applications.argoproj.io", "shop-pr-4", "-n", "argocd", "--type", "merge", "-p", '{"metadata":{"finalizers":null}}']);
        }
    });

    it("past the TTL pauses every preview, deletes its namespace and says why; non-previews untouched", async () => {
        await runGate(73);
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
        const patch = (name: string, body: object) => asGate(["patch", "applications.argoproj.io", name, "-n", "argocd", "--type", "merge", "-p", JSON.stringify(body)]);
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
        assert.match(asGate(["delete", "applications.argoproj.io", "shop-pr-2", "-n", "argocd"]).stderr, /forbidden/);
    });
});
