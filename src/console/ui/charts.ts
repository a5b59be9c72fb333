/**
 * Charts on uPlot: time series, histograms and the calibration plot. A page builds placeholders
 * while it renders off-screen; `drawPendingCharts` draws them once they are in the document and
 * can be measured.
 */
import uPlot from "uplot";
import { timeRangeSeconds } from "./chart-range";
import { h } from "./dom";

export const PALETTE = [
  "#4f7cff",
  "#f2994a",
  "#27ae60",
  "#eb5757",
  "#9b51e0",
  "#2d9cdb",
  "#b7950b",
];

export interface SeriesSpec {
  label: string;
  values: (number | null)[];
  color?: string;
}

interface Pending {
  host: HTMLElement;
  build(width: number): uPlot.Options;
  data: uPlot.AlignedData;
}

const pending: Pending[] = [];
const live: uPlot[] = [];

/** Draws every chart of the page just attached, replacing the previous page's. */
export function drawPendingCharts(): void {
  for (const chart of live.splice(0)) chart.destroy();
  for (const p of pending.splice(0)) {
    const width = Math.max(240, p.host.clientWidth || 480);
    live.push(new uPlot(p.build(width), p.data, p.host));
  }
}

function axisStyle(): Partial<uPlot.Axis> {
  return { stroke: "#8a94a6", grid: { stroke: "#e8ecf2", width: 1 }, ticks: { show: false } };
}

/** A line chart over time (x in epoch ms). */
export function timeChart(options: {
  xsMs: number[];
  series: SeriesSpec[];
  yLabel?: string;
  height?: number;
  bars?: boolean;
  yRange?: [number, number];
  /** The width of a point's window, ms: a lone point is drawn with one window either side. */
  windowMs?: number;
}): HTMLElement {
  const host = h("div", { class: "chart" });
  const bars = options.bars ? uPlot.paths.bars?.({ size: [0.7, 40] }) : undefined;
  const xs = options.xsMs.map((x) => x / 1000);
  const xRange = timeRangeSeconds(xs, options.windowMs);
  pending.push({
    host,
    data: [xs, ...options.series.map((s) => s.values)],
    build: (width) => ({
      width,
      height: options.height ?? 220,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        ...(xRange === undefined ? {} : { x: { range: xRange } }),
        y: options.yRange
          ? { range: options.yRange }
          : { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
      },
      axes: [axisStyle(), { ...axisStyle(), label: options.yLabel, size: 56 }],
      series: [
        {},
        ...options.series.map((s, i) => {
          const color = s.color ?? PALETTE[i % PALETTE.length]!;
          return {
            label: s.label,
            stroke: color,
            width: 2,
            fill: bars ? `${color}cc` : undefined,
            paths: bars,
            points: { show: options.xsMs.length < 40 },
            spanGaps: false,
          };
        }),
      ],
    }),
  });
  return host;
}

/** Reference vs current proportions per bin, side by side. */
export function histogram(options: {
  labels: string[];
  reference: number[];
  current: number[];
  height?: number;
}): HTMLElement {
  const host = h("div", { class: "chart" });
  const n = options.labels.length;
  const xs = Array.from({ length: n }, (_, i) => i);
  pending.push({
    host,
    data: [xs, options.reference, options.current],
    build: (width) => ({
      width,
      height: options.height ?? 240,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: false, range: [-0.6, n - 0.4] },
        y: { range: (_u, _min, max) => [0, max * 1.15 || 1] },
      },
      axes: [
        {
          ...axisStyle(),
          splits: () => xs,
          values: (_u, splits) => splits.map((s) => options.labels[s] ?? ""),
          rotate: n > 8 ? -30 : 0,
          size: n > 8 ? 60 : 40,
        },
        {
          ...axisStyle(),
          label: "share",
          values: (_u, v) => v.map((x) => `${Math.round(x * 100)}%`),
        },
      ],
      series: [{}, barSeries("reference", "#8a94a6", -0.18), barSeries("current", "#4f7cff", 0.18)],
    }),
  });
  return host;
}

function barSeries(label: string, color: string, offset: number): uPlot.Series {
  return {
    label,
    stroke: color,
    fill: `${color}cc`,
    width: 1,
    points: { show: false },
    paths: (u, seriesIdx, idx0, idx1) => {
      const xs = u.data[0];
      const ys = u.data[seriesIdx]!;
      const fill = new Path2D();
      const half = Math.abs(u.valToPos(0.17, "x", true) - u.valToPos(0, "x", true));
      for (let i = idx0; i <= idx1; i++) {
        const y = ys[i];
        if (y === null || y === undefined) continue;
        const cx = u.valToPos(xs[i]! + offset, "x", true);
        const top = u.valToPos(y, "y", true);
        const bottom = u.valToPos(0, "y", true);
        fill.rect(cx - half, top, half * 2, bottom - top);
      }
      return { stroke: fill, fill };
    },
  };
}

/** Observed rate against mean predicted score per bin, with the diagonal of perfect calibration. */
export function calibrationChart(points: { predicted: number; observed: number }[]): HTMLElement {
  const host = h("div", { class: "chart" });
  const sorted = [...points].sort((a, b) => a.predicted - b.predicted);
  const xs = [0, ...sorted.map((p) => p.predicted), 1];
  pending.push({
    host,
    data: [xs, xs, [null, ...sorted.map((p) => p.observed), null]],
    build: (width) => ({
      width,
      height: 260,
      legend: { live: false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: false, range: [0, 1] }, y: { range: [0, 1] } },
      axes: [
        { ...axisStyle(), label: "mean predicted" },
        { ...axisStyle(), label: "observed rate", size: 56 },
      ],
      series: [
        {},
        { label: "perfect", stroke: "#c3cad6", width: 1, dash: [4, 4], points: { show: false } },
        { label: "model", stroke: "#4f7cff", width: 2, points: { show: true, size: 7 } },
      ],
    }),
  });
  return host;
}
