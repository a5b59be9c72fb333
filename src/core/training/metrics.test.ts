import { describe, expect, it } from "vitest";
import { brierScore, classifierMetrics, logLoss, rocAuc } from "./metrics.ts";

// Golden values from scipy 1.17 / numpy: AUC = mannwhitneyu(pos, neg).statistic / (n₁·n₀) (ties
// get half credit), log loss = −mean(y ln p + (1−y) ln(1−p)), Brier = mean((p − y)²).
const SCORES = [0.1, 0.4, 0.35, 0.8, 0.4, 0.2, 0.9, 0.4, 0.05, 0.6];
const LABELS = [0, 0, 1, 1, 1, 0, 1, 0, 0, 1];

describe("classifier metrics", () => {
  it("match scipy/numpy on a table with tied scores", () => {
    expect(rocAuc(SCORES, LABELS)).toBeCloseTo(0.88, 12);
    expect(logLoss(SCORES, LABELS)).toBeCloseTo(0.42068911560024275, 12);
    expect(brierScore(SCORES, LABELS)).toBeCloseTo(0.1365, 12);
    expect(classifierMetrics(SCORES, LABELS).auc).toBeCloseTo(0.88, 12);
  });

  it("handle the edges: perfect, inverted, one class, certain mistakes", () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5], [0, 1, 0])).toBe(0.5);
    expect(rocAuc([0.1, 0.2], [1, 1])).toBeNaN();
    // Clipped to 1 − 1e-15 and 1e-15 (1 − (1 − 1e-15) is 1.11e-15 in doubles).
    const clipped = (-Math.log(1 - (1 - 1e-15)) - Math.log(1e-15)) / 2;
    expect(logLoss([1, 0], [0, 1])).toBeCloseTo(clipped, 12);
  });
});
