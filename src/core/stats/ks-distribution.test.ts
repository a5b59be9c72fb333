import { describe, expect, it } from "vitest";
import golden from "../../../test/fixtures/stats/ks-distribution.json" with { type: "json" };
import { exactKsTwoSamplePValue, roundHalfEven } from "./ks-distribution.ts";
import { kolmogorovSf, kstwoSf, smirnovSf } from "./ks-one-sample-distribution.ts";

// Golden values from scipy (scripts/golden/stats_golden.py). p-values must agree to 1e-3
// relative; ABS_FLOOR only absorbs values that are zero up to double rounding.
const REL = 1e-3;
const ABS_FLOOR = 1e-300;

function expectClose(actual: number, expected: number, label: string): void {
  const tol = REL * Math.abs(expected) + ABS_FLOOR;
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new Error(`${label}: got ${actual}, scipy ${expected} (tolerance ${tol})`);
  }
}

describe("kstwoSf against scipy.stats.kstwo.sf", () => {
  it.each(golden.kstwoSf.map((c) => [c.n, c.d, c.sf] as const))("n=%d d=%f", (n, d, sf) => {
    expectClose(kstwoSf(n, d), sf, `kstwo.sf(${d}, ${n})`);
  });
});

describe("smirnovSf against scipy.special.smirnov", () => {
  it.each(golden.smirnovSf.map((c) => [c.n, c.d, c.sf] as const))("n=%d d=%f", (n, d, sf) => {
    expectClose(smirnovSf(n, d), sf, `smirnov(${n}, ${d})`);
  });
});

describe("kolmogorovSf against scipy.special.kolmogorov", () => {
  it.each(golden.kolmogorovSf.map((c) => [c.x, c.sf] as const))("x=%f", (x, sf) => {
    expectClose(kolmogorovSf(x), sf, `kolmogorov(${x})`);
  });
});

describe("exact two-sample p-value against scipy's exact routine", () => {
  it.each(golden.exact.map((c) => [c.n1, c.n2, c.d, c.ok, c.p] as const))(
    "n1=%d n2=%d d=%f",
    (n1, n2, d, ok, p) => {
      const out = exactKsTwoSamplePValue(n1, n2, d);
      expect(out.ok).toBe(ok);
      expect(Math.abs(out.statistic - d)).toBeLessThanOrEqual(1e-12);
      if (ok && p !== null) expectClose(out.pValue, p, `exact(${n1}, ${n2}, ${d})`);
    },
  );
});

describe("roundHalfEven", () => {
  it.each([
    [0.5, 0],
    [1.5, 2],
    [2.5, 2],
    [7.5, 8],
    [6.5, 6],
    [2.4, 2],
    [2.6, 3],
  ])("%f -> %d", (x, r) => {
    expect(roundHalfEven(x)).toBe(r);
  });
});

describe("smirnovSf's peak-restricted sum equals the full Smirnov–Birnbaum–Tingey sum", () => {
  // The definition, summed over every term (slow; the code skips negligible terms).
  function fullSum(n: number, x: number): number {
    const nx = n * x;
    const nxfl = Math.floor(nx);
    const alpha = nx - nxfl;
    let lastV = n - nxfl - (alpha === 0 ? 0 : 1);
    if (alpha === 0) lastV -= 1;
    let logBinom = 0;
    let sum = 0;
    for (let v = 0; v <= lastV; v++) {
      sum += Math.exp(
        logBinom + (v - 1) * Math.log(x + v / n) + (n - v) * Math.log((n - v) / n - x),
      );
      logBinom += Math.log((n - v) / (v + 1));
    }
    return x * sum;
  }
  const rows: [number, number][] = [];
  for (const n of [300, 1000, 5000, 20_000, 100_000]) {
    for (const z of [0.3, 1, 1.5, 2.5, 4, 8, 15, 25]) {
      const x = z / Math.sqrt(n);
      if (x < 1) rows.push([n, x]);
    }
    rows.push([n, 0.6]);
  }
  it.each(rows)("n=%d x=%f", (n, x) => {
    const want = fullSum(n, x);
    expect(Math.abs(smirnovSf(n, x) - want)).toBeLessThanOrEqual(1e-9 * want + 1e-300);
  });
});
