/** Seeded synthetic KPI series with daily and weekly seasonality, noise, missing points and labelled injected anomalies. */
import { createRandom, poissonFromUniform, type Random } from "../random/prng.ts";

export type InjectedKind = "drop" | "spike" | "shift-down" | "shift-up";

export interface InjectedAnomaly {
  kind: InjectedKind;
  /** First affected point (index). */
  start: number;
  /** One past the last affected point. */
  end: number;
}

export interface SyntheticSeriesOptions {
  seed: number;
  /** Number of points. */
  points: number;
  /** Spacing of the points, ms (60 000 for minute windows). */
  stepMs: number;
  /** Time of the first point, epoch ms. Default 2026-01-04T00:00Z (a Sunday). */
  startMs?: number;
  /** Mean level (events per step for Poisson noise). */
  base: number;
  /** Daily cycle amplitude as a share of the level (0..1). Default 0.6. */
  dailyAmplitude?: number;
  /** Weekend level as a share of weekdays' (0..1]. Default 0.7. */
  weekendFactor?: number;
  /** `poisson` (counts) or `normal` with `noiseSd` as a share of the level. Default poisson. */
  noise?: "poisson" | "normal";
  /** Default 0.05. */
  noiseSd?: number;
  /** Share of points missing (NaN). Default 0.01. */
  missingRate?: number;
  /** Anomalies to inject, never in the first `cleanPoints` points. Default 8. */
  anomalies?: number;
  /** Default: one week of points. */
  cleanPoints?: number;
  /** Kinds to draw from. Default all four. */
  kinds?: readonly InjectedKind[];
}

export interface SyntheticSeries {
  t: number[];
  /** NaN where the point is missing. */
  value: number[];
  /** The clean seasonal mean at each point (what a perfect baseline would expect). */
  expected: number[];
  anomalies: InjectedAnomaly[];
}

const DAY_MS = 86_400_000;

/** Same options (and seed) → the same series, on every engine. */
export function generateSyntheticSeries(options: SyntheticSeriesOptions): SyntheticSeries {
  const r = createRandom(options.seed);
  const startMs = options.startMs ?? Date.UTC(2026, 0, 4);
  const daily = options.dailyAmplitude ?? 0.6;
  const weekend = options.weekendFactor ?? 0.7;
  const noise = options.noise ?? "poisson";
  const sd = options.noiseSd ?? 0.05;
  const missing = options.missingRate ?? 0.01;
  const clean = options.cleanPoints ?? Math.ceil((7 * DAY_MS) / options.stepMs);
  const kinds = options.kinds ?? ["drop", "spike", "shift-down", "shift-up"];
  const anomalies = placeAnomalies(
    r,
    options.points,
    clean,
    options.anomalies ?? 8,
    kinds,
    options.stepMs,
  );

  const t: number[] = [];
  const value: number[] = [];
  const expected: number[] = [];
  // Which injection (if any) covers each point.
  const cover = new Int32Array(options.points).fill(-1);
  anomalies.forEach((a, i) => {
    for (let j = a.start; j < a.end; j++) cover[j] = i;
  });
  for (let i = 0; i < options.points; i++) {
    const ti = startMs + i * options.stepMs;
    const dayPhase = ((ti % DAY_MS) / DAY_MS) * 2 * Math.PI;
    const weekday = (Math.floor(ti / DAY_MS) + 4) % 7;
    // Trough at 04:00, peak at 16:00.
    const level =
      options.base *
      (1 + daily * Math.sin(dayPhase - (10 / 24) * 2 * Math.PI)) *
      (weekday === 0 || weekday === 6 ? weekend : 1);
    let mean = Math.max(level, 0);
    const a = cover[i]! >= 0 ? anomalies[cover[i]!] : undefined;
    if (a?.kind === "drop") mean = 0;
    else if (a?.kind === "shift-down") mean *= 0.4;
    else if (a?.kind === "shift-up") mean *= 2;
    let x = noise === "poisson" ? samplePoisson(r, mean) : mean + sd * options.base * r.normal();
    if (a?.kind === "spike") x += Math.max(10, 12 * Math.sqrt(Math.max(level, 1)), 0.8 * level);
    t.push(ti);
    expected.push(level);
    value.push(r.next() < missing && a === undefined ? Number.NaN : x);
  }
  return { t, value, expected, anomalies };
}

function placeAnomalies(
  r: Random,
  points: number,
  clean: number,
  count: number,
  kinds: readonly InjectedKind[],
  stepMs: number,
): InjectedAnomaly[] {
  const out: InjectedAnomaly[] = [];
  if (points <= clean || count <= 0) return out;
  // Evenly spaced slots with jitter, so anomalies never overlap and each has room to resolve.
  const slot = Math.floor((points - clean) / count);
  const hour = Math.max(1, Math.round(3_600_000 / stepMs));
  for (let k = 0; k < count; k++) {
    const kind = kinds[r.int(kinds.length)]!;
    const length =
      kind === "spike" ? 1 : kind === "drop" ? hour * (1 + r.int(3)) : hour * (2 + r.int(6));
    const room = slot - length - 2 * hour;
    if (room <= 0) continue;
    const start = clean + k * slot + hour + r.int(room);
    out.push({ kind, start, end: start + length });
  }
  return out;
}

function samplePoisson(r: Random, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > 40) return Math.max(0, Math.round(mean + Math.sqrt(mean) * r.normal()));
  return poissonFromUniform(mean, r.next());
}
