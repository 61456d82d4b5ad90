import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GuardrailBinding, guardrailManifests } from "../../components/guardrails/AdmissionGuardrails";
import { BreakGlassExpiry, breakGlassExpiryServiceAccount, breakGlassUntilValue } from "../../components/breakglass/BreakGlassExpiry";
import { defaultRules } from "../../components/guardrails/rules";
import { annotations, labels } from "../../components/core/labels";
import { PodContainer, podContainer, renderComponent, runContainer, serviceAccountKubectl } from "./inContainer";
import { LocalCluster, applyList, compliantPodSpec, eventually, kubectl, kubectlOk, startClusterWithArgoCdCrds, step } from "./support";

/**
 * Break-glass ends in the cluster at its expiry, without a `pulumi up`: the BreakGlassExpiry
 * CronJob's container, run as its pod would (tests/integration/inContainer.ts: the rendered command
 * and environment, the service account's real token through the in-cluster configuration, uid 65532
 * on a read-only root; no kubelet here, so the process runs on the host), against a real API server
 * holding what the component renders (service account, RBAC, fences, CronJob, and the break-glass
 * label on shop-prod, applied server-side as the program) and the guardrails as a stack with an
 * active break-glass entry binds them: the prod bindings of the rules break-glass may lift skip
 * namespaces carrying the label, a `[Warn, Audit]` binding selects them, shop-prod's Application is
 * paused under the ticket. Expiry is 60 s away (policies load first). The carve-out's side doors are
 * tried as an engineer outside the break-glass group (alice), as a member (oncall) and with the
 * job's own token.
 */

const alice = "alice@example.com";
const oncall = ["--as", "oncall@example.com", "--as-group", "gitops-control:break-glass"];
const ticket = "INC-4711";
const rules = defaultRules();

describe("break-glass expires in the cluster (real API server, the expiry job's identity)", { timeout: 5 * 60 * 1000 }, () => {
    let cluster: LocalCluster | undefined;
    let expires = "";
    const k = (args: readonly string[], input?: string) => kubectl(cluster!, args, input);
    const ok = (args: readonly string[], input?: string) => kubectlOk(cluster!, args, input);
    let cronJob: PodContainer;
    /** kubectl with the expiry job's real token, for probes of its fence. */
    let asJob: ReturnType<typeof serviceAccountKubectl>;
    const runExpiry = async () => {
        const r = await runContainer(cluster!, cronJob);
        // kubectl in the pod (read-only HOME, no cache) must not complain either.
        assert.equal(r.stderr, "");
        return r;
    };
    const deployment = (name: string) => ({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace: "shop-prod", labels: { "app.kubernetes.io/name": name, [labels.team]: "shop" } },
        spec: {
            replicas: 1,
            selector: { matchLabels: { "app.kubernetes.io/name": name } },
            template: {
                metadata: { labels: { "app.kubernetes.io/name": name, [labels.team]: "shop" } },
                spec: compliantPodSpec(),
            },
        },
    });
    /** A live hotfix in shop-prod by `as` (default alice, outside the break-glass group). */
    const hotfix = (name: string, as: readonly string[] = ["--as", alice]) => k(["create", ...as, "-f", "-"], JSON.stringify(deployment(name)));
    /** A break-glass member's hotfix without resources: require-resources warns under break-glass and denies otherwise. */
    const unsizedHotfix = (name: string) => {
        const d = deployment(name);
        const spec = d.spec.template.spec as { containers: { resources?: unknown }[] };
        spec.containers.forEach((c) => delete c.resources);
        return k(["create", ...oncall, "-f", "-"], JSON.stringify(d));
    };
    /** Relabels shop-prod's Pod Security to privileged (a weaker environment) as `as`, server-side. */
    const relabel = (as: readonly string[]) => k(["label", "namespace", "shop-prod", "--overwrite", "pod-security.kubernetes.io/enforce=privileged", ...as]);
    const liveNamespace = (name: string) =>
        JSON.parse(ok(["get", "namespace", name, "-o", "json"])) as { metadata: { labels: Record<string, string>; annotations?: Record<string, string> } };
    /** Sets the break-glass label of a namespace as `as` (server-side). */
    const setUntil = (namespace: string, value: string, as: readonly string[], dryRun = false) =>
        k(["label", "namespace", namespace, "--overwrite", `${labels.breakGlassUntil}=${value}`, ...(dryRun ? ["--dry-run=server"] : []), ...as]);
    const jobForbiddenOnBindings = /forbidden: User "system:serviceaccount:argocd:break-glass-expiry" cannot \w+ resource "validatingadmissionpolicybindings"/;
    /** A merge patch of the shop-prod Application as the expiry job. */
    const patchAppAsJob = (patch: object, dryRun = false) =>
        asJob(["patch", "applications.argoproj.io", "shop-prod", "-n", "argocd", ...(dryRun ? ["--dry-run=server"] : []), "--type", "merge", "-p", JSON.stringify(patch)]);
    const application = () =>
        JSON.parse(ok(["get", "applications.argoproj.io", "shop-prod", "-n", "argocd", "-o", "json"])) as {
            metadata: { annotations?: Record<string, string> };
            spec: { syncPolicy: { automated: { enabled?: boolean } }; source?: { targetRevision?: string } };
        };

    before(async () => {
        process.env.LOCAL_CLUSTER_NO_CONTROLLER_MANAGER = "1";
        // Argo CD's CRDs at the version the program installs (v3.6.1).
        cluster = startClusterWithArgoCdCrds();
        expires = new Date(Date.now() + 60_000).toISOString().replace(/\.\d+Z$/, "Z");
        const glass = {
            [annotations.breakGlassTicket]: ticket,
            [annotations.breakGlassExpires]: expires,
            [annotations.breakGlassReason]: "INC-4711: checkout hotfix applied live",
        };
        // As buildArgs binds a stack with one active entry for shop: the content rules' prod binding skips labelled namespaces, a Warn binding selects them.
        const bindings: GuardrailBinding[] = [
            { environment: "prod", validationActions: ["Deny", "Audit"], breakGlass: "exclude" },
            { environment: "prod", validationActions: ["Warn", "Audit"], breakGlass: "only" },
        ];
        step(`guardrails with shop-prod under break-glass until ${expires}; everything BreakGlassExpiry renders (service account, RBAC, fences, CronJob, the label)`);
        const namespace = (name: string, l: Record<string, string> = {}) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name, labels: l } });
        const rendered = await renderComponent(
            () => new BreakGlassExpiry("expiry", { namespace: "argocd", breakGlassNamespaces: [{ name: "shop-prod", expires, annotations: glass }] }),
        );
        // The component's NamespacePatch: the program's server-side apply of the label (and audit annotations) on the existing namespace.
        const patches = rendered.filter((m) => m.kind === "Namespace");
        assert.equal(patches.length, 1);
        applyList(cluster!, [
            namespace("argocd"),
            namespace("shop-prod", { [labels.environment]: "prod", "pod-security.kubernetes.io/enforce": "restricted" }),
            namespace("pay-prod", { [labels.environment]: "prod" }),
            ...guardrailManifests(rules, bindings),
            ...rendered.filter((m) => !patches.includes(m)),
            {
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRole",
                metadata: { name: "hotfixer" },
                rules: [
                    { apiGroups: ["apps"], resources: ["deployments"], verbs: ["create", "get"] },
                    // RBAC lets both relabel namespaces: only admission stands between them and a weaker environment.
                    { apiGroups: [""], resources: ["namespaces"], verbs: ["get", "patch", "update"] },
                    { apiGroups: ["argoproj.io"], resources: ["applications"], verbs: ["get", "patch", "update"] },
                ],
            },
            {
                apiVersion: "rbac.authorization.k8s.io/v1",
                kind: "ClusterRoleBinding",
                metadata: { name: "hotfixer" },
                roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "hotfixer" },
                subjects: [
                    { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: alice },
                    { kind: "User", apiGroup: "rbac.authorization.k8s.io", name: oncall[1] },
                ],
            },
        ]);
        // As the program (an admin: group system:masters), once protect-break-glass-label is in force.
        await eventually("protect-break-glass-label to refuse alice's label", 60, () =>
            /protect-break-glass-label/.test(setUntil("pay-prod", breakGlassUntilValue(expires), ["--as", alice], true).stderr),
        );
        applyList(cluster!, patches, ["--server-side", "--field-manager=pulumi-kubernetes"]);
        assert.equal(liveNamespace("shop-prod").metadata.labels[labels.breakGlassUntil], breakGlassUntilValue(expires));
        cronJob = podContainer(cluster, "cronjob", breakGlassExpiryServiceAccount, "argocd");
        asJob = serviceAccountKubectl(cluster, "argocd", cronJob.serviceAccountName);
        // Each admission policy loads on its own: wait for the writer rule in prod and for the Application rules.
        await eventually("restrict-workload-writers to deny in pay-prod", 60, () =>
            /restrict-workload-writers/.test(
                k(
                    ["create", "--as", alice, "-n", "pay-prod", "-f", "-"],
                    JSON.stringify({ ...deployment("probe"), metadata: { ...deployment("probe").metadata, namespace: "pay-prod" } }),
                ).stderr,
            ),
        );
        const app = (enabled: boolean, extra: Record<string, string>) => ({
            apiVersion: "argoproj.io/v1alpha1",
            kind: "Application",
            metadata: { name: "shop-prod", namespace: "argocd", labels: { [labels.environment]: "prod", [labels.service]: "shop" }, annotations: extra },
            spec: {
                project: "shop",
                source: { repoURL: "https://github.com/acme/shop.git", path: ".", targetRevision: "v1.0.0" },
                destination: { server: "https://kubernetes.default.svc", namespace: "shop-prod" },
                syncPolicy: { automated: { enabled, prune: true, selfHeal: true } },
            },
        });
        await eventually("protect-sync-policy to refuse a pause without a ticket", 60, () =>
            /protect-sync-policy/.test(k(["apply", "-f", "-"], JSON.stringify(app(false, {}))).stderr),
        );
        ok(["apply", "-f", "-"], JSON.stringify(app(false, glass)));
        await eventually(
            "the expiry job's fences to load",
            60,
            () =>
                /break-glass expiry job may only/.test(patchAppAsJob({ spec: { syncPolicy: { automated: { enabled: false } } } }, true).stderr) &&
                /the break-glass expiry job may only remove/.test(asJob(["label", "namespace", "shop-prod", "example.com/probe=1", "--dry-run=server"]).stderr),
        );
    });

    after(() => cluster?.stop());

    it("the CronJob's container is what the component renders: /bin/sh -c <script>, read-only root, its own service account", () => {
        assert.deepEqual(cronJob.command.slice(0, 2), ["/bin/sh", "-c"]);
        assert.equal(cronJob.serviceAccountName, breakGlassExpiryServiceAccount);
        assert.equal(cronJob.readOnlyRootFilesystem, true);
        assert.equal(cronJob.runAsUser, 65532);
        assert.deepEqual(cronJob.env, { NAMESPACE: "argocd" });
    });

    it("before the expiry the job changes nothing: a break-glass member's hotfix is admitted, a rule the carve-out lifts only warns", async () => {
        const r = await runExpiry();
        assert.equal(r.status, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /expired/);
        const during = hotfix("hotfix-during", oncall);
        assert.equal(during.code, 0, during.stderr);
        const unsized = unsizedHotfix("hotfix-unsized");
        assert.equal(unsized.code, 0, unsized.stderr);
        assert.match(unsized.stderr, /Warning: .*require-resources/);
        assert.equal(application().spec.syncPolicy.automated.enabled, false);
        const ns = liveNamespace("shop-prod").metadata;
        assert.equal(ns.labels[labels.breakGlassUntil], breakGlassUntilValue(expires));
        assert.equal(ns.annotations?.[annotations.breakGlassTicket], ticket);
    });

    it("the carve-out lifts nothing for engineers outside the break-glass group: alice's hotfix is denied by the prod binding", () => {
        const h = hotfix("hotfix-alice");
        assert.notEqual(h.code, 0);
        assert.match(h.stderr, /ValidatingAdmissionPolicy 'gitops-control-restrict-workload-writers' with binding 'gitops-control-restrict-workload-writers-prod' denied request/);
        assert.match(ok(["get", "validatingadmissionpolicybindings", "-o", "name"]), /gitops-control-require-resources-prod-break-glass/);
        assert.doesNotMatch(ok(["get", "validatingadmissionpolicybindings", "-o", "name"]), /gitops-control-restrict-workload-writers-prod-break-glass/);
    });

    it("the carve-out never lifts namespace-label protection: relabelling shop-prod privileged is denied by the prod binding, for alice and for break-glass", () => {
        for (const as of [["--as", alice], oncall]) {
            const r = relabel(as);
            assert.notEqual(r.code, 0, `${as.join(" ")}: ${r.stdout}`);
            assert.match(
                r.stderr,
                /ValidatingAdmissionPolicy 'gitops-control-protect-namespace-labels' with binding 'gitops-control-protect-namespace-labels-prod' denied request/,
            );
        }
        const live = JSON.parse(ok(["get", "namespace", "shop-prod", "-o", "json"])) as { metadata: { labels: Record<string, string> } };
        assert.equal(live.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
    });

    it("the carve-out is opened and moved only by the program: alice and break-glass may not label a namespace nor move shop-prod's expiry", () => {
        const later = breakGlassUntilValue("2099-01-01T00:00:00Z");
        for (const as of [["--as", alice], oncall]) {
            for (const [ns, value] of [
                ["pay-prod", breakGlassUntilValue(expires)],
                ["shop-prod", later],
            ]) {
                const r = setUntil(ns, value, as);
                assert.notEqual(r.code, 0, `${as.join(" ")} ${ns}: ${r.stdout}`);
                assert.match(
                    r.stderr,
                    new RegExp(
                        `ValidatingAdmissionPolicy 'gitops-control-protect-break-glass-label' with binding 'gitops-control-protect-break-glass-label-prod' denied request: ${as[1].replace(/[.]/g, "\\.")} may not set gitops-control\\.io/break-glass-until on namespace ${ns}: .*only the program`,
                    ),
                );
            }
        }
        assert.equal(liveNamespace("pay-prod").metadata.labels[labels.breakGlassUntil], undefined);
        assert.equal(liveNamespace("shop-prod").metadata.labels[labels.breakGlassUntil], breakGlassUntilValue(expires));
        const program = setUntil("shop-prod", later, [], true);
        assert.equal(program.code, 0, program.stderr);
    });

    it("the job's token: it may only remove the label and audit annotations of its namespaces; no other label, no other namespace, no binding, no Application change but automated sync back on", () => {
        // Add, move or change anything else on its namespace: its fence (or protect-break-glass-label) refuses.
        for (const [label, fence] of [
            [
                `${labels.breakGlassUntil}=${breakGlassUntilValue("2099-01-01T00:00:00Z")}`,
                /the break-glass expiry job may only remove|may not set gitops-control\.io\/break-glass-until/,
            ],
            [
                "example.com/owner=mallory",
                /the break-glass expiry job may only remove gitops-control\.io\/break-glass-until \(and the break-glass annotations\) from namespace shop-prod, nothing else/,
            ],
            [`${labels.environment}-`, /the break-glass expiry job may only remove|protect-namespace-labels/],
        ] as const) {
            const r = asJob(["label", "namespace", "shop-prod", "--overwrite", label]);
            assert.notEqual(r.code, 0, label);
            assert.match(r.stderr, fence, label);
        }
        const annotate = asJob(["annotate", "namespace", "shop-prod", "--overwrite", `${annotations.breakGlassExpires}=2099-01-01T00:00:00Z`]);
        assert.match(annotate.stderr, /the break-glass expiry job may only remove/);
        // Another namespace, even to remove a label: RBAC names only the break-glass namespaces.
        ok(["label", "namespace", "pay-prod", "example.com/x=1"]);
        assert.match(
            asJob(["label", "namespace", "pay-prod", "example.com/x-"]).stderr,
            /forbidden: User "system:serviceaccount:argocd:break-glass-expiry" cannot patch resource "namespaces"/,
        );
        // No binding at all: not the content rules', not the rules the carve-out keeps, not its own fences'.
        for (const binding of [
            "gitops-control-require-resources-prod",
            "gitops-control-disallow-latest-image-prod",
            "gitops-control-restrict-workload-writers-prod",
            "gitops-control-protect-break-glass-label-prod",
            "gitops-control-break-glass-expiry-scope",
        ]) {
            const weaken = asJob(["patch", "validatingadmissionpolicybinding", binding, "--type", "merge", "-p", '{"spec":{"validationActions":["Audit"]}}']);
            assert.match(weaken.stderr, jobForbiddenOnBindings, binding);
            assert.match(asJob(["delete", "validatingadmissionpolicybinding", binding]).stderr, jobForbiddenOnBindings, binding);
        }
        assert.match(asJob(["get", "validatingadmissionpolicybindings"]).stderr, jobForbiddenOnBindings);
        const source = patchAppAsJob({ spec: { source: { targetRevision: "v1.0.1" } } });
        assert.notEqual(source.code, 0);
        // Its own fence, or protect-application-inputs, which refuses every source change but the program's (issue 17).
        assert.match(
            source.stderr,
            /the break-glass expiry job may only turn automated sync back on|may not change the project, source|break-glass-expiry may not change source of the prod Application shop-prod/,
        );
        assert.notEqual(application().spec.source?.targetRevision, "v1.0.1");
        const live = liveNamespace("shop-prod").metadata;
        assert.equal(live.labels[labels.breakGlassUntil], breakGlassUntilValue(expires));
        assert.equal(live.labels[labels.environment], "prod");
        assert.equal(live.labels["example.com/owner"], undefined);
    });

    it("the expiry annotation moves only through the program: moving it to 2099 is denied for alice and for break-glass, admitted for the program", () => {
        const move = (as: readonly string[], dryRun = false) =>
            k([
                "annotate",
                "applications.argoproj.io",
                "shop-prod",
                "-n",
                "argocd",
                "--overwrite",
                `${annotations.breakGlassExpires}=2099-01-01T00:00:00Z`,
                ...(dryRun ? ["--dry-run=server"] : []),
                ...as,
            ]);
        for (const as of [["--as", alice], oncall]) {
            const r = move(as);
            assert.notEqual(r.code, 0, `${as.join(" ")}: ${r.stdout}`);
            assert.match(
                r.stderr,
                /may not move the expiry of the prod Application shop-prod \(annotation gitops-control\.io\/break-glass-expires to 2099-01-01T00:00:00Z\): only the program/,
            );
        }
        // The job's own token: its fence refuses anything but turning sync back on.
        const job = patchAppAsJob({ metadata: { annotations: { [annotations.breakGlassExpires]: "2099-01-01T00:00:00Z" } } });
        assert.notEqual(job.code, 0);
        assert.equal(application().metadata.annotations?.[annotations.breakGlassExpires], expires);
        const program = move([], true);
        assert.equal(program.code, 0, program.stderr);
    });

    it("at the expiry the job removes the label, which restores Deny in the namespace, and automated sync, without pulumi up or any binding change", async () => {
        const wait = Date.parse(expires) - Date.now() + 1500;
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const r = await runExpiry();
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stdout, /break-glass expired: namespace shop-prod governed again \(label removed, expired at /);
        assert.match(r.stdout, /automated sync of Application shop-prod back on/);
        const ns = liveNamespace("shop-prod").metadata;
        assert.equal(ns.labels[labels.breakGlassUntil], undefined);
        assert.equal(ns.annotations?.[annotations.breakGlassTicket], undefined);
        // Everything else on the namespace is as it was.
        assert.equal(ns.labels[labels.environment], "prod");
        assert.equal(ns.labels["pod-security.kubernetes.io/enforce"], "restricted");
        const app = application();
        assert.equal(app.spec.syncPolicy.automated.enabled, true);
        assert.equal(app.metadata.annotations?.[annotations.breakGlassTicket], undefined);
        // Bindings reload asynchronously: the next hotfix is denied once the restored binding is in force.
        let n = 0;
        let last = "";
        await eventually("an unsized hotfix in shop-prod to be denied again", 60, () => {
            const h = unsizedHotfix(`hotfix-after-${++n}`);
            last = h.stderr;
            return (
                h.code !== 0 && /ValidatingAdmissionPolicy 'gitops-control-require-resources' with binding 'gitops-control-require-resources-prod' denied request/.test(h.stderr)
            );
        }).catch((e: Error) => {
            throw new Error(`${e.message}; last answer: ${last}`);
        });
        const again = await runExpiry();
        assert.equal(again.status, 0, again.stderr);
        assert.doesNotMatch(again.stdout, /expired/, "a second run finds nothing left to do");
    });
});
