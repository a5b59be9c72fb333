import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import { resolveDriftConfig } from "./drift-tests.ts";
import { evaluateFeatureDrift, evaluateWindowDrift } from "./feature-drift.ts";
import {
  buildCategoricalReference,
  buildNumericReference,
  prepareFeatureReference,
} from "./feature-reference.ts";
import { jensenShannonDistance } from "./jensen-shannon.ts";
import {
  addToKsSample,
  createKsSample,
  mergeAllKsSamples,
  samplePriority,
  seededRandom,
} from "./ks-sample.ts";
import { ksTwoSample } from "./ks-two-sample.ts";
import { computePsi } from "./psi.ts";
import { countNumeric } from "./reference-bins.ts";
import { histogramOf, mergeAllHistograms } from "./window-histogram.ts";

function normals(seed: number, n: number, mean = 0, sd = 1): number[] {
  const rnd = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const u = rnd() || 1e-12;
    return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  });
}

const training = normals(1, 50_000, 10, 3);
const numericRef = buildNumericReference(training, { sampleSize: 10_000, seed: 3 });
const prepared = prepareFeatureReference("session_seconds", numericRef);

describe("buildNumericReference", () => {
  it("stores quantile edges, proportions per bin, a sorted sample and the row count", () => {
    expect(numericRef.type).toBe("number");
    expect(numericRef.edges).toHaveLength(9);
    expect(numericRef.proportions).toHaveLength(10);
    for (const p of numericRef.proportions) expect(p).toBeCloseTo(0.1, 3);
    expect(numericRef.sample).toHaveLength(10_000);
    expect(numericRef.count).toBe(50_000);
    const s = numericRef.sample!;
    for (let i = 1; i < s.length; i++) expect(s[i]!).toBeGreaterThanOrEqual(s[i - 1]!);
    // the sample is a fair draw: KS does not tell it from the training data
    expect(ksTwoSample(training, s).pValue).toBeGreaterThan(0.01);
  });

  it("is reproducible for a seed", () => {
    expect(buildNumericReference(training.slice(0, 5000), { sampleSize: 100, seed: 9 })).toEqual(
      buildNumericReference(training.slice(0, 5000), { sampleSize: 100, seed: 9 }),
    );
  });
});

describe("evaluateFeatureDrift (raw window values)", () => {
  it("calls no drift for a window from the training distribution", () => {
    const r = evaluateFeatureDrift(prepared, normals(2, 5000, 10, 3));
    expect(r.drift).toBe(false);
    expect(r.psi.kind === "evaluated" && r.psi.result.band).toBe("stable");
    expect(r.ks.kind === "evaluated" && r.ks.drift).toBe(false);
  });

  it("calls drift for a shifted window, with PSI, KS and JS agreeing", () => {
    const r = evaluateFeatureDrift(prepared, normals(3, 5000, 12, 3));
    expect(r.drift).toBe(true);
    if (r.psi.kind !== "evaluated" || r.ks.kind !== "evaluated") throw new Error("not evaluated");
    expect(r.psi.result.band).toBe("significant");
    expect(r.ks.result.pValue).toBeLessThan(1e-10);
    expect(r.ks.result.statistic).toBeGreaterThan(0.2);
    expect(r.ks.result.sign).toBe(1); // the window moved up
    expect(r.jensenShannon.kind === "evaluated" && r.jensenShannon.drift).toBe(true);
  });

  it("gives exactly the stand-alone statistics", () => {
    const window = normals(4, 3000, 10.3, 3.2).map((v) => Math.round(v * 10) / 10);
    const config = resolveDriftConfig({ ks: { method: "asymp" } });
    const r = evaluateFeatureDrift(prepared, window, config);
    if (r.psi.kind !== "evaluated" || r.ks.kind !== "evaluated") throw new Error("not evaluated");
    const counts = countNumeric({ kind: "numeric", edges: numericRef.edges }, window);
    const psi = computePsi({ referenceCounts: numericRef.proportions, currentCounts: counts });
    expect(r.psi.result.value).toBe(psi.value);
    expect(r.psi.result.currentCounts).toEqual(counts);
    expect(r.psi.result.bins).toEqual({ kind: "numeric", edges: numericRef.edges });
    const ks = ksTwoSample(numericRef.sample!, window, { method: "asymp" });
    expect(r.ks.result).toEqual(ks);
    expect(r.jensenShannon.kind === "evaluated" && r.jensenShannon.result.distance).toBe(
      jensenShannonDistance(numericRef.proportions, counts, { base: 2 }),
    );
  });

  it("a large but harmless shift is significant yet not drift: D stays below minEffect", () => {
    const r = evaluateFeatureDrift(prepared, normals(5, 100_000, 10.15, 3));
    if (r.ks.kind !== "evaluated") throw new Error("not evaluated");
    expect(r.ks.result.pValue).toBeLessThan(0.05);
    expect(r.ks.result.statistic).toBeLessThan(0.1);
    expect(r.ks.drift).toBe(false);
  });

  it("returns insufficient-data, not an error, for a small window", () => {
    const r = evaluateFeatureDrift(prepared, [10, 11, null]);
    expect(r.psi).toEqual({ kind: "insufficient-data", sampleSize: 2, minSampleSize: 100 });
    expect(r.ks.kind).toBe("insufficient-data");
    expect(r.missing).toBe(1);
    expect(r.drift).toBe(false);
    expect(evaluateFeatureDrift(prepared, []).psi.kind).toBe("insufficient-data");
  });

  it("KS is not applicable to categorical features or references without a sample", () => {
    const cat = prepareFeatureReference(
      "channel",
      buildCategoricalReference(["web", "web", "app", "email", "web", "app"]),
    );
    const r = evaluateFeatureDrift(cat, new Array(200).fill("sms"));
    expect(r.ks.kind).toBe("not-applicable");
    expect(r.psi.kind === "evaluated" && r.psi.result.band).toBe("significant");
    expect(r.drift).toBe(true);
    const noSample = prepareFeatureReference("x", { ...numericRef, sample: undefined });
    expect(evaluateFeatureDrift(noSample, normals(6, 500, 10, 3)).ks.kind).toBe("not-applicable");
  });

  it("rejects values of the wrong kind", () => {
    expect(() => evaluateFeatureDrift(prepared, [1, Number.NaN])).toThrow(ValidationError);
    expect(() => evaluateFeatureDrift(prepared, [1, "a" as never])).toThrow(/values\[1\] is a/);
  });
});

describe("evaluateWindowDrift (merged 1-minute aggregates)", () => {
  const minutes = Array.from({ length: 60 }, (_, m) => normals(100 + m, 80, 10.5, 3));

  function minuteWindow(values: number[], m: number, capacity: number) {
    const sample = createKsSample(capacity);
    for (const [i, v] of values.entries()) {
      addToKsSample(sample, v, samplePriority(`pred-${m}-${i}`));
    }
    return { histogram: histogramOf(prepared.binner, values), sample };
  }

  it("equals the raw evaluation when the sample holds the whole hour", () => {
    const windows = minutes.map((v, m) => minuteWindow(v, m, 10_000));
    const hour = {
      histogram: mergeAllHistograms(windows.map((w) => w.histogram)),
      sample: mergeAllKsSamples(windows.map((w) => w.sample)),
    };
    expect(evaluateWindowDrift(prepared, hour)).toEqual(
      evaluateFeatureDrift(prepared, minutes.flat()),
    );
  });

  it("with a bounded sample keeps PSI exact and KS on the sample", () => {
    const windows = minutes.map((v, m) => minuteWindow(v, m, 500));
    const hour = {
      histogram: mergeAllHistograms(windows.map((w) => w.histogram)),
      sample: mergeAllKsSamples(windows.map((w) => w.sample)),
    };
    const r = evaluateWindowDrift(prepared, hour);
    const raw = evaluateFeatureDrift(prepared, minutes.flat());
    expect(r.psi).toEqual(raw.psi);
    expect(r.sampleSize).toBe(4800);
    if (r.ks.kind !== "evaluated") throw new Error("not evaluated");
    expect(r.ks.result.n2).toBe(500);
    expect(r.ks.result).toEqual(
      ksTwoSample(numericRef.sample!, hour.sample.values, { autoExactMaxN: 1000 }),
    );
  });

  it("rejects a histogram over other bins", () => {
    const other = prepareFeatureReference(
      "y",
      buildNumericReference(normals(7, 1000), { bins: 4 }),
    );
    const window = { histogram: histogramOf(other.binner, [1, 2, 3]) };
    expect(() => evaluateWindowDrift(prepared, window)).toThrow(/counted over other bins/);
  });
});

describe("prepareFeatureReference and resolveDriftConfig validate their input", () => {
  it.each([
    [
      "proportions of the wrong length",
      () => prepareFeatureReference("f", { type: "number", edges: [0, 1], proportions: [1] }),
      /f.proportions must have 3 entries/,
    ],
    [
      "unsorted edges",
      () => prepareFeatureReference("f", { type: "number", edges: [1, 0], proportions: [1, 1, 1] }),
      /strictly increasing/,
    ],
    [
      "a NaN in the sample",
      () =>
        prepareFeatureReference("f", {
          type: "number",
          edges: [],
          proportions: [1],
          sample: [1, Number.NaN],
        }),
      /f.sample.1 must be a finite number/,
    ],
    [
      "all-zero proportions",
      () =>
        prepareFeatureReference("f", {
          type: "categorical",
          categories: ["a"],
          proportions: [0, 0],
        }),
      /must not all be zero/,
    ],
    ["a bad alpha", () => resolveDriftConfig({ ks: { alpha: 0 } }), /ks.alpha is 0/],
    ["a bad method", () => resolveDriftConfig({ ks: { method: "x" as never } }), /ks.method is x/],
    ["an unknown test", () => resolveDriftConfig({ decideBy: ["chi2" as never] }), /decideBy\[0\]/],
    ["a fractional minimum", () => resolveDriftConfig({ minSampleSize: 2.5 }), /minSampleSize/],
  ] as const)("rejects %s", (_label, fn, message) => {
    expect(fn).toThrow(ValidationError);
    expect(fn).toThrow(message);
  });

  it("fills documented defaults", () => {
    const c = resolveDriftConfig({ psi: { threshold: 0.2 } });
    expect(c).toEqual({
      minSampleSize: 100,
      psi: { epsilon: 1e-4, threshold: 0.2 },
      ks: { alpha: 0.05, minEffect: 0.1, method: "auto", autoExactMaxN: 1000 },
      jensenShannon: { threshold: 0.1 },
      decideBy: ["psi", "ks"],
    });
  });
});
