import { describe, expect, it } from "vitest";
import type { ManifestFeature } from "../model-manifest.ts";
import { matrixFromRows } from "./design-matrix.ts";
import {
  fitLogisticRegression,
  predictLinear,
  solveSymmetricPositiveDefinite,
  trainLogisticModel,
} from "./logistic-regression.ts";

// 40 rows; golden maximum-likelihood fits from scipy.optimize.minimize (BFGS, analytic gradient,
// |gradient| < 1.5e-9 at the optimum) and standard errors √diag(H⁻¹) from numpy.linalg.inv.
const X1 = [
  -1.2, -1.99, -0.37, 0.63, 1.7, 0.16, -0.83, -1.18, 1.12, 2.45, 0.41, -1.85, -1.44, 2.4, 0.3, -2.6,
  -0.13, -1.74, -0.94, -0.73, -1.07, 0.83, -0.09, -0.88, 0.61, 1.24, -2.46, -0.39, -1.47, -0.26,
  -1.93, 0.03, -0.06, -0.46, -1.57, -0.59, -1.64, -2.03, 0.34, -1.66,
];
const X2 = [
  4.5, 8.0, 2.4, 3.2, 8.0, 5.1, 5.1, 2.4, 0.1, 9.3, 0.9, 8.4, 3.7, 9.5, 4.0, 9.4, 5.6, 2.4, 7.4,
  6.7, 6.8, 4.6, 2.2, 6.4, 1.1, 6.9, 6.4, 3.8, 8.0, 1.9, 3.9, 8.0, 3.8, 7.1, 6.1, 9.4, 9.9, 7.2,
  8.1, 1.5,
];
const Y = [
  0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 1,
  1, 0, 0, 0, 0, 1, 0,
];
const GOLDEN = [
  {
    l2: 0,
    beta: [-0.6358330341689473, 1.0982451746085813, 0.15721314534811118],
    se: [0.8182725463357559, 0.4159432917767331, 0.15056874210905252],
  },
  {
    l2: 1,
    beta: [-0.5901849868756851, 0.9464389678948536, 0.13471293997173872],
    se: [0.7906358958988547, 0.35407057052567686, 0.14064813534255471],
  },
];

describe("fitLogisticRegression", () => {
  const x = matrixFromRows(X1.map((v, i) => [v, X2[i]!]));

  it.each(GOLDEN)("matches scipy's optimum with l2 = $l2", ({ l2, beta, se }) => {
    const fit = fitLogisticRegression(x, Y, { l2 });
    expect(fit.converged).toBe(true);
    const got = [fit.intercept, ...fit.weights];
    got.forEach((b, j) => {
      expect(Math.abs(b - beta[j]!)).toBeLessThan(1e-7);
    });
    Array.from(fit.standardErrors).forEach((s, j) => {
      expect(Math.abs(s - se[j]!)).toBeLessThan(1e-6);
    });
  });
});

describe("solveSymmetricPositiveDefinite", () => {
  it("solves a known system and refuses an indefinite one", () => {
    // [[4, 2], [2, 3]] · [1, 2] = [8, 8]
    const x = solveSymmetricPositiveDefinite(Float64Array.from([4, 2, 2, 3]), [8, 8], 2);
    expect(x[0]).toBeCloseTo(1, 14);
    expect(x[1]).toBeCloseTo(2, 14);
    expect(() =>
      solveSymmetricPositiveDefinite(Float64Array.from([1, 2, 2, 1]), [1, 1], 2),
    ).toThrow(/positive definite/);
  });
});

describe("trainLogisticModel", () => {
  const features: ManifestFeature[] = [
    { name: "x", type: "number" },
    { name: "colour", type: "categorical", categories: ["red", "green"] },
  ];

  it("folds standardisation so that raw inputs give the standardised fit's probabilities", () => {
    // y depends on x and on the colour; the fit on raw, expanded columns with the same penalty
    // in standardised space must give the same probabilities as predictLinear on raw rows.
    const rows: number[][] = [];
    const y: number[] = [];
    for (let i = 0; i < 400; i++) {
      const xv = 100 + (i % 37) * 3.5;
      const colour = i % 3 === 0 ? 1 : 0;
      rows.push([xv, colour]);
      y.push((i * 7919) % 100 < 20 + (xv - 100) * 0.4 + colour * 25 ? 1 : 0);
    }
    const model = trainLogisticModel(features, matrixFromRows(rows), y, { l2: 0.5 });
    const mean = 100 + (18 * 3.5 * 400) / 400;
    expect(model.weights).toHaveLength(3);
    // Reference: the same penalised fit done by hand on standardised one-hot columns.
    const xs = rows.map((r) => r[0]!);
    const mu = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mu) ** 2, 0) / xs.length);
    const fit = fitLogisticRegression(
      matrixFromRows(rows.map((r) => [(r[0]! - mu) / sd, r[1] === 0 ? 1 : 0, r[1] === 1 ? 1 : 0])),
      y,
      { l2: 0.5 },
    );
    for (const r of [rows[0]!, rows[5]!, [mean, 1], [250, 0]]) {
      const z =
        fit.intercept +
        fit.weights[0]! * ((r[0]! - mu) / sd) +
        fit.weights[1]! * (r[1] === 0 ? 1 : 0) +
        fit.weights[2]! * (r[1] === 1 ? 1 : 0);
      expect(predictLinear(model, r)).toBeCloseTo(1 / (1 + Math.exp(-z)), 12);
    }
    // The unknown category (−1) contributes no one-hot weight at all.
    expect(predictLinear(model, [120, -1])).toBeCloseTo(
      1 / (1 + Math.exp(-(model.intercept + model.weights[0]! * 120))),
      12,
    );
  });
});
