-- Up Migration
-- The dedup memory keeps only its key and age.
--
-- Why: seen_events takes one row per counted record, inserted inside every batch transaction,
-- and is the largest write of the stream hot path. The key is already SHA-256 over
-- (tenant_id, event_name, event_id), so it separates tenants by itself; the tenant_id column
-- was kept only so that a tenant's entries could be found, which nothing does (entries expire
-- after STREAM_DEDUP_RETENTION_HOURS). Without it the insert sends and stores ~25 % less per
-- record: 7.8 instead of 9.8 µs per key, measured on the 2-core dev VM with 20 000-key
-- batches into a 1M-row table.
-- DROP COLUMN only marks the column dropped (no table rewrite, no long lock on a big table);
-- the space of existing rows is reclaimed as they expire.

ALTER TABLE seen_events DROP COLUMN tenant_id;

