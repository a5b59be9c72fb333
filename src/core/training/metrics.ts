/** Holdout metrics of a probabilistic binary classifier: ROC AUC, log loss, Brier score. */

export interface ClassifierMetrics {
  auc: number;
  logLoss: number;
  brier: number;
}

/**
 * ROC AUC as the Mann–Whitney statistic with average ranks for tied scores (what scikit-learn's
 * roc_auc_score computes). NaN when only one class is present.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Mean negative log-likelihood; probabilities clipped to [1e-15, 1 − 1e-15] like scikit-learn. */
export function logLoss(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < probabilities.length; i++) {
    const p = Math.min(1 - 1e-15, Math.max(1e-15, probabilities[i]!));
    sum -= labels[i] === 1 ? Math.log(p) : Math.log(1 - p);
  }
  return sum / probabilities.length;
}

/** Mean squared difference between probability and outcome. */
export function brierScore(probabilities: ArrayLike<number>, labels: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < probabilities.length; i++) sum += (probabilities[i]! - labels[i]!) ** 2;
  return sum / probabilities.length;
}

export function classifierMetrics(
  probabilities: ArrayLike<number>,
  labels: ArrayLike<number>,
): ClassifierMetrics {
  return {
    auc: rocAuc(probabilities, labels),
    logLoss: logLoss(probabilities, labels),
    brier: brierScore(probabilities, labels),
  };
}
