/** The KPI series watched per tenant, and their values in one closed minute window. */
import type { DetectorOptions } from "#core/anomaly";

/** A minute window row as metric_windows holds it (value sums per currency alongside). */
export interface MinuteRow {
  windowStartMs: number;
  source: string;
  eventName: string;
  campaign: string;
  eventCount: number;
  matchQualitySum: number;
  matchQualityCount: number;
  predictionCount: number;
  conversionCount: number;
  /** Value sum and count per currency. */
  values: { currency: string; sum: number; count: number }[];
}

/** The ingest outcomes of one source in one minute of receipt (ingest_outcome_windows). */
export interface OutcomeRow {
  windowStartMs: number;
  source: string;
  accepted: number;
  duplicates: number;
  rejected: number;
  copies: number;
}

/** The CAPI events of one Meta pixel in one minute (pixel_minute_windows). */
export interface PixelRow {
  windowStartMs: number;
  pixel: string;
  eventCount: number;
  matchQualitySum: number;
  matchQualityCount: number;
}

/** The scores of one model's predictions scored in one minute. */
export interface ScoreRow {
  windowStartMs: number;
  model: string;
  scoreSum: number;
  count: number;
}

/** One closed minute of a tenant: its window rows, ingest outcomes and prediction scores. */
export interface MinuteData {
  rows: MinuteRow[];
  outcomes: OutcomeRow[];
  scores: ScoreRow[];
  pixels: PixelRow[];
}

/**
 * Smallest spread a share series assumes (5 percentage points): a share that is usually 0 is
 * noisy at low volume (1 rejected of 10 is 0.1). At the default threshold 6 a spike must pass
 * ~0.3 above the usual share (~0.6 in the first week, whose fallback ranges are twice as wide).
 */
const SHARE_MIN_SCALE = 0.05;

/** The metrics watched, with the detector options each one needs. */
export const KPI_METRICS = {
  /** Events per (source, event name, campaign). */
  events: { kind: "count" },
  /** Conversions naming a prediction, per (source, event name, campaign). */
  conversions: { kind: "count" },
  /** Mean value per event, per (source, event name, campaign, currency). */
  value: { kind: "level" },
  /** Mean event-match quality (0–10) per source; only falls matter. */
  "match-quality": { kind: "level", direction: "down", minScale: 0.1 },
  /** Scored predictions per model. */
  predictions: { kind: "count" },
  /** Mean score (0–1) of the predictions scored per model. */
  "mean-score": { kind: "level", minScale: 0.02 },
  /** Share of a source's events refused by validation, per source (only rises matter). */
  "rejected-share": { kind: "level", direction: "up", minScale: SHARE_MIN_SCALE },
  /** Share of a source's events answered as duplicates, per source (only rises matter). */
  "duplicate-share": { kind: "level", direction: "up", minScale: SHARE_MIN_SCALE },
  /** CAPI events per Meta pixel (all event names). */
  "pixel-events": { kind: "count" },
  /** Mean event-match quality (0–10) per Meta pixel; only falls matter. */
  "pixel-match-quality": { kind: "level", direction: "down", minScale: 0.1 },
} as const satisfies Record<string, DetectorOptions>;

export type KpiMetric = keyof typeof KPI_METRICS;

export interface SeriesPoint {
  /** Unique within the tenant: JSON of [metric, …dimension values]. */
  key: string;
  metric: KpiMetric;
  dimensions: Record<string, string>;
  value: number;
}

/** Source of prediction rows in metric_windows (event name = model name). */
export const PREDICTIONS_SOURCE = "predictions";

/** The series key of a metric and its dimensions (in a fixed order). */
export function seriesKey(metric: KpiMetric, dimensions: Record<string, string>): string {
  return JSON.stringify([metric, ...Object.values(dimensions)]);
}

/**
 * Series of one event name, campaign or pixel: retired after a configurable time without data (a
 * renamed event or an ended campaign would otherwise hold its slot under the series cap).
 */
export function isRetirableMetric(metric: KpiMetric): boolean {
  return (
    metric === "events" ||
    metric === "conversions" ||
    metric === "value" ||
    metric === "pixel-events"
  );
}

/** What counts series (zero when absent) read for a key that had no row in a minute. */
export function isCountMetric(metric: KpiMetric): boolean {
  return KPI_METRICS[metric].kind === "count";
}

/**
 * The observed values of one minute's rows. Counts appear only when non-zero (a known count
 * series with no row is a zero, which the caller fills in); levels only when they have data.
 */
export function seriesPointsOf(
  rows: readonly MinuteRow[],
  outcomes: readonly OutcomeRow[] = [],
  scores: readonly ScoreRow[] = [],
  pixels: readonly PixelRow[] = [],
): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  const quality = new Map<string, { sum: number; count: number }>();
  const push = (metric: KpiMetric, dimensions: Record<string, string>, value: number) =>
    out.push({ key: seriesKey(metric, dimensions), metric, dimensions, value });
  for (const r of rows) {
    if (r.source === PREDICTIONS_SOURCE) {
      if (r.predictionCount > 0) push("predictions", { model: r.eventName }, r.predictionCount);
      continue;
    }
    const dims = { source: r.source, eventName: r.eventName, campaign: r.campaign };
    if (r.eventCount > 0) push("events", dims, r.eventCount);
    if (r.conversionCount > 0) push("conversions", dims, r.conversionCount);
    for (const v of r.values) {
      if (v.count > 0) push("value", { ...dims, currency: v.currency }, v.sum / v.count);
    }
    if (r.matchQualityCount > 0) {
      const q = quality.get(r.source) ?? { sum: 0, count: 0 };
      q.sum += r.matchQualitySum;
      q.count += r.matchQualityCount;
      quality.set(r.source, q);
    }
  }
  for (const [source, q] of quality) push("match-quality", { source }, q.sum / q.count);
  for (const o of outcomes) {
    // Events the request answered for: accepted (copies included), duplicates and rejected.
    const total = o.accepted + o.duplicates + o.rejected;
    if (total <= 0) continue;
    push("rejected-share", { source: o.source }, o.rejected / total);
    push("duplicate-share", { source: o.source }, o.duplicates / total);
  }
  for (const s of scores) {
    if (s.count > 0) push("mean-score", { model: s.model }, s.scoreSum / s.count);
  }
  for (const p of pixels) {
    const dims = { source: "capi", pixel: p.pixel };
    if (p.eventCount > 0) push("pixel-events", dims, p.eventCount);
    if (p.matchQualityCount > 0)
      push("pixel-match-quality", dims, p.matchQualitySum / p.matchQualityCount);
  }
  return out;
}
