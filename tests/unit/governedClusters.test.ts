/**
 * Issue 17, item 8: every cluster prod deploys to is governed. A registered cluster whose kubeconfig
 * the stack holds gets the hub's guardrails, its service namespaces with their labels and a
 * least-privilege ServiceAccount whose token goes into the cluster Secret; prod on a registered
 * cluster nobody governs is refused on both onboarding routes before anything is registered.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import * as pulumi from "@pulumi/pulumi";
import { RecordedResource, installMocks, settle } from "../../scripts/lib/mockRuntime";
import { controlPlaneProgram } from "../../stacks/program";

const caData = Buffer.from("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").toString("base64");
const EDGE = { name: "edge", server: "https://10.0.0.1:6443", caData };
const svc = { name: "payments-api", team: "payments", repoURL: "https://github.com/acme/payments-api.git", path: "deploy/chart", targetRevision: "v1.0.0" };
const kubeconfig = "apiVersion: v1\nkind: Config\nusers: [{name: admin, user: {token: edge-admin-secret-7f3a}}]\n";
const ungoverned =
    'is "edge", a cluster no program governs (no kubeconfig in `gitops-control:destinationKubeconfigs`, no `governedBy`; GitOpsService arg `governedClusters` does not list it): prod there would run without guardrails, Pod Security labels and namespace protections. Fix: supply its kubeconfig as a stack secret (`pulumi config set --secret --path \'gitops-control:destinationKubeconfigs.edge\' "$(cat kubeconfig)"`) so the platform installs them there, or set `governedBy` on its `gitops-control:destinations` entry when that cluster\'s own stack does (a team program: list it in `governedClusters`)';

/** Runs the platform program of a `stack` stack with these keys and secret maps under mocks. */
async function runStack(
    keys: Record<string, unknown>,
    secrets: Record<string, Record<string, string> | string> = {},
    stack = "prod",
): Promise<{ message: string; recorded: RecordedResource[]; outputs?: ReturnType<typeof controlPlaneProgram> }> {
    const recorded = installMocks(stack);
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries({ environment: stack, ...keys })) config[`gitops-control:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    for (const [key, value] of Object.entries(secrets)) config[`gitops-control:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    pulumi.runtime.setAllConfig(
        config,
        Object.keys(secrets).map((k) => `gitops-control:${k}`),
    );
    let message = "";
    let outputs: ReturnType<typeof controlPlaneProgram> | undefined;
    try {
        outputs = controlPlaneProgram();
    } catch (e) {
        message = (e as Error).message;
    }
    await settle(recorded);
    return { message, recorded, ...(outputs ? { outputs } : {}) };
}

/** Creates a team program's GitOpsService; returns its error message ("" when accepted) and what registered. */
async function runTeam(args: Record<string, unknown>): Promise<{ message: string; recorded: RecordedResource[] }> {
    const recorded = installMocks("dev", { project: "team-governed" });
    const { GitOpsService } = await import("../../components/index.js");
    let message = "";
    try {
        new GitOpsService(svc.name, { ...args } as never);
    } catch (e) {
        message = (e as Error).message;
    }
    await settle(recorded);
    return { message, recorded };
}

const problemLines = (message: string): string[] => message.split("\n").filter((l) => l.startsWith("- "));
const { name: _name, ...teamSvc } = svc;

describe("prod only on governed clusters: both routes refuse an ungoverned destination before any resource (issue 17, item 8)", () => {
    before(() => installMocks("unit"));

    it("stack route: a prod service on a destination with only a token is refused, naming the key, the service and the fix", async () => {
        for (const [keys, key] of [
            [{ services: [{ ...svc, cluster: "edge" }] }, "services[0].cluster"],
            [{ services: [{ ...svc, environments: [{ name: "prod", cluster: "edge" }] }] }, "services[0].environments[0].cluster"],
            [{ services: [svc], defaultCluster: "edge" }, "defaultCluster"],
        ] as const) {
            const r = await runStack({ ...keys, destinations: [EDGE] }, { destinationTokens: { edge: "edge-token" } });
            assert.equal(r.recorded.length, 0, "nothing registered");
            const arg = key === "defaultCluster" ? "cluster" : key.replace("services[0].", "");
            assert.deepEqual(problemLines(r.message), [`- \`gitops-control:${key}\` (service "payments-api", GitOpsService arg \`${arg}\`) ${ungoverned}`], r.message);
        }
    });

    it("team route: the same words for GitOpsService's `cluster`, per service and per environment; a prod server URL other than in-cluster is refused too", async () => {
        const service = await runTeam({ ...teamSvc, environments: ["prod"], cluster: "edge" });
        assert.equal(service.recorded.length, 0);
        assert.deepEqual(problemLines(service.message), [`- \`args.cluster\` ${ungoverned}`]);
        const env = await runTeam({ ...teamSvc, environments: [{ name: "prod", cluster: { name: "edge" } }] });
        assert.deepEqual(problemLines(env.message), [`- \`args.environments[0].cluster\` ${ungoverned}`]);
        const server = await runTeam({ ...teamSvc, environments: ["prod"], cluster: { server: "https://10.0.0.1:6443" } });
        assert.match(server.message, /`args\.cluster` is the server "https:\/\/10\.0\.0\.1:6443": prod may deploy only to the cluster Argo CD runs in or to a governed cluster/);
        // Listed as governed (the platform stack holds its kubeconfig): accepted.
        const listed = await runTeam({ ...teamSvc, environments: ["prod"], cluster: "edge", governedClusters: ["edge"] });
        assert.equal(listed.message, "");
        assert.ok(listed.recorded.some((r) => r.type === "kubernetes:argoproj.io/v1alpha1:Application"));
    });

    it("staging may use an ungoverned cluster; prod may use in-cluster and a cluster another stack governs (`governedBy`)", async () => {
        const staging = await runStack(
            { services: [{ ...svc, targetRevision: "main", environments: ["staging"], cluster: "edge" }], destinations: [EDGE] },
            { destinationTokens: { edge: "t" } },
            "staging",
        );
        assert.equal(staging.message, "");
        const inCluster = await runStack({ services: [{ ...svc, cluster: "in-cluster" }], destinations: [EDGE] }, { destinationTokens: { edge: "t" } });
        assert.equal(inCluster.message, "");
        const elsewhere = await runStack({ services: [{ ...svc, cluster: "edge" }], destinations: [{ ...EDGE, governedBy: "edge-prod" }] }, { destinationTokens: { edge: "t" } });
        assert.equal(elsewhere.message, "");
        assert.equal(elsewhere.recorded.filter((r) => r.type === "gitops-control:cluster:GovernedCluster").length, 0, "governed by its own stack: nothing installed from here");
    });

    it("a destination's credentials: a kubeconfig or a token, not both, not neither; a kubeconfig with governedBy or for no declared destination is refused", async () => {
        const cases: [Record<string, unknown>, Record<string, Record<string, string>>, string][] = [
            [
                { destinations: [EDGE] },
                {},
                '`gitops-control:destinationTokens.edge` is not set, so Argo CD cannot authenticate to cluster "edge". Fix: run `pulumi config set --secret --path \'gitops-control:destinationKubeconfigs.edge\' "$(cat kubeconfig)"`',
            ],
            [
                { destinations: [EDGE] },
                { destinationTokens: { edge: "t" }, destinationKubeconfigs: { edge: kubeconfig } },
                "`gitops-control:destinationTokens.edge` is set together with `gitops-control:destinationKubeconfigs.edge`",
            ],
            [
                { destinations: [{ ...EDGE, governedBy: "edge-prod" }] },
                { destinationKubeconfigs: { edge: kubeconfig } },
                '`gitops-control:destinations[0].governedBy` is "edge-prod", but this stack has the cluster\'s kubeconfig and governs it itself',
            ],
            [
                { destinations: [EDGE] },
                { destinationKubeconfigs: { edge: kubeconfig, egde: kubeconfig } },
                '`gitops-control:destinationKubeconfigs.egde` names "egde", which no `gitops-control:destinations` entry declares',
            ],
        ];
        for (const [keys, secrets, expected] of cases) {
            const r = await runStack({ services: [svc], ...keys }, secrets);
            assert.equal(r.recorded.length, 0);
            assert.ok(r.message.includes(expected), `expected «${expected}» in:\n${r.message}`);
            assert.match(r.message, /Fix: /);
        }
    });

    it("previews on a governed cluster are refused (Argo CD's account there creates no namespace)", async () => {
        const r = await runStack(
            { services: [{ ...svc, targetRevision: "main", environments: ["staging"], cluster: "edge", previews: {} }], destinations: [EDGE] },
            { destinationKubeconfigs: { edge: kubeconfig }, githubToken: "ghp_test" },
            "staging",
        );
        assert.equal(r.recorded.length, 0);
        assert.ok(r.message.includes('`gitops-control:services[0].previews` (service "payments-api") would deploy previews to "edge", a cluster this program governs'), r.message);
    });

    it("a kubeconfig stored in plain text is refused like every secret map", async () => {
        const recorded = installMocks("prod");
        pulumi.runtime.setAllConfig({ "gitops-control:environment": "prod", "gitops-control:destinationKubeconfigs": JSON.stringify({ edge: kubeconfig }) }, []);
        assert.throws(() => controlPlaneProgram(), /`gitops-control:destinationKubeconfigs` is stored in plain text/);
        await settle(recorded);
        assert.equal(recorded.length, 0);
    });
});

describe("a governed cluster gets the hub's guardrails, labelled namespaces and Argo CD's least-privilege token (issue 17, item 8)", () => {
    let recorded: RecordedResource[];
    before(async () => {
        const r = await runStack(
            {
                services: [
                    { ...svc, cluster: "edge" },
                    { ...svc, name: "ledger", team: "finance", repoURL: "https://github.com/acme/ledger.git" },
                ],
                destinations: [EDGE],
            },
            { destinationKubeconfigs: { edge: kubeconfig } },
        );
        assert.equal(r.message, "");
        recorded = r.recorded;
    });
    const on = (provider: string) => (r: RecordedResource) => (r.provider ?? "").includes(`::${provider}::`);
    const spoke = on("gitops-governed-edge-provider");
    const spokeGuardrails = on("gitops-governed-edge-guardrails-provider");

    it("providers from the kubeconfig, as a Pulumi secret (never in plain text in state)", () => {
        const providers = recorded.filter((r) => r.type === "pulumi:providers:kubernetes" && r.name.startsWith("gitops-governed-edge"));
        assert.deepEqual(providers.map((p) => p.name).sort(), ["gitops-governed-edge-guardrails-provider", "gitops-governed-edge-provider"]);
        for (const p of providers) {
            assert.equal(p.inputs.kubeconfig, kubeconfig);
            assert.ok(p.secretPaths.includes("kubeconfig"), `${p.name}: ${p.secretPaths.join(", ")}`);
        }
    });

    it("the same policies and bindings as the hub, through the spoke's provider", () => {
        const names = (pred: (r: RecordedResource) => boolean, type: string) =>
            recorded
                .filter((r) => r.type === `kubernetes:admissionregistration.k8s.io/v1:${type}` && pred(r))
                .map((r) => JSON.stringify({ metadata: r.inputs.metadata, spec: r.inputs.spec }))
                .sort();
        // The hub's AdmissionGuardrails (the OwnershipFence, also on the hub's guardrails provider, is hub-only).
        const hub = (r: RecordedResource) => on("kubernetes-guardrails")(r) && r.name.startsWith("gitops-guardrails-");
        for (const type of ["ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]) {
            const spokeObjects = names(spokeGuardrails, type);
            assert.ok(spokeObjects.length > 10, `${type}: ${spokeObjects.length}`);
            assert.deepEqual(spokeObjects, names(hub, type), type);
        }
    });

    it("only the namespaces deployed there, with environment, team, service and Pod Security labels, kept on destroy", () => {
        const namespaces = recorded.filter((r) => r.type === "kubernetes:core/v1:Namespace" && spoke(r));
        assert.deepEqual(namespaces.map((n) => n.inputs.metadata.name).sort(), ["argocd", "payments-api-prod"]);
        const prod = namespaces.find((n) => n.inputs.metadata.name === "payments-api-prod")!.inputs.metadata.labels;
        assert.equal(prod["gitops-control.io/environment"], "prod");
        assert.equal(prod["gitops-control.io/team"], "payments");
        assert.equal(prod["gitops-control.io/service"], "payments-api");
        assert.equal(prod["pod-security.kubernetes.io/enforce"], "restricted");
        assert.equal(namespaces.find((n) => n.inputs.metadata.name === "argocd")!.inputs.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
    });

    it("Argo CD's ServiceAccount reads and writes only in its service namespaces (no cluster-wide Secret read), updates only their metadata, and cannot bind or escalate", () => {
        const sa = recorded.find((r) => r.type === "kubernetes:core/v1:ServiceAccount" && spoke(r))!;
        assert.deepEqual([sa.inputs.metadata.namespace, sa.inputs.metadata.name], ["argocd", "argocd-application-controller"]);
        const clusterRole = recorded.find((r) => r.type === "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole" && spoke(r))!;
        assert.deepEqual(clusterRole.inputs.rules, [
            { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "list", "watch"] },
            { apiGroups: [""], resources: ["namespaces"], resourceNames: ["payments-api-prod"], verbs: ["get", "update", "patch"] },
        ]);
        // The hub's cluster Secret scopes Argo CD's cache to those namespaces (cluster-scoped kinds: the namespaces' metadata),
        // and argocd-cm lets kinds its account may not list drop out of the cache.
        const cluster = recorded.find((r) => r.type === "kubernetes:core/v1:Secret" && r.name === "gitops-cluster-edge-cluster")!;
        assert.equal(cluster.inputs.stringData.namespaces, "payments-api-prod");
        assert.equal(cluster.inputs.stringData.clusterResources, "true");
        const chart = recorded.find((r) => r.type === "kubernetes:helm.sh/v4:Chart")!;
        assert.equal(chart.inputs.values.configs.cm["resource.respectRBAC"], "normal");
        const roles = recorded.filter((r) => r.type === "kubernetes:rbac.authorization.k8s.io/v1:Role" && spoke(r));
        assert.deepEqual(
            roles.map((r) => r.inputs.metadata.namespace),
            ["payments-api-prod"],
        );
        const verbs: string[] = roles[0].inputs.rules[0].verbs;
        for (const v of ["*", "bind", "escalate", "impersonate"]) assert.ok(!verbs.includes(v), v);
        const bindings = recorded.filter((r) => /RoleBinding$/.test(r.type) && spoke(r));
        assert.equal(bindings.length, 2);
        for (const b of bindings) assert.deepEqual(b.inputs.subjects, [{ kind: "ServiceAccount", name: "argocd-application-controller", namespace: "argocd" }]);
    });

    it("the token Secret's token goes into the hub's cluster Secret, secret end to end", () => {
        const token = recorded.find((r) => r.type === "kubernetes:core/v1:Secret" && spoke(r))!;
        assert.equal(token.inputs.type, "kubernetes.io/service-account-token");
        assert.equal(token.inputs.metadata.annotations["kubernetes.io/service-account.name"], "argocd-application-controller");
        const cluster = recorded.find((r) => r.type === "kubernetes:core/v1:Secret" && r.name === "gitops-cluster-edge-cluster")!;
        assert.ok(!spoke(cluster), "the cluster Secret lives on the hub");
        assert.ok(
            cluster.secretPaths.some((p) => p === "stringData" || p === "stringData.config"),
            cluster.secretPaths.join(", "),
        );
        assert.equal(JSON.parse(cluster.inputs.stringData.config).bearerToken, `mock-token-${token.name}`);
    });
});
