/**
 * Explanations against brute force: every coalition enumerated, each hybrid row scored by
 * onnxruntime-node (native), v(S) averaged over the background. Logistic models are compared in
 * logit space through the graph's own margin tensor (or a TreeEnsembleRegressor twin of the
 * trees), so the reference never goes through the code under test.
 */
import { afterAll, describe, expect, it } from "vitest";
import conversionExamples from "../../../models/conversion/1/examples.json";
import {
  bruteForceShapley,
  committedModels,
  logisticGraph,
  mlpGraph,
  ortScorer,
  randomRows,
  type TestModel,
  treeClassifierGraph,
  treeMarginTwin,
  withExtraOutput,
} from "../../../test/support/explain-models";
import { parseModelManifest } from "../model-manifest.ts";
import { buildFeatureMatrix } from "../scoring/build-feature-matrix.ts";
import { type DirectModel, directMargin, scoreDirect } from "../scoring/direct-model.ts";
import { readOnnxGraph } from "../scoring/onnx-graph-reader.ts";
import { recognizeGraph } from "../scoring/recognize-graph.ts";
import { createAdditiveExplainer } from "./additive-shap.ts";
import { backgroundMatrix } from "./background.ts";
import { nameContributions, topReasons } from "./explanation.ts";
import { createModelExplainer, EXPLAIN_LIMITS } from "./model-explainer.ts";
import { explainByPermutation } from "./permutation-shap.ts";
import { createTreeExplainer } from "./tree-shap.ts";

const releases: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(releases.map((r) => r()));
});

async function scorer(bytes: Uint8Array, output: string, index = 0) {
  const s = await ortScorer(bytes, "features", output, index);
  releases.push(s.release);
  return s;
}

function direct(model: TestModel): DirectModel {
  const r = recognizeGraph(readOnnxGraph(model.bytes), {
    input: model.manifest.input,
    output: model.manifest.output.name,
    index: model.manifest.output.index,
    columns: model.manifest.features.length,
  });
  if (!r.ok) throw new Error(r.reason);
  return r.model;
}

function demoRows(): Float32Array {
  const model = committedModels()[0]!;
  const m = buildFeatureMatrix(model.manifest.features, conversionExamples.examples, () => "x");
  if (!m.ok) throw new Error("examples do not encode");
  return m.values;
}

/** Brute-force tolerance: ORT sums in float32; v(S) differences of O(1) margins lose ~1e-6. */
const BRUTE_TOLERANCE = 2e-5;

describe("linear (additive) explanations", () => {
  it("equal brute force on the demo model (one-hot categoricals, 10 features)", async () => {
    const model = committedModels()[0]!;
    const m = direct(model);
    const background = backgroundMatrix(model.manifest, 24);
    const explainer = createAdditiveExplainer(
      m as Extract<DirectModel, { kind: "additive" }>,
      background,
    );
    // The margin tensor of the same graph, scored by onnxruntime.
    const margin = await scorer(withExtraOutput(model.bytes, "logit", 1), "logit");
    const rows = demoRows();
    for (const r of [0, 3, 5]) {
      const x = rows.subarray(r * 10, r * 10 + 10);
      const reference = await bruteForceShapley(margin, x, background.values, background.rows);
      const e = explainer.explain(x, 0);
      expect(e.space).toBe("logit");
      expect(e.base).toBeCloseTo(reference.base, 4);
      e.contributions.forEach((phi, c) => {
        expect(Math.abs(phi - reference.phi[c]!)).toBeLessThanOrEqual(BRUTE_TOLERANCE);
      });
    }
  });

  it("equal brute force on a MatMul + Add + Sigmoid graph", async () => {
    const model = logisticGraph(7, 21, "matmul");
    const explainer = createAdditiveExplainer(
      direct(model) as Extract<DirectModel, { kind: "additive" }>,
      { values: randomRows(30, 7, 2), rows: 30, columns: 7, source: "manifest" },
    );
    const margin = await scorer(model.bytes, "logit");
    const x = randomRows(1, 7, 3);
    const reference = await bruteForceShapley(margin, x, randomRows(30, 7, 2), 30);
    const e = explainer.explain(x, 0);
    e.contributions.forEach((phi, c) => {
      expect(Math.abs(phi - reference.phi[c]!)).toBeLessThanOrEqual(BRUTE_TOLERANCE);
    });
  });

  it("add up to the score: base + Σ = logit(score) to 1e-6, on the demo model and 30 features", async () => {
    for (const model of [committedModels()[0]!, logisticGraph(30, 4, "gemm")]) {
      const m = direct(model);
      const explainer = createModelExplainer(model.manifest, m);
      const columns = model.manifest.features.length;
      const values = model.manifest.features.length === 10 ? demoRows() : randomRows(20, 30, 5);
      const rows = values.length / columns;
      const out = await explainer.explain(values, rows, async () => new Float64Array(0));
      if (!out.ok) throw new Error(out.reason);
      const scores = scoreDirect(m, values, rows);
      out.explanations.forEach((e, r) => {
        const sum = e.contributions.reduce((a, b) => a + b, e.base);
        expect(Math.abs(sum - Math.log(scores[r]! / (1 - scores[r]!)))).toBeLessThanOrEqual(1e-6);
      });
    }
  });

  it("gives 0 to a feature whose value is its background mean", () => {
    const model = logisticGraph(4, 31, "gemm");
    const background = Float32Array.from([1, 0, 5, -2, 3, 1, 5, 2, 5, -1, 5, 0]);
    const explainer = createAdditiveExplainer(
      direct(model) as Extract<DirectModel, { kind: "additive" }>,
      { values: background, rows: 3, columns: 4, source: "manifest" },
    );
    // Column 0's mean is 3, column 3's is 0.
    const e = explainer.explain(Float32Array.from([3, 9, -4, 0]), 0);
    expect(Math.abs(e.contributions[0]!)).toBeLessThan(1e-12);
    expect(Math.abs(e.contributions[3]!)).toBeLessThan(1e-12);
    expect(Math.abs(e.contributions[1]!)).toBeGreaterThan(1e-3);
  });
});

describe("tree explanations (interventional TreeSHAP)", () => {
  it.each(["table", "walk"] as const)(
    "equal brute force on the GBT fixture, through a TreeEnsembleRegressor twin (%s)",
    async (strategy) => {
      const model = committedModels()[3]!;
      const explainer = createTreeExplainer(
        direct(model) as Extract<DirectModel, { kind: "trees" }>,
        backgroundMatrix(model.manifest, 16),
        { strategy },
      );
      const background = backgroundMatrix(model.manifest, 16);
      const margin = await scorer(treeMarginTwin(model.bytes), "margin");
      const rows = demoRows();
      for (const r of [0, 1, 6]) {
        const x = rows.subarray(r * 10, r * 10 + 10);
        const reference = await bruteForceShapley(margin, x, background.values, background.rows);
        const e = explainer.explain(x, 0);
        expect(e.space).toBe("logit");
        expect(e.base).toBeCloseTo(reference.base, 4);
        e.contributions.forEach((phi, c) => {
          expect(Math.abs(phi - reference.phi[c]!)).toBeLessThanOrEqual(BRUTE_TOLERANCE);
        });
      }
    },
  );

  it.each([
    { columns: 6, trees: 12, depth: 3, seed: 41, strategy: "table" },
    { columns: 6, trees: 12, depth: 3, seed: 41, strategy: "walk" },
    { columns: 5, trees: 8, depth: 5, seed: 42, repeatFeatures: true, strategy: "table" },
    { columns: 5, trees: 8, depth: 5, seed: 42, repeatFeatures: true, strategy: "walk" },
    { columns: 9, trees: 20, depth: 4, seed: 43, repeatFeatures: true, strategy: "table" },
    { columns: 9, trees: 20, depth: 4, seed: 43, repeatFeatures: true, strategy: "walk" },
  ] as const)("equal brute force on random forests %o", async (spec) => {
    const model = treeClassifierGraph(spec);
    const bgRows = 12;
    const bg = randomRows(bgRows, spec.columns, spec.seed + 1);
    const explainer = createTreeExplainer(
      direct(model) as Extract<DirectModel, { kind: "trees" }>,
      { values: bg, rows: bgRows, columns: spec.columns, source: "manifest" },
      { strategy: spec.strategy },
    );
    const margin = await scorer(model.bytes, "margin");
    for (let i = 0; i < 3; i++) {
      const x = randomRows(1, spec.columns, spec.seed * 10 + i);
      const reference = await bruteForceShapley(margin, x, bg, bgRows);
      const e = explainer.explain(x, 0);
      e.contributions.forEach((phi, c) => {
        expect(Math.abs(phi - reference.phi[c]!)).toBeLessThanOrEqual(BRUTE_TOLERANCE);
      });
    }
  });

  it("adds up to the score: base + Σ = logit(score) to 1e-6, 30 features, 60 trees of depth 4", async () => {
    const model = treeClassifierGraph({ columns: 30, trees: 60, depth: 4, seed: 51 });
    const m = direct(model);
    const explainer = createModelExplainer(parseModelManifest({ ...model.manifest }), m);
    const values = randomRows(25, 30, 52);
    const out = await explainer.explain(values, 25, async () => new Float64Array(0));
    if (!out.ok) throw new Error(out.reason);
    out.explanations.forEach((e, r) => {
      const sum = e.contributions.reduce((a, b) => a + b, e.base);
      expect(Math.abs(sum - directMargin(m, values, r * 30))).toBeLessThanOrEqual(1e-9);
      const p = scoreDirect(m, values.subarray(r * 30, r * 30 + 30), 1)[0]!;
      expect(Math.abs(sum - Math.log(p / (1 - p)))).toBeLessThanOrEqual(1e-6);
    });
  });
});

describe("permutation explanations", () => {
  it("agree with brute force on an MLP within 4 standard errors, and add up exactly", async () => {
    const model = mlpGraph(6, 5, 61);
    const f = await scorer(model.bytes, "probability");
    const bgRows = 20;
    const bg = {
      values: randomRows(bgRows, 6, 62),
      rows: bgRows,
      columns: 6,
      source: "manifest" as const,
    };
    const x = randomRows(2, 6, 63);
    const out = await explainByPermutation(f, bg, x, 2, {
      samples: 400,
      maxBatchRows: 1000,
      seed: 1,
    });
    for (let r = 0; r < 2; r++) {
      const e = out[r]!;
      const row = x.subarray(r * 6, r * 6 + 6);
      const reference = await bruteForceShapley(f, row, bg.values, bgRows);
      expect(e.space).toBe("probability");
      expect(e.stdError).toBeGreaterThan(0);
      e.contributions.forEach((phi, c) => {
        expect(Math.abs(phi - reference.phi[c]!)).toBeLessThanOrEqual(4 * e.stdError! + 1e-6);
      });
      const sum = e.contributions.reduce((a, b) => a + b, e.base);
      expect(Math.abs(sum - reference.full)).toBeLessThanOrEqual(1e-6);
    }
  });

  it("skips states a switch leaves unchanged and still matches brute force", async () => {
    const model = mlpGraph(5, 4, 71);
    const f = await scorer(model.bytes, "probability");
    const bgRows = 10;
    const values = randomRows(bgRows, 5, 72);
    // Feature 1 is 0.5 everywhere, as in x; x also shares feature 3 with background row 0.
    for (let r = 0; r < bgRows; r++) values[r * 5 + 1] = 0.5;
    const bg = { values, rows: bgRows, columns: 5, source: "manifest" as const };
    const x = randomRows(1, 5, 73);
    x[1] = 0.5;
    x[3] = values[3]!;
    let evaluated = 0;
    const counting = async (v: Float32Array, n: number) => {
      evaluated += n;
      return f(v, n);
    };
    const [e] = await explainByPermutation(counting, bg, x, 1, {
      samples: 300,
      maxBatchRows: 1000,
      seed: 2,
    });
    expect(evaluated).toBeLessThan(300 * 9 + 1);
    expect(e!.contributions[1]).toBe(0);
    const reference = await bruteForceShapley(f, x, values, bgRows);
    e!.contributions.forEach((phi, c) => {
      expect(Math.abs(phi - reference.phi[c]!)).toBeLessThanOrEqual(4 * e!.stdError! + 1e-6);
    });
    const sum = e!.contributions.reduce((a, b) => a + b, e!.base);
    expect(Math.abs(sum - reference.full)).toBeLessThanOrEqual(1e-6);
  });

  it("on the MLP fixture, within the default sample budget", async () => {
    const model = committedModels()[2]!;
    const explainer = createModelExplainer(model.manifest, undefined);
    expect(explainer.method).toBe("permutation");
    const f = await scorer(model.bytes, "probability");
    const values = demoRows();
    const out = await explainer.explain(values, 2, f);
    if (!out.ok) throw new Error(out.reason);
    const scores = await f(values.subarray(0, 20), 2);
    out.explanations.forEach((e, r) => {
      const sum = e.contributions.reduce((a, b) => a + b, e.base);
      expect(Math.abs(sum - scores[r]!)).toBeLessThanOrEqual(1e-6);
      expect(e.stdError!).toBeLessThan(0.02);
    });
  });

  it("refuses a request over the evaluation budget, saying how many rows fit", async () => {
    const model = mlpGraph(6, 5, 61);
    const explainer = createModelExplainer(model.manifest, undefined, {
      ...EXPLAIN_LIMITS,
      maxPermutationEvaluations: 5000,
    });
    const out = await explainer.explain(
      randomRows(50, 6, 1),
      50,
      async (_v, n) => new Float64Array(n),
    );
    expect(out.ok).toBe(false);
    if (!out.ok) expect(out.reason).toMatch(/at most \d+ rows/);
  });

  it("refuses a model too wide to sample within the limits", () => {
    const explainer = createModelExplainer(mlpGraph(300, 2, 1).manifest, undefined, {
      ...EXPLAIN_LIMITS,
      maxPermutationEvaluations: 5000,
    });
    expect(explainer.method).toBeUndefined();
    expect(explainer.refusal).toMatch(/300 features/);
  });
});

describe("background and reasons", () => {
  it("uses the manifest's background rows, encoded like a request", () => {
    const manifest = parseModelManifest({
      input: "features",
      output: { name: "p" },
      features: [
        { name: "a", type: "number", default: 7 },
        { name: "c", type: "categorical", categories: ["x", "y"] },
      ],
      background: [
        [1, "y"],
        [null, "x"],
        [2, "zzz"],
      ],
    });
    const bg = backgroundMatrix(manifest, 100);
    expect(bg.source).toBe("manifest");
    expect([...bg.values]).toEqual([1, 1, 7, 0, 2, -1]);
    expect(backgroundMatrix(manifest, 2).rows).toBe(2);
  });

  it("draws reference rows: quantiles of each sample, categories in their shares", () => {
    const manifest = committedModels()[0]!.manifest;
    const bg = backgroundMatrix(manifest, 100);
    expect(bg.source).toBe("reference");
    expect(bg.rows).toBe(100);
    const device = manifest.features.findIndex((f) => f.name === "device");
    const ref = manifest.reference!.features.device!;
    if (ref.type !== "categorical") throw new Error("device is categorical");
    const categories = manifest.features[device]!;
    if (categories.type !== "categorical") throw new Error("device is categorical");
    const counts = new Map<number, number>();
    for (let r = 0; r < 100; r++) {
      const v = bg.values[r * 10 + device]!;
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    ref.categories.forEach((name, i) => {
      const n = counts.get(categories.categories.indexOf(name)) ?? 0;
      expect(Math.abs(n - 100 * ref.proportions[i]!)).toBeLessThanOrEqual(1);
    });
  });

  it("rejects background rows of the wrong width or type", () => {
    expect(() =>
      parseModelManifest({
        input: "features",
        output: { name: "p" },
        features: [{ name: "a", type: "number" }],
        background: [[1, 2], ["x"], [null]],
      }),
    ).toThrow(/background\.0 has 2 values/);
  });

  it("names contributions and picks the largest by magnitude, signed", () => {
    const e = nameContributions(
      {
        base: 0.1,
        contributions: Float64Array.from([0.2, -0.5, 0.05]),
        space: "logit",
        method: "linear",
      },
      ["a", "b", "c"],
    );
    expect(e.contributions).toEqual({ a: 0.2, b: -0.5, c: 0.05 });
    expect(topReasons(e, 2)).toEqual([
      { feature: "b", contribution: -0.5 },
      { feature: "a", contribution: 0.2 },
    ]);
  });
});
