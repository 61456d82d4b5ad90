/**
 * The synthetic service catalogue of the benchmarks: `count` services, each deploying to staging
 * and prod (the `local` stack's default environments), previews on for every third one.
 */
export interface BenchService {
    readonly name: string;
    readonly team: string;
    readonly repoURL: string;
    readonly path: string;
    readonly targetRevision: string;
    readonly environments: readonly (string | { name: string; targetRevision: string })[];
    readonly previews?: { labels: string[]; requeueAfterSeconds: number };
}

export function benchServices(count: number): BenchService[] {
    return Array.from({ length: count }, (_, i) => {
        const name = `svc-${String(i).padStart(4, "0")}`;
        return {
            name,
            team: `team-${i % 10}`,
            repoURL: `https://github.com/acme/${name}.git`,
            path: "deploy/chart",
            targetRevision: "main",
            environments: ["staging", { name: "prod", targetRevision: `v1.${i}.0` }],
            ...(i % 3 === 0 ? { previews: { labels: ["preview"], requeueAfterSeconds: 300 } } : {}),
        };
    });
}

/** Config of the `local` stack the benchmarks run: Pulumi.local.yaml's keys, secrets as set by `pulumi config set --secret`. */
export const benchStackConfig: Record<string, string> = {
    "gitops-control:environment": "local",
    "gitops-control:github": JSON.stringify({ owner: "acme" }),
    "gitops-control:githubToken": "bench-placeholder-token",
};
export const benchSecretKeys = ["gitops-control:githubToken"];
