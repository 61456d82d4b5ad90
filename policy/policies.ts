/**
 * CrossGuard policies for the control model, checked by the engine on every preview and update
 * (`pulumi preview --policy-pack policy/`). Each factory takes its enforcement level so a pack, a
 * test or an exception file can choose `mandatory` (blocks), `advisory` (reports) or `disabled`.
 *
 * The policies see what the engine sends an analyzer: a resource's type, URN, inputs (secrets
 * unwrapped to plain values) and a subset of its options (`protect`, `additionalSecretOutputs`,
 * `ignoreChanges`, …; not `retainOnDelete`, see {@link prodCrdsRetained}). They therefore check
 * the rendered objects, whoever rendered them: this program, a team's own program using the
 * components, or hand-written resources.
 */
import type {
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationPolicy,
} from "@pulumi/policy";
import { annotations, labels } from "../components/core/labels";

/** Type tokens of the resources the policies inspect. */
export const resourceTypes = {
    application: "kubernetes:argoproj.io/v1alpha1:Application",
    applicationSet: "kubernetes:argoproj.io/v1alpha1:ApplicationSet",
    secret: "kubernetes:core/v1:Secret",
    binding: "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding",
    chartV4: "kubernetes:helm.sh/v4:Chart",
    releaseV3: "kubernetes:helm.sh/v3:Release",
    crd: "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
} as const;

/** Label Argo CD requires on Secrets that a generator's `tokenRef` reads. */
export const scmCredsLabel = { key: "argocd.argoproj.io/secret-type", value: "scm-creds" } as const;

/** The environment class the strict policies apply to. */
const prod = "prod";

// ---- The parts of the rendered objects the policies read (everything optional: input is untrusted).

interface ObjectMeta {
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
}

interface ApplicationProps {
    readonly metadata?: ObjectMeta;
    readonly spec?: {
        readonly syncPolicy?: {
            readonly automated?: { readonly enabled?: boolean; readonly prune?: boolean; readonly selfHeal?: boolean; readonly allowEmpty?: boolean };
        };
    };
}

interface ApplicationSetProps {
    readonly metadata?: ObjectMeta;
    readonly spec?: {
        readonly goTemplate?: boolean;
        readonly goTemplateOptions?: readonly string[];
        readonly generators?: readonly unknown[];
        readonly template?: { readonly spec?: { readonly project?: unknown } };
        readonly templatePatch?: string;
    };
}

interface SecretProps {
    readonly metadata?: ObjectMeta;
    readonly data?: Readonly<Record<string, unknown>>;
    readonly stringData?: Readonly<Record<string, unknown>>;
}

export interface LabelSelectorProps {
    readonly matchLabels?: Readonly<Record<string, string>>;
    readonly matchExpressions?: readonly { readonly key?: string; readonly operator?: string; readonly values?: readonly string[] }[];
}

interface BindingProps {
    readonly metadata?: ObjectMeta;
    readonly spec?: {
        readonly policyName?: string;
        readonly validationActions?: readonly string[];
        readonly matchResources?: { readonly namespaceSelector?: LabelSelectorProps; readonly objectSelector?: LabelSelectorProps };
    };
}

interface ChartProps {
    readonly chart?: string;
    readonly version?: string;
    readonly repositoryOpts?: { readonly repo?: string };
}

interface CrdProps {
    readonly metadata?: ObjectMeta;
}

/** A validation that runs only for one resource type, with its props typed. */
function validateResourceOfKind<P>(
    types: string | readonly string[],
    validate: (props: P, args: ResourceValidationArgs, reportViolation: ReportViolation) => void,
): ResourceValidation {
    const wanted = typeof types === "string" ? [types] : types;
    return (args, reportViolation) => {
        if (wanted.includes(args.type)) {
            validate(args.props as P, args, reportViolation);
        }
    };
}

const nameOf = (meta: ObjectMeta | undefined, fallback: string): string => meta?.name ?? fallback;

/** Stack name from a URN (`urn:pulumi:<stack>::<project>::<type>::<name>`). */
export function stackOfUrn(urn: string): string {
    return urn.split("::")[0]?.split(":")[2] ?? "";
}

/**
 * Whether a label selector explicitly selects objects whose `key` label equals `value`: by
 * `matchLabels`, or by an `In` expression listing the value. A selector that does not mention the
 * key at all (everything) is not "explicitly prod": a policy cannot tell from one binding whether
 * another one denies.
 */
export function selectsLabelValue(selector: LabelSelectorProps | undefined, key: string, value: string): boolean {
    if (!selector) return false;
    if (selector.matchLabels?.[key] === value) return true;
    return (selector.matchExpressions ?? []).some((e) => e.key === key && e.operator === "In" && (e.values ?? []).includes(value));
}

// ---- Policies

/**
 * Prod Applications (label `gitops-control.io/environment=prod`) reconcile Git strictly: automated
 * sync with prune (no ghosts), self-heal (no live edits that stand) and `allowEmpty: false` (a bad
 * path cannot prune everything). Automated sync may only be paused under an active break-glass
 * entry, which the program stamps on the Application as annotations.
 */
export function prodApplicationSyncPolicy(enforcementLevel: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
    return {
        name: "prod-application-sync-policy",
        description: "Prod Applications sync automatically with prune and self-heal, and refuse an empty desired state.",
        enforcementLevel,
        severity: "high",
        remediationSteps:
            "Restore the prod preset (stacks/presets.ts): syncPolicy.automated { enabled: true, prune: true, selfHeal: true, allowEmpty: false }. " +
            "A time-bound exception is a break-glass entry, not a weaker policy.",
        validateResource: validateResourceOfKind<ApplicationProps>(resourceTypes.application, (app, args, reportViolation) => {
            if (app.metadata?.labels?.[labels.environment] !== prod) return;
            const name = nameOf(app.metadata, args.name);
            const automated = app.spec?.syncPolicy?.automated;
            if (!automated) {
                reportViolation(
                    `prod Application "${name}" has no spec.syncPolicy.automated: Git is not reconciled. Fix: set automated { enabled: true, prune: true, selfHeal: true, allowEmpty: false }.`,
                );
                return;
            }
            const breakGlass = app.metadata?.annotations?.[annotations.breakGlassTicket] !== undefined;
            if (automated.enabled === false && !breakGlass) {
                reportViolation(
                    `prod Application "${name}" has automated.enabled: false without a break-glass entry (annotation ${annotations.breakGlassTicket}). Fix: enable automated sync, or declare a break-glass entry.`,
                );
            }
            if (automated.prune !== true) {
                reportViolation(
                    `prod Application "${name}" has automated.prune: ${String(automated.prune)}: resources removed from Git stay in the cluster. Fix: set prune: true.`,
                );
            }
            if (automated.selfHeal !== true) {
                reportViolation(`prod Application "${name}" has automated.selfHeal: ${String(automated.selfHeal)}: live edits are not reverted. Fix: set selfHeal: true.`);
            }
            if (automated.allowEmpty !== false) {
                reportViolation(
                    `prod Application "${name}" has automated.allowEmpty: ${String(automated.allowEmpty)}: a bad path could prune everything. Fix: set allowEmpty: false explicitly.`,
                );
            }
        }),
    };
}

/**
 * ApplicationSets render Go templates with `missingkey=error` (a typo fails generation instead of
 * producing "<no value>" names) and put every generated Application into a fixed project: a project
 * templated from pull-request data would let whoever opens a PR choose a more privileged one.
 */
export function applicationSetTemplateSafety(enforcementLevel: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
    return {
        name: "applicationset-template-safety",
        description: "ApplicationSets use Go templates with missingkey=error and a fixed, untemplated project.",
        enforcementLevel,
        severity: "high",
        remediationSteps: 'Set spec.goTemplate: true, spec.goTemplateOptions: ["missingkey=error"], and a literal spec.template.spec.project.',
        validateResource: validateResourceOfKind<ApplicationSetProps>(resourceTypes.applicationSet, (set, args, reportViolation) => {
            const name = nameOf(set.metadata, args.name);
            const spec = set.spec ?? {};
            if (spec.goTemplate !== true) {
                reportViolation(`ApplicationSet "${name}" does not set spec.goTemplate: true, so goTemplateOptions do not apply. Fix: set goTemplate: true.`);
            }
            if (!(spec.goTemplateOptions ?? []).includes("missingkey=error")) {
                reportViolation(
                    `ApplicationSet "${name}" has goTemplateOptions ${JSON.stringify(spec.goTemplateOptions ?? [])}: a template typo renders "<no value>". Fix: set goTemplateOptions: ["missingkey=error"].`,
                );
            }
            const project = spec.template?.spec?.project;
            if (typeof project !== "string" || project.trim() === "") {
                reportViolation(`ApplicationSet "${name}" has no spec.template.spec.project. Fix: name the service's AppProject.`);
            } else if (project.includes("{{")) {
                reportViolation(`ApplicationSet "${name}" templates its project ("${project}"): whoever opens a PR could pick the project. Fix: use a fixed project name.`);
            }
            if (spec.templatePatch !== undefined && /(^|[\s{,"'])project["']?\s*:/m.test(spec.templatePatch)) {
                reportViolation(`ApplicationSet "${name}" sets the project in spec.templatePatch, which bypasses the fixed template project. Fix: remove it from the patch.`);
            }
        }),
    };
}

/**
 * Token Secrets (label `argocd.argoproj.io/secret-type: scm-creds`) keep their data secret: the
 * engine must treat `data` and `stringData` as secret outputs, or the token lands in plain text in
 * state and in `pulumi stack export`. Secretness of the input value itself is invisible to a
 * policy (the engine unwraps secrets for analyzers); `additionalSecretOutputs` is what it can see.
 */
export function scmTokenSecretIsSecret(enforcementLevel: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
    return {
        name: "scm-token-secret-is-secret",
        description: "scm-creds Secrets mark data and stringData as secret outputs.",
        enforcementLevel,
        severity: "critical",
        remediationSteps: 'Create the Secret with { additionalSecretOutputs: ["data", "stringData"] } and its value wrapped in pulumi.secret().',
        validateResource: validateResourceOfKind<SecretProps>(resourceTypes.secret, (secret, args, reportViolation) => {
            if (secret.metadata?.labels?.[scmCredsLabel.key] !== scmCredsLabel.value) return;
            const name = nameOf(secret.metadata, args.name);
            const secretOutputs = new Set(args.opts.additionalSecretOutputs ?? []);
            const missing = ["data", "stringData"].filter((p) => !secretOutputs.has(p));
            if (missing.length > 0) {
                reportViolation(
                    `token Secret "${name}" does not mark ${missing.join(" and ")} as secret: the token would be stored in plain text. Fix: add additionalSecretOutputs: ["data", "stringData"].`,
                );
            }
            if (Object.keys(secret.data ?? {}).length + Object.keys(secret.stringData ?? {}).length === 0) {
                reportViolation(`token Secret "${name}" holds no data: the generator has no token to read. Fix: set stringData.token from the stack's secret githubToken.`);
            }
        }),
    };
}

/** Every `tokenRef.secretName` under an ApplicationSet's generators (any generator, any nesting). */
export function tokenRefs(generators: unknown): string[] {
    const found: string[] = [];
    const walk = (node: unknown): void => {
        if (Array.isArray(node)) {
            node.forEach(walk);
        } else if (node !== null && typeof node === "object") {
            for (const [key, value] of Object.entries(node)) {
                if (key === "tokenRef" && value !== null && typeof value === "object" && typeof (value as { secretName?: unknown }).secretName === "string") {
                    found.push((value as { secretName: string }).secretName);
                } else {
                    walk(value);
                }
            }
        }
    };
    walk(generators);
    return found;
}

/**
 * The Secrets generators read tokens from carry the scm-creds label: Argo CD v3 refuses to read an
 * unlabelled one, so previews silently stop. A stack policy, because it relates two resources;
 * Secrets that the stack does not manage are not checked (nothing here can see them).
 */
export function scmTokenSecretLabelled(enforcementLevel: EnforcementLevel = "mandatory"): StackValidationPolicy {
    return {
        name: "scm-token-secret-labelled",
        description: "Secrets referenced by an ApplicationSet generator's tokenRef carry argocd.argoproj.io/secret-type: scm-creds.",
        enforcementLevel,
        severity: "high",
        remediationSteps: `Label the Secret ${scmCredsLabel.key}: ${scmCredsLabel.value}.`,
        validateStack: (args, reportViolation) => {
            const secrets = args.resources.filter((r) => r.type === resourceTypes.secret);
            const meta = (r: PolicyResource): ObjectMeta => (r.props as SecretProps).metadata ?? {};
            for (const set of args.resources.filter((r) => r.type === resourceTypes.applicationSet)) {
                const props = set.props as ApplicationSetProps;
                const namespace = props.metadata?.namespace;
                for (const secretName of tokenRefs(props.spec?.generators)) {
                    const secret = secrets.find(
                        (s) => meta(s).name === secretName && (namespace === undefined || meta(s).namespace === undefined || meta(s).namespace === namespace),
                    );
                    if (secret && meta(secret).labels?.[scmCredsLabel.key] !== scmCredsLabel.value) {
                        reportViolation(
                            `Secret "${secretName}", the tokenRef of ApplicationSet "${nameOf(props.metadata, set.name)}", lacks the label ${scmCredsLabel.key}: ${scmCredsLabel.value}: Argo CD will not read the token. Fix: add the label.`,
                            secret.urn,
                        );
                    }
                }
            }
        },
    };
}

/**
 * Guardrail bindings that select prod (namespaceSelector or objectSelector on
 * `gitops-control.io/environment=prod`, or labelled prod themselves) deny: `Warn` or `Audit` alone
 * in prod lets unsafe config in, where it becomes drift. Break-glass bindings select namespaces by
 * name and are not affected.
 */
export function prodGuardrailsDeny(enforcementLevel: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
    return {
        name: "prod-guardrails-deny",
        description: "ValidatingAdmissionPolicyBindings that select prod use validationActions [Deny, …] and never Warn.",
        enforcementLevel,
        severity: "high",
        remediationSteps: 'Use validationActions: ["Deny", "Audit"] (the prod preset in stacks/presets.ts); a temporary exception is a break-glass entry.',
        validateResource: validateResourceOfKind<BindingProps>(resourceTypes.binding, (binding, args, reportViolation) => {
            const match = binding.spec?.matchResources;
            const isProd =
                selectsLabelValue(match?.namespaceSelector, labels.environment, prod) ||
                selectsLabelValue(match?.objectSelector, labels.environment, prod) ||
                binding.metadata?.labels?.[labels.environment] === prod;
            if (!isProd) return;
            const name = nameOf(binding.metadata, args.name);
            const actions = binding.spec?.validationActions ?? [];
            if (!actions.includes("Deny")) {
                reportViolation(`prod guardrail binding "${name}" has validationActions ${JSON.stringify(actions)}: violations are admitted. Fix: use ["Deny", "Audit"].`);
            }
            if (actions.includes("Warn")) {
                reportViolation(`prod guardrail binding "${name}" combines Deny and Warn, which the API server rejects. Fix: use ["Deny", "Audit"].`);
            }
        }),
    };
}

/** Config of {@link prodCrdsRetained}. */
export interface ProdCrdsRetainedConfig {
    /** Stacks whose CRDs must be protected. @default ["prod", "prod-crds"] */
    readonly stacks?: readonly string[];
}

/** The prod stack and the prod CRD stack (Pulumi.prod-crds.yaml), where the Argo CD CRDs live. */
const prodCrdStacks = [prod, `${prod}-crds`];

/** Helm's annotation that keeps an object on uninstall; Chart v4 maps it to `retainOnDelete`. */
export const helmKeepAnnotation = "helm.sh/resource-policy";

/**
 * In prod stacks, CustomResourceDefinitions are protected and retained: deleting the Application
 * CRD deletes every Application with it. `protect` is visible to policies; `retainOnDelete` is not
 * (the engine's AnalyzerResourceOptions carries no such field), so the policy checks its source
 * instead: the `helm.sh/resource-policy: keep` annotation that Chart v4 turns into `retainOnDelete`.
 * Which stacks are prod is policy config (`stacks`), since the environment is stack config the
 * analyzer is not given; the stack is read from the resource's URN.
 */
export function prodCrdsRetained(enforcementLevel: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
    return {
        name: "prod-crds-retained",
        description: "CRDs in prod stacks are protected and kept on uninstall (helm.sh/resource-policy: keep).",
        enforcementLevel,
        severity: "critical",
        configSchema: {
            properties: {
                stacks: { type: "array", items: { type: "string" }, default: prodCrdStacks, description: "Stacks whose CRDs must be protected and retained." },
            },
        },
        remediationSteps:
            "Install the CRDs with protect: true (the prod preset of the CRD stack or of ArgoCd): the program's CRDs get protect + retainOnDelete and the keep annotation.",
        validateResource: validateResourceOfKind<CrdProps>(resourceTypes.crd, (crd, args, reportViolation) => {
            const stacks = args.getConfig<ProdCrdsRetainedConfig>().stacks ?? prodCrdStacks;
            const stack = stackOfUrn(args.urn);
            if (!stacks.includes(stack)) return;
            const name = nameOf(crd.metadata, args.name);
            if (args.opts.protect !== true) {
                reportViolation(
                    `CRD "${name}" in stack "${stack}" is not protected: a destroy or a removed chart deletes every object of its kind. Fix: protect: true (ArgoCd protect).`,
                );
            }
            if (crd.metadata?.annotations?.[helmKeepAnnotation] !== "keep") {
                reportViolation(
                    `CRD "${name}" in stack "${stack}" lacks ${helmKeepAnnotation}: keep, so it is not retained on delete. Fix: install the CRDs through the ArgoCd component, whose transform marks them kept.`,
                );
            }
        }),
    };
}

/** An exact semantic version: no ranges, no wildcards, no "latest". */
export const exactSemver = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

/**
 * Charts from a repository (`repositoryOpts.repo`, or an `oci://` chart) pin an exact version: a
 * missing or floating version upgrades Argo CD behind everyone's back on the next update. Local
 * chart paths are versioned by the file itself.
 */
export function chartVersionPinned(enforcementLevel: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
    return {
        name: "chart-version-pinned",
        description: "Helm charts from a repository pin an exact semantic version.",
        enforcementLevel,
        severity: "medium",
        remediationSteps: 'Set version to an exact release, e.g. "10.1.1" (gitops-control:argocd.chart.version).',
        validateResource: validateResourceOfKind<ChartProps>([resourceTypes.chartV4, resourceTypes.releaseV3], (chart, args, reportViolation) => {
            const fromRepository = chart.repositoryOpts?.repo !== undefined || (chart.chart ?? "").startsWith("oci://");
            if (!fromRepository) return;
            const version = chart.version;
            if (version === undefined || version === "") {
                reportViolation(`chart "${chart.chart ?? args.name}" from a repository has no version: every update takes the newest. Fix: pin an exact version.`);
            } else if (!exactSemver.test(version)) {
                reportViolation(`chart "${chart.chart ?? args.name}" has version "${version}", not an exact semantic version. Fix: pin an exact version such as "10.1.1".`);
            }
        }),
    };
}

/** Every policy of the pack, at the given enforcement level. */
export function allPolicies(enforcementLevel: EnforcementLevel = "mandatory"): (ResourceValidationPolicy | StackValidationPolicy)[] {
    return [
        prodApplicationSyncPolicy(enforcementLevel),
        applicationSetTemplateSafety(enforcementLevel),
        scmTokenSecretIsSecret(enforcementLevel),
        scmTokenSecretLabelled(enforcementLevel),
        prodGuardrailsDeny(enforcementLevel),
        prodCrdsRetained(enforcementLevel),
        chartVersionPinned(enforcementLevel),
    ];
}
