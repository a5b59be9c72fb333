/** Event-time watermarks: how far event time has progressed per tenant, and which windows that closes. */

export interface WatermarkSpec {
  /**
   * How long after an instant has been passed by the newest event time its window stays open, ms.
   * watermark = max event time seen − allowed lateness.
   */
  allowedLatenessMs: number;
  /**
   * Event times further than this ahead of the processing clock do not move the watermark, ms
   * (they are still counted). One sender with a wrong clock must not close every open window.
   */
  maxFutureSkewMs: number;
}

/** No event seen yet: nothing is closed. */
export const NO_WATERMARK = Number.NEGATIVE_INFINITY;

/** The watermark (epoch ms) implied by the newest trusted event time, or NO_WATERMARK. */
export function watermarkMs(maxEventTimeMs: number | undefined, allowedLatenessMs: number): number {
  return maxEventTimeMs === undefined ? NO_WATERMARK : maxEventTimeMs - allowedLatenessMs;
}

/**
 * The newest trusted event time after seeing `eventTimeMs` at processing time `nowMs`. Event times
 * beyond `nowMs + maxFutureSkewMs` are ignored for the watermark, so it never runs ahead of the
 * processing clock by more than the skew.
 */
export function advanceMaxEventTime(
  currentMs: number | undefined,
  eventTimeMs: number,
  nowMs: number,
  maxFutureSkewMs: number,
): number | undefined {
  if (eventTimeMs > nowMs + maxFutureSkewMs) return currentMs;
  return currentMs === undefined || eventTimeMs > currentMs ? eventTimeMs : currentMs;
}

/** A window [start, start + width) is closed once the watermark has reached its end. */
export function isWindowClosed(windowStartMs: number, widthMs: number, watermark: number): boolean {
  return windowStartMs + widthMs <= watermark;
}
