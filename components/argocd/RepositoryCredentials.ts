import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { check, requireDnsLabel } from "../core/errors";
import { credentialURLPrefix, labels, managedByValue } from "../core/labels";
import { childOptions } from "../core/options";
import { z } from "zod";
import { checkSettings, inputString, providerSetting } from "../core/settings";

/** The component's args (the stack's `repositoryCredentials` entries are resolved to them, their secret part from `repositorySecrets`). */
const repositoryCredentialsArgsSchema = () =>
    z.strictObject({
        argoNamespace: z.string(),
        url: z.string(),
        auth: z.discriminatedUnion("kind", [
            z.strictObject({ kind: z.literal("https"), username: z.string(), password: inputString }),
            z.strictObject({ kind: z.literal("ssh"), sshPrivateKey: inputString }),
            z.strictObject({ kind: z.literal("githubApp"), appId: z.int(), installationId: z.int(), privateKey: inputString, enterpriseBaseUrl: z.string().optional() }),
        ]),
        provider: providerSetting.optional(),
    });

/** How Argo CD authenticates to the repositories under a URL prefix. */
export type RepositoryAuth =
    /** HTTPS with a username and a token or password (GitHub: any username, a fine-grained token). */
    | { readonly kind: "https"; readonly username: string; readonly password: pulumi.Input<string> }
    /** SSH with a private key (`git@github.com:org/` prefixes). */
    | { readonly kind: "ssh"; readonly sshPrivateKey: pulumi.Input<string> }
    /** A GitHub App installation (HTTPS prefixes). */
    | { readonly kind: "githubApp"; readonly appId: number; readonly installationId: number; readonly privateKey: pulumi.Input<string>; readonly enterpriseBaseUrl?: string };

export interface RepositoryCredentialsArgs {
    /** Namespace Argo CD runs in; credential Secrets must live there. */
    readonly argoNamespace: string;
    /**
     * URL prefix the credentials apply to, e.g. `https://github.com/acme/`: every repository under it
     * uses them (Argo CD's credential template), registered or not.
     */
    readonly url: string;
    readonly auth: RepositoryAuth;
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

/** Checks every argument before any resource is registered. */
export function validateRepositoryCredentialsArgs(name: string, args: RepositoryCredentialsArgs, field = "args"): void {
    requireDnsLabel(name, `${field}.name`);
    if (!checkSettings(repositoryCredentialsArgsSchema(), args, field)) return;
    const url = args.url;
    if (args.auth.kind === "ssh") {
        check(/^(ssh:\/\/\S+@[^\s/]+\/|[A-Za-z0-9._-]+@[^\s:/]+:)\S*$/.test(url), `${field}.url`, `is "${url}", not an SSH URL prefix`, 'use e.g. "git@github.com:acme/"');
    } else {
        check(
            credentialURLPrefix.test(url),
            `${field}.url`,
            `is "${url}", not an HTTPS URL prefix without credentials`,
            'use e.g. "https://github.com/acme/" (the secret goes in the credential, never in the URL)',
        );
    }
    if (args.auth.kind === "https") {
        check(args.auth.username.trim() !== "", `${field}.username`, "is empty", 'set a username (GitHub accepts any, e.g. "git")');
    }
    if (args.auth.kind === "githubApp") {
        check(Number.isInteger(args.auth.appId) && args.auth.appId > 0, `${field}.appId`, `is ${args.auth.appId}`, "use the GitHub App's numeric id");
        check(
            Number.isInteger(args.auth.installationId) && args.auth.installationId > 0,
            `${field}.installationId`,
            `is ${args.auth.installationId}`,
            "use the installation's numeric id",
        );
    }
}

/** The credential keys Argo CD reads from a repo-creds Secret. Secret values stay Outputs. */
export function repositoryCredentialData(args: RepositoryCredentialsArgs): Record<string, pulumi.Input<string>> {
    const auth = args.auth;
    switch (auth.kind) {
        case "https":
            return { type: "git", url: args.url, username: auth.username, password: pulumi.secret(auth.password) };
        case "ssh":
            return { type: "git", url: args.url, sshPrivateKey: pulumi.secret(auth.sshPrivateKey) };
        case "githubApp":
            return {
                type: "git",
                url: args.url,
                githubAppID: String(auth.appId),
                githubAppInstallationID: String(auth.installationId),
                githubAppPrivateKey: pulumi.secret(auth.privateKey),
                ...(auth.enterpriseBaseUrl ? { githubAppEnterpriseBaseUrl: auth.enterpriseBaseUrl } : {}),
            };
    }
}

/**
 * Credentials for every private repository under a URL prefix: an Argo CD credential template
 * (a Secret labelled `argocd.argoproj.io/secret-type: repo-creds`), its secret parts Pulumi secrets
 * end to end, like the GitHub token.
 */
export class RepositoryCredentials extends pulumi.ComponentResource {
    readonly secretName: pulumi.Output<string>;
    readonly secret: k8s.core.v1.Secret;

    constructor(name: string, args: RepositoryCredentialsArgs, opts?: pulumi.ComponentResourceOptions) {
        validateRepositoryCredentialsArgs(name, args);
        super("gitops-control:argocd:RepositoryCredentials", name, {}, opts);
        this.secret = new k8s.core.v1.Secret(
            `${name}-repo-creds`,
            {
                metadata: {
                    name: `repo-creds-${name}`,
                    namespace: args.argoNamespace,
                    labels: { "argocd.argoproj.io/secret-type": "repo-creds", [labels.managedBy]: managedByValue },
                },
                type: "Opaque",
                stringData: repositoryCredentialData(args),
            },
            childOptions(this, args.provider, { additionalSecretOutputs: ["data", "stringData"] }),
        );
        this.secretName = this.secret.metadata.name;
        this.registerOutputs({ secretName: this.secretName });
    }
}

/** The `repositoryCredentials` settings of a stack (RepositoryCredentials). */
export const repositoryCredentialsSettingsSchema = z
    .array(
        z.strictObject({
            name: z.string().describe("Credential name; its secret part is `repositorySecrets.<name>`."),
            url: z.string().describe("URL prefix, e.g. https://github.com/acme/ or git@github.com:acme/."),
            type: z.enum(["https", "ssh", "githubApp"]),
            username: z.string().optional().describe('HTTPS only; default: "git".'),
            githubAppId: z.int().optional(),
            githubAppInstallationId: z.int().optional(),
            githubAppEnterpriseBaseUrl: z.string().optional(),
        }),
    )
    .default([])
    .describe("Credentials for private repositories, by URL prefix. Each one's secret part (token, SSH key or GitHub App key) is in `repositorySecrets`.");
