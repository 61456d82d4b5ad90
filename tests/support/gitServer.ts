/**
 * A real Git server on loopback for the reconciler tests: Git's own smart-HTTP backend
 * (`git http-backend`, run as CGI per request) behind a small Node HTTP server that adds Basic
 * authentication for private repositories and records who asked for what. Argo CD's repo-server
 * clones from it exactly as from a Git host; the tests commit to it to drive the reconcilers.
 */
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";

export interface Credentials {
    readonly username: string;
    readonly password: string;
}

export interface GitRequest {
    readonly repo: string;
    readonly user: string | undefined;
    readonly status: number;
}

function git(cwd: string, args: readonly string[]): string {
    const r = spawnSync("git", [...args], {
        cwd,
        encoding: "utf8",
        env: { ...process.env, GIT_AUTHOR_NAME: "test", GIT_AUTHOR_EMAIL: "test@example.invalid", GIT_COMMITTER_NAME: "test", GIT_COMMITTER_EMAIL: "test@example.invalid" },
    });
    if (r.status !== 0) throw new Error(`git ${args.join(" ")} failed in ${cwd}: ${r.stderr}`);
    return r.stdout.trim();
}

export class GitServer {
    readonly requests: GitRequest[] = [];
    private readonly privateRepos = new Map<string, Credentials>();

    private constructor(
        readonly dir: string,
        private readonly server: http.Server,
        readonly port: number,
    ) {}

    /** Starts the server with its repositories under `dir`. */
    static async start(dir: string): Promise<GitServer> {
        fs.mkdirSync(path.join(dir, "repos"), { recursive: true });
        fs.mkdirSync(path.join(dir, "work"), { recursive: true });
        const server = http.createServer();
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const self = new GitServer(dir, server, (server.address() as AddressInfo).port);
        server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => self.handle(req, res));
        return self;
    }

    /** Clone URL of a repository. */
    url(repo: string): string {
        return `http://127.0.0.1:${this.port}/${repo}.git`;
    }

    /** URL prefix of every repository here (for credential templates). */
    get urlPrefix(): string {
        return `http://127.0.0.1:${this.port}/`;
    }

    /** Creates a repository with one commit of `files` on `main`; returns the commit SHA. */
    createRepo(repo: string, files: Readonly<Record<string, string | null>>, options: { private?: Credentials } = {}): string {
        const bare = path.join(this.dir, "repos", `${repo}.git`);
        git(this.dir, ["init", "--quiet", "--bare", "--initial-branch=main", bare]);
        // Smart HTTP serves only repositories that allow it.
        git(bare, ["config", "http.receivepack", "false"]);
        const work = path.join(this.dir, "work", repo);
        git(this.dir, ["init", "--quiet", "--initial-branch=main", work]);
        git(work, ["remote", "add", "origin", bare]);
        if (options.private) this.privateRepos.set(repo, options.private);
        return this.commit(repo, files, "initial");
    }

    /** Commits changes (`null` deletes a file) on `branch` and pushes; returns the commit SHA. */
    commit(repo: string, changes: Readonly<Record<string, string | null>>, message: string, branch = "main"): string {
        const work = path.join(this.dir, "work", repo);
        const branches = git(work, ["branch", "--list", branch]);
        const hasCommits = spawnSync("git", ["rev-parse", "--verify", "HEAD"], { cwd: work }).status === 0;
        if (hasCommits) git(work, ["checkout", "--quiet", ...(branches ? [] : ["-b"]), branch]);
        for (const [file, content] of Object.entries(changes)) {
            const target = path.join(work, file);
            if (content === null) {
                fs.rmSync(target, { force: true });
            } else {
                fs.mkdirSync(path.dirname(target), { recursive: true });
                fs.writeFileSync(target, content);
            }
        }
        git(work, ["add", "--all"]);
        git(work, ["commit", "--quiet", "--allow-empty", "-m", message]);
        git(work, ["push", "--quiet", "--force", "origin", `${branch}:${branch}`]);
        const sha = git(work, ["rev-parse", "HEAD"]);
        if (branch !== "main") git(work, ["checkout", "--quiet", "main"]);
        return sha;
    }

    stop(): Promise<void> {
        return new Promise((resolve) => this.server.close(() => resolve()));
    }

    private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        const repo = url.pathname.split("/")[1]?.replace(/\.git$/, "") ?? "";
        const expected = this.privateRepos.get(repo);
        let user: string | undefined;
        const auth = req.headers.authorization;
        if (auth?.startsWith("Basic ")) {
            const [name, ...rest] = Buffer.from(auth.slice(6), "base64").toString("utf8").split(":");
            if (expected && name === expected.username && rest.join(":") === expected.password) user = name;
        }
        if (expected && user === undefined) {
            this.requests.push({ repo, user: undefined, status: 401 });
            res.writeHead(401, { "WWW-Authenticate": 'Basic realm="git"' }).end("authentication required\n");
            return;
        }
        const env: Record<string, string> = {
            ...(process.env as Record<string, string>),
            GIT_PROJECT_ROOT: path.join(this.dir, "repos"),
            GIT_HTTP_EXPORT_ALL: "1",
            PATH_INFO: url.pathname,
            QUERY_STRING: url.search.replace(/^\?/, ""),
            REQUEST_METHOD: req.method ?? "GET",
            CONTENT_TYPE: req.headers["content-type"] ?? "",
            REMOTE_ADDR: "127.0.0.1",
            ...(user ? { REMOTE_USER: user } : {}),
        };
        for (const [name, value] of Object.entries(req.headers)) {
            if (typeof value === "string") env[`HTTP_${name.toUpperCase().replace(/-/g, "_")}`] = value;
        }
        const cgi = spawn("git", ["http-backend"], { env });
        req.pipe(cgi.stdin);
        let head = Buffer.alloc(0);
        let headersDone = false;
        let status = 200;
        cgi.stdout.on("data", (chunk: Buffer) => {
            if (headersDone) {
                res.write(chunk);
                return;
            }
            head = Buffer.concat([head, chunk]);
            const end = head.indexOf("\r\n\r\n");
            if (end < 0) return;
            headersDone = true;
            const headers: Record<string, string> = {};
            for (const line of head.subarray(0, end).toString("utf8").split("\r\n")) {
                const i = line.indexOf(":");
                const name = line.slice(0, i).trim();
                const value = line.slice(i + 1).trim();
                if (name.toLowerCase() === "status") status = Number(value.split(" ")[0]);
                else headers[name] = value;
            }
            res.writeHead(status, headers);
            res.write(head.subarray(end + 4));
        });
        cgi.on("close", () => {
            this.requests.push({ repo, user, status });
            res.end();
        });
    }
}
