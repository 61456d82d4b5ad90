/**
 * The README and Pulumi.yaml say what the code does: the config table and the key descriptions are
 * generated from the schema (stale → fail). Every README command that can run offline runs as
 * written in tests/integration/cli.test.ts (real processes).
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
