/**
 * Pipeline step 4: every cross-field and safety rule, all problems collected. Component rules run
 * through the components' own validators (the very functions their constructors run), and their
 * problems are translated to the stack-file key, naming the service and the component arg.
 */
import type { ControlPlaneArgs } from "../components/ControlPlane";
import { validateArgoCdArgs } from "../components/ArgoCd";
import { validateGuardrailArgs } from "../components/AdmissionGuardrails";
import { validateDestinationClusterArgs } from "../components/DestinationCluster";
import { GitOpsConfigError, check, collectProblems } from "../components/errors";
import { validateGitHubArgs } from "../components/GitHubPreviewHooks";
import { validateWaitForSync } from "../components/GitOpsApplication";
import { validateJanitorArgs } from "../components/PreviewJanitor";
import { validateBreakGlassExpiryArgs } from "../components/BreakGlassExpiry";
import { validateRepositoryCredentialsArgs } from "../components/RepositoryCredentials";
import { resolveService } from "../components/serviceSpec";
import { re2Problem } from "../components/guardrails/cel";
import { defaultAllowedRevisions } from "../components/guardrails/rules";
import { defaultAllowedIgnoreDifferences, describeAllowed, ignoreDifferenceFits } from "../components/guardrails/argoInputs";
import { reviewedInputClasses } from "../components/presets";
import { defaults } from "../components/defaults";
import { BreakGlassStatus, covers } from "./breakGlass";
import { ModelService, clusterNames, destinationArgs, environmentsOf, libraryRuleNames, repositoryCredentialArg, waitForSyncArg } from "./model";
import { stackPresets } from "./presets";
import { StackSecrets, setSecretEntryCommand, setTokenCommand, stackKey } from "./read";
import type { ServiceConfig, StackConfig } from "./schema";

/** A component arg path (after `args.`) → the key of a service entry that sets it. */
function serviceField(service: ServiceConfig, arg: string): string {
    const env = /^environments\[(\d+)\](?:\.(\w+))?(.*)$/.exec(arg);
    if (env) {
        const [, j, key = "", rest] = env;
        if (key === "syncPolicy" || key === "unsafeSyncPolicyReason") return `${key}${rest}`;
        const entry = service.environments?.[Number(j)];
        if (key === "targetRevision" && (entry === undefined || typeof entry === "string" || entry.targetRevision === undefined)) return "targetRevision";
        if (key === "namespace" && (entry === undefined || typeof entry === "string" || entry.namespace === undefined)) return service.environments ? `environments[${j}]` : "name";
        return service.environments ? `environments[${j}]${key && typeof entry === "object" ? `.${key}${rest}` : ""}` : "environments";
    }
    return arg
        .replace(/^source\.?/, "")
        .replace(/^previews\.github\.(owner|repo|labels)/, "previews.$1")
        .replace(/^previews\.github$/, "previews");
}

/** Rewrites a component problem to the stack key of the entry at `index`; `args.x` in the fix is rewritten too. */
function toStackProblem(problem: GitOpsConfigError, index: number, service: ServiceConfig, component: string): GitOpsConfigError {
    const arg = problem.field.replace(/^args\.?/, "");
    const key = (a: string) => {
        if (a === "argoNamespace") return stackKey("argocd.namespace");
        // Stack-wide settings every service gets.
        if (a.startsWith("waitForSync")) return stackKey(a);
        if (a.startsWith("cluster") && service.cluster === undefined) return stackKey("defaultCluster");
        const f = serviceField(service, a).replace(/(^|\.)cluster\.(name|server)$/, "$1cluster");
        return stackKey(`services[${index}]${f ? `.${f}` : ""}`.replace(/\.\[/, "["));
    };
    const fix = problem.fix.replace(/`args\.([^`]*)`/g, (_, a: string) => `\`${key(a)}\``);
    return new GitOpsConfigError(key(arg), `(service "${service.name}", ${component} arg \`${arg || "(args)"}\`) ${problem.problem}`, fix);
}

/** Rewrites problems of a stack-wide component (Argo CD, guardrails, GitHub, janitor) to its stack key. */
function toStackKey(problems: readonly GitOpsConfigError[], component: string, keyOf: (arg: string) => string): GitOpsConfigError[] {
    return problems.map((p) => {
        const arg = p.field.replace(/^args\.?/, "").replace(/^defaultRules\./, "");
        return new GitOpsConfigError(stackKey(keyOf(arg)), `(${component} arg \`${arg}\`) ${p.problem}`, p.fix);
    });
}

/** Rules across services and across keys: what no single component can see. */
/**
 * A `crds` stack installs the Argo CD CRDs and nothing else: keys that would deploy something are
 * refused rather than ignored, and it cannot point at another CRD stack.
 */
function layerRules(config: StackConfig): void {
    if (config.layer !== "crds") return;
    const crds = config.argocd.crds;
    check(
        !(crds && "stack" in crds),
        stackKey("argocd.crds.stack"),
        `is "${crds && "stack" in crds ? crds.stack : ""}" in a stack whose \`${stackKey("layer")}\` is crds, which installs the CRDs itself`,
        "remove it here (set it in the platform stack), or use `argocd.crds.path` for local CRD files",
    );
    for (const key of ["services", "destinations", "repositoryCredentials", "breakGlass"] as const) {
        check(
            config[key].length === 0,
            stackKey(key),
            `has ${config[key].length} entr${config[key].length === 1 ? "y" : "ies"} in a stack whose \`${stackKey("layer")}\` is crds, which installs only the Argo CD CRDs`,
            "move them to the platform stack of this cluster (the one whose `argocd.crds.stack` names this stack)",
        );
    }
}

function stackRules(config: StackConfig, services: readonly ModelService[], secrets: StackSecrets, active: readonly BreakGlassStatus[]): void {
    const stack = stackPresets[config.environment];
    const clusters = clusterNames(config);
    const clusterFix = `declare it in \`${stackKey("destinations")}\` or use one of ${clusters.join(", ")}`;
    const first = new Map<string, ModelService>();
    const namespaces = new Map<string, { service: ModelService; env: string }>();
    const repos = new Map<string, ModelService>();
    for (const s of services) {
        const f = `services[${s.index}]`;
        const other = first.get(s.name);
        check(
            other === undefined,
            stackKey(`${f}.name`),
            `repeats "${s.name}", already the name of \`${stackKey(`services[${other?.index}]`)}\` (team ${other?.config.team})`,
            "give every service a unique name; if both teams deploy the same service, one entry must go",
        );
        first.set(s.name, s);
        if (s.config.cluster !== undefined) {
            check(clusters.includes(s.config.cluster), stackKey(`${f}.cluster`), `(service "${s.name}") is "${s.config.cluster}", not a registered cluster`, clusterFix);
        }
        environmentsOf(s.config, config.environment).forEach((env, j) => {
            if ("cluster" in env && env.cluster !== undefined) {
                check(
                    clusters.includes(env.cluster),
                    stackKey(`${f}.environments[${j}].cluster`),
                    `(service "${s.name}", ${env.name}) is "${env.cluster}", not a registered cluster`,
                    clusterFix,
                );
            }
            check(
                stack.allowedEnvironments.includes(env.name),
                stackKey(s.config.environments ? `${f}.environments[${j}]` : `${f}.environments`),
                `(service "${s.name}") is "${env.name}", which a ${config.environment} stack does not deploy`,
                `deploy ${env.name} from the ${env.name} stack (Pulumi.${env.name}.yaml); here use ${stack.allowedEnvironments.map((e) => `"${e}"`).join(" or ")}`,
            );
            const namespace = env.namespace ?? `${s.name}-${env.name}`;
            const taken = namespaces.get(namespace);
            check(
                taken === undefined || taken.service === s,
                stackKey(s.config.environments ? `${f}.environments[${j}]` : `${f}.name`),
                `(service "${s.name}", ${env.name}) deploys to namespace "${namespace}", which service "${taken?.service.name}" (${taken?.env}) deploys to`,
                "give each service its own namespaces: an AppProject allowing another team's namespace lets it deploy there",
            );
            namespaces.set(namespace, { service: s, env: env.name });
        });
        const repo = s.config.repoURL.replace(/\.git$|\/$/g, "").toLowerCase();
        const owner = repos.get(repo);
        check(
            owner === undefined || (s.config.sharedRepository === true && owner.config.sharedRepository === true),
            stackKey(`${f}.repoURL`),
            `(service "${s.name}") is the repository of service "${owner?.name}" too`,
            `if both deploy from one repository on purpose, set \`sharedRepository: true\` on both entries; otherwise correct the URL`,
        );
        if (!repos.has(repo)) repos.set(repo, s);
        if (s.config.previews) {
            check(
                stack.previews,
                stackKey(`${f}.previews`),
                `(service "${s.name}") is set on a ${config.environment} stack, which runs no previews`,
                "move previews to the staging stack's service entry",
            );
            check(
                secrets.githubToken !== undefined,
                stackKey("githubToken"),
                `is not set, and ${s.name} has previews (the pull-request generator needs it)`,
                `run \`${setTokenCommand}\``,
            );
        }
    }
    // Preview namespaces (`<service>-pr-<n>`) of one service must not match another's namespaces.
    for (const s of services.filter((x) => x.config.previews)) {
        for (const [namespace, owner] of namespaces) {
            check(
                owner.service === s || !new RegExp(`^${s.name}-pr-[0-9]+$`).test(namespace),
                stackKey(`services[${owner.service.index}]`),
                `(service "${owner.service.name}") deploys to "${namespace}", a preview namespace of service "${s.name}"`,
                "rename the namespace: previews of the other service would deploy into it",
            );
        }
    }
    if (config.defaultCluster !== undefined) {
        check(clusters.includes(config.defaultCluster), stackKey("defaultCluster"), `is "${config.defaultCluster}", not a registered cluster`, clusterFix);
    }
    const rules = new Set(libraryRuleNames());
    const disabled = new Set(config.guardrails.disabledRules ?? []);
    (config.guardrails.disabledRules ?? []).forEach((name, i) =>
        check(rules.has(name), stackKey(`guardrails.disabledRules[${i}]`), `is "${name}", not a rule of the library`, `use one of ${[...rules].join(", ")}`),
    );
    const revisions = config.guardrails.allowedRevisions;
    (revisions ?? []).forEach((pattern, i) => {
        const problem = pattern.includes("'") ? "contains a single quote" : re2Problem(pattern);
        check(problem === undefined, stackKey(`guardrails.allowedRevisions[${i}]`), `"${pattern}" ${problem}`, 'use an RE2 pattern such as "^v[0-9]+[.][0-9]+[.][0-9]+$"');
    });
    // What protect-sync-policy would refuse in the cluster is refused here first, naming the key.
    if (!disabled.has("protect-sync-policy")) {
        const allowed = (revisions ?? defaultAllowedRevisions).map((p) => new RegExp(p));
        for (const s of services) {
            s.args.environments.forEach((e, j) => {
                const revision = e.targetRevision ?? defaults.targetRevision;
                check(
                    e.name !== "prod" || allowed.some((r) => r.test(revision)),
                    stackKey(`services[${s.index}].${serviceField(s.config, `environments[${j}].targetRevision`)}`),
                    `(service "${s.name}") deploys "${revision}" to prod, which is not an allowed revision format (guardrails.allowedRevisions; protect-sync-policy would refuse the Application)`,
                    "deploy a release tag, the default branch or a commit SHA, or add a pattern to `gitops-control:guardrails.allowedRevisions`",
                );
            });
        }
    }
    // What protect-application-inputs would refuse on a governed Application is refused here first.
    if (!disabled.has("protect-application-inputs")) {
        const allowed = config.guardrails.ignoreDifferences ?? defaultAllowedIgnoreDifferences;
        const governed = new Set<string>(reviewedInputClasses());
        for (const s of services) {
            const classes = s.args.environments.map((e) => e.name).filter((c) => governed.has(c));
            if (classes.length === 0) continue;
            (s.config.ignoreDifferences ?? []).forEach((entry, j) =>
                check(
                    ignoreDifferenceFits(entry, allowed),
                    stackKey(`services[${s.index}].ignoreDifferences[${j}]`),
                    `(service "${s.name}") ignores ${entry.group ? `${entry.group}/` : ""}${entry.kind} ${[...(entry.jsonPointers ?? []), ...(entry.jqPathExpressions ?? []).map((q) => `jq ${q}`), ...(entry.managedFieldsManagers ?? []).map((m) => `manager ${m}`)].join(" ")} in ${classes.join(", ")}, which is not on the allow-list (${allowed.map(describeAllowed).join("; ") || "none"}): Argo CD would stop seeing drift there (protect-application-inputs would refuse the Application)`,
                    "narrow it to a listed field, or declare it in `gitops-control:guardrails.ignoreDifferences` (a reviewed change of the stack file)",
                ),
            );
        }
    }
    active.forEach((glass) => {
        const i = config.breakGlass.findIndex((e) => e === glass.entry);
        check(
            glass.entry.environments === undefined || services.some((s) => s.args.environments.some((e) => covers(glass.entry, s.name, e.name))),
            stackKey(`breakGlass[${i}].environments`),
            `matches no environment of the named services (${JSON.stringify(glass.entry.environments)} of ${glass.entry.services.join(", ")})`,
            "drop `environments` or name one the services deploy to",
        );
    });
}

/** Registered clusters: unique names, a token each, and the DestinationCluster component's own checks. */
function destinationProblems(config: StackConfig, secrets: StackSecrets): GitOpsConfigError[] {
    const seen = new Set<string>();
    const built = destinationArgs(config, secrets);
    return config.destinations.flatMap((d, i) => {
        const field = `destinations[${i}]`;
        return [
            ...collectProblems(() => {
                check(!seen.has(d.name), stackKey(`${field}.name`), `repeats "${d.name}"`, "give every cluster a unique name");
                seen.add(d.name);
                check(
                    secrets.destinationTokens?.[d.name] !== undefined,
                    stackKey(`destinationTokens.${d.name}`),
                    `is not set, so Argo CD cannot authenticate to cluster "${d.name}"`,
                    `run \`${setSecretEntryCommand("destinationTokens", d.name)}\``,
                );
            }),
            ...toStackKey(
                collectProblems(() => validateDestinationClusterArgs({ ...built[i], argoNamespace: config.argocd.namespace })),
                "DestinationCluster",
                (arg) => (arg === "argoNamespace" ? "argocd.namespace" : `${field}.${arg.replace(/^clusterName/, "name")}`),
            ),
        ];
    });
}

/** Repository credentials: unique names, a secret each, GitHub App ids, and the RepositoryCredentials component's own checks. */
function credentialProblems(config: StackConfig, secrets: StackSecrets): GitOpsConfigError[] {
    const seen = new Set<string>();
    const appArgs: Record<string, string> = { appId: "githubAppId", installationId: "githubAppInstallationId" };
    return config.repositoryCredentials.flatMap((c, i) => {
        const field = `repositoryCredentials[${i}]`;
        const own = collectProblems(() => {
            check(!seen.has(c.name), stackKey(`${field}.name`), `repeats "${c.name}"`, "give every credential a unique name");
            seen.add(c.name);
            check(
                secrets.repositorySecrets?.[c.name] !== undefined,
                stackKey(`repositorySecrets.${c.name}`),
                `is not set, so the credential "${c.name}" has nothing to authenticate with`,
                `run \`${setSecretEntryCommand("repositorySecrets", c.name)}\``,
            );
            check(
                c.type !== "githubApp" || (c.githubAppId !== undefined && c.githubAppInstallationId !== undefined),
                stackKey(field),
                "is a GitHub App credential without `githubAppId` and `githubAppInstallationId`",
                "set both (numbers from the App's settings page)",
            );
        });
        // Missing App ids are reported above; the component would only echo them as 0.
        const missingIds = c.type === "githubApp" && (c.githubAppId === undefined || c.githubAppInstallationId === undefined);
        const component = missingIds
            ? []
            : toStackKey(
                  collectProblems(() => validateRepositoryCredentialsArgs(c.name, { ...repositoryCredentialArg(c, secrets), argoNamespace: config.argocd.namespace })),
                  "RepositoryCredentials",
                  (arg) => (arg === "argoNamespace" ? "argocd.namespace" : `${field}.${appArgs[arg] ?? arg}`),
              );
        return [...own, ...component];
    });
}

/** Every problem of the resolved stack, each naming the stack key (and the service and component arg where there is one). */
export function validateStack(
    config: StackConfig,
    services: readonly ModelService[],
    secrets: StackSecrets,
    active: readonly BreakGlassStatus[],
    build: () => Omit<ControlPlaneArgs, "provider">,
    /** False when break-glass entries are invalid: the bindings built from them would only echo those problems. */
    checkBuilt = true,
): GitOpsConfigError[] {
    const problems = collectProblems(() => layerRules(config));
    problems.push(...collectProblems(() => stackRules(config, services, secrets, active)));
    problems.push(...destinationProblems(config, secrets), ...credentialProblems(config, secrets));
    // Checked once for the stack too: a stack without services must not accept a bad timeout either.
    const waitForSync = waitForSyncArg(config);
    if (waitForSync)
        problems.push(
            ...toStackKey(
                collectProblems(() => validateWaitForSync(waitForSync, "args.waitForSync")),
                "GitOpsApplication",
                (arg) => arg,
            ),
        );
    for (const s of services) {
        const { problems: found } = resolveService(s.name, { ...s.args, argoNamespace: config.argocd.namespace });
        problems.push(...found.map((p) => toStackProblem(p, s.index, s.config, "GitOpsService")));
    }
    if (!checkBuilt) return problems;
    // The stack-wide components, on the args they will get.
    let args: Omit<ControlPlaneArgs, "provider"> | undefined;
    problems.push(
        ...toStackKey(
            collectProblems(() => (args = build())),
            "guardrails",
            (arg) => (arg === "argoCdNamespace" ? "argocd.namespace" : `guardrails.${arg}`),
        ),
    );
    if (!args) return problems;
    const built = args;
    problems.push(
        ...toStackKey(
            collectProblems(() => validateArgoCdArgs(built.argoCd)),
            "ArgoCd",
            (arg) => `argocd.${arg}`,
        ),
    );
    problems.push(
        ...toStackKey(
            collectProblems(() => validateGuardrailArgs(built.guardrails)),
            "AdmissionGuardrails",
            (arg) => `guardrails.${arg}`,
        ),
    );
    if (built.github) {
        const github = built.github;
        problems.push(
            ...toStackKey(
                collectProblems(() => validateGitHubArgs({ ...github, webhookSecret: "x" })),
                "GitHubPreviewHooks",
                (arg) => `github.${arg.replace(/^baseUrl/, "api")}`,
            ),
        );
    }
    if (built.previewJanitor) {
        const janitor = built.previewJanitor;
        problems.push(
            ...toStackKey(
                collectProblems(() => validateJanitorArgs({ ...janitor, namespace: config.argocd.namespace })),
                "PreviewJanitor",
                (arg) => `previewJanitor.${arg}`,
            ),
        );
    }
    if (built.breakGlassExpiry) {
        const expiry = built.breakGlassExpiry;
        // Its image is the janitor's (`previewJanitor.image`).
        problems.push(
            ...toStackKey(
                collectProblems(() => validateBreakGlassExpiryArgs({ ...expiry, namespace: config.argocd.namespace })),
                "BreakGlassExpiry",
                (arg) => (arg === "image" ? "previewJanitor.image" : `breakGlass.${arg}`),
            ),
        );
    }
    return problems;
}
