/** Turns stored window rows (grouped by the caller's dimensions) into the metrics an API returns. */
import { isWindowClosed, watermarkMs } from "./watermark.ts";

export const GROUP_DIMENSIONS = ["source", "event_name", "campaign"] as const;
export type GroupDimension = (typeof GROUP_DIMENSIONS)[number];

/** The grouping columns of a row; a dimension not grouped by is absent. */
export interface GroupValues {
  source?: string;
  eventName?: string;
  campaign?: string;
}

/** Event metrics of one (window, group); predictions rows are not among them. */
export interface WindowTotalsRow extends GroupValues {
  windowStartMs: number;
  events: number;
  late: number;
  matchQualitySum: number;
  matchQualityCount: number;
  conversions: number;
}

export interface WindowValueRow extends GroupValues {
  windowStartMs: number;
  currency: string;
  /** Exact decimal text (numeric), e.g. "1234.560000". */
  valueSum: string;
  valueCount: number;
}

/** Scored predictions of the tenant in one window, all models together. */
export interface WindowPredictionsRow {
  windowStartMs: number;
  predictions: number;
}

export interface WindowSummary extends GroupValues {
  windowStart: string;
  windowEnd: string;
  /** True once the tenant's watermark passed the window's end: later events count as late. */
  closed: boolean;
  events: number;
  late: number;
  /** Sum of values per ISO 4217 currency. */
  values: Record<string, number>;
  /** Mean event match quality (0–10) over `matchQualityCount` events; null when none had one. */
  matchQuality: number | null;
  matchQualityCount: number;
  /** Events that name the scored prediction they convert. */
  conversions: number;
  /** Predictions the tenant scored in this window (all models). */
  predictions: number;
  /** conversions / predictions; null when no prediction was scored in the window. */
  conversionsPerPrediction: number | null;
}

export interface SummarizeOptions {
  widthMs: number;
  allowedLatenessMs: number;
  /** The tenant's newest trusted event time; undefined when it has none. */
  maxEventTimeMs: number | undefined;
}

/**
 * One summary per (window, group) that has events or values, ordered by window start then group
 * values. Value rows are joined to their totals row by window and group values.
 */
export function summarizeWindows(
  rows: {
    totals: readonly WindowTotalsRow[];
    values: readonly WindowValueRow[];
    predictions: readonly WindowPredictionsRow[];
  },
  options: SummarizeOptions,
): WindowSummary[] {
  const watermark = watermarkMs(options.maxEventTimeMs, options.allowedLatenessMs);
  const predictionsByWindow = new Map<number, number>();
  for (const p of rows.predictions) {
    predictionsByWindow.set(
      p.windowStartMs,
      (predictionsByWindow.get(p.windowStartMs) ?? 0) + p.predictions,
    );
  }
  const byKey = new Map<string, WindowSummary>();
  const ensure = (start: number, group: GroupValues): WindowSummary => {
    const key = rowKey(start, group);
    let summary = byKey.get(key);
    if (summary === undefined) {
      const predictions = predictionsByWindow.get(start) ?? 0;
      summary = {
        windowStart: new Date(start).toISOString(),
        windowEnd: new Date(start + options.widthMs).toISOString(),
        ...pickGroup(group),
        closed: isWindowClosed(start, options.widthMs, watermark),
        events: 0,
        late: 0,
        values: {},
        matchQuality: null,
        matchQualityCount: 0,
        conversions: 0,
        predictions,
        conversionsPerPrediction: null,
      };
      byKey.set(key, summary);
    }
    return summary;
  };
  const mqSums = new Map<WindowSummary, number>();
  for (const t of rows.totals) {
    const s = ensure(t.windowStartMs, t);
    s.events += t.events;
    s.late += t.late;
    s.conversions += t.conversions;
    s.matchQualityCount += t.matchQualityCount;
    mqSums.set(s, (mqSums.get(s) ?? 0) + t.matchQualitySum);
  }
  for (const v of rows.values) {
    const s = ensure(v.windowStartMs, v);
    s.values[v.currency] = (s.values[v.currency] ?? 0) + Number(v.valueSum);
  }
  for (const s of byKey.values()) {
    if (s.matchQualityCount > 0) s.matchQuality = (mqSums.get(s) ?? 0) / s.matchQualityCount;
    if (s.predictions > 0) s.conversionsPerPrediction = s.conversions / s.predictions;
  }
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s);
}

function pickGroup(group: GroupValues): GroupValues {
  const out: GroupValues = {};
  if (group.source !== undefined) out.source = group.source;
  if (group.eventName !== undefined) out.eventName = group.eventName;
  if (group.campaign !== undefined) out.campaign = group.campaign;
  return out;
}

/** Sortable key: zero-padded window start (non-negative epoch ms), then the group values. */
function rowKey(start: number, g: GroupValues): string {
  return [
    String(start).padStart(16, "0"),
    g.source ?? "",
    g.eventName ?? "",
    g.campaign ?? "",
  ].join("\u0000");
}
