/**
 * The rule library: one file per rule in rules/ (its fixtures in the folder of the same name), and
 * defaultRules(), which composes them in a stable order.
 */
import { defaults } from "../core/defaults";
import { check } from "../core/errors";
import { labels } from "../core/labels";
import { reviewedInputClasses } from "../core/presets";
export { clusterControllerExemptions } from "./exemptions";
export type { WriterExemption } from "./exemptions";
import { ProgramIdentity, breakGlassGroup, resolveProgramIdentity } from "./identity";
import { GuardrailRule } from "./types";
import { capReplicas, CapReplicasOptions } from "./rules/cap-replicas";
import { disallowHostAccess, DisallowHostAccessOptions } from "./rules/disallow-host-access";
import { disallowLatestImage, DisallowLatestImageOptions } from "./rules/disallow-latest-image";
import { governAppProjects, GovernAppProjectsOptions } from "./rules/govern-app-projects";
import { governArgoCdNamespace, GovernArgoCdNamespaceOptions } from "./rules/govern-argocd-namespace";
import { protectBreakGlassLabel, ProtectBreakGlassLabelOptions } from "./rules/protect-break-glass-label";
import { keepGovernedNamespaces, KeepGovernedNamespacesOptions } from "./rules/keep-governed-namespaces";
import {
    AllowedIgnoreDifference,
    defaultAllowedIgnoreDifferences,
    ignoreDifferencesAllowed,
    protectApplicationInputs,
    ProtectApplicationInputsOptions,
} from "./rules/protect-application-inputs";
import { protectNamespaceLabels, ProtectNamespaceLabelsOptions } from "./rules/protect-namespace-labels";
import { protectSyncPolicy, ProtectSyncPolicyOptions } from "./rules/protect-sync-policy";
import { requireApplicationEnvironment, RequireApplicationEnvironmentOptions } from "./rules/require-application-environment";
import { requireLabels, RequireLabelsOptions } from "./rules/require-labels";
import { requireNamespacePodSecurity, RequireNamespacePodSecurityOptions } from "./rules/require-namespace-pod-security";
import { requirePodSecurityContext, RequirePodSecurityContextOptions } from "./rules/require-pod-security-context";
import { requireResources, RequireResourcesOptions } from "./rules/require-resources";
import { requireServiceProject, RequireServiceProjectOptions } from "./rules/require-service-project";
import { restrictApplicationSets, RestrictApplicationSetsOptions } from "./rules/restrict-application-sets";
import { restrictContainerPrivileges, RestrictContainerPrivilegesOptions } from "./rules/restrict-container-privileges";
import { restrictSecurityProfiles, RestrictSecurityProfilesOptions } from "./rules/restrict-security-profiles";
import { restrictWorkloadWriters, RestrictWorkloadWritersOptions } from "./rules/restrict-workload-writers";
export * from "./rules/shared";
export * from "./rules/require-pod-security-context";
export * from "./rules/restrict-container-privileges";
export * from "./rules/restrict-security-profiles";
export * from "./rules/cap-replicas";
export * from "./rules/disallow-latest-image";
export * from "./rules/require-resources";
export * from "./rules/disallow-host-access";
export * from "./rules/require-labels";
export * from "./rules/restrict-workload-writers";
export * from "./rules/protect-sync-policy";
export * from "./rules/protect-namespace-labels";
export * from "./rules/require-application-environment";
export * from "./rules/restrict-application-sets";
export * from "./rules/govern-app-projects";
export * from "./rules/require-service-project";
export * from "./rules/protect-application-inputs";
export * from "./rules/keep-governed-namespaces";
export * from "./rules/require-namespace-pod-security";
export * from "./rules/govern-argocd-namespace";
export * from "./rules/approve-prunes";
export * from "./rules/protect-break-glass-label";

/** Per-rule options of {@link defaultRules}; `false` leaves a rule out. */
export interface DefaultRulesOptions {
    /** Namespace Argo CD runs in: names its application controller, the one allowed writer. @default {@link defaults.argoNamespace} */
    readonly argoCdNamespace?: string;
    readonly requirePodSecurityContext?: RequirePodSecurityContextOptions | false;
    readonly capReplicas?: CapReplicasOptions | false;
    readonly disallowLatestImage?: DisallowLatestImageOptions | false;
    readonly requireResources?: RequireResourcesOptions | false;
    readonly disallowHostAccess?: DisallowHostAccessOptions | false;
    readonly restrictContainerPrivileges?: RestrictContainerPrivilegesOptions | false;
    readonly restrictSecurityProfiles?: RestrictSecurityProfilesOptions | false;
    /** @default { labels: ["app.kubernetes.io/name", "gitops-control.io/team"] } */
    readonly requireLabels?: Partial<RequireLabelsOptions> | false;
    /** @default Argo CD's application controller in `argoCdNamespace`, group gitops-control:break-glass */
    readonly restrictWorkloadWriters?: RestrictWorkloadWritersOptions | false;
    readonly protectSyncPolicy?: ProtectSyncPolicyOptions | false;
    readonly protectNamespaceLabels?: ProtectNamespaceLabelsOptions | false;
    readonly restrictApplicationSets?: RestrictApplicationSetsOptions | false;
    readonly requireApplicationEnvironment?: RequireApplicationEnvironmentOptions | false;
    /**
     * Who `pulumi up` runs as: the one writer of AppProjects, governed Applications' inputs and
     * governed namespaces' deletion, and (with break-glass) who deletes protected Applications and
     * relabels protected namespaces. @default {@link defaultProgramIdentity} (group system:masters)
     */
    readonly programIdentity?: ProgramIdentity;
    /** Environment classes whose Argo CD inputs are reviewed state. @default the presets' (components/core/presets.ts `reviewedInputs`) */
    readonly governedEnvironments?: readonly string[];
    /** The ignoreDifferences governed Applications may carry. @default {@link defaultAllowedIgnoreDifferences} */
    readonly ignoreDifferences?: readonly AllowedIgnoreDifference[];
    readonly governAppProjects?: GovernAppProjectsOptions | false;
    readonly requireServiceProject?: RequireServiceProjectOptions | false;
    readonly protectApplicationInputs?: ProtectApplicationInputsOptions | false;
    readonly keepGovernedNamespaces?: KeepGovernedNamespacesOptions | false;
    readonly requireNamespacePodSecurity?: RequireNamespacePodSecurityOptions | false;
    readonly governArgoCdNamespace?: GovernArgoCdNamespaceOptions | false;
    readonly protectBreakGlassLabel?: ProtectBreakGlassLabelOptions | false;
}

/** Labels {@link defaultRules} requires on workloads. */
export const defaultRequiredLabels: readonly string[] = ["app.kubernetes.io/name", labels.team];

/**
 * The whole rule library with defaults, in a stable order (the order of the docs table and of
 * `policy:check` output). Pass a rule's options to tune it or `false` to leave it out.
 */
export function defaultRules(options: DefaultRulesOptions = {}): GuardrailRule[] {
    const argo = options.argoCdNamespace ?? defaults.argoNamespace;
    check(
        /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(argo),
        "defaultRules.argoCdNamespace",
        `is "${argo}", not a namespace name`,
        'use the namespace Argo CD is installed in, e.g. "argocd"',
    );
    const rules: GuardrailRule[] = [];
    const add = <O>(o: O | false | undefined, build: (o: O | undefined) => GuardrailRule) => {
        if (o !== false) rules.push(build(o));
    };
    add(options.requirePodSecurityContext, (o) => requirePodSecurityContext(o));
    add(options.capReplicas, (o) => capReplicas(o));
    add(options.disallowLatestImage, (o) => disallowLatestImage(o));
    add(options.requireResources, (o) => requireResources(o));
    add(options.disallowHostAccess, (o) => disallowHostAccess(o));
    add(options.restrictContainerPrivileges, (o) => restrictContainerPrivileges(o));
    add(options.restrictSecurityProfiles, (o) => restrictSecurityProfiles(o));
    add(options.requireLabels, (o) => requireLabels({ ...o, labels: o?.labels ?? defaultRequiredLabels }));
    add(options.restrictWorkloadWriters, (o) =>
        restrictWorkloadWriters({ ...o, allowedUsernames: o?.allowedUsernames ?? [`system:serviceaccount:${argo}:argocd-application-controller`] }),
    );
    const program = resolveProgramIdentity(options.programIdentity, "defaultRules.programIdentity");
    const governed = options.governedEnvironments ?? reviewedInputClasses();
    add(options.protectSyncPolicy, (o) =>
        protectSyncPolicy({
            programIdentity: options.programIdentity,
            ...o,
            deleteUsernames: o?.deleteUsernames ?? program.usernames,
            deleteGroups: o?.deleteGroups ?? [...program.groups, breakGlassGroup],
        }),
    );
    add(options.protectNamespaceLabels, (o) =>
        protectNamespaceLabels({
            ...o,
            allowedUsernames: o?.allowedUsernames ?? [`system:serviceaccount:${argo}:argocd-application-controller`, ...program.usernames],
            allowedGroups: o?.allowedGroups ?? [...program.groups, breakGlassGroup],
        }),
    );
    add(options.restrictApplicationSets, (o) => restrictApplicationSets(o));
    add(options.requireApplicationEnvironment, (o) => requireApplicationEnvironment(o));
    const identity = { programIdentity: options.programIdentity, argoCdNamespace: argo };
    const allowedIgnoreDifferences = options.ignoreDifferences ?? defaultAllowedIgnoreDifferences;
    ignoreDifferencesAllowed(allowedIgnoreDifferences, "defaultRules.ignoreDifferences");
    add(options.governAppProjects, (o) => governAppProjects({ ...identity, ...o }));
    add(options.requireServiceProject, (o) => requireServiceProject(o));
    add(options.protectApplicationInputs, (o) => protectApplicationInputs({ ...identity, environments: governed, allowedIgnoreDifferences, ...o }));
    add(options.keepGovernedNamespaces, (o) => keepGovernedNamespaces({ programIdentity: options.programIdentity, environments: governed, ...o }));
    add(options.requireNamespacePodSecurity, (o) => requireNamespacePodSecurity({ argoCdNamespace: argo, ...o }));
    add(options.governArgoCdNamespace, (o) => governArgoCdNamespace({ ...identity, ...o }));
    add(options.protectBreakGlassLabel, (o) => protectBreakGlassLabel({ programIdentity: options.programIdentity, ...o }));
    return rules;
}
