/** A runtime model with the direct evaluator in front when its graph is linear or a tree ensemble, and its explainer. */
import { backgroundMatrix, createModelExplainer, EXPLAIN_LIMITS } from "#core/explain";
import type { ModelManifest } from "#core/model-manifest";
import {
  buildFeatureMatrix,
  type DirectModel,
  defaultFeatureRow,
  readOnnxGraph,
  recognizeGraph,
  scoreDirect,
} from "#core/scoring";
import type { LoadedModel, RuntimeModel } from "./scoring-ports";

/** Largest difference from the runtime's scores the direct evaluator may show on load. */
export const DIRECT_EVALUATION_TOLERANCE = 1e-6;

export interface ExplainableModelOptions {
  /** Turn the direct evaluator off (benchmarks compare both paths). Default on. */
  direct?: boolean;
  log?: (entry: Record<string, unknown>) => void;
}

/**
 * Reads the graph; when it is linear or a tree ensemble, scores the background sample and a row
 * of defaults both ways and keeps the direct evaluator only if every score agrees with the
 * runtime's within DIRECT_EVALUATION_TOLERANCE. Whatever the graph, rows are explained: exactly
 * for linear and tree graphs, by permutation sampling through the runtime otherwise.
 */
export async function explainableModel(
  runtime: RuntimeModel,
  bytes: ArrayBuffer,
  manifest: ModelManifest,
  options: ExplainableModelOptions = {},
): Promise<LoadedModel> {
  const direct =
    options.direct === false
      ? undefined
      : await verifiedDirectModel(runtime, bytes, manifest, options.log);
  const explainer = createModelExplainer(manifest, direct);
  return {
    evaluator: direct ? "direct" : "onnxruntime",
    explanation: {
      ...(explainer.method ? { method: explainer.method } : {}),
      ...(explainer.refusal ? { refusal: explainer.refusal } : {}),
    },
    score: direct
      ? async (values, rows) => scoreDirect(direct, values, rows)
      : (values, rows) => runtime.score(values, rows),
    explain: (values, rows) => explainer.explain(values, rows, (v, n) => runtime.score(v, n)),
    release: () => runtime.release(),
  };
}

async function verifiedDirectModel(
  runtime: RuntimeModel,
  bytes: ArrayBuffer,
  manifest: ModelManifest,
  log: ExplainableModelOptions["log"],
): Promise<DirectModel | undefined> {
  let model: DirectModel;
  try {
    const recognised = recognizeGraph(readOnnxGraph(new Uint8Array(bytes)), {
      input: manifest.input,
      output: manifest.output.name,
      index: manifest.output.index,
      columns: manifest.features.length,
    });
    if (!recognised.ok) return undefined;
    model = recognised.model;
  } catch {
    // Bytes the reader cannot follow are the runtime's to judge; it loaded them.
    return undefined;
  }
  const background = backgroundMatrix(manifest, EXPLAIN_LIMITS.backgroundRows);
  const defaults = buildFeatureMatrix(
    manifest.features,
    [{ features: defaultFeatureRow(manifest.features) }],
    () => "features",
  );
  const rows = background.rows + 1;
  const values = new Float32Array(rows * manifest.features.length);
  values.set(background.values);
  if (defaults.ok) values.set(defaults.values, background.values.length);
  const expected = await runtime.score(values, rows);
  const actual = scoreDirect(model, values, rows);
  let worst = 0;
  for (let r = 0; r < rows; r++) worst = Math.max(worst, Math.abs(actual[r]! - expected[r]!));
  if (!(worst <= DIRECT_EVALUATION_TOLERANCE)) {
    log?.({
      level: "warn",
      msg: "direct evaluation disagrees with onnxruntime; scoring with onnxruntime",
      model: manifest.name,
      version: manifest.version,
      difference: worst,
    });
    return undefined;
  }
  return model;
}
