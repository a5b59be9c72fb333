-- Up Migration
-- Hourly windows are rolled up from the minute windows, instead of being upserted by every batch.
--
-- Why: every batch transaction touched the hour row of nearly every window key it counted, as
-- many upserts as minute rows, and its hour rows were updated again by each of the hundreds of
-- batches of that hour. Measured with the stream benchmark (1M records, two processors on the
-- 2-core dev VM): the hour upserts cost ~4 µs of Postgres CPU and ~2.5 µs of processor CPU per
-- record, ~15 % of all. Now a batch marks the (tenant, hour) pairs it changed here, in its own
-- transaction, and a periodic rollup recomputes those hours from their minute rows: an hour row
-- is the sum of its minutes, for every column. Reads of hourly windows add the minutes of hours
-- still marked here, so they stay exact between rollups.
-- The rollup locks this table (SHARE ROW EXCLUSIVE) before it reads the minutes, so a batch that
-- changed minutes of an hour either committed before the rollup read them or marks the hour again
-- after the rollup took its marks.

CREATE TABLE metric_hours_pending (
  tenant_id   text        COLLATE "C" NOT NULL,
  hour_start  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, hour_start)
);
