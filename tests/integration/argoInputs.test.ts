import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { previewGateScript } from "../../components/previews/PreviewGate";
import { janitorServiceAccount } from "../../components/previews/PreviewJanitor";
import { Reconcilers, startReconcilers } from "../../scripts/cluster/reconcilers";
import { chartFiles } from "../support/charts";
import { GitHubDouble } from "../support/githubDouble";
import { GitServer } from "../support/gitServer";
import { KubectlResult, LocalCluster, Measurements, applyList, kubectl, kubectlOk, openLocalStack, startCluster, step } from "./support";

/**
 * Argo CD's inputs, governed end to end (issue 17): the local stack as `pulumi up` deploys it, with
 * Argo CD v3.6.1's own application controller, repo-server and ApplicationSet controller (the
 * reconciler harness) and a GitHub double for previews. Who writes is the real identity: a person
 * (`alice@example.com`, with RBAC to edit Argo CD's objects, as a platform might grant a team), the
 * controllers' ServiceAccounts, the preview gate's, and the program (the admin kubeconfig, group
 * system:masters). Each claim is checked where it is decided: admission by the API server's answer,
 * what Argo CD does by Argo CD's own status and by what reached the cluster.
 */

const argoNs = "argocd";
const owner = "acme";
const repo = "shop";
const alice = ["--as", "alice@example.com", "--as-group", "developers"];
const gateUser = ["--as", `system:serviceaccount:${argoNs}:${janitorServiceAccount}`];

let cluster: LocalCluster;
let git: GitServer;
let gh: GitHubDouble;
let reconcilers: Reconcilers | undefined;
let workDir: string;
let stateDir: string;
let webhookSecret: string;
const engineLog: string[] = [];
const times = new Measurements();

const k = (args: readonly string[], input?: string): KubectlResult => kubectl(cluster, args, input);
const ok = (args: readonly string[], input?: string): string => kubectlOk(cluster, args, input);

async function until<T>(what: string, seconds: number, probe: () => T | undefined | false, explain?: () => string): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
        const last = probe();
        if (last) return last;
        await new Promise((r) => setTimeout(r, 1000));
    }
    throw new Error(`timed out after ${seconds}s waiting for ${what}${explain ? `\n${explain()}` : ""}${reconcilers ? `\n${reconcilers.tails(15)}` : ""}`);
}

interface App {
    metadata: { name: string; deletionTimestamp?: string };
    spec: { project: string; source: { targetRevision?: string; helm?: { parameters?: { name: string; value: string }[] } } };
    status?: { sync?: { status?: string; revision?: string }; health?: { status?: string }; operationState?: { phase?: string; message?: string } };
}

function app(name: string): App | undefined {
    const r = k(["get", "applications.argoproj.io", name, "-n", argoNs, "-o", "json"]);
    return r.code === 0 ? (JSON.parse(r.stdout) as App) : undefined;
}

const explain = (name: string) => () => JSON.stringify(app(name)?.status ?? null).slice(0, 2000);

/** Asks Argo CD to compare with Git now (what a Git webhook triggers): a metadata write, no input. */
const refresh = (name: string) => ok(["annotate", "applications.argoproj.io", name, "-n", argoNs, "argocd.argoproj.io/refresh=normal", "--overwrite"]);

/** Refreshes every 3 s until `name` is Synced and Healthy at `revision`. */
async function syncedAt(name: string, revision: string, seconds: number): Promise<App> {
    let last = 0;
    return until(
        `${name} Synced and Healthy at ${revision.slice(0, 8)}`,
        seconds,
        () => {
            if (Date.now() - last > 3000) {
                refresh(name);
                last = Date.now();
            }
            const a = app(name);
            return a?.status?.sync?.status === "Synced" && a.status.health?.status === "Healthy" && a.status.sync.revision === revision && a;
        },
        explain(name),
    );
}

const configMessage = (namespace: string) => k(["get", "configmap", "shop-config", "-n", namespace, "-o", "jsonpath={.data.message}"]).stdout;

/** A refused write: not applied, denied by the named guardrail. */
function assertDenied(r: KubectlResult, policy: string, what: string): void {
    assert.notEqual(r.code, 0, `${what} was admitted`);
    assert.match(r.stderr, new RegExp(`ValidatingAdmissionPolicy 'gitops-control-${policy}'.*denied request`), `${what}: ${r.stderr}`);
}

const shopService = () => ({
    name: "shop",
    team: "storefront",
    repoURL: git.url(repo),
    path: "deploy/chart",
    targetRevision: "main",
    environments: ["prod"],
    previews: { owner, repo, labels: ["preview"], requeueAfterSeconds: 30, maxOpen: 3 },
});

async function up(service: Record<string, unknown>): Promise<void> {
    const local = await openLocalStack(cluster, { configOverrides: { github: { owner, api: gh.apiUrl }, services: [service] } }, stateDir);
    const t0 = Date.now();
    await local.stack.up({ onOutput: (out) => engineLog.push(out) });
    step(`pulumi up in ${Math.round((Date.now() - t0) / 1000)}s`);
    const secret = (await local.stack.outputs()).previewWebhookSecret;
    webhookSecret = secret?.value as string;
}

/** Opens a labelled PR whose head is `files` on `branch`, delivers its webhook, waits for the preview and switches it on as the preview gate does. */
async function openPreview(branch: string, files: Record<string, string | null>): Promise<{ name: string; number: number; sha: string }> {
    const sha = git.commit(repo, files, `PR ${branch}`, branch);
    const pr = gh.open(repo, { title: branch, branch, headSha: sha, labels: ["preview"] });
    assert.ok(reconcilers);
    assert.equal((await gh.deliver(reconcilers.webhookUrl, webhookSecret, repo, pr, "opened")).status, 200);
    const name = `shop-pr-${pr.number}`;
    const generated = await until(`${name} generated`, 180, () => app(name));
    assert.equal(generated.spec.project, "shop-previews", "a preview deploys through its service's preview project");
    // The preview gate's one write (its fence allows nothing else): automated sync on.
    ok(["patch", "applications.argoproj.io", name, "-n", argoNs, ...gateUser, "--type", "merge", "-p", '{"spec":{"syncPolicy":{"automated":{"enabled":true}}}}']);
    return { name, number: pr.number, sha };
}

/**
 * Closes the PR and waits for its preview to go. A preview whose sync keeps failing is still retrying
 * when the ApplicationSet controller deletes it, and Argo CD finalizes no Application while an
 * operation runs: the preview gate ends that operation. The test plays the gate (one pass of its
 * rendered script as its identity, as previews.test.ts does) once the deletion is seen.
 */
async function closePreview(p: { name: string; number: number }): Promise<void> {
    assert.ok(reconcilers);
    const t0 = Date.now();
    gh.close(repo, p.number);
    await gh.deliver(reconcilers.webhookUrl, webhookSecret, repo, gh.pull(repo, p.number), "closed");
    await until(`${p.name} deleted by the ApplicationSet controller`, 180, () => {
        const a = app(p.name);
        return a === undefined || Boolean(a.metadata.deletionTimestamp);
    });
    const pass = spawnSync("sh", ["-c", previewGateScript()], {
        encoding: "utf8",
        env: { ...process.env, KUBECTL: `kubectl --kubeconfig ${cluster.kubeconfig} ${gateUser.join(" ")}`, ARGOCD_NAMESPACE: argoNs },
    });
    assert.equal(pass.status, 0, `preview gate pass: ${pass.stderr}`);
    await until(`${p.name} finalized by the application controller`, 120, () => app(p.name) === undefined, explain(p.name));
    times.measure(`closed PR to ${p.name} gone`, t0);
}

describe("Argo CD's inputs are governed (v3.6.1 reconcilers, real engine, real API server)", { timeout: 40 * 60 * 1000 }, () => {
    let mainSha: string;

    before(async () => {
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-argo-inputs-"));
        stateDir = path.join(workDir, "state");
        fs.mkdirSync(stateDir);
        // The deployment controller reports rollouts (Argo CD's health reads them).
        cluster = startCluster({ LOCAL_CLUSTER_AUDIT_LOG: "1", LOCAL_CLUSTER_WORKLOAD_CONTROLLERS: "1" });
        // A team's RBAC as a platform might grant it: edit Argo CD's objects, delete namespaces.
        // Admission, not RBAC, is what this file is about.
        // (As objects: the Argo CD CRDs come with the first up, so `kubectl create clusterrole` could not resolve them yet.)
        const verbs = ["get", "list", "watch", "create", "update", "patch", "delete"];
        applyList(cluster, [
            {
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRole",
                metadata: { name: "test-argo-editor" },
                rules: [
                    { apiGroups: ["argoproj.io"], resources: ["applications", "appprojects"], verbs },
                    { apiGroups: [""], resources: ["namespaces"], verbs },
                ],
            },
            {
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRoleBinding",
                metadata: { name: "test-argo-editor" },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "test-argo-editor" },
                subjects: [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: "alice@example.com" }],
            },
        ]);
        git = await GitServer.start(path.join(workDir, "git"));
        mainSha = git.createRepo(repo, chartFiles({ service: "shop", team: "storefront" }));
        gh = await GitHubDouble.start(owner);
        gh.addRepo(repo);
        step("pulumi up: Argo CD, guardrails, shop in prod with previews");
        await up(shopService());
        reconcilers = await startReconcilers({ dir: path.join(workDir, "reconcilers"), adminKubeconfig: cluster.kubeconfig, appResyncSeconds: 30 });
        const t0 = Date.now();
        await syncedAt("shop-prod", mainSha, 300);
        times.measure("first prod sync", t0);
    });

    after(async () => {
        if (process.exitCode) {
            console.log(engineLog.join("").split("\n").slice(-40).join("\n"));
            if (reconcilers) console.log(reconcilers.tails(40));
        }
        step(times.summary());
        reconcilers?.stop();
        await gh?.stop();
        await git?.stop();
        cluster?.stop();
        fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("Argo CD's default project is deny-all, and no Application or project write but the program's steers it", () => {
        const defaultProject = JSON.parse(ok(["get", "appprojects.argoproj.io", "default", "-n", argoNs, "-o", "json"])) as {
            metadata: { annotations?: Record<string, string> };
            spec: { sourceRepos?: string[]; destinations?: unknown[]; clusterResourceWhitelist?: unknown[]; namespaceResourceBlacklist?: unknown[] };
        };
        assert.deepEqual(defaultProject.spec.sourceRepos ?? [], [], "no repository");
        assert.deepEqual(defaultProject.spec.destinations ?? [], [], "no destination");
        assert.deepEqual(defaultProject.spec.clusterResourceWhitelist ?? [], [], "no cluster-scoped kind");
        assert.deepEqual(defaultProject.spec.namespaceResourceBlacklist, [{ group: "*", kind: "*" }], "no namespaced kind");

        // An Application in the default project (a cluster-admin ClusterRoleBinding from a fork): refused for everyone.
        const rogue = {
            apiVersion: "argoproj.io/v1alpha1",
            kind: "Application",
            metadata: { name: "rogue", namespace: argoNs, labels: { "gitops-control.io/service": "shop" } },
            spec: {
                project: "default",
                source: { repoURL: "https://git.example.com/mallory/cluster-admin.git", path: ".", targetRevision: "HEAD" },
                destination: { server: "https://kubernetes.default.svc", namespace: "kube-system" },
            },
        };
        assertDenied(k(["create", ...alice, "-f", "-"], JSON.stringify(rogue)), "require-service-project", "a person's Application in project default");
        assertDenied(k(["create", "-f", "-"], JSON.stringify(rogue)), "require-service-project", "the program's Application in project default");
        // A preview's chart in the service's (prod) project would reach the prod namespace: refused too.
        const previewInProd = {
            ...rogue,
            metadata: { ...rogue.metadata, name: "shop-pr-99", labels: { "gitops-control.io/service": "shop", "gitops-control.io/environment": "preview" } },
        };
        assertDenied(
            k(["create", "-f", "-"], JSON.stringify({ ...previewInProd, spec: { ...rogue.spec, project: "shop" } })),
            "require-service-project",
            "a preview in the service project",
        );

        // Projects widened live: refused; the program's own write is admitted.
        const widen = '{"spec":{"sourceRepos":["*"],"destinations":[{"server":"*","namespace":"*"}],"clusterResourceWhitelist":[{"group":"*","kind":"*"}]}}';
        for (const project of ["shop", "shop-previews", "default"]) {
            assertDenied(k(["patch", "appprojects.argoproj.io", project, "-n", argoNs, ...alice, "--type", "merge", "-p", widen]), "govern-app-projects", `widening ${project}`);
        }
        assertDenied(k(["delete", "appprojects.argoproj.io", "shop", "-n", argoNs, ...alice]), "govern-app-projects", "deleting the service project");
        assert.equal(
            k(["annotate", "appprojects.argoproj.io", "shop", "-n", argoNs, "gitops-control.io/checked=yes"]).code,
            0,
            "the program (group system:masters) writes projects",
        );
        ok(["annotate", "appprojects.argoproj.io", "shop", "-n", argoNs, "gitops-control.io/checked-"]);
        const previews = JSON.parse(ok(["get", "appprojects.argoproj.io", "shop-previews", "-n", argoNs, "-o", "json"])) as {
            spec: { destinations: { namespace: string }[]; clusterResourceWhitelist: unknown[] };
        };
        assert.deepEqual(
            previews.spec.destinations.map((d) => d.namespace),
            ["shop-pr-*"],
        );
        assert.deepEqual(previews.spec.clusterResourceWhitelist, [{ group: "", kind: "Namespace", name: "shop-pr-*" }]);
    });

    it("a project the program deletes in the foreground (as the Kubernetes provider deletes) is released by the garbage collector and Argo CD; the collector's identity cannot widen one", async () => {
        const project = {
            apiVersion: "argoproj.io/v1alpha1",
            kind: "AppProject",
            metadata: { name: "retired", namespace: argoNs, finalizers: ["resources-finalizer.argocd.argoproj.io"] },
            spec: { sourceRepos: [git.url(repo)], destinations: [{ server: "https://kubernetes.default.svc", namespace: "retired-prod" }] },
        };
        ok(["create", "-f", "-"], JSON.stringify(project));
        try {
            const gc = ["--as", "system:serviceaccount:kube-system:generic-garbage-collector", "--as-group", "system:serviceaccounts"];
            const widen = '{"spec":{"sourceRepos":["*"],"destinations":[{"server":"*","namespace":"*"}]}}';
            assertDenied(
                k(["patch", "appprojects.argoproj.io", "retired", "-n", argoNs, ...gc, "--type", "merge", "-p", widen]),
                "govern-app-projects",
                "the collector widening a project",
            );
            const t0 = Date.now();
            ok(["delete", "appprojects.argoproj.io", "retired", "-n", argoNs, "--cascade=foreground", "--wait=false"]);
            // The collector removes foregroundDeletion, Argo CD its own finalizer (no Application names the project).
            await until("the retired project gone", 90, () => k(["get", "appprojects.argoproj.io", "retired", "-n", argoNs]).code !== 0);
            times.measure("foreground delete of a project to gone", t0);
        } finally {
            if (k(["get", "appprojects.argoproj.io", "retired", "-n", argoNs]).code === 0) {
                ok(["patch", "appprojects.argoproj.io", "retired", "-n", argoNs, "--type", "merge", "-p", '{"metadata":{"finalizers":null}}']);
                k(["delete", "appprojects.argoproj.io", "retired", "-n", argoNs, "--wait=false"]);
            }
        }
    });

    it("a preview's chart cannot write into, adopt or delete the prod namespace: Argo CD refuses it by the preview project", async () => {
        const t0 = Date.now();
        const evil = [
            { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "shop-config", namespace: "shop-prod" }, data: { message: "written by a PR" } },
            { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop-prod", labels: { "pod-security.kubernetes.io/enforce": "privileged" } } },
        ]
            .map((o) => JSON.stringify(o))
            .join("\n---\n");
        const pr = await openPreview("evil-prod", { ...chartFiles({ service: "shop", team: "storefront", message: "pr" }), "deploy/chart/templates/evil.yaml": `${evil}\n` });
        const refused = await until(
            `${pr.name}'s sync refused by its project`,
            240,
            () => {
                const state = JSON.stringify(app(pr.name)?.status?.operationState ?? {});
                return /not permitted in project/.test(state) && state;
            },
            explain(pr.name),
        );
        times.measure("preview sync refused by the preview project", t0);
        assert.match(refused, /shop-previews/);
        assert.equal(configMessage("shop-prod"), "hello", "nothing of the PR reached the prod namespace");
        const prodNs = JSON.parse(ok(["get", "namespace", "shop-prod", "-o", "json"])) as { metadata: { labels: Record<string, string>; annotations?: Record<string, string> } };
        assert.equal(prodNs.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
        assert.doesNotMatch(JSON.stringify(prodNs.metadata.annotations ?? {}), /shop-pr-/, "the prod namespace is not the preview's resource");

        // Closing the PR deletes the preview (cascade): the prod namespace and its workloads stay.
        await closePreview(pr);
        assert.equal(ok(["get", "namespace", "shop-prod", "-o", "jsonpath={.status.phase}"]), "Active");
        assert.equal(configMessage("shop-prod"), "hello");
        assert.equal(app("shop-prod")?.status?.sync?.status, "Synced");
        // Nor may anyone but the program delete it by hand.
        assertDenied(k(["delete", "namespace", "shop-prod", ...alice, "--wait=false"]), "keep-governed-namespaces", "a person's kubectl delete namespace shop-prod");
        assert.equal(ok(["get", "namespace", "shop-prod", "-o", "jsonpath={.status.phase}"]), "Active");
    });

    it("a preview's chart cannot create a privileged namespace matching the preview pattern", async () => {
        const t0 = Date.now();
        const privileged = { apiVersion: "v1", kind: "Namespace", metadata: { name: "shop-pr-666", labels: { "pod-security.kubernetes.io/enforce": "privileged" } } };
        const pr = await openPreview("evil-namespace", {
            ...chartFiles({ service: "shop", team: "storefront", message: "pr" }),
            "deploy/chart/templates/evil.yaml": `${JSON.stringify(privileged)}\n`,
        });
        // The project permits Namespace shop-pr-* (CreateNamespace needs it): Argo CD applies it, admission refuses.
        const failed = await until(
            `${pr.name}'s namespace refused by admission`,
            240,
            () => {
                const state = JSON.stringify(app(pr.name)?.status?.operationState ?? {});
                return /guardrail require-namespace-pod-security/.test(state) && state;
            },
            explain(pr.name),
        );
        times.measure("privileged preview namespace refused", t0);
        assert.match(failed, /shop-pr-666/);
        assert.equal(k(["get", "namespace", "shop-pr-666"]).code, 1, "no privileged namespace exists");
        // The preview's own namespace, created by CreateNamespace, enforces baseline.
        assert.equal(ok(["get", "namespace", pr.name, "-o", "jsonpath={.metadata.labels.pod-security\\.kubernetes\\.io/enforce}"]), "baseline");
        await closePreview(pr);
    });

    it("a person's .operation or Helm value change is refused; Argo CD's automated sync, a rollback through Git and the program's up still work", async () => {
        // A sync of manifests of one's own (a foreign image), nothing from Git.
        const operation = {
            operation: {
                initiatedBy: { username: "alice@example.com" },
                sync: { revision: mainSha, manifests: ['{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shop-config"},"data":{"message":"unreviewed"}}'] },
            },
        };
        const patch = (body: unknown, user: readonly string[] = alice) =>
            k(["patch", "applications.argoproj.io", "shop-prod", "-n", argoNs, ...user, "--type", "merge", "-p", JSON.stringify(body)]);
        assertDenied(patch(operation), "protect-application-inputs", "a person's .operation");
        assertDenied(
            patch({ spec: { source: { helm: { parameters: [{ name: "image.tag", value: "unreviewed" }] } } } }),
            "protect-application-inputs",
            "a person's Helm parameter",
        );
        assertDenied(
            patch({ spec: { source: { helm: { valuesObject: { image: { repository: "evil.example.com/miner" } } } } } }),
            "protect-application-inputs",
            "a person's Helm values",
        );
        assertDenied(patch({ spec: { source: { targetRevision: "v9.9.9" } } }), "protect-application-inputs", "a person's targetRevision");
        // Even Argo CD's own identity may not start a sync that is not its automated one.
        assertDenied(
            patch(operation, ["--as", `system:serviceaccount:${argoNs}:argocd-application-controller`]),
            "protect-application-inputs",
            "a manual operation as the application controller",
        );
        assert.deepEqual(app("shop-prod")?.spec.source.helm?.parameters ?? [], [], "nothing of it was stored");
        assert.equal(configMessage("shop-prod"), "hello");

        // Argo CD's automated sync (its controller sets and clears .operation) still delivers Git.
        let t0 = Date.now();
        const v2 = git.commit(repo, chartFiles({ service: "shop", team: "storefront", message: "v2" }), "v2");
        await syncedAt("shop-prod", v2, 240);
        await until("shop-config at v2", 60, () => configMessage("shop-prod") === "v2");
        times.measure("automated sync of a Git change", t0);
        // A rollback is a Git change too.
        t0 = Date.now();
        const rollback = git.commit(repo, chartFiles({ service: "shop", team: "storefront", message: "hello" }), "revert v2");
        await syncedAt("shop-prod", rollback, 240);
        await until("shop-config rolled back", 60, () => configMessage("shop-prod") === "hello");
        times.measure("rollback through Git", t0);

        // The program's up changes an input (a Helm parameter from the stack file): admitted, and Argo CD syncs it.
        t0 = Date.now();
        await up({ ...shopService(), helm: { parameters: [{ name: "replicas", value: "0" }] } });
        const changed = app("shop-prod");
        assert.deepEqual(
            changed?.spec.source.helm?.parameters?.map((p) => [p.name, p.value]),
            [["replicas", "0"]],
        );
        await syncedAt("shop-prod", rollback, 240);
        times.measure("program's up of a Helm parameter, to Synced", t0);
    });
});
