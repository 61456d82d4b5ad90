/**
 * Pod Security Admission as the baseline underneath the guardrails: the API server's built-in
 * admission plugin enforces a Pod Security Standard per namespace, selected by namespace labels.
 * The guardrails are finer and name the fix; PSA is the floor that holds if a policy is disabled,
 * a binding is carved out by break-glass, or a kind is not matched. Namespaces get these labels
 * through the same `managedNamespaceMetadata` that carries `gitops-control.io/environment`.
 */

/** A Pod Security Standard. `privileged` is no standard at all and is never used here. */
export type PodSecurityLevel = "privileged" | "baseline" | "restricted";

/** The three PSA modes of one namespace: reject, record in the audit log, warn the client. */
export interface PodSecurityProfile {
    /** Pods violating this level are rejected. */
    readonly enforce: PodSecurityLevel;
    /**
     * The Kubernetes minor whose definition of the level is enforced (`v1.36`), so an API server
     * upgrade cannot tighten or loosen production on its own. `latest` follows the server.
     */
    readonly enforceVersion: string;
    /** Violations of this level are recorded in the audit log. */
    readonly audit: PodSecurityLevel;
    /** Violations of this level are returned to the client as warnings. */
    readonly warn: PodSecurityLevel;
}

/** The Kubernetes minor the standards are pinned to: the API server version the project builds and tests against. */
export const podSecurityVersion = "v1.36";

/** Namespace label keys of Pod Security Admission. */
export const podSecurityLabelKeys = {
    enforce: "pod-security.kubernetes.io/enforce",
    enforceVersion: "pod-security.kubernetes.io/enforce-version",
    audit: "pod-security.kubernetes.io/audit",
    warn: "pod-security.kubernetes.io/warn",
} as const;

/**
 * The per-environment-class table. Prod enforces `restricted` at a pinned version, and audits and
 * warns at the same level. Staging and previews enforce `baseline` (no host access, no privileged
 * containers) and warn on `restricted`, so a team sees in staging what prod will refuse.
 */
export const podSecurityPresets: Readonly<Record<"prod" | "staging" | "preview", PodSecurityProfile>> = {
    prod: { enforce: "restricted", enforceVersion: podSecurityVersion, audit: "restricted", warn: "restricted" },
    staging: { enforce: "baseline", enforceVersion: podSecurityVersion, audit: "restricted", warn: "restricted" },
    preview: { enforce: "baseline", enforceVersion: podSecurityVersion, audit: "restricted", warn: "restricted" },
};

/**
 * The Argo CD namespace's profile: `restricted`, pinned. Measured on chart 10.1.1 with this
 * program's values (single replica, and HA with redis-ha and Dex): every container drops ALL
 * capabilities, sets allowPrivilegeEscalation false, runAsNonRoot and seccomp RuntimeDefault (at
 * container or pod level), and mounts only configMap, secret and emptyDir volumes; the
 * argoCdNamespace integration test creates each rendered pod template against the real API server.
 */
export const argoCdPodSecurity: PodSecurityProfile = { enforce: "restricted", enforceVersion: podSecurityVersion, audit: "restricted", warn: "restricted" };

/** Strictness order, for "never to a weaker class" checks. */
export const podSecurityStrictness: Readonly<Record<PodSecurityLevel, number>> = { privileged: 0, baseline: 1, restricted: 2 };

/** The namespace labels of a profile. Pure. */
export function podSecurityLabels(profile: PodSecurityProfile): Record<string, string> {
    return {
        [podSecurityLabelKeys.enforce]: profile.enforce,
        [podSecurityLabelKeys.enforceVersion]: profile.enforceVersion,
        [podSecurityLabelKeys.audit]: profile.audit,
        [podSecurityLabelKeys.warn]: profile.warn,
    };
}

/**
 * The PSA labels of an environment class's namespaces: its preset, or prod's for a class the table
 * does not know (an unknown class gets the strictest floor, never none).
 */
export function podSecurityLabelsFor(environment: string): Record<string, string> {
    const preset = (podSecurityPresets as Readonly<Record<string, PodSecurityProfile>>)[environment] ?? podSecurityPresets.prod;
    return podSecurityLabels(preset);
}
