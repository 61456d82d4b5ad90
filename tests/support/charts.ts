/**
 * The Helm chart the reconciler tests commit to their Git server: a ConfigMap, a second ConfigMap
 * (to prune), and a Deployment hardened to pass every guardrail. `replicas: 0` by default, so the
 * Deployment is Healthy once the deployment controller has observed it (there is no kubelet to run
 * pods); health is therefore Argo CD's real verdict, not a guess.
 */

export interface ChartOptions {
    readonly service: string;
    readonly team: string;
    /** ConfigMap `<service>-config` data.message. */
    readonly message?: string;
    /** Render the ConfigMap `<service>-extra` (removed to test pruning). @default true */
    readonly extra?: boolean;
    /** Add a Deployment that breaks a guardrail (image tag `latest`). @default false */
    readonly unsafe?: boolean;
    /** Replace the templates with a syntax error (a chart Helm cannot render). @default false */
    readonly broken?: boolean;
    /** Render nothing at all (every template removed). @default false */
    readonly empty?: boolean;
}

const podSecurity = {
    securityContext: { runAsNonRoot: true, runAsUser: 10001, seccompProfile: { type: "RuntimeDefault" } },
    containerSecurity: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, readOnlyRootFilesystem: true, runAsNonRoot: true },
};

/** A guardrail-compliant Deployment as chart template text (JSON); `replicas` is template text too. */
export function deployment(name: string, service: string, team: string, image: string, replicas: string): string {
    const labels = { "app.kubernetes.io/name": name, "gitops-control.io/team": team, "gitops-control.io/service": service };
    return JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, labels },
        spec: {
            replicas: "__REPLICAS__",
            selector: { matchLabels: { "app.kubernetes.io/name": name } },
            template: {
                metadata: { labels },
                spec: {
                    securityContext: podSecurity.securityContext,
                    containers: [
                        {
                            name: "app",
                            image,
                            securityContext: podSecurity.containerSecurity,
                            resources: { requests: { cpu: "50m", memory: "64Mi" }, limits: { memory: "128Mi" } },
                        },
                    ],
                },
            },
        },
    }).replace('"__REPLICAS__"', replicas);
}

/** A ConfigMap as chart template text (JSON). */
export function configMap(name: string, service: string, team: string, message: string): string {
    return JSON.stringify({
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name, labels: { "app.kubernetes.io/name": service, "gitops-control.io/team": team } },
        data: { message },
    });
}

/** Files of the chart under `deploy/chart/` (null: delete the file), for GitServer.commit. */
export function chartFiles(options: ChartOptions): Record<string, string | null> {
    const { service, team } = options;
    const dir = "deploy/chart";
    const files: Record<string, string | null> = {
        [`${dir}/Chart.yaml`]: `apiVersion: v2\nname: ${service}\nversion: 0.1.0\n`,
        [`${dir}/values.yaml`]: "replicas: 0\n",
        [`${dir}/values-prod.yaml`]: "environment: prod\n",
        [`${dir}/values-staging.yaml`]: "environment: staging\n",
        [`${dir}/values-preview.yaml`]: "environment: preview\n",
        [`${dir}/templates/configmap.yaml`]: configMap(`${service}-config`, service, team, options.message ?? "hello"),
        [`${dir}/templates/deployment.yaml`]: deployment(service, service, team, "registry.example/shop:1.0.0", "{{ .Values.replicas }}"),
        [`${dir}/templates/extra.yaml`]: options.extra === false ? null : configMap(`${service}-extra`, service, team, "extra"),
        [`${dir}/templates/unsafe.yaml`]: options.unsafe ? deployment(`${service}-debug`, service, team, "registry.example/debug:latest", "0") : null,
        [`${dir}/templates/broken.yaml`]: options.broken ? "{{ .Values.replicas | nosuchfunction }}\n" : null,
    };
    if (options.empty) {
        for (const key of Object.keys(files)) if (key.includes("/templates/")) files[key] = null;
    }
    return files;
}
