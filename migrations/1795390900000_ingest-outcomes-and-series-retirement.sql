-- Up Migration
-- What the ingest did with each request's events, summed per tenant, source and minute of
-- receipt from the outcome records the Worker sends beside the events (rejected events and
-- duplicates never reach the stream otherwise). Written in the batch transaction, deduplicated
-- by request id through seen_events, so a redelivered record is not counted twice.
CREATE TABLE IF NOT EXISTS ingest_outcome_windows (
  tenant_id     text        NOT NULL,
  window_start  timestamptz NOT NULL,
  source        text        NOT NULL,
  accepted      bigint      NOT NULL DEFAULT 0 CHECK (accepted >= 0),
  duplicates    bigint      NOT NULL DEFAULT 0 CHECK (duplicates >= 0),
  rejected      bigint      NOT NULL DEFAULT 0 CHECK (rejected >= 0),
  copies        bigint      NOT NULL DEFAULT 0 CHECK (copies >= 0),
  PRIMARY KEY (tenant_id, window_start, source)
);

-- The mean score per model and minute is read from the stored predictions by scoring time.
CREATE INDEX IF NOT EXISTS predictions_by_time ON predictions (tenant_id, predicted_at);

-- The last minute a series had data (a non-zero count or a defined level); a series without
-- data for STREAM_ANOMALY_RETIRE_AFTER_MS is retired. Existing series count from their last minute.
ALTER TABLE anomaly_series ADD COLUMN IF NOT EXISTS last_data_minute timestamptz;
UPDATE anomaly_series SET last_data_minute = last_minute WHERE last_data_minute IS NULL;
ALTER TABLE anomaly_series ALTER COLUMN last_data_minute SET NOT NULL;

-- Down Migration
ALTER TABLE anomaly_series DROP COLUMN IF EXISTS last_data_minute;
DROP INDEX IF EXISTS predictions_by_time;
DROP TABLE IF EXISTS ingest_outcome_windows;
