/**
 * The always-valid mixture sequential probability ratio test (mSPRT) on a difference of means,
 * after Johari, Koomen, Pekelis & Walsh, "Always Valid Inference" (Operations Research, 2022),
 * with a normal mixing distribution N(0, τ²) over the difference.
 */

/** Outcomes of one arm so far: count, mean and (population) variance of the per-row metric. */
export interface ArmStats {
  n: number;
  mean: number;
  variance: number;
}

export interface MsprtResult {
  /** Mixture likelihood ratio Λ of "the means differ" against "they are equal". */
  likelihoodRatio: number;
  /** min(1, 1/Λ) at this look; an always-valid p-value is the running minimum over looks. */
  pValue: number;
  /** mean(b) − mean(a). */
  difference: number;
  /** Variance of that difference: σa²/na + σb²/nb. */
  differenceVariance: number;
}

/**
 * Λ = √(V / (V + τ²)) · exp(τ² Δ² / (2 V (V + τ²))), Δ the observed difference of means and V
 * its variance. With equal arms (n each, variance σ²) this is the paper's two-sample form
 * √(2σ² / (2σ² + nτ²)) · exp(n²τ²Δ² / (4σ²(2σ² + nτ²))). Rejecting "no difference" once
 * Λ ≥ 1/α, at any look, keeps the false-positive rate at most α however often one looks
 * (Ville's inequality); the plug-in variance makes that asymptotic. Computed in logs so that
 * large samples do not overflow.
 */
export function msprt(a: ArmStats, b: ArmStats, tau: number): MsprtResult {
  if (!(tau > 0)) throw new RangeError(`tau must be positive, got ${tau}`);
  const difference = b.mean - a.mean;
  if (a.n < 2 || b.n < 2) {
    return { likelihoodRatio: 1, pValue: 1, difference, differenceVariance: Number.NaN };
  }
  // A floor on the variance: identical outcomes in an arm would otherwise make any difference
  // infinitely significant.
  const v = Math.max(a.variance, 1e-12) / a.n + Math.max(b.variance, 1e-12) / b.n;
  const t2 = tau * tau;
  const logLambda =
    0.5 * Math.log(v / (v + t2)) + (t2 * difference * difference) / (2 * v * (v + t2));
  const likelihoodRatio = Math.exp(logLambda);
  return {
    likelihoodRatio,
    pValue: Math.min(1, Math.exp(-logLambda)),
    difference,
    differenceVariance: v,
  };
}
