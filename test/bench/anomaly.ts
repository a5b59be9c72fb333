/** Benchmark: anomaly detector throughput, memory per live series, and detection quality on seeded synthetic series against a windowed z-score. */

// Usage: npm run bench:anomaly [-- --series 24 --weeks 3 --live 100000]
// Quality: minute series (3 weeks, daily + weekly seasonality, Poisson or Gaussian noise, 1 %
// missing points) with labelled injected drops to zero, spikes and level shifts, each seed a
// different series. Precision, recall, mean detection delay and false alarms per day are printed
// for the Driftline detector and for a windowed Gaussian z-score (60 points, |z| ≥ 4) side by side.
// Speed: updates per second and µs per update over the same points. Memory: heap per live series
// for --live detectors, each having seen a day of points.

import { parseArgs } from "node:util";
import {
  createDetector,
  createZScoreDetector,
  type DetectionQuality,
  type DetectorPoint,
  evaluateDetections,
  generateSyntheticSeries,
  type SyntheticSeries,
} from "#core/anomaly";
import { table } from "./bench-support";

const { values: args } = parseArgs({
  options: {
    series: { type: "string", default: "24" },
    weeks: { type: "string", default: "3" },
    live: { type: "string", default: "100000" },
  },
});
const SERIES = Number(args.series);
const POINTS = Number(args.weeks) * 7 * 1440;
const LIVE = Number(args.live);
const MINUTE = 60_000;
/** An alert up to an hour after a spike or shift ended still counts as catching it. */
const GRACE = 60;

interface Profile {
  name: string;
  base: number;
  noise: "poisson" | "normal";
  kind: "count" | "level";
}
const PROFILES: Profile[] = [
  { name: "busy counts (λ≈40/min)", base: 40, noise: "poisson", kind: "count" },
  { name: "sparse counts (λ≈2/min)", base: 2, noise: "poisson", kind: "count" },
  { name: "level (5 % noise)", base: 100, noise: "normal", kind: "level" },
];

type Maker = (p: Profile) => { update(i: { t: number; value: number }): DetectorPoint };
const MAKERS: [string, Maker][] = [
  ["driftline", (p) => createDetector({ kind: p.kind })],
  ["z-score(60, 4)", () => createZScoreDetector({ window: 60, threshold: 4 })],
];

function run(
  s: SyntheticSeries,
  make: () => { update(i: { t: number; value: number }): DetectorPoint },
): number[] {
  const d = make();
  const alerts: number[] = [];
  for (let i = 0; i < s.t.length; i++) {
    const p = d.update({ t: s.t[i]!, value: s.value[i]! });
    if (p.change === "detected") alerts.push(i);
  }
  return alerts;
}

const rows: string[][] = [];
const series = new Map<string, SyntheticSeries[]>();
for (const profile of PROFILES) {
  const list: SyntheticSeries[] = [];
  for (let k = 0; k < SERIES; k++) {
    list.push(
      generateSyntheticSeries({
        seed: 1000 + k,
        points: POINTS,
        stepMs: MINUTE,
        base: profile.base,
        noise: profile.noise,
        anomalies: 8,
      }),
    );
  }
  series.set(profile.name, list);
  for (const [name, make] of MAKERS) {
    const total: DetectionQuality = {
      detected: 0,
      missed: 0,
      falseAlarms: 0,
      precision: 0,
      recall: 0,
      meanDelayPoints: 0,
    };
    let delaySum = 0;
    let alertsTotal = 0;
    const byKind = new Map<string, [number, number]>();
    for (const s of list) {
      const alerts = run(s, () => make(profile));
      const q = evaluateDetections(s.anomalies, alerts, GRACE);
      total.detected += q.detected;
      total.missed += q.missed;
      total.falseAlarms += q.falseAlarms;
      alertsTotal += alerts.length;
      if (q.detected > 0) delaySum += q.meanDelayPoints * q.detected;
      for (const a of s.anomalies) {
        const hit = evaluateDetections([a], alerts, GRACE).detected;
        const e = byKind.get(a.kind) ?? [0, 0];
        byKind.set(a.kind, [e[0] + hit, e[1] + 1]);
      }
    }
    const days = (SERIES * POINTS) / 1440;
    const cleanDays = days - SERIES * 7; // the first week of each series has no injection
    rows.push([
      profile.name,
      name,
      ((alertsTotal - total.falseAlarms) / Math.max(1, alertsTotal)).toFixed(3),
      (total.detected / (total.detected + total.missed)).toFixed(3),
      total.detected > 0 ? (delaySum / total.detected).toFixed(1) : "–",
      (total.falseAlarms / Math.max(cleanDays, 1)).toFixed(2),
      [...byKind].map(([k, [h, n]]) => `${k} ${h}/${n}`).join(", "),
    ]);
  }
}
console.log(
  `Detection quality: ${SERIES} seeded series per profile, ${POINTS} minute points each (first week clean), 8 injected anomalies each, grace ${GRACE} points`,
);
console.log(
  table(
    [
      "series",
      "detector",
      "precision",
      "recall",
      "delay (min)",
      "false alarms/day",
      "caught by kind",
    ],
    rows,
  ),
);

// Throughput: every point of every series of the first profile, detector and baseline.
const speedRows: string[][] = [];
for (const [name, make] of MAKERS) {
  const list = series.get(PROFILES[0]!.name)!;
  let updates = 0;
  const started = process.hrtime.bigint();
  for (const s of list) {
    const d = make(PROFILES[0]!);
    for (let i = 0; i < s.t.length; i++) d.update({ t: s.t[i]!, value: s.value[i]! });
    updates += s.t.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  speedRows.push([
    name,
    updates.toLocaleString("en"),
    (updates / seconds).toFixed(0),
    ((seconds / updates) * 1e6).toFixed(3),
  ]);
}
console.log("\nThroughput (one core)");
console.log(table(["detector", "updates", "updates/s", "µs/update"], speedRows));

// Memory: LIVE detectors held at once, each fed a day of minute points.
const day = generateSyntheticSeries({
  seed: 7,
  points: 1440,
  stepMs: MINUTE,
  base: 10,
  anomalies: 0,
});
globalThis.gc?.();
const before = process.memoryUsage();
const live = new Array(LIVE);
for (let k = 0; k < LIVE; k++) {
  const d = createDetector();
  for (let i = 0; i < 24; i++) d.update({ t: day.t[i * 60]!, value: day.value[i * 60]! });
  live[k] = d;
}
globalThis.gc?.();
const after = process.memoryUsage();
const used = after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers;
console.log(
  `\nMemory: ${LIVE.toLocaleString("en")} live detectors take ${(used / 2 ** 20).toFixed(1)} MiB (${(used / LIVE).toFixed(0)} bytes each; target ≤ 200 MB for 100k)${globalThis.gc ? "" : " — run with node --expose-gc for a settled figure"}`,
);
if (live.length !== LIVE) throw new Error("unreachable");
