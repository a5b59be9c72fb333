/**
 * Benchmark-only Worker (never deployed): times ORT inference and feature encoding inside a
 * workerd isolate, with the same adapter and encoder the Driftline Worker uses.
 * GET /?model=linear&rows=100&runs=2000&repeats=7 → microseconds per row (min and median of repeats).
 */

import { parseModelManifest } from "#core/model-manifest";
import { buildFeatureMatrix } from "#core/scoring";
import conversionExamples from "../../models/conversion/1/examples.json";
import conversionManifest from "../../models/conversion/1/manifest.json";
import conversionModel from "../../models/conversion/1/model.onnx";
import gbtManifest from "../../models/fixtures/gbt/manifest.json";
import gbtModel from "../../models/fixtures/gbt/model.onnx";
import linearManifest from "../../models/fixtures/linear/manifest.json";
import linearModel from "../../models/fixtures/linear/model.onnx";
import mlpManifest from "../../models/fixtures/mlp/manifest.json";
import mlpModel from "../../models/fixtures/mlp/model.onnx";
import { OnnxModelRuntime } from "../../src/scoring/onnx-model-runtime";
import { onnxRuntime } from "../../src/scoring/onnx-runtime";
import type { LoadedModel } from "../../src/scoring/scoring-ports";

const MODELS = {
  conversion: { bytes: conversionModel, manifest: conversionManifest },
  linear: { bytes: linearModel, manifest: linearManifest },
  mlp: { bytes: mlpModel, manifest: mlpManifest },
  gbt: { bytes: gbtModel, manifest: gbtManifest },
} as const;

const runtime = new OnnxModelRuntime(onnxRuntime);
const loaded = new Map<string, Promise<LoadedModel>>();

/** Times `fn` over `runs` calls; workerd's clock is coarse (1 ms), so runs must be many. */
async function time(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  return performance.now() - started;
}

/**
 * Minimum and median of `repeats` timings. Other processes on a shared machine only ever add
 * time, so the minimum is the best estimate of the cost itself; the median shows the noise.
 */
async function timings(
  repeats: number,
  runs: number,
  fn: () => Promise<unknown>,
): Promise<{ minMs: number; medianMs: number }> {
  const times: number[] = [];
  for (let r = 0; r < repeats; r++) times.push(await time(runs, fn));
  times.sort((a, b) => a - b);
  return { minMs: times[0]!, medianMs: times[Math.floor(repeats / 2)]! };
}

// Workers require the handler object as the module's default export.
export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const name = (url.searchParams.get("model") ?? "conversion") as keyof typeof MODELS;
    const rows = Number(url.searchParams.get("rows") ?? "1");
    const runs = Number(url.searchParams.get("runs") ?? "1000");
    const repeats = Number(url.searchParams.get("repeats") ?? "7");
    const model = MODELS[name];
    if (!model) return new Response(`unknown model ${name}`, { status: 400 });
    const manifest = parseModelManifest(model.manifest);
    let session = loaded.get(name);
    if (!session) {
      session = runtime.load(model.bytes, manifest);
      loaded.set(name, session);
    }
    const ready = await session;
    const inputs = Array.from({ length: rows }, (_, i) => ({
      features: conversionExamples.examples[i % conversionExamples.examples.length]!.features,
    }));
    const encode = () => {
      const matrix = buildFeatureMatrix(manifest.features, inputs, () => "features");
      if (!matrix.ok) throw new Error(JSON.stringify(matrix.issues));
      return matrix.values;
    };
    const values = encode();
    const warmup = Math.max(20, Math.floor(runs / 20));
    await time(warmup, () => ready.score(values, rows));
    const inference = await timings(repeats, runs, () => ready.score(values, rows));
    const encodeAndInfer = await timings(repeats, runs, () => ready.score(encode(), rows));
    const perRow = (ms: number) => (ms * 1000) / (runs * rows);
    return Response.json({
      model: name,
      rows,
      runs,
      repeats,
      inferenceUsPerRow: { min: perRow(inference.minMs), median: perRow(inference.medianMs) },
      encodeAndInferUsPerRow: {
        min: perRow(encodeAndInfer.minMs),
        median: perRow(encodeAndInfer.medianMs),
      },
    });
  },
} satisfies ExportedHandler;
