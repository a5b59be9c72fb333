/**
 * One retraining, pure: settled rows → training set with a time-based holdout → a candidate of
 * the champion's family → the offline gate against the champion's logged scores → the
 * candidate's manifest with a fresh drift reference fitted on its own training data.
 */
import { type ManifestFeature, type ModelManifest, parseModelManifest } from "../model-manifest.ts";
import { classifierMetrics } from "../training/metrics.ts";
import { INPUT_NAME, OUTPUT_NAME } from "../training/onnx/export-onnx.ts";
import { buildReference } from "../training/reference.ts";
import { evaluateOfflineGate, type GateMargins, type GateResult } from "./offline-gate.ts";
import { type TrainableAlgorithm, trainCandidate } from "./train-candidate.ts";
import {
  prepareTrainingSet,
  type SettledRow,
  type TrainingPart,
  type TrainingSetCounts,
  type TrainingSetOptions,
} from "./training-set.ts";

export type RetrainOutcome =
  | { kind: "insufficient"; counts: TrainingSetCounts; reason: string }
  | { kind: "rejected"; counts: TrainingSetCounts; gate: GateResult; reason: string }
  | {
      kind: "candidate";
      counts: TrainingSetCounts;
      gate: GateResult;
      onnx: Uint8Array;
      manifest: ModelManifest;
      reason: string;
    };

export interface RetrainInput {
  /** The champion's manifest: features, their order and encoding. */
  champion: ModelManifest;
  championVersion: string;
  algorithm: TrainableAlgorithm;
  rows: readonly SettledRow[];
  trainingSet: TrainingSetOptions;
  gate: GateMargins;
  seed: number;
  /** ISO time written into the manifest. */
  trainedAt: string;
  /** The ONNX graph's name. */
  graphName: string;
  /** Written into the manifest's `training` facts, e.g. the request id. */
  provenance: Record<string, unknown>;
}

export function retrainCandidate(input: RetrainInput): RetrainOutcome {
  const features = input.champion.features;
  const set = prepareTrainingSet(features, input.rows, input.trainingSet);
  if (set.kind === "insufficient") return set;
  const trained = trainCandidate({
    algorithm: input.algorithm,
    features,
    x: set.train.x,
    y: set.train.y,
    seed: input.seed,
    graphName: input.graphName,
  });
  const predictAll = (part: TrainingPart) => {
    const out = new Float64Array(part.x.rows);
    for (let i = 0; i < part.x.rows; i++) {
      out[i] = trained.predict(part.x.data.subarray(i * part.x.cols, (i + 1) * part.x.cols));
    }
    return out;
  };
  const holdoutScores = predictAll(set.holdout);
  // The champion's side is what it answered for these rows; rows another version scored
  // (an earlier challenger) are left out so both sides are measured on the same rows.
  const same = set.holdout.rows
    .map((r, i) => (r.version === input.championVersion ? i : -1))
    .filter((i) => i >= 0);
  const rowsForGate = same.length > 0 ? same : set.holdout.rows.map((_, i) => i);
  const gate = evaluateOfflineGate({
    candidateScores: rowsForGate.map((i) => holdoutScores[i]!),
    championScores: rowsForGate.map((i) => set.holdout.rows[i]!.score),
    labels: rowsForGate.map((i) => set.holdout.y[i]!),
    margins: input.gate,
  });
  if (!gate.passed) return { kind: "rejected", counts: set.counts, gate, reason: gate.reason };

  const trainScores = predictAll(set.train);
  const metrics = classifierMetrics(holdoutScores, set.holdout.y);
  const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
  const manifest = parseModelManifest({
    ...input.champion,
    description: `${trained.description} Retrained by Driftline on ${set.counts.train.rows} settled predictions.`,
    input: INPUT_NAME,
    output: { name: OUTPUT_NAME, index: trained.outputIndex },
    features,
    trainedAt: input.trainedAt,
    training: {
      algorithm: input.algorithm,
      dataset: "driftline-settled-predictions",
      seed: input.seed,
      rows: set.counts.train.rows,
      holdoutRows: set.counts.holdout.rows,
      metrics: {
        auc: round6(metrics.auc),
        logLoss: round6(metrics.logLoss),
        brier: round6(metrics.brier),
      },
      ...input.provenance,
    },
    reference: buildReference(features, decodeRows(features, set.train), [...trainScores], {
      seed: input.seed,
    }),
  });
  return {
    kind: "candidate",
    counts: set.counts,
    gate,
    onnx: trained.onnx,
    manifest,
    reason: gate.reason,
  };
}

/** The training rows as the scorer received them (categoricals by name, defaults filled in). */
function decodeRows(
  features: readonly ManifestFeature[],
  part: TrainingPart,
): Record<string, number | string>[] {
  const out: Record<string, number | string>[] = [];
  for (let i = 0; i < part.x.rows; i++) {
    const row: Record<string, number | string> = {};
    features.forEach((f, j) => {
      const v = part.x.data[i * part.x.cols + j]!;
      if (f.type === "number") row[f.name] = v;
      else {
        const raw = part.rows[i]!.features[f.name];
        row[f.name] = f.categories[v] ?? (typeof raw === "string" ? raw : "(unknown)");
      }
    });
    out.push(row);
  }
  return out;
}
