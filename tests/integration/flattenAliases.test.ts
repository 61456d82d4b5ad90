import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { LocalWorkspace, Stack } from "@pulumi/pulumi/automation";
import { GitOpsService, LegacyGitOpsServiceArgs, PreviewJanitor } from "../../components";
import { labels } from "../../components/core/labels";
import { ResourceStep, stepRecorder } from "../../scripts/lib/engine";
import { LegacyGitOpsService } from "./fixtures/legacyGitOpsService";
import { LegacyPreviewJanitor } from "./fixtures/legacyPreviewJanitor";
import { LocalCluster, kubectlOk, startClusterWithArgoCdCrds, step } from "./support";

/**
 * Flattening the wrapper components (AppProject, GitOpsApplication, PreviewEnvironments) out of GitOpsService must not
 * touch a live object: `up` of the old GitOpsService (frozen in fixtures/legacyGitOpsService.ts),
 * then `up` of the current one on the same stack, with the real engine and API server. The second
 * `up` may only drop the wrapper components from the state (they own nothing in the cluster): no
 * create, update, replace or delete of any Kubernetes object, and every object keeps its uid.
 *
 * The same for the preview gate moved out of PreviewJanitor into a component of its own
 * (PreviewGate): the janitor as it was (fixtures/legacyPreviewJanitor.ts), inside a component as
 * ControlPlane holds it, then the current one; the gate's Role, RoleBinding, admission policy and
 * binding and Deployment keep their objects, and only the PreviewGate component is added to the state.
 */
const argoNamespace = "argocd-flatten";
const services = ["payments-api", "checkout"];
/** Services with previews (ApplicationSet, token Secret, keep-previews policy and binding). */
const previewed = ["payments-api", "checkout"];

/** The steps issue 17's project split adds for a stack of previewed services (none replaces or deletes). */
const previewSplitSteps = previewed.flatMap((service) => [`create ${service}-previews-project`, `update ${service}-project`, `update ${service}-previews-appset`]);
const isProjectSplit = (s: ResourceStep) => previewSplitSteps.includes(`${s.op} ${s.urn.split("::").pop()}`);
/**
 * Issue 21: every Application gains the manifest-generate-paths annotation and loses
 * managedNamespaceMetadata (the program makes its namespace now), in place and nothing else.
 */
const gainsGeneratePaths = (s: ResourceStep) =>
    s.op === "update" &&
    s.type === "kubernetes:argoproj.io/v1alpha1:Application" &&
    Object.keys(s.detailedDiff).length > 0 &&
    Object.keys(s.detailedDiff).every((k) => k.includes("manifest-generate-paths") || k.startsWith("spec.syncPolicy.managedNamespaceMetadata"));
/** Issue 21: the program makes each environment's namespace (a create: server-side apply adopts one Argo CD made). */
const makesNamespace = (s: ResourceStep) => s.op === "create" && s.type === "kubernetes:core/v1:Namespace";
const projectSplit = (s: ResourceStep) => isProjectSplit(s) || gainsGeneratePaths(s) || makesNamespace(s);
/** Services inside a component (the others at the stack's root). */
const nested = ["checkout"];

function serviceArgs(provider: k8s.Provider, service: string): LegacyGitOpsServiceArgs & Required<Pick<LegacyGitOpsServiceArgs, "source">> {
    // One literal for both programs: when GitOpsServiceArgs changes shape, this is the line to adapt
    // (the legacy class keeps its own arg type, checked against it below).
    return {
        team: "payments",
        argoNamespace,
        source: { repoURL: `https://github.com/acme/${service}.git`, path: "deploy/chart" },
        environments: [
            { name: "staging", targetRevision: "main" },
            { name: "prod", targetRevision: "v1.0.0" },
        ],
        ...(previewed.includes(service) ? { previews: { github: { token: pulumi.secret("placeholder-token") } } } : {}),
        provider,
    };
}

function program(shape: "legacy" | "current") {
    return async () => {
        const provider = new k8s.Provider("kubernetes", { kubeconfig: process.env.FLATTEN_KUBECONFIG! });
        const ns = new k8s.core.v1.Namespace("argocd-ns", { metadata: { name: argoNamespace } }, { provider });
        // One service at the stack's root, one inside a component, as ControlPlane holds them: the
        // aliases are computed from the parent chain (movedOutOfComponent), both shapes must hold.
        const group = new pulumi.ComponentResource("flatten:index:Group", "group");
        for (const service of services) {
            const args = serviceArgs(provider, service);
            const opts = { dependsOn: [ns], ...(nested.includes(service) ? { parent: group } : {}) };
            if (shape === "legacy") new LegacyGitOpsService(service, args, opts);
            else new GitOpsService(service, args, opts);
        }
        const janitorArgs = { namespace: argoNamespace, skipAwait: true, provider };
        if (shape === "legacy") new LegacyPreviewJanitor("janitor", janitorArgs, { parent: group, dependsOn: [ns] });
        else new PreviewJanitor("janitor", janitorArgs, { parent: group, dependsOn: [ns] });
    };
}

/** The preview janitor's and gate's objects: service account, RBAC, fences, CronJob and Deployment. */
const janitorObjects = 11;

/**
 * uid of every Argo CD object and Secret in the namespace, of the previews' admission policy and
 * binding (cluster-scoped, selected by the service label) and of the janitor's and gate's objects,
 * by kind/name.
 */
function uids(cluster: LocalCluster): Record<string, string> {
    const jsonpath = 'jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.uid}{"\\n"}{end}';
    const out =
        kubectlOk(cluster, ["get", "applications.argoproj.io,appprojects.argoproj.io,applicationsets.argoproj.io,secrets", "-n", argoNamespace, "-o", jsonpath]) +
        kubectlOk(cluster, ["get", "validatingadmissionpolicies,validatingadmissionpolicybindings", "-l", `${labels.service} in (${services.join(",")})`, "-o", jsonpath]) +
        kubectlOk(cluster, [
            "get",
            "serviceaccounts,roles,rolebindings,cronjobs,deployments,clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings",
            "-n",
            argoNamespace,
            "-l",
            "app.kubernetes.io/name in (preview-janitor,preview-gate)",
            "-o",
            jsonpath,
        ]);
    return Object.fromEntries(
        out
            .split("\n")
            .filter((l) => l !== "")
            .map((l) => l.split("=") as [string, string]),
    );
}

describe("flattened GitOpsService and the PreviewGate component keep existing stacks' objects (real engine, real API server)", { timeout: 15 * 60 * 1000 }, () => {
    let cluster: LocalCluster;
    let stateDir: string;
    let workDir: string;
    const open = async (shape: "legacy" | "current"): Promise<Stack> =>
        LocalWorkspace.createOrSelectStack(
            { stackName: "flatten", projectName: "flatten-aliases", program: program(shape) },
            {
                workDir,
                envVars: {
                    PULUMI_BACKEND_URL: `file://${stateDir}`,
                    PULUMI_CONFIG_PASSPHRASE: "flatten-aliases",
                    PULUMI_SKIP_UPDATE_CHECK: "true",
                    PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
                    PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
                },
            },
        );
    let firstUp: ResourceStep[];
    let preview: ResourceStep[] = [];
    let secondUp: ResourceStep[] = [];
    let uidsBefore: Record<string, string>;
    let uidsAfter: Record<string, string> = {};

    before(async () => {
        cluster = startClusterWithArgoCdCrds();
        stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "flatten-state-"));
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "flatten-work-"));
        process.env.FLATTEN_KUBECONFIG = cluster.kubeconfig;
        step("up with the legacy GitOpsService (wrapper components)");
        const legacy = stepRecorder();
        await (await open("legacy")).up({ onEvent: legacy.onEvent });
        firstUp = legacy.steps;
        uidsBefore = uids(cluster);
        // A preview first: if the aliases were wrong, `up` would create the objects again and delete
        // the old ones (Applications then wait forever on Argo CD's finalizer, with no controller here).
        step("preview with the current GitOpsService (flattened, aliases)");
        const previewed = stepRecorder();
        await (await open("current")).preview({ onEvent: previewed.onEvent });
        preview = previewed.steps;
        if (preview.some((s) => s.custom && s.op !== "same" && !projectSplit(s))) return;
        step("up with the current GitOpsService");
        const current = stepRecorder();
        await (await open("current")).up({ onEvent: current.onEvent });
        secondUp = current.steps;
        uidsAfter = uids(cluster);
    });

    after(() => {
        cluster?.stop();
        for (const dir of [stateDir, workDir]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
    });

    it("the legacy program created the wrapper components and the objects", () => {
        const created = firstUp.filter((s) => s.op === "create").map((s) => s.type);
        assert.equal(created.filter((t) => t === "gitops-control:argocd:AppProject").length, services.length);
        assert.equal(created.filter((t) => t === "gitops-control:argocd:GitOpsApplication").length, services.length * 2);
        assert.equal(created.filter((t) => t === "kubernetes:argoproj.io/v1alpha1:Application").length, services.length * 2);
        assert.equal(created.filter((t) => t === "gitops-control:argocd:PreviewEnvironments").length, previewed.length);
        // Per service an AppProject and two Applications; per previewed service an ApplicationSet, its
        // token Secret, and the admission policy and binding that keep its previews; and the janitor's objects.
        assert.equal(Object.keys(uidsBefore).length, services.length * 3 + previewed.length * 4 + janitorObjects, JSON.stringify(uidsBefore));
        // The gate's objects were the janitor's own children: no PreviewGate component yet.
        assert.ok(created.includes("kubernetes:apps/v1:Deployment"));
        assert.equal(created.filter((t) => t === "gitops-control:previews:PreviewGate").length, 0);
    });

    it("the current program replaces and deletes no Kubernetes object; it changes only what the previews' own project needs, the Applications' manifest-generate-paths and namespaces, and makes the namespaces", () => {
        assert.deepEqual(
            preview.filter((s) => s.custom && s.op !== "same" && !projectSplit(s)).map((s) => `preview: ${s.op} ${s.urn}`),
            [],
        );
        const changed = secondUp.filter((s) => s.custom && s.op !== "same");
        assert.deepEqual(
            changed.filter((s) => !projectSplit(s)).map((s) => `${s.op} ${s.urn}`),
            [],
        );
        // Issue 17's split, no more: per previewed service its previews' project created, its project and
        // its ApplicationSet updated in place (the preview glob moves from one project to the other).
        assert.deepEqual(
            changed
                .filter((s) => !gainsGeneratePaths(s) && !makesNamespace(s))
                .map((s) => `${s.op} ${s.urn.split("::").pop()}`)
                .sort(),
            previewSplitSteps.sort(),
        );
        // And each Application gains the manifest-generate-paths annotation in place (issue 21).
        assert.equal(changed.filter(gainsGeneratePaths).length, services.length * 2);
        // And one namespace per environment, made by the program.
        assert.deepEqual(
            changed
                .filter(makesNamespace)
                .map((s) => s.urn.split("::").pop())
                .sort(),
            services.flatMap((service) => [`${service}-prod-namespace`, `${service}-staging-namespace`]).sort(),
        );
        const customSame = secondUp.filter((s) => s.custom && s.op === "same").length;
        assert.equal(customSame, firstUp.filter((s) => s.custom && s.op === "create").length - changed.filter((s) => s.op === "update").length);
    });

    it("it only drops the wrapper components from the state, and adds the PreviewGate component", () => {
        const componentOps = secondUp.filter((s) => !s.custom && s.op !== "same").map((s) => `${s.op} ${s.type}`);
        assert.deepEqual(
            componentOps.sort(),
            [
                ...services.map(() => "delete gitops-control:argocd:AppProject"),
                ...services.flatMap(() => ["delete gitops-control:argocd:GitOpsApplication", "delete gitops-control:argocd:GitOpsApplication"]),
                ...previewed.map(() => "delete gitops-control:argocd:PreviewEnvironments"),
                "create gitops-control:previews:PreviewGate",
            ].sort(),
        );
    });

    it("every object in the cluster keeps its uid", () => {
        const kept = Object.fromEntries(Object.entries(uidsAfter).filter(([key]) => key in uidsBefore));
        assert.deepEqual(kept, uidsBefore);
        assert.deepEqual(
            Object.keys(uidsAfter)
                .filter((key) => !(key in uidsBefore))
                .sort(),
            previewed.map((service) => `AppProject/${service}-previews`).sort(),
        );
    });
});
