import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { GitOpsConfigError, check } from "../core/errors";
import { childOptions } from "../core/options";

/**
 * The one Argo CD version of the product: the images the chart deploys, the CRDs the program
 * installs, and the reconcilers the end-to-end tests build from Go modules
 * (scripts/toolchain/versions.env pins the same). The chart's own CRDs (v3.4.4) are not installed.
 */
export const argoCdVersion = "v3.6.1";

/** The three CRD files of an Argo CD release (`manifests/crds/` in its repository and Go module). */
export const argoCdCrdFiles = ["application-crd.yaml", "applicationset-crd.yaml", "appproject-crd.yaml"] as const;

/** The CRDs' names, as `kubectl get crd` lists them. */
export const argoCdCrdNames = ["applications.argoproj.io", "applicationsets.argoproj.io", "appprojects.argoproj.io"] as const;

/**
 * Where the CRDs of {@link argoCdVersion} come from: the release's manifests (by URL), a local
 * directory holding the three files (air-gapped installs, tests), or another stack of this project
 * that installs them (`ArgoCdCrds`; what prod and staging do, so that the 1.8 MB of CRD schemas stay
 * out of every PR's preview and every checkpoint of the platform stack).
 */
export type CrdSource =
    | { readonly kind: "release" }
    | { readonly kind: "local"; readonly dir: string }
    | {
          readonly kind: "stack";
          /** A stack of this project (`prod-crds`), or a fully qualified `<org>/<project>/<stack>`. */
          readonly stack: string;
          /**
           * The caller already read and checked that stack's `argoCdVersion` through this reference
           * (the stack program does, before registering anything: {@link checkCrdStack}); the chart
           * then only depends on it. @default the component reads and checks it itself
           */
          readonly checkedBy?: pulumi.StackReference;
      };

/** The CRD manifest paths or URLs of a source that installs them. Pure. */
export function crdFiles(source: Exclude<CrdSource, { kind: "stack" }> | undefined): string[] {
    return argoCdCrdFiles.map((file) =>
        source?.kind === "local" ? path.resolve(source.dir, file) : `https://raw.githubusercontent.com/argoproj/argo-cd/${argoCdVersion}/manifests/crds/${file}`,
    );
}

/** `prod-crds`, or `acme/gitops-control/prod-crds`. */
const stackName = /^(?:[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+\/)?[A-Za-z0-9_.-]+$/;

/** Checks a CRD source that names a stack; `field` is the caller's key. */
export function validateCrdStack(stack: string, field: string): void {
    check(
        stackName.test(stack),
        field,
        `is "${stack}", not a stack name`,
        "name the stack that installs the Argo CD CRDs (its `gitops-control:layer` is crds), e.g. prod-crds, or <org>/<project>/<stack>",
    );
}

/** The fully qualified name of a stack of the running project. */
export function qualifiedStackName(stack: string): string {
    return stack.includes("/") ? stack : `${pulumi.getOrganization()}/${pulumi.getProject()}/${stack}`;
}

/** Children that must survive `pulumi destroy` and, in prod, refuse accidental deletion. */
const protectedKinds = new Set(["kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"]);

/**
 * Resource transform for the CRDs in prod: protected and retained on delete. Exported for unit
 * tests (mocks do not run remote components' transforms).
 */
export function protectCrds(args: pulumi.ResourceTransformArgs): pulumi.ResourceTransformResult | undefined {
    if (!protectedKinds.has(args.type)) {
        return undefined;
    }
    return { props: withKeepAnnotation(args.props), opts: pulumi.mergeOptions(args.opts, { protect: true, retainOnDelete: true }) };
}

/** Resource transform for the CRDs outside prod: retained on delete (as the chart's `crds.keep` did), not protected. */
export function retainCrds(args: pulumi.ResourceTransformArgs): pulumi.ResourceTransformResult | undefined {
    if (!protectedKinds.has(args.type)) {
        return undefined;
    }
    return { props: withKeepAnnotation(args.props), opts: pulumi.mergeOptions(args.opts, { retainOnDelete: true }) };
}

/**
 * Marks a CRD with the ecosystem's "keep on uninstall" annotation (what Chart v4 maps to
 * retainOnDelete): `retainOnDelete` itself is invisible to policy packs and to `kubectl`, the
 * annotation lets both see the promise.
 */
function withKeepAnnotation(props: pulumi.Inputs): pulumi.Inputs {
    const metadata = (props.metadata ?? {}) as Record<string, unknown>;
    const annotations = (metadata.annotations ?? {}) as Record<string, string>;
    return { ...props, metadata: { ...metadata, annotations: { ...annotations, "helm.sh/resource-policy": "keep" } } };
}

/**
 * The CRDs as a ConfigGroup child of `parent`: retained on delete everywhere (removing one deletes
 * every object of its kind), and protected when `protect` is on.
 */
export function crdConfigGroup(
    name: string,
    source: Exclude<CrdSource, { kind: "stack" }> | undefined,
    protect: boolean,
    parent: pulumi.Resource,
    provider: k8s.Provider | undefined,
): k8s.yaml.v2.ConfigGroup {
    return new k8s.yaml.v2.ConfigGroup(name, { files: crdFiles(source) }, childOptions(parent, provider, { transforms: [protect ? protectCrds : retainCrds] }));
}

export interface ArgoCdCrdsArgs {
    /** @default the release manifests of {@link argoCdVersion} by URL */
    readonly source?: Exclude<CrdSource, { kind: "stack" }>;
    /** Prod: protected as well as retained on delete. @default false */
    readonly protect?: boolean;
    /** @default the ambient provider */
    readonly provider?: k8s.Provider;
}

/**
 * The Argo CD CRDs of {@link argoCdVersion} on their own: the program of a `crds` stack (one per
 * cluster, `up` when the Argo CD version changes). The platform stack names that stack
 * (`argocd.crds.stack`) and checks its `argoCdVersion` output instead of carrying the CRDs.
 */
export class ArgoCdCrds extends pulumi.ComponentResource {
    /** The Argo CD version whose CRDs are installed; what the platform stack checks. */
    readonly argoCdVersion: pulumi.Output<string>;
    /** The CRDs' names. */
    readonly names: pulumi.Output<string[]>;
    readonly crds: k8s.yaml.v2.ConfigGroup;

    constructor(name: string, args: ArgoCdCrdsArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        super("gitops-control:argocd:ArgoCdCrds", name, {}, opts);
        this.crds = crdConfigGroup(`${name}-crds`, args.source, args.protect ?? false, this, args.provider);
        // Known once the CRDs are applied: a dependent stack reads a version only after its CRDs exist.
        this.argoCdVersion = this.crds.resources.apply(() => argoCdVersion);
        this.names = pulumi.output([...argoCdCrdNames]);
        this.registerOutputs({ argoCdVersion: this.argoCdVersion, names: this.names });
    }
}

/**
 * The check behind {@link crdStackGate}: true when the CRD stack installed {@link argoCdVersion};
 * otherwise a warning in preview (false) and an error in `up`, naming `field` and the fix.
 */
export function checkCrdStackVersion(installed: unknown, stack: string, field: string, dryRun: boolean, resource?: pulumi.Resource): boolean {
    if (installed === argoCdVersion) return true;
    const qualified = qualifiedStackName(stack);
    const problem =
        installed === undefined
            ? `names stack "${qualified}", which exports no argoCdVersion: the Argo CD CRDs are not installed there`
            : `names stack "${qualified}", which installed the CRDs of Argo CD ${String(installed)}; this program needs ${argoCdVersion}`;
    const error = new GitOpsConfigError(field, problem, `run \`pulumi up --stack ${stack}\` first (deploy.yml does, before this stack)`);
    if (!dryRun) throw error;
    void pulumi.log.warn(`${error.message} (a warning in preview, an error in up)`, resource);
    return false;
}

/**
 * Reads the CRD stack's `argoCdVersion` and checks it before anything else is registered: a program
 * that awaits this fails cleanly in `up` (one error, no resource touched) and warns in preview.
 * Returns the reference, for `{ kind: "stack", checkedBy }`.
 */
export async function checkCrdStack(name: string, stack: string, field: string): Promise<pulumi.StackReference> {
    const reference = new pulumi.StackReference(name, { name: qualifiedStackName(stack) });
    checkCrdStackVersion(await reference.getOutputValue("argoCdVersion"), stack, field, pulumi.runtime.isDryRun());
    return reference;
}

/**
 * The platform stack's side of a CRD stack: a StackReference and its `argoCdVersion`, checked.
 * Returns an output that resolves once the check passed; in `up` a missing or other version fails
 * the run with the fix, in `preview` it is a warning (a PR that bumps the version previews before
 * its CRD stack runs; deploy.yml runs the CRD stack first).
 */
export function crdStackGate(name: string, stack: string, field: string, parent: pulumi.Resource): { reference: pulumi.StackReference; ready: pulumi.Output<boolean> } {
    const qualified = qualifiedStackName(stack);
    const reference = new pulumi.StackReference(name, { name: qualified }, { parent });
    const ready = reference.getOutput("argoCdVersion").apply((installed: unknown) => checkCrdStackVersion(installed, stack, field, pulumi.runtime.isDryRun(), parent));
    return { reference, ready };
}
