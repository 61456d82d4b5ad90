/**
 * node:test reporter for `npm run test:unit` (scripts/commands/test-unit.sh): one line per test file as soon
 * as the file's suites are done, with its counts and time, so a long run shows where it is.
 * The spec reporter beside it prints every test.
 */
import * as path from "node:path";

interface TestEvent {
    readonly type: string;
    readonly data: { readonly file?: string; readonly nesting?: number; readonly name?: string; readonly details?: { readonly duration_ms?: number; readonly type?: string } };
}

interface FileProgress {
    file: string;
    passed: number;
    failed: number;
    ms: number;
}

export default async function* progress(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
    let current: FileProgress | undefined;
    let done = 0;
    const line = (f: FileProgress) =>
        `[unit] ${++done} file(s) done, +${process.uptime().toFixed(1)} s: ${f.failed > 0 ? "✖" : "✔"} ${f.file}: ${f.passed} passed, ${f.failed} failed (${(f.ms / 1000).toFixed(2)} s)\n`;
    for await (const event of source) {
        // The root's plan comes after the last test: report the last file before the summary.
        if ((event.type === "test:plan" || event.type === "test:diagnostic") && event.data.nesting === 0 && current) {
            yield line(current);
            current = undefined;
        }
        // A file that fails while it is imported is a top-level test named after the file, with no `file`.
        const importFailure = event.data.file === undefined && event.data.nesting === 0 && event.data.name?.endsWith(".test.ts");
        const file = event.data.file ? path.relative(process.cwd(), event.data.file) : importFailure ? event.data.name : undefined;
        if (event.type === "test:start" && event.data.nesting === 0 && file && file !== current?.file) {
            if (current) yield line(current);
            current = { file, passed: 0, failed: 0, ms: 0 };
        }
        // Nested tests may be defined in a support module (their `file`): they count for the file being run.
        if ((event.type === "test:pass" || event.type === "test:fail") && current) {
            if (event.data.nesting === 0) current.ms += event.data.details?.duration_ms ?? 0;
            if (event.data.details?.type === "suite") continue;
            if (event.type === "test:pass") current.passed++;
            else current.failed++;
        }
    }
    if (current) yield line(current);
}
