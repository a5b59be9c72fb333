/** Every Postgres table that holds a tenant's rows, in the order a tenant deletion empties them. */

/**
 * Tables with a `tenant_id` column, children before the tables they reference (and before
 * the tables whose triggers maintain them: deleting `metric_windows` lowers and clears
 * `metric_minute_totals`, so the totals come after). A migration that adds a table with
 * `tenant_id` must add it here or to `KEPT_TENANT_TABLES`; `test/privacy` fails until it does.
 */
export const TENANT_TABLES = [
  "score_job_chunks",
  "score_jobs",
  "webhook_deliveries",
  "webhook_endpoints",
  "destination_batches",
  "destination_parked_events",
  "destinations",
  "monitoring_outbox",
  "alerts",
  "retraining_jobs",
  "retrain_request_history",
  "retrain_requests",
  "retraining_settings",
  "drift_entries",
  "drift_results",
  "performance_results",
  "monitoring_state",
  "monitoring_settings",
  "click_id_predictions",
  "conversion_keys",
  "predictions",
  "metric_window_values",
  "metric_windows",
  "metric_minute_value_totals",
  "metric_minute_totals",
  "metric_hours_pending",
  "tenant_dimension_values",
  "ingest_outcome_windows",
  "pixel_minute_windows",
  "event_time_watermarks",
  "anomalies",
  "anomaly_series",
  "anomaly_progress",
  "model_pointers",
  "model_versions",
  "api_keys",
  "tenants",
] as const;

export type TenantTable = (typeof TENANT_TABLES)[number];

/**
 * Tables with `tenant_id` that a tenant deletion keeps, and why. The audit log is append-only
 * (its triggers refuse DELETE): it is the record that the deletion happened and who ordered it,
 * and it holds ids and fingerprints, never a secret or a person's identifier.
 */
export const KEPT_TENANT_TABLES: Readonly<Record<string, string>> = {
  audit_log:
    "append-only record of admin actions (ids and fingerprints only); kept under the audit log's own retention",
};

/**
 * Tables without `tenant_id`, and why none of their rows is a tenant's. Listed so that the
 * inventory check can tell a reviewed table from a new one.
 */
export const UNTENANTED_TABLES: Readonly<Record<string, string>> = {
  consumer_offsets: "Kafka consumer offsets, per consumer group",
  monitoring_settings_defaults: "the operator's monitoring defaults, one row",
  seen_events:
    "SHA-256 digests of (tenant, event name, event id) the processor counted; expire after STREAM_DEDUP_RETENTION_HOURS",
  pgmigrations: "the migration tool's bookkeeping",
};

/** The DELETE of one table's rows of a tenant (`$1` = tenant id). */
export function tenantDeleteStatement(table: TenantTable): string {
  return `DELETE FROM ${table} WHERE tenant_id = $1`;
}

/** The count of one table's rows of a tenant (`$1` = tenant id). */
export function tenantCountStatement(table: TenantTable | "audit_log"): string {
  return `SELECT count(*)::text AS n FROM ${table} WHERE tenant_id = $1`;
}
