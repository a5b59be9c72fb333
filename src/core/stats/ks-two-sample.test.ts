import { describe, expect, it } from "vitest";
import golden from "../../../test/fixtures/stats/ks-2samp.json" with { type: "json" };
import { ValidationError } from "../errors.ts";
import { seededRandom } from "./ks-sample.ts";
import {
  type KsMethod,
  ksResultFromStatistic,
  ksStatisticSorted,
  ksTwoSample,
  resolveKsMethod,
  statisticFromExtremes,
} from "./ks-two-sample.ts";
import { buildReferenceIndex, scanAgainstReference } from "./reference-index.ts";

// Golden values: scipy.stats.ks_2samp (scripts/golden/stats_golden.py). Stated tolerances:
// 1e-6 absolute on D, 1e-3 relative on p (plus 1e-300 absolute for p that underflow).
const D_ABS = 1e-6;
const P_REL = 1e-3;
const P_ABS = 1e-300;

const cases = golden.cases.map((c) => ({ ...c, method: c.method as KsMethod }));

function expectP(actual: number, expected: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(P_REL * Math.abs(expected) + P_ABS);
}

describe("ksTwoSample against scipy.stats.ks_2samp", () => {
  it("covers exact, asymp and auto cases of many sizes", () => {
    const methods = new Set(cases.map((c) => c.method));
    expect(methods).toEqual(new Set(["exact", "asymp", "auto"]));
    const exactSmall = cases.filter(
      (c) => c.method === "exact" && c.a.length <= 30 && c.b.length <= 30,
    );
    expect(exactSmall.length).toBeGreaterThanOrEqual(465);
  });

  it.each(cases.map((c) => [c.id, c] as const))("%s", (_id, c) => {
    const r = ksTwoSample(c.a, c.b, { method: c.method });
    expect(Math.abs(r.statistic - c.statistic)).toBeLessThanOrEqual(D_ABS);
    expectP(r.pValue, c.pvalue);
    expect(r.n1).toBe(c.a.length);
    expect(r.n2).toBe(c.b.length);
  });
});

describe("KS against a prepared reference agrees with scipy", () => {
  // The fused scan (reference-index.ts) must give scipy's D and p too: `a` is the reference.
  it.each(cases.map((c) => [c.id, c] as const))("%s", (_id, c) => {
    const index = buildReferenceIndex([], c.a);
    const scan = scanAgainstReference(index, c.b);
    const { statistic, sign } = statisticFromExtremes(scan.ks!);
    const r = ksResultFromStatistic(statistic, sign, c.a.length, c.b.length, { method: c.method });
    expect(Math.abs(r.statistic - c.statistic)).toBeLessThanOrEqual(D_ABS);
    expectP(r.pValue, c.pvalue);
  });
});

describe("ksTwoSample behaviour", () => {
  it("is symmetric in D and flips the sign when the samples swap", () => {
    const rnd = seededRandom(5);
    const a = Array.from({ length: 40 }, () => rnd());
    const b = Array.from({ length: 55 }, () => rnd() + 0.3);
    const ab = ksTwoSample(a, b);
    const ba = ksTwoSample(b, a);
    expect(ab.statistic).toBe(ba.statistic);
    expect(ab.pValue).toBeCloseTo(ba.pValue, 12);
    expect(ab.sign).toBe(1); // b is shifted up, so a's ECDF lies above
    expect(ba.sign).toBe(-1);
  });

  it("chooses methods like scipy: auto is exact up to max(n1, n2) = 10000", () => {
    expect(resolveKsMethod(10_000, 3, "auto")).toBe("exact");
    expect(resolveKsMethod(10_001, 3, "auto")).toBe("asymp");
    expect(resolveKsMethod(500, 600, "auto", 100)).toBe("asymp");
    expect(resolveKsMethod(50_000, 49_999, "exact")).toBe("asymp"); // lcm beyond int32
    expect(resolveKsMethod(5, 5, "asymp")).toBe("asymp");
    const r = ksTwoSample([1, 2, 3], [4, 5, 6], { method: "auto" });
    expect(r.method).toBe("exact");
    expect(r.requestedMethod).toBe("auto");
  });

  it("falls back to asymp when the exact computation is out of range, as scipy does", () => {
    // scipy: _compute_prob_outside_square(30, 1) rounds above 1, so it switches to asymp
    const r = ksResultFromStatistic(1 / 30, 1, 30, 30, { method: "exact" });
    expect(r.method).toBe("asymp");
    expect(r.pValue).toBe(1);
  });

  it("uses the exact distribution for n1 = n2 = 1 where scipy's asymp would be NaN", () => {
    const r = ksTwoSample([1], [2], { method: "asymp" });
    expect(r.statistic).toBe(1);
    expect(r.method).toBe("exact");
    expect(r.pValue).toBe(1);
  });

  it("handles ties within and across samples like searchsorted(side='right')", () => {
    // F1 - F2 at 1: 2/3 - 0; at 2: 2/3 - 2/3 ... D = 2/3 at value 1
    expect(ksStatisticSorted([1, 1, 2], [2, 2, 3]).statistic).toBeCloseTo(2 / 3, 15);
    expect(ksStatisticSorted([5, 5, 5], [5, 5]).statistic).toBe(0);
    expect(ksStatisticSorted([-0], [0]).statistic).toBe(0);
  });

  it.each([
    ["an empty sample", [], [1, 2], /a is empty/],
    ["NaN", [1, Number.NaN], [1, 2], /a\[1\] is NaN/],
    ["Infinity", [1, 2], [Number.POSITIVE_INFINITY], /b\[0\] is Infinity/],
  ] as const)("rejects %s with a ValidationError", (_label, a, b, message) => {
    expect(() => ksTwoSample(a, b)).toThrow(ValidationError);
    expect(() => ksTwoSample(a, b)).toThrow(message);
  });

  it("rejects an unknown method", () => {
    expect(() => ksTwoSample([1], [2], { method: "fast" as KsMethod })).toThrow(
      /options.method is fast/,
    );
  });
});
