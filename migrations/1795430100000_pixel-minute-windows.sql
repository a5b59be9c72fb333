-- Up Migration
-- Events per Meta pixel (dataset) and minute, for the anomaly detectors' per-pixel series and the
-- per-pixel health score. Written by the stream processor's anomaly stage in the batch
-- transaction, from the events counted for the first time (deduplicated like the windows), by
-- event time; late events are counted here too. Purged with the metric windows
-- (RETENTION_METRIC_WINDOWS_DAYS).
CREATE TABLE IF NOT EXISTS pixel_minute_windows (
  tenant_id            text        NOT NULL,
  window_start         timestamptz NOT NULL,
  pixel_id             text        NOT NULL CHECK (length(pixel_id) BETWEEN 1 AND 128),
  event_count          bigint      NOT NULL DEFAULT 0 CHECK (event_count >= 0),
  match_quality_sum    double precision NOT NULL DEFAULT 0,
  match_quality_count  bigint      NOT NULL DEFAULT 0 CHECK (match_quality_count >= 0),
  PRIMARY KEY (tenant_id, window_start, pixel_id)
);
