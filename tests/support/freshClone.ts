import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

const repoRoot = path.resolve(__dirname, "..", "..");

/** A copy of the tracked files (what `git clone` gives), node_modules linked, nothing beside it. */
export function freshClone(): string {
    const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "fresh-")), "gitops-control");
    const files = spawnSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: repoRoot, encoding: "utf8" }).stdout.split("\0").filter(Boolean);
    for (const file of files) {
        if (!fs.lstatSync(path.join(repoRoot, file), { throwIfNoEntry: false })?.isFile()) continue;
        fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
        fs.copyFileSync(path.join(repoRoot, file), path.join(dir, file));
    }
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
    return dir;
}
