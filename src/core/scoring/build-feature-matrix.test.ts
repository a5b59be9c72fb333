import { describe, expect, it } from "vitest";
import type { ManifestFeature } from "../model-manifest.ts";
import { buildFeatureMatrix, defaultFeatureRow } from "./build-feature-matrix.ts";

const FEATURES: ManifestFeature[] = [
  { name: "visits", type: "number", default: 1 },
  { name: "cart", type: "number" },
  { name: "device", type: "categorical", categories: ["desktop", "mobile"], default: "desktop" },
];

const single = () => "features";
const batch = (i: number) => `rows.${i}.features`;

describe("buildFeatureMatrix", () => {
  it("encodes rows in manifest order, with defaults and category indices", () => {
    const m = buildFeatureMatrix(
      FEATURES,
      [
        { features: { cart: 2.5, device: "mobile", visits: 3 } },
        { features: { cart: 0, visits: null } },
        { features: { cart: -1, device: "tablet", extra: "ignored" } },
      ],
      batch,
    );
    expect(m.ok).toBe(true);
    if (!m.ok) return;
    expect(m.rows).toBe(3);
    expect(m.columns).toBe(3);
    expect([...m.values]).toEqual([3, 2.5, 1, 1, 0, 0, 1, -1, -1]);
    expect(m.logged).toEqual([
      { visits: 3, cart: 2.5, device: "mobile" },
      { visits: 1, cart: 0, device: "desktop" },
      { visits: 1, cart: -1, device: "tablet" },
    ]);
  });

  it("stores float32 like the model input", () => {
    const m = buildFeatureMatrix(FEATURES, [{ features: { cart: 0.1 } }], single);
    expect(m.ok && m.values[1]).toBe(Math.fround(0.1));
  });

  it.each([
    [{}, "features.cart", /missing/],
    [{ cart: "2" }, "features.cart", /finite number, got a string/],
    [{ cart: Number.NaN }, "features.cart", /finite number/],
    [{ cart: 1, visits: true }, "features.visits", /got a boolean/],
    [{ cart: 1, device: 0 }, "features.device", /must be a string/],
    [{ cart: [1] }, "features.cart", /an array/],
  ])("reports %j at %s", (features, field, message) => {
    const m = buildFeatureMatrix(FEATURES, [{ features }], single);
    expect(m.ok).toBe(false);
    if (m.ok) return;
    const issue = m.issues.find((i) => i.field === field);
    expect(issue?.message).toMatch(message);
  });

  it("reports every bad row of a batch, naming the row", () => {
    const m = buildFeatureMatrix(
      FEATURES,
      [{ features: { cart: 1 } }, { features: {} }, { features: { cart: "x" } }],
      batch,
    );
    expect(m.ok).toBe(false);
    if (m.ok) return;
    expect(m.issues.map((i) => i.field)).toEqual(["rows.1.features.cart", "rows.2.features.cart"]);
  });
});

describe("defaultFeatureRow", () => {
  it("uses defaults, else 0 or the first category", () => {
    expect(defaultFeatureRow(FEATURES)).toEqual({ visits: 1, cart: 0, device: "desktop" });
  });
});
