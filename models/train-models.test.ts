import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeFeatureRow, validateModelManifest } from "#core/model-manifest";
import { decodeModel, IR_VERSION, ML_DOMAIN, OPSET, rocAuc } from "#core/training";
import { CONVERSION_FEATURES, encodeFeatures, generateRows } from "./synthetic/conversion-data";
import { modelFiles, RECIPES, type TrainedModel, trainAll, trainModel } from "./train-models";

const MODELS_DIR = dirname(fileURLToPath(import.meta.url));
const ROWS_COMPARED = 300;

ort.env.wasm.numThreads = 1;

let trained: TrainedModel[];
beforeAll(() => {
  trained = trainAll();
}, 120_000);

/** Scores `inputs` (encoded rows) with onnxruntime-web; returns the output tensor's column. */
async function scoreWithOrt(model: TrainedModel, inputs: readonly number[][]) {
  const session = await ort.InferenceSession.create(model.onnx);
  const n = CONVERSION_FEATURES.length;
  const data = new Float32Array(inputs.length * n);
  inputs.forEach((x, i) => {
    data.set(x, i * n);
  });
  const outputs = await session.run({
    [model.manifest.input]: new ort.Tensor("float32", data, [inputs.length, n]),
  });
  await session.release();
  const out = outputs[model.manifest.output.name]!;
  const width = out.dims[1]!;
  const values = out.data as Float32Array;
  return {
    outputs,
    dims: out.dims,
    column: (j: number) => Array.from({ length: inputs.length }, (_, i) => values[i * width + j]!),
  };
}

function holdoutRows(model: TrainedModel) {
  const { seed, trainRows, holdoutRows: count } = model.recipe;
  return generateRows({ seed, n: trainRows + count }).slice(trainRows);
}

describe.each(RECIPES.map((r) => [r.dir, r] as const))("%s", (dir) => {
  const get = () => trained.find((m) => m.recipe.dir === dir)!;

  it("is byte-identical to the committed files (npm run models:train reproduces them)", () => {
    for (const [path, content] of Object.entries(modelFiles(get()))) {
      const committed = readFileSync(join(MODELS_DIR, path));
      const fresh = typeof content === "string" ? Buffer.from(content) : Buffer.from(content);
      expect(fresh.equals(committed), `${path} differs; run npm run models:train`).toBe(true);
    }
  });

  it("gives the TypeScript model's probabilities under onnxruntime-web within 1e-5", async () => {
    const model = get();
    const inputs = holdoutRows(model)
      .slice(0, ROWS_COMPARED)
      .map((r) => encodeFeatures(r.features));
    // Unknown categories (−1) in a few rows.
    inputs[0]![8] = -1;
    inputs[1]![9] = -1;
    const { dims, column, outputs } = await scoreWithOrt(model, inputs);
    expect(dims[0]).toBe(ROWS_COMPARED);
    const scores = column(model.manifest.output.index);
    let worst = 0;
    inputs.forEach((x, i) => {
      worst = Math.max(worst, Math.abs(scores[i]! - model.predict(x)));
    });
    expect(worst).toBeLessThan(1e-5);
    if (model.recipe.algorithm === "gbt") {
      // Classifier layout: [1 − p, p] and a label.
      const other = column(0);
      scores.forEach((p, i) => {
        expect(other[i]! + p).toBeCloseTo(1, 6);
      });
      const labels = Array.from(outputs.label!.data as BigInt64Array, Number);
      labels.forEach((label, i) => {
        expect(label).toBe(scores[i]! > 0.5 ? 1 : 0);
      });
    }
  });

  it("scores its examples.json through the manifest's encoding", async () => {
    const model = get();
    const file = JSON.parse(readFileSync(join(MODELS_DIR, dir, "examples.json"), "utf8")) as {
      tolerance: number;
      examples: { features: Record<string, number | string | null>; score: number }[];
    };
    const inputs = file.examples.map((e) => {
      const encoded = encodeFeatureRow(model.manifest.features, e.features);
      if (!encoded.ok) throw new Error(JSON.stringify(encoded.issues));
      return encoded.values;
    });
    const { column } = await scoreWithOrt(model, inputs);
    const scores = column(model.manifest.output.index);
    file.examples.forEach((e, i) => {
      expect(Math.abs(scores[i]! - e.score)).toBeLessThan(1e-5);
    });
  });

  it("has a valid manifest that describes the ONNX graph", () => {
    const model = get();
    const result = validateModelManifest(model.manifest);
    expect(result.ok).toBe(true);
    expect(model.manifest.features).toEqual(CONVERSION_FEATURES);
    for (const f of CONVERSION_FEATURES) {
      expect(model.manifest.reference?.features[f.name]?.type).toBe(f.type);
    }
    expect(model.manifest.reference?.score?.sample).toHaveLength(1000);

    const proto = decodeModel(model.onnx);
    expect(Number(proto.irVersion)).toBe(IR_VERSION);
    expect(Number(proto.opsetImport.find((o) => o.domain === "")?.version)).toBe(OPSET);
    const input = proto.graph!.input![0]!;
    expect(proto.graph!.input!).toHaveLength(1);
    expect(input.name).toBe(model.manifest.input);
    const dims = input.type!.tensorType!.shape!.dim!;
    expect(dims[0]!.dimParam).toBe("batch");
    expect(Number(dims[1]!.dimValue)).toBe(model.manifest.features.length);
    expect(proto.graph!.output!.map((o) => o.name)).toContain(model.manifest.output.name);
    expect(model.onnx.length).toBeLessThan(1024 * 1024);
    if (model.recipe.algorithm === "gbt") {
      expect(proto.opsetImport.some((o) => o.domain === ML_DOMAIN)).toBe(true);
      const ensemble = proto.graph!.node![0]!;
      expect(ensemble.opType).toBe("TreeEnsembleClassifier");
      const treeIds = ensemble.attribute!.find((a) => a.name === "nodes_treeids")!.ints!;
      expect(new Set(treeIds.map(Number)).size).toBeGreaterThanOrEqual(50);
    }
  });

  it("ranks the holdout nearly as well as the ground truth does", () => {
    const model = get();
    const holdout = holdoutRows(model);
    const labels = holdout.map((r) => r.label);
    const truthAuc = rocAuc(
      holdout.map((r) => r.trueProbability),
      labels,
    );
    const auc = model.manifest.training?.metrics?.auc ?? 0;
    expect(auc).toBeCloseTo(
      rocAuc(
        holdout.map((r) => model.predict(encodeFeatures(r.features))),
        labels,
      ),
      5,
    );
    expect(auc).toBeGreaterThan(truthAuc - 0.02);
    expect(auc).toBeLessThan(truthAuc + 0.01);
  });
});

describe("ONNX batch dimension", () => {
  it("accepts one row and many rows from the same session", async () => {
    const model = trained[0]!;
    const rows = generateRows({ seed: 1, n: 64 }).map((r) => encodeFeatures(r.features));
    const one = await scoreWithOrt(model, rows.slice(0, 1));
    const many = await scoreWithOrt(model, rows);
    expect(one.dims).toEqual([1, 1]);
    expect(many.dims).toEqual([64, 1]);
    expect(one.column(0)[0]).toBe(many.column(0)[0]);
  });
});

describe("training determinism", () => {
  it("retrains to the same bytes in the same process", () => {
    const recipe = RECIPES.find((r) => r.dir === "fixtures/linear")!;
    const again = trainModel(recipe);
    const first = trained.find((m) => m.recipe.dir === recipe.dir)!;
    expect(Buffer.from(again.onnx).equals(Buffer.from(first.onnx))).toBe(true);
    expect(again.manifest).toEqual(first.manifest);
  });
});
