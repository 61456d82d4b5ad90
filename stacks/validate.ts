/**
 * Pipeline step 4: every cross-field and safety rule, all problems collected. Component rules run
 * through the components' own validators (the very functions their constructors run), and their
 * problems are translated to the stack-file key, naming the service and the component arg.
 */
import type { ControlPlaneArgs } from "../components/ControlPlane";
import { validateArgoCdArgs } from "../components/argocd/ArgoCd";
import { validateGuardrailArgs } from "../components/guardrails/AdmissionGuardrails";
import { validateDestinationClusterArgs } from "../components/clusters/DestinationCluster";
import { GitOpsConfigError, Path, check, collectProblems, formatPath } from "../components/core/errors";
import { validateGitHubArgs } from "../components/previews/GitHubPreviewHooks";
import { validateWaitForSync } from "../components/applications/GitOpsApplication";
import { validateJanitorArgs } from "../components/previews/PreviewJanitor";
import { validatePruneGateArgs } from "../components/pruning/PruneGate";
import { validateBreakGlassExpiryArgs } from "../components/breakglass/BreakGlassExpiry";
import { validateRepositoryCredentialsArgs } from "../components/argocd/RepositoryCredentials";
import { PlacedService, governedClusterCommand, placed, resolveService, serviceConflicts } from "../components/serviceSpec";
import { re2Problem } from "../components/guardrails/cel";
import { defaultAllowedIgnoreDifferences, describeAllowed, ignoreDifferenceFits } from "../components/guardrails/rules";
import { reviewedInputClasses } from "../components/core/presets";
import { BreakGlassStatus, covers } from "./breakGlass";
import { ModelService, clusterNames, destinationArgs, environmentsOf, libraryRuleNames, repositoryCredentialArg, waitForSyncArg } from "./model";
import { stackKinds, stackPresets } from "./presets";
import { StackSecrets, setSecretEntryCommand, setTokenCommand, stackKey } from "./read";
import { ServiceConfig, StackConfig, stackConfigSchema } from "./schema";

/**
 * The stack key of a GitOpsService arg (its path after `args`): the entry's own key under
 * `services[i]` (both routes use the same field names), except for what the stack sets for every
 * service. A table of path heads, no pattern matching.
 */
export function serviceKey(arg: Path, index: number, service: ServiceConfig): Path {
    const [head, next] = arg;
    const entry: Path = ["services", index];
    switch (head) {
        case "argoNamespace":
            return ["argocd", "namespace"];
        case "waitForSync":
            return arg;
        case "allowedRevisions":
            return ["guardrails", ...arg];
        case "cluster":
            return service.cluster === undefined ? ["defaultCluster"] : [...entry, ...arg];
        case "environments":
            // The stack's default environments: the entry has no list to point into.
            return service.environments === undefined ? [...entry, "environments"] : [...entry, ...arg];
        case "previews":
            if (next === "token") return ["githubToken"];
            if (next === "api") return ["github", "api"];
            if (next === "owner" && service.previews?.owner === undefined) return ["github", "owner"];
            return [...entry, ...arg];
        default:
            return [...entry, ...arg];
    }
}

/** A GitOpsService problem (fields under `args`) at the stack key of the entry at `index`. */
function toStackProblem(problem: GitOpsConfigError, index: number, service: ServiceConfig, component: string): GitOpsConfigError {
    const arg = problem.path[0] === "args" ? problem.path.slice(1) : problem.path;
    return new GitOpsConfigError(
        stackKey(formatPath(serviceKey(arg, index, service))),
        `(service "${service.name}", ${component} arg \`${formatPath(arg) || "(args)"}\`) ${problem.problem}`,
        problem.fix,
    );
}

/**
 * Rewrites problems of a stack-wide component (Argo CD, guardrails, GitHub, janitor) to its stack
 * key: `keyOf` maps the arg path (after `args`, and after `defaultRules` for the guardrail rules)
 * to the stack key's path, by its head.
 */
function toStackKey(problems: readonly GitOpsConfigError[], component: string, keyOf: (arg: Path) => Path): GitOpsConfigError[] {
    return problems.map((p) => {
        const afterArgs = p.path[0] === "args" ? p.path.slice(1) : p.path;
        const arg = afterArgs[0] === "defaultRules" ? afterArgs.slice(1) : afterArgs;
        return new GitOpsConfigError(stackKey(formatPath(keyOf(arg))), `(${component} arg \`${formatPath(arg)}\`) ${p.problem}`, p.fix);
    });
}

/** `rename` applied to the head of an arg path: `{ clusterName: "name" }`. */
const renamed =
    (prefix: Path, rename: Readonly<Record<string, string>> = {}) =>
    ([head, ...rest]: Path): Path =>
        head === "argoNamespace" ? ["argocd", "namespace"] : [...prefix, typeof head === "string" ? (rename[head] ?? head) : head, ...rest];

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
    const lists = ["services", "destinations", "repositoryCredentials", "breakGlass"] as const;
    for (const key of lists) {
        check(
            config[key].length === 0,
            stackKey(key),
            `has ${config[key].length} entr${config[key].length === 1 ? "y" : "ies"} in a stack whose \`${stackKey("layer")}\` is crds, which installs only the Argo CD CRDs`,
            "move them to the platform stack of this cluster (the one whose `argocd.crds.stack` names this stack)",
        );
    }
    // Every other key a crds stack would ignore: what differs from the defaults, but its CRD source.
    const used = new Set<string>(["environment", "layer", "kubernetes", ...lists]);
    const defaults = stackConfigSchema.parse({ environment: config.environment, layer: "crds" }) as Record<string, unknown>;
    const { crds: _, ...argocd } = config.argocd;
    const given: Record<string, unknown> = { ...config, argocd };
    for (const key of Object.keys(given).filter((k) => !used.has(k))) {
        check(
            JSON.stringify(given[key]) === JSON.stringify(defaults[key]),
            stackKey(key === "argocd" ? "argocd" : key),
            `is set in a stack whose \`${stackKey("layer")}\` is crds, which ignores it (it installs only the Argo CD CRDs${key === "argocd" ? "; of `argocd` it reads only `crds.path`" : ""})`,
            "move it to the platform stack of this cluster (the one whose `argocd.crds.stack` names this stack)",
        );
    }
}

/** The CRD stack a platform stack names must be of its own environment: prod does not run on staging's CRDs. */
function crdStackRule(config: StackConfig): void {
    const crds = config.argocd.crds;
    if (config.layer !== "platform" || !crds || !("stack" in crds)) return;
    const words = (crds.stack.split("/").pop() ?? "").split(/[-_.]/);
    const foreign = stackKinds.filter((k) => k !== config.environment && words.includes(k));
    check(
        foreign.length === 0,
        stackKey("argocd.crds.stack"),
        `is "${crds.stack}", a ${foreign.join("/")} CRD stack, in a ${config.environment} stack: an upgrade there would change this cluster's CRDs`,
        `name the ${config.environment} CRD stack, e.g. ${config.environment}-crds`,
    );
}

function stackRules(config: StackConfig, services: readonly ModelService[], secrets: StackSecrets, active: readonly BreakGlassStatus[]): void {
    const stack = stackPresets[config.environment];
    const clusters = clusterNames(config);
    const clusterFix = `declare it in \`${stackKey("destinations")}\` or use one of ${clusters.join(", ")}`;
    const repos = new Map<string, ModelService>();
    for (const s of services) {
        const f = `services[${s.index}]`;
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
            const previewCluster = s.config.cluster ?? config.defaultCluster;
            check(
                previewCluster === undefined || secrets.destinationKubeconfigs?.[previewCluster] === undefined,
                stackKey(`${f}.previews`),
                `(service "${s.name}") would deploy previews to "${previewCluster}", a cluster this program governs: Argo CD's account there creates no namespace, so no preview could start`,
                "give the service `cluster: in-cluster` (its environments may still name the governed cluster), or run previews from a stack whose previews cluster is in-cluster",
            );
        }
    }
    if (config.defaultCluster !== undefined) {
        check(clusters.includes(config.defaultCluster), stackKey("defaultCluster"), `is "${config.defaultCluster}", not a registered cluster`, clusterFix);
    }
    const rules = new Set(libraryRuleNames());
    (config.guardrails.disabledRules ?? []).forEach((name, i) =>
        check(rules.has(name), stackKey(`guardrails.disabledRules[${i}]`), `is "${name}", not a rule of the library`, `use one of ${[...rules].join(", ")}`),
    );
    (config.guardrails.allowedRevisions ?? []).forEach((pattern, i) => {
        const problem = pattern.includes("'") ? "contains a single quote" : re2Problem(pattern);
        check(problem === undefined, stackKey(`guardrails.allowedRevisions[${i}]`), `"${pattern}" ${problem}`, 'use an RE2 pattern such as "^v[0-9]+[.][0-9]+[.][0-9]+$"');
    });
    // What protect-application-inputs would refuse on a governed Application is refused here first.
    const disabled = new Set(config.guardrails.disabledRules ?? []);
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

/** Registered clusters: unique names, a kubeconfig or a token each (not both), and the DestinationCluster component's own checks. */
function destinationProblems(config: StackConfig, secrets: StackSecrets): GitOpsConfigError[] {
    const seen = new Set<string>();
    const built = destinationArgs(config, secrets);
    const declared = new Set(config.destinations.map((d) => d.name));
    // A kubeconfig for a name no entry declares would govern nothing: refused, not ignored.
    const strays = Object.keys(secrets.destinationKubeconfigs ?? {})
        .filter((name) => !declared.has(name))
        .map(
            (name) =>
                new GitOpsConfigError(
                    stackKey(`destinationKubeconfigs.${name}`),
                    `names "${name}", which no \`${stackKey("destinations")}\` entry declares`,
                    `declare it in \`${stackKey("destinations")}\` (name, server, caData) or remove the secret`,
                ),
        );
    return strays.concat(
        config.destinations.flatMap((d, i) => {
            const field = `destinations[${i}]`;
            return [
                ...collectProblems(() => {
                    check(!seen.has(d.name), stackKey(`${field}.name`), `repeats "${d.name}"`, "give every cluster a unique name");
                    seen.add(d.name);
                    const kubeconfig = secrets.destinationKubeconfigs?.[d.name] !== undefined;
                    const token = secrets.destinationTokens?.[d.name] !== undefined;
                    check(
                        kubeconfig || token,
                        stackKey(`destinationTokens.${d.name}`),
                        `is not set, so Argo CD cannot authenticate to cluster "${d.name}"`,
                        `run \`${governedClusterCommand(d.name)}\` (the program then governs the cluster and creates Argo CD's token there), or \`${setSecretEntryCommand("destinationTokens", d.name)}\` for a cluster another stack governs`,
                    );
                    check(
                        !(kubeconfig && token),
                        stackKey(`destinationTokens.${d.name}`),
                        `is set together with \`${stackKey(`destinationKubeconfigs.${d.name}`)}\`: with a kubeconfig the program creates Argo CD's token on the cluster itself`,
                        `remove the token: \`pulumi config rm --path '${stackKey(`destinationTokens.${d.name}`)}'\``,
                    );
                    check(
                        !(kubeconfig && d.governedBy !== undefined),
                        stackKey(`${field}.governedBy`),
                        `is "${d.governedBy}", but this stack has the cluster's kubeconfig and governs it itself: two programs would install its guardrails`,
                        `drop \`governedBy\`, or remove \`${stackKey(`destinationKubeconfigs.${d.name}`)}\` and let stack "${d.governedBy}" govern it`,
                    );
                }),
                ...toStackKey(
                    collectProblems(() => {
                        const { kubeconfig: _, ...cluster } = built[i];
                        validateDestinationClusterArgs({ ...cluster, bearerToken: cluster.bearerToken ?? "", argoNamespace: config.argocd.namespace });
                    }),
                    "DestinationCluster",
                    renamed(["destinations", i], { clusterName: "name" }),
                ),
            ];
        }),
    );
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
                  renamed(["repositoryCredentials", i], appArgs),
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
    problems.push(...collectProblems(() => crdStackRule(config)));
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
    // Each service through the component's own resolve step, then against the entries before it
    // (names, namespaces, preview globs): the checks a team program's GitOpsServices get.
    const placedServices: PlacedService[] = [];
    for (const s of services) {
        const { resolved, problems: found } = resolveService(s.name, { ...s.args, argoNamespace: config.argocd.namespace });
        problems.push(...found.map((p) => toStackProblem(p, s.index, s.config, "GitOpsService")));
        if (!resolved) continue;
        problems.push(...serviceConflicts(resolved, placedServices).map((p) => toStackProblem(p, s.index, s.config, "GitOpsService")));
        placedServices.push(placed(resolved));
    }
    if (!checkBuilt) return problems;
    // The stack-wide components, on the args they will get.
    let args: Omit<ControlPlaneArgs, "provider"> | undefined;
    problems.push(
        ...toStackKey(
            collectProblems(() => (args = build())),
            "guardrails",
            (arg) => (arg[0] === "argoCdNamespace" ? ["argocd", "namespace"] : ["guardrails", ...arg]),
        ),
    );
    if (!args) return problems;
    const built = args;
    problems.push(
        ...toStackKey(
            collectProblems(() => validateArgoCdArgs(built.argoCd)),
            "ArgoCd",
            (arg) => ["argocd", ...arg],
        ),
    );
    problems.push(
        ...toStackKey(
            collectProblems(() => validateGuardrailArgs(built.guardrails)),
            "AdmissionGuardrails",
            (arg) => ["guardrails", ...arg],
        ),
    );
    if (built.github) {
        const github = built.github;
        problems.push(
            ...toStackKey(
                collectProblems(() => validateGitHubArgs({ ...github, webhookSecret: "x" })),
                "GitHubPreviewHooks",
                renamed(["github"], { baseUrl: "api" }),
            ),
        );
    }
    if (built.previewJanitor) {
        const janitor = built.previewJanitor;
        problems.push(
            ...toStackKey(
                collectProblems(() => validateJanitorArgs({ ...janitor, namespace: config.argocd.namespace })),
                "PreviewJanitor",
                (arg) => ["previewJanitor", ...arg],
            ),
        );
    }
    if (built.pruneGate) {
        const gate = built.pruneGate;
        // Its image is the janitor's (`previewJanitor.image`), its budget `applicationPruneBudget.prod`.
        problems.push(
            ...toStackKey(
                collectProblems(() => validatePruneGateArgs({ ...gate, namespace: config.argocd.namespace })),
                "PruneGate",
                (arg) => (arg[0] === "image" ? ["previewJanitor", "image"] : arg[0] === "budget" ? ["applicationPruneBudget", "prod"] : ["pruneGate", ...arg]),
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
                (arg) => (arg[0] === "image" ? ["previewJanitor", "image"] : ["breakGlass", ...arg]),
            ),
        );
    }
    return problems;
}
