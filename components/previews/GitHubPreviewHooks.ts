import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { check } from "../core/errors";
import { z } from "zod";
import { checkSettings, inputString } from "../core/settings";

/** GitHub settings the stack's `github` key and the component share (the stack calls `baseUrl` `api`). */
const gitHubShared = {
    owner: z.string().describe("Organisation of the preview repositories whose repoURL is not on GitHub."),
    baseUrl: z.url().describe("GitHub Enterprise API URL. Default: GitHub.com."),
    webhookUrl: z.string().describe("ApplicationSet webhook endpoint; with it (and a token), labels and webhooks are managed on GitHub."),
};

/** The component's args. */
const gitHubArgsSchema = () =>
    z.strictObject({
        ...gitHubShared,
        baseUrl: gitHubShared.baseUrl.optional(),
        token: inputString,
        repositories: z.array(z.string()),
        webhookSecret: inputString,
        label: z.string().optional(),
    });

export interface GitHubPreviewHooksArgs {
    /** Organisation or user owning the repositories. */
    readonly owner: string;
    /** Token with admin:repo_hook and issues scopes, as a Pulumi secret. */
    readonly token: pulumi.Input<string>;
    /** Service repositories (names without owner). */
    readonly repositories: readonly string[];
    /**
     * Argo CD's webhook endpoint for the ApplicationSet controller (`https://<host>/api/webhook`).
     * GitHub pull_request events make previews appear and disappear within seconds instead of at
     * the next `requeueAfterSeconds` poll.
     */
    readonly webhookUrl: string;
    /** Shared secret GitHub signs deliveries with; Argo CD checks it (`webhook.github.secret`). */
    readonly webhookSecret: pulumi.Input<string>;
    /** Label that asks for a preview. @default "preview" */
    readonly label?: string;
    /** GitHub Enterprise API base URL. @default GitHub.com */
    readonly baseUrl?: string;
}

/** Checks every argument before any resource is registered. */
export function validateGitHubArgs(args: GitHubPreviewHooksArgs, field = "args"): void {
    if (!checkSettings(gitHubArgsSchema(), args, field)) return;
    check(/^[A-Za-z0-9_.-]+$/.test(args.owner), `${field}.owner`, `is "${args.owner}"`, "use the GitHub organisation or user name");
    check(args.repositories.length > 0, `${field}.repositories`, "is empty", "list the repositories that get previews");
    check(
        /^https:\/\/\S+\/api\/webhook$/.test(args.webhookUrl),
        `${field}.webhookUrl`,
        `is "${args.webhookUrl}"`,
        'use the ApplicationSet webhook endpoint over https, e.g. "https://argocd-appset.example.com/api/webhook"',
    );
}

/**
 * The GitHub side of previews, per service repository: the `preview` issue label and a
 * pull_request webhook to Argo CD's ApplicationSet controller, signed with a generated secret.
 * Only created when GitHub management is configured, so stacks without it never load the github
 * provider plugin.
 */
export class GitHubPreviewHooks extends pulumi.ComponentResource {
    readonly webhookIds: pulumi.Output<string[]>;

    constructor(name: string, args: GitHubPreviewHooksArgs, opts?: pulumi.ComponentResourceOptions) {
        validateGitHubArgs(args);
        super("gitops-control:github:GitHubPreviewHooks", name, {}, opts);
        const provider = new github.Provider(
            `${name}-github`,
            { owner: args.owner, token: pulumi.secret(args.token), ...(args.baseUrl ? { baseUrl: args.baseUrl } : {}) },
            { parent: this },
        );
        const hooks: github.RepositoryWebhook[] = [];
        for (const repository of args.repositories) {
            new github.IssueLabel(
                `${name}-${repository}-label`,
                { repository, name: args.label ?? "preview", color: "0e8a16", description: "Deploy a preview environment for this pull request (gitops-control)" },
                { parent: this, provider },
            );
            hooks.push(
                new github.RepositoryWebhook(
                    `${name}-${repository}-webhook`,
                    {
                        repository,
                        active: true,
                        events: ["pull_request"],
                        configuration: { url: args.webhookUrl, contentType: "json", insecureSsl: false, secret: pulumi.secret(args.webhookSecret) },
                    },
                    { parent: this, provider, additionalSecretOutputs: ["configuration"] },
                ),
            );
        }
        this.webhookIds = pulumi.all(hooks.map((h) => h.id));
        this.registerOutputs({ webhookIds: this.webhookIds });
    }
}

/** The `github` settings of a stack: where previews live on GitHub and the webhook (GitHubPreviewHooks). */
export const gitHubSettingsSchema = z
    .strictObject({ owner: gitHubShared.owner.optional(), api: gitHubShared.baseUrl.optional(), webhookUrl: gitHubShared.webhookUrl.optional() })
    .optional()
    .describe("GitHub organisation, API and webhook of the previews.");
