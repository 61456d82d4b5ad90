import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { argoAndPreviewProblems, formatArgoProblems, previewProblems } from "../../scripts/lib/argocdStatus";

const now = new Date("2026-11-27T12:00:00Z");
const ago = (minutes: number) => new Date(now.getTime() - minutes * 60_000).toISOString();
const preview = (name: string, created: string, status: object) => ({
    metadata: { name, labels: { env: "preview", pr: name.split("-").pop()! }, creationTimestamp: created },
    spec: {},
    status,
});
const healthy = { sync: { status: "Synced" }, health: { status: "Healthy" } };
const namespace = (name: string, created: string, labels: Record<string, string> = { env: "preview" }) => ({ metadata: { name, creationTimestamp: created, labels } });

describe("drift report: previews", () => {
    it("lists failed and stuck previews and namespaces past the TTL, and nothing healthy or young", () => {
        const apps = [
            preview("shop-pr-1", ago(120), healthy),
            preview("shop-pr-2", ago(30), {
                sync: { status: "OutOfSync" },
                health: { status: "Healthy" },
                operationState: { phase: "Failed", message: "one or more objects failed to apply" },
            }),
            preview("shop-pr-3", ago(40), {
                sync: { status: "OutOfSync" },
                health: { status: "Missing" },
                conditions: [{ type: "ComparisonError", message: "unable to resolve revision" }],
            }),
            preview("shop-pr-4", ago(5), { sync: { status: "OutOfSync" }, health: { status: "Missing" } }),
            preview("shop-pr-5", ago(60), { ...healthy, operationState: { phase: "Running", startedAt: ago(20) } }),
        ];
        const namespaces = [
            namespace("shop-pr-1", ago(73 * 60)),
            namespace("shop-pr-3", ago(40)),
            // Labelled like a preview but not one by name: never a preview problem.
            namespace("sandbox", ago(200 * 60)),
        ];
        const problems = previewProblems(apps, namespaces, { ttlHours: 72, now });
        assert.deepEqual(
            problems.map((p) => `${p.kind} ${p.application}`),
            ["PreviewSyncFailed shop-pr-2", "PreviewStuck shop-pr-3", "PreviewStuck shop-pr-5", "PreviewTooOld shop-pr-1"],
        );
        assert.match(problems[1]!.reasons.join("\n"), /not Synced and Healthy 40 min after creation[\s\S]*unable to resolve revision/);
        assert.match(problems[2]!.reasons[0]!, /sync running for 20 min/);
        assert.match(problems[3]!.reasons[0]!, /73h old \(TTL 72h\)/);
        assert.match(formatArgoProblems(problems), /PreviewTooOld shop-pr-1/);
    });

    it("lists previews the gate holds or expired with the gate's reason, never as stuck", () => {
        const gated = (name: string, reason: string) => ({
            ...preview(name, ago(60), { sync: { status: "OutOfSync" }, health: { status: "Missing" } }),
            metadata: { name, labels: { env: "preview" }, annotations: { "gitops-control.io/preview-held": reason }, creationTimestamp: ago(60) },
        });
        const problems = previewProblems(
            [
                gated("shop-pr-9", "cap: 3 previews of shop are running (services[].previews.maxOpen); held until one of them closes"),
                gated("shop-pr-3", "ttl: running longer than 72h"),
            ],
            [],
            { ttlHours: 72, now },
        );
        assert.deepEqual(
            problems.map((p) => `${p.kind} ${p.application}`),
            ["PreviewHeld shop-pr-9", "PreviewExpired shop-pr-3"],
        );
        assert.match(problems[0]!.reasons[0]!, /^cap: 3 previews of shop/);
    });

    it("keeps environment Applications in the Argo CD list and reports previews once, as previews", () => {
        const apps = [
            { metadata: { name: "shop-staging", labels: {} }, spec: {}, status: { sync: { status: "OutOfSync" }, health: { status: "Healthy" } } },
            preview("shop-pr-2", ago(30), { sync: { status: "OutOfSync" }, health: { status: "Healthy" }, operationState: { phase: "Error", message: "denied" } }),
        ];
        assert.deepEqual(
            argoAndPreviewProblems(apps, [], { ttlHours: 72, now }).map((p) => `${p.kind} ${p.application}`),
            ["OutOfSync shop-staging", "PreviewSyncFailed shop-pr-2"],
        );
    });
});
