/**
 * Renders an Application's source from a checkout of its config repository the way Argo CD
 * v3.6.1's repo-server does (reposerver/repository/repository.go: GenerateManifests, helmTemplate;
 * util/helm/cmd.go: template; util/kustomize/kustomize.go: Build), with the Helm and kustomize
 * binaries the repo-server of that version runs (built by scripts/toolchain/build-argocd.sh, on PATH
 * after sourcing the toolchain env). Read from upstream, not copied: the flags and their order
 * match, the code is ours. tests/integration/configCheck.test.ts proves the result equal to the
 * real repo-server's GenerateManifest on the same revisions.
 *
 * What is not modelled (and makes a render fail loudly rather than differ silently): config
 * management plugins, jsonnet, multi-source `$ref` value files, Helm file parameters, kustomize
 * patches/components/replicas and a custom kustomize build options string.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { resourceOf, type KubeObject } from "./policyEvaluator";

/** The parts of an Application's `spec.source` the repo-server reads. */
export interface AppSource {
    readonly repoURL: string;
    readonly path?: string;
    readonly targetRevision?: string;
    readonly helm?: {
        readonly valueFiles?: readonly string[];
        readonly parameters?: readonly { readonly name: string; readonly value: string; readonly forceString?: boolean }[];
        readonly releaseName?: string;
        readonly values?: string;
        readonly valuesObject?: unknown;
        readonly namespace?: string;
        readonly kubeVersion?: string;
        readonly apiVersions?: readonly string[];
        readonly skipCrds?: boolean;
        readonly skipTests?: boolean;
        readonly skipSchemaValidation?: boolean;
        readonly ignoreMissingValueFiles?: boolean;
        readonly fileParameters?: readonly unknown[];
    };
    readonly kustomize?: {
        readonly namePrefix?: string;
        readonly nameSuffix?: string;
        readonly images?: readonly string[];
        readonly namespace?: string;
        readonly commonLabels?: Readonly<Record<string, string>>;
        readonly commonAnnotations?: Readonly<Record<string, string>>;
        readonly kubeVersion?: string;
        readonly apiVersions?: readonly string[];
        readonly patches?: readonly unknown[];
        readonly components?: readonly string[];
        readonly replicas?: readonly unknown[];
    };
    readonly directory?: { readonly recurse?: boolean; readonly include?: string; readonly exclude?: string; readonly jsonnet?: unknown };
    readonly plugin?: unknown;
    readonly chart?: string;
}

/** What the controller puts in its manifest request besides the source (controller/state.go). */
export interface RenderRequest {
    /** `app.InstanceName(...)`: the Application's name (Helm's release name by default). */
    readonly appName: string;
    /** The destination namespace (`--namespace` of Helm, ARGOCD_APP_NAMESPACE). */
    readonly namespace: string;
    readonly source: AppSource;
    /** The cluster's version, as the controller sends it (e.g. "1.36.3"). */
    readonly kubeVersion?: string;
    /** The cluster's API versions (`--api-versions`); the controller sends the live list. */
    readonly apiVersions?: readonly string[];
    /** The commit SHA being rendered (ARGOCD_APP_REVISION for parameter substitution). */
    readonly revision?: string;
    readonly project?: string;
}

/** One rendered object, with where it came from when that is knowable. */
export interface RenderedObject {
    readonly object: KubeObject;
    /** Path in the config repository (Helm's `# Source:`, or the manifest file); undefined for kustomize. */
    readonly file?: string;
}

export type RenderResult = { readonly ok: true; readonly sourceType: SourceType; readonly objects: readonly RenderedObject[] } | { readonly ok: false; readonly error: string };
export type SourceType = "Helm" | "Kustomize" | "Directory";

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
    const r = spawnSync(command, [...args], { cwd, encoding: "utf8", env, maxBuffer: 256 * 1024 * 1024 });
    if (r.error)
        throw new Error(
            `${command}: ${r.error.message}${(r.error as NodeJS.ErrnoException).code === "ENOENT" ? ` (not on PATH: source the toolchain env, \`source "$(bash scripts/toolchain/install.sh --print-env)"\`)` : ""}`,
        );
    if (r.status !== 0) throw new Error(`\`${command} ${args.join(" ")}\` failed: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
}

/**
 * A fresh checkout of `revision` of the repository at `repo` (a working copy or bare repository),
 * as the repo-server's own clone + checkout would give it; removed by the caller. Returns the
 * checkout's root and the full commit SHA.
 */
export function checkout(repo: string, revision: string, into: string = fs.mkdtempSync(path.join(os.tmpdir(), "config-check-"))): { root: string; sha: string } {
    const sha = run("git", ["-C", repo, "rev-parse", "--verify", `${revision}^{commit}`], repo).trim();
    run("git", ["clone", "--quiet", "--shared", "--no-checkout", repo, into], os.tmpdir());
    run("git", ["-C", into, "checkout", "--quiet", "--detach", sha], into);
    return { root: into, sha };
}

/** v3.6.1's ExplicitType, then discovery (Chart.yaml → Helm, kustomization → Kustomize, else Directory). */
export function sourceType(appPath: string, source: AppSource): SourceType {
    const explicit = [
        source.helm ? "Helm" : undefined,
        source.kustomize ? "Kustomize" : undefined,
        source.directory ? "Directory" : undefined,
        source.plugin ? "Plugin" : undefined,
    ].filter((t) => t !== undefined);
    if (explicit.length > 1) throw new Error(`multiple application sources defined: ${explicit.join(",")}`);
    if (explicit[0] === "Plugin") throw new Error("config management plugins are not rendered by this check");
    if (explicit[0]) return explicit[0] as SourceType;
    // Discovery walks the whole app directory: a Chart.yaml or kustomization in a sub-folder does not count, only at ".".
    const files = fs.readdirSync(appPath);
    if (files.some((f) => ["kustomization.yaml", "kustomization.yml", "Kustomization"].includes(f))) return "Kustomize";
    if (files.some((f) => f.endsWith("Chart.yaml"))) return "Helm";
    return "Directory";
}

/** Argo CD's build environment (newEnv in repository.go), for `$VAR` substitution in parameters. */
function buildEnv(request: RenderRequest): Record<string, string> {
    const rev = request.revision ?? "";
    return {
        ARGOCD_APP_NAME: request.appName,
        ARGOCD_APP_NAMESPACE: request.namespace,
        ARGOCD_APP_PROJECT_NAME: request.project ?? "",
        ARGOCD_APP_REVISION: rev,
        ARGOCD_APP_REVISION_SHORT: rev.slice(0, 7),
        ARGOCD_APP_REVISION_SHORT_8: rev.slice(0, 8),
        ARGOCD_APP_SOURCE_REPO_URL: request.source.repoURL,
        ARGOCD_APP_SOURCE_PATH: request.source.path ?? ".",
        ARGOCD_APP_SOURCE_TARGET_REVISION: request.source.targetRevision ?? "",
    };
}

/** Argo CD's Envsubst: `$VAR` and `${VAR}` of its own variables; unknown ones stay as written. */
export function envsubst(value: string, env: Readonly<Record<string, string>>): string {
    return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
        const name = braced ?? bare ?? "";
        return name in env ? env[name] : whole;
    });
}

/** Helm's `--set` value as Argo CD passes it: commas escaped unless a `{list}` (cleanSetParameters). */
export function helmSetValue(value: string): string {
    if (value.startsWith("{") && value.endsWith("}")) return value;
    return value.replace(/(?<!\\),/g, "\\,");
}

/** `k8sversion.ParseGeneric(v).String()`: "v1.36.3" / "1.36" → "1.36.3" / "1.36.0". */
export function kubeVersionArg(version: string | undefined): string | undefined {
    if (!version) return undefined;
    const m = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(version.trim());
    if (!m) throw new Error(`could not parse kubernetes version ${version}`);
    return `${m[1]}.${m[2]}.${m[3] ?? "0"}`;
}

/** The `helm template` argv the repo-server builds for this request (util/helm/cmd.go, template). */
export function helmTemplateArgs(request: RenderRequest, root: string, appPath: string, extraValuesFile: string | undefined): string[] {
    const helm = request.source.helm ?? {};
    const env = buildEnv(request);
    const args = ["template", ".", "--name-template", helm.releaseName || request.appName];
    const namespace = helm.namespace || request.namespace;
    if (namespace) args.push("--namespace", namespace);
    const kubeVersion = kubeVersionArg(helm.kubeVersion || request.kubeVersion);
    if (kubeVersion) args.push("--kube-version", kubeVersion);
    for (const p of (helm.parameters ?? []).filter((p) => !p.forceString)) args.push("--set", `${p.name}=${helmSetValue(envsubst(p.value, env))}`);
    for (const p of (helm.parameters ?? []).filter((p) => p.forceString)) args.push("--set-string", `${p.name}=${helmSetValue(envsubst(p.value, env))}`);
    for (const file of helm.valueFiles ?? []) {
        // ResolveValueFilePathOrUrl: relative to the app path; an absolute path is from the repository root.
        const substituted = envsubst(file, env);
        const resolved = path.isAbsolute(substituted) ? path.join(root, substituted) : path.resolve(appPath, substituted);
        if (path.relative(root, resolved).startsWith("..")) throw new Error(`value file ${file} is outside the repository`);
        if (helm.ignoreMissingValueFiles && !fs.existsSync(resolved)) continue;
        args.push("--values", resolved);
    }
    if (extraValuesFile) args.push("--values", extraValuesFile);
    for (const v of helm.apiVersions?.length ? helm.apiVersions : (request.apiVersions ?? [])) args.push("--api-versions", v);
    if (!helm.skipCrds) args.push("--include-crds");
    if (helm.skipSchemaValidation) args.push("--skip-schema-validation");
    if (helm.skipTests) args.push("--skip-tests");
    return args;
}

/** The inline values (`values` or `valuesObject`) as the YAML Argo CD writes to a temporary file, or undefined. */
function inlineValues(helm: AppSource["helm"]): string | undefined {
    if (helm?.valuesObject !== undefined && helm.valuesObject !== null) return JSON.stringify(helm.valuesObject);
    if (helm?.values) return helm.values;
    return undefined;
}

/** Splits multi-document YAML into objects, remembering Helm's `# Source:` of each document. */
export function splitManifests(text: string, fileOf: (source: string | undefined) => string | undefined): RenderedObject[] {
    const out: RenderedObject[] = [];
    // YAML 1.1, as the repo-server's decoder (go-yaml v2 under sigs.k8s.io/yaml) reads it: `yes`/`on` are booleans, `0755` is octal.
    for (const doc of parseAllDocuments(text, { version: "1.1" })) {
        if (doc.errors.length > 0) throw new Error(`invalid YAML in the render: ${doc.errors[0].message.split("\n")[0]}`);
        const value: unknown = doc.toJS();
        if (value === null || value === undefined) continue;
        // The yaml library keeps a leading comment on the document or on its first node, without the `#`.
        const comment = [doc.commentBefore, (doc.contents as { commentBefore?: string | null } | null)?.commentBefore].filter(Boolean).join("\n");
        const source = /^\s*#?\s*Source:\s*(.+)$/m.exec(comment)?.[1]?.trim();
        const file = fileOf(source);
        for (const object of expandList(value)) out.push(file ? { object, file } : { object });
    }
    return out;
}

/** A `kind: List` (or `*List`) expands to its items; a list with `items: null` is nothing (isNullList). */
function expandList(value: unknown): KubeObject[] {
    if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("a rendered document is not a Kubernetes object");
    const v = value as Record<string, unknown>;
    if (typeof v.kind === "string" && v.kind.endsWith("List") && "items" in v && !("spec" in v) && !("status" in v)) {
        return Array.isArray(v.items) ? (v.items as KubeObject[]) : [];
    }
    return [value as KubeObject];
}

function renderHelm(request: RenderRequest, root: string, appPath: string): RenderedObject[] {
    const inline = inlineValues(request.source.helm);
    let extra: string | undefined;
    if (request.source.helm?.fileParameters?.length) throw new Error("helm file parameters are not rendered by this check");
    if (inline !== undefined) {
        extra = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "config-check-values-")), "values.yaml");
        fs.writeFileSync(extra, inline);
    }
    try {
        const lockExisted = fs.existsSync(path.join(appPath, "Chart.lock"));
        const args = helmTemplateArgs(request, root, appPath, extra);
        let out: string;
        try {
            out = run("helm", args, appPath);
        } catch (error) {
            // helmTemplate: a missing dependency is built once, then templated again.
            if (!/found in Chart\.yaml, but missing in charts\/ directory|missing in charts\/ directory/.test((error as Error).message)) throw error;
            run("helm", ["dependency", "build"], appPath);
            out = run("helm", args, appPath);
        }
        if (!lockExisted) fs.rmSync(path.join(appPath, "Chart.lock"), { force: true });
        // `# Source: <chart>/templates/x.yaml`: the chart's directory is the app path.
        const relApp = path.relative(root, appPath) || ".";
        return splitManifests(out, (source) => (source ? path.posix.join(relApp, source.split("/").slice(1).join("/")) : undefined));
    } finally {
        if (extra) fs.rmSync(path.dirname(extra), { recursive: true, force: true });
    }
}

function renderKustomize(request: RenderRequest, root: string, appPath: string): RenderedObject[] {
    const k = request.source.kustomize ?? {};
    if (k.patches?.length || k.components?.length || k.replicas?.length) throw new Error("kustomize patches, components and replicas are not rendered by this check");
    const env = { ...process.env, ...buildEnv(request) };
    const edit = (args: string[]) => run("kustomize", ["edit", ...args], appPath, env);
    if (k.namePrefix) edit(["set", "nameprefix", "--", k.namePrefix]);
    if (k.nameSuffix) edit(["set", "namesuffix", "--", k.nameSuffix]);
    if (k.images?.length) edit(["set", "image", ...k.images.map((i) => envsubst(i, buildEnv(request)))]);
    if (k.commonLabels && Object.keys(k.commonLabels).length > 0) edit(["add", "label", ...Object.entries(k.commonLabels).map(([a, b]) => `${a}:${b}`)]);
    if (k.commonAnnotations && Object.keys(k.commonAnnotations).length > 0) edit(["add", "annotation", ...Object.entries(k.commonAnnotations).map(([a, b]) => `${a}:${b}`)]);
    if (k.namespace) edit(["set", "namespace", "--", k.namespace]);
    const out = run("kustomize", ["build", appPath], root, env);
    return splitManifests(out, () => undefined);
}

function renderDirectory(request: RenderRequest, root: string, appPath: string): RenderedObject[] {
    const d = request.source.directory ?? {};
    if (d.include || d.exclude || d.jsonnet) throw new Error("directory include/exclude and jsonnet are not rendered by this check");
    const files: string[] = [];
    const walk = (dir: string): void => {
        for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
            const full = path.join(dir, e.name);
            if (e.isDirectory()) {
                if (d.recurse && e.name !== ".git") walk(full);
            } else if (/\.(ya?ml|json)$/.test(e.name)) files.push(full);
        }
    };
    walk(appPath);
    return files.flatMap((file) => splitManifests(fs.readFileSync(file, "utf8"), () => path.relative(root, file)));
}

/**
 * Renders one Application source from a checkout (`root`), or says why it cannot be rendered, as
 * Argo CD's ComparisonError would. A missing app path is the repo-server's "app path does not exist".
 */
export function renderSource(root: string, request: RenderRequest): RenderResult {
    try {
        const appPath = path.resolve(root, request.source.path ?? ".");
        if (path.relative(root, appPath).startsWith("..")) return { ok: false, error: `${request.source.path}: app path outside the repository` };
        if (!fs.existsSync(appPath)) return { ok: false, error: `${request.source.path}: app path does not exist` };
        if (!fs.statSync(appPath).isDirectory()) return { ok: false, error: `${request.source.path}: app path is not a directory` };
        if (request.source.chart) return { ok: false, error: "Helm repository charts are not rendered by this check" };
        const type = sourceType(appPath, request.source);
        const objects =
            type === "Helm" ? renderHelm(request, root, appPath) : type === "Kustomize" ? renderKustomize(request, root, appPath) : renderDirectory(request, root, appPath);
        return { ok: true, sourceType: type, objects: objects.map((o) => ({ ...o, object: inDestination(o.object, request.namespace) })) };
    } catch (error) {
        // As the repo-server redacts its temporary checkout from commands it reports.
        return { ok: false, error: (error as Error).message.split(root).join(".") };
    }
}

/** Namespaced objects without a namespace land in the destination namespace, as Argo CD applies them. */
export function inDestination(object: KubeObject, namespace: string): KubeObject {
    const meta = object.metadata ?? {};
    if (meta.namespace || !namespace || !resourceOf(object.kind).namespaced) return object;
    return { ...object, metadata: { ...meta, namespace } };
}
