import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import {
  brierScore,
  calibrationTable,
  expectedCalibrationError,
  logLoss,
  rocAuc,
} from "./performance-metrics.ts";

// Golden values from scikit-learn 1.2 (scripts/golden/monitoring_golden.py).
interface GoldenCase {
  id: string;
  scores: number[];
  labels: number[];
  bins: number;
  auc: number | null;
  logLoss: number;
  brier: number;
  calibration: { bin: number; count: number; observedRate: number; meanPredicted: number }[];
}
const golden = JSON.parse(
  readFileSync(
    resolve(import.meta.dirname, "../../../test/fixtures/monitoring/performance.json"),
    "utf8",
  ),
) as { meta: Record<string, string>; cases: GoldenCase[] };

describe("performance metrics against scikit-learn", () => {
  it("has the cases", () => {
    expect(golden.cases.length).toBeGreaterThanOrEqual(9);
  });

  for (const c of golden.cases) {
    describe(c.id, () => {
      it("ROC AUC (tie-aware) to 1e-12", () => {
        const auc = rocAuc(c.scores, c.labels);
        if (c.auc === null) expect(auc).toBeNull();
        else expect(auc).toBeCloseTo(c.auc, 12);
      });
      it("log loss (clipped at 1e-15) to 1e-12 relative", () => {
        const v = logLoss(c.scores, c.labels);
        expect(Math.abs(v - c.logLoss) / c.logLoss).toBeLessThan(1e-12);
      });
      it("Brier score to 1e-12", () => {
        expect(brierScore(c.scores, c.labels)).toBeCloseTo(c.brier, 12);
      });
      it("calibration table: same non-empty bins, counts, rates and mean scores", () => {
        const table = calibrationTable(c.scores, c.labels, c.bins);
        expect(table.map((b) => Math.round(b.lower * c.bins))).toEqual(
          c.calibration.map((b) => b.bin),
        );
        for (const [i, row] of table.entries()) {
          const g = c.calibration[i]!;
          expect(row.count).toBe(g.count);
          expect(row.observedRate).toBeCloseTo(g.observedRate, 12);
          expect(row.meanPredicted).toBeCloseTo(g.meanPredicted, 12);
          expect(row.upper - row.lower).toBeCloseTo(1 / c.bins, 12);
        }
      });
    });
  }
});

describe("rocAuc", () => {
  it("counts a tied positive/negative pair as one half", () => {
    // pairs: (0.2−,0.4+) right, (0.4−,0.4+) tie, so AUC = (1 + 0.5) / 2
    expect(rocAuc([0.2, 0.4, 0.4], [0, 0, 1])).toBe(0.75);
  });
  it("does not depend on the order of the rows", () => {
    const s = [0.1, 0.9, 0.5, 0.5, 0.3, 0.7];
    const y = [0, 1, 1, 0, 0, 1];
    const perm = [5, 2, 0, 4, 1, 3];
    expect(
      rocAuc(
        perm.map((i) => s[i]!),
        perm.map((i) => y[i]!),
      ),
    ).toBe(rocAuc(s, y));
  });
  it("is null for a single class", () => {
    expect(rocAuc([0.1, 0.2], [1, 1])).toBeNull();
    expect(rocAuc([], [])).toBeNull();
  });
});

describe("input checks", () => {
  it("names the bad field", () => {
    expect(() => rocAuc([0.1, 0.2], [1])).toThrow(/one label per score/);
    expect(() => logLoss([0.1, 1.2], [1, 0])).toThrow(ValidationError);
    expect(() => brierScore([0.1, Number.NaN], [1, 0])).toThrow(/scores\[1\]/);
    expect(() => brierScore([0.1], [2])).toThrow(/labels\[0\]/);
    expect(() => calibrationTable([0.1], [1], 0)).toThrow(/bins/);
    expect(() => logLoss([], [])).toThrow(/at least one/);
    expect(() => logLoss([0.5], [1], 0)).toThrow(/epsilon/);
  });
});

describe("expectedCalibrationError", () => {
  it("weights each bin's gap by its share", () => {
    const table = calibrationTable([0.05, 0.05, 0.95, 0.95], [0, 1, 1, 1], 10);
    // bin 0: mean 0.05, rate 0.5 → 0.45; bin 9: mean 0.95, rate 1 → 0.05; weights 1/2 each
    expect(expectedCalibrationError(table)).toBeCloseTo(0.25, 12);
    expect(expectedCalibrationError([])).toBe(0);
  });
});
