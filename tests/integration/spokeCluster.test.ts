import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { Reconcilers, startReconcilers } from "../../scripts/cluster/reconcilers";
import { chartFiles } from "../support/charts";
import { GitServer } from "../support/gitServer";
import { LocalCluster, compliantPodSpec, kubectl, kubectlOk, openLocalStack, pathsContaining, readStateFile, startCluster, step } from "./support";

/**
 * Issue 17, item 8, with two API servers: the hub runs Argo CD (v3.6.1's own reconcilers, out of
 * cluster, as the chart's ServiceAccounts), the spoke is a registered cluster whose kubeconfig the
 * stack holds as a secret. One `pulumi up` on the hub (the real engine) installs the hub's
 * guardrails on the spoke, creates the spoke's service namespace with its labels and Argo CD's
 * least-privilege ServiceAccount, and registers the spoke with that account's token. Then Argo CD
 * syncs a prod service there, the spoke's API server refuses a human's unsafe workload and namespace
 * delete, Argo CD's token cannot write outside its namespaces, and a live edit is healed.
 */

const argoNs = "argocd";
const prodNs = "shop-prod";
const controllerIdentity = "system:serviceaccount:argocd:argocd-application-controller";
/** A human with RBAC to write workloads and delete namespaces: only the guardrails stop them. */
const human = ["--as", "alice@example.com", "--as-group", "engineers"];
const breakGlass = ["--as", "oncall@example.com", "--as-group", "gitops-control:break-glass"];

let hub: LocalCluster | undefined;
let spoke: LocalCluster | undefined;
let git: GitServer | undefined;
let reconcilers: Reconcilers | undefined;
let workDir: string;
let stateDir: string;
const log: string[] = [];
const measured: Record<string, number> = {};

function measure(what: string, since: number): void {
    measured[what] = Math.round((Date.now() - since) / 100) / 10;
    step(`[measure] ${what}: ${measured[what]}s`);
}

async function until<T>(what: string, seconds: number, probe: () => T | undefined | false, every = 1000): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
        const value = probe();
        if (value) return value;
        await new Promise((r) => setTimeout(r, every));
    }
    throw new Error(`timed out after ${seconds}s waiting for ${what}${reconcilers ? `\n${reconcilers.tails(20)}` : ""}`);
}

/** A field of the spoke's kubeconfig (admin context). */
const kubeconfigField = (cluster: LocalCluster, jsonpath: string) => kubectlOk(cluster, ["config", "view", "--raw", "--minify", "-o", `jsonpath=${jsonpath}`]);

interface App {
    status?: { sync?: { status?: string }; health?: { status?: string }; conditions?: { type: string; message: string }[] };
}
function app(name: string): App | undefined {
    const r = kubectl(hub!, ["get", "applications.argoproj.io", name, "-n", argoNs, "-o", "json"]);
    return r.code === 0 ? (JSON.parse(r.stdout) as App) : undefined;
}
const message = () => {
    const r = kubectl(spoke!, ["get", "configmap", "shop-config", "-n", prodNs, "-o", "jsonpath={.data.message}"]);
    return r.code === 0 ? r.stdout : undefined;
};

interface AuditEvent {
    verb: string;
    user: { username: string };
    objectRef?: { resource?: string; namespace?: string; name?: string };
    responseStatus?: { code?: number };
    stage: string;
}
function spokeAudit(): AuditEvent[] {
    return fs
        .readFileSync(path.join(spoke!.dir, "audit.log"), "utf8")
        .split("\n")
        .filter((l) => l.trim() !== "")
        .map((l) => JSON.parse(l) as AuditEvent)
        .filter((e) => e.stage === "ResponseComplete");
}

/** A Deployment that breaks the pod guardrails (root, privileged, latest image). */
const unsafeDeployment = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "debug", namespace: prodNs, labels: { "app.kubernetes.io/name": "debug", "gitops-control.io/team": "storefront" } },
    spec: {
        replicas: 0,
        selector: { matchLabels: { "app.kubernetes.io/name": "debug" } },
        template: {
            metadata: { labels: { "app.kubernetes.io/name": "debug", "gitops-control.io/team": "storefront" } },
            spec: { containers: [{ name: "sh", image: "busybox:latest", securityContext: { privileged: true } }] },
        },
    },
};

/** A Deployment every pod guardrail admits, written by hand. */
const compliantDeployment = {
    ...unsafeDeployment,
    metadata: { ...unsafeDeployment.metadata, name: "manual" },
    spec: {
        ...unsafeDeployment.spec,
        selector: { matchLabels: { "app.kubernetes.io/name": "manual" } },
        template: { metadata: { labels: { "app.kubernetes.io/name": "manual", "gitops-control.io/team": "storefront" } }, spec: compliantPodSpec() },
    },
};

describe(
    "every cluster is governed: Argo CD on the hub deploys to a spoke the program governs (two API servers, v3.6.1 reconcilers, real engine)",
    { timeout: 12 * 60 * 1000 },
    () => {
        let spokeAdminToken: string;
        let argoToken: string;

        before(async () => {
            workDir = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-spoke-"));
            stateDir = path.join(workDir, "state");
            fs.mkdirSync(stateDir);
            hub = startCluster();
            // The spoke runs the workload controllers (Argo CD's health verdict reads rollouts), the token
            // controller (it fills Argo CD's token Secret) and writes an audit log (the writers' identities).
            spoke = startCluster({ LOCAL_CLUSTER_WORKLOAD_CONTROLLERS: "1", LOCAL_CLUSTER_TOKEN_CONTROLLER: "1", LOCAL_CLUSTER_AUDIT_LOG: "1" });
            // RBAC as a platform grants it: engineers may write workloads and delete namespaces, the on-call
            // group may patch config; the guardrails decide where.
            kubectlOk(spoke, ["create", "clusterrole", "test-engineers", "--verb=get,list,create,update,patch,delete", "--resource=deployments,configmaps,namespaces"]);
            kubectlOk(spoke, ["create", "clusterrolebinding", "test-engineers", "--clusterrole=test-engineers", "--group=engineers", "--group=gitops-control:break-glass"]);
            spokeAdminToken = kubeconfigField(spoke, "{.users[0].user.token}");
            git = await GitServer.start(path.join(workDir, "git"));
            git.createRepo("shop", chartFiles({ service: "shop", team: "storefront" }));

            step("pulumi up on the hub: Argo CD, guardrails on both clusters, shop in prod on the spoke");
            const local = await openLocalStack(
                hub,
                {
                    configOverrides: {
                        services: [
                            { name: "shop", team: "storefront", repoURL: git.url("shop"), path: "deploy/chart", targetRevision: "main", environments: ["prod"], cluster: "spoke" },
                        ],
                        destinations: [
                            {
                                name: "spoke",
                                server: kubeconfigField(spoke, "{.clusters[0].cluster.server}"),
                                caData: kubeconfigField(spoke, "{.clusters[0].cluster.certificate-authority-data}"),
                            },
                        ],
                    },
                    secretOverrides: { destinationKubeconfigs: { spoke: fs.readFileSync(spoke.kubeconfig, "utf8") } },
                },
                stateDir,
            );
            const t0 = Date.now();
            await local.stack.up({ onOutput: (out) => log.push(out) });
            measure("pulumi up (hub and spoke)", t0);
            argoToken = Buffer.from(kubectlOk(spoke, ["get", "secret", "argocd-application-controller-token", "-n", argoNs, "-o", "jsonpath={.data.token}"]), "base64").toString(
                "utf8",
            );
            reconcilers = await startReconcilers({ dir: path.join(workDir, "reconcilers"), adminKubeconfig: hub.kubeconfig, appResyncSeconds: 60 });
        });

        after(() => {
            if (process.exitCode || Object.keys(measured).length < 3) {
                console.log(log.join("").split("\n").slice(-60).join("\n"));
                if (reconcilers) console.log(reconcilers.tails(40));
            }
            step(`[measure] summary ${JSON.stringify(measured)}`);
            reconcilers?.stop();
            void git?.stop();
            hub?.stop();
            spoke?.stop();
            fs.rmSync(workDir, { recursive: true, force: true });
        });

        it("the spoke carries the hub's guardrails, the labelled prod namespace and Argo CD's ServiceAccount; its token is in the hub's cluster Secret, and neither it nor the kubeconfig is in state in plain text", () => {
            const policies = (c: LocalCluster) =>
                kubectlOk(c, ["get", "validatingadmissionpolicies", "-o", "jsonpath={.items[*].metadata.name}"]).split(" ").filter(Boolean).sort();
            // The ownership fence keeps the hub's Argo CD objects: hub-only.
            const hubPolicies = policies(hub!).filter((p) => !p.includes("ownership"));
            assert.ok(hubPolicies.length > 10, `hub policies: ${JSON.stringify(policies(hub!))}`);
            assert.deepEqual(policies(spoke!), hubPolicies);
            const bindings = (c: LocalCluster) =>
                kubectlOk(c, ["get", "validatingadmissionpolicybindings", "-o", "jsonpath={.items[*].metadata.name}"])
                    .split(" ")
                    .filter(Boolean)
                    .filter((b) => !b.includes("ownership"))
                    .sort();
            assert.deepEqual(bindings(spoke!), bindings(hub!));
            const labels = JSON.parse(kubectlOk(spoke!, ["get", "namespace", prodNs, "-o", "jsonpath={.metadata.labels}"])) as Record<string, string>;
            assert.equal(labels["gitops-control.io/environment"], "prod");
            assert.equal(labels["pod-security.kubernetes.io/enforce"], "restricted");
            const config = JSON.parse(
                Buffer.from(kubectlOk(hub!, ["get", "secret", "cluster-spoke", "-n", argoNs, "-o", "jsonpath={.data.config}"]), "base64").toString("utf8"),
            ) as { bearerToken: string };
            assert.ok(argoToken.length > 100, "the spoke's token controller filled Argo CD's token");
            assert.equal(config.bearerToken, argoToken, "the cluster Secret carries the spoke ServiceAccount's token");
            const state = readStateFile(stateDir);
            for (const secret of [spokeAdminToken, argoToken]) {
                assert.deepEqual(pathsContaining(state, secret), [], "secret in state in plain text");
                assert.deepEqual(pathsContaining(state, Buffer.from(secret).toString("base64")), [], "secret in state base64-encoded");
            }
        });

        it("Argo CD on the hub syncs the prod service to the spoke, writing as its least-privilege ServiceAccount", async () => {
            const t0 = Date.now();
            await until(
                "shop-prod Synced and Healthy on the spoke",
                240,
                () => {
                    kubectl(hub!, ["annotate", "applications.argoproj.io", "shop-prod", "-n", argoNs, "argocd.argoproj.io/refresh=normal", "--overwrite"]);
                    const a = app("shop-prod");
                    return a?.status?.sync?.status === "Synced" && a.status.health?.status === "Healthy";
                },
                3000,
            );
            measure("controller start to Synced+Healthy on the spoke", t0);
            assert.equal(message(), "hello");
            assert.equal(kubectl(hub!, ["get", "configmap", "shop-config", "-n", prodNs]).code, 1, "nothing deployed on the hub");
            // What was applied (create, patch), and by whom; the deployment controller's own updates (its
            // revision annotation) and status writes are the cluster's, not a deploy.
            const applied = await until("the Deployment's apply in the spoke's audit log", 30, () => {
                const events = spokeAudit().filter(
                    (e) =>
                        e.objectRef?.namespace === prodNs &&
                        ["deployments", "configmaps"].includes(e.objectRef.resource ?? "") &&
                        ["create", "patch"].includes(e.verb) &&
                        (e.responseStatus?.code ?? 0) < 300,
                );
                return events.some((e) => e.objectRef?.resource === "deployments") && events;
            });
            assert.deepEqual([...new Set(applied.map((e) => e.user.username))], [controllerIdentity]);
        });

        it("the spoke's API server refuses a human's unsafe workload and namespace delete (and the pod rules hold under break-glass too)", () => {
            // A person's change of a compliant workload: only Argo CD (and break-glass) writes prod.
            const safe = kubectl(spoke!, ["apply", "-f", "-", ...human], JSON.stringify(compliantDeployment));
            assert.notEqual(safe.code, 0, "a person's Deployment admitted");
            assert.match(safe.stderr, /ValidatingAdmissionPolicy 'gitops-control-restrict-workload-writers'/);
            // An unsafe one: refused (the API server names the first policy that denies it).
            const unsafe = kubectl(spoke!, ["apply", "-f", "-", ...human], JSON.stringify(unsafeDeployment));
            assert.notEqual(unsafe.code, 0, "unsafe Deployment admitted");
            assert.match(unsafe.stderr, /ValidatingAdmissionPolicy 'gitops-control-[a-z-]+' with binding '[a-z-]+-prod' denied request/);
            // Break-glass may write prod, but not an unsafe pod: a pod rule refuses it.
            const glass = kubectl(spoke!, ["apply", "-f", "-", ...breakGlass], JSON.stringify(unsafeDeployment));
            assert.notEqual(glass.code, 0, "unsafe Deployment admitted under break-glass");
            assert.match(glass.stderr, /ValidatingAdmissionPolicy 'gitops-control-(?!restrict-workload-writers)[a-z-]+' with binding '[a-z-]+-prod' denied request/);
            const del = kubectl(spoke!, ["delete", "namespace", prodNs, "--wait=false", ...human]);
            assert.notEqual(del.code, 0, "namespace delete admitted");
            assert.match(del.stderr, /ValidatingAdmissionPolicy 'gitops-control-keep-governed-namespaces'/);
            assert.equal(kubectlOk(spoke!, ["get", "namespace", prodNs, "-o", "jsonpath={.status.phase}"]), "Active");
            for (const name of ["debug", "manual"]) assert.equal(kubectl(spoke!, ["get", "deployment", name, "-n", prodNs]).code, 1, name);
        });

        it("Argo CD's token reads and writes only its service namespaces (no Secret elsewhere), cannot create namespaces or grant itself more", () => {
            const file = path.join(workDir, "argocd-spoke.kubeconfig");
            const server = kubeconfigField(spoke!, "{.clusters[0].cluster.server}");
            const ca = kubeconfigField(spoke!, "{.clusters[0].cluster.certificate-authority-data}");
            fs.writeFileSync(
                file,
                JSON.stringify({
                    apiVersion: "v1",
                    kind: "Config",
                    clusters: [{ name: "spoke", cluster: { server, "certificate-authority-data": ca } }],
                    users: [{ name: "argocd", user: { token: argoToken } }],
                    contexts: [{ name: "argocd", context: { cluster: "spoke", user: "argocd" } }],
                    "current-context": "argocd",
                }),
                { mode: 0o600 },
            );
            const asArgo: LocalCluster = { dir: spoke!.dir, kubeconfig: file, stop: () => undefined };
            assert.equal(kubectlOk(asArgo, ["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]), controllerIdentity);
            // It reads what its cache lists (the hub's cluster Secret names its namespaces): objects there, and namespaces.
            assert.equal(kubectl(asArgo, ["get", "secrets,pods,configmaps", "-n", prodNs]).code, 0, "reads its service namespace");
            assert.equal(kubectl(asArgo, ["get", "namespaces"]).code, 0, "reads namespaces");
            assert.equal(kubectlOk(asArgo, ["auth", "can-i", "create", "configmaps", "-n", prodNs]).trim(), "yes");
            // No Secret outside its namespaces (issue 17): not cluster-wide, not the spoke's own, not its own token's namespace.
            for (const args of [
                ["get", "secrets", "-A"],
                ["get", "secrets", "-n", "kube-system"],
                ["get", "secrets", "-n", "default"],
                ["get", "secret", "argocd-application-controller-token", "-n", argoNs],
                ["get", "pods", "-A"],
                ["get", "configmaps", "-n", "kube-system"],
            ]) {
                const r = kubectl(asArgo, args);
                assert.notEqual(r.code, 0, `Argo CD's token may ${args.join(" ")}`);
                assert.match(r.stderr, /forbidden/i, args.join(" "));
            }
            for (const [what, args] of [
                ["a ConfigMap in default", ["create", "configmap", "stray", "-n", "default", "--from-literal=a=b"]],
                ["a ConfigMap in kube-system", ["create", "configmap", "stray", "-n", "kube-system", "--from-literal=a=b"]],
                ["a namespace", ["create", "namespace", "stray"]],
                ["a cluster-admin binding", ["create", "clusterrolebinding", "stray", "--clusterrole=cluster-admin", `--serviceaccount=${argoNs}:argocd-application-controller`]],
                [
                    "a cluster-admin RoleBinding in its namespace",
                    ["create", "rolebinding", "stray", "-n", prodNs, "--clusterrole=cluster-admin", `--serviceaccount=${argoNs}:argocd-application-controller`],
                ],
                ["a delete of its own namespace", ["delete", "namespace", prodNs, "--wait=false"]],
            ] as const) {
                const r = kubectl(asArgo, args);
                assert.notEqual(r.code, 0, `Argo CD's token created ${what}`);
                assert.match(r.stderr, /forbidden/i, what);
            }
        });

        it("a live edit on the spoke is healed by Argo CD's self-heal", async () => {
            try {
                const t0 = Date.now();
                kubectlOk(spoke!, ["patch", "configmap", "shop-config", "-n", prodNs, "--type", "merge", "-p", '{"data":{"message":"hotfix"}}', ...breakGlass]);
                await until("Argo CD to revert the live edit on the spoke", 180, () => message() === "hello", 1000);
                measure("live edit on the spoke to healed", t0);
            } finally {
                if (message() !== "hello")
                    kubectl(spoke!, ["patch", "configmap", "shop-config", "-n", prodNs, "--type", "merge", "-p", '{"data":{"message":"hello"}}', ...breakGlass]);
            }
        });
    },
);
