/** Performance of a model version over one window of labelled predictions (AUC, log loss, Brier, calibration). */

import {
  brierScore,
  type CalibrationBin,
  calibrationTable,
  expectedCalibrationError,
  logLoss,
  rocAuc,
} from "./performance-metrics.ts";

/** Scoring-time window whose predictions all have their final label. */
export interface PerformanceWindow {
  startMs: number;
  endMs: number;
}

export interface PerformanceResult {
  kind: "evaluated";
  window: PerformanceWindow;
  sampleSize: number;
  positiveCount: number;
  /** null when the window holds one class only. */
  auc: number | null;
  logLoss: number;
  brier: number;
  calibration: CalibrationBin[];
  expectedCalibrationError: number;
  /** Settings the values depend on, so a result can be reproduced. */
  logLossEpsilon: number;
  calibrationBins: number;
}

export interface InsufficientLabels {
  kind: "insufficient-data";
  window: PerformanceWindow;
  sampleSize: number;
  minSampleSize: number;
}

export interface PerformanceOptions {
  minSample: number;
  calibrationBins: number;
  logLossEpsilon: number;
}

/**
 * Evaluates one window. `labels[i]` is 1 when prediction i converted within the attribution
 * window, 0 otherwise (including predictions that simply expired unlabelled).
 *
 * @throws ValidationError on scores outside [0, 1], labels other than 0/1 or unequal lengths
 */
export function evaluatePerformance(
  window: PerformanceWindow,
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  options: PerformanceOptions,
): PerformanceResult | InsufficientLabels {
  if (scores.length < options.minSample || scores.length === 0) {
    return {
      kind: "insufficient-data",
      window,
      sampleSize: scores.length,
      minSampleSize: options.minSample,
    };
  }
  const calibration = calibrationTable(scores, labels, options.calibrationBins);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) positives += labels[i] as number;
  return {
    kind: "evaluated",
    window,
    sampleSize: scores.length,
    positiveCount: positives,
    auc: rocAuc(scores, labels),
    logLoss: logLoss(scores, labels, options.logLossEpsilon),
    brier: brierScore(scores, labels),
    calibration,
    expectedCalibrationError: expectedCalibrationError(calibration),
    logLossEpsilon: options.logLossEpsilon,
    calibrationBins: options.calibrationBins,
  };
}
