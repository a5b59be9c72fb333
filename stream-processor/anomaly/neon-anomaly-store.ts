/** AnomalyTransaction on Postgres: detector state, progress and anomalies in the batch's transaction. */
import { NeonAlertQueue, type QueuedAlert } from "../alerts/neon-alert-queue";
import { MS, ms, TS } from "../db/epoch-ms-sql";
import {
  type Queryable,
  type QueryTimer,
  type ScopedQuery,
  scopedQuery,
  timedStatement,
} from "../db/timed-query";
import type {
  AnomalyTransaction,
  AnomalyUpdate,
  DetectedAnomaly,
  IdleTenant,
  OpenAnomalies,
  PixelDelta,
  SeriesWrite,
  StoredSeries,
  TenantProgress,
  TenantRange,
} from "./anomaly-store";
import type { KpiMetric, MinuteRow, OutcomeRow, PixelRow, ScoreRow } from "./kpi-series";

/** Opens the anomaly repository on a batch transaction's connection. */
export function openNeonAnomalies(timer: QueryTimer = () => {}): OpenAnomalies {
  return (tx) => new NeonAnomalyTransaction(tx.sql, timer);
}

export class NeonAnomalyTransaction implements AnomalyTransaction {
  private readonly run: ScopedQuery;
  private readonly queue: NeonAlertQueue;

  constructor(db: Queryable, timer: QueryTimer = () => {}) {
    this.run = scopedQuery(db, timer, "anomaly");
    const planning: Queryable = {
      query: <R>(c: { name?: string; text: string; values?: unknown[] }) =>
        timedStatement<R>(
          db,
          timer,
          "anomaly_plan_webhooks",
          { name: c.name ?? "driftline_anomaly_plan_webhooks", text: c.text },
          c.values,
        ),
    };
    this.queue = new NeonAlertQueue(this.run, planning);
  }

  async maxEventTimes(tenants: readonly string[]): Promise<Map<string, number>> {
    if (tenants.length === 0) return new Map();
    const { rows } = await this.run<{ tenant_id: string; ms: string }>(
      "max_event_times",
      `SELECT tenant_id, ${MS("max_event_time")} AS ms FROM event_time_watermarks
       WHERE tenant_id = ANY($1::text[])`,
      [tenants],
    );
    return new Map(rows.map((r) => [r.tenant_id, Number(r.ms)]));
  }

  async idleTenants(query: {
    stillSinceMs: number;
    maxLagMs: number;
    silentSinceMs: number;
  }): Promise<IdleTenant[]> {
    const { rows } = await this.run<{ tenant_id: string; ms: string; at_ms: string }>(
      "idle_tenants",
      `SELECT w.tenant_id, ${MS("w.max_event_time")} AS ms, ${MS("w.advanced_at")} AS at_ms
       FROM event_time_watermarks w JOIN anomaly_progress p ON p.tenant_id = w.tenant_id
       WHERE w.advanced_at <= ${TS("$1")} AND w.advanced_at > ${TS("$3")}
         AND w.advanced_at - w.max_event_time <= $2::bigint * interval '1 millisecond'
       ORDER BY w.tenant_id`,
      [ms(query.stillSinceMs), ms(query.maxLagMs), ms(query.silentSinceMs)],
    );
    return rows.map((r) => ({
      tenant: r.tenant_id,
      maxEventMs: Number(r.ms),
      advancedAtMs: Number(r.at_ms),
    }));
  }

  async lockProgress(tenants: readonly string[]): Promise<Map<string, TenantProgress>> {
    const sorted = [...new Set(tenants)].sort();
    if (sorted.length === 0) return new Map();
    const lock = () =>
      this.run<{ tenant_id: string; ms: string; state_ms: string }>(
        "lock_progress",
        `SELECT tenant_id, ${MS("evaluated_before")} AS ms, ${MS("state_through")} AS state_ms
         FROM anomaly_progress
         WHERE tenant_id = ANY($1::text[]) ORDER BY tenant_id FOR UPDATE`,
        [sorted],
      );
    let { rows } = await lock();
    if (rows.length < sorted.length) {
      // New tenants start at their first minute window. Two transactions creating a row at
      // once: the second waits on the first's insert, then locks what it committed.
      const known = new Set(rows.map((r) => r.tenant_id));
      await this.run(
        "create_progress",
        `INSERT INTO anomaly_progress (tenant_id, evaluated_before, state_through)
         SELECT t.tenant_id, f.first, f.first
         FROM unnest($1::text[]) AS t(tenant_id)
         CROSS JOIN LATERAL (SELECT min(window_start) AS first FROM metric_windows w
                             WHERE w.tenant_id = t.tenant_id AND w.window_seconds = 60) f
         WHERE f.first IS NOT NULL
         ORDER BY t.tenant_id
         ON CONFLICT (tenant_id) DO NOTHING`,
        [sorted.filter((t) => !known.has(t))],
      );
      ({ rows } = await lock());
    }
    return new Map(
      rows.map((r) => [
        r.tenant_id,
        { evaluatedBeforeMs: Number(r.ms), stateThroughMs: Number(r.state_ms) },
      ]),
    );
  }

  async minuteRows(ranges: readonly TenantRange[]): Promise<Map<string, MinuteRow[]>> {
    const out = new Map<string, MinuteRow[]>();
    if (ranges.length === 0) return out;
    const { rows } = await this.run<{
      tenant_id: string;
      ms: string;
      source: string;
      event_name: string;
      campaign: string;
      event_count: string;
      match_quality_sum: number;
      match_quality_count: string;
      prediction_count: string;
      conversion_count: string;
      values: { currency: string; sum: string; count: string }[] | null;
    }>(
      "minute_rows",
      `SELECT w.tenant_id, ${MS("w.window_start")} AS ms, w.source, w.event_name, w.campaign,
         w.event_count::text AS event_count, w.match_quality_sum,
         w.match_quality_count::text AS match_quality_count,
         w.prediction_count::text AS prediction_count, w.conversion_count::text AS conversion_count,
         (SELECT json_agg(json_build_object('currency', v.currency, 'sum', v.value_sum::text,
                  'count', v.value_count::text))
          FROM metric_window_values v
          WHERE v.tenant_id = w.tenant_id AND v.window_seconds = w.window_seconds
            AND v.window_start = w.window_start AND v.source = w.source
            AND v.event_name = w.event_name AND v.campaign = w.campaign) AS values
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS r(tenant_id, f, t)
       JOIN metric_windows w ON w.tenant_id = r.tenant_id AND w.window_seconds = 60
         AND w.window_start >= ${TS("r.f")} AND w.window_start < ${TS("r.t")}
       ORDER BY w.tenant_id, w.window_start`,
      [ranges.map((r) => r.tenant), ranges.map((r) => ms(r.fromMs)), ranges.map((r) => ms(r.toMs))],
    );
    for (const r of rows) {
      const row: MinuteRow = {
        windowStartMs: Number(r.ms),
        source: r.source,
        eventName: r.event_name,
        campaign: r.campaign,
        eventCount: Number(r.event_count),
        matchQualitySum: r.match_quality_sum,
        matchQualityCount: Number(r.match_quality_count),
        predictionCount: Number(r.prediction_count),
        conversionCount: Number(r.conversion_count),
        values: (r.values ?? []).map((v) => ({
          currency: v.currency,
          sum: Number(v.sum),
          count: Number(v.count),
        })),
      };
      const list = out.get(r.tenant_id);
      if (list === undefined) out.set(r.tenant_id, [row]);
      else list.push(row);
    }
    return out;
  }

  async minuteOutcomes(ranges: readonly TenantRange[]): Promise<Map<string, OutcomeRow[]>> {
    if (ranges.length === 0) return new Map();
    const { rows } = await this.run<{
      tenant_id: string;
      ms: string;
      source: string;
      accepted: string;
      duplicates: string;
      rejected: string;
      copies: string;
    }>(
      "minute_outcomes",
      `SELECT o.tenant_id, ${MS("o.window_start")} AS ms, o.source, o.accepted::text AS accepted,
         o.duplicates::text AS duplicates, o.rejected::text AS rejected, o.copies::text AS copies
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS r(tenant_id, f, t)
       JOIN ingest_outcome_windows o ON o.tenant_id = r.tenant_id
         AND o.window_start >= ${TS("r.f")} AND o.window_start < ${TS("r.t")}
       ORDER BY o.tenant_id, o.window_start, o.source`,
      rangeParams(ranges),
    );
    return byTenant(rows, (r) => ({
      windowStartMs: Number(r.ms),
      source: r.source,
      accepted: Number(r.accepted),
      duplicates: Number(r.duplicates),
      rejected: Number(r.rejected),
      copies: Number(r.copies),
    }));
  }

  async applyPixelDeltas(deltas: readonly PixelDelta[]): Promise<void> {
    if (deltas.length === 0) return;
    await this.run(
      "apply_pixel_deltas",
      `INSERT INTO pixel_minute_windows AS w (tenant_id, window_start, pixel_id, event_count,
         match_quality_sum, match_quality_count)
       SELECT t, ${TS("ms")}, px, n, mqs, mqc
       FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::float8[], $6::bigint[])
         AS d(t, ms, px, n, mqs, mqc)
       ORDER BY 1, 2, 3
       ON CONFLICT (tenant_id, window_start, pixel_id) DO UPDATE SET
         event_count = w.event_count + EXCLUDED.event_count,
         match_quality_sum = w.match_quality_sum + EXCLUDED.match_quality_sum,
         match_quality_count = w.match_quality_count + EXCLUDED.match_quality_count`,
      [
        deltas.map((d) => d.tenant),
        deltas.map((d) => ms(d.windowStartMs)),
        deltas.map((d) => d.pixel),
        deltas.map((d) => d.events),
        deltas.map((d) => d.matchQualitySum),
        deltas.map((d) => d.matchQualityCount),
      ],
    );
  }

  async minutePixels(ranges: readonly TenantRange[]): Promise<Map<string, PixelRow[]>> {
    if (ranges.length === 0) return new Map();
    const { rows } = await this.run<{
      tenant_id: string;
      ms: string;
      pixel_id: string;
      event_count: string;
      match_quality_sum: number;
      match_quality_count: string;
    }>(
      "minute_pixels",
      `SELECT x.tenant_id, ${MS("x.window_start")} AS ms, x.pixel_id,
         x.event_count::text AS event_count, x.match_quality_sum,
         x.match_quality_count::text AS match_quality_count
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS r(tenant_id, f, t)
       JOIN pixel_minute_windows x ON x.tenant_id = r.tenant_id
         AND x.window_start >= ${TS("r.f")} AND x.window_start < ${TS("r.t")}
       ORDER BY x.tenant_id, x.window_start, x.pixel_id`,
      rangeParams(ranges),
    );
    return byTenant(rows, (r) => ({
      windowStartMs: Number(r.ms),
      pixel: r.pixel_id,
      eventCount: Number(r.event_count),
      matchQualitySum: Number(r.match_quality_sum),
      matchQualityCount: Number(r.match_quality_count),
    }));
  }

  async minuteScores(ranges: readonly TenantRange[]): Promise<Map<string, ScoreRow[]>> {
    if (ranges.length === 0) return new Map();
    const { rows } = await this.run<{
      tenant_id: string;
      ms: string;
      model_name: string;
      score_sum: number;
      n: string;
    }>(
      "minute_scores",
      `SELECT p.tenant_id, ${MS("date_trunc('minute', p.predicted_at)")} AS ms, p.model_name,
         sum(p.score) AS score_sum, count(*)::text AS n
       FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS r(tenant_id, f, t)
       JOIN predictions p ON p.tenant_id = r.tenant_id
         AND p.predicted_at >= ${TS("r.f")} AND p.predicted_at < ${TS("r.t")}
       GROUP BY 1, 2, 3
       ORDER BY 1, 2, 3`,
      rangeParams(ranges),
    );
    return byTenant(rows, (r) => ({
      windowStartMs: Number(r.ms),
      model: r.model_name,
      scoreSum: Number(r.score_sum),
      count: Number(r.n),
    }));
  }

  async deleteSeries(series: readonly { tenant: string; key: string }[]): Promise<void> {
    if (series.length === 0) return;
    await this.run(
      "delete_series",
      `DELETE FROM anomaly_series s USING unnest($1::text[], $2::text[]) AS d(t, k)
       WHERE s.tenant_id = d.t AND s.series_key = d.k`,
      [series.map((s) => s.tenant), series.map((s) => s.key)],
    );
  }

  async loadSeries(tenants: readonly string[]): Promise<StoredSeries[]> {
    if (tenants.length === 0) return [];
    const { rows } = await this.run<{
      tenant_id: string;
      series_key: string;
      metric: string;
      dimensions: Record<string, string>;
      state: string;
      open_anomaly: string | null;
      last_data_ms: string;
    }>(
      "load_series",
      `SELECT tenant_id, series_key, metric, dimensions, encode(state, 'base64') AS state,
         open_anomaly, ${MS("last_data_minute")} AS last_data_ms
       FROM anomaly_series WHERE tenant_id = ANY($1::text[]) ORDER BY tenant_id, series_key`,
      [tenants],
    );
    return rows.map((r) => ({
      tenant: r.tenant_id,
      key: r.series_key,
      metric: r.metric as KpiMetric,
      dimensions: r.dimensions,
      state: new Uint8Array(Buffer.from(r.state, "base64")),
      openAnomaly: r.open_anomaly,
      lastDataMs: Number(r.last_data_ms),
    }));
  }

  async saveSeries(series: readonly SeriesWrite[]): Promise<void> {
    if (series.length === 0) return;
    await this.run(
      "save_series",
      `INSERT INTO anomaly_series (tenant_id, series_key, metric, dimensions, state, open_anomaly,
         last_value, last_score, last_minute, last_data_minute)
       SELECT t, k, m, d::jsonb, decode(s, 'base64'), o, v, sc, ${TS("lm")}, ${TS("ld")}
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                   $7::float8[], $8::float8[], $9::bigint[], $10::bigint[])
         AS x(t, k, m, d, s, o, v, sc, lm, ld)
       ORDER BY t, k
       ON CONFLICT (tenant_id, series_key) DO UPDATE SET state = EXCLUDED.state,
         open_anomaly = EXCLUDED.open_anomaly, last_value = EXCLUDED.last_value,
         last_score = EXCLUDED.last_score, last_minute = EXCLUDED.last_minute,
         last_data_minute = EXCLUDED.last_data_minute`,
      [
        series.map((s) => s.tenant),
        series.map((s) => s.key),
        series.map((s) => s.metric),
        series.map((s) => JSON.stringify(s.dimensions)),
        series.map((s) =>
          Buffer.from(s.state.buffer, s.state.byteOffset, s.state.byteLength).toString("base64"),
        ),
        series.map((s) => s.openAnomaly),
        series.map((s) => finiteOrNull(s.lastValue)),
        series.map((s) => finiteOrNull(s.lastScore)),
        series.map((s) => ms(s.lastMinuteMs)),
        series.map((s) => ms(s.lastDataMs)),
      ],
    );
  }

  async insertAnomalies(anomalies: readonly DetectedAnomaly[]): Promise<void> {
    if (anomalies.length === 0) return;
    await this.run(
      "insert_anomalies",
      `INSERT INTO anomalies (tenant_id, anomaly_id, series_key, metric, dimensions, reason,
         detected_at, expected, lower_bound, upper_bound, observed, score, peak_score)
       SELECT tn, a, k, m, d::jsonb, r, ${TS("t")}, e, lo, up, ob, sc, sc
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                   $7::bigint[], $8::float8[], $9::float8[], $10::float8[], $11::float8[],
                   $12::float8[]) AS x(tn, a, k, m, d, r, t, e, lo, up, ob, sc)
       ON CONFLICT (tenant_id, anomaly_id) DO NOTHING`,
      [
        anomalies.map((a) => a.tenant),
        anomalies.map((a) => a.anomalyId),
        anomalies.map((a) => a.key),
        anomalies.map((a) => a.metric),
        anomalies.map((a) => JSON.stringify(a.dimensions)),
        anomalies.map((a) => a.reason),
        anomalies.map((a) => ms(a.detectedAtMs)),
        anomalies.map((a) => a.expected),
        anomalies.map((a) => a.lower),
        anomalies.map((a) => a.upper),
        anomalies.map((a) => a.observed),
        anomalies.map((a) => a.score),
      ],
    );
  }

  async updateAnomalies(updates: readonly AnomalyUpdate[]): Promise<void> {
    if (updates.length === 0) return;
    await this.run(
      "update_anomalies",
      `UPDATE anomalies a SET peak_score = greatest(a.peak_score, u.p),
         resolved_at = CASE WHEN u.r IS NULL THEN a.resolved_at ELSE ${TS("u.r")} END,
         updated_at = now()
       FROM unnest($1::text[], $2::text[], $3::float8[], $4::bigint[]) AS u(t, id, p, r)
       WHERE a.tenant_id = u.t AND a.anomaly_id = u.id`,
      [
        updates.map((u) => u.tenant),
        updates.map((u) => u.anomalyId),
        updates.map((u) => u.peakScore),
        updates.map((u) => (u.resolvedAtMs === undefined ? null : ms(u.resolvedAtMs))),
      ],
    );
  }

  async saveProgress(
    progress: readonly (TenantProgress & { tenant: string; overflow: number })[],
  ): Promise<void> {
    if (progress.length === 0) return;
    await this.run(
      "save_progress",
      `UPDATE anomaly_progress p SET evaluated_before = ${TS("u.e")},
         state_through = ${TS("u.s")}, series_overflow = p.series_overflow + u.o, updated_at = now()
       FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u(t, e, s, o)
       WHERE p.tenant_id = u.t`,
      [
        progress.map((p) => p.tenant),
        progress.map((p) => ms(p.evaluatedBeforeMs)),
        progress.map((p) => ms(p.stateThroughMs)),
        progress.map((p) => p.overflow),
      ],
    );
  }

  insertAlerts(alerts: readonly QueuedAlert[], operatorSinks: readonly string[]): Promise<number> {
    return this.queue.insertAlerts(alerts, operatorSinks);
  }
}

function rangeParams(ranges: readonly TenantRange[]): unknown[] {
  return [
    ranges.map((r) => r.tenant),
    ranges.map((r) => ms(r.fromMs)),
    ranges.map((r) => ms(r.toMs)),
  ];
}

function byTenant<R extends { tenant_id: string }, T>(
  rows: readonly R[],
  map: (row: R) => T,
): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const r of rows) {
    const list = out.get(r.tenant_id);
    if (list === undefined) out.set(r.tenant_id, [map(r)]);
    else list.push(map(r));
  }
  return out;
}

function finiteOrNull(v: number | null): number | null {
  return v !== null && Number.isFinite(v) ? v : null;
}
