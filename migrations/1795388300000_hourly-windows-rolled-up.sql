-- Up Migration
-- Hourly windows are rolled up from the minute windows, instead of being upserted by every batch.
--
-- Why: every batch transaction touched the hour row of nearly every window key it counted (in
-- the stream benchmark, 0.2 hour rows per record beside 0.3 minute rows), and the hour rows were
-- updated again by each of the hundreds of batches of that hour. Measured with the stream
-- benchmark (1M records, the 2-core dev VM, three runs of each, alternating): the window upsert
-- takes ~112 instead of ~178 ms per transaction, a transaction ~290-310 instead of ~360-440 ms, and
-- Postgres writes ~348 instead of ~386 bytes of WAL per record. Throughput there is bound by the
-- processor's thread and moved within the noise (36.4-42.0k against 35.7-39.4k records/s).
-- Now a batch marks the (tenant, hour) pairs whose minutes it changed, in its own
-- transaction, and a periodic rollup recomputes those hours from their minute rows: an hour row
-- is the sum of its minutes, in every column. Reads of hourly windows add the minutes of hours
-- still marked, so they stay exact between rollups.
--
-- The protocol, without long locks (stream-processor/db/neon-metrics-store.ts rollUpHours):
-- * a batch marks an hour with INSERT … ON CONFLICT DO UPDATE SET gen = gen + 1, so every mark
--   changes `gen` and holds the row until the batch commits;
-- * the rollup reads the marks and their gen, recomputes those hours from the minutes (a later
--   snapshot: every batch behind a mark it read is in it), then deletes each mark only if its gen
--   is still the one it read. A batch that marked the hour since keeps it marked.
-- * Two rollups may recompute one hour at once; a recomputed row replaces a stored one only if
--   it counts at least as many records (counts only grow), so an older snapshot never wins.

CREATE TABLE metric_hours_pending (
  tenant_id   text        COLLATE "C" NOT NULL,
  hour_start  timestamptz NOT NULL,
  gen         bigint      NOT NULL DEFAULT 1,
  PRIMARY KEY (tenant_id, hour_start)
);
