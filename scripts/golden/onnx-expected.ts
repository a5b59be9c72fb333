/**
 * Golden scores for the Worker's scoring tests: the fixture models run by native onnxruntime
 * (onnxruntime-node, CPU) on a fixed set of rows, written to test/fixtures/scoring/onnx-expected.json.
 *
 * The rows are encoded here by their own few lines (manifest order, category index, −1 for an
 * unknown category, default for absent or null) rather than by Driftline's encoder, so the test
 * checks the Worker's encoding as well as its inference. Run: `npx tsx scripts/golden/onnx-expected.ts`.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import * as ort from "onnxruntime-node";

const ROOT = resolve(import.meta.dirname, "../..");
const OUT = resolve(ROOT, "test/fixtures/scoring/onnx-expected.json");
const MODELS = ["linear", "mlp", "gbt"] as const;

type Value = number | string | null;
interface Feature {
  name: string;
  type: "number" | "categorical";
  default?: number | string;
  categories?: string[];
}
interface Manifest {
  input: string;
  output: { name: string; index: number };
  features: Feature[];
}

/** Rows beyond the fixtures' examples: defaults, nulls, unknown categories, extremes, extras. */
function extraRows(features: readonly Feature[]): Record<string, Value>[] {
  const numbers = features.filter((f) => f.type === "number").map((f) => f.name);
  const categoricals = features.filter((f) => f.type === "categorical");
  const allNull = Object.fromEntries(features.map((f) => [f.name, null]));
  const large = Object.fromEntries(numbers.map((n, i) => [n, 1e4 * (i + 1)]));
  const negative = Object.fromEntries(numbers.map((n, i) => [n, -(i + 0.5)]));
  const lastCategories = Object.fromEntries(
    categoricals.map((f) => [f.name, f.categories![f.categories!.length - 1]!]),
  );
  return [
    {},
    allNull,
    { ...large, ...lastCategories },
    { ...negative, ...Object.fromEntries(categoricals.map((f) => [f.name, "never-seen"])) },
    { [numbers[0]!]: 2.5, not_a_model_feature: 123, another_extra: "x" },
    { [numbers[1] ?? numbers[0]!]: 0.1234567, [categoricals[0]?.name ?? "none"]: null },
  ];
}

function encode(features: readonly Feature[], row: Record<string, Value>): number[] {
  return features.map((f) => {
    const value = row[f.name] ?? f.default;
    if (value === undefined || value === null) throw new Error(`no value or default for ${f.name}`);
    if (f.type === "number") return value as number;
    return f.categories!.indexOf(value as string);
  });
}

async function expectedFor(name: (typeof MODELS)[number]) {
  const dir = resolve(ROOT, "models/fixtures", name);
  const manifest = JSON.parse(readFileSync(resolve(dir, "manifest.json"), "utf8")) as Manifest;
  const examples = JSON.parse(readFileSync(resolve(dir, "examples.json"), "utf8")) as {
    examples: { features: Record<string, Value> }[];
  };
  const rows = [...examples.examples.map((e) => e.features), ...extraRows(manifest.features)];
  const k = manifest.features.length;
  const values = new Float32Array(rows.flatMap((r) => encode(manifest.features, r)));
  const session = await ort.InferenceSession.create(resolve(dir, "model.onnx"));
  const out = await session.run(
    { [manifest.input]: new ort.Tensor("float32", values, [rows.length, k]) },
    [manifest.output.name],
  );
  const tensor = out[manifest.output.name]!;
  const width = tensor.dims.length > 1 ? Number(tensor.dims[1]) : 1;
  const data = tensor.data as Float32Array;
  await session.release();
  return {
    model: `models/fixtures/${name}`,
    rows: rows.map((features, i) => ({
      features,
      score: data[i * width + manifest.output.index]!,
    })),
  };
}

const require = createRequire(import.meta.url);
const ortVersion = (require("onnxruntime-node/package.json") as { version: string }).version;

const result = {
  meta: {
    generator: "scripts/golden/onnx-expected.ts",
    runtime: `onnxruntime-node ${ortVersion} (native CPU)`,
    tolerance: 1e-5,
  },
  models: Object.fromEntries(
    await Promise.all(MODELS.map(async (m) => [m, await expectedFor(m)] as const)),
  ),
};
mkdirSync(dirname(OUT), { recursive: true });
writeFileSync(OUT, `${JSON.stringify(result, null, 2)}\n`);
console.log(`wrote ${OUT}`);
