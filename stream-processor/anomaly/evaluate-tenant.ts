/** One tenant's closed minutes through its series' detectors, in memory: new series under the cap, zeros for silent counts, retirement. */
import { createDetector } from "#core/anomaly";
import { MINUTE_MS } from "#core/windows";
import { type ChangeContext, recordOpened, recordResolved } from "./anomaly-changes";
import type { TenantRange } from "./anomaly-store";
import {
  isCountMetric,
  isRetirableMetric,
  KPI_METRICS,
  type MinuteRow,
  type OutcomeRow,
  type PixelRow,
  type ScoreRow,
  seriesPointsOf,
} from "./kpi-series";
import type { LiveSeries, Outcome } from "./live-series";

export interface TenantEvaluationContext extends ChangeContext {
  /** Most series a tenant's detectors hold; new ones past it are refused and counted. */
  maxSeriesPerTenant: number;
  /** An event name or campaign series without data this long is retired. */
  retireAfterMs: number;
}

/** The data of a tenant's range, as read from the windows. */
export interface TenantMinuteData {
  rows: readonly MinuteRow[];
  outcomes: readonly OutcomeRow[];
  scores: readonly ScoreRow[];
  pixels: readonly PixelRow[];
}

export interface TenantEvaluation {
  points: number;
  /** Points refused by the series cap in fresh minutes (replayed minutes were counted before). */
  overflow: number;
  /** Distinct series refused. */
  refused: number;
  /** An anomaly opened or resolved, or a series was retired: the checkpoint is due. */
  changed: boolean;
}

/**
 * Feeds the minutes of `range` to the tenant's `series` (updated in place); minutes before
 * `freshFromMs` are a replay. What to store goes to `out`.
 */
export function evaluateTenant(
  ctx: TenantEvaluationContext,
  range: TenantRange,
  freshFromMs: number,
  series: Map<string, LiveSeries>,
  data: TenantMinuteData,
  out: Outcome,
): TenantEvaluation {
  const { tenant, fromMs: from, toMs: to } = range;
  const rowsByMinute = byMinute(data.rows);
  const outcomesByMinute = byMinute(data.outcomes);
  const scoresByMinute = byMinute(data.scores);
  const pixelsByMinute = byMinute(data.pixels);
  const refused = new Set<string>();
  let overflow = 0;
  let points = 0;
  let changed = false;
  for (let minute = from; minute < to; minute += MINUTE_MS) {
    const seen = new Set<string>();
    const feed = (s: LiveSeries, value: number) => {
      const p = s.detector.update({ t: minute, value });
      points += 1;
      s.last = p;
      s.lastMinuteMs = minute;
      if (p.change !== undefined) changed = true;
      if (s.openAnomaly !== null && p.score > s.peak) s.peak = p.score;
      if (p.change === "detected") recordOpened(ctx, s, p, minute, out);
      else if (p.change === "resolved") recordResolved(ctx, s, p, minute, out);
      else if (s.openAnomaly !== null) {
        out.updates.set(`${tenant}\u0000${s.openAnomaly}`, {
          tenant,
          anomalyId: s.openAnomaly,
          peakScore: s.peak,
        });
      }
    };
    const minutePoints = seriesPointsOf(
      rowsByMinute.get(minute) ?? [],
      outcomesByMinute.get(minute) ?? [],
      scoresByMinute.get(minute) ?? [],
      pixelsByMinute.get(minute) ?? [],
    );
    for (const point of minutePoints) {
      seen.add(point.key);
      let s = series.get(point.key);
      if (s === undefined) {
        if (series.size >= ctx.maxSeriesPerTenant) {
          // Replayed minutes were counted when first evaluated.
          if (minute >= freshFromMs) {
            overflow += 1;
            refused.add(point.key);
          }
          continue;
        }
        s = {
          tenant,
          key: point.key,
          metric: point.metric,
          dimensions: point.dimensions,
          detector: createDetector(KPI_METRICS[point.metric]),
          openAnomaly: null,
          peak: 0,
          lastMinuteMs: minute,
          lastDataMs: minute,
        };
        series.set(point.key, s);
      }
      // A count of zero is not data (a level always is): retirement counts from the last non-zero.
      if (point.value !== 0 || !isCountMetric(s.metric)) s.lastDataMs = minute;
      feed(s, point.value);
    }
    for (const s of series.values()) {
      if (seen.has(s.key)) continue;
      // Minute by minute, so a replay from a checkpoint retires at the same minute.
      if (isRetirableMetric(s.metric) && minute - s.lastDataMs >= ctx.retireAfterMs) {
        retire(ctx, s, minute, out);
        series.delete(s.key);
        changed = true;
        continue;
      }
      // A count series with no row in a closed minute counted nothing: a zero, not a gap.
      if (isCountMetric(s.metric)) feed(s, 0);
    }
  }
  return { points, overflow, refused: refused.size, changed };
}

/** Retires a series without data: an anomaly open on it is resolved at this minute. */
function retire(ctx: ChangeContext, s: LiveSeries, minute: number, out: Outcome): void {
  if (s.openAnomaly !== null && s.last !== undefined) recordResolved(ctx, s, s.last, minute, out);
  out.retired.push({ tenant: s.tenant, key: s.key, metric: s.metric });
}

function byMinute<R extends { windowStartMs: number }>(rows: readonly R[]): Map<number, R[]> {
  const out = new Map<number, R[]>();
  for (const r of rows) {
    const list = out.get(r.windowStartMs);
    if (list === undefined) out.set(r.windowStartMs, [r]);
    else list.push(r);
  }
  return out;
}
