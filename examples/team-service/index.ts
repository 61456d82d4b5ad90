/**
 * How a team onboards a service from its own Pulumi program, without touching the platform stack:
 * import the components, pick the environment presets, instantiate one GitOpsService.
 * (The other way is one entry in the platform stack's `gitops-control:services` list.)
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GitOpsService, environmentPresets, mergeSyncPolicy } from "../../components";

const config = new pulumi.Config();
const provider = new k8s.Provider("cluster", {});

export const service = new GitOpsService(
    "inventory",
    {
        team: "fulfilment",
        source: { repoURL: "https://github.com/acme/inventory.git", path: "deploy/chart", helm: { parameters: [{ name: "replicaCount", value: "3" }] } },
        environments: [
            { name: "staging", targetRevision: "main", syncPolicy: environmentPresets.staging.syncPolicy },
            {
                name: "prod",
                targetRevision: config.get("prodRevision") ?? "v3.1.0",
                // Overrides go through the same merge the platform stack uses.
                syncPolicy: mergeSyncPolicy(environmentPresets.prod.syncPolicy, { retry: { limit: 8 } }),
                revisionHistoryLimit: environmentPresets.prod.revisionHistoryLimit,
            },
        ],
        previews: {
            github: { owner: "acme", repo: "inventory", token: config.requireSecret("githubToken") },
            syncPolicy: environmentPresets.preview.syncPolicy,
        },
        provider,
    },
);

export const applications = service.applicationNames;
export const previews = service.previewApplicationSetName;
