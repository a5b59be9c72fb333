import { describe, expect, it } from "vitest";
import { matrixFromRows } from "./design-matrix.ts";
import { gbtLogit, predictGbt, trainGbt } from "./gradient-boosted-trees.ts";

describe("trainGbt", () => {
  // x in {0.1, 0.2, …, 1.0}; 20 % positives for x ≤ 0.5, 80 % above.
  const rows: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const x = ((i % 10) + 1) / 10;
    rows.push([x, i % 7]);
    // Exactly 20 % (80 %) of the 100 rows of each x value: j runs 0..99 for each x.
    const j = Math.floor(i / 10);
    y.push((x <= 0.5 ? j % 5 === 0 : j % 5 !== 0) ? 1 : 0);
  }
  const x = matrixFromRows(rows);

  it("finds the step and sets Newton leaf values", () => {
    // Base rate 0.5 → base score 0, p = 0.5, g = 0.5 − y, h = 0.25. With λ = 0 and learning rate 1
    // the leaves are −Σg/Σh = ∓(0.5 − 0.2)/0.25 = ∓1.2.
    const model = trainGbt(x, y, { trees: 1, maxDepth: 1, learningRate: 1, l2: 0 });
    expect(model.baseScore).toBe(0);
    const [root, left, right] = model.trees[0]!;
    expect(root).toMatchObject({ feature: 0, threshold: Math.fround(0.5), left: 1, right: 2 });
    expect(left!.value).toBeCloseTo(-1.2, 6);
    expect(right!.value).toBeCloseTo(1.2, 6);
    expect(predictGbt(model, [0.3, 0])).toBeCloseTo(1 / (1 + Math.exp(1.2)), 6);
  });

  it("stores float32 thresholds that are training values, and is deterministic", () => {
    const model = trainGbt(x, y, { trees: 20, maxDepth: 3 });
    expect(model.trees).toHaveLength(20);
    const values = new Set(rows.flatMap((r) => r.map(Math.fround)));
    for (const tree of model.trees) {
      expect(tree.length).toBeLessThanOrEqual(15);
      for (const node of tree) {
        if (node.left !== -1) expect(values.has(node.threshold)).toBe(true);
        expect(Math.fround(node.value)).toBe(node.value);
      }
    }
    expect(trainGbt(x, y, { trees: 20, maxDepth: 3 })).toEqual(model);
    // Training reduces log loss against the base rate.
    const loss = (p: number, t: number) => -(t * Math.log(p) + (1 - t) * Math.log(1 - p));
    const trained = rows.reduce((a, r, i) => a + loss(predictGbt(model, r), y[i]!), 0);
    expect(trained / rows.length).toBeLessThan(Math.log(2) - 0.15);
    expect(gbtLogit(model, [0.9, 3])).toBeGreaterThan(gbtLogit(model, [0.2, 3]));
  });
});
