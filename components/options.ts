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

/**
 * Options of a resource that used to be the only child of a one-resource component (`AppProject`,
 * `GitOpsApplication`) and is now created by its grandparent directly: an alias to its old URN, whose
 * parent was a component of `wrapperType` under `parent` (a URN carries the parents' types, not
 * their names), so existing stacks keep
 * the resource (no delete, no create, no replace). One `apply` on the parent's URN per resource:
 * `pulumi.createUrn` costs several outputs each (measured: 1.1 s CPU and 160 MB at 500 services
 * under mocks, bench/RESULTS.md).
 */
export function movedOutOfComponent(parent: pulumi.Resource, wrapperType: string, child: { readonly type: string; readonly name: string }): pulumi.CustomResourceOptions {
    // urn:pulumi:<stack>::<project>::<parent's qualified type>::<parent's name>
    const old = parent.urn.apply((urn) => {
        const typeEnd = urn.lastIndexOf("::");
        return `${urn.slice(0, typeEnd)}$${wrapperType}$${child.type}::${child.name}`;
    });
    return { aliases: [old] };
}
