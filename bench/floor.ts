/**
 * The floor program of the comparisons: the very Kubernetes objects `ours` registers (type, name,
 * inputs, provider: recorded under mocks by bench/mockEval.ts --dump), registered as plain
 * @pulumi/kubernetes resources at the stack root. No components, no config parsing, no
 * validation, no outputs, and only the one dependency any correct program declares: objects in a
 * namespace the program creates wait for that Namespace (without it `up` depends on the provider
 * retrying "namespace not found", which gives up under load). What any Pulumi program declaring
 * these objects pays.
 */
import * as fs from "node:fs";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { RecordedResource } from "../scripts/lib/mockRuntime";

type ResourceClass = new (name: string, args: Record<string, unknown>, opts: pulumi.CustomResourceOptions) => pulumi.Resource;

/** The plain class of a type token: kubernetes:rbac.authorization.k8s.io/v1:ClusterRole → k8s.rbac.v1.ClusterRole. */
function kubernetesClass(type: string): ResourceClass | undefined {
    const [, module, kind] = type.split(":");
    const [group, version] = module.includes("/") ? module.split("/") : ["core", module];
    const ns = group.endsWith(".k8s.io") || !group.includes(".") ? group.split(".")[0] : undefined;
    const cls = ns ? (k8s as unknown as Record<string, Record<string, Record<string, unknown>> | undefined>)[ns]?.[version]?.[kind] : undefined;
    return typeof cls === "function" ? (cls as ResourceClass) : undefined;
}

export function readRecorded(file: string): RecordedResource[] {
    return JSON.parse(fs.readFileSync(file, "utf8")) as RecordedResource[];
}

/** Registers the recorded resources; returns how many. */
export function floorProgram(recorded: readonly RecordedResource[]): number {
    const provider = new k8s.Provider("kubernetes", {});
    const guardrailsProvider = new k8s.Provider("kubernetes-guardrails", { enableServerSideApply: false });
    let count = 2;
    const namespaces = new Map<string, pulumi.Resource>();
    const isNamespace = (r: RecordedResource) => r.type === "kubernetes:core/v1:Namespace";
    // Namespaces first, so that objects in them can depend on them.
    for (const r of [...recorded.filter(isNamespace), ...recorded.filter((x) => !isNamespace(x))]) {
        // Providers are created above; a stack reference (ours' CRD-stack check) is no Kubernetes object.
        if (r.type.startsWith("pulumi:providers:") || r.type === "pulumi:pulumi:StackReference") continue;
        count++;
        const inNamespace = namespaces.get(r.inputs.metadata?.namespace ?? r.inputs.namespace);
        const opts: pulumi.CustomResourceOptions = {
            provider: r.provider?.includes("::kubernetes-guardrails::") ? guardrailsProvider : provider,
            ...(inNamespace ? { dependsOn: [inNamespace] } : {}),
        };
        const inputs = { ...r.inputs };
        if (r.secretPaths.some((p) => p.startsWith("stringData"))) inputs.stringData = pulumi.secret(inputs.stringData);
        if (r.type === "random:index/randomPassword:RandomPassword") {
            new random.RandomPassword(r.name, inputs as random.RandomPasswordArgs);
        } else if (r.type === "kubernetes:helm.sh/v4:Chart") {
            new k8s.helm.v4.Chart(r.name, inputs as k8s.helm.v4.ChartArgs, opts);
        } else if (r.type === "kubernetes:core/v1:Secret") {
            new k8s.core.v1.Secret(r.name, inputs, { ...opts, additionalSecretOutputs: ["data", "stringData"] });
        } else {
            const cls = kubernetesClass(r.type);
            if (cls && isNamespace(r)) namespaces.set(r.inputs.metadata.name, new cls(r.name, inputs, opts));
            else if (cls) new cls(r.name, inputs, opts);
            else new k8s.apiextensions.CustomResource(r.name, inputs as k8s.apiextensions.CustomResourceArgs, opts);
        }
    }
    return count;
}
