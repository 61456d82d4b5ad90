/**
 * The label vocabulary shared by every layer: Applications stamp it on the namespaces they create,
 * guardrail bindings select namespaces by it, and the preview janitor finds previews by it.
 * Selecting by label rather than by name prefix means a namespace is governed by what it declares,
 * not by what it happens to be called.
 */
export const labels = {
    /** Environment class of a namespace: `prod`, `staging`, `preview`. */
    environment: "gitops-control.io/environment",
    /** Owning team. */
    team: "gitops-control.io/team",
    /** Service name. */
    service: "gitops-control.io/service",
    /**
     * On a namespace under break-glass: its expiry in Unix seconds. Only the program sets or moves it
     * (guardrails/breakGlassLabel.ts); the content rules the carve-out lifts skip namespaces carrying
     * it, and the break-glass expiry job removes it at that time.
     */
    breakGlassUntil: "gitops-control.io/break-glass-until",
    /** Which tool manages the object. */
    managedBy: "app.kubernetes.io/managed-by",
} as const;

/** Annotations used for audit trails (break-glass, overrides). */
export const annotations = {
    breakGlassReason: "gitops-control.io/break-glass-reason",
    breakGlassTicket: "gitops-control.io/break-glass-ticket",
    breakGlassExpires: "gitops-control.io/break-glass-expires",
    breakGlassRequestedBy: "gitops-control.io/break-glass-requested-by",
    /**
     * The program that owns an Argo CD object (`<pulumi project>/<stack>`): two programs onboarding
     * the same service collide on it in admission instead of overwriting each other.
     */
    owner: "gitops-control.io/owner",
} as const;

export const managedByValue = "gitops-control";

/**
 * On objects the program owns and people may edit live (Applications, AppProjects,
 * ApplicationSets): server-side apply then takes fields back from `kubectl edit/patch` instead of
 * failing with a field-manager conflict, so `pulumi up --refresh` heals drift (the program wins).
 */
export const forceOwnership = { "pulumi.com/patchForce": "true" } as const;

/** Argo CD finalizer that makes deleting an Application delete the resources it deployed. */
export const cascadeDeleteFinalizer = "resources-finalizer.argocd.argoproj.io";

/** The in-cluster destination every Argo CD install knows. */
export const inClusterServer = "https://kubernetes.default.svc";

/**
 * Git repository URL forms Argo CD clones: https, ssh://, or scp-like git@host:org/repo. Plain-text
 * transports (http://, git://) only on the loopback host: a Git server on the same machine (the
 * reconciler tests, a local mirror), where nothing crosses a network.
 */
export const gitRepoURL = /^(https:\/\/[^\s/]+\/\S+|(http|git):\/\/(127\.0\.0\.1|localhost)(:[0-9]+)?\/\S+|ssh:\/\/\S+@[^\s/]+\/\S+|[a-zA-Z0-9._-]+@[^\s:/]+:\S+)$/;

/** URL prefixes credentials may be sent to: https anywhere, http only on the loopback host. */
export const credentialURLPrefix = /^(https:\/\/[^\s/@]+\/\S*|http:\/\/(127\.0\.0\.1|localhost)(:[0-9]+)?\/\S*)$/;
