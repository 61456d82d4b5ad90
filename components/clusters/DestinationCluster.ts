import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { check, requireDnsLabel } from "../core/errors";
import { labels, managedByValue } from "../core/labels";
import { childOptions } from "../core/options";
import { z } from "zod";
import { checkSettings, inputString, providerSetting } from "../core/settings";

export interface DestinationClusterArgs {
    /** Namespace Argo CD runs in; cluster Secrets must live there. */
    readonly argoNamespace: string;
    /** Name Applications use in `destination.name`. Not `in-cluster` (Argo CD's own). */
    readonly clusterName: string;
    /** The cluster's API server URL (https). */
    readonly server: string;
    /** Bearer token Argo CD authenticates with, as a Pulumi secret. */
    readonly bearerToken: pulumi.Input<string>;
    /** Base64-encoded PEM of the CA that signed the API server's certificate. @default the system roots */
    readonly caData?: string;
    /** Namespaces Argo CD may manage there; empty means the whole cluster. @default [] */
    readonly namespaces?: readonly string[];
    /**
     * With `namespaces`: Argo CD may still manage cluster-scoped objects (the namespaces' own metadata
     * it applies), which its account's RBAC bounds. @default false
     */
    readonly clusterResources?: boolean;
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

/** A registered cluster's settings a stack entry and the component share (the name is `name` in a stack, `clusterName` here). */
function destinationSettings() {
    return z.strictObject({
        server: z.string().describe("The cluster's API server URL (https)."),
        caData: z.string().optional().describe("Base64 PEM of the API server's CA; default: the system roots."),
        namespaces: z.array(z.string()).optional().describe("Namespaces Argo CD may manage there; default: the whole cluster."),
    });
}

/** The component's args: the shared settings plus the name, token and where Argo CD runs. */
const destinationArgsSchema = () =>
    destinationSettings().extend({
        clusterName: z.string(),
        bearerToken: inputString,
        argoNamespace: z.string(),
        clusterResources: z.boolean().optional(),
        provider: providerSetting.optional(),
    });

/** Checks every argument before any resource is registered. */
export function validateDestinationClusterArgs(args: DestinationClusterArgs, field = "args"): void {
    if (!checkSettings(destinationArgsSchema(), args, field)) return;
    requireDnsLabel(args.clusterName, `${field}.clusterName`);
    check(args.clusterName !== "in-cluster", `${field}.clusterName`, 'is "in-cluster", the name Argo CD gives the cluster it runs in', "choose another name");
    check(/^https:\/\/[^\s/]+/.test(args.server), `${field}.server`, `is "${args.server}"`, 'use the API server URL, e.g. "https://10.0.0.1:6443"');
    if (args.caData !== undefined) {
        const pem = Buffer.from(args.caData, "base64").toString("utf8");
        check(pem.includes("-----BEGIN CERTIFICATE-----"), `${field}.caData`, "is not a base64-encoded PEM certificate", "use `base64 -w0 ca.crt`");
    }
    (args.namespaces ?? []).forEach((ns, i) => requireDnsLabel(ns, `${field}.namespaces[${i}]`));
}

/** The `config` key of an Argo CD cluster Secret. Pure; the token stays inside the secret Output. */
export function clusterConfig(bearerToken: string, caData: string | undefined): string {
    return JSON.stringify({ bearerToken, tlsClientConfig: { insecure: false, ...(caData ? { caData } : {}) } });
}

/**
 * A cluster registered with Argo CD (a Secret labelled `argocd.argoproj.io/secret-type: cluster`),
 * what `argocd cluster add` would create, but declared: its token is a Pulumi secret end to end.
 * Applications address it by name.
 */
export class DestinationCluster extends pulumi.ComponentResource {
    readonly clusterName: pulumi.Output<string>;
    readonly secret: k8s.core.v1.Secret;

    constructor(name: string, args: DestinationClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        validateDestinationClusterArgs(args);
        super("gitops-control:argocd:DestinationCluster", name, {}, opts);
        this.secret = new k8s.core.v1.Secret(
            `${name}-cluster`,
            {
                metadata: {
                    name: `cluster-${args.clusterName}`,
                    namespace: args.argoNamespace,
                    labels: { "argocd.argoproj.io/secret-type": "cluster", [labels.managedBy]: managedByValue },
                },
                type: "Opaque",
                stringData: {
                    name: args.clusterName,
                    server: args.server,
                    ...(args.namespaces?.length ? { namespaces: args.namespaces.join(","), ...(args.clusterResources ? { clusterResources: "true" } : {}) } : {}),
                    config: pulumi.secret(pulumi.output(args.bearerToken).apply((token) => clusterConfig(token, args.caData))),
                },
            },
            childOptions(this, args.provider, { additionalSecretOutputs: ["data", "stringData"] }),
        );
        this.clusterName = pulumi.output(args.clusterName);
        this.registerOutputs({ clusterName: this.clusterName });
    }
}

/** The `destinations` settings of a stack: clusters registered with Argo CD (DestinationCluster). */
export const destinationsSettingsSchema = z
    .array(
        z.strictObject({
            name: z.string().describe("Name Applications use (`cluster` of a service or environment); not in-cluster."),
            ...destinationSettings().shape,
            governedBy: z
                .string()
                .optional()
                .describe(
                    "The stack that installs this cluster's guardrails, Pod Security labels and namespace protections, when not this one (no kubeconfig here then). Without it or a kubeconfig, prod may not deploy there.",
                ),
        }),
    )
    .default([])
    .describe(
        "Clusters registered with Argo CD (cluster Secrets). Each one needs a kubeconfig in `destinationKubeconfigs` (governed by this program, which creates Argo CD's token) or a bearer token in `destinationTokens`.",
    );
