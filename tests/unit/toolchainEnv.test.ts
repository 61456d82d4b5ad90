/**
 * The toolchain's env file (scripts/toolchain/pulumi-env.sh writes its Pulumi part) must not hide a
 * normally installed CLI: with one that has its Node.js language host on PATH, sourcing the file
 * leaves `pulumi`, PULUMI_HOME and ambient plugins alone and only names the pinned CLI for the
 * Automation API route; without one, the pinned CLI becomes `pulumi` as before.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "../../scripts/lib/commandLine";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "toolchain-env-"));
const pinnedBin = path.join(dir, "cache", "pulumi-3.259.0", "bin");
const home = path.join(dir, "cache", "pulumi-home");
const normalBin = path.join(dir, "dot-pulumi", "bin");

function executable(file: string): void {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, "#!/bin/sh\n", { mode: 0o755 });
}
executable(path.join(pinnedBin, "pulumi"));
executable(path.join(normalBin, "pulumi"));
executable(path.join(normalBin, "pulumi-language-nodejs"));
const envFile = path.join(dir, "env.sh");
fs.writeFileSync(envFile, execFileSync("bash", [path.join(repoRoot, "scripts", "toolchain", "pulumi-env.sh"), pinnedBin, home], { encoding: "utf8" }));

/** Sources the env file (twice: it is sourced again by every script) with PATH and prints what a shell then sees. */
function shellAfterSourcing(pathVar: string): Record<string, string> {
    const script = `before="$PATH"; source "$1"; source "$1"; printf '%s\\n' "pulumi=$(command -v pulumi)" "PULUMI_HOME=\${PULUMI_HOME:-}" "IGNORE=\${PULUMI_IGNORE_AMBIENT_PLUGINS:-}" "ROOT=$GITOPS_CONTROL_PULUMI_ROOT" "PINNED_HOME=$GITOPS_CONTROL_PULUMI_HOME" "BEFORE=$before" "PATH=$PATH"`;
    const out = execFileSync("/bin/bash", ["-c", script, "bash", envFile], { encoding: "utf8", env: { PATH: pathVar } });
    return Object.fromEntries(
        out
            .trim()
            .split("\n")
            .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
}

describe("the toolchain env file", () => {
    it("keeps a normally installed CLI (with its language host) as `pulumi`, with its own home and plugins", () => {
        const shell = shellAfterSourcing(`${normalBin}:/usr/bin:/bin`);
        assert.equal(shell.pulumi, path.join(normalBin, "pulumi"));
        assert.equal(shell.PULUMI_HOME, "");
        assert.equal(shell.IGNORE, "");
        assert.equal(shell.PATH, shell.BEFORE);
        // The Automation API route (scripts/lib/engine.ts) still runs the pinned CLI with its plugins.
        assert.equal(shell.ROOT, path.dirname(pinnedBin));
        assert.equal(shell.PINNED_HOME, home);
    });

    it("a language host found on PATH counts too", () => {
        const hostOnly = path.join(dir, "host-only");
        executable(path.join(hostOnly, "pulumi-language-nodejs"));
        const elsewhere = path.join(dir, "elsewhere");
        executable(path.join(elsewhere, "pulumi"));
        assert.equal(shellAfterSourcing(`${elsewhere}:${hostOnly}:/usr/bin:/bin`).pulumi, path.join(elsewhere, "pulumi"));
    });

    it("without one, the pinned CLI becomes `pulumi`, once on PATH, with its home and no ambient plugins", () => {
        const shell = shellAfterSourcing("/usr/bin:/bin");
        assert.equal(shell.pulumi, path.join(pinnedBin, "pulumi"));
        assert.equal(shell.PATH, `${pinnedBin}:${shell.BEFORE}`);
        assert.equal(shell.PULUMI_HOME, home);
        assert.equal(shell.IGNORE, "true");
    });
});
