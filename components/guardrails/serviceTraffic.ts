/**
 * Where a prod Service's traffic may go, and from where it may come: NetworkPolicies, and the
 * EndpointSlices and Endpoints that name a Service's backends. kube-proxy routes a Service to every
 * EndpointSlice labelled `kubernetes.io/service-name=<it>`, whoever wrote it, so a hand-written
 * slice (or Endpoints of a selector-less Service, which the mirroring controller copies into one)
 * can point a prod Service at a foreign address; a deleted or opened NetworkPolicy lets anything
 * in. So they are governed like workloads (`restrict-workload-writers`): written only by Argo CD
 * (from Git) or the break-glass group, and by kube-controller-manager's endpoint controllers, each
 * only for the objects it manages. Read from kube-controller-manager 1.36.3: pkg/controller/endpoint
 * (endpoints_controller.go: `endpoints.kubernetes.io/managed-by: endpoint-controller`),
 * k8s.io/endpointslice (utils.go newEndpointSlice: `endpointslice.kubernetes.io/managed-by:
 * endpointslice-controller.k8s.io`, controlled by its v1 Service) and
 * pkg/controller/endpointslicemirroring (utils.go newEndpointSlice: managed by
 * `endpointslicemirroring-controller.k8s.io`, controlled by its v1 Endpoints).
 */
import { celString, metadataValue } from "./cel";
import { WriterExemption, clusterControllerExemptions, controlledBy, kubeControllerManager } from "./exemptions";
import { ResourceRule } from "./types";

/** The resources of a Service's traffic the writer rule governs, every write. */
export const serviceTrafficResources: readonly ResourceRule[] = [
    { apiGroups: ["networking.k8s.io"], apiVersions: ["v1"], resources: ["networkpolicies"], operations: ["CREATE", "UPDATE", "DELETE"] },
    { apiGroups: ["discovery.k8s.io"], apiVersions: ["v1"], resources: ["endpointslices"], operations: ["CREATE", "UPDATE", "DELETE"] },
    { apiGroups: [""], apiVersions: ["v1"], resources: ["endpoints"], operations: ["CREATE", "UPDATE", "DELETE"] },
];

const sliceManagedBy = "endpointslice.kubernetes.io/managed-by";
const endpointsManagedBy = "endpoints.kubernetes.io/managed-by";

/** CEL: `ref` (null on a collection-level DELETE) carries `key=value`. */
const labelled = (ref: string, key: string, value: string) => `(${ref} != null && ${metadataValue(ref, "labels", key)} == ${celString(value)})`;

/**
 * CEL: a write of an object `controller` manages, in its shape: CREATE and UPDATE leave it
 * labelled as the controller's (and UPDATE only of one that already was), DELETE only of one that was;
 * with `owner`, the object is controlled by a `v1` object of that kind (its Service or Endpoints).
 */
function ownWrites(key: string, controller: string, owner?: string): string {
    const own = (ref: string) => `${labelled(ref, key, controller)}${owner ? ` && ${controlledBy(ref, "v1", owner)}` : ""}`;
    return `request.operation == 'DELETE' ? (${own("oldObject")}) : request.operation == 'UPDATE' ? (${own("object")} && ${labelled("oldObject", key, controller)}) : (${own("object")})`;
}

/** kube-controller-manager's endpoint controllers, each writing only the objects it manages. */
export const serviceTrafficExemptions: readonly WriterExemption[] = [
    {
        usernames: ["system:serviceaccount:kube-system:endpointslice-controller", kubeControllerManager],
        resources: ["endpointslices"],
        operations: ["CREATE", "UPDATE", "DELETE"],
        shape: ownWrites(sliceManagedBy, "endpointslice-controller.k8s.io", "Service"),
        shapeSummary: `EndpointSlices labelled ${sliceManagedBy}: endpointslice-controller.k8s.io and controlled by their Service (UPDATE and DELETE only of such slices)`,
        why: "keeps the EndpointSlices of Services with a selector (k8s.io/endpointslice reconciler.go, utils.go newEndpointSlice)",
    },
    {
        usernames: ["system:serviceaccount:kube-system:endpointslicemirroring-controller", kubeControllerManager],
        resources: ["endpointslices"],
        operations: ["CREATE", "UPDATE", "DELETE"],
        shape: ownWrites(sliceManagedBy, "endpointslicemirroring-controller.k8s.io", "Endpoints"),
        shapeSummary: `EndpointSlices labelled ${sliceManagedBy}: endpointslicemirroring-controller.k8s.io and controlled by their Endpoints (which only Argo CD or break-glass write)`,
        why: "mirrors the Endpoints of selector-less Services into EndpointSlices (pkg/controller/endpointslicemirroring reconciler.go, utils.go newEndpointSlice)",
    },
    {
        usernames: ["system:serviceaccount:kube-system:endpoint-controller", kubeControllerManager],
        resources: ["endpoints"],
        operations: ["CREATE", "UPDATE", "DELETE"],
        // No owner reference: it names Endpoints after their Service.
        shape: ownWrites(endpointsManagedBy, "endpoint-controller"),
        shapeSummary: `Endpoints labelled ${endpointsManagedBy}: endpoint-controller (UPDATE and DELETE only of such Endpoints)`,
        why: "keeps the (deprecated) Endpoints of Services with a selector (pkg/controller/endpoint endpoints_controller.go syncService)",
    },
];

/** Every cluster component the writer rule exempts, each in its shape: {@link clusterControllerExemptions} and the endpoint controllers. */
export const writerExemptions: readonly WriterExemption[] = [...clusterControllerExemptions, ...serviceTrafficExemptions];
