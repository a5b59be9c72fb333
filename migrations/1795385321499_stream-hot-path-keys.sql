-- Up Migration
-- Stream hot path: byte-order ("C") collation for the text key columns the stream processor
-- writes per event, and a BRIN index instead of a b-tree for pruning the dedup memory by age.
--
-- Why: every counted event inserts one seen_events key and upserts window rows; each insert
-- compares keys in the primary-key b-tree. With a linguistic collation each comparison calls
-- strcoll(); with "C" it is a memcmp. Measured on the 2-core dev VM: ~30 % less time per
-- dedup insert. Equality (all the keys need) is the same under both; only the sort order of
-- non-ASCII names changes, which no caller depends on.
-- seen_events_by_age was a b-tree written once per event only to find expired entries; rows
-- arrive in first_seen_at order, which is what BRIN summarises for almost nothing per insert.

ALTER TABLE metric_windows
  ALTER COLUMN tenant_id TYPE text COLLATE "C",
  ALTER COLUMN source TYPE text COLLATE "C",
  ALTER COLUMN event_name TYPE text COLLATE "C",
  ALTER COLUMN campaign TYPE text COLLATE "C";

ALTER TABLE metric_window_values
  ALTER COLUMN tenant_id TYPE text COLLATE "C",
  ALTER COLUMN source TYPE text COLLATE "C",
  ALTER COLUMN event_name TYPE text COLLATE "C",
  ALTER COLUMN campaign TYPE text COLLATE "C",
  ALTER COLUMN currency TYPE text COLLATE "C";

ALTER TABLE seen_events
  ALTER COLUMN tenant_id TYPE text COLLATE "C",
  ALTER COLUMN event_name TYPE text COLLATE "C",
  ALTER COLUMN event_id TYPE text COLLATE "C";

DROP INDEX seen_events_by_age;
CREATE INDEX seen_events_first_seen_brin ON seen_events USING brin (first_seen_at);

ALTER TABLE event_time_watermarks ALTER COLUMN tenant_id TYPE text COLLATE "C";
