import type { IApplicationDestination } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/ApplicationDestination" with { "resolution-mode": "import" };
import { check, requireDnsLabel } from "../core/errors";
import { inClusterServer } from "../core/labels";

/**
 * The cluster an Application deploys to: a cluster registered with Argo CD, by its name (see
 * {@link DestinationCluster}), or the API server Argo CD runs in. Addressing registered clusters by
 * name keeps the URL and its credentials in one place (the cluster Secret) and lets a cluster move
 * without touching every Application.
 */
export type ClusterRef = { readonly name: string } | { readonly server: string };

/** The API server Argo CD runs in. */
export const inCluster: ClusterRef = { server: inClusterServer };

/** Checks a cluster reference; `field` prefixes messages. */
export function validateClusterRef(ref: ClusterRef, field: string): void {
    if ("name" in ref) {
        requireDnsLabel(ref.name, `${field}.name`);
    } else {
        check(/^https:\/\/\S+$/.test(ref.server), `${field}.server`, `is "${ref.server}"`, 'use the API server URL, e.g. "https://kubernetes.default.svc"');
    }
}

/** The Argo CD `destination` block: the cluster by name or server, and the namespace. */
export function renderDestination(ref: ClusterRef | undefined, namespace: string): IApplicationDestination {
    const cluster = ref ?? inCluster;
    return "name" in cluster ? { name: cluster.name, namespace } : { server: cluster.server, namespace };
}
