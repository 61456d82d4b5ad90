import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, it } from "node:test";
import { renderPreviewAlertRules } from "../../components/argocd/ArgoCdAlerts";
import { previewGateAnnotations, previewGateScript } from "../../components/previews/PreviewGate";
import { janitorScript, janitorServiceAccount } from "../../components/previews/PreviewJanitor";
import { Reconcilers, startReconcilers } from "../../scripts/cluster/reconcilers";
import { chartFiles } from "../support/charts";
import { GitHubDouble, PullRequest } from "../support/githubDouble";
import { GitServer } from "../support/gitServer";
import { LocalCluster, Measurements, kubectl, kubectlOk, localToken, openLocalStack, startCluster, step } from "./support";

/**
 * Pull-request previews end to end: Argo CD v3.6.1's ApplicationSet controller, application
 * controller and repo-server (out of cluster, as the chart's ServiceAccounts) against a stack
 * provisioned by `pulumi up`, listing pull requests from a GitHub double on loopback
 * (tests/support/githubDouble.ts: the network edge, since GitHub is unreachable here) whose head
 * SHAs are real commits in a local Git server. Convergence times are printed as `[measure]` lines.
 */

const argoNs = "argocd";
const owner = "acme";
const repo = "shop";
/** The generator's poll interval in this test (the lowest the product accepts). */
const requeueSeconds = 30;

let cluster: LocalCluster;
let git: GitServer;
let gh: GitHubDouble;
let reconcilers: Reconcilers | undefined;
let workDir: string;
let webhookSecret: string;
let stateDir: string;
const engineLog: string[] = [];
const times = new Measurements();
const measure = (what: string, since: number) => times.measure(what, since);

/** Polls `probe` until it is truthy; on timeout the error carries `explain()` (what the cluster says) and the reconcilers' logs. */
async function until<T>(what: string, seconds: number, probe: () => T | undefined | false, every = 500, explain?: () => string): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
        const last = probe();
        if (last) return last;
        await new Promise((r) => setTimeout(r, every));
    }
    throw new Error(`timed out after ${seconds}s waiting for ${what}${explain ? `\n${explain()}` : ""}${reconcilers ? `\n${reconcilers.tails(20)}` : ""}`);
}

/**
 * The preview gate, played by the test: the stack deploys it as a Deployment (components/previews/PreviewGate.ts),
 * which a cluster without kubelets never runs, so the test runs the same script in a loop (every
 * second instead of 5 s), as the same service account, through the real API server. `gateClockOffset`
 * moves its clock forward for the TTL scenario.
 */
const gate = { running: false, passes: 0, clockOffsetSeconds: 0, log: [] as string[], timer: undefined as NodeJS.Timeout | undefined };
const gateUser = `system:serviceaccount:${argoNs}:${janitorServiceAccount}`;

function gatePass(): Promise<void> {
    return new Promise((resolve) => {
        const now = Math.floor(Date.now() / 1000) + gate.clockOffsetSeconds;
        const child = spawn("sh", ["-c", previewGateScript()], {
            env: { ...process.env, KUBECTL: `kubectl --kubeconfig ${cluster.kubeconfig} --as ${gateUser}`, ARGOCD_NAMESPACE: argoNs, PREVIEW_GATE_NOW: String(now) },
        });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (out += d.toString()));
        child.on("close", (code) => {
            gate.passes++;
            for (const line of out.split("\n").filter(Boolean)) gate.log.push(`${new Date().toISOString()} ${line}`);
            if (code !== 0) gate.log.push(`${new Date().toISOString()} gate pass exited ${code}`);
            resolve();
        });
    });
}

function startGate(): void {
    gate.running = true;
    const loop = async () => {
        if (!gate.running) return;
        await gatePass();
        if (gate.running) gate.timer = setTimeout(() => void loop(), 1000);
    };
    void loop();
}

/** Events the gate recorded on Application `name`: reason and message. */
function gateEvents(name: string): { reason: string; message: string }[] {
    const r = kubectlOk(cluster, ["get", "events", "-n", argoNs, "--field-selector", `involvedObject.name=${name},involvedObject.kind=Application`, "-o", "json"]);
    return (JSON.parse(r) as { items: { reason: string; message: string; source?: { component?: string } }[] }).items
        .filter((e) => e.source?.component === "gitops-control-preview-gate")
        .map((e) => ({ reason: e.reason, message: e.message }));
}

interface App {
    metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string>; finalizers?: string[] };
    spec: {
        project: string;
        destination: { namespace?: string };
        source: { targetRevision?: string; helm?: { parameters?: { name: string; value: string }[] } };
        syncPolicy?: { automated?: { enabled?: boolean } };
    };
    status?: { sync?: { status?: string; revision?: string }; health?: { status?: string }; conditions?: { type: string; message: string }[] };
}

function app(name: string): App | undefined {
    const r = kubectl(cluster, ["get", "applications.argoproj.io", name, "-n", argoNs, "-o", "json"]);
    return r.code === 0 ? (JSON.parse(r.stdout) as App) : undefined;
}

async function appSetMetrics(): Promise<string> {
    assert.ok(reconcilers);
    return (await fetch(`http://127.0.0.1:${reconcilers.ports.applicationSetMetrics}/metrics`)).text();
}

/** `resource_update_status` of the preview ApplicationSet in `argocd_appset_info`. */
async function appSetUpdateStatus(): Promise<string | undefined> {
    return /argocd_appset_info\{[^}]*name="shop-previews"[^}]*resource_update_status="([^"]*)"/.exec(await appSetMetrics())?.[1];
}

/** Users whose DELETE of Application `name` the API server refused since `since` (its audit log). */
function refusedDeletes(name: string, since: string): string[] {
    const lines = fs
        .readFileSync(path.join(cluster.dir, "audit.log"), "utf8")
        .split("\n")
        .filter((l) => l.includes('"verb":"delete"') && l.includes(`"name":"${name}"`));
    return lines
        .map((l) => JSON.parse(l) as { stage: string; stageTimestamp: string; user: { username: string }; objectRef?: { resource?: string }; responseStatus?: { code?: number } })
        .filter((e) => e.stage === "ResponseComplete" && e.stageTimestamp >= since && e.objectRef?.resource === "applications" && e.responseStatus?.code === 403)
        .map((e) => e.user.username);
}

function previewApps(): string[] {
    return kubectlOk(cluster, ["get", "applications.argoproj.io", "-n", argoNs, "-l", "env=preview", "-o", "jsonpath={.items[*].metadata.name}"])
        .split(/\s+/)
        .filter(Boolean)
        .sort();
}

function namespaceExists(name: string): boolean {
    return kubectl(cluster, ["get", "namespace", name]).code === 0;
}

const syncedAt = (name: string, revision: string) => () => {
    const a = app(name);
    return a?.status?.sync?.status === "Synced" && a.status.health?.status === "Healthy" && a.status.sync.revision === revision && a;
};

/** What Argo CD and the API server say about a preview, for a timeout's message. */
function explainPreview(name: string): string {
    const r = kubectl(cluster, ["get", "applications.argoproj.io", name, "-n", argoNs, "-o", "json"]);
    if (r.code !== 0) return `Application ${name}: ${r.stderr.trim()}`;
    const s = (JSON.parse(r.stdout) as { status?: Record<string, unknown> }).status ?? {};
    const pick = (k: string) => JSON.stringify(s[k] ?? null);
    const events = kubectl(cluster, ["get", "events", "-n", name, "-o", 'jsonpath={range .items[*]}{.reason}: {.message}{"\\n"}{end}']).stdout.trim();
    const nsLabels = kubectl(cluster, ["get", "namespace", name, "-o", "jsonpath={.metadata.labels}"]).stdout.trim();
    return [
        `Application ${name}: sync ${pick("sync")}, health ${pick("health")}`,
        `operationState ${pick("operationState")}`,
        `conditions ${pick("conditions")}`,
        `resources ${pick("resources")}`,
        `namespace labels ${nsLabels || "(no namespace)"}`,
        `events in ${name}:\n${events || "(none)"}`,
    ].join("\n");
}

/** Waits until `name` is Synced and Healthy at `revision`; a timeout says why not. */
const untilSynced = (name: string, revision: string, seconds: number) =>
    until(`${name} Synced and Healthy at ${revision.slice(0, 8)}`, seconds, syncedAt(name, revision), 500, () => explainPreview(name));

/** Gone: the Application, and its namespace (not even Terminating). */
const gone = (name: string) => () => app(name) === undefined && !namespaceExists(name);

interface AppSet {
    status?: { conditions?: { type: string; status: string; message: string; reason?: string; lastTransitionTime?: string }[] };
}

function appSetConditions(): NonNullable<AppSet["status"]>["conditions"] {
    const r = kubectlOk(cluster, ["get", "applicationsets.argoproj.io", "shop-previews", "-n", argoNs, "-o", "json"]);
    return (JSON.parse(r) as AppSet).status?.conditions ?? [];
}

/** The ApplicationSet controller's log lines saying a webhook refreshed an ApplicationSet. */
function webhookRefreshes(): number {
    assert.ok(reconcilers);
    return fs
        .readFileSync(reconcilers.logOf("applicationset-controller"), "utf8")
        .split("\n")
        .filter((l) => /from webhook/.test(l)).length;
}

/** A PR branch: the chart with its own message and a ConfigMap showing the image tag Helm received. */
function pushBranch(branch: string, message: string): string {
    return git.commit(
        repo,
        {
            ...chartFiles({ service: "shop", team: "storefront", message }),
            "deploy/chart/templates/tag.yaml": '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shop-image"},"data":{"tag":"{{ .Values.image.tag }}"}}\n',
        },
        message,
        branch,
    );
}

function deliver(pr: PullRequest, action: Parameters<GitHubDouble["deliver"]>[4], label?: string, secret = webhookSecret) {
    assert.ok(reconcilers);
    return gh.deliver(reconcilers.webhookUrl, secret, repo, pr, action, label);
}

const shopService = () => ({
    name: "shop",
    team: "storefront",
    repoURL: git.url(repo),
    path: "deploy/chart",
    targetRevision: "main",
    environments: ["staging"],
    // The test's Git server is not GitHub, so the repository PRs are opened on is named, as the
    // config pipeline asks when it cannot derive it from repoURL.
    // At most 3 previews at once: scenarios a-i never run more; h goes past it.
    previews: { owner, repo, labels: ["preview"], requeueAfterSeconds: requeueSeconds, maxOpen: 3 },
});

describe("Pull-request previews (v3.6.1 ApplicationSet controller, GitHub double, real engine)", { timeout: 40 * 60 * 1000 }, () => {
    before(async () => {
        workDir = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-previews-"));
        stateDir = path.join(workDir, "state");
        fs.mkdirSync(stateDir);
        // The workload controllers report Deployment rollouts (status.observedGeneration, replicas),
        // which is what Argo CD's health check reads: without them every preview stays Progressing.
        cluster = startCluster({ LOCAL_CLUSTER_AUDIT_LOG: "1", LOCAL_CLUSTER_WORKLOAD_CONTROLLERS: "1" });
        git = await GitServer.start(path.join(workDir, "git"));
        git.createRepo(repo, chartFiles({ service: "shop", team: "storefront" }));
        gh = await GitHubDouble.start(owner, { pageSize: 2 });
        gh.addRepo(repo);
        const local = await openLocalStack(cluster, { configOverrides: { github: { owner, api: gh.apiUrl }, services: [shopService()] } }, stateDir);
        const t0 = Date.now();
        await local.stack.up({ onOutput: (out) => engineLog.push(out) });
        step(`pulumi up in ${Math.round((Date.now() - t0) / 1000)}s`);
        const outputs = await local.stack.outputs();
        const secret = outputs.previewWebhookSecret;
        assert.ok(secret?.secret && typeof secret.value === "string" && secret.value.length >= 32, "the stack exports the webhook secret, as a secret");
        webhookSecret = secret.value as string;
        // The webhook handler reads webhook.github.secret when it starts: after the first up.
        reconcilers = await startReconcilers({ dir: path.join(workDir, "reconcilers"), adminKubeconfig: cluster.kubeconfig, appResyncSeconds: 30 });
        startGate();
    });

    after(async () => {
        if (process.exitCode) {
            console.log(engineLog.join("").split("\n").slice(-40).join("\n"));
            if (reconcilers) console.log(reconcilers.tails(60));
            console.log(`preview gate (${gate.passes} passes):\n${gate.log.slice(-40).join("\n")}`);
        }
        gate.running = false;
        clearTimeout(gate.timer);
        step(times.summary());
        reconcilers?.stop();
        await gh?.stop();
        await git?.stop();
        cluster?.stop();
        fs.rmSync(workDir, { recursive: true, force: true });
    });

    it("a. a labelled PR gets shop-pr-<n> in the fixed project: labelled namespace, the PR's head commit with image.tag=pr-<n>, listed with the stack's scm-creds token", async () => {
        const sha = pushBranch("feature-a", "pr-1");
        const pr = gh.open(repo, { title: "Feature A", branch: "feature-a", headSha: sha, labels: ["preview"] });
        const t0 = Date.now();
        assert.equal((await deliver(pr, "opened")).status, 200);
        const synced = await untilSynced("shop-pr-1", sha, 240);
        measure("a: open (webhook) → Synced+Healthy", t0);

        assert.equal(synced.spec.project, "shop-previews", "the previews' own fixed project, not one from PR data");
        assert.equal(synced.spec.destination.namespace, "shop-pr-1");
        assert.equal(synced.spec.source.targetRevision, sha);
        assert.deepEqual(synced.spec.source.helm?.parameters?.find((p) => p.name === "image.tag")?.value, "pr-1");
        assert.equal(kubectlOk(cluster, ["get", "configmap", "shop-image", "-n", "shop-pr-1", "-o", "jsonpath={.data.tag}"]), "pr-1", "Helm rendered image.tag=pr-1");
        assert.equal(kubectlOk(cluster, ["get", "configmap", "shop-config", "-n", "shop-pr-1", "-o", "jsonpath={.data.message}"]), "pr-1", "the PR's head commit was deployed");
        const ns = JSON.parse(kubectlOk(cluster, ["get", "namespace", "shop-pr-1", "-o", "json"])) as { metadata: { labels: Record<string, string> } };
        assert.equal(ns.metadata.labels.env, "preview");
        assert.equal(ns.metadata.labels.pr, "1");
        assert.equal(ns.metadata.labels["gitops-control.io/environment"], "preview");
        assert.equal(ns.metadata.labels["gitops-control.io/service"], "shop");
        // The preview class's Pod Security floor (components/core/podSecurity.ts), applied by Argo CD with the other labels.
        assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "baseline");
        assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce-version"], "v1.36");
        assert.equal(ns.metadata.labels["pod-security.kubernetes.io/warn"], "restricted");

        const listed = gh.listRequests(repo);
        assert.ok(listed.length > 0, "the generator listed the pull requests");
        assert.deepEqual([...new Set(listed.map((r) => r.authorization))], [`Bearer ${localToken}`], "every listing carried the token of the stack's scm-creds Secret");
    });

    it("b. a PR without the label gets nothing; adding the label creates the preview; removing it removes it", async () => {
        const sha = pushBranch("feature-b", "pr-2");
        const pr = gh.open(repo, { title: "Feature B", branch: "feature-b", headSha: sha });
        const since = Date.now();
        await deliver(pr, "opened");
        // Past one full poll: the generator saw the PR and left it out.
        await until("a listing after the PR opened", requeueSeconds + 15, () => gh.listRequests(repo, since + 1000).length > 0);
        assert.equal(app("shop-pr-2"), undefined);
        assert.deepEqual(previewApps(), ["shop-pr-1"]);

        gh.label(repo, pr.number, "preview");
        const t0 = Date.now();
        await deliver(pr, "labeled", "preview");
        await untilSynced("shop-pr-2", sha, 180);
        measure("b: labelled (webhook) → Synced+Healthy", t0);

        gh.unlabel(repo, pr.number, "preview");
        const t1 = Date.now();
        await deliver(pr, "unlabeled", "preview");
        await until("shop-pr-2 and its namespace gone", 180, gone("shop-pr-2"));
        measure("b: unlabelled (webhook) → Application and namespace gone", t1);
        assert.deepEqual(previewApps(), ["shop-pr-1"]);
    });

    it("c. a signed webhook makes a preview appear well before the poll; a wrongly signed one changes nothing", async () => {
        const sha = pushBranch("feature-c", "pr-3");
        // Right after a poll, so the next one is a full interval away.
        const polled = gh.listRequests(repo).length;
        await until("a poll", requeueSeconds + 15, () => gh.listRequests(repo).length > polled);
        const pr = gh.open(repo, { title: "Feature C", branch: "feature-c", headSha: sha, labels: ["preview"] });
        const refreshes = webhookRefreshes();
        const forged = await deliver(pr, "opened", undefined, "not-the-secret");
        assert.equal(forged.status, 400, forged.body);
        assert.match(forged.body, /HMAC verification failed/i);
        // The handler verifies the signature before it touches anything, and answers after: by the
        // 400, a refresh it would have made is already logged.
        assert.equal(webhookRefreshes(), refreshes, "a wrongly signed event refreshed no ApplicationSet");

        const t0 = Date.now();
        assert.equal((await deliver(pr, "opened")).status, 200);
        await until("shop-pr-3 created", 60, () => app("shop-pr-3"));
        const viaWebhook = measure("c: signed webhook → Application created", t0);
        assert.ok(viaWebhook < requeueSeconds / 3, `webhook took ${viaWebhook}s, poll interval ${requeueSeconds}s`);
        assert.ok(webhookRefreshes() > refreshes);
        await untilSynced("shop-pr-3", sha, 180);

        // Without a webhook: the poll finds the next PR.
        const shaPoll = pushBranch("feature-d", "pr-4");
        const pr4 = gh.open(repo, { title: "Feature D", branch: "feature-d", headSha: shaPoll, labels: ["preview"] });
        const t1 = Date.now();
        await until("shop-pr-4 created by polling", requeueSeconds * 2 + 30, () => app("shop-pr-4"));
        const viaPoll = measure("c: no webhook (poll) → Application created", t1);
        step(`webhook ${viaWebhook}s vs poll ${viaPoll}s (requeueAfterSeconds ${requeueSeconds})`);
        await untilSynced("shop-pr-4", pr4.headSha, 180);
    });

    it("d. a closed PR's Application, workloads and namespace are deleted by Argo CD alone (no janitor)", async () => {
        const pr = gh.close(repo, 1);
        const t0 = Date.now();
        await deliver(pr, "closed");
        await until("shop-pr-1's Application gone", 120, () => app("shop-pr-1") === undefined);
        measure("d: close (webhook) → Application gone", t0);
        await until("namespace shop-pr-1 gone", 180, () => !namespaceExists("shop-pr-1"));
        measure("d: close (webhook) → namespace gone", t0);
        assert.ok(previewApps().includes("shop-pr-3"));
    });

    it("e. GitHub failing (5xx, hanging, an error status with an empty list) for longer than a poll deletes no preview; after recovery the state converges", async () => {
        const before = previewApps();
        assert.deepEqual(before, ["shop-pr-3", "shop-pr-4"]);
        const faults = [
            { kind: "status", status: 502 },
            { kind: "hang", dropAfterSeconds: 20 },
            { kind: "emptyListWithStatus", status: 500 },
        ] as const;
        try {
            for (const fault of faults) {
                gh.fail(fault);
                const since = Date.now();
                // v3.6.1 removes the webhook's refresh annotation only after a successful reconcile,
                // so during an outage later webhooks change nothing and only its 3-minute retry
                // lists again. To see each failure kind within the test, force one reconcile per
                // kind (any other annotation change does), as an operator would.
                if (fault === faults[0]) await deliver(gh.pull(repo, 3), "synchronize");
                else
                    kubectlOk(cluster, ["annotate", "applicationsets.argoproj.io", "shop-previews", "-n", argoNs, `gitops-control.io/test-reconcile=${fault.kind}`, "--overwrite"]);
                await until(`a failed listing (${fault.kind})`, 30, () => gh.listRequests(repo, since).some((r) => r.status !== 200));
                // The reconcile that got the failed listing has ended once it reports the error: a
                // delete it were to make comes before that status write, so the check is after it.
                const error = await until(`the ApplicationSet to report the error (${fault.kind})`, requeueSeconds + 60, () =>
                    appSetConditions()?.find((c) => c.type === "ErrorOccurred" && c.status === "True" && Date.parse(c.lastTransitionTime ?? "") >= since - 1000),
                );
                assert.deepEqual(previewApps(), before, `previews intact after ${fault.kind}`);
                assert.ok(namespaceExists("shop-pr-3") && namespaceExists("shop-pr-4"));
                step(`${fault.kind}: ${error.message.slice(0, 160)}`);
                // What the PreviewGenerationFailing alert fires on.
                assert.equal(await appSetUpdateStatus(), "ErrorOccurred");
            }
            // PR 4 closes during the outage.
            gh.close(repo, 4);
        } finally {
            // Later scenarios need a working GitHub even when this one fails.
            gh.recover();
        }
        // GitHub has recovered and delivers the close; the webhook cannot wake the controller (see
        // above), its retry after an error (3 minutes in v3.6.1) does.
        const t0 = Date.now();
        await deliver(gh.pull(repo, 4), "closed");
        await until("shop-pr-4 gone after recovery", 240, gone("shop-pr-4"), 1000);
        const recovered = measure("e: GitHub recovered → closed-during-outage preview gone (no intervention)", t0);
        assert.ok(recovered <= 200, `recovery took ${recovered}s`);
        assert.deepEqual(previewApps(), ["shop-pr-3"]);
        await until("no error condition", 60, () => !appSetConditions()?.some((c) => c.type === "ErrorOccurred" && c.status === "True"));
        assert.equal(await appSetUpdateStatus(), "ApplicationSetUpToDate");
    });

    it("i. a PR whose branch and title carry template syntax stays its own preview in the fixed project; a PR Argo CD cannot deploy fails alone", async () => {
        const sha = pushBranch("evil/{{.number}}", "pr-5");
        const evil = gh.open(repo, { title: '{{ .head_sha }}" project: default {{', branch: "evil/{{.number}}", headSha: sha, labels: ["preview"] });
        const broken = gh.open(repo, { title: "Missing commit", branch: "gone", headSha: "0".repeat(40), labels: ["preview"] });
        await deliver(evil, "opened");
        const five = await untilSynced("shop-pr-5", sha, 180);
        assert.equal(five.spec.project, "shop-previews");
        assert.equal(five.spec.destination.namespace, "shop-pr-5");
        const six = await until("shop-pr-6 reports its error", 180, () => {
            const a = app("shop-pr-6");
            return a?.status?.conditions?.find((c) => c.type === "ComparisonError") && a;
        });
        assert.equal(six.spec.project, "shop-previews");
        step(`shop-pr-6: ${six.status?.conditions?.[0]?.message.slice(0, 160)}`);
        assert.deepEqual(previewApps(), ["shop-pr-3", "shop-pr-5", "shop-pr-6"]);
        assert.ok(syncedAt("shop-pr-3", gh.pull(repo, 3).headSha)(), "the other previews are untouched");
        const projects = kubectlOk(cluster, ["get", "applications.argoproj.io", "-n", argoNs, "-l", "env=preview", "-o", "jsonpath={.items[*].spec.project}"]).split(/\s+/);
        assert.ok(
            projects.every((p) => p === "shop-previews"),
            projects.join(","),
        );
        gh.close(repo, broken.number);
        await deliver(gh.pull(repo, broken.number), "closed");
        await until("shop-pr-6 gone", 120, gone("shop-pr-6"));
    });

    it("g. the janitor deletes an orphaned preview namespace, never an owned one nor a non-preview namespace relabelled env=preview", async () => {
        // An orphan: the Application deleted without cascade (finalizer removed first, as `argocd app delete --cascade=false`).
        kubectlOk(cluster, ["patch", "applications.argoproj.io", "shop-pr-5", "-n", argoNs, "--type", "merge", "-p", '{"metadata":{"finalizers":null}}']);
        gh.close(repo, 5);
        await deliver(gh.pull(repo, 5), "closed");
        await until("shop-pr-5's Application gone", 120, () => app("shop-pr-5") === undefined);
        assert.ok(namespaceExists("shop-pr-5"), "without cascade Argo CD leaves the namespace: an orphan");
        // A non-preview namespace relabelled as a preview, and one that merely looks like one.
        kubectlOk(cluster, ["label", "namespace", "shop-staging", "env=preview", "--overwrite"]);
        kubectlOk(cluster, ["create", "namespace", "sandbox"]);
        kubectlOk(cluster, ["label", "namespace", "sandbox", "env=preview"]);

        const janitor = "system:serviceaccount:argocd:preview-janitor";
        const run = spawnSync("sh", ["-c", janitorScript()], {
            encoding: "utf8",
            env: { ...process.env, KUBECTL: `kubectl --kubeconfig ${cluster.kubeconfig} --as ${janitor}`, PREVIEW_TTL_HOURS: "72" },
        });
        step(`janitor: ${run.stdout.trim()} ${run.stderr.trim()}`);
        assert.equal(run.status, 0, run.stderr);
        assert.match(run.stdout, /deleting namespace shop-pr-5: no Application deploys to it/);
        await until("orphan shop-pr-5 gone", 120, () => !namespaceExists("shop-pr-5"));
        assert.ok(namespaceExists("shop-pr-3"), "an owned preview stays");
        assert.ok(namespaceExists("shop-staging"), "a relabelled non-preview namespace stays");
        assert.ok(namespaceExists("sandbox"), "a namespace that is not a preview by name stays");
        kubectlOk(cluster, ["label", "namespace", "shop-staging", "env-"]);
    });

    it("every ApplicationSet metric the preview alerts use is exported by the running v3.6.1 ApplicationSet controller", async () => {
        const metrics = await appSetMetrics();
        const exported = new Set([...metrics.matchAll(/^([a-z_:]+?)(?:\{|\s)/gm)].map((m) => m[1]));
        const used = new Set(renderPreviewAlertRules({}).flatMap((r) => [...r.expr.matchAll(/\b(argocd_[a-z_]+)/g)].map((m) => m[1])));
        assert.ok(used.size >= 1);
        for (const name of used) assert.ok(exported.has(name), `${name} is not exported by the ApplicationSet controller`);
        assert.match(metrics, new RegExp(`argocd_appset_owned_applications\\{[^}]*name="shop-previews"[^}]*\\} ${previewApps().length}\\n`));
        assert.match(metrics, /argocd_appset_info\{[^}]*name="shop-previews"/);
        assert.match(metrics, /argocd_appset_reconcile_count\{[^}]*name="shop-previews"/);
    });

    it("f. a mistaken kubectl delete of the ApplicationSet keeps every preview running (admission refuses the collector's deletes); pulumi up re-creates it and it adopts them", async () => {
        const since = new Date().toISOString();
        const running = previewApps();
        assert.ok(running.includes("shop-pr-3"));
        const oldUid = kubectlOk(cluster, ["get", "applicationsets.argoproj.io", "shop-previews", "-n", argoNs, "-o", "jsonpath={.metadata.uid}"]);
        kubectlOk(cluster, ["delete", "applicationsets.argoproj.io", "shop-previews", "-n", argoNs, "--wait=false"]);
        await until("ApplicationSet gone", 60, () => kubectl(cluster, ["get", "applicationsets.argoproj.io", "shop-previews", "-n", argoNs]).code !== 0);
        // The garbage collector tries to delete the orphaned previews and is refused.
        const refused = await until("the collector's delete of shop-pr-3 refused", 120, () => refusedDeletes("shop-pr-3", since)[0]);
        step(`f: refused delete of shop-pr-3 by ${refused}`);
        // The collector retries: a second refusal shows the previews outlast its retries too.
        await until("the collector's retry refused as well", 120, () => refusedDeletes("shop-pr-3", since).length >= 2);
        assert.deepEqual(previewApps(), running, "every preview Application survives");
        assert.equal(kubectl(cluster, ["get", "deployment", "shop", "-n", "shop-pr-3"]).code, 0, "the preview's workload survives");
        const human = kubectl(cluster, ["delete", "applications.argoproj.io", "shop-pr-3", "-n", argoNs, "--wait=false"]);
        assert.notEqual(human.code, 0);
        assert.match(human.stderr, /preview shop-pr-3 is removed by the ApplicationSet controller when its PR closes/);

        const t0 = Date.now();
        const local = await openLocalStack(cluster, { configOverrides: { github: { owner, api: gh.apiUrl }, services: [shopService()] } }, stateDir);
        await local.stack.up({ refresh: true, onOutput: (out) => engineLog.push(out) });
        const newUid = kubectlOk(cluster, ["get", "applicationsets.argoproj.io", "shop-previews", "-n", argoNs, "-o", "jsonpath={.metadata.uid}"]);
        assert.notEqual(newUid, oldUid);
        await until(
            "shop-pr-3 adopted by the new ApplicationSet",
            120,
            () => kubectlOk(cluster, ["get", "applications.argoproj.io", "shop-pr-3", "-n", argoNs, "-o", "jsonpath={.metadata.ownerReferences[0].uid}"]) === newUid,
        );
        measure("f: up re-creates the ApplicationSet → previews adopted", t0);
        assert.ok(syncedAt("shop-pr-3", gh.pull(repo, 3).headSha)());
    });
    it("h. beyond the cap a new preview is held (paused, nothing deployed, reason on the Application) until one closes; past the TTL a preview is paused and its namespace deleted", async () => {
        assert.deepEqual(previewApps(), ["shop-pr-3"]);
        const opened = [7, 8, 9].map((n) => {
            const sha = pushBranch(`feature-${n}`, `pr-${n}`);
            return gh.open(repo, { title: `Feature ${n}`, branch: `feature-${n}`, headSha: sha, labels: ["preview"] });
        });
        assert.deepEqual(
            opened.map((p) => p.number),
            [7, 8, 9],
        );
        const t0 = Date.now();
        for (const pr of opened) await deliver(pr, "opened");
        await untilSynced("shop-pr-7", opened[0].headSha, 180);
        await untilSynced("shop-pr-8", opened[1].headSha, 180);
        // The third new one is over the cap of 3 (shop-pr-3 runs too): generated, but held.
        const held = await until(
            "shop-pr-9 held by the gate",
            60,
            () => {
                const a = app("shop-pr-9");
                return a?.metadata.annotations?.[previewGateAnnotations.held] ? a : undefined;
            },
            500,
            () => explainPreview("shop-pr-9"),
        );
        measure("h: third PR over the cap (webhook) → held, reason on the Application", t0);
        assert.match(held.metadata.annotations?.[previewGateAnnotations.held] ?? "", /^cap: 3 previews of shop are running \(services\[\]\.previews\.maxOpen\)/);
        assert.equal(held.spec.syncPolicy?.automated?.enabled, false);
        assert.ok(
            gateEvents("shop-pr-9").some((e) => e.reason === "PreviewHeld" && /cap: 3 previews of shop/.test(e.message)),
            JSON.stringify(gateEvents("shop-pr-9")),
        );
        step(`h: shop-pr-9 held: ${held.metadata.annotations?.[previewGateAnnotations.held]}`);
        // The ApplicationSet reconciles again (a webhook) and leaves the gate's decision alone.
        const since = Date.now();
        await deliver(opened[2], "synchronize");
        await until("a listing after the webhook", 30, () => gh.listRequests(repo, since).length > 0);
        await until(
            "the ApplicationSet's reconcile to finish",
            30,
            () => !kubectl(cluster, ["get", "applicationsets.argoproj.io", "shop-previews", "-n", argoNs, "-o", "jsonpath={.metadata.annotations}"]).stdout.includes("refresh"),
        );
        const still = app("shop-pr-9");
        assert.equal(still?.spec.syncPolicy?.automated?.enabled, false, "the ApplicationSet does not undo the gate");
        assert.ok(still?.metadata.annotations?.[previewGateAnnotations.held], "the reason is preserved across ApplicationSet updates");
        assert.ok(!namespaceExists("shop-pr-9"), "nothing of the held preview is deployed, not even its namespace");
        assert.notEqual(still?.status?.sync?.status, "Synced");
        assert.deepEqual(previewApps(), ["shop-pr-3", "shop-pr-7", "shop-pr-8", "shop-pr-9"]);

        // A slot frees: PR 7 closes, the held preview is admitted and deploys.
        const t1 = Date.now();
        gh.close(repo, 7);
        await deliver(gh.pull(repo, 7), "closed");
        await until("shop-pr-7 gone", 180, gone("shop-pr-7"));
        const admitted = await untilSynced("shop-pr-9", opened[2].headSha, 180);
        measure("h: a preview closes (webhook) → the held one Synced+Healthy", t1);
        assert.equal(admitted.metadata.annotations?.[previewGateAnnotations.held], undefined);
        assert.ok(gateEvents("shop-pr-9").some((e) => e.reason === "PreviewAdmitted"));

        // TTL: the gate's clock moves past the service's 72 h; every running preview expires.
        const expiring = ["shop-pr-3", "shop-pr-8", "shop-pr-9"];
        const t2 = Date.now();
        gate.clockOffsetSeconds = 73 * 3600;
        for (const name of expiring)
            await until(
                `${name}'s namespace gone after its TTL`,
                120,
                () => !namespaceExists(name),
                500,
                () => explainPreview(name),
            );
        measure("h: TTL passed → preview paused and namespace gone", t2);
        for (const name of expiring) {
            const a = app(name);
            assert.equal(a?.spec.syncPolicy?.automated?.enabled, false, `${name} paused`);
            assert.match(a?.metadata.annotations?.[previewGateAnnotations.held] ?? "", /^ttl: running longer than 72h/);
            assert.ok(
                gateEvents(name).some((e) => e.reason === "PreviewExpired"),
                name,
            );
        }
        // Argo CD does not bring them back: past one resync of the application controller (30 s here), still gone.
        const refreshes = Date.now();
        kubectlOk(cluster, ["annotate", "applications.argoproj.io", "shop-pr-8", "-n", argoNs, "argocd.argoproj.io/refresh=normal", "--overwrite"]);
        await until("shop-pr-8 refreshed", 60, () => {
            const reconciledAt = kubectl(cluster, ["get", "applications.argoproj.io", "shop-pr-8", "-n", argoNs, "-o", "jsonpath={.status.reconciledAt}"]).stdout;
            return reconciledAt !== "" && Date.parse(reconciledAt) >= refreshes - 1000;
        });
        for (const name of expiring) assert.ok(!namespaceExists(name), `${name} stays gone`);
        assert.deepEqual(previewApps(), expiring, "the Applications stay, paused, as the record of why");
    });
});
