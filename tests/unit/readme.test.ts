/**
 * The README and Pulumi.yaml say what the code does: the config table and the key descriptions are
 * generated from the schema (stale → fail), the layout table names what is in the tree, and the
 * paths and npm scripts ARCHITECTURE.md and CONTRIBUTING.md name exist. Every README command that
 * can run offline runs as written in tests/integration/cli.test.ts (real processes).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { configJsonSchema, configTable, projectConfig, projectPath, readmePath, withProjectConfig, withTable } from "../../scripts/commands/config-docs";
import { repoRoot } from "../../scripts/lib/mockRuntime";

const readme = fs.readFileSync(readmePath, "utf8");

describe("README and Pulumi.yaml are generated from the schema", () => {
    it("the README config table is current (run npm run docs:config when this fails)", () => {
        assert.equal(readme, withTable(readme, configTable()));
    });

    it("Pulumi.yaml's key descriptions are current (run npm run docs:config when this fails)", () => {
        const project = fs.readFileSync(projectPath, "utf8");
        assert.equal(project, withProjectConfig(project, projectConfig()));
    });

    it("Pulumi.yaml declares no optional key without a default (the CLI would require it of every stack)", () => {
        const project = fs.readFileSync(projectPath, "utf8");
        const declared = [...project.matchAll(/^ {2}([A-Za-z]+):\n {4}type:/gm)].map((m) => m[1]);
        const schema = configJsonSchema();
        const required = new Set(schema.required ?? []);
        for (const key of declared) {
            const s = schema.properties?.[key];
            assert.ok(s, `${key} is declared but not in the schema`);
            assert.ok(required.has(key) || s.default !== undefined, `${key} is declared without a default: every stack would have to set it`);
        }
        assert.ok(!declared.includes("defaultCluster") && !declared.includes("github"));
    });

    it("every stack key has a row, and the keys the issue found missing are there", () => {
        const schema = configJsonSchema();
        for (const key of Object.keys(schema.properties ?? {})) assert.match(readme, new RegExp(`^\\| \`${key}\` \\|`, "m"), key);
        for (const key of [
            "argocd.alerts",
            "argocd.notifications",
            "github.webhookUrl",
            "guardrails.disabledRules",
            "guardrails.requiredLabels",
            "previewJanitor",
            "pruneBudget",
            "breakGlass",
            "breakGlassPolicy",
        ]) {
            assert.match(readme, new RegExp(`^\\| \`${key.replace(/\./g, "\\.")}\` \\|`, "m"), key);
        }
    });

    it("names one @pulumi/kubernetes version, the one in package.json", () => {
        const pinned = (JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies["@pulumi/kubernetes"];
        const named = [...readme.matchAll(/@pulumi\/kubernetes`? (\d+\.\d+\.\d+)/g)].map((m) => m[1]);
        assert.ok(named.length > 0);
        assert.deepEqual([...new Set(named)], [pinned]);
    });

    it("lists every stack output of the program", () => {
        const program = fs.readFileSync(path.join(repoRoot, "stacks", "program.ts"), "utf8");
        const outputs = [...program.slice(program.lastIndexOf("return {")).matchAll(/^ {8}(\w+)[,:]/gm)].map((m) => m[1]);
        assert.ok(outputs.includes("breakGlass"), outputs.join(", "));
        const listed = readme.slice(readme.indexOf("Stack outputs:"), readme.indexOf("## Secrets"));
        for (const output of outputs) assert.ok(listed.includes(`\`${output}\``), `${output} listed`);
    });
});

/** Backticked paths of a text that look like files or folders of this repository. */
function namedPaths(text: string): string[] {
    return [...text.matchAll(/`([\w.-]+(?:\/[\w.-]*)+|[\w.-]+\.(?:ts|sh|md|yaml|json|mjs))`/g)]
        .map((m) => m[1])
        .filter((p) => !/^(gitops-control|@|https?:|file:|node:|v\d)/.test(p) && !p.includes("<"));
}

/** Every file of the repository (without dependencies and local state). */
function repoFiles(dir = ""): string[] {
    const skip = new Set(["node_modules", ".git", ".local", ".scratch", ".tmp"]);
    return fs
        .readdirSync(path.join(repoRoot, dir), { withFileTypes: true })
        .filter((e) => !skip.has(e.name))
        .flatMap((e) => (e.isDirectory() ? repoFiles(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}

describe("the README's layout table matches the tree", () => {
    const section = readme.slice(readme.indexOf("## Layout\n"), readme.indexOf("## Tests\n"));
    const rows = [...section.matchAll(/^\| (`[^|]+`) \| (.+) \|$/gm)].map((m) => ({
        paths: [...m[1].matchAll(/`([^`]+)`/g)].map((p) => p[1]),
        text: m[2],
    }));

    it("every path in its first column exists", () => {
        assert.ok(rows.length > 10, `${rows.length} rows`);
        for (const p of rows.flatMap((r) => r.paths).filter((p) => !p.includes("<"))) assert.ok(fs.existsSync(path.join(repoRoot, p)), p);
    });

    it("every folder of the repository has a row", () => {
        const ignored = new Set(["node_modules", ".git", ".local", ".scratch", ".tmp", ".pulumi", "bin"]);
        const folders = fs
            .readdirSync(repoRoot, { withFileTypes: true })
            .filter((e) => e.isDirectory() && !ignored.has(e.name))
            .map((e) => `${e.name}/`);
        const listed = rows.flatMap((r) => r.paths);
        for (const folder of [...folders, "scripts/commands/", "scripts/lib/", "scripts/cluster/", "scripts/toolchain/", "tests/unit/", "tests/integration/", "tests/support/"]) {
            assert.ok(
                listed.some((p) => p === folder || p.startsWith(folder)),
                `${folder} has no row`,
            );
        }
    });

    it("every file a folder's row names is in that folder, and every command and shared script is named", () => {
        for (const row of rows.filter((r) => r.paths.length === 1 && r.paths[0].endsWith("/"))) {
            const folder = row.paths[0];
            for (const [, name] of row.text.matchAll(/`([\w-]+\.(?:ts|sh)|[\w-]+\/)`/g)) assert.ok(fs.existsSync(path.join(repoRoot, folder, name)), `${folder}${name}`);
            if (folder.startsWith("components/")) {
                for (const [, component] of row.text.matchAll(/`([A-Z]\w+)`/g))
                    assert.ok(fs.existsSync(path.join(repoRoot, folder, `${component}.ts`)), `${folder}${component}.ts`);
            }
        }
        for (const folder of ["scripts/commands/", "scripts/lib/"]) {
            const row = rows.find((r) => r.paths[0] === folder);
            for (const file of fs.readdirSync(path.join(repoRoot, folder))) assert.ok(row?.text.includes(`\`${file}\``), `${folder}${file} is not named in its row`);
        }
    });
});

describe("ARCHITECTURE.md and CONTRIBUTING.md", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> };
    for (const doc of ["ARCHITECTURE.md", "CONTRIBUTING.md"]) {
        const text = fs.readFileSync(path.join(repoRoot, doc), "utf8");

        it(`${doc}: every path it names exists`, () => {
            const named = namedPaths(text);
            assert.ok(named.length > 5, named.join(", "));
            // A bare file name ("run-local.sh") must name a file somewhere in the tree.
            const exists = (p: string) => fs.existsSync(path.join(repoRoot, p)) || (!p.includes("/") && repoFiles().some((f) => path.basename(f) === p));
            for (const p of named) assert.ok(exists(p), `${doc} names ${p}`);
        });

        it(`${doc}: every npm script it names exists`, () => {
            for (const [, script] of text.matchAll(/npm run (?:--silent )?([\w:-]+)/g)) assert.ok(pkg.scripts[script], `${doc}: npm run ${script}`);
        });
    }

    it("the README links both", () => {
        assert.match(readme, /\[ARCHITECTURE\.md\]\(ARCHITECTURE\.md\)/);
        assert.match(readme, /\[CONTRIBUTING\.md\]\(CONTRIBUTING\.md\)/);
    });
});
