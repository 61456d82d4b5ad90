import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { before, describe, it } from "node:test";
import { RecordedResource, installMocks, settle, valueOf } from "../../scripts/lib/mockRuntime";

// Fresh mocks in `before` (suites of several files share one process).
let recorded: RecordedResource[] = [];

import { PreviewJanitor, janitorScript } from "../../components/previews/PreviewJanitor";

const byType = (type: string) => recorded.filter((r) => r.type === type);

describe("PreviewJanitor", () => {
    before(async () => {
        recorded = installMocks("unit");
        const janitor = new PreviewJanitor("janitor", { namespace: "argocd", ttlHours: 48 });
        await valueOf(janitor.cronJobName);
        await settle(recorded);
    });

    it("runs a pinned image on a schedule as its own service account, within the guardrails", () => {
        const [cron] = byType("kubernetes:batch/v1:CronJob");
        assert.equal(cron.inputs.spec.schedule, "*/30 * * * *");
        assert.equal(cron.inputs.spec.concurrencyPolicy, "Forbid");
        const pod = cron.inputs.spec.jobTemplate.spec.template.spec;
        assert.equal(pod.serviceAccountName, "preview-janitor");
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(pod.containers[0].image, "bitnami/kubectl:1.36.3");
        assert.deepEqual(pod.containers[0].env, [
            { name: "PREVIEW_TTL_HOURS", value: "48" },
            { name: "PREVIEW_SELECTOR", value: "env=preview,gitops-control.io/environment=preview" },
        ]);
        assert.equal(pod.containers[0].command[2], janitorScript());
    });

    it("has least RBAC: namespaces get/list/delete, Applications read-only", () => {
        const [role] = byType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole");
        assert.deepEqual(role.inputs.rules, [
            { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "delete"] },
            { apiGroups: ["argoproj.io"], resources: ["applications"], verbs: ["get", "list"] },
        ]);
        const [binding] = byType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding");
        assert.deepEqual(binding.inputs.subjects, [{ kind: "ServiceAccount", name: "preview-janitor", namespace: "argocd" }]);
    });

    it("is itself limited by admission: its service account may delete only preview namespaces", () => {
        const [policy] = byType("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy");
        assert.deepEqual(policy.inputs.spec.matchConditions, [{ name: "is-janitor", expression: "request.userInfo.username == 'system:serviceaccount:argocd:preview-janitor'" }]);
        assert.match(policy.inputs.spec.validations[0].expression, /oldObject\.metadata\.labels\['env'\] == 'preview'/);
        // env=preview alone does not aim it: the environment class must be preview too.
        assert.match(policy.inputs.spec.validations[1].expression, /oldObject\.metadata\.labels\['gitops-control\.io\/environment'\] == 'preview'/);
        assert.deepEqual(policy.inputs.spec.matchConstraints.resourceRules[0].operations, ["DELETE"]);
        const [binding] = byType("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding");
        assert.deepEqual(binding.inputs.spec.validationActions, ["Deny"]);
    });

    it("the script reports ages and deletes orphaned previews only, re-reading ownership before each delete", () => {
        const script = janitorScript();
        assert.match(script, /preview_namespace_age_hours\{namespace=/);
        assert.match(script, /no Application deploys to it/);
        assert.match(script, /keeping namespace \$ns: older than \$\{TTL\}h, but an Application still deploys to it/);
        assert.match(script, /if targets \| grep -qx "\$ns"; then/);
        assert.match(script, /get namespaces -l "\$SELECTOR"/);
    });

    it("the script never deletes a namespace that is a preview by label only, not by its generated name", () => {
        // A stand-in kubectl: one Application (deploying to shop-pr-1), four namespaces labelled env=preview.
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "janitor-"));
        const fake = path.join(dir, "kubectl");
        const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
        fs.writeFileSync(
            fake,
            `#!/bin/sh
case "$*" in
  *applications*) echo shop-pr-1 ;;
  *"get namespaces"*) printf '%s\\n' "shop-pr-1 ${now} Active" "shop-pr-2 ${now} Active" "team-sandbox ${now} Active" "shop-pr-9x ${now} Active" ;;
  *delete*) echo "$*" >> "${dir}/deleted" ;;
esac
`,
            { mode: 0o755 },
        );
        const run = spawnSync("sh", ["-c", janitorScript()], { encoding: "utf8", env: { ...process.env, KUBECTL: fake } });
        assert.equal(run.status, 0, run.stderr);
        assert.equal(fs.readFileSync(path.join(dir, "deleted"), "utf8").trim(), "delete namespace shop-pr-2 --wait=false");
        fs.rmSync(dir, { recursive: true, force: true });
    });

    it("rejects an unpinned image and a zero TTL", () => {
        assert.throws(() => new PreviewJanitor("a", { namespace: "argocd", image: "bitnami/kubectl:latest" }), /`args.image` is "bitnami\/kubectl:latest", not pinned/);
        assert.throws(() => new PreviewJanitor("b", { namespace: "argocd", image: "bitnami/kubectl" }), /not pinned/);
        assert.throws(() => new PreviewJanitor("c", { namespace: "argocd", ttlHours: 0 }), /`args.ttlHours` is 0/);
    });
});
