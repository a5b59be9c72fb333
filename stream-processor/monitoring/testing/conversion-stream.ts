/** Test workload: the synthetic conversion data scored by the demo model (conversion/1), with ground-truth labels. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { PredictionRecord } from "#core/scoring";
import {
  type ConversionFeatures,
  type DriftSpec,
  encodeFeatures,
  iterateRows,
} from "../../../models/synthetic/conversion-data";
import { RECIPES, trainModel } from "../../../models/train-models";

export const DEMO_MANIFEST_PATH = resolve(
  import.meta.dirname,
  "../../../models/conversion/1/manifest.json",
);

/** The demo model's manifest as shipped. */
export function demoManifest(): Record<string, unknown> {
  return JSON.parse(readFileSync(DEMO_MANIFEST_PATH, "utf8")) as Record<string, unknown>;
}

let scorer: ((x: ConversionFeatures) => number) | undefined;

/**
 * The demo model's score: its recipe retrained (deterministic: the same logistic weights as
 * models/conversion/1/model.onnx), checked against the shipped examples on first use.
 */
export function demoScore(x: ConversionFeatures): number {
  if (scorer === undefined) {
    const model = trainModel(RECIPES.find((r) => r.dir === "conversion/1")!);
    const score = (f: ConversionFeatures) => model.predict(encodeFeatures(f));
    const examples = JSON.parse(
      readFileSync(
        resolve(import.meta.dirname, "../../../models/conversion/1/examples.json"),
        "utf8",
      ),
    ) as { tolerance: number; examples: { features: ConversionFeatures; score: number }[] };
    for (const e of examples.examples) {
      if (Math.abs(score(e.features) - e.score) > examples.tolerance) {
        throw new Error(
          "the retrained demo model does not reproduce models/conversion/1/examples.json",
        );
      }
    }
    scorer = score;
  }
  return scorer(x);
}

export interface ScoredRow {
  predictionId: string;
  features: ConversionFeatures;
  score: number;
  /** Ground truth: did this visitor convert. */
  label: 0 | 1;
  predictedAtMs: number;
}

/** `n` scored rows, one every `stepMs` of scoring time from `startMs`. */
export function scoredRows(options: {
  seed: number;
  n: number;
  startMs: number;
  stepMs: number;
  idPrefix: string;
  drift?: DriftSpec;
}): ScoredRow[] {
  const rows = iterateRows({
    seed: options.seed,
    ...(options.drift ? { drift: options.drift } : {}),
  });
  const out: ScoredRow[] = [];
  for (let i = 0; i < options.n; i++) {
    const r = rows.next().value;
    out.push({
      predictionId: `${options.idPrefix}-${i}`,
      features: r.features,
      score: demoScore(r.features),
      label: r.label,
      predictedAtMs: options.startMs + i * options.stepMs,
    });
  }
  return out;
}

/** The `predictions` topic record of a scored row. */
export function predictionRecord(
  tenant: string,
  row: ScoredRow,
  model = "conversion",
  version = "1",
): PredictionRecord {
  return {
    schemaVersion: 1,
    tenant,
    predictionId: row.predictionId,
    model,
    version,
    features: { ...row.features },
    score: row.score,
    scoredAt: new Date(row.predictedAtMs).toISOString(),
  };
}

/** Drift on two features: time on site stretched, traffic shifted to social. */
export const TWO_FEATURE_DRIFT: DriftSpec = {
  features: {
    time_on_site_s: { scale: 1.8 },
    traffic_source: { mix: { organic: 1, paid_search: 1, social: 6, email: 1, direct: 1 } },
  },
};
