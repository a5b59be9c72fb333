/**
 * Retention: deletes monitoring results older than their kind's retention, in bounded batches
 * (each DELETE removes at most `batchRows` rows, so no statement holds locks for long and a purge
 * of a large backlog makes steady progress across runs).
 */

/** Days each kind is kept; 0 keeps it forever. */
export interface RetentionPolicy {
  /**
   * metric_windows (minute and hour rows) and their per-currency values, the ingest outcome
   * minutes (ingest_outcome_windows) and the per-pixel minutes (pixel_minute_windows), by window
   * start.
   */
  metricWindowsDays: number;
  /** drift_results, drift_entries and performance_results, by evaluation time. */
  driftDays: number;
  /** Alerts no longer open and already published, by creation time. */
  alertsDays: number;
  /** Retraining requests completed or rejected and already published (with their history), by request time. */
  retrainingDays: number;
  /** Webhook delivery attempts and destination batches, by attempt / send time. */
  deliveriesDays: number;
  /** Resolved anomalies, by resolution time (open ones are kept: their series still points at them). */
  anomaliesDays: number;
  /** Rows per DELETE statement. */
  batchRows: number;
  /** Batches per kind and run; the rest waits for the next run. */
  maxBatchesPerRun: number;
}

export interface PurgeQueryable {
  query(text: string, values: unknown[]): Promise<{ rowCount: number | null }>;
}

export type PurgeCounts = Record<RetentionKind, number>;
export type RetentionKind =
  | "metricWindows"
  | "ingestOutcomeWindows"
  | "pixelMinuteWindows"
  | "anomalies"
  | "driftResults"
  | "driftEntries"
  | "performanceResults"
  | "alerts"
  | "retrainingRequests"
  | "webhookDeliveries"
  | "destinationBatches";

const DAY_MS = 86_400_000;
const TS = (p: string) => `('epoch'::timestamptz + ${p}::bigint * interval '1 millisecond')`;

/** One bounded DELETE per kind: the oldest `$2` expired rows, found by ctid. */
const STATEMENTS: Record<RetentionKind, { days: keyof RetentionPolicy; sql: string }> = {
  // metric_window_values cascade from their window.
  metricWindows: {
    days: "metricWindowsDays",
    sql: `DELETE FROM metric_windows WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM metric_windows WHERE window_start < ${TS("$1")} LIMIT $2))`,
  },
  ingestOutcomeWindows: {
    days: "metricWindowsDays",
    sql: `DELETE FROM ingest_outcome_windows WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM ingest_outcome_windows WHERE window_start < ${TS("$1")} LIMIT $2))`,
  },
  pixelMinuteWindows: {
    days: "metricWindowsDays",
    sql: `DELETE FROM pixel_minute_windows WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM pixel_minute_windows WHERE window_start < ${TS("$1")} LIMIT $2))`,
  },
  // An open anomaly stays whatever its age: its series' state names it until it resolves.
  anomalies: {
    days: "anomaliesDays",
    sql: `DELETE FROM anomalies WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM anomalies WHERE resolved_at < ${TS("$1")} LIMIT $2))`,
  },
  driftResults: {
    days: "driftDays",
    sql: `DELETE FROM drift_results WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM drift_results WHERE evaluated_at < ${TS("$1")} LIMIT $2))`,
  },
  driftEntries: {
    days: "driftDays",
    sql: `DELETE FROM drift_entries WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM drift_entries WHERE evaluated_at < ${TS("$1")} LIMIT $2))`,
  },
  performanceResults: {
    days: "driftDays",
    sql: `DELETE FROM performance_results WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM performance_results WHERE evaluated_at < ${TS("$1")} LIMIT $2))`,
  },
  // Open alerts stay (someone may still act on them); unpublished ones are still in the outbox.
  alerts: {
    days: "alertsDays",
    sql: `DELETE FROM alerts WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM alerts WHERE created_at < ${TS("$1")}
        AND state <> 'open' AND published_at IS NOT NULL LIMIT $2))`,
  },
  // Only finished requests; their status history cascades.
  retrainingRequests: {
    days: "retrainingDays",
    sql: `DELETE FROM retrain_requests WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM retrain_requests WHERE requested_at < ${TS("$1")}
        AND status IN ('completed', 'rejected') AND published_at IS NOT NULL LIMIT $2))`,
  },
  // An attempt whose retry is still due stays until that retry is past the cutoff too.
  webhookDeliveries: {
    days: "deliveriesDays",
    sql: `DELETE FROM webhook_deliveries WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM webhook_deliveries WHERE attempted_at < ${TS("$1")}
        AND (next_attempt_at IS NULL OR next_attempt_at < ${TS("$1")}) LIMIT $2))`,
  },
  destinationBatches: {
    days: "deliveriesDays",
    sql: `DELETE FROM destination_batches WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM destination_batches WHERE sent_at < ${TS("$1")} LIMIT $2))`,
  },
};

/** Deletes what each kind's retention lets go, as of `nowMs`; the rows deleted per kind. */
export async function purgeExpired(
  db: PurgeQueryable,
  policy: RetentionPolicy,
  nowMs: number,
): Promise<PurgeCounts> {
  const counts = {} as PurgeCounts;
  for (const [kind, { days, sql }] of Object.entries(STATEMENTS) as [
    RetentionKind,
    (typeof STATEMENTS)[RetentionKind],
  ][]) {
    counts[kind] = 0;
    const keepDays = policy[days];
    if (keepDays <= 0) continue;
    const cutoff = String(Math.floor(nowMs - keepDays * DAY_MS));
    for (let batch = 0; batch < policy.maxBatchesPerRun; batch++) {
      const { rowCount } = await db.query(sql, [cutoff, policy.batchRows]);
      counts[kind] += rowCount ?? 0;
      if ((rowCount ?? 0) < policy.batchRows) break;
    }
  }
  return counts;
}
