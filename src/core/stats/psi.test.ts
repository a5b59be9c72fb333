import { describe, expect, it } from "vitest";
import golden from "../../../test/fixtures/stats/psi.json" with { type: "json" };
import { ValidationError } from "../errors.ts";
import { computePsi, psiBand } from "./psi.ts";

// Golden values: the PSI formula written out in numpy (scripts/golden/stats_golden.py).
const REL = 1e-12;

function close(actual: number, expected: number): boolean {
  return Math.abs(actual - expected) <= REL * Math.max(Math.abs(expected), 1e-300);
}

describe("computePsi against numpy", () => {
  it.each(golden.cases.map((c) => [c.id, c] as const))("%s", (_id, c) => {
    const r = computePsi(
      { referenceCounts: c.referenceCounts, currentCounts: c.currentCounts },
      { epsilon: c.epsilon },
    );
    expect(close(r.value, c.psi), `${r.value} vs ${c.psi}`).toBe(true);
    for (const [i, p] of r.referenceProportions.entries()) {
      expect(close(p, c.referenceProportions[i]!)).toBe(true);
    }
    for (const [i, q] of r.currentProportions.entries()) {
      expect(close(q, c.currentProportions[i]!)).toBe(true);
    }
    for (const [i, t] of r.terms.entries()) {
      expect(Math.abs(t - c.terms[i]!)).toBeLessThanOrEqual(1e-15 + REL * t);
    }
    expect(r.epsilon).toBe(c.epsilon);
  });
});

describe("PSI results", () => {
  it("can be reproduced from what they store", () => {
    const bins = { kind: "numeric" as const, edges: [0, 1] };
    const r = computePsi({ referenceCounts: [50, 30, 20], currentCounts: [10, 30, 60], bins });
    const again = computePsi(
      { referenceCounts: r.referenceCounts, currentCounts: r.currentCounts, bins: r.bins },
      { epsilon: r.epsilon },
    );
    expect(again.value).toBe(r.value);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    expect(r.bins).toEqual(bins);
  });

  it("is the same for reference counts and reference proportions", () => {
    const a = computePsi({ referenceCounts: [50, 30, 20], currentCounts: [1, 2, 3] });
    const b = computePsi({ referenceCounts: [0.5, 0.3, 0.2], currentCounts: [1, 2, 3] });
    expect(b.value).toBeCloseTo(a.value, 14);
  });

  it("bands: < 0.1 stable, 0.1 to 0.25 moderate, >= 0.25 significant", () => {
    expect(psiBand(0)).toBe("stable");
    expect(psiBand(0.0999)).toBe("stable");
    expect(psiBand(0.1)).toBe("moderate");
    expect(psiBand(0.2499)).toBe("moderate");
    expect(psiBand(0.25)).toBe("significant");
    expect(computePsi({ referenceCounts: [1, 0], currentCounts: [0, 1] }).band).toBe("significant");
  });

  it("is infinite with epsilon 0 and a bin empty on one side only", () => {
    const r = computePsi({ referenceCounts: [1, 0], currentCounts: [1, 1] }, { epsilon: 0 });
    expect(r.value).toBe(Number.POSITIVE_INFINITY);
    const same = computePsi({ referenceCounts: [1, 0], currentCounts: [2, 0] }, { epsilon: 0 });
    expect(same.value).toBe(0);
  });

  it.each([
    ["mismatched lengths", { referenceCounts: [1, 2], currentCounts: [1, 2, 3] }, /has 3 bins/],
    ["negative count", { referenceCounts: [1, -2], currentCounts: [1, 2] }, /referenceCounts\[1\]/],
    ["empty window", { referenceCounts: [1, 2], currentCounts: [0, 0] }, /all zero/],
    ["empty counts", { referenceCounts: [], currentCounts: [] }, /empty/],
    [
      "bins that do not fit",
      { referenceCounts: [1, 2], currentCounts: [1, 2], bins: { kind: "numeric", edges: [1, 2] } },
      /bins define 3 bins/,
    ],
  ] as const)("rejects %s", (_label, input, message) => {
    expect(() => computePsi(input as never)).toThrow(ValidationError);
    expect(() => computePsi(input as never)).toThrow(message);
  });

  it("rejects an epsilon out of range", () => {
    expect(() => computePsi({ referenceCounts: [1], currentCounts: [1] }, { epsilon: -1 })).toThrow(
      /epsilon is -1/,
    );
  });
});
