/** Two-sided tabular CUSUM (Page, 1954) on standardised residuals: evidence of steps and slow slides. */

/** Upward evidence after residual `z`: max(0, previous + z − k); k is the allowance in σ. */
export function cusumUp(previous: number, z: number, k: number): number {
  const next = previous + z - k;
  return Math.max(next, 0);
}

/** Downward evidence after residual `z`: max(0, previous − z − k). */
export function cusumDown(previous: number, z: number, k: number): number {
  const next = previous - z - k;
  return Math.max(next, 0);
}
