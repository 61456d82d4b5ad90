/**
 * Runs the Pulumi program (or any component) against Pulumi's mock monitor and records every
 * resource it registers. Used by the unit tests and by `npm run render`, so reviewers and PR checks
 * see the exact Kubernetes objects a stack asks for without a cluster or the Pulumi CLI.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { argoCdVersion } from "../../components/argocd/ArgoCdCrds";

export interface RecordedResource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, any>;
    /** Provider reference (`urn::id`) when one was passed explicitly. */
    readonly provider?: string;
    /** Dotted paths of inputs that arrived as Pulumi secrets (e.g. `stringData`). */
    readonly secretPaths: readonly string[];
}

/** Pulumi's wire markers for a secret value (`{ [sigKey]: secretSig, value }`). */
const sigKey = "4dabf18193072939515e22adb298388d";
const secretSig = "1b47061264138c4ac30d75fd1eb44270";

/** Replaces secret wrappers by their values and collects where they were. */
export function unwrapSecrets(value: unknown, path: string, found: string[]): any {
    if (Array.isArray(value)) {
        return value.map((v, i) => unwrapSecrets(v, `${path}[${i}]`, found));
    }
    if (value !== null && typeof value === "object") {
        const obj = value as Record<string, unknown>;
        if (obj[sigKey] === secretSig) {
            found.push(path);
            return unwrapSecrets(obj.value, path, found);
        }
        return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, unwrapSecrets(v, path ? `${path}.${k}` : k, found)]));
    }
    return value;
}

/** Transforms registered by resources (the mock monitor itself does not run them). */
export const registeredTransforms: pulumi.ResourceTransform[] = [];

/**
 * Pulumi's mock monitor refuses resource transforms ("CLI does not support transforms"). Record
 * them instead, so a test can assert that the prod chart registers its CRD protection and call the
 * transform itself. Nothing else of the runtime is touched.
 */
function recordTransforms(): void {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const state = require("@pulumi/pulumi/runtime/state") as { getStore(): { supportsTransforms: boolean; callbacks?: unknown } };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Callback } = require("@pulumi/pulumi/proto/callback_pb") as { Callback: new () => unknown };
    const store = state.getStore();
    store.supportsTransforms = true;
    store.callbacks = {
        awaitStackRegistrations: async () => undefined,
        registerTransform: async (transform: pulumi.ResourceTransform) => {
            registeredTransforms.push(transform);
            return new Callback();
        },
    };
}

export const repoRoot = path.resolve(__dirname, "..", "..");

/**
 * Outputs of the stacks a program references (`pulumi.StackReference`), by fully qualified name.
 * Unlisted stacks are CRD stacks that are up at the program's Argo CD version: the state every
 * platform stack with `argocd.crds.stack` expects. Set per test through `installMocks`.
 */
let stackReferenceOutputs: Readonly<Record<string, Record<string, unknown>>> = {};

/** Fake outputs for providers whose real outputs are computed (random passwords, stack references). */
function fakeState(type: string, name: string, inputs: Record<string, any>): Record<string, any> {
    if (type === "pulumi:pulumi:StackReference") {
        return { name: inputs.name, outputs: stackReferenceOutputs[inputs.name] ?? { argoCdVersion }, secretOutputNames: [] };
    }
    if (type === "random:index/randomPassword:RandomPassword") {
        return { ...inputs, result: `mock-password-${name}`, bcryptHash: `$2a$10$mockhash-${name}` };
    }
    if (type === "kubernetes:core/v1:Secret" && inputs.type === "kubernetes.io/service-account-token") {
        // The cluster's token controller fills it (the provider waits for that): a token per Secret.
        return { ...inputs, data: { token: Buffer.from(`mock-token-${name}`).toString("base64") } };
    }
    return inputs;
}

/**
 * `npm run test:unit` runs every unit test file in one process (scripts/commands/test-unit.sh sets
 * GITOPS_TEST_SHARED_PROCESS). `setMocks` resets Pulumi's runtime state, which lives on `global`, so
 * a suite that installs mocks in its `before` hook gets a clean runtime; mocks installed while a file
 * is imported would instead be replaced by the next file's before that file's tests run.
 */
function refuseOutsideTest(): void {
    // The pid of the shared test process: commands a test runs as child processes are not test files.
    if (process.env.GITOPS_TEST_SHARED_PROCESS !== String(process.pid)) return;
    if (!(new Error().stack ?? "").includes("node:internal/test_runner/test")) {
        throw new Error(
            "installMocks() was called while a test file was being imported: call it in the suite's before() hook (test files share one process, see scripts/commands/test-unit.sh)",
        );
    }
}

/**
 * Installs mocks and returns the list that fills as resources register. `call` throws for every
 * function: the program must not depend on data sources nobody mocked.
 */
export function installMocks(
    stack: string,
    options: { preview?: boolean; project?: string; stackReferences?: Readonly<Record<string, Record<string, unknown>>> } = {},
): RecordedResource[] {
    refuseOutsideTest();
    stackReferenceOutputs = options.stackReferences ?? {};
    const recorded: RecordedResource[] = [];
    registeredTransforms.length = 0;
    // `setMocks` is async by signature only: its body has no await, so the mocks are in place on return.
    void pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                const secretPaths: string[] = [];
                const inputs = unwrapSecrets(args.inputs, "", secretPaths) as Record<string, any>;
                recorded.push({ type: args.type, name: args.name, inputs, secretPaths, ...(args.provider ? { provider: args.provider } : {}) });
                return { id: `${args.name}-id`, state: fakeState(args.type, args.name, args.inputs) };
            },
            call(args: pulumi.runtime.MockCallArgs) {
                throw new Error(`unmocked function call ${args.token}: mock it in scripts/lib/mockRuntime.ts if the program really needs it`);
            },
        },
        options.project ?? "gitops-control",
        stack,
        options.preview ?? false,
        // What the file backend reports (stack references are `<org>/<project>/<stack>`).
        "organization",
    );
    recordTransforms();
    return recorded;
}

/** Waits until no new resource has registered for a few ticks. */
export async function settle(recorded: readonly RecordedResource[]): Promise<void> {
    let stable = 0;
    let last = -1;
    while (stable < 5) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        stable = recorded.length === last ? stable + 1 : 0;
        last = recorded.length;
    }
}

/** Resolves an Output's value (mocks run with known values). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => output.apply((v) => resolve(v)));
}

// Reading a stack file is the pipeline's first step (stacks/read.ts); re-exported for scripts and tests.
export { readStackFile } from "../../stacks/read";

/**
 * Renders a program under mocks: sets its config, imports its entry (`index.ts` of this repository
 * by default, or a team program's), calls it when it exports a function, waits for registration.
 * Returns the recorded resources and the program's exports.
 */
export async function renderProgram(
    stack: string,
    stackFile: { config: Record<string, string>; secretKeys: string[] },
    program: { entry: string; project: string } = { entry: path.join(repoRoot, "index.ts"), project: "gitops-control" },
    mockOptions: Omit<NonNullable<Parameters<typeof installMocks>[1]>, "project"> = {},
): Promise<{ resources: RecordedResource[]; exports: Record<string, unknown> }> {
    const resources = installMocks(stack, { ...mockOptions, project: program.project });
    pulumi.runtime.setAllConfig(stackFile.config, stackFile.secretKeys);
    const entry = (await import(program.entry)) as { default?: unknown } & Record<string, unknown>;
    const exports = typeof entry.default === "function" ? await (entry.default as () => Promise<Record<string, unknown>> | Record<string, unknown>)() : entry;
    await settle(resources);
    return { resources, exports };
}
