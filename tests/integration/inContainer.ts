/**
 * Runs the container of a workload the program renders (a CronJob's or a Deployment's) the way its
 * kubelet would, as far as a host process can: there is no kubelet here, so the process runs on the
 * host, but with what the pod would get.
 *
 * - Command, arguments and environment: the container's, read back from the API server after
 *   applying the component's own render (renderComponent); nothing copied into the test. A test may
 *   set named variables on top (each test says why: a TTL of 0, a clock).
 * - Identity: the service account's REAL token (TokenRequest, `kubectl create token`), so the API
 *   server sees its user and its groups (system:serviceaccounts, system:serviceaccounts:<ns>,
 *   system:authenticated) as in the pod; no impersonation.
 * - In-cluster configuration, no kubeconfig: the token, `ca.crt` and `namespace` mounted read-only
 *   at /var/run/secrets/kubernetes.io/serviceaccount, KUBERNETES_SERVICE_HOST/PORT pointing at the
 *   local API server (127.0.0.1: its serving certificate is valid for it), so plain `kubectl` takes
 *   the in-cluster path exactly as in the pod.
 * - The image's environment: HOME=/ and PATH with /opt/bitnami/kubectl/bin first, as
 *   bitnami/kubectl sets them; the host's kubectl is mounted there (the image itself cannot be
 *   pulled: no registry for images here).
 * - The pod's securityContext: `runAsUser` (65532; group 0, as the runtime gives a user the image
 *   does not know), no capabilities (bounding set empty), no_new_privs (allowPrivilegeEscalation:
 *   false), and `readOnlyRootFilesystem: true` as a mount namespace whose every mount is read-only
 *   (so HOME, cwd and /tmp are not writable); a PID namespace of its own (the script sees only its
 *   own processes).
 *
 * Not mimicked: the image's own files (host sh, date and kubectl instead), the RuntimeDefault
 * seccomp profile, the network namespace (the host's loopback is needed to reach the API server),
 * resource limits, and the Job/Deployment controllers (no pods: a test runs the container itself).
 * Needs root (mount and PID namespaces); CI and the development machines run as root.
 */
import { ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, settle } from "../../scripts/lib/mockRuntime";
import { toManifest } from "../../scripts/commands/render";
import { LocalCluster, kubectl, kubectlOk, step } from "./support";

/** The Kubernetes objects a component renders, as `npm run render` prints them (Pulumi mocks). */
export async function renderComponent(build: () => pulumi.ComponentResource): Promise<Record<string, unknown>[]> {
    const recorded = installMocks("local");
    build();
    await settle(recorded);
    return recorded.map(toManifest).filter((m): m is Record<string, unknown> => m !== undefined);
}

interface EnvVar {
    readonly name: string;
    readonly value?: string;
    readonly valueFrom?: unknown;
}

interface PodSpec {
    readonly serviceAccountName?: string;
    readonly securityContext?: { readonly runAsUser?: number; readonly runAsGroup?: number };
    readonly containers: readonly {
        readonly name: string;
        readonly command?: readonly string[];
        readonly args?: readonly string[];
        readonly env?: readonly EnvVar[];
        readonly securityContext?: { readonly runAsUser?: number; readonly runAsGroup?: number; readonly readOnlyRootFilesystem?: boolean };
    }[];
}

/** A workload's container as its pod would run it. */
export interface PodContainer {
    readonly workload: string;
    readonly namespace: string;
    readonly serviceAccountName: string;
    readonly command: readonly string[];
    readonly env: Readonly<Record<string, string>>;
    readonly runAsUser: number;
    readonly runAsGroup: number;
    readonly readOnlyRootFilesystem: boolean;
}

/** The (only) container of a CronJob or Deployment, read from the API server. */
export function podContainer(cluster: LocalCluster, kind: "cronjob" | "deployment", name: string, namespace: string): PodContainer {
    const object = JSON.parse(kubectlOk(cluster, ["get", kind, name, "-n", namespace, "-o", "json"])) as {
        spec: { template?: { spec: PodSpec }; jobTemplate?: { spec: { template: { spec: PodSpec } } } };
    };
    const pod = kind === "cronjob" ? object.spec.jobTemplate!.spec.template.spec : object.spec.template!.spec;
    if (pod.containers.length !== 1) throw new Error(`${kind}/${name} has ${pod.containers.length} containers; this runner takes one`);
    const [c] = pod.containers;
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) {
        if (e.value === undefined) throw new Error(`${kind}/${name}: env ${e.name} is not a plain value (valueFrom is not modelled here)`);
        env[e.name] = e.value;
    }
    const runAsUser = c.securityContext?.runAsUser ?? pod.securityContext?.runAsUser;
    if (runAsUser === undefined || runAsUser === 0) throw new Error(`${kind}/${name} does not run as a non-root user: refusing to run it as root`);
    return {
        workload: `${kind}/${name}`,
        namespace,
        serviceAccountName: pod.serviceAccountName ?? "default",
        // Kubernetes: `command` replaces the image's entrypoint, `args` its CMD.
        command: [...(c.command ?? []), ...(c.args ?? [])],
        env,
        runAsUser,
        runAsGroup: c.securityContext?.runAsGroup ?? pod.securityContext?.runAsGroup ?? 0,
        readOnlyRootFilesystem: c.securityContext?.readOnlyRootFilesystem === true,
    };
}

/** A kubectl that authenticates with a service account's real token (for probes of its fences). */
export function serviceAccountKubectl(cluster: LocalCluster, namespace: string, account: string): (args: readonly string[], input?: string) => ReturnType<typeof kubectl> {
    const dir = tokenDir(cluster, namespace, account);
    const config = path.join(dir, "..", "kubeconfig");
    if (!fs.existsSync(config)) {
        const ca = fs.readFileSync(path.join(dir, "ca.crt")).toString("base64");
        const token = fs.readFileSync(path.join(dir, "token"), "utf8");
        fs.writeFileSync(
            config,
            JSON.stringify({
                apiVersion: "v1",
                kind: "Config",
                clusters: [{ name: "local", cluster: { server: apiServer(cluster).url, "certificate-authority-data": ca } }],
                users: [{ name: account, user: { token } }],
                contexts: [{ name: account, context: { cluster: "local", user: account, namespace } }],
                "current-context": account,
            }),
            { mode: 0o600 },
        );
    }
    return (args, input) => {
        const r = spawnSync("kubectl", ["--kubeconfig", config, ...args], { encoding: "utf8", input });
        return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
    };
}

function apiServer(cluster: LocalCluster): { url: string; port: string } {
    const env = fs.readFileSync(path.join(cluster.dir, "cluster.env"), "utf8");
    const port = /^LOCAL_CLUSTER_API_PORT=(\d+)$/m.exec(env)?.[1];
    if (!port) throw new Error(`no LOCAL_CLUSTER_API_PORT in ${cluster.dir}/cluster.env`);
    return { url: `https://127.0.0.1:${port}`, port };
}

/**
 * The service account's projected volume as the kubelet writes it (token, ca.crt, namespace),
 * with a token from the TokenRequest API; made once per account and cluster.
 */
function tokenDir(cluster: LocalCluster, namespace: string, account: string): string {
    const dir = path.join(cluster.dir, "pods", `${namespace}.${account}`, "serviceaccount");
    if (fs.existsSync(path.join(dir, "token"))) return dir;
    fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
    // The volume is mounted by the namespace's setup; its directories must be traversable by the pod's user.
    for (let d = dir; d !== cluster.dir; d = path.dirname(d)) fs.chmodSync(d, 0o755);
    const token = kubectlOk(cluster, ["create", "token", account, "-n", namespace, "--duration", "1h"]).trim();
    fs.writeFileSync(path.join(dir, "token"), token, { mode: 0o644 });
    fs.copyFileSync(path.join(cluster.dir, "certs", "apiserver.crt"), path.join(dir, "ca.crt"));
    fs.chmodSync(path.join(dir, "ca.crt"), 0o644);
    fs.writeFileSync(path.join(dir, "namespace"), namespace, { mode: 0o644 });
    return dir;
}

/** bitnami/kubectl's PATH (its kubectl first) and HOME. */
const imagePath = "/opt/bitnami/kubectl/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * Runs as root in the new mount and PID namespaces, then becomes the pod's user: mounts the
 * service-account volume and the kubectl directory, makes every mount read-only when the container
 * asks for a read-only root, and execs the container's command with exactly the given environment.
 */
const setup = `set -eu
sa="$1"; bin="$2"; readonly_root="$3"; uid="$4"; gid="$5"; shift 5
mount -t tmpfs -o mode=0755,size=1m tmpfs /run
mkdir -p /run/secrets/kubernetes.io/serviceaccount
mount --bind "$sa" /run/secrets/kubernetes.io/serviceaccount
mount -o remount,bind,ro /run/secrets/kubernetes.io/serviceaccount
mount -o remount,ro /run
mount -t tmpfs -o mode=0755,size=1m tmpfs /opt
mkdir -p /opt/bitnami/kubectl/bin
mount --bind "$bin" /opt/bitnami/kubectl/bin
mount -o remount,bind,ro /opt/bitnami/kubectl/bin
mount -o remount,ro /opt
if [ "$readonly_root" = true ]; then
  # Every other mount read-only too (/tmp, /dev/shm, ...), as an image layer under readOnlyRootFilesystem.
  findmnt -rn -o TARGET | while read -r target; do
    case "$target" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) continue ;; esac
    mount -o remount,bind,ro "$target" 2>/dev/null || true
  done
  mount -o remount,bind,ro /
fi
cd /
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups --inh-caps=-all --bounding-set=-all --no-new-privs -- env -i "$@"
`;

export interface RunOptions {
    /** Run this instead of the container's command (e.g. one pass of a loop); the test says why. */
    readonly command?: readonly string[];
    /** Variables set on top of the rendered environment; the test says why. */
    readonly env?: Readonly<Record<string, string>>;
}

function invocation(cluster: LocalCluster, container: PodContainer, options: RunOptions): string[] {
    if (process.getuid?.() !== 0) throw new Error("running a container's command as its pod would needs root (mount and PID namespaces); CI and the dev machines run as root");
    const kubectlPath = spawnSync("sh", ["-c", "command -v kubectl"], { encoding: "utf8" }).stdout.trim();
    if (!kubectlPath) throw new Error("kubectl is not on PATH");
    const { port } = apiServer(cluster);
    const env: Record<string, string> = {
        PATH: imagePath,
        HOME: "/",
        HOSTNAME: `${container.workload.split("/")[1]}-pod`,
        // What the kubelet injects for the `kubernetes` Service; the in-cluster config reads the first two.
        KUBERNETES_SERVICE_HOST: "127.0.0.1",
        KUBERNETES_SERVICE_PORT: port,
        KUBERNETES_SERVICE_PORT_HTTPS: port,
        KUBERNETES_PORT: `tcp://127.0.0.1:${port}`,
        ...container.env,
        ...options.env,
    };
    const command = options.command ?? container.command;
    if (command.length === 0) throw new Error(`${container.workload} has no command: the image's entrypoint is not modelled here`);
    return [
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "--mount-proc",
        "--",
        "sh",
        "-c",
        setup,
        "setup",
        tokenDir(cluster, container.namespace, container.serviceAccountName),
        path.dirname(fs.realpathSync(kubectlPath)),
        String(container.readOnlyRootFilesystem),
        String(container.runAsUser),
        String(container.runAsGroup),
        ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
        ...command,
    ];
}

/** A container's process: unshare, whose child is the PID namespace's first process. */
function launch(cluster: LocalCluster, container: PodContainer, options: RunOptions) {
    const child: ChildProcess = spawn("unshare", invocation(cluster, container, options), { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
    // Killing unshare alone would leave the namespace running (a parent-death signal, unshare's
    // --kill-child, does not survive the change to the pod's uid): SIGKILL the namespace's first
    // process by its pid, which ends every process in the namespace.
    const kill = () => {
        const pid = child.pid;
        if (pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
        let children: string[] = [];
        try {
            children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
        } catch {
            // unshare has already exited
        }
        for (const c of children) process.kill(Number(c), "SIGKILL");
        child.kill("SIGKILL");
    };
    return { exited, kill, stdout: () => stdout, stderr: () => stderr };
}

/** Runs the container's command to completion (a CronJob's job), as its pod would; killed after `timeoutSeconds`. */
export async function runContainer(
    cluster: LocalCluster,
    container: PodContainer,
    options: RunOptions = {},
    timeoutSeconds = 120,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const p = launch(cluster, container, options);
    const timer = setTimeout(p.kill, timeoutSeconds * 1000);
    const status = await p.exited;
    clearTimeout(timer);
    step(`${container.workload} as ${container.serviceAccountName} (uid ${container.runAsUser}): exit ${status}\n${p.stdout()}${p.stderr()}`);
    return { status, stdout: p.stdout(), stderr: p.stderr() };
}

/** Starts the container's command in the background (a Deployment's loop); stop() ends it and every process it started. */
export function startContainer(cluster: LocalCluster, container: PodContainer, options: RunOptions = {}): { readonly output: () => string; stop(): Promise<void> } {
    const p = launch(cluster, container, options);
    return {
        output: () => p.stdout() + p.stderr(),
        stop: async () => {
            p.kill();
            await p.exited;
        },
    };
}
