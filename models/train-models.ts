/** Trains the demo model and the test fixtures from the synthetic dataset: ONNX bytes + manifests. */
import { encodeFeatureRow, type ModelManifest, parseModelManifest } from "#core/model-manifest";
import {
  buildReference,
  classifierMetrics,
  exportGbtModel,
  exportLinearModel,
  exportMlpModel,
  INPUT_NAME,
  matrixFromRows,
  OUTPUT_NAME,
  predictGbt,
  predictLinear,
  predictMlp,
  trainGbt,
  trainLogisticModel,
  trainMlp,
} from "#core/training";
import {
  CONVERSION_FEATURES,
  type ConversionRow,
  encodeFeatures,
  generateRows,
} from "./synthetic/conversion-data";

/** Written into every manifest instead of the clock, so that training is byte-reproducible. */
export const TRAINED_AT = "2026-11-22T00:00:00.000Z";

export type Algorithm = "logistic-regression" | "mlp" | "gbt";

export interface ModelRecipe {
  /** Folder under models/, e.g. `conversion/1`. */
  dir: string;
  name: string;
  version: string;
  algorithm: Algorithm;
  seed: number;
  trainRows: number;
  holdoutRows: number;
}

/** What `npm run models:train` writes. */
export const RECIPES: readonly ModelRecipe[] = [
  {
    dir: "conversion/1",
    name: "conversion",
    version: "1",
    algorithm: "logistic-regression",
    seed: 42,
    trainRows: 20_000,
    holdoutRows: 10_000,
  },
  {
    dir: "fixtures/linear",
    name: "conversion-linear",
    version: "1",
    algorithm: "logistic-regression",
    seed: 101,
    trainRows: 10_000,
    holdoutRows: 5_000,
  },
  {
    dir: "fixtures/mlp",
    name: "conversion-mlp",
    version: "1",
    algorithm: "mlp",
    seed: 102,
    trainRows: 20_000,
    holdoutRows: 10_000,
  },
  {
    dir: "fixtures/gbt",
    name: "conversion-gbt",
    version: "1",
    algorithm: "gbt",
    seed: 103,
    trainRows: 20_000,
    holdoutRows: 10_000,
  },
];

/** A worked example for scorer tests: the request's `features` and the score to expect (±1e-5). */
export interface ScoredExample {
  features: Record<string, number | string | null>;
  score: number;
}

export interface TrainedModel {
  recipe: ModelRecipe;
  onnx: Uint8Array;
  manifest: ModelManifest;
  /** The model's own (double precision) prediction from an encoded input row. */
  predict: (x: ArrayLike<number>) => number;
  /** Output column holding the score. */
  outputIndex: number;
  examples: ScoredExample[];
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

export function trainModel(recipe: ModelRecipe): TrainedModel {
  const rows = generateRows({ seed: recipe.seed, n: recipe.trainRows + recipe.holdoutRows });
  const train = rows.slice(0, recipe.trainRows);
  const holdout = rows.slice(recipe.trainRows);
  const x = matrixFromRows(train.map((r) => encodeFeatures(r.features)));
  const y = train.map((r) => r.label);
  const exportOptions = { name: `${recipe.name}-${recipe.version}` };

  let onnx: Uint8Array;
  let predict: (x: ArrayLike<number>) => number;
  let outputIndex = 0;
  let description: string;
  switch (recipe.algorithm) {
    case "logistic-regression": {
      const model = trainLogisticModel(CONVERSION_FEATURES, x, y);
      onnx = exportLinearModel(model, exportOptions);
      predict = (v) => predictLinear(model, v);
      description = "Logistic regression on one-hot categoricals; output probability [batch, 1].";
      break;
    }
    case "mlp": {
      const model = trainMlp(CONVERSION_FEATURES, x, y, { seed: recipe.seed });
      onnx = exportMlpModel(model, exportOptions);
      predict = (v) => predictMlp(model, v);
      description = `MLP, one hidden layer of ${model.hidden} tanh units; output probability [batch, 1].`;
      break;
    }
    case "gbt": {
      const model = trainGbt(x, y);
      onnx = exportGbtModel(model, exportOptions);
      predict = (v) => predictGbt(model, v);
      outputIndex = 1;
      description = `${model.trees.length} gradient-boosted trees of depth ≤ 3 (ai.onnx.ml TreeEnsembleClassifier); outputs label [batch] and probability [batch, 2] = [1 − p, p].`;
      break;
    }
  }

  const holdoutScores = holdout.map((r) => predict(encodeFeatures(r.features)));
  const metrics = classifierMetrics(
    holdoutScores,
    holdout.map((r) => r.label),
  );
  const trainScores = train.map((r) => predict(encodeFeatures(r.features)));
  const reference = buildReference(
    CONVERSION_FEATURES,
    train.map((r) => ({ ...r.features })),
    trainScores,
    { seed: recipe.seed },
  );

  const manifest = parseModelManifest({
    name: recipe.name,
    version: recipe.version,
    description: `${description} Trained on Driftline's synthetic conversion data (models/synthetic/conversion-data.ts).`,
    input: INPUT_NAME,
    output: { name: OUTPUT_NAME, index: outputIndex },
    features: CONVERSION_FEATURES,
    trainedAt: TRAINED_AT,
    training: {
      algorithm: recipe.algorithm,
      dataset: "driftline-synthetic-conversion",
      seed: recipe.seed,
      rows: recipe.trainRows,
      holdoutRows: recipe.holdoutRows,
      metrics: {
        auc: round6(metrics.auc),
        logLoss: round6(metrics.logLoss),
        brier: round6(metrics.brier),
      },
    },
    reference,
  });

  return {
    recipe,
    onnx,
    manifest,
    predict,
    outputIndex,
    examples: scoredExamples(manifest, holdout.slice(0, 6), predict),
  };
}

/** Holdout rows as a scorer receives them, plus one relying on defaults and one unknown category. */
function scoredExamples(
  manifest: ModelManifest,
  rows: readonly ConversionRow[],
  predict: (x: ArrayLike<number>) => number,
): ScoredExample[] {
  const requests: Record<string, number | string | null>[] = rows.map((r) => ({ ...r.features }));
  requests.push({ sessions_7d: 4, cart_value: 89.9, device: "mobile", hour_of_day: null });
  requests.push({ ...rows[0]!.features, device: "smart-tv", traffic_source: "affiliate" });
  return requests.map((features) => {
    const encoded = encodeFeatureRow(manifest.features, features);
    if (!encoded.ok) throw new Error(`example does not encode: ${JSON.stringify(encoded.issues)}`);
    return { features, score: round6(predict(encoded.values)) };
  });
}

export function trainAll(): TrainedModel[] {
  return RECIPES.map(trainModel);
}

/** The files of one trained model, keyed by path relative to models/. */
export function modelFiles(model: TrainedModel): Record<string, Uint8Array | string> {
  const dir = model.recipe.dir;
  const examples = { tolerance: 1e-5, examples: model.examples };
  return {
    [`${dir}/model.onnx`]: model.onnx,
    [`${dir}/manifest.json`]: `${formatJson(model.manifest)}\n`,
    [`${dir}/examples.json`]: `${formatJson(examples)}\n`,
  };
}

/**
 * JSON indented by two spaces, except that arrays of plain values stay on one line: the reference
 * samples would otherwise take a thousand lines each.
 */
export function formatJson(value: unknown, indent = ""): string {
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== "object")) {
      return `[${value.map((v) => JSON.stringify(v ?? null)).join(", ")}]`;
    }
    if (value.length === 0) return "[]";
    return `[\n${value.map((v) => inner + formatJson(v, inner)).join(",\n")}\n${indent}]`;
  }
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return "{}";
    const lines = entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${formatJson(v, inner)}`);
    return `{\n${lines.join(",\n")}\n${indent}}`;
  }
  return JSON.stringify(value);
}
