-- Up Migration
-- The event names and campaigns a tenant's metric windows may hold, so their number is bounded.
--
-- Why: event_name and campaign are chosen by whoever sends events (an ingest key can be published
-- in a web page) and both are part of metric_windows' key, so one sender could make any number of
-- window rows. The stream processor admits at most STREAM_MAX_EVENT_NAMES_PER_TENANT event names
-- and STREAM_MAX_CAMPAIGNS_PER_TENANT campaigns per tenant; events with a value beyond that are
-- counted under '(other)', never dropped. A value is admitted in the batch transaction that first
-- counts it, so the admitted set commits or rolls back with the windows it produced; the
-- processor keeps the admitted values in memory, so a batch of known values reads nothing here.
-- Values stay admitted; deleting rows frees room (those values are admitted again when next seen
-- while there is room).

CREATE TABLE tenant_dimension_values (
  tenant_id    text        COLLATE "C" NOT NULL,
  dimension    text        NOT NULL CHECK (dimension IN ('event_name', 'campaign')),
  value        text        COLLATE "C" NOT NULL CHECK (length(value) BETWEEN 1 AND 256),
  admitted_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, dimension, value)
);

-- Values already in the windows stay counted under their own names, even past the cap.
INSERT INTO tenant_dimension_values (tenant_id, dimension, value)
SELECT DISTINCT tenant_id, 'event_name', event_name FROM metric_windows
WHERE source <> 'predictions'
ON CONFLICT DO NOTHING;
INSERT INTO tenant_dimension_values (tenant_id, dimension, value)
SELECT DISTINCT tenant_id, 'campaign', campaign FROM metric_windows
WHERE source <> 'predictions' AND campaign <> ''
ON CONFLICT DO NOTHING;
