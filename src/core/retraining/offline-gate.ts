/** The offline gate: a candidate and the champion scored on the same holdout rows, compared by AUC and log loss. */
import { type ClassifierMetrics, classifierMetrics } from "../training/metrics.ts";

export interface GateMargins {
  /** The candidate's AUC must be at least the champion's plus this. Default 0. */
  minAucGain: number;
  /** The candidate's log loss must be at most the champion's minus this. Default 0. */
  minLogLossGain: number;
}

export interface GateResult {
  passed: boolean;
  /** Holdout rows both were measured on. */
  rows: number;
  candidate: ClassifierMetrics;
  champion: ClassifierMetrics;
  /** candidate − champion. */
  aucGain: number;
  /** champion − candidate (positive: the candidate is better). */
  logLossGain: number;
  margins: GateMargins;
  reason: string;
}

/**
 * Compares the two on the same rows and labels. The champion's scores are what it actually
 * answered for those rows (the prediction log), so no copy of the champion is needed and the
 * comparison holds for uploaded models too.
 */
export function evaluateOfflineGate(input: {
  candidateScores: ArrayLike<number>;
  championScores: ArrayLike<number>;
  labels: ArrayLike<number>;
  margins: GateMargins;
}): GateResult {
  const { candidateScores, championScores, labels, margins } = input;
  if (candidateScores.length !== labels.length || championScores.length !== labels.length) {
    throw new RangeError("candidate scores, champion scores and labels must be as many");
  }
  const candidate = classifierMetrics(candidateScores, labels);
  const champion = classifierMetrics(championScores, labels);
  const aucGain = candidate.auc - champion.auc;
  const logLossGain = champion.logLoss - candidate.logLoss;
  const failures: string[] = [];
  if (!(aucGain >= margins.minAucGain)) {
    failures.push(
      `AUC ${fmt(candidate.auc)} vs champion ${fmt(champion.auc)} (gain ${fmt(aucGain)}, needs ≥ ${margins.minAucGain})`,
    );
  }
  if (!(logLossGain >= margins.minLogLossGain)) {
    failures.push(
      `log loss ${fmt(candidate.logLoss)} vs champion ${fmt(champion.logLoss)} (gain ${fmt(logLossGain)}, needs ≥ ${margins.minLogLossGain})`,
    );
  }
  const passed = failures.length === 0;
  return {
    passed,
    rows: labels.length,
    candidate,
    champion,
    aucGain,
    logLossGain,
    margins,
    reason: passed
      ? `candidate beats the champion on ${labels.length} holdout rows: AUC ${fmt(candidate.auc)} vs ${fmt(champion.auc)}, log loss ${fmt(candidate.logLoss)} vs ${fmt(champion.logLoss)}`
      : `candidate below the gate on ${labels.length} holdout rows: ${failures.join("; ")}`,
  };
}

const fmt = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));
