/** Seasonal buckets (hour of day × day of week) and the decayed streaming median/MAD kept in each. */

const HOUR_MS = 3_600_000;
const DAY_HOURS = 24;
/** 1970-01-01 (epoch day 0) was a Thursday; with Sunday = 0 that is day 4. */
const EPOCH_WEEKDAY = 4;

/** Buckets of the weekly profile: 7 days × 24 hours, Sunday 00:00 first. */
export const WEEK_BUCKETS = 168;
/** Buckets of the daily profile: 24 hours. */
export const DAY_BUCKETS = 24;

/** Hour of the week (0 = Sunday 00:00–01:00) of `tMs` shifted by `offsetMs` (the series' time zone). */
export function hourOfWeek(tMs: number, offsetMs = 0): number {
  const hours = Math.floor((tMs + offsetMs) / HOUR_MS);
  const day = Math.floor(hours / DAY_HOURS);
  const weekday = (((day + EPOCH_WEEKDAY) % 7) + 7) % 7;
  const hour = ((hours % DAY_HOURS) + DAY_HOURS) % DAY_HOURS;
  return weekday * DAY_HOURS + hour;
}

/** 1.4826 · MAD estimates the standard deviation of normal data. */
export const MAD_TO_SIGMA = 1.4826;

/**
 * Moves one bucket's median (at `values[med]`) and MAD (at `values[mad]`) towards the new
 * observation `x`; `n` is how many observations the bucket had before. With `learnMad` false
 * the MAD at `mad` is only read, as the step's scale (a bucket that borrows another's spread).
 *
 * The first `exactPoints` observations of a bucket set a running mean and mean absolute
 * deviation (fast to settle from nothing; no alert is raised that early). After that each
 * observation moves the median by `rate · step · sign(x − m)` and the MAD by
 * `rate · step · sign(|x − m| − s)`: stochastic approximation of the 0.5 quantile, whose fixed
 * point is where half the observations lie on each side, so the estimates are the median and
 * the MAD of the recent observations, with memory ≈ 1 / rate observations (the decay) and no
 * pull from outliers larger than one step. `step` is the bucket's scale (floored), so the
 * estimate moves in units of the data's own spread.
 *
 * Written here: no streaming robust-quantile package with decay fits in a fixed two floats a
 * bucket (t-digest and friends keep centroids, far too large per seasonal bucket).
 */
export function updateRobustBucket(
  values: Float32Array,
  med: number,
  mad: number,
  learnMad: boolean,
  n: number,
  x: number,
  rate: number,
  minStep: number,
  exactPoints: number,
): void {
  const m = values[med]!;
  const s = values[mad]!;
  if (n === 0) {
    values[med] = x;
    if (learnMad) values[mad] = 0;
    return;
  }
  if (n < exactPoints) {
    const w = 1 / (n + 1);
    const next = m + (x - m) * w;
    values[med] = next;
    if (learnMad) values[mad] = s + (Math.abs(x - next) - s) * w;
    return;
  }
  const step = rate * Math.max(MAD_TO_SIGMA * s, minStep);
  values[med] = x > m ? m + Math.min(step, x - m) : x < m ? m - Math.min(step, m - x) : m;
  if (!learnMad) return;
  const d = Math.abs(x - m);
  values[mad] =
    d > s ? s + Math.min(step, d - s) : d < s ? Math.max(0, s - Math.min(step, s - d)) : s;
}
