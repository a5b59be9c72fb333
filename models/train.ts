/** `npm run models:train`: retrains every model in RECIPES and writes its files under models/, with the manifest's JSON Schema. */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { manifestJsonSchema } from "#core/model-manifest";
import { formatJson, modelFiles, trainAll } from "./train-models";

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
