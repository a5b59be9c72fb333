import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import { seededRandom } from "./ks-sample.ts";
import {
  addToHistogram,
  createBinner,
  emptyHistogram,
  histogramOf,
  histogramTotal,
  mergeAllHistograms,
  mergeHistograms,
} from "./window-histogram.ts";

const numeric = createBinner({ kind: "numeric", edges: [-1, 0, 1] });

function minuteValues(seed: number, n: number): (number | null)[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: n }, () => (rnd() < 0.05 ? null : (rnd() - 0.5) * 4));
}

describe("window histograms", () => {
  it("counts values into the frozen bins and missing values apart", () => {
    const h = histogramOf(numeric, [-2, -1, -0.5, 0, 0.5, 1, 2, null, undefined]);
    expect(h.counts).toEqual([2, 2, 2, 1]);
    expect(h.missing).toBe(2);
    expect(histogramTotal(h)).toBe(7);
  });

  it("merges minutes into an hour exactly as counting the hour at once", () => {
    const minutes = Array.from({ length: 60 }, (_, i) => minuteValues(i + 1, 50 + i));
    const hourly = histogramOf(numeric, minutes.flat());
    const merged = mergeAllHistograms(minutes.map((m) => histogramOf(numeric, m)));
    expect(merged).toEqual(hourly);
  });

  it("merge is associative and commutative", () => {
    const [a, b, c] = [1, 2, 3].map((s) => histogramOf(numeric, minuteValues(s, 80))) as [
      ReturnType<typeof histogramOf>,
      ReturnType<typeof histogramOf>,
      ReturnType<typeof histogramOf>,
    ];
    expect(mergeHistograms(mergeHistograms(a, b), c)).toEqual(
      mergeHistograms(a, mergeHistograms(b, c)),
    );
    expect(mergeHistograms(a, b)).toEqual(mergeHistograms(b, a));
    expect(mergeHistograms(a, emptyHistogram(numeric))).toEqual(a);
  });

  it("survives a JSON round trip (stored per window)", () => {
    const h = histogramOf(numeric, minuteValues(4, 30));
    const back = JSON.parse(JSON.stringify(h));
    addToHistogram(back, numeric, [0.25]);
    expect(histogramTotal(back)).toBe(histogramTotal(h) + 1);
  });

  it("bins categories with an other bucket", () => {
    const cat = createBinner({ kind: "categorical", categories: ["web", "app"] });
    expect(histogramOf(cat, ["web", "sms", "app", "web", null]).counts).toEqual([2, 1, 1]);
  });

  it.each([
    [
      "merging histograms over different bins",
      () =>
        mergeHistograms(
          emptyHistogram(numeric),
          emptyHistogram(createBinner({ kind: "numeric", edges: [0] })),
        ),
      /different bins/,
    ],
    [
      "adding with other bins",
      () =>
        addToHistogram(emptyHistogram(numeric), createBinner({ kind: "numeric", edges: [5] }), [1]),
      /counted over bins/,
    ],
    ["a NaN value", () => histogramOf(numeric, [Number.NaN]), /NaN cannot be binned/],
    ["a string on numeric bins", () => histogramOf(numeric, ["x"]), /x cannot be binned/],
    ["an empty merge", () => mergeAllHistograms([]), /no histograms/],
    [
      "malformed bins",
      () => createBinner({ kind: "numeric", edges: [2, 1] }),
      /strictly increasing/,
    ],
  ] as const)("rejects %s", (_label, fn, message) => {
    expect(fn).toThrow(ValidationError);
    expect(fn).toThrow(message);
  });
});
