import { describe, expect, it } from "vitest";
import {
  CONVERSION_FEATURES,
  GROUND_TRUTH,
  generateRows,
} from "../../../models/synthetic/conversion-data";
import { validateModelManifest } from "../model-manifest.ts";
import { computePsi, countNumeric } from "../stats/index.ts";
import { rocAuc } from "../training/metrics.ts";
import { retrainCandidate } from "./retrain-candidate.ts";
import type { SettledRow } from "./training-set.ts";
import { prepareTrainingSet, selectTrainingWindow } from "./training-set.ts";

const MIN = 60_000;
const champion = validateModelManifest({
  input: "features",
  output: { name: "probability", index: 0 },
  features: CONVERSION_FEATURES,
  training: { algorithm: "logistic-regression" },
});
if (!champion.ok) throw new Error("fixture manifest");

/**
 * Settled rows under concept drift (cart value now lowers conversion), scored by a stale
 * champion that believes the old ground truth: its logged score is the old true probability.
 */
function driftedRows(n: number, seed: number): SettledRow[] {
  const drifted = generateRows({
    seed,
    n,
    drift: { groundTruth: { coefficients: { log1p_cart_value: -0.6 } } },
  });
  const stale = generateRows({ seed, n });
  return drifted.map((r, i) => ({
    features: { ...r.features },
    label: r.label === 1,
    predictedAtMs: 1_700_000_000_000 + i * MIN,
    version: "1",
    score: stale[i]!.trueProbability,
  }));
}

describe("retrainCandidate", () => {
  it.each(["logistic-regression", "gbt"] as const)(
    "a %s candidate trained on drifted labels beats the stale champion and carries a fresh reference",
    (algorithm) => {
      const rows = driftedRows(6_000, 5);
      const out = retrainCandidate({
        champion: champion.manifest,
        championVersion: "1",
        algorithm,
        rows,
        trainingSet: { minRows: 1_000, minPerClass: 20 },
        gate: { minAucGain: 0, minLogLossGain: 0 },
        seed: 1,
        trainedAt: "2026-12-01T00:00:00.000Z",
        graphName: "conversion-retrained",
        provenance: { retrainingRequestId: "r-1" },
      });
      expect(out.kind).toBe("candidate");
      if (out.kind !== "candidate") return;
      expect(out.gate.aucGain).toBeGreaterThan(0);
      expect(out.gate.logLossGain).toBeGreaterThan(0);
      expect(out.counts.holdout.rows).toBe(1_200);
      expect(validateModelManifest(out.manifest).ok).toBe(true);
      expect(out.manifest.training?.algorithm).toBe(algorithm);
      // The reference is the candidate's own training data: its cart_value bins put the
      // training rows' values at ~10 % each (PSI of the training rows against it ≈ 0).
      const ref = out.manifest.reference?.features.cart_value;
      expect(ref?.type).toBe("number");
      if (ref?.type !== "number") return;
      const currentCounts = countNumeric(
        { kind: "numeric", edges: ref.edges },
        rows.slice(0, 4_800).map((r) => r.features.cart_value as number),
      );
      expect(computePsi({ referenceCounts: ref.proportions, currentCounts }).value).toBeLessThan(
        0.01,
      );
      expect(out.onnx.byteLength).toBeGreaterThan(100);
    },
  );

  it("is rejected by the gate when the champion already knows the truth", () => {
    const rows = generateRows({ seed: 9, n: 4_000 }).map((r, i) => ({
      features: { ...r.features },
      label: r.label === 1,
      predictedAtMs: i * MIN,
      version: "1",
      score: r.trueProbability,
    }));
    const out = retrainCandidate({
      champion: champion.manifest,
      championVersion: "1",
      algorithm: "logistic-regression",
      rows,
      trainingSet: { minRows: 1_000, minPerClass: 20 },
      // The truth cannot be beaten on log loss by a finite-sample fit (expected value).
      gate: { minAucGain: 0, minLogLossGain: 0.001 },
      seed: 1,
      trainedAt: "2026-12-01T00:00:00.000Z",
      graphName: "g",
      provenance: {},
    });
    expect(out.kind).toBe("rejected");
    if (out.kind === "rejected") expect(out.reason).toMatch(/log loss/);
    expect(GROUND_TRUTH.intercept).toBeLessThan(0);
  });
});

describe("prepareTrainingSet", () => {
  const row = (i: number, label: boolean): SettledRow => ({
    features: { ...generateRows({ seed: 1, n: 1 })[0]!.features },
    label,
    predictedAtMs: i,
    version: "1",
    score: 0.5,
  });

  it("holds out the newest rows, whatever order they came in", () => {
    const rows = Array.from({ length: 100 }, (_, i) => row(99 - i, i % 3 === 0));
    const set = prepareTrainingSet(CONVERSION_FEATURES, rows, { minRows: 10, minPerClass: 1 });
    expect(set.kind).toBe("ready");
    if (set.kind !== "ready") return;
    expect(set.holdout.rows.map((r) => r.predictedAtMs)).toEqual(
      Array.from({ length: 20 }, (_, i) => 80 + i),
    );
    expect(Math.max(...set.train.rows.map((r) => r.predictedAtMs))).toBeLessThan(set.holdoutFromMs);
    expect(set.counts.positives + set.counts.negatives).toBe(100);
  });

  it("answers insufficient with the counts when labels are too few", () => {
    const rows = Array.from({ length: 50 }, (_, i) => row(i, i === 0));
    const set = prepareTrainingSet(CONVERSION_FEATURES, rows, { minRows: 100, minPerClass: 5 });
    expect(set.kind).toBe("insufficient");
    expect(set.counts).toMatchObject({ rows: 50, positives: 1, negatives: 49 });
    if (set.kind === "insufficient")
      expect(set.reason).toMatch(/50 usable settled rows, at least 100/);
  });

  it("drops and counts rows the manifest cannot encode", () => {
    const rows = [row(1, true), { ...row(2, false), features: { cart_value: "many" } }];
    const set = prepareTrainingSet(CONVERSION_FEATURES, rows, { minRows: 1, minPerClass: 1 });
    expect(set.counts.unencodable).toBe(1);
  });

  it("trains on rows since drift began, or borrows the newest when too few are", () => {
    const rows = Array.from({ length: 10 }, (_, i) => row(i * 10, false));
    expect(selectTrainingWindow(rows, 50, 3).rows).toHaveLength(5);
    const borrowed = selectTrainingWindow(rows, 80, 5);
    expect(borrowed.window).toBe("newest");
    expect(borrowed.rows.map((r) => r.predictedAtMs)).toEqual([90, 80, 70, 60, 50]);
    expect(rocAuc([0.1, 0.9], [0, 1])).toBe(1);
  });
});
