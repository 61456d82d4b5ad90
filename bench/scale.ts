/**
 * The GitOps loop at scale (issue 21): N Applications of a small service (a Deployment, a headless
 * Service and a ConfigMap, as a Helm chart each, in one Git repository) reconciled by Argo CD
 * v3.6.1's real application controller and repo-server (scripts/cluster/reconcilers.ts) against
 * the local API server with the workload controllers and the program's guardrails installed.
 * Variants side by side, each on a fresh cluster, alternating which goes first:
 *
 *   chart       Argo CD as the chart ships it: the controller's default processors, refresh period
 *               and jitter; the Applications as the program rendered them before issue 21 (no
 *               manifest-generate-paths: a push webhook refreshes every Application of the
 *               repository; the namespace made and labelled by Argo CD through
 *               `managedNamespaceMetadata`, which v3.6.1 applies in a pass of its own before every
 *               sync, controller/sync_namespace.go).
 *   ours        the program as it is: its settings for N (`argocd.scale.applications: N`,
 *               components/argocd/scale.ts), its Applications (manifest-generate-paths on each) and
 *               the namespaces it makes (GitOpsService: labelled, no managedNamespaceMetadata).
 *   novalidate  ours with Argo CD's `Validate=false` sync option: what kubectl's schema check in
 *               every apply costs (bench finding S1), measured to decide it; not the program's.
 *   noenvrule   ours without the guardrail require-application-environment (policy and bindings):
 *               what its fan-out costs the API server (it reads the governed namespaces as
 *               parameters, and the API server evaluates it once per namespace of the class on
 *               every Application write): an upper bound of what one parameter object per class
 *               would save. An experiment on the API server's cost, never a setting: run it with
 *               --cold-only.
 *
 * Everything the cluster gets is what the program renders under mocks (`npm run render`'s route:
 * AppProjects, Applications, guardrail policies and bindings, Argo CD's namespace and settings)
 * plus the pinned chart's RBAC, ServiceAccounts and ConfigMaps (`helm template` with the program's
 * values; its Deployments are left out: the reconcilers run out of cluster). The chart's
 * argocd-cmd-params-cm / argocd-cm entries reach the out-of-cluster controller as the environment
 * variables and flag the chart's StatefulSet maps them to.
 *
 * Measured per variant and size:
 *   cold      Applications created, controller started → every Application Synced and Healthy
 *   idle      self-heal of a live ConfigMap edit (break-glass identity) on a sample, one at a time
 *   webhook   commit touching one Application + the refresh a push webhook gives → Synced at it
 *   poll      (--poll, the largest size, chart and ours) a commit changing 10 untouched
 *             Applications without a webhook: each one's latency to its new live ConfigMap, bounded
 *             by the refresh period + jitter
 *   rollout   one commit changes half of the Applications, delivered as argocd-server's push
 *             webhook delivers it (v3.6.1 util/webhook: a refresh of every Application of the
 *             repository, or only of those whose manifest-generate-paths the commit touches);
 *             meanwhile self-heal of live edits on untouched Applications; and the wave's end
 *   cpu/rss   controller and repo-server (with its git/helm children) CPU seconds per phase and
 *             peak RSS; kube-apiserver + etcd CPU; API requests served (apiserver_request_total)
 *
 *   node --import tsx bench/scale.ts --sizes 20,100 [--variants chart,ours] [--variants-largest novalidate] [--poll] [--samples 10] [--profile-seconds 30] [--out file.json]
 *   node --import tsx bench/scale.ts --sizes 1000 --variants ours,noenvrule --cold-only --out bench/scale-admission.json
 *               (the cold start alone, with the API server's admission figures: an experiment)
 *   node --import tsx bench/scale.ts render <n> <repoURL>      (child: the program's objects, JSON)
 *
 * Run it under `nice -n 10` on a shared machine; `npm run bench -- --sections scale` does.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { manifestGeneratePathsAnnotation } from "../components/applications/GitOpsApplication";
import { fixtureChartPath } from "../stacks/config";
import { startReconcilers, stopReconcilers } from "../scripts/cluster/reconcilers";
import { toManifest } from "../scripts/commands/render";
import { renderProgram } from "../scripts/lib/mockRuntime";
import { configMap, deployment } from "../tests/support/charts";
import { JsonStreamSplitter } from "../tests/support/kubeWatch";
import { LocalCluster, argoCdCrds, kubectl, kubectlOk, repoRoot, startCluster } from "../tests/integration/support";
import { GitDaemon } from "./gitDaemon";

export const scaleVariants = ["chart", "ours", "novalidate", "noenvrule"] as const;
export type ScaleVariant = (typeof scaleVariants)[number];

const argoNs = "argocd";
const team = "scale";
const repo = "services";
const breakGlass = ["--as", "oncall@example.com", "--as-group", "gitops-control:break-glass"];

export interface Latencies {
    readonly samples: number[];
    readonly p50: number;
    readonly p95: number;
    readonly max: number;
}

export interface ProcessUse {
    /** CPU seconds in the phase (repo-server: with its git/helm children). */
    readonly controller: number;
    readonly repoServer: number;
    readonly apiServer: number;
    /** API requests served in the phase. */
    readonly apiRequests: number;
}

/** The API server's admission work in the cold start (its /metrics at the end: the counters start with the cluster). */
export interface AdmissionUse {
    /** Validating admission of UPDATE requests: seconds summed over requests, and requests. */
    readonly validateUpdateSeconds: number;
    readonly validateUpdates: number;
    /** Per policy (its name without the gitops-control- prefix): match condition evaluations and their seconds, the heaviest three. */
    readonly matchConditions: readonly { readonly policy: string; readonly evaluations: number; readonly seconds: number }[];
}

/** What every run measures; a --cold-only run (an experiment on one lever) stops here. */
export interface ColdRun {
    readonly variant: ScaleVariant;
    readonly applications: number;
    readonly load: number;
    /** Controller settings the run used (env/flags), for the report. */
    readonly settings: Readonly<Record<string, string>>;
    /** Seconds from the controller's start to every Application Synced and Healthy. */
    readonly coldSeconds: number;
    /** [seconds, Synced+Healthy count] every poll of the cold start. */
    readonly coldCurve: readonly (readonly [number, number])[];
    readonly use: { readonly cold: ProcessUse };
    /** Peak RSS, MiB. */
    readonly peakRssMiB: { readonly controller: number; readonly repoServer: number };
    /** Applications in ComparisonError at any poll (the Git server or repo-server failing). */
    readonly comparisonErrors: number;
    /** `go tool pprof -top` of the controller's CPU over the first seconds of the cold start (--profile-seconds). */
    readonly controllerProfile?: readonly string[];
    readonly admission?: AdmissionUse;
}

export interface ScaleRun extends ColdRun {
    readonly idleHeal: Latencies;
    /** Seconds from a commit touching one Application (+ its webhook refresh) to Synced at it. */
    readonly webhookCommitSeconds: number;
    readonly rolloutHeal: Latencies;
    /** Commit → new live ConfigMap without a webhook, per Application (--poll); bounded by the refresh period + jitter. */
    readonly pollCommit?: Latencies;
    /** Applications the poll commit changed (pollCommit.samples: those live before its deadline). */
    readonly pollTried?: number;
    /** Seconds from the rollout commit to every changed Application Synced at it. */
    readonly rolloutSeconds: number;
    /** Applications the webhook refreshed in the rollout. */
    readonly rolloutRefreshed: number;
    /** Per phase: cold, idle (self-heal + webhook commit), rollout. */
    readonly use: Readonly<Record<"cold" | "idle" | "rollout", ProcessUse>>;
}

/**
 * A CPU profile of the controller (`/debug/pprof/profile`), summarized by `go tool pprof -top`
 * (cumulative, the 25 heaviest functions); undefined when Go is not on PATH or the fetch fails.
 */
async function cpuProfile(port: number, seconds: number, file: string): Promise<string[] | undefined> {
    try {
        const response = await fetch(`http://127.0.0.1:${port}/debug/pprof/profile?seconds=${seconds}`, { signal: AbortSignal.timeout((seconds + 60) * 1000) });
        if (!response.ok) return [`profile not served: HTTP ${response.status}`];
        fs.writeFileSync(file, Buffer.from(await response.arrayBuffer()));
        // Asynchronous: `go tool pprof` is built on first use (Go ≥ 1.24), minutes on a busy machine, and the
        // cold start's polling must not wait for it.
        const child = spawn("go", ["tool", "pprof", "-top", "-cum", "-nodecount=25", file], { stdio: ["ignore", "pipe", "pipe"] });
        let out = "";
        let err = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stderr.on("data", (d: Buffer) => (err += d.toString()));
        const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
        return code === 0 ? out.split("\n").filter((l) => l.trim() !== "") : [`go tool pprof failed: ${err.slice(0, 200)}`];
    } catch (e) {
        return [`profile failed: ${(e as Error).message}`];
    }
}

const log = (message: string) => console.error(`[scale] ${new Date().toISOString().slice(11, 19)} ${message}`);

function percentile(sorted: readonly number[], p: number): number {
    if (sorted.length === 0) return NaN;
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function latencies(samples: readonly number[]): Latencies {
    const s = [...samples].sort((a, b) => a - b);
    return { samples: [...samples], p50: percentile(s, 50), p95: percentile(s, 95), max: s[s.length - 1] ?? NaN };
}

const svcName = (i: number) => `svc-${String(i).padStart(4, "0")}`;

/** One service's chart: a ConfigMap, a headless Service and a zero-replica Deployment (Healthy once observed). */
function serviceFiles(i: number, message: string): Record<string, string> {
    const name = svcName(i);
    const dir = `services/${name}`;
    const service = JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, labels: { "app.kubernetes.io/name": name, "gitops-control.io/team": team } },
        spec: { clusterIP: "None", selector: { "app.kubernetes.io/name": name }, ports: [{ name: "http", port: 8080 }] },
    });
    return {
        [`${dir}/Chart.yaml`]: `apiVersion: v2\nname: ${name}\nversion: 0.1.0\n`,
        [`${dir}/values.yaml`]: "replicas: 0\n",
        [`${dir}/values-prod.yaml`]: "environment: prod\n",
        [`${dir}/templates/configmap.yaml`]: configMap(`${name}-config`, name, team, message),
        [`${dir}/templates/service.yaml`]: service,
        [`${dir}/templates/deployment.yaml`]: deployment(name, name, team, "registry.example/app:1.0.0", "{{ .Values.replicas }}"),
    };
}

/** The stack config of the bench: N services from one repository, prod only, and the scale setting. */
export function benchStackConfig(n: number, repoURL: string): Record<string, string> {
    const services = Array.from({ length: n }, (_, i) => ({
        name: svcName(i),
        team,
        repoURL,
        path: `services/${svcName(i)}`,
        targetRevision: "main",
        environments: ["prod"],
        sharedRepository: true,
    }));
    return {
        "gitops-control:environment": "local",
        "gitops-control:services": JSON.stringify(services),
        "gitops-control:argocd": JSON.stringify({ scale: { applications: n } }),
    };
}

/** Child mode: the program's Kubernetes objects for N services, and the chart's values, as JSON on stdout. */
async function renderChild(n: number, repoURL: string): Promise<void> {
    const { resources } = await renderProgram("local", { config: benchStackConfig(n, repoURL), secretKeys: [] });
    const objects = resources.map(toManifest).filter((m): m is Record<string, unknown> => m !== undefined);
    const chart = resources.find((r) => r.type === "kubernetes:helm.sh/v4:Chart");
    process.stdout.write(JSON.stringify({ objects, values: chart?.inputs.values ?? {} }) + "\n");
}

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function helmBinary(): string {
    const candidates = [process.env.HELM, path.join(os.homedir(), ".cache", "gitops-control", "helm-4.3.1", "bin", "helm"), "helm"].filter((x): x is string => !!x);
    for (const c of candidates) if (spawnSync(c, ["version", "--short"]).status === 0) return c;
    throw new Error("no helm binary: source the toolchain env (scripts/toolchain/install.sh --print-env)");
}

/** The pinned chart's objects with the program's values, without its workloads (the reconcilers run out of cluster). */
function chartObjects(values: unknown, dir: string): Obj[] {
    const file = path.join(dir, "values.json");
    fs.writeFileSync(file, JSON.stringify(values));
    const r = spawnSync(helmBinary(), ["template", "argocd", path.resolve(repoRoot, fixtureChartPath), "--namespace", argoNs, "--values", file], {
        encoding: "utf8",
        maxBuffer: 1 << 27,
    });
    if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
    const workloads = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "Service", "NetworkPolicy", "PodDisruptionBudget"]);
    return parseAllDocuments(r.stdout)
        .map((d) => d.toJS() as Obj | null)
        .filter((o): o is Obj => !!o && typeof o.kind === "string" && !workloads.has(o.kind))
        .map((o) => (o.metadata.namespace || o.kind.startsWith("Cluster") ? o : { ...o, metadata: { ...o.metadata, namespace: argoNs } }));
}

function apply(cluster: LocalCluster, items: readonly Obj[]): void {
    for (let i = 0; i < items.length; i += 200) {
        const batch = items.slice(i, i + 200);
        kubectlOk(
            cluster,
            ["apply", "--server-side", "--force-conflicts", "--field-manager", "gitops-control-bench", "-f", "-"],
            JSON.stringify({ apiVersion: "v1", kind: "List", items: batch }),
        );
    }
}

/** Secrets rendered with redacted values get placeholder string data. */
function placeholderSecrets(o: Obj): Obj {
    if (o.kind !== "Secret") return o;
    const keys = Object.keys({ ...o.data, ...o.stringData });
    const { data: _, ...rest } = o;
    return { ...rest, stringData: Object.fromEntries(keys.map((k) => [k, "bench-placeholder"])) };
}

function procStat(pid: number): { cpu: number; children: number } {
    try {
        const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
        const tick = 100;
        return { cpu: (Number(f[11]) + Number(f[12])) / tick, children: (Number(f[13]) + Number(f[14])) / tick };
    } catch {
        return { cpu: 0, children: 0 };
    }
}

function peakRssMiB(pid: number): number {
    try {
        const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
        return m ? Math.round(Number(m[1]) / 1024) : NaN;
    } catch {
        return NaN;
    }
}

const pidIn = (dir: string, name: string) => Number(fs.readFileSync(path.join(dir, `${name}.pid`), "utf8"));

interface AppRow {
    name: string;
    sync: string;
    health: string;
    revision: string;
    error: boolean;
}

function appRows(cluster: LocalCluster): AppRow[] {
    const r = kubectl(cluster, [
        "get",
        "applications.argoproj.io",
        "-n",
        argoNs,
        "-o",
        'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.status.sync.status}{"\\t"}{.status.health.status}{"\\t"}{.status.sync.revision}{"\\t"}{.status.conditions[*].type}{"\\n"}{end}',
    ]);
    if (r.code !== 0) return [];
    return r.stdout
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => {
            const [name, sync, health, revision, conditions] = l.split("\t");
            return { name, sync, health, revision, error: (conditions ?? "").includes("ComparisonError") };
        });
}

async function until<T>(what: string, seconds: number, probe: () => T | undefined | false, every = 1000): Promise<T> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
        const v = probe();
        if (v) return v;
        await new Promise((r) => setTimeout(r, every));
    }
    throw new Error(`timed out after ${seconds}s waiting for ${what}`);
}

/** Patches `<svc>-config` live as break-glass and returns seconds from the edit to the controller putting Git's value back (both seen on a watch). */
async function selfHeal(cluster: LocalCluster, name: string, expected: string, timeoutSeconds: number): Promise<number> {
    const ns = `${name}-prod`;
    const child = spawn("kubectl", ["--kubeconfig", cluster.kubeconfig, "get", "configmap", `${name}-config`, "-n", ns, "--watch", "--output-watch-events", "-o", "json"], {
        stdio: ["ignore", "pipe", "ignore"],
    });
    const splitter = new JsonStreamSplitter();
    let editedAt = 0;
    let healedAt = 0;
    let seenFirst = false;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
        for (const doc of splitter.push(chunk) as { object?: { data?: { message?: string } } }[]) {
            seenFirst = true;
            const message = doc.object?.data?.message;
            if (message === "hotfix") editedAt ||= performance.now();
            else if (editedAt > 0 && message === expected && healedAt === 0) healedAt = performance.now();
        }
    });
    try {
        await until(`watch on ${ns}`, 30, () => seenFirst, 50);
        kubectlOk(cluster, ["patch", "configmap", `${name}-config`, "-n", ns, "--type", "merge", "-p", '{"data":{"message":"hotfix"}}', ...breakGlass]);
        await until(`${ns} ConfigMap self-healed`, timeoutSeconds, () => healedAt > 0, 20);
        // From the edit to its revert, both as the API server's watch delivers them (kubectl's own start-up is not in it).
        return (healedAt - editedAt) / 1000;
    } finally {
        child.kill();
    }
}

/** The live ConfigMap's message of one service. */
function liveMessage(cluster: LocalCluster, name: string): string {
    return kubectl(cluster, ["get", "configmap", `${name}-config`, "-n", `${name}-prod`, "-o", "jsonpath={.data.message}"]).stdout;
}

function apiMetrics(cluster: LocalCluster): string[] {
    // The metrics text is several MB: beyond spawnSync's default buffer.
    const r = spawnSync("kubectl", ["--kubeconfig", cluster.kubeconfig, "get", "--raw", "/metrics"], { encoding: "utf8", maxBuffer: 1 << 28 });
    return (r.stdout ?? "").split("\n");
}

/** A sample's value: the last field of its metrics line. */
const sampleValue = (line: string) => Number(line.split(" ").pop());

/** API requests served so far (apiserver_request_total), from the metrics' lines. */
function apiRequests(lines: readonly string[]): number {
    let total = 0;
    for (const line of lines) if (line.startsWith("apiserver_request_total{")) total += sampleValue(line);
    return total;
}

/** The admission figures of AdmissionUse, from the API server's metrics (k8s 1.36 names). */
export function admissionUse(lines: readonly string[]): AdmissionUse {
    const updates = (suffix: string) =>
        lines
            .filter((l) => l.startsWith(`apiserver_admission_step_admission_duration_seconds_${suffix}{`) && l.includes('operation="UPDATE"') && l.includes('type="validate"'))
            .reduce((sum, l) => sum + sampleValue(l), 0);
    const byPolicy = new Map<string, { evaluations: number; seconds: number }>();
    for (const l of lines) {
        const m = /^apiserver_admission_match_condition_evaluation_seconds_(sum|count)\{.*kind="policy".*name="([^"]+)"/.exec(l);
        if (!m) continue;
        const policy = m[2].replace(/^gitops-control-/, "");
        const entry = byPolicy.get(policy) ?? { evaluations: 0, seconds: 0 };
        if (m[1] === "sum") entry.seconds += sampleValue(l);
        else entry.evaluations += sampleValue(l);
        byPolicy.set(policy, entry);
    }
    const matchConditions = [...byPolicy.entries()]
        .map(([policy, e]) => ({ policy, evaluations: e.evaluations, seconds: Math.round(e.seconds * 10) / 10 }))
        .sort((a, b) => b.seconds - a.seconds)
        .slice(0, 3);
    return { validateUpdateSeconds: Math.round(updates("sum") * 10) / 10, validateUpdates: updates("count"), matchConditions };
}

/**
 * The webhook argocd-server would deliver for a push: a normal refresh of `names` (every Application
 * of the repo, or those whose paths the commit touches), delivered in the background as the server
 * does (the pusher does not wait for it). Resolves when every refresh is requested.
 */
async function webhookRefresh(cluster: LocalCluster, names: readonly string[]): Promise<void> {
    for (let i = 0; i < names.length; i += 100) {
        const args = [
            "--kubeconfig",
            cluster.kubeconfig,
            "annotate",
            "applications.argoproj.io",
            "-n",
            argoNs,
            ...names.slice(i, i + 100),
            "argocd.argoproj.io/refresh=normal",
            "--overwrite",
        ];
        await new Promise<void>((resolve, reject) =>
            spawn("kubectl", args, { stdio: "ignore" }).once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`kubectl annotate (webhook refresh) exited ${code}`)))),
        );
    }
}

/** Which Applications a push webhook refreshes for a commit changing `files` (v3.6.1 util/webhook: all without the annotation; else only those whose paths it touches). */
export function webhookTargets(apps: readonly { name: string; path: string; generatePaths?: string }[], files: readonly string[]): string[] {
    return apps
        .filter((a) => {
            if (a.generatePaths === undefined) return true;
            return a.generatePaths.split(";").some((p) => {
                const dir = p.startsWith("/") ? p.slice(1) : path.posix.join(a.path, p);
                return files.some((f) => dir === "." || dir === "" || f === dir || f.startsWith(`${dir}/`));
            });
        })
        .map((a) => a.name);
}

/** Argo CD's settings as the out-of-cluster controller receives them: what the chart maps argocd-cm / argocd-cmd-params-cm to. */
export function controllerEnvironment(values: Obj): { env: Record<string, string>; resyncSeconds: number } {
    const params: Record<string, string> = values.configs?.params ?? {};
    const cm: Record<string, string> = values.configs?.cm ?? {};
    const env: Record<string, string> = {};
    const map: Record<string, string> = {
        "controller.status.processors": "ARGOCD_APPLICATION_CONTROLLER_STATUS_PROCESSORS",
        "controller.operation.processors": "ARGOCD_APPLICATION_CONTROLLER_OPERATION_PROCESSORS",
        "controller.repo.server.timeout.seconds": "ARGOCD_APPLICATION_CONTROLLER_REPO_SERVER_TIMEOUT_SECONDS",
    };
    for (const [key, variable] of Object.entries(map)) if (params[key] !== undefined) env[variable] = String(params[key]);
    if (cm["timeout.reconciliation.jitter"]) env.ARGOCD_RECONCILIATION_JITTER = cm["timeout.reconciliation.jitter"];
    const resync = /^(\d+)s$/.exec(cm["timeout.reconciliation"] ?? "180s");
    const resyncSeconds = resync ? Number(resync[1]) : 180;
    // The chart gives argocd-cm's timeout.reconciliation to the repo-server as this variable too: its
    // revision cache (`main` → commit) expires after it, so a commit without a webhook waits for both.
    env.ARGOCD_RECONCILIATION_TIMEOUT = `${resyncSeconds}s`;
    return { env, resyncSeconds };
}

export async function runScale(n: number, variant: ScaleVariant, samples: number, profileSeconds = 0, poll = false, coldOnly = false): Promise<ScaleRun | ColdRun> {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `gitops-scale-${variant}-${n}-`));
    const git = await GitDaemon.start(path.join(work, "git"));
    let cluster: LocalCluster | undefined;
    const reconcilerDir = path.join(work, "reconcilers");
    try {
        const files: Record<string, string> = {};
        for (let i = 0; i < n; i++) Object.assign(files, serviceFiles(i, "v1"));
        git.createRepo(repo, files);
        const repoURL = git.url(repo);

        const child = spawnSync(process.execPath, ["--import", "tsx", __filename, "render", String(n), repoURL], { cwd: repoRoot, encoding: "utf8", maxBuffer: 1 << 28 });
        if (child.status !== 0) throw new Error(`render failed: ${child.stderr.slice(-2000)}`);
        const { objects, values } = JSON.parse(child.stdout.trim().split("\n").pop() ?? "{}") as { objects: Obj[]; values: Obj };
        const ours = variant !== "chart";
        // The chart variant: Argo CD's own settings (no params, default refresh), the Applications as the program rendered them before.
        const settings = ours ? controllerEnvironment(values) : controllerEnvironment({});
        const rendered = objects.filter((o) => o.kind === "Application");
        const destinations = new Set(rendered.map((o) => o.spec.destination.namespace as string));
        const madeNamespaces = new Map(objects.filter((o) => o.kind === "Namespace" && destinations.has(o.metadata.name)).map((o) => [o.metadata.name as string, o]));
        if (madeNamespaces.size !== destinations.size) throw new Error(`the program made ${madeNamespaces.size} of the ${destinations.size} namespaces its Applications deploy to`);
        const apps = rendered.map((o) => {
            if (variant === "ours" || variant === "noenvrule") return o;
            if (variant === "novalidate")
                return { ...o, spec: { ...o.spec, syncPolicy: { ...o.spec.syncPolicy, syncOptions: [...o.spec.syncPolicy.syncOptions, "Validate=false"] } } };
            // Before issue 21: Argo CD made and labelled the namespace (managedNamespaceMetadata), no manifest-generate-paths.
            const { [manifestGeneratePathsAnnotation]: _, ...annotations } = o.metadata.annotations ?? {};
            const labels = madeNamespaces.get(o.spec.destination.namespace)?.metadata.labels;
            return { ...o, metadata: { ...o.metadata, annotations }, spec: { ...o.spec, syncPolicy: { ...o.spec.syncPolicy, managedNamespaceMetadata: { labels } } } };
        });
        const envRule = (o: Obj) =>
            (o.kind === "ValidatingAdmissionPolicy" && String(o.metadata.name).endsWith("require-application-environment")) ||
            (o.kind === "ValidatingAdmissionPolicyBinding" && String(o.spec.policyName).endsWith("require-application-environment"));
        if (variant === "noenvrule" && !objects.some(envRule)) throw new Error("noenvrule: the program rendered no require-application-environment policy to leave out");
        const rest = objects
            .filter((o) => o.kind !== "Application" && (ours || !(o.kind === "Namespace" && madeNamespaces.has(o.metadata.name))))
            .filter((o) => variant !== "noenvrule" || !envRule(o))
            .map(placeholderSecrets);

        cluster = startCluster({ LOCAL_CLUSTER_WORKLOAD_CONTROLLERS: "1", LOCAL_CLUSTER_TIMEOUT: "240" });
        kubectlOk(cluster, ["apply", "--server-side", "-f", "-"], argoCdCrds());
        // The on-call group may edit ConfigMaps (as a platform grants it); the guardrails decide where.
        kubectlOk(cluster, ["create", "clusterrole", "bench-break-glass", "--verb=get,list,watch,patch,update", "--resource=configmaps"]);
        kubectlOk(cluster, ["create", "clusterrolebinding", "bench-break-glass", "--clusterrole=bench-break-glass", "--group=gitops-control:break-glass"]);
        await until("Argo CD CRDs served", 60, () => kubectl(cluster!, ["get", "applications.argoproj.io,appprojects.argoproj.io", "-A"]).code === 0, 500);
        const order = (o: Obj) => (o.kind === "Namespace" ? 0 : o.kind.startsWith("ValidatingAdmissionPolicy") ? (o.kind.endsWith("Binding") ? 2 : 1) : 3);
        apply(
            cluster,
            [...rest].sort((a, b) => order(a) - order(b)),
        );
        apply(cluster, chartObjects(values, work));
        apply(cluster, apps);
        log(`${variant}/${n}: ${rest.length} program objects and ${apps.length} Applications applied; starting the reconcilers (${JSON.stringify(settings)})`);

        const apiPids = ["kube-apiserver", "etcd"].map((p) => pidIn(cluster!.dir, p));
        const apiCpu = () => apiPids.reduce((s, pid) => s + procStat(pid).cpu, 0);
        // Go's profiler on the controller's metrics port, opened by the file Argo CD checks for it.
        const profilerFile = path.join(work, "profiler.enabled");
        fs.writeFileSync(profilerFile, "true");
        const reconcilers = await startReconcilers({
            dir: reconcilerDir,
            adminKubeconfig: cluster.kubeconfig,
            appResyncSeconds: settings.resyncSeconds,
            env: { ...settings.env, ARGOCD_ENABLE_PROFILER_FILE_PATH: profilerFile },
        });
        const profile = profileSeconds > 0 ? cpuProfile(reconcilers.ports.controllerMetrics, profileSeconds, path.join(work, "controller.pprof")) : undefined;
        const t0 = performance.now();
        const controllerPid = pidIn(reconcilerDir, "application-controller");
        const repoPid = pidIn(reconcilerDir, "repo-server");
        // One read of the API server's metrics (several MB) per snapshot; the caller may reuse it.
        const snapshot = (metrics = apiMetrics(cluster!)) => {
            const repoStat = procStat(repoPid);
            return { controller: procStat(controllerPid).cpu, repoServer: repoStat.cpu + repoStat.children, apiServer: apiCpu(), apiRequests: apiRequests(metrics) };
        };
        const diff = (a: ProcessUse, b: ProcessUse): ProcessUse => ({
            controller: b.controller - a.controller,
            repoServer: b.repoServer - a.repoServer,
            apiServer: b.apiServer - a.apiServer,
            apiRequests: b.apiRequests - a.apiRequests,
        });
        const s0 = { controller: 0, repoServer: 0, apiServer: apiCpu(), apiRequests: apiRequests(apiMetrics(cluster)) };
        const errored = new Set<string>();

        // Cold start.
        const coldCurve: [number, number][] = [];
        const coldTimeout = 120 + n * 2;
        await until(
            `all ${n} Applications Synced and Healthy`,
            coldTimeout,
            () => {
                const rows = appRows(cluster!);
                rows.filter((r) => r.error).forEach((r) => errored.add(r.name));
                const done = rows.filter((r) => r.sync === "Synced" && r.health === "Healthy").length;
                coldCurve.push([Math.round((performance.now() - t0) / 100) / 10, done]);
                return done === n;
            },
            2000,
        );
        const coldSeconds = (performance.now() - t0) / 1000;
        const profileTop = profile ? await profile : undefined;
        const coldMetrics = apiMetrics(cluster);
        const s1 = snapshot(coldMetrics);
        const admission = admissionUse(coldMetrics);
        log(`${variant}/${n}: cold start ${coldSeconds.toFixed(1)} s; admission ${JSON.stringify(admission)}`);
        const cold: ColdRun = {
            variant,
            applications: n,
            load: os.loadavg()[0],
            settings: { ...settings.env, "--app-resync": String(settings.resyncSeconds) },
            coldSeconds,
            coldCurve,
            use: { cold: diff(s0, s1) },
            peakRssMiB: { controller: peakRssMiB(controllerPid), repoServer: peakRssMiB(repoPid) },
            comparisonErrors: errored.size,
            ...(profileTop ? { controllerProfile: profileTop } : {}),
            admission,
        };
        if (coldOnly) return cold;

        // Idle self-heal on a sample spread over the Applications.
        const sample = Array.from({ length: Math.min(samples, n) }, (_, k) => Math.floor((k * n) / Math.min(samples, n)) + (n > samples ? 1 : 0)).map((i) => Math.min(i, n - 1));
        const idle: number[] = [];
        for (const i of sample) idle.push(await selfHeal(cluster, svcName(i), "v1", 300));
        log(`${variant}/${n}: idle self-heal p50 ${latencies(idle).p50.toFixed(2)} s, max ${latencies(idle).max.toFixed(2)} s`);

        // Commit → Synced for one Application through the webhook.
        const one = 0;
        const oneFiles = serviceFiles(one, "v1-webhook");
        const oneSha = git.commit(repo, { [`services/${svcName(one)}/templates/configmap.yaml`]: oneFiles[`services/${svcName(one)}/templates/configmap.yaml`] }, "one service");
        const tc = performance.now();
        const targetsOne = webhookTargets(appInfo(apps), [`services/${svcName(one)}/templates/configmap.yaml`]);
        await webhookRefresh(cluster, targetsOne);
        await until(
            `${svcName(one)}-prod Synced at ${oneSha.slice(0, 8)}`,
            300,
            () => appRows(cluster!).find((r) => r.name === `${svcName(one)}-prod` && r.sync === "Synced" && r.revision === oneSha),
            250,
        );
        const webhookCommitSeconds = (performance.now() - tc) / 1000;
        await until("every Application Synced again after the single commit", 300, () => appRows(cluster!).every((r) => r.sync === "Synced" && r.health === "Healthy"), 2000);
        const s2 = snapshot();

        // Rollout: one commit changes every even-numbered service; live edits on odd (untouched) ones meanwhile.
        const changed = Array.from({ length: n }, (_, i) => i).filter((i) => i % 2 === 0);
        const changes: Record<string, string> = {};
        for (const i of changed) changes[`services/${svcName(i)}/templates/configmap.yaml`] = serviceFiles(i, "v2")[`services/${svcName(i)}/templates/configmap.yaml`];
        const sha = git.commit(repo, changes, "rollout: half of the services");
        const tr = performance.now();
        const targets = webhookTargets(appInfo(apps), Object.keys(changes));
        const delivered = webhookRefresh(cluster, targets);
        const untouched = sample.map((i) => (i % 2 === 0 ? i + 1 : i)).filter((i) => i < n && i % 2 === 1);
        const during: number[] = [];
        const changedNames = new Set(changed.map((i) => `${svcName(i)}-prod`));
        let rolloutSeconds = NaN;
        const waveDone = () => {
            const rows = appRows(cluster!);
            rows.filter((r) => r.error).forEach((r) => errored.add(r.name));
            return rows.filter((r) => changedNames.has(r.name) && r.sync === "Synced" && r.revision === sha).length === changedNames.size;
        };
        for (const i of untouched) {
            if (waveDone()) break;
            during.push(await selfHeal(cluster, svcName(i), "v1", 600));
        }
        await delivered;
        await until(`the ${changed.length} changed Applications Synced at ${sha.slice(0, 8)}`, 120 + n * 2, () => waveDone(), 2000);
        rolloutSeconds = (performance.now() - tr) / 1000;
        const s3 = snapshot();
        log(`${variant}/${n}: rollout ${rolloutSeconds.toFixed(1)} s; self-heal during it ${during.map((d) => d.toFixed(1)).join(", ")} s`);

        // Commit → live without a webhook: only the periodic refresh (period + jitter) brings it.
        let pollCommit: Latencies | undefined;
        let pollTried = 0;
        if (poll) {
            const polled = [...new Set(Array.from({ length: Math.min(10, Math.floor(n / 2)) }, (_, k) => 2 * Math.floor((k * n) / 20) + 1))].filter((i) => i < n);
            const pollChanges: Record<string, string> = {};
            for (const i of polled) pollChanges[`services/${svcName(i)}/templates/configmap.yaml`] = serviceFiles(i, "v3-poll")[`services/${svcName(i)}/templates/configmap.yaml`];
            git.commit(repo, pollChanges, "poll: ten services, no webhook");
            const tp = performance.now();
            const arrived = new Map<number, number>();
            const jitter = Number(/^(\d+)s$/.exec(settings.env.ARGOCD_RECONCILIATION_JITTER ?? "60s")?.[1] ?? 60);
            // The bound: the refresh period + jitter, plus the repo-server's revision cache (it expires after
            // the same period: a refresh within it resolves `main` to the commit it cached), plus a minute.
            // Applications still waiting at the deadline are reported, not fatal.
            const deadline = 2 * settings.resyncSeconds + jitter + 60;
            try {
                await until(
                    `${polled.length} polled Applications live at the new commit`,
                    deadline,
                    () => {
                        for (const i of polled) if (!arrived.has(i) && liveMessage(cluster!, svcName(i)) === "v3-poll") arrived.set(i, (performance.now() - tp) / 1000);
                        return arrived.size === polled.length;
                    },
                    2000,
                );
            } catch {
                log(`${variant}/${n}: ${polled.length - arrived.size} of ${polled.length} polled Applications not live after ${deadline} s`);
            }
            pollTried = polled.length;
            pollCommit = latencies([...arrived.values()]);
            log(`${variant}/${n}: commit → live by poll p50 ${pollCommit.p50.toFixed(1)} s, max ${pollCommit.max.toFixed(1)} s`);
        }

        return {
            ...cold,
            load: os.loadavg()[0],
            idleHeal: latencies(idle),
            webhookCommitSeconds,
            rolloutHeal: latencies(during),
            ...(pollCommit ? { pollCommit, pollTried } : {}),
            rolloutSeconds,
            rolloutRefreshed: targets.length,
            use: { cold: diff(s0, s1), idle: diff(s1, s2), rollout: diff(s2, s3) },
            peakRssMiB: { controller: peakRssMiB(controllerPid), repoServer: peakRssMiB(repoPid) },
            comparisonErrors: errored.size,
        };
    } finally {
        stopReconcilers(reconcilerDir);
        cluster?.stop();
        git.stop();
        if (!process.env.GITOPS_SCALE_KEEP) fs.rmSync(work, { recursive: true, force: true });
    }
}

function appInfo(apps: readonly Obj[]): { name: string; path: string; generatePaths?: string }[] {
    return apps.map((a) => ({ name: a.metadata.name, path: a.spec.source.path, generatePaths: a.metadata.annotations?.[manifestGeneratePathsAnnotation] }));
}

function option(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
    if (process.argv[2] === "render") return renderChild(Number(process.argv[3]), process.argv[4]);
    const sizes = (option("sizes") ?? "20").split(",").map(Number);
    const variants = (option("variants") ?? "chart,ours").split(",") as ScaleVariant[];
    // Variants measured at the largest size only (e.g. novalidate: a lever, priced where it weighs most).
    const largestOnly = (option("variants-largest") ?? "").split(",").filter((v) => v !== "") as ScaleVariant[];
    const unknown = [...variants, ...largestOnly].filter((v) => !scaleVariants.includes(v));
    if (unknown.length > 0) throw new Error(`unknown variant(s) ${unknown.join(", ")}: use ${scaleVariants.join(", ")}`);
    const poll = process.argv.includes("--poll");
    const samples = Number(option("samples") ?? 10);
    const profileSeconds = Number(option("profile-seconds") ?? 0);
    const coldOnly = process.argv.includes("--cold-only");
    if (!coldOnly && [...variants, ...largestOnly].includes("noenvrule")) throw new Error("noenvrule removes a guardrail: an experiment on the cold start only; add --cold-only");
    const out = option("out");
    const runs: (ScaleRun | ColdRun)[] = [];
    const largest = Math.max(...sizes);
    for (const [k, n] of sizes.entries()) {
        const at = n === largest ? [...variants, ...largestOnly.filter((v) => !variants.includes(v))] : variants;
        // Alternate which variant goes first, so a load change on the machine hits both alike.
        const ordered = k % 2 === 0 ? at : [...at].reverse();
        for (const v of ordered) {
            // The poll waits up to the refresh period + jitter: at the largest size, for the chart and the program.
            runs.push(await runScale(n, v, samples, profileSeconds, poll && n === largest && v !== "novalidate", coldOnly));
            if (out) fs.writeFileSync(out, JSON.stringify(runs, null, 2) + "\n");
        }
    }
    if (!out) process.stdout.write(JSON.stringify(runs) + "\n");
}

if (require.main === module) {
    main().catch((e: Error) => {
        console.error(e.stack ?? e.message);
        process.exit(1);
    });
}
