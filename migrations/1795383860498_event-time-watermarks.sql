-- Up Migration
-- Event-time progress of the stream processor, per tenant: the newest trusted event time counted.
-- The watermark is max_event_time minus the allowed lateness (a setting, not stored), and a window
-- whose end is at or before it is closed: events arriving for it later are counted as late.
-- Written in the same transaction as the metric_windows rows it classified, so after a restart
-- the processor resumes with exactly the state its committed results were computed with.
CREATE TABLE event_time_watermarks (
  tenant_id       text        PRIMARY KEY,
  max_event_time  timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL DEFAULT now()
);
