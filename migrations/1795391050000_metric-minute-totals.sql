-- Up Migration
-- Per-minute totals of a tenant over every source, event name and campaign, so a minute read
-- without a grouping dimension or filter reads one row per minute instead of every window key
-- (24 h = 1,440 rows, not 1,440 × keys). Kept by statement triggers on the minute rows of
-- metric_windows and metric_window_values, so every writer (the stream processor's batch
-- upserts, backfills, deletions) keeps them exact in its own transaction: a batch that rolls back
-- leaves no trace, a replayed batch adds exactly what its window rows add.
--
-- `event_rows` / `prediction_rows` count the window rows behind a total (non-prediction sources
-- and source 'predictions'), so a read returns a minute exactly when the raw rows would have
-- one; a total whose rows are all gone is deleted. (No CHECK on them: a deletion's upsert
-- proposes a negative delta row, and CHECK constraints apply to it before the conflict.)

CREATE TABLE IF NOT EXISTS metric_minute_totals (
  tenant_id            text        NOT NULL,
  window_start         timestamptz NOT NULL,
  event_rows           bigint      NOT NULL DEFAULT 0,
  prediction_rows      bigint      NOT NULL DEFAULT 0,
  event_count          bigint      NOT NULL DEFAULT 0,
  late_count           bigint      NOT NULL DEFAULT 0,
  match_quality_sum    double precision NOT NULL DEFAULT 0,
  match_quality_count  bigint      NOT NULL DEFAULT 0,
  conversion_count     bigint      NOT NULL DEFAULT 0,
  prediction_count     bigint      NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, window_start)
) WITH (fillfactor = 80);

CREATE TABLE IF NOT EXISTS metric_minute_value_totals (
  tenant_id     text        NOT NULL,
  window_start  timestamptz NOT NULL,
  currency      text        NOT NULL,
  value_rows    bigint      NOT NULL DEFAULT 0,
  value_sum     numeric(38, 6) NOT NULL DEFAULT 0,
  value_count   bigint      NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, window_start, currency)
) WITH (fillfactor = 80);

-- One function per table; TG_OP says which transition tables exist (the statement is built for
-- them, as a reference to a missing one would not plan). Deltas are grouped and applied in key
-- order, so concurrent batches lock total rows in the same order.
CREATE OR REPLACE FUNCTION metric_minute_totals_apply() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  cols constant text := 'tenant_id, window_start, source, event_count, late_count,
    match_quality_sum, match_quality_count, conversion_count, prediction_count';
  deltas text;
BEGIN
  deltas := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT %s, 1 AS sign FROM new_rows WHERE window_seconds = 60', cols)
    WHEN 'DELETE' THEN format('SELECT %s, -1 AS sign FROM old_rows WHERE window_seconds = 60', cols)
    ELSE format('SELECT %s, 1 AS sign FROM new_rows WHERE window_seconds = 60
                 UNION ALL SELECT %s, -1 FROM old_rows WHERE window_seconds = 60', cols, cols)
  END;
  EXECUTE format($q$
    WITH d AS (%s)
      INSERT INTO metric_minute_totals AS t (tenant_id, window_start, event_rows, prediction_rows,
        event_count, late_count, match_quality_sum, match_quality_count, conversion_count,
        prediction_count)
      SELECT tenant_id, window_start,
        coalesce(sum(sign) FILTER (WHERE source <> 'predictions'), 0),
        coalesce(sum(sign) FILTER (WHERE source = 'predictions'), 0),
        coalesce(sum(sign * event_count) FILTER (WHERE source <> 'predictions'), 0),
        coalesce(sum(sign * late_count) FILTER (WHERE source <> 'predictions'), 0),
        coalesce(sum(sign * match_quality_sum) FILTER (WHERE source <> 'predictions'), 0),
        coalesce(sum(sign * match_quality_count) FILTER (WHERE source <> 'predictions'), 0),
        coalesce(sum(sign * conversion_count) FILTER (WHERE source <> 'predictions'), 0),
        coalesce(sum(sign * prediction_count) FILTER (WHERE source = 'predictions'), 0)
      FROM d GROUP BY tenant_id, window_start ORDER BY tenant_id, window_start
      ON CONFLICT (tenant_id, window_start) DO UPDATE SET
        event_rows = t.event_rows + EXCLUDED.event_rows,
        prediction_rows = t.prediction_rows + EXCLUDED.prediction_rows,
        event_count = t.event_count + EXCLUDED.event_count,
        late_count = t.late_count + EXCLUDED.late_count,
        match_quality_sum = t.match_quality_sum + EXCLUDED.match_quality_sum,
        match_quality_count = t.match_quality_count + EXCLUDED.match_quality_count,
        conversion_count = t.conversion_count + EXCLUDED.conversion_count,
        prediction_count = t.prediction_count + EXCLUDED.prediction_count$q$, deltas);
  -- Only a deletion takes window rows away (an update keeps them: new and old cancel out).
  IF TG_OP = 'DELETE' THEN
    DELETE FROM metric_minute_totals t
    USING (SELECT DISTINCT tenant_id, window_start FROM old_rows WHERE window_seconds = 60) d
    WHERE t.tenant_id = d.tenant_id AND t.window_start = d.window_start
      AND t.event_rows = 0 AND t.prediction_rows = 0;
  END IF;
  RETURN NULL;
END;
$fn$;

CREATE OR REPLACE FUNCTION metric_minute_value_totals_apply() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  cols constant text := 'tenant_id, window_start, currency, value_sum, value_count';
  only_minutes constant text := 'window_seconds = 60 AND source <> ''predictions''';
  deltas text;
BEGIN
  deltas := CASE TG_OP
    WHEN 'INSERT' THEN format('SELECT %s, 1 AS sign FROM new_rows WHERE %s', cols, only_minutes)
    WHEN 'DELETE' THEN format('SELECT %s, -1 AS sign FROM old_rows WHERE %s', cols, only_minutes)
    ELSE format('SELECT %s, 1 AS sign FROM new_rows WHERE %s
                 UNION ALL SELECT %s, -1 FROM old_rows WHERE %s',
                cols, only_minutes, cols, only_minutes)
  END;
  EXECUTE format($q$
    WITH d AS (%s)
      INSERT INTO metric_minute_value_totals AS t (tenant_id, window_start, currency, value_rows,
        value_sum, value_count)
      SELECT tenant_id, window_start, currency, sum(sign), sum(sign * value_sum),
        sum(sign * value_count)
      FROM d GROUP BY tenant_id, window_start, currency
      ORDER BY tenant_id, window_start, currency
      ON CONFLICT (tenant_id, window_start, currency) DO UPDATE SET
        value_rows = t.value_rows + EXCLUDED.value_rows,
        value_sum = t.value_sum + EXCLUDED.value_sum,
        value_count = t.value_count + EXCLUDED.value_count$q$, deltas);
  IF TG_OP = 'DELETE' THEN
    DELETE FROM metric_minute_value_totals t
    USING (SELECT DISTINCT tenant_id, window_start, currency FROM old_rows
           WHERE window_seconds = 60) d
    WHERE t.tenant_id = d.tenant_id AND t.window_start = d.window_start
      AND t.currency = d.currency AND t.value_rows = 0;
  END IF;
  RETURN NULL;
END;
$fn$;

-- The triggers first: they lock the tables until this migration commits, so no write falls
-- between the backfill below and the triggers.
DROP TRIGGER IF EXISTS metric_minute_totals_ins ON metric_windows;
DROP TRIGGER IF EXISTS metric_minute_totals_upd ON metric_windows;
DROP TRIGGER IF EXISTS metric_minute_totals_del ON metric_windows;
CREATE TRIGGER metric_minute_totals_ins AFTER INSERT ON metric_windows
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION metric_minute_totals_apply();
CREATE TRIGGER metric_minute_totals_upd AFTER UPDATE ON metric_windows
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION metric_minute_totals_apply();
CREATE TRIGGER metric_minute_totals_del AFTER DELETE ON metric_windows
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION metric_minute_totals_apply();

DROP TRIGGER IF EXISTS metric_minute_value_totals_ins ON metric_window_values;
DROP TRIGGER IF EXISTS metric_minute_value_totals_upd ON metric_window_values;
DROP TRIGGER IF EXISTS metric_minute_value_totals_del ON metric_window_values;
CREATE TRIGGER metric_minute_value_totals_ins AFTER INSERT ON metric_window_values
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION metric_minute_value_totals_apply();
CREATE TRIGGER metric_minute_value_totals_upd AFTER UPDATE ON metric_window_values
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION metric_minute_value_totals_apply();
CREATE TRIGGER metric_minute_value_totals_del AFTER DELETE ON metric_window_values
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
  EXECUTE FUNCTION metric_minute_value_totals_apply();

-- Minutes written before the triggers existed.
DELETE FROM metric_minute_totals;
INSERT INTO metric_minute_totals (tenant_id, window_start, event_rows, prediction_rows,
  event_count, late_count, match_quality_sum, match_quality_count, conversion_count,
  prediction_count)
SELECT tenant_id, window_start,
  count(*) FILTER (WHERE source <> 'predictions'),
  count(*) FILTER (WHERE source = 'predictions'),
  coalesce(sum(event_count) FILTER (WHERE source <> 'predictions'), 0),
  coalesce(sum(late_count) FILTER (WHERE source <> 'predictions'), 0),
  coalesce(sum(match_quality_sum) FILTER (WHERE source <> 'predictions'), 0),
  coalesce(sum(match_quality_count) FILTER (WHERE source <> 'predictions'), 0),
  coalesce(sum(conversion_count) FILTER (WHERE source <> 'predictions'), 0),
  coalesce(sum(prediction_count) FILTER (WHERE source = 'predictions'), 0)
FROM metric_windows WHERE window_seconds = 60
GROUP BY tenant_id, window_start;

DELETE FROM metric_minute_value_totals;
INSERT INTO metric_minute_value_totals (tenant_id, window_start, currency, value_rows,
  value_sum, value_count)
SELECT tenant_id, window_start, currency, count(*), sum(value_sum), sum(value_count)
FROM metric_window_values WHERE window_seconds = 60 AND source <> 'predictions'
GROUP BY tenant_id, window_start, currency;
