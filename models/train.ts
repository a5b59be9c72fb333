/** `npm run models:train`: retrains every model in RECIPES and writes its files under models/, with the manifest's JSON Schema. */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { manifestJsonSchema } from "#core/model-manifest";
import { formatJson, modelFiles, trainAll } from "./train-models";

const USAGE = `Usage: npm run models:train

Retrains every bundled model reproducibly (fixed seeds, synthetic conversion data) and rewrites
its model.onnx and manifest.json, drift reference included, under models/<name>/<version>/,
and the manifest's JSON Schema (models/manifest.schema.json).`;

try {
  const { values } = parseArgs({ options: { help: { type: "boolean", short: "h" } } });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
} catch (error) {
  console.error(`npm run models:train: ${(error as Error).message.replace(/ To specify.*$/s, "")}`);
  console.error("Run `npm run models:train -- --help` for the options.");
  process.exit(2);
}

const MODELS_DIR = dirname(fileURLToPath(import.meta.url));

for (const model of trainAll()) {
  for (const [path, content] of Object.entries(modelFiles(model))) {
    const file = join(MODELS_DIR, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  const m = model.manifest.training?.metrics;
  console.log(
    `${model.recipe.dir}: ${model.recipe.algorithm}, model.onnx ${model.onnx.length} bytes, ` +
      `holdout AUC ${m?.auc}, log loss ${m?.logLoss}, Brier ${m?.brier}`,
  );
}

await writeFile(join(MODELS_DIR, "manifest.schema.json"), `${formatJson(manifestJsonSchema())}\n`);
console.log("manifest.schema.json: the manifest's JSON Schema");
