/** The explanation of one score: a base and a contribution per feature, in the model's space. */

export type ExplanationSpace = "logit" | "probability";
export type ExplanationMethod = "linear" | "tree" | "permutation";

/** Contributions by input column (manifest feature order); base + Σ = the score in `space`. */
export interface ColumnExplanation {
  base: number;
  contributions: Float64Array;
  space: ExplanationSpace;
  method: ExplanationMethod;
  /** Permutation only: the largest standard error of a contribution (Monte Carlo error). */
  stdError?: number;
}

export interface Explanation {
  base: number;
  contributions: Record<string, number>;
  space: ExplanationSpace;
  method: ExplanationMethod;
  stdError?: number;
}

export interface Reason {
  feature: string;
  contribution: number;
}

/** Names the contributions after the manifest's features, in feature order. */
export function nameContributions(
  column: ColumnExplanation,
  featureNames: readonly string[],
): Explanation {
  const contributions: Record<string, number> = {};
  featureNames.forEach((name, c) => {
    contributions[name] = column.contributions[c] ?? 0;
  });
  return {
    base: column.base,
    contributions,
    space: column.space,
    method: column.method,
    ...(column.stdError === undefined ? {} : { stdError: column.stdError }),
  };
}

/** The k largest contributions by magnitude, signed, largest first (ties in feature order). */
export function topReasons(explanation: Explanation, k: number): Reason[] {
  return Object.entries(explanation.contributions)
    .map(([feature, contribution], order) => ({ feature, contribution, order }))
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution) || a.order - b.order)
    .slice(0, Math.max(0, k))
    .map(({ feature, contribution }) => ({ feature, contribution }));
}
