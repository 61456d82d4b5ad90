/**
 * How a team onboards a service from its own Pulumi program, without touching the platform stack:
 * instantiate one GitOpsService, naming each environment's class (`prod`, `staging`) and what the
 * service changes. The component applies the class preset and its safety checks (prod refuses
 * `prune: false` without `unsafeSyncPolicyReason`), exactly as for a platform stack entry.
 * (The other way is one entry in the platform stack's `gitops-control:services` list.)
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GitOpsService } from "gitops-control/components";

const config = new pulumi.Config();
const provider = new k8s.Provider("cluster", {});

export const service = new GitOpsService("inventory", {
    team: "fulfilment",
    // The field names of a platform stack entry (`gitops-control:services`).
    repoURL: "https://github.com/acme/inventory.git",
    path: "deploy/chart",
    helm: { parameters: [{ name: "replicaCount", value: "3" }] },
    environments: [
        { name: "staging", targetRevision: "main" },
        // Overrides go on top of the prod preset, through the same merge the platform stack uses.
        { name: "prod", targetRevision: config.get("prodRevision") ?? "v3.1.0", syncPolicy: { retry: { limit: 8 } } },
    ],
    // Owner and repo come from the GitHub repoURL.
    previews: { token: config.requireSecret("githubToken") },
    provider,
});

export const applications = service.applicationNames;
export const previews = service.previewApplicationSetName;
