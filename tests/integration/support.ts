/**
 * Integration-test support: a throw-away local API server, kubectl against it, and the `local`
 * Pulumi stack on a file backend in a temp dir, driven through the Automation API with the real
 * CLI and plugins (see scripts/toolchain/).
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Stack } from "@pulumi/pulumi/automation";
import { StackOptions, openStack } from "../../scripts/lib/engine";
import { crdFiles } from "../../components/argocd/ArgoCd";
import { crdSource } from "../../stacks/chart";

export const repoRoot = path.resolve(__dirname, "..", "..");
/** Public passphrase of the local stack's secrets (see Pulumi.local.yaml). */
export const localPassphrase = "gitops-control-local";
/** The placeholder token stored encrypted in Pulumi.local.yaml. */
export const localToken = "local-placeholder-token";

export function step(message: string): void {
    console.log(`[integration] ${new Date().toISOString().slice(11, 19)} ${message}`);
}

export interface LocalCluster {
    readonly dir: string;
    readonly kubeconfig: string;
    stop(): void;
}

/**
 * The options scripts/cluster/local-cluster.sh reads (see its header). Typed, so a renamed or misspelt
 * option is a compile error instead of a variable the script silently ignores (a test once asked
 * for the deployment controller by an old name and waited for rollouts that nothing reported).
 */
export interface LocalClusterOptions {
    /** "1": write <dir>/audit.log. */
    readonly LOCAL_CLUSTER_AUDIT_LOG?: "1";
    /** "1": also run the deployment, replicaset, HPA, endpoints, endpointslice and endpointslice-mirroring controllers, each as its own service account. */
    readonly LOCAL_CLUSTER_WORKLOAD_CONTROLLERS?: "1";
    /** "1": also run the service-account token controller (fills service-account-token Secrets). */
    readonly LOCAL_CLUSTER_TOKEN_CONTROLLER?: "1";
    /** "1": no controller-manager at all. */
    readonly LOCAL_CLUSTER_NO_CONTROLLER_MANAGER?: "1";
    /** Seconds to wait for readiness (default 120). */
    readonly LOCAL_CLUSTER_TIMEOUT?: string;
}

/** Starts etcd + kube-apiserver (+ controller-manager) on loopback; stop() kills only those. */
export function startCluster(env: LocalClusterOptions = {}): LocalCluster {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-cluster-"));
    const script = path.join(repoRoot, "scripts", "cluster", "local-cluster.sh");
    step(`starting local API server in ${dir}`);
    const result = spawnSync("bash", [script, "start", dir], { encoding: "utf8", stdio: ["ignore", "inherit", "inherit"], env: { ...process.env, ...env } });
    const stop = () => {
        spawnSync("bash", [script, "stop", dir], { stdio: "inherit" });
        fs.rmSync(dir, { recursive: true, force: true });
    };
    if (result.status !== 0) {
        stop();
        throw new Error(`local cluster failed to start (exit ${result.status})`);
    }
    return { dir, kubeconfig: path.join(dir, "kubeconfig"), stop };
}

export interface KubectlResult {
    readonly code: number;
    readonly stdout: string;
    readonly stderr: string;
}

/** Runs kubectl against the cluster; never throws (tests assert on the result). */
export function kubectl(cluster: LocalCluster, args: readonly string[], input?: string): KubectlResult {
    const r = spawnSync("kubectl", ["--kubeconfig", cluster.kubeconfig, ...args], { encoding: "utf8", input });
    return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** kubectl that must succeed; returns stdout. */
export function kubectlOk(cluster: LocalCluster, args: readonly string[], input?: string): string {
    const r = kubectl(cluster, args, input);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
}

/** `kubectl apply` of `items` as one List (one request per object, one kubectl run); must succeed. */
export function applyList(cluster: LocalCluster, items: readonly object[], args: readonly string[] = []): string {
    return kubectlOk(cluster, ["apply", ...args, "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }));
}

/** A pod spec every guardrail admits: non-root, RuntimeDefault seccomp, pinned image, resources, no privileges. */
export function compliantPodSpec(): Record<string, unknown> {
    return {
        securityContext: { runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } },
        containers: [
            {
                name: "web",
                image: "nginx:1.27.3",
                resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
                securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
            },
        ],
    };
}

/** Polls `probe` until it returns true or `seconds` pass. */
export async function eventually(what: string, seconds: number, probe: () => boolean): Promise<void> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
        if (probe()) return;
        await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`timed out after ${seconds}s waiting for ${what}`);
}

/**
 * Argo CD's CRDs at the pinned version, as the local stack installs them (stacks/chart.ts
 * `crdSource`: the fixture beside a development checkout, else the toolchain's copy).
 */
export function argoCdCrds(): string {
    const source = crdSource({ environment: "local", argocd: { namespace: "argocd" } }, repoRoot);
    if (!source || source.kind === "stack")
        throw new Error("no Argo CD CRDs: neither ../shared/fixtures nor GITOPS_ARGOCD_CRDS has them. Fix: source the toolchain env (scripts/toolchain/install.sh --print-env)");
    return crdFiles(source)
        .map((file) => fs.readFileSync(file, "utf8"))
        .join("\n---\n");
}

/**
 * The local API server with Argo CD's CRDs installed up front (no chart): Applications, AppProjects
 * and ApplicationSets are dry-run and stored against their real schemas.
 */
export function startClusterWithArgoCdCrds(): LocalCluster {
    const cluster = startCluster();
    try {
        kubectlOk(cluster, ["apply", "--server-side", "-f", "-"], argoCdCrds());
        // Established once each kind is served.
        const deadline = Date.now() + 60_000;
        while (kubectl(cluster, ["get", "applications.argoproj.io,appprojects.argoproj.io,applicationsets.argoproj.io", "-A"]).code !== 0) {
            if (Date.now() > deadline) throw new Error("Argo CD CRDs not served after 60 s");
            spawnSync("sleep", ["0.5"]);
        }
    } catch (e) {
        cluster.stop();
        throw e;
    }
    return cluster;
}

export interface LocalStack {
    readonly stack: Stack;
    readonly stateDir: string;
    /** Engine output of every operation, for the failure report. */
    readonly log: string[];
    /** Its CRD stack `local-crds`, on the same backend (opened when asked for). */
    crdStack(): Promise<Stack>;
    remove(): void;
}

/**
 * The `local` stack of this project on a fresh file backend, pointed at the cluster, after its CRD
 * stack (`local-crds`, up once per backend, first, as scripts/commands/run-local.sh runs them). Their
 * state dies with the test: saved at the end of each operation, not after every step
 * (`disposableState`). `program` replaces stack config for every run of this stack object (see
 * StackOptions).
 */
export async function openLocalStack(cluster: LocalCluster, program: Pick<StackOptions, "configOverrides" | "secretOverrides"> = {}, stateDir?: string): Promise<LocalStack> {
    stateDir ??= fs.mkdtempSync(path.join(os.tmpdir(), "gitops-control-state-"));
    step(`file backend in ${stateDir}`);
    const common = { backendUrl: `file://${stateDir}`, passphrase: localPassphrase, kubeconfig: cluster.kubeconfig, disposableState: true };
    const crdStack = () => openStack({ stackName: "local-crds", ...common });
    if (!fs.existsSync(path.join(stateDir, ".pulumi", "stacks", "gitops-control", "local-crds.json"))) {
        const t0 = Date.now();
        await (await crdStack()).up();
        step(`pulumi up of the CRD stack (local-crds) in ${Math.round((Date.now() - t0) / 1000)}s`);
    }
    const stack = await openStack({ stackName: "local", ...common, ...program });
    return {
        stack,
        stateDir,
        log: [],
        crdStack,
        remove: () => fs.rmSync(stateDir, { recursive: true, force: true }),
    };
}

/** JSON paths under which `needle` occurs in `value` (for "where did the secret leak" reports). */
export function pathsContaining(value: unknown, needle: string, at = "$"): string[] {
    if (typeof value === "string") return value.includes(needle) ? [at] : [];
    if (Array.isArray(value)) return value.flatMap((v, i) => pathsContaining(v, needle, `${at}[${i}]`));
    if (value !== null && typeof value === "object") {
        return Object.entries(value).flatMap(([k, v]) => pathsContaining(v, needle, `${at}.${k}`));
    }
    return [];
}

/** The stack's checkpoint as the file backend stores it (secrets encrypted). */
export function readStateFile(stateDir: string): unknown {
    const dir = path.join(stateDir, ".pulumi", "stacks", "gitops-control");
    const file = fs.readdirSync(dir).find((f) => f === "local.json");
    if (!file) throw new Error(`no state file for stack local in ${dir}: ${fs.readdirSync(dir).join(", ")}`);
    return JSON.parse(fs.readFileSync(path.join(dir, file), "utf8"));
}

/** Convergence times of a test file, printed as `[measure]` lines and summarised at the end. */
export class Measurements {
    readonly values: Record<string, number> = {};

    /** Records and prints the seconds since `since` (epoch ms), to 0.1 s. */
    measure(what: string, since: number): number {
        const seconds = Math.round((Date.now() - since) / 100) / 10;
        this.values[what] = seconds;
        step(`[measure] ${what}: ${seconds}s`);
        return seconds;
    }

    summary(): string {
        return `[measure] summary ${JSON.stringify(this.values)}`;
    }
}
