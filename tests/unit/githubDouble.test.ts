import assert from "node:assert/strict";
import * as crypto from "node:crypto";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { GitHubDouble } from "../support/githubDouble";

/** The GitHub double behaves like the two GitHub interactions the preview tests rely on. */
describe("GitHub test double", () => {
    let gh: GitHubDouble;
    before(async () => {
        gh = await GitHubDouble.start("acme", { pageSize: 2 });
        for (let i = 0; i < 5; i++) gh.open("shop", { title: `pr ${i + 1}`, branch: `b${i + 1}`, headSha: "a".repeat(40), labels: i % 2 === 0 ? ["preview"] : [] });
        gh.close("shop", 5);
    });
    after(() => gh.stop());

    it("lists open pull requests page by page with GitHub's Link header, recording the Authorization header", async () => {
        const seen: number[] = [];
        let next: string | undefined = `${gh.apiUrl}/api/v3/repos/acme/shop/pulls?per_page=100`;
        while (next) {
            const r: Response = await fetch(next, { headers: { authorization: "Bearer t0ken" } });
            assert.equal(r.status, 200);
            seen.push(...((await r.json()) as { number: number }[]).map((p) => p.number));
            next = /<([^>]+)>; rel="next"/.exec(r.headers.get("link") ?? "")?.[1];
        }
        assert.deepEqual(seen, [4, 3, 2, 1]);
        assert.equal(gh.listRequests("shop").length, 2);
        assert.ok(gh.listRequests("shop").every((r) => r.authorization === "Bearer t0ken"));
    });

    it("fails with a status, an empty list under an error status, or hangs, until recovered", async () => {
        const url = `${gh.apiUrl}/api/v3/repos/acme/shop/pulls`;
        gh.fail({ kind: "status", status: 502 });
        assert.equal((await fetch(url)).status, 502);
        gh.fail({ kind: "emptyListWithStatus", status: 500 });
        const r = await fetch(url);
        assert.equal(r.status, 500);
        assert.deepEqual(await r.json(), []);
        gh.fail({ kind: "hang" });
        const hung = fetch(url, { signal: AbortSignal.timeout(300) });
        await assert.rejects(hung);
        gh.recover();
        assert.equal((await fetch(url)).status, 200);
        assert.equal((await fetch(`${gh.apiUrl}/api/v3/repos/acme/nope/pulls`)).status, 404);
    });

    it("delivers pull_request events signed with X-Hub-Signature-256 over the exact body", async () => {
        const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
        const sink = http.createServer((req, res) => {
            let body = "";
            req.on("data", (c: Buffer) => (body += c.toString("utf8")));
            req.on("end", () => {
                received.push({ headers: req.headers, body });
                res.end("ok");
            });
        });
        await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
        const url = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/api/webhook`;
        const delivery = await gh.deliver(url, "s3cret", "shop", gh.pull("shop", 1), "labeled", "preview");
        await new Promise<void>((resolve) => sink.close(() => resolve()));
        assert.equal(delivery.status, 200);
        const [event] = received;
        assert.ok(event);
        assert.equal(event.headers["x-github-event"], "pull_request");
        assert.equal(event.headers["x-hub-signature-256"], `sha256=${crypto.createHmac("sha256", "s3cret").update(event.body).digest("hex")}`);
        const payload = JSON.parse(event.body) as { action: string; repository: { name: string; owner: { login: string }; url: string } };
        assert.equal(payload.action, "labeled");
        assert.deepEqual([payload.repository.name, payload.repository.owner.login], ["shop", "acme"]);
        assert.equal(new URL(payload.repository.url).host, `127.0.0.1:${gh.port}`);
    });
});
