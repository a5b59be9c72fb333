import { describe, expect, it } from "vitest";
import { ValidationError } from "#core/errors";
import { encodeFeatureRow } from "#core/model-manifest";
import { fitLogisticRegression, matrixFromRows } from "#core/training";
import {
  CONVERSION_FEATURES,
  type ConversionRow,
  DEVICES,
  encodeFeatures,
  FEATURE_NAMES,
  type FeatureName,
  GROUND_TRUTH,
  GROUND_TRUTH_TERMS,
  generateRows,
  groundTruthTerms,
  iterateRows,
  trueProbability,
} from "./conversion-data";

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const column = (rows: readonly ConversionRow[], name: FeatureName) =>
  rows.map((r) => r.features[name] as number);

describe("generateRows", () => {
  it("is deterministic for a seed and differs between seeds", () => {
    const a = generateRows({ seed: 11, n: 500 });
    expect(generateRows({ seed: 11, n: 500 })).toEqual(a);
    expect(generateRows({ seed: 12, n: 500 })).not.toEqual(a);
  });

  it("streams the same rows as it returns", () => {
    const stream = iterateRows({ seed: 5 });
    const streamed = Array.from({ length: 300 }, () => stream.next().value);
    expect(streamed).toEqual(generateRows({ seed: 5, n: 300 }));
  });

  it("draws labels from the documented ground truth", () => {
    const rows = generateRows({ seed: 3, n: 50_000 });
    for (const r of rows.slice(0, 100)) {
      expect(r.trueProbability).toBeCloseTo(trueProbability(r.features), 15);
    }
    const rate = mean(rows.map((r) => r.label));
    const expected = mean(rows.map((r) => r.trueProbability));
    // Binomial sd of the rate ≈ √(0.085·0.915/50000) ≈ 1.25e-3; 4 sd.
    expect(Math.abs(rate - expected)).toBeLessThan(5e-3);
    expect(rate).toBeGreaterThan(0.06);
    expect(rate).toBeLessThan(0.11);
  });

  it("keeps every value in its documented domain and encodes in manifest order", () => {
    for (const r of generateRows({ seed: 9, n: 5000 })) {
      const x = r.features;
      expect(Number.isInteger(x.sessions_7d) && x.sessions_7d >= 1).toBe(true);
      expect(x.pages_per_session).toBeGreaterThanOrEqual(1);
      expect(x.pages_per_session).toBeLessThanOrEqual(50);
      expect(x.time_on_site_s).toBeGreaterThanOrEqual(5);
      expect(x.cart_value).toBeGreaterThanOrEqual(0);
      expect(x.days_since_last_visit).toBeLessThanOrEqual(90);
      expect([0, 1]).toContain(x.is_returning);
      expect(Number.isInteger(x.hour_of_day) && x.hour_of_day >= 0 && x.hour_of_day < 24).toBe(
        true,
      );
      const encoded = encodeFeatureRow(CONVERSION_FEATURES, { ...x });
      expect(encoded).toEqual({ ok: true, values: encodeFeatures(x) });
    }
    expect(FEATURE_NAMES).toEqual(Object.keys(generateRows({ seed: 1, n: 1 })[0]!.features));
  });

  it("lets a logistic fit on the ground-truth terms recover β within 4 standard errors", () => {
    const rows = generateRows({ seed: 2024, n: 200_000 });
    const fit = fitLogisticRegression(
      matrixFromRows(rows.map((r) => groundTruthTerms(r.features))),
      rows.map((r) => r.label),
    );
    expect(fit.converged).toBe(true);
    expect(Math.abs(fit.intercept - GROUND_TRUTH.intercept)).toBeLessThan(
      4 * fit.standardErrors[0]!,
    );
    GROUND_TRUTH_TERMS.forEach((term, j) => {
      const error = Math.abs(fit.weights[j]! - GROUND_TRUTH.coefficients[term]);
      expect(error, term).toBeLessThan(4 * fit.standardErrors[j + 1]!);
    });
  });
});

describe("drift", () => {
  const n = 20_000;
  const base = generateRows({ seed: 77, n });
  const others = (changed: FeatureName[]) => FEATURE_NAMES.filter((f) => !changed.includes(f));
  const expectUnchanged = (rows: ConversionRow[], changed: FeatureName[]) => {
    for (const name of others(changed)) {
      expect(
        rows.every((r, i) => r.features[name] === base[i]!.features[name]),
        name,
      ).toBe(true);
    }
  };

  it("shifts and scales a numeric feature and nothing else", () => {
    const rows = generateRows({
      seed: 77,
      n,
      drift: { features: { sessions_7d: { shift: 2 }, time_on_site_s: { scale: 1.5 } } },
    });
    expectUnchanged(rows, ["sessions_7d", "time_on_site_s"]);
    // A shift of +2 never meets the floor of 1, so it is exact row by row.
    expect(rows.every((r, i) => r.features.sessions_7d === base[i]!.features.sessions_7d + 2)).toBe(
      true,
    );
    const ratio = mean(column(rows, "time_on_site_s")) / mean(column(base, "time_on_site_s"));
    expect(ratio).toBeGreaterThan(1.45);
    expect(ratio).toBeLessThan(1.55);
    // Covariate drift moves the true probability through the drifted features.
    expect(mean(rows.map((r) => r.trueProbability))).toBeGreaterThan(
      mean(base.map((r) => r.trueProbability)) + 0.02,
    );
  });

  it("changes a categorical mix and a binary rate and nothing else", () => {
    const rows = generateRows({
      seed: 77,
      n,
      drift: {
        features: { device: { mix: { mobile: 9, tablet: 1 } }, is_returning: { rate: 0.8 } },
      },
    });
    expectUnchanged(rows, ["device", "is_returning"]);
    expect(rows.some((r) => r.features.device === "desktop")).toBe(false);
    const mobile = mean(rows.map((r) => (r.features.device === "mobile" ? 1 : 0)));
    expect(mobile).toBeGreaterThan(0.88);
    expect(mobile).toBeLessThan(0.92);
    const returning = mean(column(rows, "is_returning"));
    expect(returning).toBeGreaterThan(0.78);
    expect(returning).toBeLessThan(0.82);
    expect(DEVICES).toContain(rows[0]!.features.device);
  });

  it("wraps the hour of day and floors values at their domain", () => {
    const rows = generateRows({
      seed: 77,
      n: 2000,
      drift: { features: { hour_of_day: { shift: 5 }, cart_value: { shift: -1000 } } },
    });
    rows.forEach((r, i) => {
      expect(r.features.hour_of_day).toBe((base[i]!.features.hour_of_day + 5) % 24);
      expect(r.features.cart_value).toBe(0);
    });
  });

  it("changes only labels and probabilities under concept drift", () => {
    const rows = generateRows({
      seed: 77,
      n,
      drift: { groundTruth: { coefficients: { log1p_cart_value: -0.45 } } },
    });
    expectUnchanged(rows, []);
    const withCart = rows.filter((r) => r.features.cart_value > 0);
    const baseWithCart = base.filter((r) => r.features.cart_value > 0);
    expect(mean(withCart.map((r) => r.label))).toBeLessThan(
      mean(baseWithCart.map((r) => r.label)) / 3,
    );
  });

  it("rejects unknown features, categories and misplaced settings, naming the field", () => {
    const fields = (drift: unknown) => {
      try {
        generateRows({ seed: 1, n: 1, drift: drift as never });
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        return (error as ValidationError).issues.map((i) => i.field);
      }
      throw new Error("expected a ValidationError");
    };
    expect(fields({ features: { clicks: { shift: 1 } } })).toEqual(["drift.features.clicks"]);
    expect(fields({ features: { device: { mix: { tv: 1 } } } })).toEqual([
      "drift.features.device.mix.tv",
      "drift.features.device.mix",
    ]);
    expect(fields({ features: { device: { shift: 1 } } })).toEqual(["drift.features.device.shift"]);
    expect(fields({ features: { is_returning: { rate: 2 } } })).toEqual([
      "drift.features.is_returning.rate",
    ]);
    expect(fields({ groundTruth: { coefficients: { nope: 1 } } })).toEqual([
      "drift.groundTruth.coefficients.nope",
    ]);
    expect(() => generateRows({ seed: 1, n: -1 })).toThrow(ValidationError);
  });
});
