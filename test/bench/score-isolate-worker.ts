/**
 * Benchmark-only Worker (never deployed): times inference, feature encoding and explanations
 * inside a workerd isolate, with the same adapters and encoder the Driftline Worker uses.
 * GET /?model=linear&rows=100&runs=2000&repeats=7 → microseconds per row (min and median of
 * repeats) for ORT alone, the Worker's scorer (the direct evaluator where the graph allows) and
 * encoding + scoring. GET /explain?model=gbt&runs=200 → microseconds per explained row.
 * POST /model?name=… with { manifest, bytes (base64) } adds a model built by the benchmark.
 */

import { type ModelManifest, parseModelManifest } from "#core/model-manifest";
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

const MODELS: Record<string, { bytes: ArrayBuffer; manifest: unknown }> = {
  conversion: { bytes: conversionModel, manifest: conversionManifest },
  linear: { bytes: linearModel, manifest: linearManifest },
  mlp: { bytes: mlpModel, manifest: mlpManifest },
  gbt: { bytes: gbtModel, manifest: gbtManifest },
};

/** The Worker's runtime (direct evaluator where verified) and ORT alone, side by side. */
const runtime = new OnnxModelRuntime(onnxRuntime);
const ortOnly = new OnnxModelRuntime(onnxRuntime, { direct: false });
const loaded = new Map<string, Promise<{ worker: LoadedModel; ort: LoadedModel }>>();

function load(name: string, manifest: ModelManifest) {
  let pending = loaded.get(name);
  if (!pending) {
    const bytes = MODELS[name]!.bytes;
    pending = Promise.all([runtime.load(bytes, manifest), ortOnly.load(bytes, manifest)]).then(
      ([worker, ort]) => ({ worker, ort }),
    );
    loaded.set(name, pending);
  }
  return pending;
}

/** Rows for `model`: the demo examples for the conversion-feature models, else the background. */
function inputsFor(manifest: ModelManifest, rows: number) {
  if (manifest.features[0]?.name === "sessions_7d") {
    return Array.from({ length: rows }, (_, i) => ({
      features: conversionExamples.examples[i % conversionExamples.examples.length]!.features,
    }));
  }
  const background = manifest.background ?? [[]];
  return Array.from({ length: rows }, (_, i) => {
    const row = background[(i * 7 + 3) % background.length]!;
    return { features: Object.fromEntries(manifest.features.map((f, c) => [f.name, row[c]])) };
  });
}

/** Times `fn` over `runs` calls; workerd's clock is coarse (1 ms), so runs must be many. */
async function time(runs: number, fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < runs; i++) await fn();
  return performance.now() - started;
}

/** Runs per timed loop: at least `runs`, more until a loop takes 20 ms (the clock ticks in 1 ms). */
async function calibrate(runs: number, fn: () => Promise<unknown>): Promise<number> {
  let n = runs;
  while (n < 10_000_000 && (await time(n, fn)) < 20) n *= 4;
  return n;
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
    if (request.method === "POST" && url.pathname === "/model") {
      const body = (await request.json()) as { manifest: unknown; bytes: string };
      const binary = atob(body.bytes);
      const bytes = Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
      MODELS[url.searchParams.get("name")!] = { bytes: bytes.buffer, manifest: body.manifest };
      return new Response(null, { status: 204 });
    }
    const name = url.searchParams.get("model") ?? "conversion";
    const rows = Number(url.searchParams.get("rows") ?? "1");
    const runs = Number(url.searchParams.get("runs") ?? "1000");
    const repeats = Number(url.searchParams.get("repeats") ?? "7");
    const model = MODELS[name];
    if (!model) return new Response(`unknown model ${name}`, { status: 400 });
    const manifest = parseModelManifest(model.manifest);
    const { worker, ort } = await load(name, manifest);
    const inputs = inputsFor(manifest, rows);
    if (url.pathname === "/explain") {
      const matrix = buildFeatureMatrix(manifest.features, inputs, () => "features");
      if (!matrix.ok) throw new Error(JSON.stringify(matrix.issues));
      const explain = async () => {
        const out = await worker.explain(matrix.values, rows);
        if (!out.ok) throw new Error(out.reason);
        return out.explanations;
      };
      const sample = await explain();
      const n = await calibrate(runs, explain);
      const t = await timings(repeats, n, explain);
      const perRow = (ms: number) => (ms * 1000) / (n * rows);
      return Response.json({
        model: name,
        method: worker.explanation.method,
        stdError: sample[0]?.stdError,
        usPerRow: { min: perRow(t.minMs), median: perRow(t.medianMs) },
      });
    }
    const ready = worker;
    const encode = () => {
      const matrix = buildFeatureMatrix(manifest.features, inputs, () => "features");
      if (!matrix.ok) throw new Error(JSON.stringify(matrix.issues));
      return matrix.values;
    };
    const values = encode();
    const warmup = Math.max(20, Math.floor(runs / 20));
    await time(warmup, () => ready.score(values, rows));
    await time(warmup, () => ort.score(values, rows));
    // The direct evaluator is far faster than the clock's tick: its loops run more times.
    const scorerRuns = await calibrate(runs, () => ready.score(values, rows));
    const encodeRuns = await calibrate(runs, () => ready.score(encode(), rows));
    const ortInference = await timings(repeats, runs, () => ort.score(values, rows));
    const inference = await timings(repeats, scorerRuns, () => ready.score(values, rows));
    const encodeAndInfer = await timings(repeats, encodeRuns, () => ready.score(encode(), rows));
    const perRow = (ms: number, n = runs) => (ms * 1000) / (n * rows);
    return Response.json({
      model: name,
      rows,
      runs,
      repeats,
      evaluator: ready.evaluator,
      ortUsPerRow: { min: perRow(ortInference.minMs), median: perRow(ortInference.medianMs) },
      inferenceUsPerRow: {
        min: perRow(inference.minMs, scorerRuns),
        median: perRow(inference.medianMs, scorerRuns),
      },
      encodeAndInferUsPerRow: {
        min: perRow(encodeAndInfer.minMs, encodeRuns),
        median: perRow(encodeAndInfer.medianMs, encodeRuns),
      },
    });
  },
} satisfies ExportedHandler;
