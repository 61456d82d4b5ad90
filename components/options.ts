import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/**
 * Options for a Kubernetes child of a component: parented to the component, with the Kubernetes
 * provider passed explicitly (when the caller gave one) so no child silently falls back to the
 * ambient kubeconfig.
 */
export function childOptions(
    parent: pulumi.Resource,
    provider: k8s.Provider | undefined,
    extra?: pulumi.CustomResourceOptions,
): pulumi.CustomResourceOptions {
    return pulumi.mergeOptions({ parent, ...(provider ? { provider } : {}) }, extra ?? {});
}

/** Options for protected resources: kept in state and in the cluster when `protect` is on. */
export function protection(protect: boolean): pulumi.CustomResourceOptions {
    return protect ? { protect: true, retainOnDelete: true } : {};
}

/**
 * Options of a resource that used to be the only child of a one-resource component (`AppProject`,
 * `GitOpsApplication`) and is now created by its grandparent directly: an alias to its old URN, whose
 * parent was that component (`type`, `name`) under `parent`, so existing stacks keep the resource
 * (no delete, no create, no replace). The alias costs nothing on new stacks.
 */
export function movedOutOfComponent(type: string, name: string, parent: pulumi.Resource): pulumi.CustomResourceOptions {
    return { aliases: [{ parent: pulumi.createUrn(name, type, parent) }] };
}
