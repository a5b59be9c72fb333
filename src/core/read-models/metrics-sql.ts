/**
 * The SQL of a metrics read and the mapping of its rows, so the stream processor and the Worker
 * run the same statements, each with its own Postgres driver.
 */
import { type GroupDimension, HOUR_MS, MINUTE_MS } from "../windows/index.ts";
import type { MetricsQuery, MetricsReadResult } from "./metrics-query.ts";

/** A parameterised statement: `$n` placeholders and their values. */
export interface SqlStatement {
  text: string;
  values: unknown[];
}

/** Epoch ms (bigint parameter) to timestamptz, exactly. */
export const MS_TO_TIMESTAMPTZ = (ms: string) =>
  `('epoch'::timestamptz + ${ms} * interval '1 millisecond')`;
/** timestamptz to epoch ms (bigint), exactly (extract(epoch) is numeric). */
export const TIMESTAMPTZ_TO_MS = (col: string) => `(extract(epoch FROM ${col}) * 1000)::bigint`;

/** Minute rows' columns that an hour row sums, in metric_windows' column order. */
export const WINDOW_COUNTS = [
  "event_count",
  "late_count",
  "match_quality_sum",
  "match_quality_count",
  "prediction_count",
  "conversion_count",
] as const;

const DIMENSION_COLUMNS: Record<
  GroupDimension,
  { column: string; field: "source" | "eventName" | "campaign" }
> = {
  source: { column: "source", field: "source" },
  event_name: { column: "event_name", field: "eventName" },
  campaign: { column: "campaign", field: "campaign" },
};

/**
 * Hour rows are rolled up from minute rows now and then (metric_hours_pending marks the hours
 * not rolled up yet); this relation adds the minutes of those hours, so an answer never lags the
 * committed batches. Uses $1 (tenant), $3 and $4 (range, epoch ms).
 */
function hourlyRows(table: "metric_windows" | "metric_window_values"): string {
  const columns = [
    "source",
    "event_name",
    "campaign",
    ...(table === "metric_windows" ? WINDOW_COUNTS : ["currency", "value_sum", "value_count"]),
  ];
  return `(SELECT tenant_id, window_seconds, window_start, ${columns.join(", ")} FROM ${table} h
     WHERE h.tenant_id = $1 AND h.window_seconds = 3600
       AND h.window_start >= ${MS_TO_TIMESTAMPTZ("$3::bigint")} AND h.window_start < ${MS_TO_TIMESTAMPTZ("$4::bigint")}
       AND NOT EXISTS (SELECT 1 FROM metric_hours_pending p
                       WHERE p.tenant_id = h.tenant_id AND p.hour_start = h.window_start)
   UNION ALL
   SELECT m.tenant_id, 3600, p.hour_start, ${columns.map((c) => `m.${c}`).join(", ")}
     FROM metric_hours_pending p
     JOIN ${table} m ON m.tenant_id = p.tenant_id AND m.window_seconds = 60
       AND m.window_start >= p.hour_start AND m.window_start < p.hour_start + interval '1 hour'
     WHERE p.tenant_id = $1
       AND p.hour_start >= ${MS_TO_TIMESTAMPTZ("$3::bigint")} AND p.hour_start < ${MS_TO_TIMESTAMPTZ("$4::bigint")}
  ) AS hourly`;
}

/** The four statements of a metrics read; they are independent and may run concurrently. */
export interface MetricsStatements {
  totals: SqlStatement;
  values: SqlStatement;
  predictions: SqlStatement;
  watermark: SqlStatement;
}

/** Every statement filters by tenant first (the primary key's prefix) and is bounded. */
export function metricsStatements(q: MetricsQuery): MetricsStatements {
  const dims = q.groupBy.map((d) => DIMENSION_COLUMNS[d]);
  const params: unknown[] = [
    q.tenant,
    Math.round(q.widthMs / 1000),
    String(q.fromMs),
    String(q.toMs),
  ];
  const filters: string[] = [];
  for (const [column, value] of [
    ["source", q.filters.source],
    ["event_name", q.filters.eventName],
    ["campaign", q.filters.campaign],
  ] as const) {
    if (value === undefined) continue;
    params.push(value);
    filters.push(`AND ${column} = $${params.length}`);
  }
  const where = `WHERE tenant_id = $1 AND window_seconds = $2
      AND window_start >= ${MS_TO_TIMESTAMPTZ("$3::bigint")} AND window_start < ${MS_TO_TIMESTAMPTZ("$4::bigint")}`;
  const dimSelect = dims.map((d) => `, ${d.column}`).join("");
  const groupBy = `GROUP BY window_start${dimSelect}`;
  const orderBy = `ORDER BY window_start${dimSelect}`;
  const start = `${TIMESTAMPTZ_TO_MS("window_start")} AS start_ms`;
  if (q.widthMs === MINUTE_MS && q.groupBy.length === 0 && filters.length === 0) {
    return minuteTotalsStatements(q, params);
  }
  const hourly = q.widthMs === HOUR_MS;
  const windowsTable = hourly ? hourlyRows("metric_windows") : "metric_windows";
  const valuesTable = hourly ? hourlyRows("metric_window_values") : "metric_window_values";
  // One row per group and currency: ISO 4217 has fewer than 200 codes, so this bound never cuts.
  const valuesLimit = (q.limit + 1) * 200;
  return {
    totals: {
      text: `SELECT ${start}${dimSelect},
         sum(event_count)::text AS events, sum(late_count)::text AS late,
         sum(match_quality_sum)::float8 AS mq_sum, sum(match_quality_count)::text AS mq_count,
         sum(conversion_count)::text AS conversions
       FROM ${windowsTable} ${where} AND source <> 'predictions' ${filters.join(" ")}
       ${groupBy} ${orderBy} LIMIT ${q.limit + 1}`,
      values: params,
    },
    values: {
      text: `SELECT ${start}${dimSelect}, currency, sum(value_sum)::text AS value_sum,
         sum(value_count)::text AS value_count
       FROM ${valuesTable} ${where} AND source <> 'predictions' ${filters.join(" ")}
       ${groupBy}, currency ${orderBy}, currency LIMIT ${valuesLimit}`,
      values: params,
    },
    predictions: {
      text: `SELECT ${start}, sum(prediction_count)::text AS predictions
       FROM ${windowsTable} ${where} AND source = 'predictions'
       GROUP BY window_start ORDER BY window_start LIMIT ${q.limit + 1}`,
      values: params.slice(0, 4),
    },
    watermark: {
      text: `SELECT ${TIMESTAMPTZ_TO_MS("max_event_time")} AS ms FROM event_time_watermarks WHERE tenant_id = $1 LIMIT 1`,
      values: [q.tenant],
    },
  };
}

/**
 * A minute read over everything (no grouping, no filter) from the per-minute totals the
 * database keeps beside the window rows (metric_minute_totals, by trigger): one row per minute
 * instead of one per window key, with the same answer. `event_rows` / `prediction_rows` > 0
 * return a minute exactly when the raw rows would have one.
 */
function minuteTotalsStatements(q: MetricsQuery, params: unknown[]): MetricsStatements {
  // $2 is the width; it is checked so the statement still types every parameter.
  const where = (table: string) => `FROM ${table}
       WHERE tenant_id = $1 AND $2::int = 60
         AND window_start >= ${MS_TO_TIMESTAMPTZ("$3::bigint")} AND window_start < ${MS_TO_TIMESTAMPTZ("$4::bigint")}`;
  const start = `${TIMESTAMPTZ_TO_MS("window_start")} AS start_ms`;
  return {
    totals: {
      text: `SELECT ${start}, event_count::text AS events, late_count::text AS late,
         match_quality_sum::float8 AS mq_sum, match_quality_count::text AS mq_count,
         conversion_count::text AS conversions
       ${where("metric_minute_totals")} AND event_rows > 0
       ORDER BY window_start LIMIT ${q.limit + 1}`,
      values: params,
    },
    values: {
      text: `SELECT ${start}, currency, value_sum::text AS value_sum,
         value_count::text AS value_count
       ${where("metric_minute_value_totals")} AND value_rows > 0
       ORDER BY window_start, currency LIMIT ${(q.limit + 1) * 200}`,
      values: params,
    },
    predictions: {
      text: `SELECT ${start}, prediction_count::text AS predictions
       ${where("metric_minute_totals")} AND prediction_rows > 0
       ORDER BY window_start LIMIT ${q.limit + 1}`,
      values: params,
    },
    watermark: {
      text: `SELECT ${TIMESTAMPTZ_TO_MS("max_event_time")} AS ms FROM event_time_watermarks WHERE tenant_id = $1 LIMIT 1`,
      values: [q.tenant],
    },
  };
}

type Row = Record<string, unknown>;

/** The rows of the four statements (in `metricsStatements`' order) as a read result. */
export function metricsReadResult(
  q: MetricsQuery,
  rows: { totals: Row[]; values: Row[]; predictions: Row[]; watermark: Row[] },
): MetricsReadResult {
  const dims = q.groupBy.map((d) => DIMENSION_COLUMNS[d]);
  const group = (row: Row) => {
    const g: { source?: string; eventName?: string; campaign?: string } = {};
    for (const d of dims) g[d.field] = (row[d.column] as string | undefined) ?? "";
    return g;
  };
  const first = rows.watermark[0];
  return {
    totals: rows.totals.map((r) => ({
      windowStartMs: Number(r.start_ms),
      ...group(r),
      events: Number(r.events),
      late: Number(r.late),
      matchQualitySum: Number(r.mq_sum),
      matchQualityCount: Number(r.mq_count),
      conversions: Number(r.conversions),
    })),
    values: rows.values.map((r) => ({
      windowStartMs: Number(r.start_ms),
      ...group(r),
      currency: (r.currency as string | undefined) ?? "",
      valueSum: (r.value_sum as string | undefined) ?? "0",
      valueCount: Number(r.value_count),
    })),
    predictions: rows.predictions.map((r) => ({
      windowStartMs: Number(r.start_ms),
      predictions: Number(r.predictions),
    })),
    maxEventTimeMs: first === undefined ? undefined : Number(first.ms),
  };
}
