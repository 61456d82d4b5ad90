/** Small statistics for the benchmark report. */

export interface Summary {
    readonly median: number;
    readonly min: number;
    readonly max: number;
    readonly n: number;
}

export function summarize(values: readonly number[]): Summary {
    if (values.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
    const s = [...values].sort((a, b) => a - b);
    const mid = Math.floor(s.length / 2);
    const median = s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
    return { median, min: s[0], max: s[s.length - 1], n: s.length };
}

/** Growth of `t` per 10× services between two sizes: (t2/t1)^(1/log10(n2/n1)). 10 = linear. */
export function growthPer10x(n1: number, t1: number, n2: number, t2: number): number {
    return Math.pow(t2 / t1, 1 / Math.log10(n2 / n1));
}

/** "1.23 (1.10–1.40)" with `digits` decimals. */
export function fmt(s: Summary, digits = 2, scale = 1): string {
    if (s.n === 0 || Number.isNaN(s.median)) return "–";
    const f = (x: number) => (x * scale).toFixed(digits);
    return s.n === 1 ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
}
