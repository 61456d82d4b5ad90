/**
 * CEL guardrail benchmark (a script, not a test): object checks per second for the full rule set
 * of defaultRules() over 10k generated objects, the load of `policy:check` on a large repository.
 * One object check = building its admission request and evaluating every rule against it.
 *
 *   npm run bench:cel [-- --objects 10000 --rounds 5]
 *
 * Target: ≥ 40k object checks/s. Also prints raw CEL evaluations/s of one container-image check.
 */
import { GuardrailEvaluator, KubeObject, admissionRequest, compileRule, toCel } from "../scripts/lib/policyEvaluator";
import { defaultRules, disallowLatestImage } from "../components/guardrails/rules";

const target = 40_000;

function flag(name: string, fallback: number): number {
    const i = process.argv.indexOf(`--${name}`);
    const value = i >= 0 ? Number(process.argv[i + 1]) : fallback;
    if (!Number.isInteger(value) || value <= 0) throw new Error(`--${name} must be a whole number > 0`);
    return value;
}

/** Deterministic pseudo-random numbers (mulberry32), so every run checks the same objects. */
function random(seed: number): () => number {
    let a = seed;
    return () => {
        a = (a + 0x6d2b79f5) | 0;
        let t = Math.imul(a ^ (a >>> 15), 1 | a);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const images = ["nginx:1.27.3", "acme/web:2.4.1", "registry.internal:5000/acme/api:7.0.0", `acme/worker@sha256:${"ab12".repeat(16)}`, "nginx:latest", "busybox"];

/** A mix like a real repository: mostly compliant workloads, some violations, config and Applications. */
function generate(count: number): KubeObject[] {
    const next = random(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)];
    const objects: KubeObject[] = [];
    for (let i = 0; i < count; i++) {
        const name = `svc-${i}`;
        const labels: Record<string, string> =
            next() < 0.9 ? { "app.kubernetes.io/name": name, "gitops-control.io/team": pick(["payments", "search", "identity"]) } : { "app.kubernetes.io/name": name };
        const metadata = { name, namespace: `team-${i % 50}`, labels };
        const container = (n: string) => ({
            name: n,
            image: next() < 0.85 ? pick(images.slice(0, 4)) : pick(images),
            ...(next() < 0.9 ? { resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } } } : {}),
            ...(next() < 0.03
                ? { securityContext: { privileged: true } }
                : next() < 0.95
                  ? { securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } } }
                  : {}),
        });
        const podSpec = {
            ...(next() < 0.93 ? { securityContext: { runAsNonRoot: true, ...(next() < 0.95 ? { seccompProfile: { type: "RuntimeDefault" } } : {}) } } : {}),
            ...(next() < 0.02 ? { hostNetwork: true } : {}),
            ...(next() < 0.3 ? { initContainers: [container("init")] } : {}),
            containers: next() < 0.3 ? [container("app"), container("sidecar")] : [container("app")],
            ...(next() < 0.2 ? { volumes: [{ name: "cache", emptyDir: {} }, ...(next() < 0.1 ? [{ name: "host", hostPath: { path: "/var/log" } }] : [])] } : {}),
        };
        const template = { metadata: { labels }, spec: podSpec };
        const kind = next();
        if (kind < 0.55) {
            objects.push({
                apiVersion: "apps/v1",
                kind: "Deployment",
                metadata,
                spec: { replicas: Math.floor(next() * 30) + 1, selector: { matchLabels: { "app.kubernetes.io/name": name } }, template },
            });
        } else if (kind < 0.65) {
            objects.push({
                apiVersion: "apps/v1",
                kind: "StatefulSet",
                metadata,
                spec: { replicas: 3, serviceName: name, selector: { matchLabels: { "app.kubernetes.io/name": name } }, template },
            });
        } else if (kind < 0.7) {
            objects.push({
                apiVersion: "batch/v1",
                kind: "CronJob",
                metadata,
                spec: { schedule: "0 3 * * *", jobTemplate: { spec: { template: { ...template, spec: { restartPolicy: "OnFailure", ...podSpec } } } } },
            });
        } else if (kind < 0.8) {
            objects.push({ apiVersion: "v1", kind: "ConfigMap", metadata, data: { LOG_LEVEL: "info" } });
        } else if (kind < 0.9) {
            objects.push({ apiVersion: "v1", kind: "Service", metadata, spec: { selector: { "app.kubernetes.io/name": name }, ports: [{ port: 80 }] } });
        } else {
            const automated = next() < 0.9 ? { enabled: true, prune: true, selfHeal: true, allowEmpty: false } : { prune: false, selfHeal: true };
            objects.push({
                apiVersion: "argoproj.io/v1alpha1",
                kind: "Application",
                metadata: { name, namespace: "argocd", labels: { "gitops-control.io/environment": pick(["prod", "prod", "staging"]) } },
                spec: { project: "default", destination: { namespace: `${name}-prod` }, syncPolicy: { automated } },
            });
        }
    }
    return objects;
}

function main(): void {
    const count = flag("objects", 10_000);
    const rounds = flag("rounds", 5);
    const rules = defaultRules();
    let t = performance.now();
    const evaluator = new GuardrailEvaluator(rules);
    const compileMs = performance.now() - t;
    const objects = generate(count);
    const namespaceLabels = { "gitops-control.io/environment": "prod" };

    // Wall time and this process's CPU time per round: on a shared machine the wall time includes
    // waiting for a core; the CPU time is the evaluator's own cost.
    const once = (): { ms: number; cpuMs: number; denied: number } => {
        let denied = 0;
        const start = performance.now();
        const cpu0 = process.cpuUsage();
        for (const object of objects) {
            for (const d of evaluator.evaluate(admissionRequest(object, { namespaceLabels }))) if (d.verdict === "Deny") denied++;
        }
        const cpu = process.cpuUsage(cpu0);
        return { ms: performance.now() - start, cpuMs: (cpu.user + cpu.system) / 1000, denied };
    };
    once(); // warm-up: JIT and lazily built structures
    const runs = Array.from({ length: rounds }, once);
    const ms = runs.map((r) => r.ms).sort((a, b) => a - b);
    const median = ms[Math.floor(ms.length / 2)];
    const perSecond = Math.round((count / median) * 1000);
    const cpuMs = runs.map((r) => r.cpuMs).sort((a, b) => a - b);
    const perCpuSecond = Math.round((count / cpuMs[Math.floor(cpuMs.length / 2)]) * 1000);

    // Raw CEL speed: one compiled validation on one container list.
    const image = compileRule(disallowLatestImage());
    const context = {
        variables: {
            containers: toCel([
                { name: "a", image: "nginx:1.27.3" },
                { name: "b", image: `acme/w@sha256:${"ab12".repeat(16)}` },
            ]),
        },
    };
    const unpinned = image.validations[0].check.program;
    const n = 200_000;
    for (let i = 0; i < 20_000; i++) unpinned(context);
    t = performance.now();
    for (let i = 0; i < n; i++) unpinned(context);
    const evalsPerSecond = Math.round((n / (performance.now() - t)) * 1000);

    const fmt = (x: number) => x.toLocaleString("en-US");
    console.log(`CEL guardrails benchmark (@marcbachmann/cel-js, Node ${process.version})`);
    console.log(`  rules:          ${rules.length} (${rules.map((r) => r.name).join(", ")}), compiled in ${compileMs.toFixed(1)} ms`);
    console.log(`  objects:        ${fmt(count)} generated, ${fmt(runs[0].denied)} rule denials per round`);
    console.log(`  rounds:         ${rounds}, median ${median.toFixed(0)} ms (best ${ms[0].toFixed(0)} ms, worst ${ms[ms.length - 1].toFixed(0)} ms)`);
    console.log(
        `  object checks:  ${fmt(perSecond)}/s of wall time; ${fmt(perCpuSecond)}/s of CPU time (target ≥ ${fmt(target)}/s: ${perSecond >= target ? "met" : perCpuSecond >= target ? "met per CPU-second, wall time slowed by load" : "MISSED"})`,
    );
    console.log(`  raw CEL:        ${fmt(evalsPerSecond)} evals/s of the disallow-latest-image filter over 2 containers`);
}

main();
