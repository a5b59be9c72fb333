/** Event-time tumbling-window arithmetic: the window [start, start + width) that holds an instant. */
import { ValidationError } from "../errors.ts";

/** One minute in ms: the finest window Driftline keeps. */
export const MINUTE_MS = 60_000;
/** One hour in ms: the rollup width. */
export const HOUR_MS = 3_600_000;

/**
 * Start (epoch ms, inclusive) of the `widthMs`-wide tumbling window holding `timeMs`. Windows are
 * aligned to the Unix epoch, so a 1-minute window starts on a whole UTC minute. Flooring (not
 * truncating) keeps instants before 1970 in the window that starts at or before them. A
 * fractional `timeMs` belongs to the window of its whole millisecond.
 */
export function windowStartMs(timeMs: number, widthMs: number): number {
  assertWidth(widthMs);
  if (!Number.isFinite(timeMs) || Math.abs(timeMs) > Number.MAX_SAFE_INTEGER) {
    throw new ValidationError(
      `Event time must be a finite epoch-millisecond number, got ${timeMs}.`,
    );
  }
  const t = Math.floor(timeMs);
  return t - (((t % widthMs) + widthMs) % widthMs);
}

/** End (epoch ms, exclusive) of the window holding `timeMs`. */
export function windowEndMs(timeMs: number, widthMs: number): number {
  return windowStartMs(timeMs, widthMs) + widthMs;
}

function assertWidth(widthMs: number): void {
  if (!Number.isSafeInteger(widthMs) || widthMs <= 0) {
    throw new ValidationError(
      `Window width must be a positive whole number of ms, got ${widthMs}.`,
    );
  }
}
