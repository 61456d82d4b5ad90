/**
 * Fails fast, before anything slow (the toolchain build, a cluster start), when the main job could
 * not succeed anyway: the stack file does not parse, or the Argo CD chart or a configured
 * kubeconfig cannot be reached. One line on stderr names what is missing and the fix.
 *
 *   tsx scripts/commands/check-chart.ts [stack]      exit 0: prints where the chart comes from
 *
 * The chart is resolved as the program resolves it (stacks/chart.ts): a configured path or version,
 * else the fixture beside a development checkout (../shared), else the chart repository, which is
 * then probed (`<repo>/index.yaml`, a few seconds at most).
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { pinnedChart } from "../../components/argocd/ArgoCd";
import { StackConfigError } from "../../stacks/config";
import { chartUnreachableMessage, resolveChart } from "../../stacks/chart";
import { decodeConfig, parseStack, readStackFile } from "../../stacks/read";

const repoRoot = path.resolve(__dirname, "..", "..");

/** True when the Helm repository answers within `ms` (any HTTP status: the host is there). */
export async function reachable(repo: string, ms = 5000): Promise<boolean> {
    if (repo.startsWith("oci://")) return true; // pulled by the provider; no index to probe
    try {
        const response = await fetch(`${repo.replace(/\/$/, "")}/index.yaml`, { method: "HEAD", signal: AbortSignal.timeout(ms) });
        return response.status < 500;
    } catch {
        return false;
    }
}

/** The one-line problem with this stack's inputs of the main job, or undefined when all are there. */
export async function checkStack(stack: string, probe: (repo: string) => Promise<boolean> = reachable, root: string = repoRoot): Promise<{ problem?: string; chart?: string }> {
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    const { config: pulumiConfig, secretKeys } = readStackFile(file);
    const parsed = parseStack(decodeConfig(pulumiConfig, secretKeys));
    if (!parsed.config || parsed.problems.length > 0) return { problem: new StackConfigError(parsed.problems).message };
    const config = parsed.config;
    const kubeconfig = config.kubernetes.kubeconfig;
    if (kubeconfig && !kubeconfig.trimStart().startsWith("apiVersion") && !fs.existsSync(path.resolve(root, kubeconfig))) {
        return {
            problem: `\`gitops-control:kubernetes.kubeconfig\` of stack "${stack}" is "${kubeconfig}", which does not exist. Fix: point it at your kubeconfig, or remove it to use $KUBECONFIG`,
        };
    }
    const chart = resolveChart(config, root);
    if (chart.source?.kind === "local") {
        return fs.existsSync(path.resolve(root, chart.source.path))
            ? { chart: chart.description }
            : {
                  problem: `\`gitops-control:argocd.chart.path\` of stack "${stack}" is "${chart.source.path}", which does not exist. Fix: point it at argo-cd-${pinnedChart.version}.tgz, or remove it to use the chart repository`,
              };
    }
    const repo = chart.source?.kind === "repository" ? chart.source.repo : pinnedChart.repo;
    return (await probe(repo)) ? { chart: chart.description } : { problem: chartUnreachableMessage(chart, stack) };
}

if (require.main === module) {
    const stack = process.argv[2] ?? "local";
    checkStack(stack)
        .then(({ problem, chart }) => {
            if (problem) {
                console.error(problem);
                process.exit(1);
            }
            console.error(`[check] stack ${stack}: Argo CD chart ${chart}`);
        })
        .catch((e: Error) => {
            console.error(e.message);
            process.exit(1);
        });
}
