/**
 * The guardrail fixtures (components/guardrails/rules/<rule>/) and their expectations.yaml, read the
 * same way by the offline unit tests and by the replay against a real API server.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { defaultWriter } from "../../scripts/lib/policyEvaluator";
import type { KubeObject, UserInfo } from "../../scripts/lib/policyEvaluator";
import type { Operation } from "../../components/guardrails/types";
import { loadManifests } from "../../scripts/lib/manifests";

export const fixturesRoot = path.join(__dirname, "..", "..", "components", "guardrails", "rules");
/** Namespace every fixture sits in; replays substitute their own. */
export const placeholderNamespace = "guardrails-fixtures";

/** One case of expectations.yaml (format: components/guardrails/rules/README.md). */
export interface Expectation {
    readonly verdict: "Allow" | "Deny";
    readonly message?: string;
    readonly operation?: Operation;
    /** `ephemeralcontainers` (UPDATE: the fixture is the Pod with them), `exec` (CONNECT: the fixture is PodExecOptions named after the Pod), `scale`. */
    readonly subResource?: string;
    /** UPDATE: the stored object's labels, where they differ from the fixture's (relabelling cases). @default the fixture's */
    readonly oldLabels?: Readonly<Record<string, string>>;
    /**
     * UPDATE: a file of this folder (not named good-/bad-) holding the stored object, where more than
     * its labels differ (an Application whose source or operation a case changes). @default the fixture
     */
    readonly old?: string;
    readonly userInfo?: UserInfo;
    readonly dryRun?: boolean;
    readonly auditAnnotations?: Record<string, string>;
    readonly skippedBy?: string;
    readonly note?: string;
}

/** Fixture folders, one per rule, sorted. */
export function fixtureRules(): string[] {
    return fs
        .readdirSync(fixturesRoot, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort();
}

/**
 * A rule's folder: the rule its expectations.yaml names, its cases, its fixture files, and the
 * namespace its objects sit in: the placeholder (a prod namespace, substituted by replays), or the
 * folder's own `namespace` (e.g. `argocd` for govern-argocd-namespace), unlabelled and kept as is.
 */
export function readFixtureFolder(rule: string): { dir: string; declaredRule: string; cases: Record<string, Expectation>; files: string[]; namespace: string } {
    const dir = path.join(fixturesRoot, rule);
    const expectations = parse(fs.readFileSync(path.join(dir, "expectations.yaml"), "utf8")) as { rule: string; namespace?: string; cases: Record<string, Expectation> };
    const files = fs
        .readdirSync(dir)
        .filter((f) => /^(good|bad)-.*\.yaml$/.test(f))
        .sort();
    return { dir, declaredRule: expectations.rule, cases: expectations.cases, files, namespace: expectations.namespace ?? placeholderNamespace };
}

/** The one object a fixture file holds. */
export function readFixture(file: string): KubeObject {
    const { manifests } = loadManifests([file]);
    assert.equal(manifests.length, 1, `${file} holds exactly one object`);
    return manifests[0].object;
}

/**
 * The stored object an UPDATE case starts from: the case's `old` file (read from `dir`), else the
 * fixture with `oldLabels` if the case gives them, else the fixture itself.
 */
export function storedObject(fixture: KubeObject, e: Pick<Expectation, "oldLabels" | "old">, dir?: string): KubeObject {
    if (e.old) {
        assert.ok(dir, `the stored object ${e.old} is read from the fixture's folder`);
        // One stored object serves every case of a folder: it takes the case's name.
        const stored = readFixture(path.join(dir, e.old));
        return { ...stored, metadata: { ...stored.metadata, name: fixture.metadata?.name } };
    }
    return e.oldLabels ? { ...fixture, metadata: { ...fixture.metadata, labels: { ...e.oldLabels } } } : fixture;
}

/** Who a case writes as: its `userInfo`, else who writes that kind in a GitOps cluster (see defaultWriter). */
export function caseUser(fixture: KubeObject, e: Pick<Expectation, "userInfo">): UserInfo {
    return e.userInfo ?? defaultWriter(fixture.kind);
}

/**
 * The library's rules whose bindings select every object of their kinds, whatever its labels
 * (cluster scope, no namespace parameters): a stack binds them with empty matchResources.
 */
export const unselectiveRules: readonly string[] = [
    "restrict-application-sets",
    "govern-app-projects",
    "require-service-project",
    "require-namespace-pod-security",
    "govern-argocd-namespace",
    "protect-break-glass-label",
];
