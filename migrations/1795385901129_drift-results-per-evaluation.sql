-- Up Migration
-- Sliding-window drift results are identified by their evaluation, not by their time range.
-- Two evaluations of the recent-predictions window can span the same scoring times (records of
-- several partitions arrive out of scoring-time order, and many predictions share a
-- millisecond), so the original UNIQUE (…, window_kind, window_start, window_end) would drop
-- the later evaluation's rows. Each evaluation has a deterministic id (per model version and
-- evaluation number, or per hour for hourly ones); that id plus column and test is the key a
-- retried batch must not write twice. Rows written without an evaluation id keep the old key.
DO $$
DECLARE
  c text;
BEGIN
  FOR c IN
    SELECT conname FROM pg_constraint
    WHERE conrelid = 'drift_results'::regclass AND contype = 'u'
  LOOP
    EXECUTE format('ALTER TABLE drift_results DROP CONSTRAINT %I', c);
  END LOOP;
END $$;

CREATE UNIQUE INDEX drift_results_one_per_evaluation
  ON drift_results (tenant_id, evaluation_id, feature, test) WHERE evaluation_id IS NOT NULL;
CREATE UNIQUE INDEX drift_results_one_per_window
  ON drift_results (tenant_id, model_name, version, feature, test, window_kind, window_start, window_end)
  WHERE evaluation_id IS NULL;
