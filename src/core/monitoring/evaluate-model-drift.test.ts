import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeFeatures, iterateRows } from "../../../models/synthetic/conversion-data.ts";
import { RECIPES, trainModel } from "../../../models/train-models.ts";
import { parseModelManifest } from "../model-manifest.ts";
import { computePsi, ksTwoSample } from "../stats/index.ts";
import {
  driftResultRows,
  evaluateModelDrift,
  type ModelDriftEvaluation,
} from "./evaluate-model-drift.ts";
import { prepareModelReference } from "./model-reference.ts";
import { resolveMonitoringSettings } from "./monitoring-settings.ts";
import { PredictionWindow, SCORE_COLUMN } from "./prediction-window.ts";

const manifest = parseModelManifest(
  JSON.parse(
    readFileSync(
      resolve(import.meta.dirname, "../../../models/conversion/1/manifest.json"),
      "utf8",
    ),
  ),
);
const reference = prepareModelReference(manifest);
const settings = resolveMonitoringSettings({
  sliding: { size: 2000, stride: 250, minSample: 500 },
});
const DRIFT = {
  features: {
    time_on_site_s: { scale: 1.8 },
    traffic_source: { mix: { organic: 1, paid_search: 1, social: 6, email: 1, direct: 1 } },
  },
} as const;

let predict: (x: ArrayLike<number>) => number;
beforeAll(() => {
  // The demo model retrained from its recipe: the same weights as models/conversion/1.
  predict = trainModel(RECIPES[0]!).predict;
});

function windowOf(seed: number, drift?: typeof DRIFT): PredictionWindow {
  const w = new PredictionWindow(reference.windowColumns, 2000);
  const rows = iterateRows({ seed, ...(drift ? { drift } : {}) });
  for (let i = 0; i < 2000; i++) {
    const r = rows.next().value;
    w.push({
      features: { ...r.features },
      score: predict(encodeFeatures(r.features)),
      predictedAtMs: i,
    });
  }
  return w;
}

function evaluate(w: PredictionWindow): ModelDriftEvaluation {
  return evaluateModelDrift(
    reference,
    (c) => w.columnValues(c.name),
    { kind: "sliding", startMs: 0, endMs: 2000, size: w.size },
    settings.drift,
  );
}

describe("prepareModelReference (demo manifest)", () => {
  it("monitors every feature with a reference, then the score", () => {
    expect(reference.columns.map((c) => c.name)).toEqual([
      ...manifest.features.map((f) => f.name),
      SCORE_COLUMN,
    ]);
    expect(reference.columns.every((c) => c.referenceSize === 20_000)).toBe(true);
    expect(reference.baselineAuc).toBe(manifest.training?.metrics?.auc);
    expect(reference.trainedAtMs).toBe(Date.parse("2026-11-22T00:00:00.000Z"));
  });
});

describe("evaluateModelDrift", () => {
  it("calls every column stable on windows drawn like the training data", () => {
    for (const seed of [11, 12, 13]) {
      const ev = evaluate(windowOf(seed));
      const notStable = ev.columns.filter((c) => c.level !== "stable");
      expect(notStable.map((c) => c.report.feature)).toEqual([]);
    }
  });

  it("calls exactly the drifted features significant", () => {
    const ev = evaluate(windowOf(21, DRIFT));
    const significant = ev.columns
      .filter((c) => c.level === "significant" && c.report.feature !== SCORE_COLUMN)
      .map((c) => c.report.feature);
    expect(significant.sort()).toEqual(["time_on_site_s", "traffic_source"]);
    const time = ev.columns.find((c) => c.report.feature === "time_on_site_s")!;
    expect(time.report.ks.kind).toBe("evaluated");
    const source = ev.columns.find((c) => c.report.feature === "traffic_source")!;
    expect(source.report.ks.kind).toBe("not-applicable");
  });

  it("gives no level when the window is below the minimum sample", () => {
    const w = new PredictionWindow(reference.windowColumns, 2000);
    const rows = iterateRows({ seed: 3 });
    for (let i = 0; i < 100; i++) {
      const r = rows.next().value;
      w.push({ features: { ...r.features }, score: 0.1, predictedAtMs: i });
    }
    const ev = evaluate(w);
    expect(ev.columns.every((c) => c.level === undefined)).toBe(true);
    expect(driftResultRows(ev)).toEqual([]);
  });
});

describe("driftResultRows", () => {
  it("stores what reproduces each value from the row alone", () => {
    const w = windowOf(31, DRIFT);
    const ev = evaluate(w);
    const rows = driftResultRows(ev);
    // 8 numeric features + score: psi, ks, js; 2 categorical: psi, js
    expect(rows).toHaveLength(9 * 3 + 2 * 2);
    for (const row of rows.filter((r) => r.test === "psi")) {
      const bins = row.bins as {
        epsilon: number;
        referenceCounts: number[];
        currentCounts: number[];
      };
      const again = computePsi(
        { referenceCounts: bins.referenceCounts, currentCounts: bins.currentCounts },
        { epsilon: bins.epsilon },
      );
      expect(again.value).toBeCloseTo(row.value, 12);
      expect(again.band).toBe(row.band);
      expect(row.currentSize).toBe(2000);
      expect(row.referenceSize).toBe(20_000);
      expect(bins.currentCounts.reduce((a, b) => a + b, 0)).toBe(2000);
    }
    // KS: the same D and p from the reference sample and the window's values
    const ks = rows.find((r) => r.test === "ks" && r.feature === "time_on_site_s")!;
    const sample = (manifest.reference!.features.time_on_site_s as { sample: number[] }).sample;
    const direct = ksTwoSample(sample, w.columnValues("time_on_site_s") as number[], {
      method: ks.details.method as "exact" | "asymp",
    });
    expect(ks.value).toBeCloseTo(direct.statistic, 12);
    expect(ks.pValue!).toBeCloseTo(direct.pValue, 12);
    expect(ks.referenceSize).toBe(sample.length);
    expect(ks.isDrift).toBe(true);
    expect(ks.details).toMatchObject({ alpha: 0.05, minEffect: 0.1 });
  });
});
