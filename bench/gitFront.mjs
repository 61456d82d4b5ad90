// The bench's Git server front (bench/gitDaemon.ts starts it): `git daemon` listens with a backlog
// of 5 (daemon.c), so a refresh wave of hundreds of `ls-remote`s overflows its accept queue and
// some of them are reset ("failed to list refs: … connection reset by peer" in the repo-server at
// 500 Applications). This process accepts with a deep backlog, holds the connections it cannot
// pass on yet (their bytes wait in the kernel), and opens at most MAX_UPSTREAM connections to the
// daemon at a time, each piped both ways until either side closes. A process of its own: the bench
// harness blocks its own event loop on kubectl calls.
//   node bench/gitFront.mjs <listen port> <daemon port> [max upstream]
import * as net from "node:net";
import process from "node:process";

const [listenPort, daemonPort, maxArg] = process.argv.slice(2).map(Number);
const maxUpstream = maxArg || 4;
const waiting = [];
let active = 0;

function next() {
    while (active < maxUpstream && waiting.length > 0) {
        const client = waiting.shift();
        if (client.destroyed) continue;
        active++;
        let released = false;
        // The slot is the daemon connection's: freed when it closes. Its end is passed on by pipe (the
        // client gets every byte, then FIN); a client gone early takes the daemon connection with it.
        const release = () => {
            if (released) return;
            released = true;
            active--;
            next();
        };
        const upstream = net.connect({ port: daemonPort, host: "127.0.0.1", allowHalfOpen: true });
        upstream.once("connect", () => {
            client.pipe(upstream);
            upstream.pipe(client);
            client.resume();
        });
        upstream.once("close", release);
        upstream.once("error", () => client.destroy());
        client.once("error", () => upstream.destroy());
        client.once("close", () => upstream.destroy());
    }
}

const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => {
    waiting.push(client);
    next();
});
server.listen({ port: listenPort, host: "127.0.0.1", backlog: 4096 }, () => process.stdout.write(`front on ${listenPort} → ${daemonPort}\n`));
