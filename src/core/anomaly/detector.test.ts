import { describe, expect, it } from "vitest";
import { createRandom, poissonFromUniform } from "../random/prng.ts";
import { cusumDown, cusumUp } from "./cusum.ts";
import { createDetector, DETECTOR_STATE_BYTES, type DetectorPoint } from "./detector.ts";
import { evaluateDetections } from "./evaluate-detections.ts";
import { hourOfWeek, MAD_TO_SIGMA, updateRobustBucket } from "./seasonal-baseline.ts";
import { generateSyntheticSeries } from "./synthetic-series.ts";
import { createZScoreDetector } from "./zscore-detector.ts";

const MINUTE = 60_000;
const DAY = 86_400_000;
/** A Sunday, 00:00 UTC. */
const T0 = Date.UTC(2026, 0, 4);

/** Brute-force median of a copy. */
function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

describe("hourOfWeek", () => {
  it("matches Date's UTC weekday and hour (Sunday 00:00 = 0), with and without an offset", () => {
    const r = createRandom(3);
    for (let i = 0; i < 2_000; i++) {
      const t = Math.floor(r.next() * 4e12) - 1e12; // before and after 1970
      const d = new Date(t);
      expect(hourOfWeek(t)).toBe(d.getUTCDay() * 24 + d.getUTCHours());
      const shifted = new Date(t + 330 * MINUTE); // UTC+05:30
      expect(hourOfWeek(t, 330 * MINUTE)).toBe(shifted.getUTCDay() * 24 + shifted.getUTCHours());
    }
  });
});

describe("updateRobustBucket (decayed streaming median/MAD)", () => {
  it("settles on the brute-force median and MAD of recent observations, unmoved by outliers", () => {
    const r = createRandom(11);
    const v = new Float32Array(2); // median, MAD
    const xs: number[] = [];
    for (let n = 0; n < 6_000; n++) {
      // Normal(50, 5) with 5 % gross outliers at +1000.
      const x = r.next() < 0.05 ? 1_000 : 50 + 5 * r.normal();
      updateRobustBucket(v, 0, 1, true, n, x, 0.02, 1, 30);
      xs.push(x);
    }
    const recent = xs.slice(-500);
    const m = median(recent);
    const bruteMad = median(recent.map((x) => Math.abs(x - m)));
    // Stochastic approximation jitters by about one step (0.02 · 1.4826 · MAD) per point.
    expect(Math.abs(v[0]! - m)).toBeLessThan(0.6);
    expect(Math.abs(v[1]! - bruteMad) / bruteMad).toBeLessThan(0.2);
  });

  it("follows a level shift at a bounded speed (memory ≈ 1/rate observations)", () => {
    const r = createRandom(12);
    const v = new Float32Array(2);
    let n = 0;
    for (; n < 2_000; n++) updateRobustBucket(v, 0, 1, true, n, 100 + 5 * r.normal(), 0.02, 1, 30);
    for (let k = 0; k < 600; k++, n++) {
      updateRobustBucket(v, 0, 1, true, n, 60 + 5 * r.normal(), 0.02, 1, 30);
    }
    expect(Math.abs(v[0]! - 60)).toBeLessThan(1.5);
  });
});

describe("CUSUM", () => {
  it("equals the non-recursive form max(0, max_j Σ_{i=j..n} (±z_i − k)) at every step", () => {
    const r = createRandom(5);
    const z = Array.from({ length: 400 }, (_, i) => r.normal() + (i > 200 ? 0.8 : 0));
    const k = 0.5;
    let up = 0;
    let down = 0;
    for (let n = 0; n < z.length; n++) {
      up = cusumUp(up, z[n]!, k);
      down = cusumDown(down, z[n]!, k);
      let bruteUp = 0;
      let bruteDown = 0;
      for (let j = 0; j <= n; j++) {
        let su = 0;
        let sd = 0;
        for (let i = j; i <= n; i++) {
          su += z[i]! - k;
          sd += -z[i]! - k;
        }
        bruteUp = Math.max(bruteUp, su);
        bruteDown = Math.max(bruteDown, sd);
      }
      expect(up).toBeCloseTo(bruteUp, 9);
      expect(down).toBeCloseTo(bruteDown, 9);
    }
  });
});

/** `days` of minute points of a steady Poisson(λ) series, then `tail` extra values. */
function poissonMinutes(seed: number, lambda: number, days: number): number[] {
  const r = createRandom(seed);
  return Array.from({ length: days * 1440 }, () => poissonFromUniform(lambda, r.next()));
}

function feed(values: readonly number[], options = {}): DetectorPoint[] {
  const d = createDetector(options);
  return values.map((value, i) => d.update({ t: T0 + i * MINUTE, value }));
}

describe("createDetector", () => {
  it("raises nothing during the warm-up (the first day), whatever the values", () => {
    const values = poissonMinutes(1, 10, 1).map((v, i) => (i % 97 === 0 ? 10_000 : v));
    const points = feed(values.slice(0, 1439));
    expect(points.some((p) => p.anomaly || p.change !== undefined)).toBe(false);
    expect(points.every((p) => !p.warm)).toBe(true);
  });

  it("detects a drop to zero once the expected volume of the zero run reaches the floor", () => {
    const values = poissonMinutes(2, 5, 3);
    const dropAt = 2 * 1440 + 600;
    for (let i = dropAt; i < dropAt + 90; i++) values[i] = 0;
    const points = feed(values);
    const changes = points.flatMap((p, i) =>
      p.change === undefined ? [] : [[i, p.change, p.reason]],
    );
    // Expected ≈ 5 a minute against a floor of 10: the second or third zero in a row.
    expect(changes[0]![0]).toBeGreaterThanOrEqual(dropAt + 1);
    expect(changes[0]![0]).toBeLessThanOrEqual(dropAt + 2);
    expect(changes[0]!.slice(1)).toEqual(["detected", "drop-to-zero"]);
    // One detection, then one resolution after ten calm points once volume returns.
    expect(changes.map((c) => c[1])).toEqual(["detected", "resolved"]);
    expect(changes[1]![0]).toBeGreaterThanOrEqual(dropAt + 90 + 9);
    expect(changes[1]![0]).toBeLessThan(dropAt + 90 + 30);
    // The baseline did not learn the outage: after it, the expected value is still ≈ 5.
    expect(points[dropAt + 95]!.expected).toBeGreaterThan(3);
  });

  it("keeps quiet on a clean Poisson series (3 days after the warm-up, busy and sparse)", () => {
    for (const [seed, lambda] of [
      [3, 40],
      [4, 2],
      [5, 0.3],
    ] as const) {
      const points = feed(poissonMinutes(seed, lambda, 4));
      expect(points.filter((p) => p.change === "detected")).toEqual([]);
    }
  });

  it("reports score in [0, 1], 0.5 where |z| meets the threshold, and the expected range", () => {
    const points = feed(poissonMinutes(6, 40, 2).concat([40 + 6 * 2 * Math.sqrt(40) * 1.5]));
    for (const p of points) {
      expect(p.score).toBeGreaterThanOrEqual(0);
      expect(p.score).toBeLessThanOrEqual(1);
      expect(p.lower).toBeLessThanOrEqual(p.expected);
      expect(p.upper).toBeGreaterThanOrEqual(p.expected);
    }
    const spike = points.at(-1)!;
    expect(spike.value).toBeGreaterThan(spike.upper);
    expect(spike.change).toBe("detected");
    expect(spike.reason).toBe("spike");
    // score = |z| / (|z| + threshold): above the threshold it passes 0.5.
    expect(spike.score).toBeCloseTo(Math.abs(spike.z) / (Math.abs(spike.z) + 6), 12);
    expect(spike.score).toBeGreaterThan(0.5);
  });

  it("catches a 40 % level shift with CUSUM once the weekly profile is known", () => {
    const values = poissonMinutes(7, 30, 9);
    const shiftAt = 8 * 1440 + 300;
    const r = createRandom(70);
    for (let i = shiftAt; i < values.length; i++) values[i] = poissonFromUniform(18, r.next());
    const points = feed(values);
    const detected = points.flatMap((p, i) => (p.change === "detected" ? [i] : []));
    expect(detected).toHaveLength(1);
    expect(detected[0]! - shiftAt).toBeLessThan(15);
    expect(points[detected[0]!]!.reason).toMatch(/level-shift-down|dip/);
  });

  it("catches a 60 % fall of a sparse count (2 a minute) within hours, and stays quiet on a clean one", () => {
    // Each minute of the fall is within ±1σ of 2 a minute; the Poisson likelihood CUSUM adds up
    // the evidence (about 0.45 a minute against a limit of 12).
    const clean = poissonMinutes(11, 2, 14);
    expect(feed(clean).filter((p) => p.change === "detected")).toEqual([]);
    const values = poissonMinutes(12, 2, 9);
    const fallAt = 8 * 1440 + 300;
    const r = createRandom(120);
    for (let i = fallAt; i < values.length; i++) values[i] = poissonFromUniform(0.8, r.next());
    const points = feed(values);
    const detected = points.flatMap((p, i) => (p.change === "detected" ? [i] : []));
    expect(detected.length).toBeGreaterThanOrEqual(1);
    expect(detected[0]!).toBeGreaterThanOrEqual(fallAt);
    expect(detected[0]! - fallAt).toBeLessThan(120);
    expect(points[detected[0]!]!.reason).toBe("level-shift-down");
  });

  it("honours direction: a level series watched downward ignores rises", () => {
    const r = createRandom(8);
    const values = Array.from({ length: 2 * 1440 }, () => 7 + 0.3 * r.normal());
    values.push(12, 12, 12);
    const up = feed(values, { kind: "level", direction: "down", minScale: 0.1 });
    expect(up.filter((p) => p.change === "detected")).toEqual([]);
    const both = feed(values, { kind: "level", minScale: 0.1 });
    expect(both.filter((p) => p.change === "detected")).toHaveLength(1);
  });

  it("resumes from a snapshot exactly where it stood", () => {
    const values = poissonMinutes(9, 12, 3);
    const a = createDetector();
    for (let i = 0; i < 2 * 1440; i++) a.update({ t: T0 + i * MINUTE, value: values[i]! });
    const state = a.snapshot();
    expect(state.byteLength).toBe(DETECTOR_STATE_BYTES);
    const b = createDetector({}, state);
    for (let i = 2 * 1440; i < values.length; i++) {
      const input = { t: T0 + i * MINUTE, value: values[i]! };
      expect(b.update(input)).toEqual(a.update(input));
    }
  });

  it("treats NaN as a missing point (no update) and refuses a non-finite time", () => {
    const d = createDetector();
    d.update({ t: T0, value: 3 });
    const before = d.snapshot();
    const p = d.update({ t: T0 + MINUTE, value: Number.NaN });
    expect(p.anomaly).toBe(false);
    expect(d.snapshot()).toEqual(before);
    expect(() => d.update({ t: Number.NaN, value: 1 })).toThrow(/t must be a finite/);
  });

  it("refuses bad options and foreign state with errors that name them", () => {
    expect(() => createDetector({ threshold: -1 })).toThrow(/threshold must be a positive/);
    expect(() => createDetector({ decay: 2 })).toThrow(/decay must be in \(0, 1\]/);
    expect(() => createDetector({ minBucketPoints: 1000 })).toThrow(/minBucketPoints/);
    expect(() => createDetector({}, new Uint8Array(10))).toThrow(/snapshot of this detector/);
  });
});

describe("detection quality on labelled synthetic series (seeded, not timed)", () => {
  it("finds the injected drops, spikes and shifts of busy series with few false alarms, ahead of a windowed z-score", () => {
    let driftline = { detected: 0, injected: 0, falseAlarms: 0 };
    let zscore = { detected: 0, injected: 0, falseAlarms: 0 };
    for (let seed = 1; seed <= 4; seed++) {
      const s = generateSyntheticSeries({ seed, points: 3 * 7 * 1440, stepMs: MINUTE, base: 40 });
      for (const [name, d] of [
        ["driftline", createDetector()],
        ["zscore", createZScoreDetector()],
      ] as const) {
        const alerts: number[] = [];
        s.t.forEach((t, i) => {
          if (d.update({ t, value: s.value[i]! }).change === "detected") alerts.push(i);
        });
        const q = evaluateDetections(s.anomalies, alerts, 60);
        const acc = name === "driftline" ? driftline : zscore;
        const next = {
          detected: acc.detected + q.detected,
          injected: acc.injected + s.anomalies.length,
          falseAlarms: acc.falseAlarms + q.falseAlarms,
        };
        if (name === "driftline") driftline = next;
        else zscore = next;
      }
    }
    expect(driftline.detected / driftline.injected).toBeGreaterThanOrEqual(0.95);
    // 4 series × 3 weeks: at most a couple of false alarms in 84 series-days.
    expect(driftline.falseAlarms).toBeLessThanOrEqual(3);
    expect(driftline.falseAlarms).toBeLessThan(zscore.falseAlarms);
  });
});

describe("evaluateDetections", () => {
  it("counts hits within [start, end + grace), misses and false alarms", () => {
    const q = evaluateDetections(
      [
        { kind: "drop", start: 100, end: 160 },
        { kind: "spike", start: 300, end: 301 },
        { kind: "shift-up", start: 500, end: 600 },
      ],
      [50, 105, 110, 305, 700],
      10,
    );
    expect(q).toEqual({
      detected: 2,
      missed: 1,
      falseAlarms: 2,
      precision: 3 / 5,
      recall: 2 / 3,
      meanDelayPoints: (5 + 5) / 2,
    });
  });
});

describe("generateSyntheticSeries", () => {
  it("is the same for the same seed and differs for another", () => {
    const o = { points: 20_000, stepMs: MINUTE, base: 10 };
    const a = generateSyntheticSeries({ seed: 1, ...o });
    expect(generateSyntheticSeries({ seed: 1, ...o })).toEqual(a);
    expect(generateSyntheticSeries({ seed: 2, ...o }).value).not.toEqual(a.value);
    expect(a.anomalies.every((x) => x.start >= 7 * 1440)).toBe(true);
  });
});

it("MAD_TO_SIGMA is 1/Φ⁻¹(3/4)", () => {
  // Φ⁻¹(0.75) = 0.6744897501960817 (published value of the normal quantile).
  expect(MAD_TO_SIGMA).toBeCloseTo(1 / 0.6744897501960817, 4);
  expect(DAY).toBe(1440 * MINUTE);
});
