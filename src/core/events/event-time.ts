/** Event-time parsing and the acceptance window (not older than 7 days, not ahead of now beyond a skew). */

/** Meta refuses events whose event_time is more than 7 days before the request. */
export const MAX_EVENT_AGE_MS = 7 * 24 * 60 * 60 * 1000;

/** How far ahead of the Worker's clock an event may be stamped (sender clock drift). */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

/**
 * Website event numbers below this are Unix seconds, at or above it Unix milliseconds. 1e11 s lies
 * in the year 5138 and 1e11 ms in March 1973; any event inside the window is far from both.
 */
export const SECONDS_OR_MS_THRESHOLD = 1e11;

export interface EventTimeWindow {
  maxAgeMs: number;
  maxFutureSkewMs: number;
}

/** Epoch ms of a website event's `event_time` (seconds, milliseconds or a zoned ISO date-time). */
export function websiteEventTimeMs(eventTime: number | string): number {
  if (typeof eventTime === "string") return Date.parse(eventTime);
  return Math.round(eventTime < SECONDS_OR_MS_THRESHOLD ? eventTime * 1000 : eventTime);
}

/**
 * Epoch ms of a CAPI `event_time` (Unix seconds, number or digits), or a message saying why it
 * cannot be one: a value in the millisecond range is the commonest mistake and gets its own hint.
 */
export function capiEventTimeMs(eventTime: number | string): number | { message: string } {
  const seconds = typeof eventTime === "number" ? eventTime : Number(eventTime);
  if (seconds >= SECONDS_OR_MS_THRESHOLD) {
    return {
      message: "looks like milliseconds; Meta's event_time is Unix seconds (divide by 1000)",
    };
  }
  return seconds * 1000;
}

/** Null when `eventTimeMs` lies in the window around `nowMs`, else the reason it does not. */
export function checkEventTimeWindow(
  eventTimeMs: number,
  nowMs: number,
  window: EventTimeWindow,
): string | null {
  if (!Number.isFinite(eventTimeMs)) return "is not a valid time";
  const ageMs = nowMs - eventTimeMs;
  if (ageMs > window.maxAgeMs) {
    return `is ${formatDuration(ageMs)} old; events older than ${formatDuration(window.maxAgeMs)} are refused`;
  }
  if (-ageMs > window.maxFutureSkewMs) {
    return `is ${formatDuration(-ageMs)} in the future; at most ${formatDuration(window.maxFutureSkewMs)} of clock skew is allowed (send UTC-based Unix time)`;
  }
  return null;
}

function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h`;
  return `${Math.round((hours / 24) * 10) / 10} days`;
}
