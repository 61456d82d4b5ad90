/**
 * Every default is written once, in components/core/defaults.ts: no TypeScript file of components/
 * (every concept, the guardrail rule library included) or stacks/ repeats one of its values as a
 * default (`?? 72`, `.default("HEAD")`, `@default 72`, "72 is the default", "Default: 72",
 * `${VAR:-72}`). Values read from `defaults` are fine, and so is the same number meaning something
 * else (a bound, a port): only the default forms count. The in-cluster .sh scripts are not read:
 * their environment fallbacks are outside this check (the components always set those variables).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { describe, it } from "node:test";
import { defaults } from "../../components/core/defaults";
import { repoRoot } from "../../scripts/lib/mockRuntime";

const sources = ["components", "stacks"].flatMap((dir) =>
    fs
        .readdirSync(path.join(repoRoot, dir), { recursive: true, encoding: "utf8" })
        // components/guardrails/ (the rule library, its own option defaults) is left to its owners for now.
        .filter((f) => f.endsWith(".ts") && !f.endsWith("defaults.ts"))
        .map((f) => path.join(dir, f)),
);

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** Ways of writing `value` as a default. */
function defaultForms(value: string | number): RegExp[] {
    const text = escape(String(value));
    const literal = typeof value === "string" ? escape(JSON.stringify(value)) : `${text}(?![0-9.])`;
    return [
        new RegExp(`\\?\\? ${literal}`),
        new RegExp(`\\.default\\(${literal}\\)`),
        new RegExp(`@default ${typeof value === "string" ? `"?${text}"?` : text}(?![0-9.])`),
        new RegExp(`\\(${text} is the default\\)`),
        new RegExp(`[Dd]efault: "?${text}"?(?![0-9.])`),
        new RegExp(`:-${text}\\}`),
    ];
}

describe("defaults are written once (components/core/defaults.ts)", () => {
    it("reads the sources", () => assert.ok(sources.length > 30, `${sources.length} files`));

    for (const [key, value] of Object.entries(defaults)) {
        if (typeof value !== "string" && typeof value !== "number") continue;
        it(`${key} (${JSON.stringify(value)}) appears as a default only there`, () => {
            const found = sources.flatMap((file) =>
                fs
                    .readFileSync(path.join(repoRoot, file), "utf8")
                    .split("\n")
                    .flatMap((line, i) => (defaultForms(value).some((r) => r.test(line)) ? [`${file}:${i + 1}: ${line.trim()}`] : [])),
            );
            assert.deepEqual(found, [], `write defaults.${key} instead:\n${found.join("\n")}`);
        });
    }
});
