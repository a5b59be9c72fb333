import { describe, expect, it } from "vitest";
import {
  CONVERSION_FEATURES,
  type ConversionRow,
  type DriftSpec,
  generateRows,
} from "../../../models/synthetic/conversion-data";
import { validateModelManifest } from "../model-manifest.ts";
import { computePsi, countCategorical, countNumeric, ksTwoSample } from "../stats/index.ts";
import { buildReference } from "./reference.ts";

const rowsOf = (rows: ConversionRow[]): Record<string, number | string>[] =>
  rows.map((r) => ({ ...r.features }));
const reference = buildReference(
  CONVERSION_FEATURES,
  rowsOf(generateRows({ seed: 1, n: 20_000 })),
  generateRows({ seed: 1, n: 20_000 }).map((r) => r.trueProbability),
  { seed: 1 },
);

/** PSI of `rows` against the reference, per feature. */
function psiPerFeature(drift?: DriftSpec): Record<string, number> {
  const rows = rowsOf(generateRows({ seed: 99, n: 5000, ...(drift ? { drift } : {}) }));
  const out: Record<string, number> = {};
  for (const [name, ref] of Object.entries(reference.features)) {
    const currentCounts =
      ref.type === "number"
        ? countNumeric(
            { kind: "numeric", edges: ref.edges },
            rows.map((r) => r[name] as number),
          )
        : countCategorical(
            { kind: "categorical", categories: ref.categories },
            rows.map((r) => r[name] as string),
          );
    out[name] = computePsi({ referenceCounts: ref.proportions, currentCounts }).value;
  }
  return out;
}

describe("buildReference", () => {
  it("freezes bins, proportions and a KS sample for every feature and the score", () => {
    expect(
      validateModelManifest({
        output: { name: "probability" },
        features: CONVERSION_FEATURES,
        reference,
      }).ok,
    ).toBe(true);
    expect(reference.rows).toBe(20_000);
    for (const f of CONVERSION_FEATURES) {
      const ref = reference.features[f.name]!;
      expect(ref.type).toBe(f.type);
      expect(ref.proportions.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 9);
      if (ref.type === "number") {
        expect(ref.edges.length).toBeLessThanOrEqual(9);
        expect(ref.sample).toHaveLength(1000);
      } else if (f.type === "categorical") {
        expect([...ref.categories].sort()).toEqual([...f.categories].sort());
      }
    }
    expect(reference.score?.edges).toHaveLength(9);
    // Continuous features get 10 equal-mass bins.
    for (const p of reference.features.time_on_site_s!.proportions) {
      expect(Math.abs(p - 0.1)).toBeLessThan(0.01);
    }
  });

  it("reads as stable on fresh rows from the same distribution", () => {
    for (const [name, psi] of Object.entries(psiPerFeature())) {
      expect(psi, name).toBeLessThan(0.02);
    }
    const ref = reference.features.pages_per_session!;
    const fresh = generateRows({ seed: 99, n: 5000 }).map((r) => r.features.pages_per_session);
    if (ref.type !== "number") throw new Error("numeric reference expected");
    expect(ksTwoSample(ref.sample!, fresh).pValue).toBeGreaterThan(0.01);
  });

  it("shows the drift switch's shifted features, and only those, as drifted", () => {
    const psi = psiPerFeature({
      features: { sessions_7d: { shift: 2 }, device: { mix: { mobile: 1 } } },
    });
    expect(psi.sessions_7d).toBeGreaterThan(0.25);
    expect(psi.device).toBeGreaterThan(0.25);
    for (const [name, value] of Object.entries(psi)) {
      if (name !== "sessions_7d" && name !== "device") expect(value, name).toBeLessThan(0.02);
    }
  });
});
