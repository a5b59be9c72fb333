/** Population Stability Index on frozen reference bins, with explicit epsilon smoothing. */

import { ValidationError } from "../errors.ts";
import { binCountOf, type ReferenceBins } from "./reference-bins.ts";
import { assertCounts, assertNumberOption, sumOf } from "./validate.ts";

/** Default smoothing added to every bin proportion before the logarithm. */
export const DEFAULT_PSI_EPSILON = 1e-4;

/** Conventional PSI bands: < 0.1 stable, 0.1 – 0.25 moderate shift, ≥ 0.25 significant shift. */
export type PsiBand = "stable" | "moderate" | "significant";

/** Band boundaries: [0, 0.1) stable, [0.1, 0.25) moderate, [0.25, ∞) significant. */
export const PSI_BANDS = { moderate: 0.1, significant: 0.25 } as const;

/** The band a PSI value falls in. */
export function psiBand(value: number): PsiBand {
  if (value >= PSI_BANDS.significant) return "significant";
  if (value >= PSI_BANDS.moderate) return "moderate";
  return "stable";
}

/** Input of {@link computePsi}: per-bin weights of the reference and the current window. */
export interface PsiInput {
  /**
   * Reference weights per bin: training counts, or proportions (they are normalised, so both
   * give the same PSI).
   */
  referenceCounts: ArrayLike<number>;
  /** Current window counts per bin, same length and bin order as the reference. */
  currentCounts: ArrayLike<number>;
  /** The bins the counts were taken on; stored with the result so it can be reproduced. */
  bins?: ReferenceBins;
}

/** Options of {@link computePsi}. */
export interface PsiOptions {
  /** Smoothing ε in [0, 0.1], default 1e-4. ε = 0 gives +∞ when a bin is empty on one side only. */
  epsilon?: number;
}

/**
 * A PSI value with everything used to compute it: recompute with
 * `computePsi({ referenceCounts, currentCounts }, { epsilon })` to get the same `value`.
 */
export interface PsiResult {
  kind: "psi";
  /** PSI = Σ (q_i − p_i)·ln(q_i / p_i) over the smoothed proportions (natural log, ≥ 0). */
  value: number;
  band: PsiBand;
  epsilon: number;
  /** The frozen bins, when the caller gave them. */
  bins?: ReferenceBins;
  referenceCounts: number[];
  currentCounts: number[];
  /** p_i = (r_i/R + ε) / (1 + kε), k = number of bins: positive and summing to 1. */
  referenceProportions: number[];
  /** q_i = (c_i/C + ε) / (1 + kε). */
  currentProportions: number[];
  /** Per-bin contributions (q_i − p_i)·ln(q_i / p_i), each ≥ 0; they sum to `value`. */
  terms: number[];
}

/**
 * Population Stability Index of the current window against the reference, on the same bins.
 *
 * Proportions are smoothed additively so that empty bins give a finite PSI and the smoothed
 * proportions still sum to 1: p_i = (r_i/R + ε)/(1 + kε), q_i = (c_i/C + ε)/(1 + kε).
 * PSI = Σ (q_i − p_i)·ln(q_i/p_i) (natural logarithm).
 *
 * @throws ValidationError when counts are negative/non-finite, lengths differ, a side has a
 *   zero total, the bins do not match the counts, or ε is out of range
 */
export function computePsi(input: PsiInput, options: PsiOptions = {}): PsiResult {
  const epsilon = options.epsilon ?? DEFAULT_PSI_EPSILON;
  assertNumberOption(epsilon, "epsilon", { min: 0, max: 0.1 });
  const { referenceCounts, currentCounts, bins } = input;
  assertCounts(referenceCounts, "referenceCounts");
  assertCounts(currentCounts, "currentCounts");
  const k = referenceCounts.length;
  if (currentCounts.length !== k) {
    throw new ValidationError(
      `currentCounts has ${currentCounts.length} bins but referenceCounts has ${k}: both must be counted on the same bins`,
      [{ field: "currentCounts", message: `expected ${k} bins` }],
    );
  }
  if (bins !== undefined && binCountOf(bins) !== k) {
    throw new ValidationError(
      `bins define ${binCountOf(bins)} bins but the counts have ${k}: counts must come from these bins`,
      [{ field: "bins", message: `expected bins with ${k} bins` }],
    );
  }
  const refTotal = sumOf(referenceCounts);
  const curTotal = sumOf(currentCounts);
  if (!(refTotal > 0)) {
    throw new ValidationError("referenceCounts are all zero: the reference needs observations", [
      { field: "referenceCounts", message: "must have a positive total" },
    ]);
  }
  if (!(curTotal > 0)) {
    throw new ValidationError(
      "currentCounts are all zero: PSI needs at least one current observation",
      [{ field: "currentCounts", message: "must have a positive total" }],
    );
  }
  const norm = 1 + k * epsilon;
  const referenceProportions = new Array<number>(k);
  const currentProportions = new Array<number>(k);
  const terms = new Array<number>(k);
  let value = 0;
  for (let i = 0; i < k; i++) {
    const p = ((referenceCounts[i] as number) / refTotal + epsilon) / norm;
    const q = ((currentCounts[i] as number) / curTotal + epsilon) / norm;
    // p = q gives 0·ln(1) = 0; with ε = 0 an empty bin on one side gives +∞ (and 0·ln 0 := 0)
    const term = p === q ? 0 : (q - p) * Math.log(q / p);
    referenceProportions[i] = p;
    currentProportions[i] = q;
    terms[i] = term;
    value += term;
  }
  const result: PsiResult = {
    kind: "psi",
    value,
    band: psiBand(value),
    epsilon,
    referenceCounts: Array.from(referenceCounts),
    currentCounts: Array.from(currentCounts),
    referenceProportions,
    currentProportions,
    terms,
  };
  if (bins !== undefined) result.bins = bins;
  return result;
}
