/**
 * The report's chart, time vs services (log–log: a straight line of slope 1 is linear growth),
 * rendered to SVG by Vega-Lite + Vega in Node.js (no browser, no canvas: text is measured by
 * Vega's estimator).
 */

export interface ChartPoint {
    /** Legend entry, e.g. "mocks: ours". */
    readonly series: string;
    readonly services: number;
    /** Median, min and max, seconds. */
    readonly median: number;
    readonly min: number;
    readonly max: number;
}

export async function renderChart(points: readonly ChartPoint[], title: string): Promise<string> {
    // ESM-only packages, loaded from this CommonJS module.
    const vega = await import("vega");
    const vegaLite = await import("vega-lite");
    const x = {
        field: "services",
        type: "quantitative",
        title: "services (each: prod + staging Application; previews on every third)",
        scale: { type: "log", domain: [1, 500], nice: false },
        axis: { values: [1, 10, 50, 100, 200, 500] },
    };
    const color = { field: "series", type: "nominal", title: null, legend: { orient: "top-left", direction: "vertical" } };
    const spec = {
        title: { text: title, fontSize: 13 },
        width: 520,
        height: 320,
        data: { values: points.map((p) => ({ ...p })) },
        layer: [
            {
                mark: { type: "rule", strokeWidth: 1.5, opacity: 0.6 },
                encoding: { x, y: { field: "min", type: "quantitative" }, y2: { field: "max" }, color },
            },
            {
                mark: { type: "line", point: { filled: true, size: 40 }, strokeWidth: 2 },
                encoding: {
                    x,
                    y: { field: "median", type: "quantitative", title: "wall time, s (median; bars: min–max)", scale: { type: "log" } },
                    color,
                },
            },
        ],
        config: { font: "sans-serif", axis: { labelFontSize: 11, titleFontSize: 11 }, legend: { labelFontSize: 11, labelLimit: 400 } },
    };
    const compiled = vegaLite.compile(spec as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
    const view = new vega.View(vega.parse(compiled), { renderer: "none" });
    const svg = await view.toSVG();
    view.finalize();
    return svg;
}
