/** The direct evaluator against onnxruntime-node (native) on every graph form it reads. */
import { afterAll, describe, expect, it } from "vitest";
import conversionExamples from "../../../models/conversion/1/examples.json";
import {
  committedModels,
  linearClassifierGraph,
  linearRegressorGraph,
  logisticGraph,
  mlpGraph,
  ortScorer,
  randomRows,
  type TestModel,
  treeClassifierGraph,
  treeRegressorGraph,
} from "../../../test/support/explain-models";
import { constantOfShapeBomb, logisticAround } from "../../../test/support/onnx-test-graphs";
import { node } from "../training/onnx/onnx-builder.ts";
import { buildFeatureMatrix } from "./build-feature-matrix.ts";
import { scoreDirect } from "./direct-model.ts";
import { readOnnxGraph } from "./onnx-graph-reader.ts";
import { recognizeGraph } from "./recognize-graph.ts";

const TOLERANCE = 1e-6;
const releases: (() => Promise<void>)[] = [];
afterAll(async () => {
  await Promise.all(releases.map((r) => r()));
});

function recognise(model: TestModel) {
  return recognizeGraph(readOnnxGraph(model.bytes), {
    input: model.manifest.input,
    output: model.manifest.output.name,
    index: model.manifest.output.index,
    columns: model.manifest.features.length,
  });
}

/** Rows for the committed models: the demo examples, and random values around them. */
function rowsFor(model: TestModel, count: number, seed: number): Float32Array {
  const features = model.manifest.features;
  if (features.every((f) => f.type === "number" && f.name.startsWith("f"))) {
    return randomRows(count, features.length, seed);
  }
  const examples = conversionExamples.examples.map((e) => ({ features: e.features }));
  const rows = Array.from({ length: count }, (_, i) => {
    const base = examples[i % examples.length]!.features as Record<string, unknown>;
    const scale = 0.5 + ((i * 7919) % 100) / 50;
    const varied: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(base)) varied[k] = typeof v === "number" ? v * scale : v;
    if (i % 5 === 0) varied.device = "smart-tv"; // an unknown category: index −1
    return { features: varied };
  });
  const matrix = buildFeatureMatrix(features, rows, () => "features");
  if (!matrix.ok) throw new Error(JSON.stringify(matrix.issues));
  return matrix.values;
}

const recognised: [string, () => TestModel, string, string][] = [
  [
    "the demo model (Gather/Equal/Cast one-hot + Gemm + Sigmoid)",
    () => committedModels()[0]!,
    "additive",
    "logistic",
  ],
  ["the linear fixture", () => committedModels()[1]!, "additive", "logistic"],
  [
    "the GBT fixture (TreeEnsembleClassifier, LOGISTIC)",
    () => committedModels()[3]!,
    "trees",
    "logistic",
  ],
  [
    "Gemm (transB, alpha, beta, raw_data initializers) + Sigmoid",
    () => logisticGraph(12, 1, "gemm"),
    "additive",
    "logistic",
  ],
  ["MatMul + Add + Sigmoid", () => logisticGraph(30, 2, "matmul"), "additive", "logistic"],
  [
    "LinearClassifier, one score, LOGISTIC",
    () => linearClassifierGraph(8, 3, 1, "LOGISTIC"),
    "additive",
    "logistic",
  ],
  [
    "LinearClassifier, two scores, LOGISTIC",
    () => linearClassifierGraph(8, 4, 2, "LOGISTIC"),
    "additive",
    "logistic",
  ],
  [
    "LinearClassifier, two scores, SOFTMAX",
    () => linearClassifierGraph(8, 5, 2, "SOFTMAX"),
    "additive",
    "logistic",
  ],
  ["LinearRegressor", () => linearRegressorGraph(6, 6), "additive", "identity"],
  [
    "the upload-check test graph with an Identity before Sigmoid",
    () => ({
      ...logisticGraph(3, 1, "matmul"),
      bytes: logisticAround([node("Identity", ["logit"], ["bomb_out"])]),
    }),
    "additive",
    "logistic",
  ],
  [
    "TreeEnsembleClassifier, 60 trees of depth 4",
    () => treeClassifierGraph({ columns: 30, trees: 60, depth: 4, seed: 7 }),
    "trees",
    "logistic",
  ],
  [
    "TreeEnsembleClassifier, features repeated on paths",
    () => treeClassifierGraph({ columns: 5, trees: 8, depth: 5, seed: 8, repeatFeatures: true }),
    "trees",
    "logistic",
  ],
  [
    "TreeEnsembleRegressor, SUM",
    () => treeRegressorGraph({ columns: 6, trees: 10, depth: 3, seed: 9 }, "SUM"),
    "trees",
    "identity",
  ],
  [
    "TreeEnsembleRegressor, AVERAGE",
    () => treeRegressorGraph({ columns: 6, trees: 10, depth: 3, seed: 10 }, "AVERAGE"),
    "trees",
    "identity",
  ],
];

describe("direct evaluation equals onnxruntime", () => {
  it.each(recognised)("%s", async (_name, make, kind, link) => {
    const model = make();
    const r = recognise(model);
    if (!r.ok) throw new Error(r.reason);
    expect(r.model.kind).toBe(kind);
    expect(r.model.link).toBe(link);
    const rows = 500;
    const values = rowsFor(model, rows, 11);
    const ort = await ortScorer(
      model.bytes,
      model.manifest.input,
      model.manifest.output.name,
      model.manifest.output.index,
    );
    releases.push(ort.release);
    const expected = await ort(values, rows);
    const direct = scoreDirect(r.model, values, rows);
    let worst = 0;
    for (let i = 0; i < rows; i++) worst = Math.max(worst, Math.abs(direct[i]! - expected[i]!));
    expect(worst).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe("graphs the evaluator leaves to onnxruntime", () => {
  it.each([
    ["the MLP fixture (Tanh)", () => committedModels()[2]!, /Tanh/],
    ["a generated MLP", () => mlpGraph(6, 4, 1), /Tanh/],
    [
      "a ConstantOfShape bomb",
      () => ({ ...logisticGraph(3, 1, "gemm"), bytes: constantOfShapeBomb() }),
      /Shape|ConstantOfShape|ReduceMean/,
    ],
    [
      "a non-linear product of the input",
      () => ({
        ...logisticGraph(3, 1, "gemm"),
        bytes: logisticAround([node("Mul", ["logit", "logit"], ["bomb_out"])]),
      }),
      /Mul of two computed values/,
    ],
  ] as const)("%s", (_name, make, reason) => {
    const r = recognise(make());
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });
});
