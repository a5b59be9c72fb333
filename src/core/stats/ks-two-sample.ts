/** Two-sample two-sided Kolmogorov–Smirnov test (statistic D and p-value), matching scipy's ks_2samp. */

import { ValidationError } from "../errors.ts";
import { exactKsTooLarge, exactKsTwoSamplePValue, roundHalfEven } from "./ks-distribution.ts";
import { kstwoSf } from "./ks-one-sample-distribution.ts";
import { assertFiniteSample, assertNumberOption } from "./validate.ts";

/**
 * How the p-value is computed, as in scipy's `ks_2samp(method=...)`:
 * - `"exact"`: the exact null distribution (falls back to `"asymp"` when lcm(n1, n2) ≥ 2³¹−1
 *   or the computation loses precision, as scipy does);
 * - `"asymp"`: scipy's asymptotic method, kstwo.sf(D, round(n1·n2/(n1+n2)));
 * - `"auto"`: exact when max(n1, n2) ≤ `autoExactMaxN` (scipy: 10 000), else asymptotic.
 */
export type KsMethod = "auto" | "exact" | "asymp";

/** scipy's `MAX_AUTO_N`: `"auto"` computes exactly up to this larger-sample size. */
export const SCIPY_AUTO_EXACT_MAX_N = 10_000;

/** Options of {@link ksTwoSample}. */
export interface KsOptions {
  /** Default `"auto"`. */
  method?: KsMethod;
  /**
   * Largest max(n1, n2) for which `"auto"` computes the exact p-value. Default 10 000 (scipy).
   * The exact method costs about max(n1,n2)·2·D·min(n1,n2) steps for unequal sizes (O(n) for
   * equal sizes), so streaming callers may lower it.
   */
  autoExactMaxN?: number;
}

/** Result of a two-sample KS test; everything needed to re-derive the p-value is in it. */
export interface KsResult {
  kind: "ks";
  /** D = sup |F1 − F2| (for the exact method snapped to the lattice k/lcm(n1, n2), as scipy). */
  statistic: number;
  /** Two-sided p-value Pr(D' ≥ D) under H0: both samples come from one continuous distribution. */
  pValue: number;
  /** The method actually used. */
  method: "exact" | "asymp";
  /** The method asked for. */
  requestedMethod: KsMethod;
  /** Size of the first sample (the reference, in drift use). */
  n1: number;
  /** Size of the second sample (the current window, in drift use). */
  n2: number;
  /**
   * scipy's `statistic_sign`: +1 when the maximum is F1 − F2 (the first sample's ECDF lies above,
   * i.e. the second sample drifted to larger values), −1 when it is F2 − F1.
   */
  sign: 1 | -1;
}

/** Running extremes of F1 − F2 over the evaluation points (scipy's maxS and −minS). */
export interface KsExtremes {
  /** max over points of F1 − F2 (≥ 0: the last point has F1 = F2 = 1). */
  maxDiff: number;
  /** max over points of F2 − F1 (≥ 0). */
  minDiff: number;
}

/** D and its sign from the two one-sided extremes, with scipy's tie rule (maxS wins ties). */
export function statisticFromExtremes(ext: KsExtremes): { statistic: number; sign: 1 | -1 } {
  return ext.minDiff > ext.maxDiff
    ? { statistic: ext.minDiff, sign: -1 }
    : { statistic: ext.maxDiff, sign: 1 };
}

/**
 * D for two ascending-sorted samples. ECDFs are right-continuous and evaluated at every data
 * point after all values tied with it (scipy's searchsorted(side="right")), so ties between and
 * within samples are handled as scipy does.
 */
export function ksStatisticSorted(
  sortedA: ArrayLike<number>,
  sortedB: ArrayLike<number>,
): { statistic: number; sign: 1 | -1 } {
  const n1 = sortedA.length;
  const n2 = sortedB.length;
  let i = 0;
  let j = 0;
  let maxDiff = 0;
  let minDiff = 0;
  while (i < n1 || j < n2) {
    const a = i < n1 ? (sortedA[i] as number) : Number.POSITIVE_INFINITY;
    const b = j < n2 ? (sortedB[j] as number) : Number.POSITIVE_INFINITY;
    const v = Math.min(a, b);
    while (i < n1 && sortedA[i] === v) i++;
    while (j < n2 && sortedB[j] === v) j++;
    const diff = i / n1 - j / n2;
    if (diff > maxDiff) maxDiff = diff;
    if (-diff > minDiff) minDiff = -diff;
  }
  return statisticFromExtremes({ maxDiff, minDiff });
}

/** Which method scipy would use for these sizes before trying it. */
export function resolveKsMethod(
  n1: number,
  n2: number,
  method: KsMethod,
  autoExactMaxN: number = SCIPY_AUTO_EXACT_MAX_N,
): "exact" | "asymp" {
  if (method === "auto") return Math.max(n1, n2) <= autoExactMaxN ? "exact" : "asymp";
  if (method === "exact") return exactKsTooLarge(n1, n2) ? "asymp" : "exact";
  return "asymp";
}

/** scipy's asymptotic p-value: the one-sample two-sided distribution at n = round(n1·n2/(n1+n2)). */
export function asymptoticKsPValue(n1: number, n2: number, statistic: number): number {
  const m = Math.max(n1, n2);
  const n = Math.min(n1, n2);
  const en = roundHalfEven((m * n) / (m + n));
  return kstwoSf(en, statistic);
}

/**
 * A complete KS result from D, its sign and the sample sizes. This is the p-value half of
 * {@link ksTwoSample}, for callers that computed D themselves (e.g. against a prepared reference).
 */
export function ksResultFromStatistic(
  statistic: number,
  sign: 1 | -1,
  n1: number,
  n2: number,
  options: KsOptions = {},
): KsResult {
  const requestedMethod = options.method ?? "auto";
  const autoExactMaxN = options.autoExactMaxN ?? SCIPY_AUTO_EXACT_MAX_N;
  let method = resolveKsMethod(n1, n2, requestedMethod, autoExactMaxN);
  let d = statistic;
  // scipy would answer NaN for n1 = n2 = 1 (round(0.5) = 0 degrees of freedom); the exact
  // distribution is well defined there, so Driftline uses it.
  if (method === "asymp" && n1 === 1 && n2 === 1) method = "exact";
  if (method === "exact") {
    const exact = exactKsTwoSamplePValue(n1, n2, d);
    if (exact.ok) {
      return {
        kind: "ks",
        statistic: exact.statistic,
        pValue: exact.pValue,
        method: "exact",
        requestedMethod,
        n1,
        n2,
        sign,
      };
    }
    // scipy keeps the lattice-snapped statistic when it falls back to the asymptotic method
    d = exact.statistic;
  }
  const p = asymptoticKsPValue(n1, n2, d);
  return {
    kind: "ks",
    statistic: d,
    pValue: Math.min(1, Math.max(0, p)),
    method: "asymp",
    requestedMethod,
    n1,
    n2,
    sign,
  };
}

/** Checks KS options, throwing a ValidationError that names the bad field. */
export function assertKsOptions(options: KsOptions, field = "options"): void {
  const { method, autoExactMaxN } = options;
  if (method !== undefined && method !== "auto" && method !== "exact" && method !== "asymp") {
    throw new ValidationError(
      `${field}.method is ${String(method)}: use "auto", "exact" or "asymp"`,
      [{ field: `${field}.method`, message: 'must be "auto", "exact" or "asymp"' }],
    );
  }
  if (autoExactMaxN !== undefined) {
    assertNumberOption(autoExactMaxN, `${field}.autoExactMaxN`, { min: 0, integer: true });
  }
}

/** Ascending copy of a sample as a Float64Array (numeric order; the input is left untouched). */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  const out = Float64Array.from(values);
  out.sort();
  return out;
}

/**
 * Two-sample two-sided Kolmogorov–Smirnov test, agreeing with
 * `scipy.stats.ks_2samp(a, b, alternative="two-sided", method=...)` (D to 1e-12, p to ~1e-9
 * relative in the golden tests).
 *
 * @param a first sample (in drift use: the reference sample), finite numbers, non-empty
 * @param b second sample (the current window), finite numbers, non-empty
 * @throws ValidationError when a sample is empty or holds NaN/±Infinity, or an option is invalid
 */
export function ksTwoSample(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: KsOptions = {},
): KsResult {
  assertFiniteSample(a, "a");
  assertFiniteSample(b, "b");
  assertKsOptions(options);
  const { statistic, sign } = ksStatisticSorted(sortedCopy(a), sortedCopy(b));
  return ksResultFromStatistic(statistic, sign, a.length, b.length, options);
}
