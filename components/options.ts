import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/**
 * Options for a Kubernetes child of a component: parented to the component, with the Kubernetes
 * provider passed explicitly (when the caller gave one) so no child silently falls back to the
 * ambient kubeconfig.
 */
export function childOptions(parent: pulumi.Resource, provider: k8s.Provider | undefined, extra?: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions {
    return pulumi.mergeOptions({ parent, ...(provider ? { provider } : {}) }, extra ?? {});
}

/** Options for protected resources: kept in state and in the cluster when `protect` is on. */
export function protection(protect: boolean): pulumi.CustomResourceOptions {
    return protect ? { protect: true, retainOnDelete: true } : {};
}
