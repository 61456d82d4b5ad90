/**
 * Argo CD's own reconcilers, out of cluster, against a cluster the program provisioned: redis, the
 * repo-server, the application controller and the ApplicationSet controller of the pinned version
 * (built from Go modules by scripts/toolchain/build-argocd.sh). Each controller authenticates with a
 * TokenRequest token of the ServiceAccount the Argo CD chart created for it, so the chart's RBAC and
 * the admission guardrails see the identities they see in a real install, and the in-cluster
 * destination reaches the same API server with the controller's token (ARGOCD_FAKE_IN_CLUSTER).
 *
 * Used by the reconciler tests (tests/integration) and by the local stack's main job
 * (scripts/commands/run-local.sh), where there is no kubelet to run the chart's pods. `stop` kills only the
 * processes `start` recorded in its directory.
 *
 *   tsx scripts/cluster/reconcilers.ts start <dir> <admin-kubeconfig> [argo-namespace]
 *   tsx scripts/cluster/reconcilers.ts stop <dir>
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

/** ServiceAccounts of the argo-cd chart that the out-of-cluster processes authenticate as. */
export const reconcilerServiceAccounts = {
    controller: "argocd-application-controller",
    applicationSet: "argocd-applicationset-controller",
} as const;

export interface ReconcilerOptions {
    /** Directory for pid files, logs, kubeconfigs and repo-server state (created). */
    readonly dir: string;
    /** Kubeconfig with the right to request ServiceAccount tokens (the cluster admin). */
    readonly adminKubeconfig: string;
    /** @default "argocd" */
    readonly argoNamespace?: string;
    /**
     * How often the controller compares every Application with Git without an event, in seconds
     * (argocd-cm's `timeout.reconciliation` is read only in cluster). @default 180, Argo CD's default
     */
    readonly appResyncSeconds?: number;
    /** ApplicationSet controller's `--allowed-scm-providers` (API URLs the generators may call). @default any */
    readonly allowedScmProviders?: readonly string[];
    /** Extra environment for every process. @default none */
    readonly env?: Readonly<Record<string, string>>;
}

export interface Reconcilers {
    readonly dir: string;
    /** The API server URL and CA (base64 PEM) of the cluster, for registering it as a destination. */
    readonly server: string;
    readonly caData: string;
    /** TokenRequest tokens of the chart's ServiceAccounts (the controller's also goes into the destination). */
    readonly tokens: Readonly<Record<keyof typeof reconcilerServiceAccounts, string>>;
    readonly ports: Readonly<{
        redis: number;
        repoServer: number;
        controllerMetrics: number;
        applicationSetMetrics: number;
        applicationSetWebhook: number;
        applicationSetProbe: number;
    }>;
    /** `http://127.0.0.1:<port>/api/webhook`: where GitHub's pull_request events go. */
    readonly webhookUrl: string;
    /** Log file of a process. */
    logOf(name: ProcessName): string;
    /** Last lines of every log, for failure reports. */
    tails(lines?: number): string;
    stop(): void;
}

export type ProcessName = "redis" | "repo-server" | "application-controller" | "applicationset-controller";

function log(message: string): void {
    console.error(`[reconcilers] ${new Date().toISOString().slice(11, 19)} ${message}`);
}

/** Binaries from the toolchain env (scripts/toolchain/install.sh), with a message naming the fix. */
function argoBin(): string {
    const bin = process.env.GITOPS_ARGOCD_BIN;
    if (!bin || !fs.existsSync(path.join(bin, "argocd-application-controller"))) {
        throw new Error(
            "Argo CD's reconcilers are not built: run `bash scripts/toolchain/install.sh` and source its env file " +
                '(`source "$(bash scripts/toolchain/install.sh --print-env)"`), which sets GITOPS_ARGOCD_BIN',
        );
    }
    return bin;
}

/** True when nothing listens on 127.0.0.1:`port` (a listener of ours opens and closes there). */
function canListen(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.unref();
        server.on("error", () => resolve(false));
        server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
}

/**
 * A free port below Linux's ephemeral range (32768–60999), as scripts/cluster/local-cluster.sh picks
 * its own: a port is chosen here and listened on by a reconciler up to a minute later, and a port of
 * the ephemeral range can meanwhile become the local end of any outgoing connection on this machine
 * (a busy machine makes thousands), which the reconciler then fails to bind.
 */
async function freePort(): Promise<number> {
    for (let attempt = 0; attempt < 200; attempt++) {
        const port = 20000 + Math.floor(Math.random() * 12768);
        if (await canListen(port)) return port;
    }
    throw new Error("no free port in 20000-32767 on 127.0.0.1");
}

function kubectl(kubeconfig: string, args: readonly string[]): string {
    const r = spawnSync("kubectl", ["--kubeconfig", kubeconfig, ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${r.stderr}`);
    return r.stdout.trim();
}

/** A kubeconfig for one ServiceAccount token (no admin credentials in it). */
function writeKubeconfig(file: string, server: string, caData: string, token: string, namespace: string): void {
    const lines = [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: local",
        "  cluster:",
        `    server: ${server}`,
        `    certificate-authority-data: ${caData}`,
        "users:",
        "- name: sa",
        "  user:",
        `    token: ${token}`,
        "contexts:",
        "- name: sa",
        "  context:",
        "    cluster: local",
        "    user: sa",
        `    namespace: ${namespace}`,
        "current-context: sa",
    ];
    fs.writeFileSync(file, lines.join("\n") + "\n", { mode: 0o600 });
}

async function waitFor(what: string, seconds: number, probe: () => Promise<boolean>, tails: () => string): Promise<void> {
    const deadline = Date.now() + seconds * 1000;
    while (Date.now() < deadline) {
        if (await probe()) return;
        await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`timed out after ${seconds}s waiting for ${what}\n${tails()}`);
}

async function httpOk(url: string): Promise<boolean> {
    try {
        const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
        return response.ok;
    } catch {
        return false;
    }
}

async function tcpOpen(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect(port, "127.0.0.1");
        socket.once("connect", () => {
            socket.destroy();
            resolve(true);
        });
        socket.once("error", () => resolve(false));
    });
}

function tail(file: string, lines: number): string {
    if (!fs.existsSync(file)) return "";
    return fs.readFileSync(file, "utf8").split("\n").slice(-lines).join("\n");
}

/** Stops the processes recorded in `dir` (idempotent): SIGTERM to each process group, then SIGKILL. */
export function stopReconcilers(dir: string): void {
    if (!fs.existsSync(dir)) return;
    const pids = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".pid"))
        .map((f) => ({ file: path.join(dir, f), pid: Number(fs.readFileSync(path.join(dir, f), "utf8")) }))
        .filter((p) => Number.isInteger(p.pid) && p.pid > 0);
    const signal = (pid: number, sig: NodeJS.Signals | 0): boolean => {
        try {
            process.kill(-pid, sig);
            return true;
        } catch {
            return false;
        }
    };
    for (const p of pids) signal(p.pid, "SIGTERM");
    const deadline = Date.now() + 5000;
    for (const p of pids) {
        while (Date.now() < deadline && signal(p.pid, 0)) spawnSync("sleep", ["0.1"]);
        signal(p.pid, "SIGKILL");
        fs.rmSync(p.file, { force: true });
    }
}

/** Starts a process in its own group, its output appended to `<dir>/<name>.log`, its pid in `<dir>/<name>.pid` (what stopReconcilers kills). */
function launcher(dir: string, baseEnv: Record<string, string>) {
    return (name: ProcessName, command: string, args: readonly string[], env: Record<string, string> = {}): void => {
        const out = fs.openSync(path.join(dir, `${name}.log`), "a");
        const child = spawn(command, [...args], { detached: true, stdio: ["ignore", out, out], env: { ...baseEnv, ...env }, cwd: dir });
        fs.closeSync(out);
        if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
        fs.writeFileSync(path.join(dir, `${name}.pid`), String(child.pid));
        child.unref();
    };
}

/** Redis and the repo-server, started alone (no cluster needed): what manifest generation needs. */
export interface RepoServer {
    readonly ports: Readonly<{ redis: number; repoServer: number; repoServerMetrics: number }>;
    readonly redisAddress: string;
    /** `127.0.0.1:<port>`: plaintext gRPC (RepoServerService). */
    readonly repoServerAddress: string;
    logOf(name: "redis" | "repo-server"): string;
    tails(lines?: number): string;
    stop(): void;
}

/**
 * Starts redis and Argo CD's repo-server (plaintext gRPC on loopback) and waits until both answer.
 * startReconcilers runs it first; tests/integration/configCheck.test.ts calls the repo-server's
 * GenerateManifest directly. `stop` kills only what it started (pid files in `dir`).
 */
export async function startRepoServer(options: { readonly dir: string; readonly env?: Readonly<Record<string, string>> }): Promise<RepoServer> {
    const bin = argoBin();
    const dir = path.resolve(options.dir);
    fs.mkdirSync(dir, { recursive: true });
    const ports = { redis: await freePort(), repoServer: await freePort(), repoServerMetrics: await freePort() };
    const state = (name: string) => {
        const d = path.join(dir, "repo-server", name);
        fs.mkdirSync(d, { recursive: true });
        return d;
    };
    const toolPath = [bin, ...(process.env.PATH ?? "").split(":")].join(":");
    const baseEnv: Record<string, string> = { ...(process.env as Record<string, string>), PATH: toolPath, ...options.env };
    const logOf = (name: "redis" | "repo-server") => path.join(dir, `${name}.log`);
    const tails = (lines = 30) => (["redis", "repo-server"] as const).map((n) => `--- ${n} (${logOf(n)}) ---\n${tail(logOf(n), lines)}`).join("\n");
    const launch = launcher(dir, baseEnv);
    const redisAddress = `127.0.0.1:${ports.redis}`;
    const repoServerAddress = `127.0.0.1:${ports.repoServer}`;
    const stop = () => stopReconcilers(dir);
    try {
        log(`redis on ${redisAddress}`);
        launch("redis", "redis-server", ["--port", String(ports.redis), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        await waitFor("redis", 20, () => tcpOpen(ports.redis), tails);

        log(`repo-server on ${repoServerAddress}`);
        launch(
            "repo-server",
            path.join(bin, "argocd-repo-server"),
            [
                "--port",
                String(ports.repoServer),
                "--metrics-port",
                String(ports.repoServerMetrics),
                "--address",
                "127.0.0.1",
                "--redis",
                redisAddress,
                "--disable-tls",
                "--client-ca-path",
                "",
                "--loglevel",
                "info",
            ],
            {
                ARGOCD_GPG_ENABLED: "false",
                ARGOCD_SSH_DATA_PATH: state("ssh"),
                ARGOCD_TLS_DATA_PATH: state("tls"),
                ARGOCD_GNUPGHOME: state("gnupg"),
                ARGOCD_GPG_DATA_PATH: state("gpg"),
                ARGOCD_PLUGINSOCKFILEPATH: state("plugins"),
                ARGOCD_APP_CONF_PATH: state("app-conf"),
                // Where git's credential helper (this binary as argocd-git-ask-pass) asks for credentials.
                ARGOCD_ASK_PASS_SOCK: path.join(state("askpass"), "askpass.sock"),
                TMPDIR: state("tmp"),
            },
        );
        await waitFor("repo-server", 60, () => httpOk(`http://127.0.0.1:${ports.repoServerMetrics}/metrics`), tails);
    } catch (error) {
        stop();
        throw error;
    }
    return { ports, redisAddress, repoServerAddress, logOf, tails, stop };
}

/**
 * Starts redis, repo-server, application controller and ApplicationSet controller, and waits until
 * each answers. The chart's ServiceAccounts must exist (run the stack's first `up` before).
 */
export async function startReconcilers(options: ReconcilerOptions): Promise<Reconcilers> {
    const bin = argoBin();
    const dir = path.resolve(options.dir);
    const namespace = options.argoNamespace ?? "argocd";
    fs.mkdirSync(dir, { recursive: true });
    const server = kubectl(options.adminKubeconfig, ["config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"]);
    const caData = kubectl(options.adminKubeconfig, ["config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}"]);
    const tokens = Object.fromEntries(
        Object.entries(reconcilerServiceAccounts).map(([key, sa]) => [key, kubectl(options.adminKubeconfig, ["create", "token", sa, "-n", namespace, "--duration", "48h"])]),
    ) as Record<keyof typeof reconcilerServiceAccounts, string>;
    const kubeconfigs = Object.fromEntries(
        Object.entries(tokens).map(([key, token]) => {
            const file = path.join(dir, `${key}.kubeconfig`);
            writeKubeconfig(file, server, caData, token, namespace);
            return [key, file];
        }),
    ) as Record<keyof typeof reconcilerServiceAccounts, string>;

    const ports = {
        controllerMetrics: await freePort(),
        applicationSetMetrics: await freePort(),
        applicationSetWebhook: await freePort(),
        applicationSetProbe: await freePort(),
    };
    const toolPath = [bin, ...(process.env.PATH ?? "").split(":")].join(":");
    const baseEnv: Record<string, string> = { ...(process.env as Record<string, string>), PATH: toolPath, ...options.env };
    const logOf = (name: ProcessName) => path.join(dir, `${name}.log`);
    const tails = (lines = 30) =>
        (["redis", "repo-server", "application-controller", "applicationset-controller"] as const).map((n) => `--- ${n} (${logOf(n)}) ---\n${tail(logOf(n), lines)}`).join("\n");
    const launch = launcher(dir, baseEnv);
    // Stops what it started if it fails.
    const repo = await startRepoServer({ dir, ...(options.env ? { env: options.env } : {}) });
    const { redisAddress, repoServerAddress } = repo;
    try {
        log("application controller");
        // Argo CD's own switch for running out of cluster: the in-cluster destination
        // (https://kubernetes.default.svc) is reached through KUBECONFIG, here the controller's
        // own ServiceAccount token, so in-cluster Applications work unchanged.
        const inCluster = { ARGOCD_FAKE_IN_CLUSTER: "true", KUBECONFIG: kubeconfigs.controller };
        launch(
            "application-controller",
            path.join(bin, "argocd-application-controller"),
            [
                "--kubeconfig",
                kubeconfigs.controller,
                "--namespace",
                namespace,
                "--redis",
                redisAddress,
                "--repo-server",
                repoServerAddress,
                "--repo-server-plaintext",
                "--metrics-port",
                String(ports.controllerMetrics),
                "--app-resync",
                String(options.appResyncSeconds ?? 180),
                "--loglevel",
                "info",
            ],
            inCluster,
        );
        await waitFor("application controller metrics", 90, () => httpOk(`http://127.0.0.1:${ports.controllerMetrics}/metrics`), tails);

        log("ApplicationSet controller");
        launch(
            "applicationset-controller",
            path.join(bin, "argocd-applicationset-controller"),
            [
                "--kubeconfig",
                kubeconfigs.applicationSet,
                "--namespace",
                namespace,
                "--argocd-repo-server",
                repoServerAddress,
                "--repo-server-plaintext",
                "--metrics-addr",
                `127.0.0.1:${ports.applicationSetMetrics}`,
                "--probe-addr",
                `127.0.0.1:${ports.applicationSetProbe}`,
                "--webhook-addr",
                `127.0.0.1:${ports.applicationSetWebhook}`,
                ...(options.allowedScmProviders ? ["--allowed-scm-providers", options.allowedScmProviders.join(",")] : []),
                "--enable-leader-election=false",
                "--loglevel",
                "info",
                // Its manager reads the kubeconfig through controller-runtime (KUBECONFIG), not --kubeconfig.
            ],
            { KUBECONFIG: kubeconfigs.applicationSet },
        );
        // v3.6.1 registers no health check on its probe address (/healthz answers 404): wait for its
        // metrics and its webhook listener instead.
        await waitFor(
            "ApplicationSet controller",
            90,
            async () => (await httpOk(`http://127.0.0.1:${ports.applicationSetMetrics}/metrics`)) && (await tcpOpen(ports.applicationSetWebhook)),
            tails,
        );
    } catch (error) {
        stopReconcilers(dir);
        throw error;
    }
    log(`ready: controller metrics http://127.0.0.1:${ports.controllerMetrics}/metrics; logs in ${dir}`);
    return {
        dir,
        server,
        caData,
        tokens,
        ports: { ...ports, redis: repo.ports.redis, repoServer: repo.ports.repoServer },
        webhookUrl: `http://127.0.0.1:${ports.applicationSetWebhook}/api/webhook`,
        logOf,
        tails,
        stop: () => stopReconcilers(dir),
    };
}

async function main(): Promise<void> {
    const [action, dir, adminKubeconfig, argoNamespace] = process.argv.slice(2);
    if (action === "stop" && dir) {
        stopReconcilers(dir);
        return;
    }
    if (action === "start" && dir && adminKubeconfig) {
        const r = await startReconcilers({ dir, adminKubeconfig, ...(argoNamespace ? { argoNamespace } : {}) });
        // Machine-readable for the caller (run-local.sh): the destination's URL, CA and token.
        fs.writeFileSync(path.join(r.dir, "destination.json"), JSON.stringify({ server: r.server, caData: r.caData, token: r.tokens.controller }), { mode: 0o600 });
        return;
    }
    console.error("usage: tsx scripts/cluster/reconcilers.ts start <dir> <admin-kubeconfig> [argo-namespace] | stop <dir>");
    process.exit(2);
}

if (require.main === module) {
    main().catch((error: Error) => {
        console.error(error.message);
        process.exit(1);
    });
}
