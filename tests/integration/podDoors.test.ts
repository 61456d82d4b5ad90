import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { parseAllDocuments } from "yaml";
import { after, before, describe, it } from "node:test";
import { GuardrailBinding, guardrailManifests } from "../../components/guardrails/AdmissionGuardrails";
import { KubeObject, UserInfo } from "../../scripts/lib/policyEvaluator";
import { defaultRules } from "../../components/guardrails/rules";
import { labels } from "../../components/core/labels";
import { argoCdPodSecurity, podSecurityLabels, podSecurityPresets } from "../../components/core/podSecurity";
import { pinnedChart, renderArgoCdValues } from "../../components/argocd/ArgoCd";
import { KubectlResult, LocalCluster, applyList, eventually, kubectl, kubectlOk, startCluster, step } from "./support";

/**
 * Every door a pod spec enters by, tried against a real kube-apiserver 1.36 with the guardrails
 * bound as the program binds them, and with the cluster's own deployment and replicaset
 * controllers running under their own service-account identities (kube-controller-manager with
 * --use-service-account-credentials): the attack is denied in prod, warned (and admitted) in
 * staging, and the legitimate path still works. Argo CD's controller is impersonated by its
 * service-account name (the real controller runs in the reconciler harness of issue 13).
 */

const prod = "doors-prod";
const staging = "doors-staging";
/** A namespace with only the Pod Security labels of the prod class: the floor underneath the guardrails. */
const psaOnly = "doors-psa-only";
/** Argo CD's namespace, labelled as the ArgoCd component labels it. */
const argoNs = "argocd";
/** A prod namespace the program deletes: the namespace controller empties it. */
const doomed = "doors-doomed";
const prefix = "gitops-control";
const bindings: GuardrailBinding[] = [
    { environment: "prod", validationActions: ["Deny", "Audit"] },
    { environment: "staging", validationActions: ["Warn", "Audit"] },
];

const sa = (ns: string, name: string): UserInfo => ({
    username: `system:serviceaccount:${ns}:${name}`,
    groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`, "system:authenticated"],
});
const argo = sa("argocd", "argocd-application-controller");
const human: UserInfo = { username: "alice@example.com", groups: ["developers", "system:authenticated"] };
const breakGlass: UserInfo = { username: "bob@example.com", groups: ["gitops-control:break-glass", "system:authenticated"] };
/** kube-system identities each exempt from restrict-workload-writers for one job, and kube-controller-manager's own name. */
const exemptForOneJob: UserInfo[] = [
    sa("kube-system", "root-ca-cert-publisher"),
    sa("kube-system", "generic-garbage-collector"),
    sa("kube-system", "namespace-controller"),
    sa("kube-system", "deployment-controller"),
    { username: "system:kube-controller-manager", groups: ["system:authenticated"] },
];
const program: UserInfo = { username: "gitops-control-admin", groups: ["system:masters", "system:authenticated"] };
const asUser = (u: UserInfo): string[] => [`--as=${u.username}`, ...(u.groups ?? []).map((g) => `--as-group=${g}`)];

const container = (name: string, securityContext: Record<string, unknown> = {}) => ({
    name,
    image: "nginx:1.27.3",
    resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, ...securityContext },
});
/** A privileged container (the API refuses allowPrivilegeEscalation: false with privileged: true). */
const privilegedContainer = () => ({ ...container("web"), securityContext: { privileged: true, capabilities: { drop: ["ALL"] } } });
const podSpec = (extra: Record<string, unknown> = {}) => ({
    securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } },
    containers: [container("web")],
    ...extra,
});
const meta = (name: string, namespace: string) => ({ name, namespace, labels: { "app.kubernetes.io/name": name, [labels.team]: "payments" } });
const pod = (name: string, namespace: string, spec = podSpec()): KubeObject => ({ apiVersion: "v1", kind: "Pod", metadata: meta(name, namespace), spec });
const deployment = (name: string, namespace: string, replicas: number, spec = podSpec()): KubeObject => ({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: meta(name, namespace),
    spec: { replicas, selector: { matchLabels: { "app.kubernetes.io/name": name } }, template: { metadata: { labels: meta(name, namespace).labels }, spec } },
});
const replicaSet = (name: string, namespace: string, replicas: number, spec = podSpec()): KubeObject => ({ ...deployment(name, namespace, replicas, spec), kind: "ReplicaSet" });
/** What `kubectl debug --profile=sysadmin` adds: a privileged ephemeral container. */
const sysadminDebugger = { name: "debugger", image: "busybox:1.37.0", targetContainerName: "web", securityContext: { privileged: true } };

describe("pod doors: Pods, ReplicaSets, ephemeral containers, exec, controllers (real API server and controllers)", { timeout: 8 * 60 * 1000 }, () => {
    let cluster: LocalCluster | undefined;
    const k = (args: readonly string[], input?: string) => kubectl(cluster!, args, input);
    const ok = (args: readonly string[], input?: string) => kubectlOk(cluster!, args, input);
    const create = (o: KubeObject, u: UserInfo) => k(["create", ...asUser(u), "-f", "-"], JSON.stringify(o));
    const debug = (ns: string, name: string, u: UserInfo, ephemeral: object) => {
        const stored = JSON.parse(ok(["get", "pod", "-n", ns, name, "-o", "json"])) as { spec: Record<string, unknown> };
        stored.spec.ephemeralContainers = [ephemeral];
        return k(["replace", "--raw", `/api/v1/namespaces/${ns}/pods/${name}/ephemeralcontainers`, ...asUser(u), "-f", "-"], JSON.stringify(stored));
    };

    interface AuditEvent {
        readonly stage: string;
        readonly verb: string;
        readonly user: { readonly username: string };
        /** Who the request acted as, when the caller impersonated (the tests' `--as`). */
        readonly impersonatedUser?: { readonly username: string };
        readonly objectRef?: { readonly namespace?: string; readonly resource?: string; readonly subresource?: string };
        readonly responseStatus?: { readonly code: number };
    }
    /** Who wrote `resource` in prod with `verbs` and succeeded, from the API server's audit log. */
    const writers = (resource: string, verbs: readonly string[] = ["create"]) =>
        fs
            .readFileSync(path.join(cluster!.dir, "audit.log"), "utf8")
            .split("\n")
            .filter((l) => l.trim() !== "")
            .map((l) => JSON.parse(l) as AuditEvent)
            .filter(
                (e) =>
                    e.stage === "ResponseComplete" &&
                    verbs.includes(e.verb) &&
                    e.objectRef?.namespace === prod &&
                    e.objectRef.resource === resource &&
                    !e.objectRef.subresource &&
                    (e.responseStatus?.code ?? 0) < 300,
            )
            .map((e) => (e.impersonatedUser ?? e.user).username);
    const creators = (resource: string) => writers(resource);

    before(async () => {
        process.env.LOCAL_CLUSTER_WORKLOAD_CONTROLLERS = "1";
        process.env.LOCAL_CLUSTER_AUDIT_LOG = "1";
        cluster = startCluster();
        step("namespaces: prod, staging (guardrail labels) and one with only the prod Pod Security labels");
        applyList(cluster!, [
            { apiVersion: "v1", kind: "Namespace", metadata: { name: prod, labels: { [labels.environment]: "prod" } } },
            { apiVersion: "v1", kind: "Namespace", metadata: { name: staging, labels: { [labels.environment]: "staging" } } },
            { apiVersion: "v1", kind: "Namespace", metadata: { name: psaOnly, labels: podSecurityLabels(podSecurityPresets.prod) } },
            { apiVersion: "v1", kind: "Namespace", metadata: { name: doomed, labels: { [labels.environment]: "prod" } } },
            { apiVersion: "v1", kind: "Namespace", metadata: { name: argoNs, labels: { "app.kubernetes.io/part-of": "argocd", ...podSecurityLabels(argoCdPodSecurity) } } },
            {
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRole",
                metadata: { name: "doors-writer" },
                rules: [
                    { apiGroups: [""], resources: ["pods", "pods/ephemeralcontainers", "pods/exec", "configmaps"], verbs: ["get", "list", "create", "update", "patch", "delete"] },
                    { apiGroups: ["apps"], resources: ["deployments", "replicasets", "deployments/scale"], verbs: ["get", "list", "create", "update", "patch", "delete"] },
                    { apiGroups: ["autoscaling"], resources: ["horizontalpodautoscalers"], verbs: ["get", "list", "create", "update", "patch", "delete"] },
                    // Where a Service's traffic goes: its Service, Endpoints, EndpointSlices and NetworkPolicies.
                    { apiGroups: [""], resources: ["services", "endpoints"], verbs: ["get", "list", "create", "update", "patch", "delete"] },
                    { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "create", "update", "patch", "delete"] },
                    { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: ["get", "list", "create", "update", "patch", "delete"] },
                ],
            },
            {
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRoleBinding",
                metadata: { name: "doors-writer" },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "doors-writer" },
                subjects: [
                    { kind: "ServiceAccount", namespace: "argocd", name: "argocd-application-controller" },
                    { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: human.username },
                    { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: breakGlass.username },
                    { kind: "ServiceAccount", namespace: "kube-system", name: "horizontal-pod-autoscaler" },
                    // Identities exempt for one job, given the RBAC to try others: admission alone must hold them to their shape.
                    ...exemptForOneJob.map((u) =>
                        u.username.startsWith("system:serviceaccount:")
                            ? { kind: "ServiceAccount", namespace: "kube-system", name: u.username.split(":")[3] }
                            : { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: u.username },
                    ),
                ],
            },
            {
                // In Argo CD's namespace everyone tried here may do anything RBAC allows (admin), Argo CD's controller included.
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "RoleBinding",
                metadata: { name: "doors-argocd-admin", namespace: argoNs },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
                subjects: [argo, human, breakGlass, ...exemptForOneJob].map((u) =>
                    u.username.startsWith("system:serviceaccount:")
                        ? { kind: "ServiceAccount", namespace: u.username.split(":")[2], name: u.username.split(":")[3] }
                        : { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: u.username },
                ),
            },
        ]);
        const rules = defaultRules();
        step(`${rules.length} guardrails bound for prod [Deny, Audit] and staging [Warn, Audit], as AdmissionGuardrails renders them`);
        applyList(cluster!, guardrailManifests(rules, bindings, { prefix }));
        for (const ns of [prod, staging, psaOnly, doomed, argoNs]) await eventually(`ServiceAccount default in ${ns}`, 60, () => k(["get", "sa", "default", "-n", ns]).code === 0);
        // Policies load asynchronously: wait until a privileged Pod is refused in prod.
        let n = 0;
        let last = "";
        await eventually("the guardrails to enforce in prod", 60, () => {
            const r = create(pod(`probe-${++n}`, prod, podSpec({ containers: [privilegedContainer()] })), argo);
            last = r.code === 0 ? "admitted" : r.stderr;
            return r.code !== 0 && /restrict-container-privileges/.test(r.stderr);
        }).catch((e: Error) => {
            throw new Error(`${e.message}; last answer: ${last}`);
        });
        // Each policy loads on its own: also wait for the writer rule (a person's compliant Pod refused).
        await eventually("the writer rule to enforce in prod", 60, () => {
            const r = create(pod(`writer-probe-${++n}`, prod), human);
            last = r.code === 0 ? "admitted" : r.stderr;
            return r.code !== 0 && /restrict-workload-writers/.test(r.stderr);
        }).catch((e: Error) => {
            throw new Error(`${e.message}; last answer: ${last}`);
        });
    });

    after(() => {
        if (cluster) step("stopping the local cluster");
        cluster?.stop();
    });

    it("kubectl run of a privileged Pod is denied in prod even for break-glass, warned and admitted in staging", () => {
        const spec = podSpec({ containers: [privilegedContainer()] });
        const denied = create(pod("run-privileged", prod, spec), breakGlass);
        assert.notEqual(denied.code, 0);
        assert.match(denied.stderr, /containers web must not set securityContext\.privileged: true \(guardrail restrict-container-privileges\)/);
        const warned = create(pod("run-privileged", staging, spec), breakGlass);
        assert.equal(warned.code, 0, warned.stderr);
        assert.match(warned.stderr, /Warning: .*containers web must not set securityContext\.privileged: true/);
    });

    it("kubectl run of a compliant Pod by a person is denied in prod (not from Git); Argo CD's may create it", () => {
        const denied = create(pod("run-by-hand", prod), human);
        assert.notEqual(denied.code, 0);
        assert.match(denied.stderr, /alice@example\.com may not CREATE pods run-by-hand: .*\(guardrail restrict-workload-writers\)/);
        const admitted = create(pod("run-by-argo", prod), argo);
        assert.equal(admitted.code, 0, admitted.stderr);
    });

    it("kubectl debug --profile=sysadmin (privileged ephemeral container) is denied in prod for break-glass, warned in staging", () => {
        ok(["create", ...asUser(argo), "-f", "-"], JSON.stringify(pod("debug-target", prod)));
        ok(["create", ...asUser(argo), "-f", "-"], JSON.stringify(pod("debug-target", staging)));
        const denied = debug(prod, "debug-target", breakGlass, sysadminDebugger);
        assert.notEqual(denied.code, 0);
        assert.match(denied.stderr, /containers debugger must not set securityContext\.privileged: true \(guardrail restrict-container-privileges\)/);
        const human_ = debug(prod, "debug-target", human, { ...sysadminDebugger, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } });
        assert.match(human_.stderr, /alice@example\.com may not UPDATE pods\/ephemeralcontainers debug-target/);
        const warned = debug(staging, "debug-target", breakGlass, sysadminDebugger);
        assert.equal(warned.code, 0, warned.stderr);
        // kubectl replace --raw prints no warnings; the stored Pod shows the admission went through.
        assert.match(ok(["get", "pod", "-n", staging, "debug-target", "-o", "jsonpath={.spec.ephemeralContainers[0].name}"]), /debugger/);
    });

    it("kubectl exec by a person is denied in prod; break-glass passes admission (audited)", () => {
        const denied = k(["exec", "-n", prod, ...asUser(human), "run-by-argo", "--", "date"]);
        assert.match(denied.stderr, /alice@example\.com may not CONNECT pods\/exec run-by-argo: .*\(guardrail restrict-workload-writers\)/);
        // Past admission the API server looks for the Pod's node; this cluster has none.
        const admitted = k(["exec", "-n", prod, ...asUser(breakGlass), "run-by-argo", "--", "date"]);
        assert.match(admitted.stderr, /does not have a host assigned/);
        assert.doesNotMatch(admitted.stderr, /ValidatingAdmissionPolicy/);
    });

    it("a hand-made ReplicaSet with hostPID and 50 replicas is denied in prod, by content and by writer", () => {
        // The API server names one denying policy per request: each unsafe property on its own.
        const hostPid = create(replicaSet("rs-host-pid", prod, 1, podSpec({ hostPID: true })), argo);
        assert.match(hostPid.stderr, /pod spec must not set hostPID: true \(the node's processes\) \(guardrail disallow-host-access\)/);
        const fifty = create(replicaSet("rs-fifty", prod, 50), argo);
        assert.match(fifty.stderr, /replicas 50 exceeds the cap of 20: .*\(guardrail cap-replicas\)/);
        assert.notEqual(create(replicaSet("rs-both", prod, 50, podSpec({ hostPID: true })), argo).code, 0);
        const byHuman = create(replicaSet("rs-by-hand", prod, 1), human);
        assert.match(byHuman.stderr, /alice@example\.com may not CREATE replicasets rs-by-hand/);
    });

    it("the legitimate path: a Deployment applied by Argo CD gets its ReplicaSet and Pods from the cluster's own controllers", async () => {
        ok(["create", ...asUser(argo), "-f", "-"], JSON.stringify(deployment("web", prod, 3)));
        await eventually("3 Pods of Deployment web created by the replicaset controller", 90, () => {
            const pods = JSON.parse(ok(["get", "pods", "-n", prod, "-l", "app.kubernetes.io/name=web", "-o", "json"])) as {
                items: { metadata: { ownerReferences?: { kind: string }[] } }[];
            };
            return pods.items.length === 3 && pods.items.every((p) => p.metadata.ownerReferences?.[0]?.kind === "ReplicaSet");
        });
        // Who wrote them, from the audit log: the controllers' own service accounts, past every guardrail.
        assert.deepEqual([...new Set(creators("replicasets"))], ["system:serviceaccount:kube-system:deployment-controller"]);
        assert.ok(creators("pods").filter((u) => u === "system:serviceaccount:kube-system:replicaset-controller").length >= 3, creators("pods").join(", "));
    });

    it("a Service's traffic (issue 17, item 4): the endpoint controllers keep a prod Service's slices and Endpoints in their shape; a person's slice or Endpoints with a foreign address, and a NetworkPolicy deleted or opened, are denied", async () => {
        const foreign = "203.0.113.10";
        const service = (name: string, selector?: Record<string, string>) => ({
            apiVersion: "v1",
            kind: "Service",
            metadata: { name, namespace: prod, labels: { "app.kubernetes.io/name": name, [labels.team]: "payments" } },
            // No kubelet here: publishNotReadyAddresses lets the controllers publish the Pod's address without a Node.
            spec: { ...(selector ? { selector, publishNotReadyAddresses: true } : {}), ports: [{ name: "http", port: 80, targetPort: 8080 }] },
        });
        const slicesOf = (name: string) =>
            (
                JSON.parse(ok(["get", "endpointslices", "-n", prod, "-l", `kubernetes.io/service-name=${name}`, "-o", "json"])) as {
                    items: { metadata: { labels: Record<string, string> }; endpoints?: { addresses: string[] }[] }[];
                }
            ).items;
        // The legitimate path: Argo CD applies a Service with a selector and its Pod; the Pod gets an address (the kubelet's status write, as admin).
        ok(["create", ...asUser(argo), "-f", "-"], JSON.stringify(service("shop", { "app.kubernetes.io/name": "shop" })));
        ok(["create", ...asUser(argo), "-f", "-"], JSON.stringify({ ...pod("shop-0", prod), metadata: { ...meta("shop", prod), name: "shop-0" } }));
        ok([
            "patch",
            "pod",
            "shop-0",
            "-n",
            prod,
            "--subresource=status",
            "--type=merge",
            "-p",
            JSON.stringify({ status: { podIP: "10.244.7.7", podIPs: [{ ip: "10.244.7.7" }] } }),
        ]);
        await eventually("the endpointslice controller to publish shop-0's address for Service shop", 90, () =>
            slicesOf("shop").some(
                (s) =>
                    s.metadata.labels["endpointslice.kubernetes.io/managed-by"] === "endpointslice-controller.k8s.io" &&
                    (s.endpoints ?? []).some((e) => e.addresses.includes("10.244.7.7")),
            ),
        );
        // The (deprecated) endpoints controller writes Endpoints shop, labelled as its own (in this kubelet-less cluster it published no address for the Pod: its admitted write is what is checked).
        await eventually("the endpoints controller to write Endpoints shop", 90, () =>
            /^endpoint-controller$/.test(k(["get", "endpoints", "shop", "-n", prod, "-o", "jsonpath={.metadata.labels.endpoints\\.kubernetes\\.io/managed-by}"]).stdout),
        );
        // A selector-less Service from Git with its Endpoints (an external database): the mirroring controller copies them into a slice.
        ok(["create", ...asUser(argo), "-f", "-"], JSON.stringify(service("db")));
        const endpoints = (name: string, ip: string) => ({
            apiVersion: "v1",
            kind: "Endpoints",
            metadata: { name, namespace: prod },
            subsets: [{ addresses: [{ ip }], ports: [{ name: "http", port: 8080, protocol: "TCP" }] }],
        });
        ok(["create", ...asUser(argo), "-f", "-"], JSON.stringify(endpoints("db", "10.0.5.20")));
        await eventually("the mirroring controller to mirror Endpoints db into a slice", 90, () =>
            slicesOf("db").some(
                (s) =>
                    s.metadata.labels["endpointslice.kubernetes.io/managed-by"] === "endpointslicemirroring-controller.k8s.io" &&
                    (s.endpoints ?? []).some((e) => e.addresses.includes("10.0.5.20")),
            ),
        );
        // Every slice and Endpoints in prod came from Argo CD or the controllers' own identities, past the writer rule.
        const sliceWriters = new Set(writers("endpointslices", ["create", "update", "patch", "delete"]));
        assert.deepEqual([...sliceWriters].sort(), [
            "system:serviceaccount:kube-system:endpointslice-controller",
            "system:serviceaccount:kube-system:endpointslicemirroring-controller",
        ]);
        assert.deepEqual([...new Set(writers("endpoints", ["create", "update", "patch", "delete"]))].sort(), [
            "system:serviceaccount:argocd:argocd-application-controller",
            "system:serviceaccount:kube-system:endpoint-controller",
        ]);

        // The doors: a person's slice naming Service shop (kube-proxy would route to it), Endpoints for a selector-less Service,
        // a NetworkPolicy opened or deleted; the endpointslice controller's identity writing a slice it does not manage.
        const slice = (name: string, managedBy: string) => ({
            apiVersion: "discovery.k8s.io/v1",
            kind: "EndpointSlice",
            metadata: { name, namespace: prod, labels: { "kubernetes.io/service-name": "shop", "endpointslice.kubernetes.io/managed-by": managedBy } },
            addressType: "IPv4",
            ports: [{ name: "http", port: 8080, protocol: "TCP" }],
            endpoints: [{ addresses: [foreign] }],
        });
        const policy = (ingress: object[]) => ({
            apiVersion: "networking.k8s.io/v1",
            kind: "NetworkPolicy",
            metadata: { name: "shop-ingress", namespace: prod },
            spec: { podSelector: { matchLabels: { "app.kubernetes.io/name": "shop" } }, policyTypes: ["Ingress"], ingress },
        });
        ok(["create", ...asUser(argo), "-f", "-"], JSON.stringify(policy([{ from: [{ podSelector: {} }] }])));
        const endpointSliceController = sa("kube-system", "endpointslice-controller");
        const attempts: [UserInfo, readonly string[], string | undefined, RegExp][] = [
            [human, ["create", "-f", "-"], JSON.stringify(slice("shop-extra", "endpointslice-controller.k8s.io")), /alice@example\.com may not CREATE endpointslices shop-extra/],
            [human, ["create", "-f", "-"], JSON.stringify(endpoints("shop-external", foreign)), /alice@example\.com may not CREATE endpoints shop-external/],
            [
                human,
                [
                    "patch",
                    "endpoints",
                    "db",
                    "-n",
                    prod,
                    "--type=merge",
                    "-p",
                    JSON.stringify({ subsets: [{ addresses: [{ ip: foreign }], ports: [{ name: "http", port: 8080 }] }] }),
                ],
                undefined,
                /alice@example\.com may not UPDATE endpoints db/,
            ],
            [human, ["replace", "-f", "-"], JSON.stringify(policy([{}])), /alice@example\.com may not UPDATE networkpolicies shop-ingress/],
            [human, ["delete", "networkpolicy", "shop-ingress", "-n", prod], undefined, /alice@example\.com may not DELETE networkpolicies shop-ingress/],
            [
                endpointSliceController,
                ["create", "-f", "-"],
                JSON.stringify(slice("shop-foreign", "someone-else")),
                /endpointslice-controller may not CREATE endpointslices shop-foreign/,
            ],
        ];
        for (const [user, args, stdin, denied] of attempts) {
            const r = k([...args, ...asUser(user)], stdin);
            assert.notEqual(r.code, 0, `${user.username} ${args.join(" ")} was admitted`);
            assert.match(r.stderr, denied);
            assert.match(r.stderr, /\(guardrail restrict-workload-writers\)/);
        }
        assert.equal(k(["get", "endpointslice", "shop-foreign", "-n", prod, "--ignore-not-found", "-o", "name"]).stdout.trim(), "");
        assert.ok(!slicesOf("shop").some((s) => (s.endpoints ?? []).some((e) => e.addresses.includes(foreign))), "no slice of shop points at the foreign address");
        assert.doesNotMatch(k(["get", "endpoints", "db", "-n", prod, "-o", "jsonpath={.subsets[*].addresses[*].ip}"]).stdout, /203\.0\.113\.10/);
        assert.match(ok(["get", "networkpolicy", "shop-ingress", "-n", prod, "-o", "jsonpath={.spec.ingress[0].from[0].podSelector}"]), /^\{\}$/);
        // Argo CD changes and deletes it (a commit to Git).
        ok(["replace", ...asUser(argo), "-f", "-"], JSON.stringify(policy([{ from: [{ namespaceSelector: { matchLabels: { [labels.environment]: "prod" } } }] }])));
        ok(["delete", "networkpolicy", "shop-ingress", "-n", prod, ...asUser(argo)]);
    });

    it("kubectl scale above the cap is denied in prod even for break-glass, warned in staging; the HPA controller scales within its HPA", () => {
        const scale = (ns: string, name: string, replicas: number, u: UserInfo) => k(["scale", "deployment", name, "-n", ns, `--replicas=${replicas}`, ...asUser(u)]);
        for (const ns of [prod, staging]) assert.equal(create(deployment("scaled", ns, 1), argo).code, 0, `Argo CD creates the Deployment in ${ns}`);
        const denied = scale(prod, "scaled", 50, breakGlass);
        assert.notEqual(denied.code, 0);
        assert.match(denied.stderr, /scaling deployments scaled to 50 exceeds the cap of 20: kubectl scale carries no ticket/);
        const warned = scale(staging, "scaled", 50, breakGlass);
        assert.equal(warned.code, 0, warned.stderr);
        assert.match(warned.stderr, /Warning: .*exceeds the cap of 20/);
        const hpaController = sa("kube-system", "horizontal-pod-autoscaler");
        assert.equal(scale(prod, "scaled", 15, hpaController).code, 0, "the HPA controller's scale within the cap");
        assert.equal(scale(prod, "scaled", 5, breakGlass).code, 0, "break-glass within the cap (audited)");
    });

    it("a person's HPA with minReplicas 300 is denied in prod, warned in staging; one within the cap is admitted", () => {
        const hpa = (name: string, ns: string, min: number, max: number) => ({
            apiVersion: "autoscaling/v2",
            kind: "HorizontalPodAutoscaler",
            metadata: { name, namespace: ns },
            spec: { scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "scaled" }, minReplicas: min, maxReplicas: max },
        });
        const denied = create(hpa("huge", prod, 300, 300), human);
        assert.notEqual(denied.code, 0);
        assert.match(denied.stderr, /HorizontalPodAutoscaler minReplicas 300, maxReplicas 300 exceeds the cap of 20/);
        const warned = create(hpa("huge", staging, 300, 300), human);
        assert.equal(warned.code, 0, warned.stderr);
        assert.match(warned.stderr, /Warning: .*HorizontalPodAutoscaler minReplicas 300/);
        assert.equal(create(hpa("fits", prod, 2, 20), human).code, 0, "an HPA within the cap");
    });

    it("exempt for one job, nothing more: each kube-system identity is denied a write outside its shape (issue 17, item 6)", () => {
        const [publisher, gc, nsController, deploymentController, kcm] = exemptForOneJob;
        ok(
            ["create", ...asUser(argo), "-f", "-"],
            JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "app-config", namespace: prod }, data: { mode: "safe" } }),
        );
        const patchData = ["patch", "configmap", "app-config", "-n", prod, "--type=merge", "-p", '{"data":{"mode":"debug"}}'];
        const attempts: [UserInfo, readonly string[], string | undefined, RegExp][] = [
            [publisher, ["create", "-f", "-"], JSON.stringify(deployment("ca-publisher-app", prod, 1)), /root-ca-cert-publisher may not CREATE deployments ca-publisher-app/],
            [gc, patchData, undefined, /generic-garbage-collector may not UPDATE configmaps app-config/],
            [gc, ["delete", "configmap", "app-config", "-n", prod], undefined, /generic-garbage-collector may not DELETE configmaps app-config/],
            [nsController, ["delete", "deployment", "web", "-n", prod, "--wait=false"], undefined, /namespace-controller may not DELETE deployments web/],
            [
                deploymentController,
                ["create", "-f", "-"],
                JSON.stringify(pod("from-deployment-controller", prod)),
                /deployment-controller may not CREATE pods from-deployment-controller/,
            ],
            [
                kcm,
                ["create", "-f", "-"],
                JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "kcm-config", namespace: prod }, data: { a: "b" } }),
                /system:kube-controller-manager may not CREATE configmaps kcm-config/,
            ],
            [kcm, patchData, undefined, /system:kube-controller-manager may not UPDATE configmaps app-config/],
        ];
        for (const [user, args, stdin, denied] of attempts) {
            const r = k([...args, ...asUser(user)], stdin);
            assert.notEqual(r.code, 0, `${user.username} ${args[0]} was admitted`);
            assert.match(r.stderr, denied);
            assert.match(r.stderr, /\(guardrail restrict-workload-writers\)/);
        }
        assert.match(ok(["get", "configmap", "app-config", "-n", prod, "-o", "jsonpath={.data.mode}"]), /^safe$/);
    });

    it("a foreground prune (as Argo CD deletes): the garbage collector deletes the ReplicaSets and releases the Deployment, in its shape", async () => {
        ok(["delete", "deployment", "web", "-n", prod, "--cascade=foreground", "--wait=false", ...asUser(argo)]);
        await eventually("Deployment web and its ReplicaSets gone (the GC's deletes and finalizer removal admitted)", 90, () => {
            const left = k(["get", "deployment/web", "-n", prod, "--ignore-not-found", "-o", "name"]).stdout.trim();
            const sets = k(["get", "replicasets", "-n", prod, "-l", "app.kubernetes.io/name=web", "-o", "name"]).stdout.trim();
            return left === "" && sets === "";
        });
    });

    it("the namespace controller empties a prod namespace the program deletes, in its shape", async () => {
        ok(["create", ...asUser(argo), "-f", "-"], JSON.stringify(deployment("doomed-web", doomed, 1)));
        ok(
            ["create", ...asUser(argo), "-f", "-"],
            JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "doomed-config", namespace: doomed }, data: { a: "b" } }),
        );
        ok(["delete", "namespace", doomed, "--wait=false", ...asUser(program)]);
        await eventually(`namespace ${doomed} emptied and gone`, 120, () => k(["get", "namespace", doomed, "--ignore-not-found", "-o", "name"]).stdout.trim() === "");
    });

    it("Pod Security Admission underneath: a prod-labelled namespace refuses a privileged Pod by itself (restricted, pinned)", () => {
        const r = create(pod("psa-privileged", psaOnly, podSpec({ containers: [privilegedContainer()] })), argo);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /violates PodSecurity "restricted:v1\.36": privileged/);
        assert.equal(create(pod("psa-compliant", psaOnly), argo).code, 0, "a compliant Pod passes restricted");
    });
    describe("the Argo CD namespace (issue 17, item 7): Pod Security restricted, and only the program writes what runs or grants identity there", () => {
        const chartObjects = (values: Record<string, unknown>): KubeObject[] => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-doors-chart-"));
            try {
                fs.writeFileSync(path.join(dir, "values.json"), JSON.stringify(values));
                const chart = path.resolve(__dirname, "..", "..", "..", "shared", "fixtures", "argo-cd", "charts", `argo-cd-${pinnedChart.version}.tgz`);
                const r = spawnSync("helm", ["template", "argocd", chart, "-n", argoNs, "-f", path.join(dir, "values.json")], { encoding: "utf8" });
                if (r.status !== 0) throw new Error(`helm template failed (source the toolchain env: scripts/toolchain/install.sh --print-env): ${r.stderr}`);
                // YAML 1.1, as the API server's decoder reads it: the chart writes file modes as octal (defaultMode: 0755).
                return parseAllDocuments(r.stdout, { version: "1.1" })
                    .map((d) => d.toJS() as KubeObject | null)
                    .filter((o): o is KubeObject => o !== null && typeof o === "object" && "kind" in o)
                    .map((o) => ({ ...o, metadata: { ...o.metadata, namespace: argoNs } }));
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        };
        const single = chartObjects(renderArgoCdValues({}));
        const ha = chartObjects(renderArgoCdValues({ ha: true, dex: true }));
        const templated = (o: KubeObject) =>
            o.kind === "Job" || o.kind === "Deployment" || o.kind === "StatefulSet" ? (o.spec as { template: { metadata?: object; spec: object } }).template : undefined;
        const serverPod = () => {
            const pods = JSON.parse(ok(["get", "pods", "-n", argoNs, "-l", "app.kubernetes.io/name=argocd-server", "-o", "json"])) as { items: KubeObject[] };
            return pods.items[0];
        };

        before(async () => {
            step("the chart's ServiceAccounts and workloads (single replica), applied as the program");
            const accounts = [...single, ...ha].filter((o) => o.kind === "ServiceAccount");
            applyList(cluster!, [...new Map(accounts.map((a) => [a.metadata?.name, a])).values()], asUser(program));
            applyList(
                cluster!,
                single.filter((o) => o.kind === "Deployment"),
                asUser(program),
            );
        });

        it("every pod the chart runs (single replica; HA with redis-ha and Dex) passes Pod Security restricted (server-side dry run)", () => {
            const pods = [...single, ...ha].flatMap((o) => {
                const t = templated(o);
                return t ? [{ apiVersion: "v1", kind: "Pod", metadata: { name: `psa-${String(o.metadata?.name)}`.slice(0, 63), namespace: argoNs }, spec: t.spec }] : [];
            });
            assert.ok(pods.length >= 10, `${pods.length} pod templates`);
            for (const p of [...new Map(pods.map((x) => [x.metadata.name, x])).values()]) {
                const r = k(["create", "--dry-run=server", ...asUser(program), "-f", "-"], JSON.stringify(p));
                assert.equal(r.code, 0, `${p.metadata.name}: ${r.stderr}`);
                assert.doesNotMatch(r.stderr, /PodSecurity/, p.metadata.name);
            }
            const root = k(["create", "--dry-run=server", ...asUser(program), "-f", "-"], JSON.stringify(pod("root", argoNs, podSpec({ containers: [privilegedContainer()] }))));
            assert.match(root.stderr, /violates PodSecurity "restricted:v1\.36"/);
        });

        it("the real deployment and replicaset controllers start the chart's Pods from the program's Deployments", async () => {
            await eventually("argocd-server's Pod created by the replicaset controller", 90, () => serverPod() !== undefined);
            assert.equal((serverPod().metadata?.ownerReferences as { kind: string }[] | undefined)?.[0]?.kind, "ReplicaSet");
        });

        it("nobody but the program starts a pod as Argo CD's controller, requests its token, binds its Role or edits its workloads: people, break-glass, Argo CD itself, kube-system identities", () => {
            const name = serverPod().metadata?.name ?? "";
            const asController = { ...pod("as-controller", argoNs), spec: { ...podSpec(), serviceAccountName: "argocd-application-controller" } };
            const doors: [string, (u: UserInfo) => KubectlResult][] = [
                ["a Pod mounting the controller's ServiceAccount", (u) => create(asController, u)],
                ["kubectl create token argocd-application-controller", (u) => k(["create", "token", "argocd-application-controller", "-n", argoNs, ...asUser(u)])],
                [
                    "a legacy token Secret for the controller",
                    (u) =>
                        create(
                            {
                                apiVersion: "v1",
                                kind: "Secret",
                                metadata: { name: "controller-token", namespace: argoNs, annotations: { "kubernetes.io/service-account.name": "argocd-application-controller" } },
                                type: "kubernetes.io/service-account-token",
                            },
                            u,
                        ),
                ],
                [
                    "a Job running as the controller",
                    (u) =>
                        create(
                            {
                                apiVersion: "batch/v1",
                                kind: "Job",
                                metadata: { name: "as-controller", namespace: argoNs },
                                spec: { template: { spec: { ...asController.spec, restartPolicy: "Never" } } },
                            },
                            u,
                        ),
                ],
                [
                    "a CronJob",
                    (u) =>
                        create(
                            {
                                apiVersion: "batch/v1",
                                kind: "CronJob",
                                metadata: { name: "as-controller", namespace: argoNs },
                                spec: { schedule: "* * * * *", jobTemplate: { spec: { template: { spec: { ...asController.spec, restartPolicy: "Never" } } } } },
                            },
                            u,
                        ),
                ],
                [
                    "a RoleBinding to the controller's Role",
                    (u) =>
                        create(
                            {
                                apiVersion: "rbac.authorization.k8s.io/v1",
                                kind: "RoleBinding",
                                metadata: { name: "steal-controller", namespace: argoNs },
                                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "view" },
                                subjects: [{ kind: "User", apiGroup: "rbac.authorization.k8s.io", name: u.username }],
                            },
                            u,
                        ),
                ],
                ["editing argocd-server's image", (u) => k(["set", "image", "deployment/argocd-server", "server=attacker/argocd:v3.6.1", "-n", argoNs, ...asUser(u)])],
                ["kubectl exec into argocd-server", (u) => k(["exec", "-n", argoNs, name, ...asUser(u), "--", "true"])],
                [
                    // A debugger that Pod Security restricted admits: only the guardrail stands in its way.
                    "kubectl debug (ephemeral container) on argocd-server",
                    (u) =>
                        debug(argoNs, name, u, {
                            name: "debugger",
                            image: "busybox:1.37.0",
                            targetContainerName: "server",
                            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
                        }),
                ],
            ];
            for (const [door, attempt] of doors) {
                // kube-system: the garbage collector (exempt for owned objects) and kube-controller-manager's own name (every controller's shape).
                for (const u of [human, breakGlass, argo, exemptForOneJob[1], exemptForOneJob[4]]) {
                    const r = attempt(u);
                    assert.notEqual(r.code, 0, `${door} as ${u.username} was admitted`);
                    assert.match(
                        r.stderr,
                        /in the Argo CD namespace argocd: its service accounts write prod; .*\(guardrail govern-argocd-namespace\)/,
                        `${door} as ${u.username}: ${r.stderr}`,
                    );
                }
            }
            // The program passes admission: its token request succeeds, its exec reaches the (absent) node.
            assert.equal(k(["create", "token", "argocd-application-controller", "-n", argoNs, ...asUser(program)]).code, 0);
            assert.match(k(["exec", "-n", argoNs, name, ...asUser(program), "--", "true"]).stderr, /does not have a host assigned/);
        });
    });
});
