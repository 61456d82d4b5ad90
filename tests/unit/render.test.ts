import { describe } from "node:test";
import { renderOutput } from "../../scripts/commands/render";
import { renderCases } from "../support/cliCases";

// In-process; tests/integration/cli.test.ts runs the same cases through `node scripts/commands/render.ts`.
describe("npm run render", () => {
    renderCases((stack) => renderOutput(stack ? [stack] : []));
});
