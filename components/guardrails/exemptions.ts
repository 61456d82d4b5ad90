/**
 * The cluster's own controllers that must write objects the writer rules govern, each held to
 * exactly what it writes: its identity, the resources, the operations and, where the request
 * shows it, the shape of the change. Read from kube-controller-manager 1.36's controllers
 * (pkg/controller/...) and the cloud provider's service controller: an identity exempt for one job
 * (the root CA publisher's ConfigMap) can no longer write anything else (a Deployment), and
 * kube-controller-manager's own name, which carries every controller when it runs without
 * per-controller credentials, gets only the union of those shapes.
 */
import { celList, celString, finalizersOnlyRemoved, same } from "./cel";
import { garbageCollectorUsers } from "./argoInputs";
import { MatchCondition, Operation } from "./types";

/** A cluster component allowed to write governed objects for one narrow purpose. */
export interface WriterExemption {
    /** Exact usernames: the controller's own service account, and kube-controller-manager's name when it runs without per-controller credentials. */
    readonly usernames: readonly string[];
    /** Resources as `resource` or `resource/subresource` (`deployments/scale`); the object itself unless a subresource is named. */
    readonly resources: readonly string[];
    /** Operations it performs on them. */
    readonly operations: readonly Operation[];
    /** CEL over `object`/`oldObject`/`namespaceObject`: the shape of its writes. @default any write of those resources */
    readonly shape?: string;
    /** The shape in words (docs). */
    readonly shapeSummary?: string;
    /** Why it must be exempt, and where upstream it writes (docs and audit). */
    readonly why: string;
}

/** kube-controller-manager's own identity: every controller, when it runs without `--use-service-account-credentials`. */
export const kubeControllerManager = "system:kube-controller-manager";

/** The username of a kube-controller-manager controller running with its own service account, and kube-controller-manager's. */
const controller = (name: string): readonly string[] => [`system:serviceaccount:kube-system:${name}`, kubeControllerManager];

/** CEL: `ref` is controlled (ownerReferences[].controller) by an object of `apiVersion`/`kind`. */
export function controlledBy(ref: string, apiVersion: string, kind: string): string {
    // `oldObject` is null on a collection-level DELETE (DeleteCollection is admitted once for the collection, then per object).
    return `(${ref} != null && has(${ref}.metadata.ownerReferences) && ${ref}.metadata.ownerReferences.exists(r, has(r.controller) && r.controller == true && r.apiVersion == ${celString(apiVersion)} && r.kind == ${celString(kind)}))`;
}

/** Top-level fields that carry an object's content, for the kinds the writer rules govern (workloads, Pods, Services, ConfigMaps, Secrets, ServiceAccounts, RBAC). */
const contentFields = ["spec", "data", "binaryData", "immutable", "type", "secrets", "imagePullSecrets", "automountServiceAccountToken", "rules", "subjects", "roleRef"] as const;

/** CEL: an UPDATE changes nothing but metadata.finalizers and metadata.ownerReferences (content, labels and annotations equal). */
export const metadataOnly = [...contentFields.map((f) => `object.${f}`), "object.metadata.labels", "object.metadata.annotations"]
    .map((f) => same(f, f.replace(/^object/, "oldObject")))
    .join(" && ");

/**
 * CEL: every owner reference of `object` was on `oldObject` (same owner), none newly blocking: what
 * the garbage collector writes when it orphans dependents, drops dangling owners or unblocks them.
 */
const ownerReferencesOnlyReleased =
    "(!has(object.metadata.ownerReferences) || object.metadata.ownerReferences.all(r, has(oldObject.metadata.ownerReferences) && oldObject.metadata.ownerReferences.exists(o, o.uid == r.uid && o.apiVersion == r.apiVersion && o.kind == r.kind && o.name == r.name && (has(o.controller) ? o.controller : false) == (has(r.controller) ? r.controller : false) && (!has(r.blockOwnerDeletion) || r.blockOwnerDeletion == false || (has(o.blockOwnerDeletion) && o.blockOwnerDeletion == true)))))";

/** The load-balancer cleanup finalizer the service controller adds and removes (k8s.io/cloud-provider servicehelper). */
const loadBalancerCleanupFinalizer = "service.kubernetes.io/load-balancer-cleanup";
const finalizersOf = (ref: string) => `(has(${ref}.metadata.finalizers) ? ${ref}.metadata.finalizers : [])`;

/** CEL: the Pod's spec is unchanged (adoption, release, identity labels, finalizers: never what runs). */
const podSpecUnchanged = "object.spec == oldObject.spec";

/** A workload controller that creates the Pods of its kind from an admitted template and adopts or releases them. */
function podCreator(name: string, apiVersion: string, kind: string, where: string): WriterExemption {
    return {
        usernames: controller(name),
        resources: ["pods"],
        operations: ["CREATE", "UPDATE"],
        shape: `request.operation == 'CREATE' ? ${controlledBy("object", apiVersion, kind)} : ${podSpecUnchanged}`,
        shapeSummary: `CREATE: Pods controlled by a ${kind}; UPDATE: the Pod's spec unchanged`,
        why: `creates the Pods of an admitted ${kind} template and adopts or releases them (${where})`,
    };
}

/**
 * Cluster controllers that write governed objects, each to its shape. Status updates go through the
 * `status` subresource, which no writer rule matches, so controllers that only report status need
 * no exemption. The deployment controller's annotation-driven rollback (`deprecated.deployment.rollback.to`,
 * which rewrites a Deployment's template) is deliberately not exempt: templates change only from Git.
 */
export const clusterControllerExemptions: readonly WriterExemption[] = [
    {
        usernames: garbageCollectorUsers,
        resources: ["*"],
        operations: ["DELETE"],
        shape: "oldObject != null && has(oldObject.metadata.ownerReferences) && size(oldObject.metadata.ownerReferences) > 0",
        shapeSummary: "DELETE: only objects that have owners (dependents)",
        why: "cascading deletion deletes the dependents of a deleted owner (pkg/controller/garbagecollector operations.go deleteObject)",
    },
    {
        usernames: garbageCollectorUsers,
        resources: ["*"],
        operations: ["UPDATE"],
        shape: `${metadataOnly} && ${finalizersOnlyRemoved} && ${ownerReferencesOnlyReleased}`,
        shapeSummary: "UPDATE: only removes finalizers (orphan, foregroundDeletion) and owner references, or unblocks them; content, labels and annotations unchanged",
        why: "orphaning and foreground deletion patch ownerReferences and remove finalizers (garbagecollector.go, patch.go)",
    },
    {
        usernames: controller("namespace-controller"),
        resources: ["*"],
        operations: ["DELETE"],
        shape: "namespaceObject != null && has(namespaceObject.metadata.deletionTimestamp)",
        shapeSummary: "DELETE: only in a namespace being deleted (judged in the validation: matchConditions do not see namespaceObject)",
        why: "empties a namespace being deleted (pkg/controller/namespace/deletion: DeleteCollection, admitted once for the collection and per object, or Delete per object)",
    },
    {
        usernames: controller("horizontal-pod-autoscaler"),
        resources: ["deployments/scale", "statefulsets/scale", "replicasets/scale", "replicationcontrollers/scale"],
        operations: ["UPDATE"],
        shapeSummary: "the scale subresource only (cap-replicas bounds its HPA)",
        why: "autoscaling writes replicas through the scale subresource (pkg/controller/podautoscaler)",
    },
    {
        usernames: controller("root-ca-cert-publisher"),
        resources: ["configmaps"],
        operations: ["CREATE", "UPDATE"],
        shape: "object.metadata.name == 'kube-root-ca.crt' && !has(object.binaryData) && has(object.data) && object.data.all(k, k == 'ca.crt')",
        shapeSummary: "the ConfigMap kube-root-ca.crt, holding ca.crt only",
        why: "publishes the cluster's CA into every namespace (pkg/controller/certificates/rootcacertpublisher)",
    },
    {
        usernames: ["system:serviceaccount:kube-system:service-controller", kubeControllerManager, "system:cloud-controller-manager"],
        resources: ["services"],
        operations: ["UPDATE"],
        shape: `${metadataOnly} && ${same("object.metadata.ownerReferences", "oldObject.metadata.ownerReferences")} && (${finalizersOf("object")}.filter(f, !(f in ${finalizersOf("oldObject")})) + ${finalizersOf("oldObject")}.filter(f, !(f in ${finalizersOf("object")}))).all(f, f == ${celString(loadBalancerCleanupFinalizer)})`,
        shapeSummary: `UPDATE: adds or removes the ${loadBalancerCleanupFinalizer} finalizer, nothing else`,
        why: "guards a load balancer's cleanup with a finalizer (k8s.io/cloud-provider controllers/service addFinalizer, removeFinalizer)",
    },
    {
        usernames: controller("deployment-controller"),
        resources: ["replicasets"],
        operations: ["CREATE", "UPDATE", "DELETE"],
        shape: `request.operation == 'CREATE' ? ${controlledBy("object", "apps/v1", "Deployment")} : request.operation == 'DELETE' ? ${controlledBy("oldObject", "apps/v1", "Deployment")} : object.spec.template == oldObject.spec.template && object.spec.selector == oldObject.spec.selector`,
        shapeSummary: "ReplicaSets only: CREATE and DELETE of ReplicaSets a Deployment controls; UPDATE keeps the pod template and selector (replicas, annotations, adoption)",
        why: "rolls Deployments out by creating, scaling and deleting their ReplicaSets (pkg/controller/deployment sync.go)",
    },
    podCreator("replicaset-controller", "apps/v1", "ReplicaSet", "pkg/controller/replicaset"),
    podCreator("replication-controller", "v1", "ReplicationController", "pkg/controller/replication"),
    podCreator("statefulset-controller", "apps/v1", "StatefulSet", "pkg/controller/statefulset; identity labels"),
    podCreator("daemon-set-controller", "apps/v1", "DaemonSet", "pkg/controller/daemon"),
    podCreator("job-controller", "batch/v1", "Job", "pkg/controller/job; its tracking finalizer"),
    {
        usernames: controller("cronjob-controller"),
        resources: ["jobs"],
        operations: ["CREATE", "DELETE"],
        shape: `request.operation == 'CREATE' ? ${controlledBy("object", "batch/v1", "CronJob")} : ${controlledBy("oldObject", "batch/v1", "CronJob")}`,
        shapeSummary: "Jobs a CronJob controls: CREATE from its template, DELETE beyond its history limits",
        why: "runs an admitted CronJob (pkg/controller/cronjob)",
    },
    {
        usernames: controller("ttl-after-finished-controller"),
        resources: ["jobs"],
        operations: ["DELETE"],
        shape: "oldObject != null && has(oldObject.spec.ttlSecondsAfterFinished)",
        shapeSummary: "DELETE: Jobs with ttlSecondsAfterFinished",
        why: "deletes finished Jobs after their TTL (pkg/controller/ttlafterfinished)",
    },
    {
        usernames: controller("service-account-controller"),
        resources: ["serviceaccounts"],
        operations: ["CREATE"],
        shape: "object.metadata.name == 'default'",
        shapeSummary: "CREATE: the ServiceAccount named default",
        why: "creates every namespace's default ServiceAccount (pkg/controller/serviceaccount)",
    },
];

/** CEL: the request's resource as exemptions name it, `resource` or `resource/subresource`. */
const requestResource = "(request.resource.resource + (has(request.subResource) && request.subResource != '' ? '/' + request.subResource : ''))";

/** CEL: the request is one this exemption covers (identity, resource, operation, shape). */
export function exemptionCondition(e: WriterExemption): string {
    const resource = e.resources.includes("*") ? "!(has(request.subResource) && request.subResource != '')" : `${requestResource} in ${celList(e.resources)}`;
    const parts = [`request.userInfo.username in ${celList(e.usernames)}`, `request.operation in ${celList(e.operations)}`, resource, ...(e.shape ? [`(${e.shape})`] : [])];
    return `(${parts.join(" && ")})`;
}

/**
 * Whether a shape reads `namespaceObject`. The API server evaluates matchConditions without it (it
 * is null there: apiserver pkg/admission/plugin/policy/validating validator.go passes the namespace
 * to the validations only), so such an exemption is judged in the validation instead.
 */
const readsNamespace = (e: WriterExemption): boolean => /\bnamespaceObject\b/.test(e.shape ?? "");

/** CEL: one of `exemptions` covers the request (false when there are none). */
function covered(exemptions: readonly WriterExemption[]): string {
    if (exemptions.length === 0) return "false";
    const names = [...new Set(exemptions.flatMap((e) => e.usernames))];
    // The name test first: one list lookup settles it for everyone but the exempt components.
    return `(request.userInfo.username in ${celList(names)} && (${exemptions.map(exemptionCondition).join(" || ")}))`;
}

/**
 * The matchCondition of `exemptions`: false for a request one of them covers (the policy then does
 * not apply), undefined when none can be judged there (each reads `namespaceObject`).
 */
export function notExempt(exemptions: readonly WriterExemption[]): string | undefined {
    const early = exemptions.filter((e) => !readsNamespace(e));
    return early.length > 0 ? `!${covered(early)}` : undefined;
}

/** CEL for the validation: one of the exemptions that read `namespaceObject` covers the request ("false" when none do). */
export function exemptInValidation(exemptions: readonly WriterExemption[]): string {
    return covered(exemptions.filter(readsNamespace));
}

/** The `not-a-cluster-controller` matchCondition of `exemptions`, if any can be judged there. */
export function exemptionMatch(exemptions: readonly WriterExemption[]): MatchCondition[] {
    const expression = notExempt(exemptions);
    return expression ? [{ name: "not-a-cluster-controller", expression }] : [];
}
