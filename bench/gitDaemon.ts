/**
 * The scale benchmark's Git server: Git's own `git daemon` serving bare repositories over git://
 * on loopback. tests/support/gitServer.ts runs `git http-backend` as a CGI process per request
 * behind Node's HTTP server; at 1,000 Applications (one `ls-remote` per refresh, hundreds a minute,
 * on a CPU-bound machine) some of those requests timed out (issue 21). The daemon is one
 * long-lived C process that forks `upload-pack` per connection, with no Node event loop, no CGI
 * environment and no HTTP framing in between; `--max-connections` is raised so the daemon never
 * kills a child to make room. Its accept backlog is 5 (daemon.c), which a refresh wave overflows
 * (connections reset at 500 Applications), so the URL points at bench/gitFront.mjs, a process that
 * accepts with a deep backlog and passes at most a few connections at a time on to the daemon.
 * What the bench needs of it is only anonymous read access (no credentials, no push), which git://
 * gives.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

const identity = { GIT_AUTHOR_NAME: "bench", GIT_AUTHOR_EMAIL: "bench@example.invalid", GIT_COMMITTER_NAME: "bench", GIT_COMMITTER_EMAIL: "bench@example.invalid" };

function git(cwd: string, args: readonly string[]): string {
    const r = spawnSync("git", [...args], { cwd, encoding: "utf8", env: { ...process.env, ...identity }, maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed in ${cwd}: ${r.stderr}`);
    return r.stdout.trim();
}

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
        });
    });
}

export class GitDaemon {
    private constructor(
        readonly dir: string,
        /** The front's port (what the URLs name). */
        readonly port: number,
        private readonly pids: readonly number[],
    ) {}

    /** Starts `git daemon` for the bare repositories under `<dir>/repos` and waits until it accepts connections. */
    static async start(dir: string): Promise<GitDaemon> {
        fs.mkdirSync(path.join(dir, "repos"), { recursive: true });
        fs.mkdirSync(path.join(dir, "work"), { recursive: true });
        const daemonPort = await freePort();
        const port = await freePort();
        const out = fs.openSync(path.join(dir, "git-daemon.log"), "a");
        const child = spawn(
            "git",
            [
                "daemon",
                "--reuseaddr",
                "--listen=127.0.0.1",
                `--port=${daemonPort}`,
                `--base-path=${path.join(dir, "repos")}`,
                "--export-all",
                "--max-connections=256",
                "--informative-errors",
                path.join(dir, "repos"),
            ],
            { detached: true, stdio: ["ignore", out, out] },
        );
        const front = spawn(process.execPath, [path.join(__dirname, "gitFront.mjs"), String(port), String(daemonPort)], { detached: true, stdio: ["ignore", out, out] });
        fs.closeSync(out);
        if (child.pid === undefined || front.pid === undefined) throw new Error("could not start git daemon and its front");
        child.unref();
        front.unref();
        // Recorded, so a run stopped from outside can be cleaned up by its directory.
        fs.writeFileSync(path.join(dir, "git-daemon.pid"), `${child.pid}\n${front.pid}\n`);
        const daemon = new GitDaemon(dir, port, [child.pid, front.pid]);
        const deadline = Date.now() + 20_000;
        while (
            !(await new Promise<boolean>((resolve) =>
                net
                    .connect(port, "127.0.0.1")
                    .once("connect", function (this: net.Socket) {
                        this.destroy();
                        resolve(true);
                    })
                    .once("error", () => resolve(false)),
            ))
        ) {
            if (Date.now() > deadline) {
                daemon.stop();
                throw new Error(`git daemon did not listen on ${port}: ${fs.readFileSync(path.join(dir, "git-daemon.log"), "utf8")}`);
            }
            await new Promise((r) => setTimeout(r, 100));
        }
        return daemon;
    }

    url(repo: string): string {
        return `git://127.0.0.1:${this.port}/${repo}.git`;
    }

    /** Creates `repo` with one commit of `files` on main; returns its SHA. */
    createRepo(repo: string, files: Readonly<Record<string, string>>): string {
        const bare = path.join(this.dir, "repos", `${repo}.git`);
        git(this.dir, ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
        const work = path.join(this.dir, "work", repo);
        git(this.dir, ["init", "--quiet", "--initial-branch=main", work]);
        git(work, ["remote", "add", "origin", bare]);
        return this.commit(repo, files, "initial");
    }

    /** Writes `changes` on main, commits and pushes; returns the SHA. */
    commit(repo: string, changes: Readonly<Record<string, string>>, message: string): string {
        const work = path.join(this.dir, "work", repo);
        for (const [file, content] of Object.entries(changes)) {
            fs.mkdirSync(path.dirname(path.join(work, file)), { recursive: true });
            fs.writeFileSync(path.join(work, file), content);
        }
        git(work, ["add", "--all"]);
        git(work, ["commit", "--quiet", "-m", message]);
        git(work, ["push", "--quiet", "origin", "main:main"]);
        return git(work, ["rev-parse", "HEAD"]);
    }

    /** Stops the daemon and its front (their process groups: the daemon's includes any upload-pack it forked). */
    stop(): void {
        for (const pid of this.pids) {
            try {
                process.kill(-pid, "SIGTERM");
            } catch {
                // gone
            }
        }
    }
}
