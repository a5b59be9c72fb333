/** Exponential back-off with jitter for retrying an unavailable dependency. */

export interface BackoffSpec {
  initialMs: number;
  maxMs: number;
}

/**
 * Delay before retry `attempt` (1-based): initial · 2^(attempt−1), capped at max, then scaled by
 * a random factor in [0.8, 1.2) so that many consumers do not retry in lockstep.
 */
export function backoffMs(
  attempt: number,
  spec: BackoffSpec,
  random: () => number = Math.random,
): number {
  const exponential = spec.initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30);
  return Math.round(Math.min(spec.maxMs, exponential) * (0.8 + 0.4 * random()));
}
