/**
 * A test double of GitHub at the network edge, for the preview tests. GitHub itself is unreachable
 * from the test machines, and Argo CD v3.6.1's GitHub pull-request generator needs exactly one call
 * of it: `GET /repos/{owner}/{repo}/pulls` (go-github's `PullRequests.List`, 100 per page, following
 * the `Link` header; labels are filtered by the controller, not by GitHub). With an Enterprise `api`
 * URL go-github prefixes `/api/v3`, so the generator's `api` is {@link GitHubDouble.apiUrl} and the
 * double answers under `/api/v3`.
 *
 * The test drives it: open, label, unlabel, push to and close pull requests (whose head SHAs are
 * real commits in the test's Git server), make the API fail (5xx, hang, an error status with an
 * empty list), and deliver `pull_request` webhooks signed like GitHub's (`X-Hub-Signature-256`,
 * HMAC-SHA256 of the body with the hook's secret) in the payload shape Argo CD's ApplicationSet
 * webhook handler reads (`action`, `repository.{name, owner.login, url}`). Every request is recorded
 * with its `Authorization` header, so a test can prove which token the controller used.
 *
 * Not part of the product; not a GitHub emulator beyond these two interactions.
 */
import * as crypto from "node:crypto";
import * as http from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface PullRequest {
    readonly number: number;
    title: string;
    /** Head branch (`head.ref`). */
    branch: string;
    /** Head commit (`head.sha`): a real commit in the test's Git repository. */
    headSha: string;
    /** Base branch (`base.ref`). */
    base: string;
    labels: string[];
    state: "open" | "closed";
    author: string;
}

/** A recorded API request. */
export interface ApiRequest {
    readonly at: number;
    readonly method: string;
    readonly path: string;
    readonly query: Readonly<Record<string, string>>;
    readonly authorization: string | undefined;
    /** Status answered; 0 when the double hung up without answering (timeout fault). */
    readonly status: number;
}

/**
 * How the API misbehaves until cleared: a status with GitHub's error body, a status with an empty
 * list as body (an error status must win over the body), or no answer at all (the connection is
 * held, then dropped).
 */
export type ApiFault =
    | { readonly kind: "status"; readonly status: number }
    | { readonly kind: "emptyListWithStatus"; readonly status: number }
    | { readonly kind: "hang"; readonly dropAfterSeconds?: number };

export interface WebhookDelivery {
    readonly status: number;
    readonly body: string;
}

export class GitHubDouble {
    readonly requests: ApiRequest[] = [];
    private readonly pulls = new Map<string, PullRequest[]>();
    private fault: ApiFault | undefined;
    private readonly held = new Set<Socket>();

    private constructor(
        private readonly server: http.Server,
        readonly port: number,
        readonly owner: string,
        /** Largest page served (GitHub caps `per_page` at 100); lower it to exercise pagination. */
        readonly pageSize: number,
    ) {}

    static async start(owner: string, options: { pageSize?: number } = {}): Promise<GitHubDouble> {
        const server = http.createServer();
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const self = new GitHubDouble(server, (server.address() as AddressInfo).port, owner, options.pageSize ?? 100);
        server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => self.handle(req, res));
        return self;
    }

    /** The generator's `api` (GitHub Enterprise style: go-github appends `/api/v3/`). */
    get apiUrl(): string {
        return `http://127.0.0.1:${this.port}`;
    }

    /** Makes `repo` exist (with no pull requests); unknown repositories answer 404 like GitHub. */
    addRepo(repo: string): void {
        if (!this.pulls.has(repo)) this.pulls.set(repo, []);
    }

    /** Opens a pull request; numbers count up per repository from 1. */
    open(repo: string, pr: { title: string; branch: string; headSha: string; labels?: string[]; base?: string; author?: string }): PullRequest {
        const list = this.pulls.get(repo) ?? [];
        const created: PullRequest = {
            number: list.length + 1,
            title: pr.title,
            branch: pr.branch,
            headSha: pr.headSha,
            base: pr.base ?? "main",
            labels: [...(pr.labels ?? [])],
            state: "open",
            author: pr.author ?? "octocat",
        };
        list.push(created);
        this.pulls.set(repo, list);
        return created;
    }

    pull(repo: string, number: number): PullRequest {
        const pr = this.pulls.get(repo)?.find((p) => p.number === number);
        if (!pr) throw new Error(`no pull request #${number} in ${repo}`);
        return pr;
    }

    label(repo: string, number: number, label: string): PullRequest {
        const pr = this.pull(repo, number);
        if (!pr.labels.includes(label)) pr.labels.push(label);
        return pr;
    }

    unlabel(repo: string, number: number, label: string): PullRequest {
        const pr = this.pull(repo, number);
        pr.labels = pr.labels.filter((l) => l !== label);
        return pr;
    }

    close(repo: string, number: number): PullRequest {
        const pr = this.pull(repo, number);
        pr.state = "closed";
        return pr;
    }

    /** Makes every API request fail this way until `recover()`. */
    fail(fault: ApiFault): void {
        this.fault = fault;
    }

    /** Answers normally again, and drops connections held by a `hang` fault. */
    recover(): void {
        this.fault = undefined;
        for (const socket of this.held) socket.destroy();
        this.held.clear();
    }

    /** Requests listing `repo`'s pull requests since `since` (epoch ms). */
    listRequests(repo: string, since = 0): ApiRequest[] {
        return this.requests.filter((r) => r.at >= since && r.path === `/api/v3/repos/${this.owner}/${repo}/pulls`);
    }

    /**
     * Delivers a `pull_request` event for `pr` to `url` as GitHub does: JSON body, `X-GitHub-Event`,
     * `X-GitHub-Delivery`, and `X-Hub-Signature-256` computed with `secret`.
     */
    async deliver(
        url: string,
        secret: string,
        repo: string,
        pr: PullRequest,
        action: "opened" | "closed" | "labeled" | "unlabeled" | "synchronize" | "reopened",
        label?: string,
    ): Promise<WebhookDelivery> {
        const body = JSON.stringify({
            action,
            number: pr.number,
            pull_request: {
                number: pr.number,
                state: pr.state,
                title: pr.title,
                user: { login: pr.author },
                labels: pr.labels.map((name) => ({ name })),
                head: { ref: pr.branch, sha: pr.headSha },
                base: { ref: pr.base },
            },
            ...(label ? { label: { name: label } } : {}),
            // Argo CD matches the generator by owner, name and the host of `repository.url` (the API URL).
            repository: {
                name: repo,
                full_name: `${this.owner}/${repo}`,
                owner: { login: this.owner },
                url: `${this.apiUrl}/api/v3/repos/${this.owner}/${repo}`,
                html_url: `${this.apiUrl}/${this.owner}/${repo}`,
            },
            sender: { login: pr.author },
        });
        const signature = `sha256=${crypto.createHmac("sha256", secret).update(body).digest("hex")}`;
        const response = await fetch(url, {
            method: "POST",
            headers: {
                "content-type": "application/json",
                "user-agent": "GitHub-Hookshot/test-double",
                "x-github-event": "pull_request",
                "x-github-delivery": crypto.randomUUID(),
                "x-hub-signature-256": signature,
            },
            body,
        });
        return { status: response.status, body: await response.text() };
    }

    stop(): Promise<void> {
        this.recover();
        return new Promise((resolve) => this.server.close(() => resolve()));
    }

    private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
        const url = new URL(req.url ?? "/", this.apiUrl);
        const query = Object.fromEntries(url.searchParams.entries());
        const record = (status: number) =>
            this.requests.push({ at: Date.now(), method: req.method ?? "GET", path: url.pathname, query, authorization: req.headers.authorization, status });
        const json = (status: number, value: unknown, headers: Record<string, string> = {}) => {
            record(status);
            res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers }).end(JSON.stringify(value));
        };
        const fault = this.fault;
        if (fault?.kind === "hang") {
            record(0);
            this.held.add(req.socket);
            const timer = setTimeout(() => req.socket.destroy(), (fault.dropAfterSeconds ?? 60) * 1000);
            req.socket.once("close", () => {
                clearTimeout(timer);
                this.held.delete(req.socket);
            });
            return;
        }
        if (fault?.kind === "status") {
            json(fault.status, { message: "Server Error", documentation_url: "https://docs.github.com/rest" });
            return;
        }
        if (fault?.kind === "emptyListWithStatus") {
            json(fault.status, []);
            return;
        }
        const match = /^\/api\/v3\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(url.pathname);
        if (req.method !== "GET" || !match || match[1] !== this.owner) {
            json(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
            return;
        }
        const repo = match[2]!;
        if (!this.pulls.has(repo)) {
            json(404, { message: "Not Found", documentation_url: "https://docs.github.com/rest/pulls/pulls#list-pull-requests" });
            return;
        }
        const state = query.state ?? "open";
        const all = (this.pulls.get(repo) ?? []).filter((p) => state === "all" || p.state === state).sort((a, b) => b.number - a.number);
        const perPage = Math.min(Number(query.per_page ?? 30) || 30, this.pageSize);
        const page = Math.max(Number(query.page ?? 1) || 1, 1);
        const last = Math.max(Math.ceil(all.length / perPage), 1);
        const items = all.slice((page - 1) * perPage, page * perPage);
        // GitHub's pagination: a Link header with next/last (and prev/first) relations.
        const link = (p: number, rel: string) => {
            const u = new URL(url.toString());
            u.searchParams.set("per_page", String(perPage));
            u.searchParams.set("page", String(p));
            return `<${u.toString()}>; rel="${rel}"`;
        };
        const links = [...(page < last ? [link(page + 1, "next"), link(last, "last")] : []), ...(page > 1 ? [link(page - 1, "prev"), link(1, "first")] : [])];
        json(
            200,
            items.map((p) => ({
                url: `${this.apiUrl}/api/v3/repos/${this.owner}/${repo}/pulls/${p.number}`,
                number: p.number,
                state: p.state,
                title: p.title,
                user: { login: p.author },
                labels: p.labels.map((name, i) => ({ id: i + 1, name })),
                head: { ref: p.branch, sha: p.headSha, repo: { name: repo } },
                base: { ref: p.base, repo: { name: repo } },
            })),
            links.length > 0 ? { link: links.join(", ") } : {},
        );
    }
}
