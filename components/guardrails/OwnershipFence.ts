import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { check, requireDnsLabel } from "../core/errors";
import { annotations, labels, managedByValue } from "../core/labels";
import { childOptions } from "../core/options";

/**
 * Ownership of the Argo CD objects a program creates. Every AppProject, Application and
 * ApplicationSet a component renders carries `gitops-control.io/owner: <project>/<stack>`; this
 * fence makes the API server refuse to change an object's owner. Two programs that onboard the same
 * service (a team program and the platform stack both declaring `checkout`) therefore collide in
 * `pulumi preview` (the provider's server-side dry run passes admission) instead of taking turns
 * overwriting each other through server-side apply with `patchForce`.
 */

/** The owner a component stamps when none is given: the running program's `<project>/<stack>`. */
export function defaultOwner(): string {
    return `${pulumi.getProject()}/${pulumi.getStack()}`;
}

/** Annotation value rules: non-empty, printable, no whitespace, at most 253 characters. */
export function validateOwner(owner: string | undefined, field: string): void {
    if (owner === undefined) return;
    check(/^[A-Za-z0-9][A-Za-z0-9._/:-]{0,252}$/.test(owner), field, `is "${owner}"`, 'name the owning program as "<project>/<stack>", e.g. "team-checkout/prod"');
}

/** The owner annotation, for the pure renderers: none when no owner is given. */
export function ownerAnnotation(owner: string | undefined): Record<string, string> {
    return owner ? { [annotations.owner]: owner } : {};
}

export interface OwnershipFenceArgs {
    /** Namespace Argo CD runs in: the fence covers the Argo CD objects there. */
    readonly argoNamespace: string;
    /**
     * Groups whose members may hand an object over to another owner (or remove the owner); everyone
     * else, the Pulumi programs themselves included, is refused. @default ["gitops-control:break-glass"]
     */
    readonly transferGroups?: readonly string[];
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

/** The fenced kinds: every Argo CD object a gitops-control component creates. */
export const fencedResources = ["appprojects", "applications", "applicationsets"] as const;

/** Renders the policy (and its always-Deny binding) that keeps an object's owner. Pure. */
export function renderOwnershipPolicy(args: Pick<OwnershipFenceArgs, "argoNamespace" | "transferGroups">) {
    const groups = args.transferGroups ?? ["gitops-control:break-glass"];
    const key = annotations.owner;
    const ownerOf = (ref: string) => `(has(${ref}.metadata.annotations) && '${key}' in ${ref}.metadata.annotations ? ${ref}.metadata.annotations['${key}'] : '')`;
    const name = "gitops-control-protect-ownership";
    return {
        name,
        spec: {
            failurePolicy: "Fail" as const,
            matchConstraints: {
                resourceRules: [{ apiGroups: ["argoproj.io"], apiVersions: ["*"], resources: [...fencedResources], operations: ["UPDATE" as const] }],
            },
            matchConditions: [
                // Only objects a program owns; Argo CD's own writes keep the annotation and pass.
                { name: "owned", expression: `request.namespace == '${args.argoNamespace}' && ${ownerOf("oldObject")} != '' && ${ownerOf("object")} != ${ownerOf("oldObject")}` },
                {
                    name: "not-a-transfer-group",
                    expression: `!(has(request.userInfo.groups) && request.userInfo.groups.exists(g, g in ${JSON.stringify([...groups])}))`,
                },
            ],
            variables: [
                { name: "owner", expression: ownerOf("oldObject") },
                { name: "claimant", expression: ownerOf("object") },
            ],
            validations: [
                {
                    expression: "false",
                    messageExpression:
                        `object.kind + ' ' + object.metadata.name + ' belongs to ' + variables.owner + ' (annotation ${key}); ' + ` +
                        `(variables.claimant == '' ? 'its owner cannot be removed' : variables.claimant + ' cannot take it over') + ` +
                        `': two programs onboard the same service. Remove it from one of them, or hand it over as a member of ${groups.join(" or ")} (kubectl annotate --overwrite ... --as-group ${groups[0] ?? ""}) and run pulumi up --refresh in the new owner'`,
                    // Invalid (422), not Forbidden (403): the Kubernetes provider takes a 403 on its
                    // preview dry run for missing RBAC and quietly previews without the server, so a
                    // Forbidden denial would only surface in `up`.
                    reason: "Invalid" as const,
                },
            ],
        },
    };
}

/** Checks every argument before any resource is registered. */
export function validateOwnershipFenceArgs(args: OwnershipFenceArgs, field = "args"): void {
    requireDnsLabel(args.argoNamespace, `${field}.argoNamespace`);
    const groups = args.transferGroups ?? ["gitops-control:break-glass"];
    check(groups.length > 0, `${field}.transferGroups`, "is empty, so no owner could ever be changed", 'name the break-glass group, e.g. ["gitops-control:break-glass"]');
    groups.forEach((g, i) => check(/^\S+$/.test(g), `${field}.transferGroups[${i}]`, `is "${g}"`, "use a group name without spaces"));
}

/**
 * The cluster-wide fence around Argo CD objects' ownership: one ValidatingAdmissionPolicy and its
 * binding, always Deny (it settles who owns an object; it is no environment guardrail).
 */
export class OwnershipFence extends pulumi.ComponentResource {
    readonly policyName: pulumi.Output<string>;

    constructor(name: string, args: OwnershipFenceArgs, opts?: pulumi.ComponentResourceOptions) {
        validateOwnershipFenceArgs(args);
        super("gitops-control:argocd:OwnershipFence", name, {}, opts);
        const rendered = renderOwnershipPolicy(args);
        const meta = { name: rendered.name, labels: { [labels.managedBy]: managedByValue } };
        const policy = new k8s.admissionregistration.v1.ValidatingAdmissionPolicy(name, { metadata: meta, spec: rendered.spec }, childOptions(this, args.provider));
        new k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding(
            name,
            { metadata: meta, spec: { policyName: policy.metadata.name, validationActions: ["Deny"] } },
            childOptions(this, args.provider, { dependsOn: [policy] }),
        );
        this.policyName = policy.metadata.name;
        this.registerOutputs({ policyName: this.policyName });
    }
}
