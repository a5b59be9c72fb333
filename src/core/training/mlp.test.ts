import { describe, expect, it } from "vitest";
import type { ManifestFeature } from "../model-manifest.ts";
import { createRandom } from "../random/index.ts";
import { matrixFromRows } from "./design-matrix.ts";
import { predictLinear, trainLogisticModel } from "./logistic-regression.ts";
import { rocAuc } from "./metrics.ts";
import { predictMlp, trainMlp } from "./mlp.ts";

describe("trainMlp", () => {
  const features: ManifestFeature[] = [
    { name: "a", type: "number" },
    { name: "b", type: "number" },
  ];
  // XOR of the signs, with raw values far from 0 mean and unit scale to exercise the folding.
  const random = createRandom(1);
  const rows: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < 4000; i++) {
    const a = random.normal();
    const b = random.normal();
    rows.push([500 + 100 * a, -3 + 0.01 * b]);
    y.push(a * b > 0 ? 1 : 0);
  }
  const x = matrixFromRows(rows);
  const options = { seed: 9, epochs: 15 };

  it("learns a relationship a linear model cannot", () => {
    const mlp = trainMlp(features, x, y, options);
    const linear = trainLogisticModel(features, x, y);
    const aucMlp = rocAuc(
      rows.map((r) => predictMlp(mlp, r)),
      y,
    );
    const aucLinear = rocAuc(
      rows.map((r) => predictLinear(linear, r)),
      y,
    );
    expect(aucMlp).toBeGreaterThan(0.95);
    expect(aucLinear).toBeLessThan(0.6);
  });

  it("is deterministic for a seed", () => {
    const a = trainMlp(features, x, y, options);
    expect(trainMlp(features, x, y, options)).toEqual(a);
    expect(trainMlp(features, x, y, { ...options, seed: 10 }).w1).not.toEqual(a.w1);
  });
});
