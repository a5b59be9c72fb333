/** Benchmark: one monitoring drift evaluation of a model version with 30 features (+ score) over its sliding window, as the stream processor runs it. */

// Usage: npx tsx test/bench/drift-eval.ts [--repeats 21]
// What one evaluation costs in monitoring (the statistics alone: test/bench/drift.ts):
//   read the window's columns out of the ring buffer (one copy per column),
//   evaluateModelDrift (PSI + KS + JS per column against the manifest reference),
//   driftResultRows (the drift_results rows) and observeDriftEvaluation (levels, alerts, policy).
// 25 numeric features (10k-value KS reference samples, 10 quantile bins) and 5 categorical ones;
// window sizes 1k, 10k and 100k. Target: ≤ 10 ms at 10k.

import { parseArgs } from "node:util";
import { parseModelManifest } from "#core/model-manifest";
import {
  driftResultRows,
  evaluateModelDrift,
  initialMonitorState,
  observeDriftEvaluation,
  PredictionWindow,
  policyFromSettings,
  prepareModelReference,
  resolveMonitoringSettings,
} from "#core/monitoring";
import { buildCategoricalReference, buildNumericReference, seededRandom } from "#core/stats";
import { median } from "./bench-support";

const NUMERIC = 25;
const CATEGORICAL = 5;
const TRAINING_ROWS = 50_000;
const SIZES = [1_000, 10_000, 100_000];
const CATEGORIES = ["a", "b", "c", "d", "e", "f", "g", "h"];

const { values: args } = parseArgs({ options: { repeats: { type: "string", default: "21" } } });
const repeats = Number(args.repeats);
if (!Number.isInteger(repeats) || repeats < 3) {
  console.error("--repeats must be an integer ≥ 3");
  process.exit(1);
}

const rnd = seededRandom(7);
const normal = () => Math.sqrt(-2 * Math.log(rnd() || 1e-12)) * Math.cos(2 * Math.PI * rnd());
/** Feature i's value; `shift` moves every fifth numeric feature and the first categorical one. */
function value(i: number, shift: number): number | string {
  if (i >= NUMERIC) {
    const skew = i === NUMERIC ? shift : 0;
    return CATEGORIES[Math.min(7, Math.floor(rnd() ** (1 + skew) * 8))] as string;
  }
  const s = i % 5 === 0 ? shift : 0;
  switch (i % 4) {
    case 0:
      return 10 + 3 * normal() + 3 * s;
    case 1:
      return Math.exp(0.8 * normal() + 0.8 * s);
    case 2:
      return Math.floor(rnd() * 7 + 2 * s);
    default:
      return Math.round((normal() + s) * 100) / 100;
  }
}

const names = Array.from({ length: NUMERIC + CATEGORICAL }, (_, i) => `f${i}`);
const t0 = performance.now();
const features = names.map((name, i) =>
  i < NUMERIC
    ? { name, type: "number" as const }
    : { name, type: "categorical" as const, categories: CATEGORIES },
);
const reference = {
  rows: TRAINING_ROWS,
  features: Object.fromEntries(
    names.map((name, i) => {
      const training = Array.from({ length: TRAINING_ROWS }, () => value(i, 0));
      return [
        name,
        i < NUMERIC
          ? buildNumericReference(training as number[], { sampleSize: 10_000, seed: i + 1 })
          : buildCategoricalReference(training as string[]),
      ];
    }),
  ),
  score: buildNumericReference(
    Array.from({ length: TRAINING_ROWS }, () => 1 / (1 + Math.exp(-normal()))),
    { sampleSize: 10_000 },
  ),
};
const manifest = parseModelManifest({
  output: { name: "probability" },
  features,
  reference,
  trainedAt: "2026-11-01T00:00:00Z",
  training: { metrics: { auc: 0.85 } },
});
const t1 = performance.now();
const model = prepareModelReference(manifest);
const t2 = performance.now();

console.log(
  `Monitoring drift evaluation: ${NUMERIC} numeric + ${CATEGORICAL} categorical features + score, ` +
    `KS reference samples of 10,000, ${repeats} repeats, Node ${process.version}`,
);
console.log(
  `One-time per model version: build reference ${(t1 - t0).toFixed(0)} ms, prepare ${(t2 - t1).toFixed(1)} ms\n`,
);
console.log("window    median ms  min ms  p90 ms  CPU median ms  (of which statistics ms)");
let sink = 0;
for (const size of SIZES) {
  const settings = resolveMonitoringSettings({
    sliding: { size, stride: Math.ceil(size / 10), minSample: Math.ceil(size / 2) },
  });
  const ctx = {
    tenant: "bench",
    model: "m",
    version: "1",
    settings,
    policy: policyFromSettings(settings.retrain),
    trainedAtMs: Date.parse("2026-11-01T00:00:00Z"),
    baselineAuc: 0.85,
    nowMs: Date.parse("2026-11-22T00:00:00Z"),
    lastRetrainRequestedAtMs: undefined,
  };
  const window = new PredictionWindow(model.windowColumns, size);
  for (let r = 0; r < size; r++) {
    const f: Record<string, number | string> = {};
    for (let i = 0; i < names.length; i++) f[names[i] as string] = value(i, 0.4);
    window.push({ features: f, score: 1 / (1 + Math.exp(-normal())), predictedAtMs: r });
  }
  const n = size >= 100_000 ? Math.max(3, Math.floor(repeats / 3)) : repeats;
  const wall: number[] = [];
  const cpu: number[] = [];
  const stats: number[] = [];
  for (let k = 0; k < n + 3; k++) {
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    const columns = new Map(model.columns.map((c) => [c.name, window.columnValues(c.name)]));
    const s0 = performance.now();
    const evaluation = evaluateModelDrift(
      model,
      (c) => columns.get(c.name) as (number | string | null)[],
      { kind: "sliding", startMs: 0, endMs: size, size },
      settings.drift,
    );
    const s1 = performance.now();
    const rows = driftResultRows(evaluation);
    const step = observeDriftEvaluation(initialMonitorState(), evaluation, ctx);
    const w1 = performance.now();
    const c = process.cpuUsage(c0);
    sink += rows.length + step.alerts.length;
    if (k < 3) continue; // warm-up
    wall.push(w1 - w0);
    cpu.push((c.user + c.system) / 1000);
    stats.push(s1 - s0);
  }
  const sorted = [...wall].sort((a, b) => a - b);
  console.log(
    `${size.toLocaleString("en").padStart(7)}  ${median(wall).toFixed(2).padStart(9)}  ${sorted[0]!.toFixed(2).padStart(6)}  ` +
      `${sorted[Math.floor(0.9 * (sorted.length - 1))]!.toFixed(2).padStart(6)}  ${median(cpu).toFixed(2).padStart(13)}  ${median(stats).toFixed(2).padStart(10)}`,
  );
}
if (sink < 0) console.log(sink);
