/**
 * The in-cluster scripts (components/<concept>/*.sh, beside the component that runs each): real files, clean under shellcheck, read at
 * render time into exactly the CronJob and Deployment that run them, and using the label and
 * annotation names of components/core/labels.ts (a renamed key that the script still spells the old way
 * fails here). How they run in their containers: tests/integration/janitorFence, previewGate and
 * breakGlassExpiry (rendered command, environment and service-account token, read-only root).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { RecordedResource, installMocks, repoRoot, settle } from "../../scripts/lib/mockRuntime";
import { BreakGlassExpiry, breakGlassExpiryScript } from "../../components/breakglass/BreakGlassExpiry";
import { annotations, labels } from "../../components/core/labels";
import { readScript } from "../../components/core/options";
import { PreviewGate, previewGateAnnotations, previewGateLoop, previewGateScript } from "../../components/previews/PreviewGate";
import { PreviewJanitor, janitorScript } from "../../components/previews/PreviewJanitor";
import { pruneGateAnnotations, pruneGateScript } from "../../components/pruning/PruneGate";

const scripts = { "preview-janitor.sh": janitorScript, "preview-gate.sh": previewGateScript, "break-glass-expiry.sh": breakGlassExpiryScript, "prune-gate.sh": pruneGateScript };
/** Each script beside the component that runs it. */
const scriptFiles: Record<keyof typeof scripts, string> = {
    "preview-janitor.sh": "components/previews/preview-janitor.sh",
    "preview-gate.sh": "components/previews/preview-gate.sh",
    "break-glass-expiry.sh": "components/breakglass/break-glass-expiry.sh",
    "prune-gate.sh": "components/pruning/prune-gate.sh",
};
/** Every `.sh` file under components/, relative to the repository. */
const shellFiles = () =>
    fs
        .readdirSync(path.join(repoRoot, "components"), { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".sh"))
        .map((f) => path.join("components", f))
        .sort();
/** `gitops-control.io/...` keys as a script spells them (in kubectl jsonpath the dots are escaped). */
const keysIn = (script: string) => new Set([...script.matchAll(/gitops-control\\?\.io\/[a-z-]+/g)].map((m) => m[0].replace(/\\\./g, ".")));
const jsonpathKey = (kind: "labels" | "annotations", key: string) => `{.metadata.${kind}.${key.replace(/\./g, "\\.")}}`;

describe("in-cluster scripts are files", () => {
    it("components/ holds exactly the four scripts the components read, each beside its component", () => {
        assert.deepEqual(shellFiles(), Object.values(scriptFiles).sort());
    });

    it("shellcheck finds nothing in any of them (POSIX sh, every severity)", () => {
        const version = spawnSync("shellcheck", ["--version"], { encoding: "utf8" });
        // Not a skip: a machine without shellcheck fails here, with the fix.
        assert.equal(
            version.status,
            0,
            `shellcheck is not installed (${version.error?.message ?? version.stderr}). Fix: bash scripts/toolchain/install.sh (as root it installs the Debian package shellcheck), or apt-get install -y shellcheck`,
        );
        const files = shellFiles().map((f) => path.join(repoRoot, f));
        const r = spawnSync("shellcheck", ["--shell=sh", "--severity=style", "--format=gcc", ...files], { encoding: "utf8" });
        assert.equal(r.stdout + r.stderr, "", "shellcheck findings");
        assert.equal(r.status, 0);
    });

    it("the rendered script is the file without its header (shebang and comments up to the first blank line)", () => {
        for (const [file, read] of Object.entries(scripts)) {
            const text = fs.readFileSync(path.join(repoRoot, scriptFiles[file as keyof typeof scripts]), "utf8");
            assert.ok(text.startsWith("#!/bin/sh\n#"), file);
            assert.ok(read().startsWith("set -eu\n"), file);
            assert.ok(text.endsWith(`\n\n${read()}`), file);
        }
    });

    it("refuses a script file without the header shape, naming the file", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "scripts-"));
        fs.writeFileSync(path.join(dir, "bare.sh"), "set -eu\necho hi\n");
        fs.writeFileSync(path.join(dir, "code-in-header.sh"), "#!/bin/sh\necho hi\n\necho there\n");
        assert.throws(() => readScript("bare.sh", dir), /bare\.sh: expected a #!\/bin\/sh line and comment lines, a blank line, then the script/);
        assert.throws(() => readScript("code-in-header.sh", dir), /code-in-header\.sh: expected/);
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("they spell only the label and annotation keys of labels.ts, PreviewGate.ts and PruneGate.ts, and the ones they need", () => {
        const known = new Set<string>([...Object.values(labels), ...Object.values(annotations), ...Object.values(previewGateAnnotations), pruneGateAnnotations.held]);
        for (const [file, read] of Object.entries(scripts)) {
            for (const key of keysIn(read())) assert.ok(known.has(key), `${file} uses ${key}, which labels.ts does not define`);
        }
        assert.match(janitorScript(), new RegExp(`PREVIEW_SELECTOR:-env=preview,${labels.environment}=preview`.replace(/[.]/g, "\\.")));
        const gate = previewGateScript();
        assert.ok(gate.includes(`-l "env=preview,${labels.environment}=preview"`));
        for (const key of [jsonpathKey("labels", labels.service), ...Object.values(previewGateAnnotations).map((a) => jsonpathKey("annotations", a))]) {
            assert.ok(gate.includes(key), key);
        }
        const prune = pruneGateScript();
        assert.ok(prune.includes(`-l "${labels.environment}=prod"`));
        for (const key of Object.values(pruneGateAnnotations)) assert.ok(prune.includes(jsonpathKey("annotations", key)), key);
        // It approves with the operation's own startedAt, and removes its hold with a null.
        assert.ok(prune.includes(`{\\"${pruneGateAnnotations.approved}\\":\\"$started\\",\\"${pruneGateAnnotations.held}\\":null}`));
        const expiry = breakGlassExpiryScript();
        assert.ok(expiry.includes(`get namespaces -l ${labels.breakGlassUntil} `));
        assert.ok(expiry.includes(jsonpathKey("labels", labels.breakGlassUntil)));
        assert.ok(expiry.includes(jsonpathKey("annotations", annotations.breakGlassExpires)));
        // The patches that end an exception: the namespace's label and every break-glass annotation removed; automated sync on.
        const cleared = Object.fromEntries(
            [annotations.breakGlassTicket, annotations.breakGlassReason, annotations.breakGlassExpires, annotations.breakGlassRequestedBy].map((a) => [a, null]),
        );
        const namespacePatch = JSON.stringify({ metadata: { labels: { [labels.breakGlassUntil]: null }, annotations: cleared } });
        assert.ok(expiry.includes(`patch namespace "$ns" --type merge -p '${namespacePatch}'`));
        const patch = JSON.stringify({ metadata: { annotations: cleared }, spec: { syncPolicy: { automated: { enabled: true } } } });
        assert.ok(expiry.includes(`--type merge -p '${patch}'`));
    });
});

describe("the components carry the scripts as rendered", () => {
    let recorded: RecordedResource[] = [];
    const one = (type: string, name: string) => {
        const found = recorded.filter((r) => r.type === type && r.name === name);
        assert.equal(found.length, 1, `${type} ${name}`);
        return found[0].inputs;
    };

    before(async () => {
        recorded = installMocks("unit");
        new PreviewJanitor("janitor", { namespace: "argocd", gateIntervalSeconds: 7 });
        new BreakGlassExpiry("expiry", { namespace: "argocd", breakGlassNamespaces: [{ name: "shop-prod", expires: "2026-11-24T16:00:00Z" }] });
        await settle(recorded);
    });

    it("the janitor's and the expiry's CronJobs run their script with /bin/sh -c", () => {
        const container = (name: string) => one("kubernetes:batch/v1:CronJob", name).spec.jobTemplate.spec.template.spec.containers[0];
        assert.deepEqual(container("janitor-cron").command, ["/bin/sh", "-c", janitorScript()]);
        assert.deepEqual(container("expiry-cron").command, ["/bin/sh", "-c", breakGlassExpiryScript()]);
        assert.deepEqual(container("expiry-cron").env, [{ name: "NAMESPACE", value: "argocd" }]);
    });

    it("the preview gate is a component of its own under the janitor: its Deployment loops over the script in GATE", () => {
        assert.equal(recorded.filter((r) => r.type === "gitops-control:previews:PreviewGate").length, 1);
        const deployment = one("kubernetes:apps/v1:Deployment", "janitor-gate");
        const pod = deployment.spec.template.spec;
        assert.equal(pod.serviceAccountName, "preview-janitor");
        assert.deepEqual(pod.containers[0].command, ["/bin/sh", "-c", previewGateLoop]);
        assert.deepEqual(pod.containers[0].env, [
            { name: "GATE", value: previewGateScript() },
            { name: "INTERVAL", value: "7" },
            { name: "ARGOCD_NAMESPACE", value: "argocd" },
        ]);
        assert.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true);
        // Its RBAC and fence keep the names they had under the janitor.
        assert.equal(one("kubernetes:rbac.authorization.k8s.io/v1:Role", "janitor-gate-role").metadata.name, "gitops-control-preview-gate");
        assert.deepEqual(one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "janitor-gate-binding").subjects, [
            { kind: "ServiceAccount", name: "preview-janitor", namespace: "argocd" },
        ]);
        assert.equal(
            one("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy", "janitor-gate-scope").spec.matchConditions[0].expression,
            "request.userInfo.username == 'system:serviceaccount:argocd:preview-janitor'",
        );
    });

    it("the gate refuses an unpinned image and an interval out of range", () => {
        const serviceAccount = { name: "preview-janitor", username: "system:serviceaccount:argocd:preview-janitor" };
        assert.throws(
            () => new PreviewGate("g1", { namespace: "argocd", serviceAccount, image: "bitnami/kubectl:latest" }),
            /`args.image` is "bitnami\/kubectl:latest", not pinned/,
        );
        assert.throws(() => new PreviewGate("g2", { namespace: "argocd", serviceAccount, intervalSeconds: 0 }), /`args.intervalSeconds` is 0/);
    });
});
