import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import { seededRandom } from "./ks-sample.ts";
import { ksStatisticSorted, sortedCopy, statisticFromExtremes } from "./ks-two-sample.ts";
import { countNumeric, fitNumericBins } from "./reference-bins.ts";
import { buildReferenceIndex, scanAgainstReference } from "./reference-index.ts";

// The fused scan must equal the plain definitions: countNumeric for bins, the merge walk of
// ksStatisticSorted (already checked against scipy) for D, on data built to be awkward: ties,
// values on bin edges, outliers that stretch the lookup grid, values outside the reference.

type Gen = (rnd: () => number) => number;
const shapes: Record<string, Gen> = {
  continuous: (r) => r() * 4 - 2 + r(),
  ties: (r) => Math.floor(r() * 6),
  outliers: (r) => (r() < 0.01 ? (r() < 0.5 ? -1e9 : 1e12) : r()),
  halfTies: (r) => {
    const coin = r();
    return coin < 0.5 ? 0.5 : r();
  },
  negativeZero: (r) => (r() < 0.3 ? -0 : r() < 0.5 ? 0 : r() - 0.5),
};

describe("scanAgainstReference equals the definitions", () => {
  const rows: [string, number, number, number][] = [];
  for (const name of Object.keys(shapes)) {
    for (const [n1, n2, seed] of [
      [1, 1, 1],
      [3, 50, 2],
      [200, 7, 3],
      [1000, 1000, 4],
      [5000, 300, 5],
    ] as const) {
      rows.push([name, n1, n2, seed]);
    }
  }
  it.each(rows)("%s n1=%d n2=%d seed=%d", (name, n1, n2, seed) => {
    const gen = shapes[name]!;
    const rnd = seededRandom(seed);
    const reference = Array.from({ length: n1 }, () => gen(rnd));
    // the window mixes fresh values, reference values and exact edge values
    const bins = fitNumericBins(reference, { bins: 7 });
    const window = Array.from({ length: n2 }, (_, i) => {
      const k = i % 3;
      if (k === 0) return gen(rnd) * 1.1;
      if (k === 1) return reference[Math.floor(rnd() * n1)]!;
      return bins.edges[Math.floor(rnd() * bins.edges.length)] ?? gen(rnd);
    });
    const index = buildReferenceIndex(bins.edges, reference);
    const scan = scanAgainstReference(index, window);
    expect(scan.binCounts).toEqual(countNumeric(bins, window));
    expect(scan.sampleSize).toBe(n2);
    const want = ksStatisticSorted(sortedCopy(reference), sortedCopy(window));
    expect(statisticFromExtremes(scan.ks!)).toEqual(want);
  });

  it("agrees on 400 random configurations in both layouts (direct, blocked with refinement)", () => {
    const rnd = seededRandom(2024);
    const names = Object.keys(shapes);
    for (let t = 0; t < 400; t++) {
      const gen = shapes[names[t % names.length]!]!;
      // odd iterations use > 4096 distinct points: the blocked layout with refinement
      const n1 = t % 2 ? 4100 + Math.floor(rnd() * 2000) : 1 + Math.floor(rnd() * 300);
      const n2 = 1 + Math.floor(rnd() * (t % 2 ? 3000 : 300));
      const shift = (rnd() - 0.5) * 0.4;
      const reference = Array.from({ length: n1 }, () => gen(rnd));
      const bins = fitNumericBins(reference, { bins: 2 + Math.floor(rnd() * 12) });
      const window = Array.from({ length: n2 }, () =>
        rnd() < 0.3 ? reference[Math.floor(rnd() * n1)]! : gen(rnd) + shift,
      );
      const scan = scanAgainstReference(buildReferenceIndex(bins.edges, reference), window);
      expect(scan.binCounts).toEqual(countNumeric(bins, window));
      expect(statisticFromExtremes(scan.ks!)).toEqual(
        ksStatisticSorted(sortedCopy(reference), sortedCopy(window)),
      );
    }
  });

  it("counts null and undefined as missing and rejects NaN", () => {
    const index = buildReferenceIndex([0], [1, 2, 3]);
    const scan = scanAgainstReference(index, [1, null, undefined, -1]);
    expect(scan.missing).toBe(2);
    expect(scan.sampleSize).toBe(2);
    expect(scan.binCounts).toEqual([1, 1]);
    expect(() => scanAgainstReference(index, [1, Number.NaN])).toThrow(ValidationError);
    expect(() => scanAgainstReference(index, [1, Number.NaN])).toThrow(/values\[1\] is NaN/);
  });

  it("works without a reference sample (bins only, no KS)", () => {
    const index = buildReferenceIndex([0, 1], []);
    const scan = scanAgainstReference(index, [-5, 0, 0.5, 1, 7]);
    expect(scan.binCounts).toEqual([2, 2, 1]);
    expect(scan.ks).toBeUndefined();
  });
});
