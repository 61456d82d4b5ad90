/**
 * Scrapes of a live /metrics endpoint on a fixed schedule, as Prometheus takes them, turned into
 * promtool input series (tests/support/promtool.ts) so the rules the program renders are evaluated
 * on what Argo CD's controller really exported.
 *
 * The conversion follows Prometheus's scrape semantics: one sample per series per scrape, stamped
 * with the scrape's scheduled time; a series that was in the previous scrape and is not in this one
 * gets a staleness marker (what Prometheus writes); a scrape that did not happen on its tick (the
 * test process was busy) is a missing sample (`_`), not a value.
 *
 * `stretch` inserts copies of one scrape: simulated time in which nothing changed, for rules with
 * `for:` or windows of minutes. It is faithful only where every scrape would have returned the
 * same values; the caller stretches where it has observed a steady state (an Application left
 * OutOfSync, counters after a sync finished) and says why.
 */
import * as fs from "node:fs";
import { Worker } from "node:worker_threads";
import type { InputSeries } from "./promtool";

/** One scrape: series key (`name{labels}` as exposed, a valid PromQL selector) → value. */
export type Scrape = ReadonlyMap<string, number>;

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+\d+)?$/;

/** The samples of `families` in a Prometheus text exposition, kept when `keep(labels)` says so. */
export function parseExposition(text: string, families: readonly string[], keep: (labels: string) => boolean = () => true): Map<string, number> {
    const out = new Map<string, number>();
    for (const line of text.split("\n")) {
        if (line.startsWith("#") || line.trim() === "") continue;
        const m = sampleLine.exec(line);
        if (!m || !families.includes(m[1])) continue;
        const labels = m[2] ?? "";
        if (!keep(labels)) continue;
        out.set(`${m[1]}${labels}`, Number(m[3]));
    }
    return out;
}

/** A label's value in an exposition label set (`{a="x",b="y"}`), unescaped. */
export function labelValue(labels: string, name: string): string | undefined {
    const m = new RegExp(`[{,]${name}="((?:[^"\\\\]|\\\\.)*)"`).exec(labels);
    return m?.[1].replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
}

/**
 * The scrape loop, in a worker thread: the test's own thread blocks in kubectl (spawnSync) and
 * polls, which would make scrapes late; the worker keeps its ticks and appends each scrape's
 * matching lines to a file.
 */
const scrapeLoop = `
const { workerData, parentPort } = require("node:worker_threads");
const fs = require("node:fs");
const { url, intervalMs, startedAt, file, families, contains } = workerData;
let stopped = false;
parentPort.on("message", () => { stopped = true; });
(async () => {
    let tick = 0;
    while (!stopped) {
        const due = startedAt + tick * intervalMs;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        // More than half an interval late: missed, as a scrape that timed out would be.
        if (Date.now() - due <= intervalMs / 2) {
            try {
                const text = await (await fetch(url, { signal: AbortSignal.timeout(intervalMs) })).text();
                const lines = text.split("\\n").filter((l) => families.some((f) => l.startsWith(f + "{")) && contains.some((c) => l.includes(c)));
                fs.appendFileSync(file, JSON.stringify({ tick, lines }) + "\\n");
            } catch (e) {
                fs.appendFileSync(file, JSON.stringify({ tick, error: String(e) }) + "\\n");
            }
        }
        tick = Math.max(tick + 1, Math.floor((Date.now() - startedAt) / intervalMs) + 1);
    }
    parentPort.postMessage("stopped");
})();
`;

/** Scrapes `url` every `intervalMs` on fixed ticks (in a worker thread) until stop(). */
export class MetricsRecorder {
    readonly startedAt = Date.now();
    private readonly worker: Worker;

    /** Keeps samples of `families` whose label set contains one of `contains` (e.g. `name="shop-prod"`). */
    constructor(
        readonly url: string,
        readonly intervalMs: number,
        private readonly file: string,
        private readonly families: readonly string[],
        contains: readonly string[],
    ) {
        fs.writeFileSync(file, "");
        this.worker = new Worker(scrapeLoop, { eval: true, workerData: { url, intervalMs, startedAt: this.startedAt, file, families, contains } });
    }

    /** Tick number → scrape, for every tick scraped so far (missed ticks are absent). */
    get scrapes(): Map<number, Scrape> {
        const out = new Map<number, Scrape>();
        for (const line of fs.readFileSync(this.file, "utf8").split("\n")) {
            if (!line.trim()) continue;
            const r = JSON.parse(line) as { tick: number; lines?: string[]; error?: string };
            if (r.lines) out.set(r.tick, parseExposition(r.lines.join("\n"), this.families));
        }
        return out;
    }

    /** Errors of failed scrapes (for failure reports). */
    errors(): string[] {
        return fs
            .readFileSync(this.file, "utf8")
            .split("\n")
            .filter((l) => l.includes('"error"'));
    }

    /** The tick whose scheduled time is at or just after `ms` (epoch ms). */
    tickAt(ms: number): number {
        return Math.ceil((ms - this.startedAt) / this.intervalMs);
    }

    /** Ticks scheduled up to now. */
    now(): number {
        return Math.floor((Date.now() - this.startedAt) / this.intervalMs);
    }

    async stop(): Promise<void> {
        const stopped = new Promise<void>((resolve) => this.worker.once("message", () => resolve()));
        this.worker.postMessage("stop");
        await Promise.race([stopped, new Promise((r) => setTimeout(r, 5000))]);
        await this.worker.terminate();
    }
}

/** The latest scrape at or before `tick`. */
function scrapeAt(scrapes: ReadonlyMap<number, Scrape>, tick: number): Scrape | undefined {
    for (let t = tick; t >= 0; t--) {
        const s = scrapes.get(t);
        if (s) return s;
    }
    return undefined;
}

export interface Stretch {
    /** Insert after this tick, copies of the scrape at it. */
    readonly afterTick: number;
    /** Number of copies (simulated scrapes). */
    readonly ticks: number;
}

/**
 * The scrapes of ticks `from`..`to` as promtool input series (interval: the recorder's), with
 * stretches inserted. `slot(tick)` maps an original tick to its position in the result (times are
 * `slot * interval` from the start of the test).
 */
export function toInputSeries(
    recorder: MetricsRecorder,
    from: number,
    to: number,
    stretches: readonly Stretch[] = [],
): { series: InputSeries[]; slot: (tick: number) => number; slots: number } {
    const scrapes = recorder.scrapes;
    const timeline: (Scrape | undefined)[] = [];
    const slotOf = new Map<number, number>();
    const sorted = [...stretches].sort((a, b) => a.afterTick - b.afterTick);
    for (let tick = from; tick <= to; tick++) {
        slotOf.set(tick, timeline.length);
        timeline.push(scrapes.get(tick));
        for (const s of sorted.filter((x) => x.afterTick === tick)) {
            const steady = scrapeAt(scrapes, tick);
            if (!steady) throw new Error(`no scrape at or before tick ${tick} to stretch`);
            for (let i = 0; i < s.ticks; i++) timeline.push(steady);
        }
    }
    const keys = new Set<string>();
    for (const s of timeline) for (const k of s?.keys() ?? []) keys.add(k);
    const series: InputSeries[] = [];
    for (const key of [...keys].sort()) {
        const tokens: string[] = [];
        let present = false;
        for (const s of timeline) {
            if (!s) {
                tokens.push("_");
                continue;
            }
            const v = s.get(key);
            if (v === undefined) {
                tokens.push(present ? "stale" : "_");
                present = false;
            } else {
                tokens.push(String(v));
                present = true;
            }
        }
        series.push({ series: key, values: compress(tokens) });
    }
    return {
        series,
        slot: (tick) => {
            const s = slotOf.get(tick);
            if (s === undefined) throw new Error(`tick ${tick} is outside ${from}..${to}`);
            return s;
        },
        slots: timeline.length,
    };
}

/** Runs of equal tokens in promtool's expanding notation (`vxN` is N+1 samples, `_xN` is N). */
function compress(tokens: readonly string[]): string {
    const out: string[] = [];
    for (let i = 0; i < tokens.length;) {
        let j = i;
        while (j < tokens.length && tokens[j] === tokens[i]) j++;
        const n = j - i;
        const t = tokens[i];
        if (n === 1 || t === "stale") out.push(...Array<string>(n).fill(t));
        else out.push(t === "_" ? `_x${n}` : `${t}x${n - 1}`);
        i = j;
    }
    return out.join(" ");
}
