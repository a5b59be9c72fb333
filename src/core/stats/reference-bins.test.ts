import { describe, expect, it } from "vitest";
import golden from "../../../test/fixtures/stats/binning.json" with { type: "json" };
import { ValidationError } from "../errors.ts";
import { computePsi } from "./psi.ts";
import {
  assertBins,
  binLabels,
  binsFingerprint,
  countCategorical,
  countNumeric,
  fitCategoricalBins,
  fitNumericBins,
  numericBinIndex,
} from "./reference-bins.ts";

// Golden edges: numpy.unique(numpy.quantile(train, j/B, method="linear")); golden counts:
// numpy.searchsorted(edges, x, side="left") (right-closed bins). Edges may differ from numpy's
// in the last bits (numpy interpolates as b − (b−a)(1−t) for t ≥ 0.5), hence 1e-12 relative.
const EDGE_REL = 1e-12;

describe("fitNumericBins and countNumeric against numpy", () => {
  it.each(golden.cases.map((c) => [c.id, c] as const))("%s", (_id, c) => {
    const bins = fitNumericBins(c.train, { bins: c.bins });
    expect(bins.edges.length).toBe(c.edges.length);
    for (const [i, e] of bins.edges.entries()) {
      const want = c.edges[i] as number;
      expect(Math.abs(e - want)).toBeLessThanOrEqual(EDGE_REL * Math.max(1, Math.abs(want)));
    }
    // counts on numpy's own edges: checks the right-closed convention value by value
    const numpyBins = { kind: "numeric" as const, edges: c.edges };
    expect(countNumeric(numpyBins, c.train)).toEqual(c.referenceCounts);
    expect(countNumeric(numpyBins, c.current)).toEqual(c.currentCounts);
    // and on our edges, end to end to the PSI numpy computed from the formula
    const psi = computePsi({
      referenceCounts: countNumeric(bins, c.train),
      currentCounts: countNumeric(bins, c.current),
    });
    expect(psi.value).toBeCloseTo(c.psi, 9);
  });
});

describe("bin edge convention: (-inf, e1], (e1, e2], ..., (ek, +inf)", () => {
  const edges = [0, 1, 2.5];
  it.each([
    [-1e300, 0],
    [-0.5, 0],
    [0, 0], // on an edge: the bin below
    [1e-12, 1],
    [1, 1],
    [1.0000001, 2],
    [2.5, 2],
    [2.6, 3],
    [1e300, 3],
  ])("value %d goes to bin %d", (value, bin) => {
    expect(numericBinIndex(edges, value)).toBe(bin);
  });

  it("uses binary search beyond 16 edges with the same convention", () => {
    const many = Array.from({ length: 40 }, (_, i) => i);
    for (const [v, b] of [
      [-1, 0],
      [0, 0],
      [0.5, 1],
      [17, 17],
      [17.2, 18],
      [39, 39],
      [39.5, 40],
    ]) {
      expect(numericBinIndex(many, v as number)).toBe(b);
    }
  });

  it("dedupes equal quantiles for discrete data", () => {
    // quantiles 0.1 … 0.6 are all 0 and 0.8, 0.9 are 1: deduped to one edge each; the 0.7
    // quantile interpolates between the 69th and 70th order statistic (0.3), leaving a bin
    // (0, 0.3] that is empty for 0/1 data on both sides and so adds nothing to PSI
    const binary = [...new Array(70).fill(0), ...new Array(30).fill(1)];
    const edges = fitNumericBins(binary).edges;
    expect(edges).toHaveLength(3);
    expect(edges[0]).toBe(0);
    expect(edges[1]).toBeCloseTo(0.3, 12);
    expect(edges[2]).toBe(1);
    expect(countNumeric({ kind: "numeric", edges }, binary)).toEqual([70, 0, 30, 0]);
    const fiveSix = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]; // order statistics 2, 4, 6, 8 → 0, 0, 1, 1
    expect(fitNumericBins(fiveSix, { bins: 5 }).edges).toEqual([0, 1]);
    expect(fitNumericBins([7, 7, 7]).edges).toEqual([7]);
    expect(fitNumericBins([1, 2, 3, 4], { bins: 2 }).edges).toEqual([2.5]);
  });

  it("labels bins with their intervals", () => {
    expect(binLabels({ kind: "numeric", edges: [0, 1] })).toEqual([
      "(-inf, 0]",
      "(0, 1]",
      "(1, +inf)",
    ]);
    expect(binLabels({ kind: "categorical", categories: ["a"] })).toEqual(["a", "(other)"]);
  });
});

describe("categorical bins", () => {
  it("keeps the most frequent categories (ties by name) and counts the rest as other", () => {
    const training = ["web", "app", "web", "email", "app", "web", "sms"];
    const bins = fitCategoricalBins(training, { maxCategories: 3 });
    expect(bins.categories).toEqual(["web", "app", "email"]);
    expect(countCategorical(bins, ["web", "sms", "push", "app"])).toEqual([1, 1, 0, 2]);
  });
});

describe("validation", () => {
  it.each([
    ["empty training", () => fitNumericBins([]), /training is empty/],
    ["NaN in training", () => fitNumericBins([1, Number.NaN]), /training\[1\] is NaN/],
    ["one bin", () => fitNumericBins([1, 2], { bins: 1 }), /bins is 1/],
    ["fractional bins", () => fitNumericBins([1, 2], { bins: 2.5 }), /bins is 2.5/],
    ["non-string category", () => fitCategoricalBins([1 as unknown as string]), /must be strings/],
    [
      "decreasing edges",
      () => assertBins({ kind: "numeric", edges: [1, 1] }),
      /not above the previous edge/,
    ],
    [
      "duplicate categories",
      () => assertBins({ kind: "categorical", categories: ["a", "a"] }),
      /distinct/,
    ],
    [
      "NaN value to count",
      () => countNumeric({ kind: "numeric", edges: [0] }, [Number.NaN]),
      /NaN/,
    ],
  ] as const)("%s is a ValidationError", (_label, fn, message) => {
    expect(fn).toThrow(ValidationError);
    expect(fn).toThrow(message);
  });
});

describe("binsFingerprint", () => {
  it("differs between bins and is stable", () => {
    const a = binsFingerprint({ kind: "numeric", edges: [0, 1] });
    expect(a).toBe(binsFingerprint({ kind: "numeric", edges: [0, 1] }));
    expect(a).not.toBe(binsFingerprint({ kind: "numeric", edges: [0, 1.5] }));
    expect(a).not.toBe(binsFingerprint({ kind: "categorical", categories: ["0", "1"] }));
    expect(a).toMatch(/^[0-9a-f]{16}$/);
  });
});
