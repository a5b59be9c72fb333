/** Jensen–Shannon distance between two discrete distributions, as scipy.spatial.distance.jensenshannon. */

import { ValidationError } from "../errors.ts";
import { assertCounts, assertNumberOption, sumOf } from "./validate.ts";

/** Options of {@link jensenShannonDistance}. */
export interface JensenShannonOptions {
  /**
   * Logarithm base. Omitted (the default) means the natural logarithm, as scipy's `base=None`:
   * the distance then lies in [0, √ln 2 ≈ 0.8326]. `base: 2` gives [0, 1].
   */
  base?: number;
}

/** Relative entropy term x·ln(x/y) with scipy.special.rel_entr's conventions. */
function relEntr(x: number, y: number): number {
  if (x > 0 && y > 0) return x * Math.log(x / y);
  if (x === 0 && y >= 0) return 0;
  return Number.POSITIVE_INFINITY;
}

/**
 * Jensen–Shannon distance √(JS divergence) between p and q, agreeing with
 * `scipy.spatial.distance.jensenshannon(p, q, base)`: p and q are normalised to sum 1 (so
 * counts work), m = (p + q)/2, JSD = (KL(p‖m) + KL(q‖m))/2, in the given log base.
 * A divergence that rounds below zero is clamped to 0 (scipy would return NaN there).
 *
 * @throws ValidationError when lengths differ, weights are negative/non-finite, a side sums to
 *   zero, or the base is not > 0 and ≠ 1
 */
export function jensenShannonDistance(
  p: ArrayLike<number>,
  q: ArrayLike<number>,
  options: JensenShannonOptions = {},
): number {
  assertCounts(p, "p");
  assertCounts(q, "q");
  if (p.length !== q.length) {
    throw new ValidationError(
      `p has ${p.length} entries and q has ${q.length}: both must be over the same bins`,
      [{ field: "q", message: `expected ${p.length} entries` }],
    );
  }
  const { base } = options;
  if (base !== undefined) {
    assertNumberOption(base, "base", { min: 0, exclusiveMin: true });
    if (base === 1) {
      throw new ValidationError("base is 1: a logarithm base must be positive and not 1", [
        { field: "base", message: "must not be 1" },
      ]);
    }
  }
  const sp = sumOf(p);
  const sq = sumOf(q);
  if (!(sp > 0) || !(sq > 0)) {
    throw new ValidationError(`${sp > 0 ? "q" : "p"} sums to zero: a distribution needs mass`, [
      { field: sp > 0 ? "q" : "p", message: "must have a positive sum" },
    ]);
  }
  let left = 0;
  let right = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = (p[i] as number) / sp;
    const qi = (q[i] as number) / sq;
    const mi = (pi + qi) / 2;
    left += relEntr(pi, mi);
    right += relEntr(qi, mi);
  }
  let js = left + right;
  if (base !== undefined) js /= Math.log(base);
  return Math.sqrt(Math.max(0, js / 2));
}
