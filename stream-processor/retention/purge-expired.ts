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

/** The rows of a kind past the cutoff (`$1`, epoch ms): its table and which of its rows may go. */
interface ExpiredRows {
  days: keyof RetentionPolicy;
  table: string;
  /** SQL condition on the table's rows; `CUTOFF` is the cutoff time. */
  expired: string;
}

const CUTOFF = TS("$1");

const KINDS: Record<RetentionKind, ExpiredRows> = {
  // metric_window_values cascade from their window.
  metricWindows: {
    days: "metricWindowsDays",
    table: "metric_windows",
    expired: `window_start < ${CUTOFF}`,
  },
  ingestOutcomeWindows: {
    days: "metricWindowsDays",
    table: "ingest_outcome_windows",
    expired: `window_start < ${CUTOFF}`,
  },
  pixelMinuteWindows: {
    days: "metricWindowsDays",
    table: "pixel_minute_windows",
    expired: `window_start < ${CUTOFF}`,
  },
  // An open anomaly stays whatever its age: its series' state names it until it resolves.
  anomalies: {
    days: "anomaliesDays",
    table: "anomalies",
    expired: `resolved_at < ${CUTOFF}`,
  },
  driftResults: { days: "driftDays", table: "drift_results", expired: `evaluated_at < ${CUTOFF}` },
  driftEntries: { days: "driftDays", table: "drift_entries", expired: `evaluated_at < ${CUTOFF}` },
  performanceResults: {
    days: "driftDays",
    table: "performance_results",
    expired: `evaluated_at < ${CUTOFF}`,
  },
  // Open alerts stay (someone may still act on them); unpublished ones are still in the outbox.
  alerts: {
    days: "alertsDays",
    table: "alerts",
    expired: `created_at < ${CUTOFF} AND state <> 'open' AND published_at IS NOT NULL`,
  },
  // Only finished requests; their status history cascades.
  retrainingRequests: {
    days: "retrainingDays",
    table: "retrain_requests",
    expired: `requested_at < ${CUTOFF}
        AND status IN ('completed', 'rejected') AND published_at IS NOT NULL`,
  },
  // An attempt whose retry is still due stays until that retry is past the cutoff too.
  webhookDeliveries: {
    days: "deliveriesDays",
    table: "webhook_deliveries",
    expired: `attempted_at < ${CUTOFF}
        AND (next_attempt_at IS NULL OR next_attempt_at < ${CUTOFF})`,
  },
  destinationBatches: {
    days: "deliveriesDays",
    table: "destination_batches",
    expired: `sent_at < ${CUTOFF}`,
  },
};

/** One bounded DELETE: at most `$2` of the table's expired rows, found by ctid. */
function boundedDelete({ table, expired }: ExpiredRows): string {
  return `DELETE FROM ${table} WHERE ctid = ANY (ARRAY(
      SELECT ctid FROM ${table} WHERE ${expired} LIMIT $2))`;
}

/** Deletes what each kind's retention lets go, as of `nowMs`; the rows deleted per kind. */
export async function purgeExpired(
  db: PurgeQueryable,
  policy: RetentionPolicy,
  nowMs: number,
): Promise<PurgeCounts> {
  const counts = {} as PurgeCounts;
  for (const [kind, rows] of Object.entries(KINDS) as [RetentionKind, ExpiredRows][]) {
    counts[kind] = 0;
    const keepDays = policy[rows.days];
    if (keepDays <= 0) continue;
    const sql = boundedDelete(rows);
    const cutoff = String(Math.floor(nowMs - keepDays * DAY_MS));
    for (let batch = 0; batch < policy.maxBatchesPerRun; batch++) {
      const { rowCount } = await db.query(sql, [cutoff, policy.batchRows]);
      counts[kind] += rowCount ?? 0;
      if ((rowCount ?? 0) < policy.batchRows) break;
    }
  }
  return counts;
}
