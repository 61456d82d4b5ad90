import * as fs from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { defaults } from "./defaults";
import { check } from "./errors";

/**
 * Options for a Kubernetes child of a component: parented to the component, with the Kubernetes
 * provider passed explicitly (when the caller gave one) so no child silently falls back to the
 * ambient kubeconfig.
 */
export function childOptions(parent: pulumi.Resource, provider: k8s.Provider | undefined, extra?: pulumi.CustomResourceOptions): pulumi.CustomResourceOptions {
    return pulumi.mergeOptions({ parent, ...(provider ? { provider } : {}) }, extra ?? {});
}

/** Options for protected resources: kept in state and in the cluster when `protect` is on. */
export function protection(protect: boolean): pulumi.CustomResourceOptions {
    return protect ? { protect: true, retainOnDelete: true } : {};
}

/**
 * The URN the engine gives `res`, `urn:pulumi:<stack>::<project>::<types of its ancestors and its
 * own, joined by $, the root Stack left out>::<name>`, known at construction from the parent chain
 * the SDK keeps on every resource (`__parentResource`, set in the Resource constructor; read only
 * here). Undefined where that chain does not end at the stack's root resource (or at nothing, where
 * there is none, as under mocks): then the caller waits for the URN itself.
 */
function urnAtConstruction(res: pulumi.Resource): string | undefined {
    const stack = pulumi.runtime.getStackResource();
    const types: string[] = [];
    let r: pulumi.Resource | undefined = res;
    while (r !== undefined && r !== stack) {
        const type = pulumi.resourceType(r);
        if (!type) return undefined;
        types.unshift(type);
        r = (r as { __parentResource?: pulumi.Resource }).__parentResource;
    }
    if (r !== stack) return undefined;
    return `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${types.join("$")}::${pulumi.resourceName(res)}`;
}

/**
 * Options of a resource that used to be a child of a component (`AppProject`, `GitOpsApplication`,
 * `PreviewEnvironments`) and is now created by its grandparent directly: an alias to its old URN, whose
 * parent was a component of `wrapperType` under `parent` (a URN carries the parents' types, not
 * their names), so existing stacks keep the resource (no delete, no create, no replace). The alias
 * is a plain string when `parent`'s URN is known at construction (urnAtConstruction), otherwise one
 * `apply` on the parent's URN: with an output per alias, flattening `PreviewEnvironments` made more
 * promises than the component it removed (bench/FINDINGS.md, finding 11), and `pulumi.createUrn`
 * costs several outputs each (1.1 s CPU and 160 MB at 500 services under mocks, finding 2).
 */
export function movedOutOfComponent(parent: pulumi.Resource, wrapperType: string, child: { readonly type: string; readonly name: string }): pulumi.CustomResourceOptions {
    // urn:pulumi:<stack>::<project>::<parent's qualified type>::<parent's name>
    const oldUrn = (urn: string): string => {
        const typeEnd = urn.lastIndexOf("::");
        return `${urn.slice(0, typeEnd)}$${wrapperType}$${child.type}::${child.name}`;
    };
    const known = urnAtConstruction(parent);
    return { aliases: [known === undefined ? parent.urn.apply(oldUrn) : oldUrn(known)] };
}

/**
 * An in-cluster script (a `.sh` file beside the component that runs it: `dir` is that component's
 * `__dirname`), read at render time, without its header (the
 * `#!/bin/sh` line and the comment lines up to the first blank line): the header documents the file
 * in the repository, the container gets the script. Throws when the file lacks that shape.
 */
export function readScript(file: string, dir: string): string {
    const text = fs.readFileSync(path.join(dir, file), "utf8");
    const end = text.indexOf("\n\n");
    if (
        !text.startsWith("#!/bin/sh\n") ||
        end < 0 ||
        text
            .slice(0, end)
            .split("\n")
            .some((line) => !line.startsWith("#"))
    ) {
        throw new Error(`${path.join(dir, file)}: expected a #!/bin/sh line and comment lines, a blank line, then the script`);
    }
    return text.slice(end + 2);
}

/** What a control-plane script job needs: its schedule, service account, image, script and environment. */
export interface ScriptJob {
    readonly schedule: pulumi.Input<string>;
    readonly serviceAccountName: pulumi.Input<string>;
    /** Container name. */
    readonly name: string;
    readonly image: string;
    /** POSIX shell script run by `/bin/sh -c`. */
    readonly script: string;
    readonly env: readonly { readonly name: string; readonly value: string }[];
    /** Labels of the job's pods. */
    readonly labels: Readonly<Record<string, string>>;
}

/**
 * The CronJob spec of a control-plane script (preview janitor, break-glass expiry): never two at
 * once, few histories kept, and a pod every guardrail and Pod Security `restricted` admits. Pure.
 */
export function scriptCronJobSpec(job: ScriptJob): k8s.types.input.batch.v1.CronJobSpec {
    return {
        schedule: job.schedule,
        concurrencyPolicy: "Forbid",
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
            spec: {
                backoffLimit: 1,
                template: {
                    metadata: { labels: { ...job.labels } },
                    spec: {
                        serviceAccountName: job.serviceAccountName,
                        restartPolicy: "Never",
                        securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } },
                        containers: [
                            {
                                name: job.name,
                                image: job.image,
                                command: ["/bin/sh", "-c", job.script],
                                env: job.env.map((e) => ({ ...e })),
                                resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
                                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
                            },
                        ],
                    },
                },
            },
        },
    };
}

/** Checks a script job's image (pinned) and schedule (5 cron fields); `example` is the schedule the fix suggests. */
export function validateScriptJob(args: { readonly image?: string; readonly schedule?: string }, field: string, defaultSchedule: string, example: string): void {
    validatePinnedImage(args.image, field);
    check((args.schedule ?? defaultSchedule).trim().split(/\s+/).length === 5, `${field}.schedule`, `is "${args.schedule}"`, `use a 5-field cron expression, e.g. "${example}"`);
}

/** Checks that a script's image (default: the janitor's) is pinned by tag or digest. */
export function validatePinnedImage(image: string = defaults.janitorImage, field: string): void {
    check(
        /:[A-Za-z0-9._-]+$|@sha256:[a-f0-9]{64}$/.test(image) && !image.endsWith(":latest"),
        `${field}.image`,
        `is "${image}", not pinned`,
        `pin a tag or digest, e.g. "${defaults.janitorImage}"`,
    );
}
