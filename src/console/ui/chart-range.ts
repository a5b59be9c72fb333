/** The x range of a time chart (epoch seconds, as uPlot's time scale takes them). */

/** Half-width of the range around a lone point when the caller names no window: one minute. */
export const DEFAULT_POINT_WINDOW_MS = 60_000;

/**
 * [min, max] of the points; when they all sit at one instant, that instant ± one window (the
 * caller's `windowMs`, else the closest spacing the series has, else a minute). uPlot's own
 * range for a zero-width time scale pads by years, which squeezes the point into one edge and
 * labels the axis with dates.
 */
export function timeRangeSeconds(
  xsSeconds: readonly number[],
  windowMs?: number,
): [number, number] | undefined {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const x of xsSeconds) {
    if (!Number.isFinite(x)) continue;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  if (min > max) return undefined;
  if (max > min) return [min, max];
  const halfSeconds = (windowMs ?? DEFAULT_POINT_WINDOW_MS) / 1000;
  return [min - halfSeconds, max + halfSeconds];
}
