/** A retraining set from settled predictions: encoding by the manifest, a time-based holdout, counts and class balance. */
import { encodeFeatureRow, type ManifestFeature } from "../model-manifest.ts";
import type { Matrix } from "../training/design-matrix.ts";

/** One settled prediction as stored: its features as scored, the label, who scored it and when. */
export interface SettledRow {
  features: Readonly<Record<string, unknown>>;
  label: boolean;
  /** Epoch ms of scoring. */
  predictedAtMs: number;
  version: string;
  score: number;
}

export interface TrainingSetOptions {
  /** Share of the newest rows held out for the offline gate (0 < f < 1). Default 0.2. */
  holdoutFraction?: number;
  /** Fewest usable rows to train on at all. */
  minRows: number;
  /** Fewest rows of each class, in the training part and in the holdout. */
  minPerClass: number;
}

export interface TrainingSetCounts {
  /** Settled rows read. */
  rows: number;
  /** Rows whose features could not be encoded by the manifest (dropped). */
  unencodable: number;
  positives: number;
  negatives: number;
  /** positives / (positives + negatives); 0 when empty. */
  positiveRate: number;
  train: { rows: number; positives: number };
  holdout: { rows: number; positives: number };
}

export interface TrainingPart {
  x: Matrix;
  y: Uint8Array;
  rows: SettledRow[];
}

export type TrainingSet =
  | { kind: "insufficient"; counts: TrainingSetCounts; reason: string }
  | {
      kind: "ready";
      counts: TrainingSetCounts;
      train: TrainingPart;
      holdout: TrainingPart;
      /** Epoch ms: the first holdout row's scoring time; every training row is older or equal. */
      holdoutFromMs: number;
    };

/**
 * Encodes `rows` (any order) with the manifest's features and splits them by scoring time: the
 * newest `holdoutFraction` is the holdout, so the gate measures the candidate on traffic later
 * than anything it learned from, as it will be used. Too few rows or too few of a class is an
 * "insufficient" value with the counts, never an exception.
 */
export function prepareTrainingSet(
  features: readonly ManifestFeature[],
  rows: readonly SettledRow[],
  options: TrainingSetOptions,
): TrainingSet {
  const holdoutFraction = options.holdoutFraction ?? 0.2;
  if (!(holdoutFraction > 0 && holdoutFraction < 1)) {
    throw new RangeError(`holdoutFraction must be in (0, 1), got ${holdoutFraction}`);
  }
  const sorted = [...rows].sort((a, b) => a.predictedAtMs - b.predictedAtMs);
  const encoded: { row: SettledRow; values: number[] }[] = [];
  let unencodable = 0;
  for (const row of sorted) {
    const e = encodeFeatureRow(features, row.features as Record<string, number | string | null>);
    if (e.ok) encoded.push({ row, values: e.values });
    else unencodable += 1;
  }
  const holdoutRows = Math.round(encoded.length * holdoutFraction);
  const trainPart = encoded.slice(0, encoded.length - holdoutRows);
  const holdoutPart = encoded.slice(encoded.length - holdoutRows);
  const positivesOf = (part: typeof encoded) => part.filter((e) => e.row.label).length;
  const positives = positivesOf(encoded);
  const counts: TrainingSetCounts = {
    rows: rows.length,
    unencodable,
    positives,
    negatives: encoded.length - positives,
    positiveRate: encoded.length === 0 ? 0 : positives / encoded.length,
    train: { rows: trainPart.length, positives: positivesOf(trainPart) },
    holdout: { rows: holdoutPart.length, positives: positivesOf(holdoutPart) },
  };
  const short: string[] = [];
  if (encoded.length < options.minRows) {
    short.push(`${encoded.length} usable settled rows, at least ${options.minRows} needed`);
  }
  for (const [name, part] of [
    ["training part", counts.train],
    ["holdout", counts.holdout],
  ] as const) {
    const negatives = part.rows - part.positives;
    if (part.positives < options.minPerClass || negatives < options.minPerClass) {
      short.push(
        `the ${name} has ${part.positives} positives and ${negatives} negatives, at least ${options.minPerClass} of each needed`,
      );
    }
  }
  if (short.length > 0) return { kind: "insufficient", counts, reason: short.join("; ") };
  return {
    kind: "ready",
    counts,
    train: toPart(trainPart, features.length),
    holdout: toPart(holdoutPart, features.length),
    holdoutFromMs: holdoutPart[0]?.row.predictedAtMs ?? Number.POSITIVE_INFINITY,
  };
}

function toPart(
  part: readonly { row: SettledRow; values: number[] }[],
  cols: number,
): TrainingPart {
  const data = new Float64Array(part.length * cols);
  const y = new Uint8Array(part.length);
  part.forEach((e, i) => {
    data.set(e.values, i * cols);
    y[i] = e.row.label ? 1 : 0;
  });
  return { x: { rows: part.length, cols, data }, y, rows: part.map((e) => e.row) };
}

/**
 * The rows of the training window: those scored since `sinceMs` (when drift began), unless
 * fewer than `minRows` are, in which case the newest `minRows` rows, however old: a fresh drift
 * with few settled labels borrows older rows rather than training on too few.
 */
export function selectTrainingWindow(
  rows: readonly SettledRow[],
  sinceMs: number | null,
  minRows: number,
): { rows: SettledRow[]; window: "since-drift" | "newest"; sinceMs: number | null } {
  if (sinceMs === null) return { rows: [...rows], window: "newest", sinceMs };
  const recent = rows.filter((r) => r.predictedAtMs >= sinceMs);
  if (recent.length >= minRows) return { rows: recent, window: "since-drift", sinceMs };
  const newest = [...rows].sort((a, b) => b.predictedAtMs - a.predictedAtMs).slice(0, minRows);
  return { rows: newest, window: "newest", sinceMs };
}
