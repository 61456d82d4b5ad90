// ESLint flat config: typescript-eslint (type-aware), Pulumi's plugin, and the project's rules.
// `npm run lint` (run by `npm test`). Formatting is Prettier's job (`npm run format:check`).
import js from "@eslint/js";
import pulumi from "@pulumi/eslint-plugin";
import tseslint from "typescript-eslint";

export default tseslint.config(
    { ignores: ["node_modules/**", "policy/node_modules/**", ".local/**", ".scratch/**", "**/*.js", "**/*.cjs"] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
        files: ["**/*.ts"],
        languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
        plugins: { "@pulumi": pulumi },
        rules: {
            // A promise nobody awaits loses its error: a failed registration or check would pass silently.
            // node:test's describe/it return promises the runner itself awaits.
            "@typescript-eslint/no-floating-promises": [
                "error",
                { allowForKnownSafeCalls: [{ from: "package", package: "node:test", name: ["describe", "it", "test", "suite", "before", "after", "beforeEach", "afterEach"] }] },
            ],
            "@typescript-eslint/no-explicit-any": "error",
            "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" }],
            // An Output in a template literal renders as a warning text, not its value.
            "@pulumi/no-output-in-template-literal": "error",
            "@pulumi/no-output-instance-in-template-literal": "error",
        },
    },
    {
        // Test helpers handle Pulumi's untyped mock inputs and wire values.
        files: ["tests/support/**/*.ts", "tests/integration/support.ts", "scripts/lib/mockRuntime.ts"],
        rules: { "@typescript-eslint/no-explicit-any": "off" },
    },
);
