import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors";
import { seededRandom } from "./ks-sample";
import { ksStatisticSorted, sortedCopy } from "./ks-two-sample";
import { countNumeric, fitNumericBins } from "./reference-bins";
import {
  buildReferenceIndex,
  locateSlot,
  scanAgainstReference,
  statisticFromExtremes,
} from "./reference-index";

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

  it("finds the lower bound of every point and between points", () => {
    const rnd = seededRandom(9);
    const sample = Array.from({ length: 3000 }, () => Math.round(rnd() * 1000) / 10);
    const index = buildReferenceIndex([1.05, 50, 99.95], sample);
    const pts = index.points;
    for (let s = 0; s < pts.length; s++) {
      expect(locateSlot(index, pts[s]!)).toBe(s);
      if (s + 1 < pts.length) expect(locateSlot(index, (pts[s]! + pts[s + 1]!) / 2)).toBe(s + 1);
    }
    expect(locateSlot(index, -1e308)).toBe(0);
    expect(locateSlot(index, 1e308)).toBe(pts.length);
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
