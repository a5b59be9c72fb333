/**
 * Golden explanations for the Worker's explanation tests: interventional Shapley values by brute
 * force (every coalition of the 10 features, each hybrid row scored by native onnxruntime-node,
 * averaged over the model's background sample), written to
 * test/fixtures/scoring/explain-expected.json. Linear and tree models are taken in logit space
 * through their margin tensors (the graph's own `logit`, or a TreeEnsembleRegressor twin of the
 * trees), the MLP in probability space. Run: `npx tsx test/golden/explain-expected.ts`.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { backgroundMatrix, EXPLAIN_LIMITS } from "#core/explain";
import { buildFeatureMatrix } from "#core/scoring";
import conversionExamples from "../../models/conversion/1/examples.json";
import {
  bruteForceShapley,
  committedModels,
  ortScorer,
  treeMarginTwin,
  withExtraOutput,
} from "../support/explain-models";

const OUT = resolve(import.meta.dirname, "../fixtures/scoring/explain-expected.json");
const ROWS = [0, 2, 5];

const models: Record<string, unknown> = {};
for (const model of committedModels()) {
  const { manifest } = model;
  const [bytes, output, space] =
    model.name === "gbt"
      ? [treeMarginTwin(model.bytes), "margin", "logit"]
      : model.name === "mlp"
        ? [model.bytes, manifest.output.name, "probability"]
        : [withExtraOutput(model.bytes, "logit", 1), "logit", "logit"];
  const f = await ortScorer(
    bytes,
    manifest.input,
    output,
    model.name === "mlp" ? manifest.output.index : 0,
  );
  const background = backgroundMatrix(manifest, EXPLAIN_LIMITS.backgroundRows);
  const rows = [];
  for (const i of ROWS) {
    const features = conversionExamples.examples[i]!.features;
    const matrix = buildFeatureMatrix(manifest.features, [{ features }], () => "features");
    if (!matrix.ok) throw new Error(`example ${i} does not encode`);
    const reference = await bruteForceShapley(f, matrix.values, background.values, background.rows);
    rows.push({
      features,
      base: reference.base,
      contributions: Object.fromEntries(
        manifest.features.map((feat, c) => [feat.name, reference.phi[c]!]),
      ),
    });
  }
  await f.release();
  models[model.name] = { space, backgroundRows: background.rows, rows };
}

writeFileSync(
  OUT,
  `${JSON.stringify(
    {
      meta: {
        generator: "test/golden/explain-expected.ts",
        reference:
          "brute-force interventional Shapley values: all 1024 coalitions × the background sample, scored by onnxruntime-node 1.30.0 (native CPU)",
        tolerance: 2e-5,
      },
      models,
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${OUT}`);
