/**
 * The component library's layout (issue 20): a folder per concept, and which concept may import
 * which, read from every import of every TypeScript file under components/ (static, `import()`,
 * `require()`); one file per guardrail rule with its fixtures beside it; and the curated public API
 * of components/index.ts.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import * as api from "../../components";
import { approvePrunes, defaultRules } from "../../components/guardrails/rules";
import { fixtureRules } from "../support/guardrailFixtures";
import { repoRoot } from "../../scripts/lib/mockRuntime";

const componentsDir = path.join(repoRoot, "components");

/**
 * The concepts (folders of components/) and the ones each may import besides itself. Each imports
 * only concepts listed before it, so the graph has no cycle; `core` imports none. The files at the
 * top of components/ (GitOpsService, serviceSpec, ControlPlane, index) compose the concepts and may
 * import any of them.
 */
const allowed: Readonly<Record<string, readonly string[]>> = {
    core: [],
    guardrails: ["core"],
    breakglass: ["core", "guardrails"], // the expiry fence builds its CEL list with guardrails/cel
    pruning: ["core", "guardrails"],
    clusters: ["core", "guardrails"],
    applications: ["core", "guardrails"],
    previews: ["core", "guardrails", "applications"],
    argocd: ["core", "guardrails", "applications"],
};
const top = "(top)";

const sources = fs
    .readdirSync(componentsDir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => path.join(componentsDir, f));

/** The concept a path under components/ belongs to, or undefined outside components/. */
function conceptOf(file: string): string | undefined {
    const rel = path.relative(componentsDir, file);
    if (rel.startsWith("..")) return undefined;
    const parts = rel.split(path.sep);
    return parts.length === 1 ? top : parts[0];
}

/** Every relative module a source names, resolved to the file it reaches (without extension). */
function relativeImports(file: string): string[] {
    const text = fs.readFileSync(file, "utf8");
    return [...text.matchAll(/(?:\bfrom\s+|\bimport\(\s*|\brequire\(\s*)"(\.{1,2}\/[^"]*)"/g)].map((m) => path.resolve(path.dirname(file), m[1]));
}

describe("components/: a folder per concept, and who imports whom", () => {
    it("reads the sources, and every folder of components/ is a concept of the table", () => {
        assert.ok(sources.length > 50, `${sources.length} files`);
        const folders = fs
            .readdirSync(componentsDir, { withFileTypes: true })
            .filter((e) => e.isDirectory())
            .map((e) => e.name)
            .sort();
        assert.deepEqual(folders, Object.keys(allowed).sort());
    });

    it("a concept imports only itself and the concepts the table allows (core imports no other)", () => {
        const found = sources.flatMap((file) => {
            const from = conceptOf(file)!;
            if (from === top) return [];
            return relativeImports(file)
                .map((target) => conceptOf(target))
                .filter((to): to is string => to !== undefined && to !== from && !allowed[from].includes(to))
                .map((to) => `${path.relative(repoRoot, file)} imports ${to === top ? "a top-level composition" : `${to}/`}`);
        });
        assert.deepEqual(found, []);
    });

    it("the table has no cycle: each concept imports only concepts listed before it", () => {
        const order = Object.keys(allowed);
        for (const [concept, deps] of Object.entries(allowed)) for (const dep of deps) assert.ok(order.indexOf(dep) < order.indexOf(concept), `${concept} -> ${dep}`);
    });

    it("nothing under components/ imports stacks/, scripts/, tests/ or anything else outside it", () => {
        const outside = sources.flatMap((file) =>
            relativeImports(file)
                .filter((target) => conceptOf(target) === undefined)
                .map((target) => `${path.relative(repoRoot, file)} imports ${path.relative(repoRoot, target)}`),
        );
        assert.deepEqual(outside, []);
    });
});

describe("components/guardrails/rules/: one file per rule, its fixtures beside it", () => {
    const rulesDir = path.join(componentsDir, "guardrails", "rules");
    const rules = [...defaultRules(), approvePrunes({ gateUsername: "system:serviceaccount:argocd:prune-gate", budget: 3 })];

    it("every rule is built in rules/<its name>.ts, and each file there builds only its own rule", () => {
        for (const rule of rules) assert.ok(fs.existsSync(path.join(rulesDir, `${rule.name}.ts`)), `${rule.name}: no rules/${rule.name}.ts`);
        // A builder returns `{ name: "<rule>", ... }`: the rule's name at the first level of the returned object.
        const built = fs
            .readdirSync(rulesDir)
            .filter((f) => f.endsWith(".ts"))
            .flatMap((f) => [...fs.readFileSync(path.join(rulesDir, f), "utf8").matchAll(/^ {8}name: "([a-z-]+)",$/gm)].map((m) => `${m[1]} in ${f}`))
            .sort();
        assert.deepEqual(built, rules.map((r) => `${r.name} in ${r.name}.ts`).sort());
    });

    it("every fixture folder sits beside the rule of its name, and every rule of defaultRules() has one", () => {
        const folders = fixtureRules();
        assert.ok(folders.length > 10, folders.join(", "));
        for (const folder of folders) assert.ok(fs.existsSync(path.join(rulesDir, `${folder}.ts`)), `fixtures ${folder}/ beside no rule file`);
        assert.deepEqual(
            folders,
            defaultRules()
                .map((r) => r.name)
                .sort(),
        );
    });
});

describe("components/index.ts: the curated public API", () => {
    /** What a team program gets: components, their validators, the rule library, presets, errors, labels, defaults. */
    const expected = [
        "AdmissionGuardrails",
        "AppProject",
        "ArgoCd",
        "ArgoCdAlerts",
        "ArgoCdCrds",
        "BreakGlassExpiry",
        "ControlPlane",
        "DestinationCluster",
        "GitHubPreviewHooks",
        "GitOpsApplication",
        "GitOpsConfigError",
        "GitOpsConfigErrors",
        "GitOpsService",
        "GovernedCluster",
        "OwnershipFence",
        "PreviewEnvironments",
        "PreviewGate",
        "PreviewJanitor",
        "PruneGate",
        "RepositoryCredentials",
        "annotations",
        "approvePrunes",
        "argoCdCrdNames",
        "argoCdVersion",
        "capReplicas",
        "checkAll",
        "clusterControllerExemptions",
        "collectProblems",
        "defaultRequiredLabels",
        "defaultRules",
        "defaults",
        "disallowHostAccess",
        "disallowLatestImage",
        "environmentClasses",
        "environmentPresets",
        "gitOpsServices",
        "governAppProjects",
        "governArgoCdNamespace",
        "inCluster",
        "keepGovernedNamespaces",
        "labels",
        "pinnedChart",
        "previewProjectName",
        "protectApplicationInputs",
        "protectCrds",
        "protectNamespaceLabels",
        "protectSyncPolicy",
        "requireApplicationEnvironment",
        "requireLabels",
        "requireNamespacePodSecurity",
        "requirePodSecurityContext",
        "requireResources",
        "requireServiceProject",
        "restrictApplicationSets",
        "restrictContainerPrivileges",
        "restrictSecurityProfiles",
        "restrictWorkloadWriters",
        "retainCrds",
        "syncOptions",
        "validateAppProjectArgs",
        "validateApplicationArgs",
        "validateArgoCdArgs",
        "validateBreakGlassExpiryArgs",
        "validateDestinationClusterArgs",
        "validateGitHubArgs",
        "validateGovernedClusterArgs",
        "validateGuardrailArgs",
        "validateJanitorArgs",
        "validateOwnershipFenceArgs",
        "validatePreviewArgs",
        "validatePreviewGateArgs",
        "validatePruneGateArgs",
        "validateRepositoryCredentialsArgs",
        "validateServiceArgs",
        "validateServicesArgs",
    ];

    it("exports exactly the public names (a change here is a change of the public API)", () => {
        assert.deepEqual(Object.keys(api).sort(), [...expected].sort());
    });

    it("exports no renderer, settings schema or shared helper", () => {
        assert.deepEqual(
            Object.keys(api).filter((name) => /^render|SettingsSchema$|Schema$|^pod[A-Z]|Variable$|^childOptions$|^readScript$/.test(name)),
            [],
        );
    });

    it("every component of the library is exported", () => {
        const components = sources.flatMap((file) => [...fs.readFileSync(file, "utf8").matchAll(/^export class (\w+) extends pulumi\.ComponentResource/gm)].map((m) => m[1]));
        assert.ok(components.length >= 18, components.join(", "));
        for (const component of components) assert.ok(component in api, `${component} is not exported from components/index.ts`);
    });

    it("what examples/team-service imports from the library is in it", () => {
        const program = fs.readFileSync(path.join(repoRoot, "examples", "team-service", "index.ts"), "utf8");
        const imported = [...program.matchAll(/import \{([^}]+)\} from "gitops-control\/components"/g)].flatMap((m) => m[1].split(",").map((n) => n.trim()));
        assert.ok(imported.length > 0);
        for (const name of imported) assert.ok(name in api, name);
    });
});
