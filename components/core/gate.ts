import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/** The container command of a gate: its script (`$GATE`) every `$INTERVAL` seconds; a failed pass is logged and the loop goes on. */
export function gateLoop(what: string): string {
    return `while :; do sh -c "$GATE" || echo "${what}: pass failed" >&2; sleep "$INTERVAL"; done`;
}

export interface GateDeploymentArgs {
    /** Deployment name and `app.kubernetes.io/name`, e.g. `prune-gate`. */
    readonly name: string;
    readonly namespace: string;
    /** The component's labels; the pod adds `app.kubernetes.io/name`. */
    readonly labels: Readonly<Record<string, string>>;
    readonly serviceAccountName: pulumi.Input<string>;
    readonly image: string;
    /** {@link gateLoop} of the gate. */
    readonly loop: string;
    /** `GATE` (the script), `INTERVAL` and the script's own settings. */
    readonly env: readonly { readonly name: string; readonly value: string }[];
    readonly skipAwait?: boolean;
}

/**
 * The Deployment of an in-cluster gate (preview gate, prune gate): one replica running its loop as
 * its own service account, non-root, read-only root filesystem, no capabilities. Pure.
 */
export function gateDeploymentArgs(args: GateDeploymentArgs): k8s.apps.v1.DeploymentArgs {
    const podMeta = { ...args.labels, "app.kubernetes.io/name": args.name };
    return {
        metadata: {
            name: args.name,
            namespace: args.namespace,
            labels: podMeta,
            ...(args.skipAwait ? { annotations: { "pulumi.com/skipAwait": "true" } } : {}),
        },
        spec: {
            replicas: 1,
            selector: { matchLabels: { "app.kubernetes.io/name": args.name } },
            template: {
                metadata: { labels: podMeta },
                spec: {
                    serviceAccountName: args.serviceAccountName,
                    securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } },
                    containers: [
                        {
                            name: "gate",
                            image: args.image,
                            command: ["/bin/sh", "-c", args.loop],
                            env: [...args.env],
                            resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                            securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                        },
                    ],
                },
            },
        },
    };
}
