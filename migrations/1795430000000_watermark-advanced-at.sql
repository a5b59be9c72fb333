-- Up Migration
-- When (processing time) each tenant's newest event time last moved forward. A tenant whose
-- traffic stops entirely does not move its watermark, so its minute windows never close by event
-- time; the stream processor closes them by wall clock once the watermark has stood still for a
-- grace (STREAM_ANOMALY_IDLE_CLOSE_MS), measured from this. Set in the same statement that
-- raises max_event_time (the batch's processing time), left alone when a batch does not raise it.
ALTER TABLE event_time_watermarks ADD COLUMN IF NOT EXISTS advanced_at timestamptz;
UPDATE event_time_watermarks SET advanced_at = updated_at WHERE advanced_at IS NULL;
ALTER TABLE event_time_watermarks ALTER COLUMN advanced_at SET DEFAULT now();
ALTER TABLE event_time_watermarks ALTER COLUMN advanced_at SET NOT NULL;
