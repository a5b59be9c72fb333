/** Anomaly reads and the readings the health score is computed from. */
import type { AnomalyEntry, AnomalyQuery, HealthReadings } from "./read-store";
import { MS, type QueryRows, type Row, TS, TS_US, US } from "./sql-rows";

const ANOMALY_COLUMNS = `${US("detected_at")} AS at_us, anomaly_id, metric, dimensions, reason,
  ${MS("detected_at")} AS detected_ms, ${MS("resolved_at")} AS resolved_ms, expected, lower_bound,
  upper_bound, observed, score, peak_score`;

const ANOMALIES_SQL = (limit: number) => `
  SELECT ${ANOMALY_COLUMNS}
  FROM anomalies
  WHERE tenant_id = $1 AND detected_at >= ${TS("$2")} AND detected_at < ${TS("$3")}
    AND ($4::text IS NULL OR ($4 = 'open') = (resolved_at IS NULL))
    AND ($5::text IS NULL OR metric = $5)
    AND ($6::bigint IS NULL OR (detected_at, anomaly_id) > (${TS_US("$6")}, $7::text))
  ORDER BY detected_at, anomaly_id
  LIMIT ${limit}`;

/** Open anomalies (the newest 500 at most: the score is capped long before). */
const OPEN_ANOMALIES_SQL = `
  SELECT ${ANOMALY_COLUMNS} FROM anomalies
  WHERE tenant_id = $1 AND resolved_at IS NULL
  ORDER BY detected_at DESC LIMIT 500`;

const MATCH_QUALITY_SQL = `
  SELECT source, sum(match_quality_sum) AS mq_sum, sum(match_quality_count)::text AS mq_count,
    sum(event_count)::text AS events
  FROM metric_windows
  WHERE tenant_id = $1 AND window_seconds = 60 AND source <> 'predictions'
    AND window_start >= ${TS("$2")} - interval '24 hours' AND window_start < ${TS("$2")}
  GROUP BY source ORDER BY source`;

/** Ingest outcomes of the last 24 h per source (minutes of receipt). */
const OUTCOMES_SQL = `
  SELECT source, sum(accepted)::text AS accepted, sum(duplicates)::text AS duplicates,
    sum(rejected)::text AS rejected, sum(copies)::text AS copies
  FROM ingest_outcome_windows
  WHERE tenant_id = $1
    AND window_start >= ${TS("$2")} - interval '24 hours' AND window_start < ${TS("$2")}
  GROUP BY source ORDER BY source`;

/** CAPI events and their match quality of the last 24 h per pixel. */
const PIXELS_SQL = `
  SELECT pixel_id, sum(event_count)::text AS events, sum(match_quality_sum) AS mq_sum,
    sum(match_quality_count)::text AS mq_count
  FROM pixel_minute_windows
  WHERE tenant_id = $1
    AND window_start >= ${TS("$2")} - interval '24 hours' AND window_start < ${TS("$2")}
  GROUP BY pixel_id ORDER BY pixel_id`;

/** The latest drift and performance alert per subject (a model column or a model version). */
const MODEL_STATES_SQL = `
  SELECT count(*) FILTER (WHERE type = 'dev.driftline.drift.changed')::int AS drifting,
    count(*) FILTER (WHERE type = 'dev.driftline.performance.degraded')::int AS degraded
  FROM (
    SELECT DISTINCT ON (cloud_event->>'subject', split_part(type, '.', 3)) type
    FROM alerts
    WHERE tenant_id = $1 AND type IN ('dev.driftline.drift.changed', 'dev.driftline.drift.recovered',
      'dev.driftline.performance.degraded', 'dev.driftline.performance.recovered')
    ORDER BY cloud_event->>'subject', split_part(type, '.', 3), created_at DESC
  ) latest`;

const OVERFLOW_SQL = `SELECT series_overflow::text AS n FROM anomaly_progress WHERE tenant_id = $1`;

export async function listAnomalies(query: QueryRows, q: AnomalyQuery): Promise<AnomalyEntry[]> {
  const rows = await query(ANOMALIES_SQL(q.limit + 1), [
    q.tenant,
    String(q.fromMs),
    String(q.toMs),
    q.status ?? null,
    q.metric ?? null,
    q.after?.atUs ?? null,
    q.after?.id ?? null,
  ]);
  return rows.map(anomalyEntry);
}

export async function healthReadings(
  query: QueryRows,
  tenant: string,
  nowMs: number,
): Promise<HealthReadings> {
  const [open, quality, states, overflow, outcomes, pixels] = await Promise.all([
    query(OPEN_ANOMALIES_SQL, [tenant]),
    query(MATCH_QUALITY_SQL, [tenant, String(nowMs)]),
    query(MODEL_STATES_SQL, [tenant]),
    query(OVERFLOW_SQL, [tenant]),
    query(OUTCOMES_SQL, [tenant, String(nowMs)]),
    query(PIXELS_SQL, [tenant, String(nowMs)]),
  ]);
  return {
    openAnomalies: open.map(anomalyEntry),
    matchQuality: quality.map((r) => ({
      source: String(r.source),
      sum: Number(r.mq_sum),
      count: Number(r.mq_count),
      events: Number(r.events),
    })),
    driftingColumns: Number(states[0]?.drifting ?? 0),
    degradedModels: Number(states[0]?.degraded ?? 0),
    seriesOverflow: Number(overflow[0]?.n ?? 0),
    pixels: pixels.map((r) => ({
      pixel: String(r.pixel_id),
      events: Number(r.events),
      sum: Number(r.mq_sum),
      count: Number(r.mq_count),
    })),
    outcomes: outcomes.map((r) => ({
      source: String(r.source),
      accepted: Number(r.accepted),
      duplicates: Number(r.duplicates),
      rejected: Number(r.rejected),
      copies: Number(r.copies),
    })),
  };
}

function anomalyEntry(r: Row): AnomalyEntry {
  return {
    key: { atUs: String(r.at_us), id: String(r.anomaly_id) },
    id: String(r.anomaly_id),
    metric: String(r.metric),
    dimensions: r.dimensions as Record<string, string>,
    reason: String(r.reason),
    detectedAtMs: Number(r.detected_ms),
    resolvedAtMs:
      r.resolved_ms === null || r.resolved_ms === undefined ? null : Number(r.resolved_ms),
    expected: Number(r.expected),
    lower: Number(r.lower_bound),
    upper: Number(r.upper_bound),
    observed: Number(r.observed),
    score: Number(r.score),
    peakScore: Number(r.peak_score),
  };
}
