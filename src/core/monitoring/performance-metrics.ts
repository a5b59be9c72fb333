/** Performance of a probabilistic binary classifier on labelled predictions: ROC AUC, log loss, Brier, calibration. */

import { ValidationError } from "../errors.ts";

/** Default clipping of probabilities in log loss: [1e-15, 1 − 1e-15], scikit-learn's `eps` up to 1.4. */
export const DEFAULT_LOG_LOSS_EPSILON = 1e-15;
/** Default number of equal-width calibration bins over [0, 1]. */
export const DEFAULT_CALIBRATION_BINS = 10;

/** One calibration bin: predictions whose score lies in [lower, upper) (the last bin includes 1). */
export interface CalibrationBin {
  lower: number;
  upper: number;
  /** Predictions in the bin (only non-empty bins are listed). */
  count: number;
  /** Mean score of the bin's predictions. */
  meanPredicted: number;
  /** Share of the bin's predictions that converted. */
  observedRate: number;
}

function assertInputs(scores: ArrayLike<number>, labels: ArrayLike<number>): void {
  if (scores.length !== labels.length) {
    throw new ValidationError(
      `scores has ${scores.length} values but labels has ${labels.length}: pass one label per score`,
      [{ field: "labels", message: "must be as long as scores" }],
    );
  }
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    if (typeof s !== "number" || !(s >= 0 && s <= 1)) {
      throw new ValidationError(`scores[${i}] is ${String(s)}: scores must be probabilities`, [
        { field: `scores.${i}`, message: "must be a number in [0, 1]" },
      ]);
    }
    const y = labels[i];
    if (y !== 0 && y !== 1) {
      throw new ValidationError(`labels[${i}] is ${String(y)}: labels must be 0 or 1`, [
        { field: `labels.${i}`, message: "must be 0 or 1" },
      ]);
    }
  }
}

/**
 * ROC AUC as the normalised Mann–Whitney U statistic with average ranks for tied scores, which
 * is exactly the area under the ROC curve with ties drawn as diagonal segments (scikit-learn's
 * `roc_auc_score`). `null` when the labels hold a single class (AUC is undefined then).
 *
 * @throws ValidationError when the lengths differ, a score is not in [0, 1] or a label not 0/1
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number | null {
  assertInputs(scores, labels);
  const n = scores.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => (scores[a] as number) - (scores[b] as number));
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    const s = scores[order[i] as number] as number;
    let j = i;
    while (j + 1 < n && scores[order[j + 1] as number] === s) j++;
    // ranks are 1-based: the tied run i..j shares the mean of ranks i+1..j+1
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k] as number] === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Mean negative log-likelihood (natural log) with scores clipped to [ε, 1 − ε], so a confident
 * wrong prediction costs −ln ε instead of infinity.
 *
 * @throws ValidationError on bad inputs (see {@link rocAuc}), an empty sample or a bad ε
 */
export function logLoss(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  epsilon = DEFAULT_LOG_LOSS_EPSILON,
): number {
  assertInputs(scores, labels);
  assertNonEmpty(scores.length);
  if (!(epsilon > 0 && epsilon < 0.5)) {
    throw new ValidationError(`epsilon is ${epsilon}: use a clipping bound in (0, 0.5)`, [
      { field: "epsilon", message: "must be in (0, 0.5)" },
    ]);
  }
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    const p = Math.min(1 - epsilon, Math.max(epsilon, scores[i] as number));
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / scores.length;
}

/**
 * Brier score: mean squared difference between score and label, in [0, 1].
 * @throws ValidationError on bad inputs or an empty sample
 */
export function brierScore(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  assertInputs(scores, labels);
  assertNonEmpty(scores.length);
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    const d = (scores[i] as number) - (labels[i] as number);
    sum += d * d;
  }
  return sum / scores.length;
}

/**
 * Reliability table: `bins` equal-width bins over [0, 1], left-closed ([i/b, (i+1)/b), the last
 * one also holding 1), each with its mean score and observed conversion rate. Only non-empty
 * bins are listed (as scikit-learn's `calibration_curve(strategy="uniform")`, which differs only
 * for a score exactly on an inner edge: it puts such a score in the lower bin).
 *
 * @throws ValidationError on bad inputs or a bin count outside 1..1000
 */
export function calibrationTable(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  bins = DEFAULT_CALIBRATION_BINS,
): CalibrationBin[] {
  assertInputs(scores, labels);
  if (!Number.isInteger(bins) || bins < 1 || bins > 1000) {
    throw new ValidationError(`bins is ${bins}: use a whole number of bins from 1 to 1000`, [
      { field: "bins", message: "must be an integer in 1..1000" },
    ]);
  }
  const count = new Float64Array(bins);
  const sumScore = new Float64Array(bins);
  const sumLabel = new Float64Array(bins);
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i] as number;
    const b = Math.min(bins - 1, Math.floor(s * bins));
    count[b] = (count[b] as number) + 1;
    sumScore[b] = (sumScore[b] as number) + s;
    sumLabel[b] = (sumLabel[b] as number) + (labels[i] as number);
  }
  const table: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const c = count[b] as number;
    if (c === 0) continue;
    table.push({
      lower: b / bins,
      upper: (b + 1) / bins,
      count: c,
      meanPredicted: (sumScore[b] as number) / c,
      observedRate: (sumLabel[b] as number) / c,
    });
  }
  return table;
}

/**
 * Expected calibration error of a reliability table: Σ (count / n) · |observedRate − meanPredicted|.
 * 0 for an empty table.
 */
export function expectedCalibrationError(table: readonly CalibrationBin[]): number {
  let n = 0;
  let sum = 0;
  for (const bin of table) {
    n += bin.count;
    sum += bin.count * Math.abs(bin.observedRate - bin.meanPredicted);
  }
  return n === 0 ? 0 : sum / n;
}

function assertNonEmpty(n: number): void {
  if (n === 0) {
    throw new ValidationError("no labelled predictions: at least one is needed", [
      { field: "scores", message: "must not be empty" },
    ]);
  }
}
