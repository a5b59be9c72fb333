-- Up Migration
-- One row per drift evaluation of one feature (or the score): the tests that ran on it (psi, ks,
-- js rows of drift_results) side by side, as GET /v1/models/{name}/drift answers them. The read
-- API pages over this table's (evaluated_at, first_id) index instead of grouping drift_results at
-- every read. drift_results stays the record of each test (with its details); a statement
-- trigger keeps this table in step with every insert there, in the same transaction.

CREATE TABLE IF NOT EXISTS drift_entries (
  tenant_id       text        NOT NULL,
  model_name      text        NOT NULL,
  version         text        NOT NULL,
  feature         text        NOT NULL,
  window_kind     text        NOT NULL,
  window_start    timestamptz NOT NULL,
  window_end      timestamptz NOT NULL,
  evaluation_id   text,
  -- The smallest drift_results.id of the group (its head): the entry's tiebreak and cursor id.
  first_id        bigint      NOT NULL,
  -- The head's evaluated_at: an entry is placed where its first stored test was.
  evaluated_at    timestamptz NOT NULL,
  current_size    bigint      NOT NULL,
  psi             double precision,
  ks              double precision,
  ks_p            double precision,
  js              double precision,
  -- The evaluation's verdict on the feature (details.featureDrift), else any test's is_drift.
  feature_drift   boolean,
  any_drift       boolean     NOT NULL,
  -- The PSI row's bins as the API answers them: {edges | categories, reference, current,
  -- epsilon} (the counts and terms stay in drift_results), to redraw the histogram.
  bins            jsonb
);
CREATE UNIQUE INDEX IF NOT EXISTS drift_entries_one_per_evaluation
  ON drift_entries (tenant_id, model_name, version, feature, window_kind, window_start, window_end,
    (coalesce(evaluation_id, '')));
CREATE INDEX IF NOT EXISTS drift_entries_by_model_time
  ON drift_entries (tenant_id, model_name, evaluated_at, first_id);
CREATE INDEX IF NOT EXISTS drift_entries_by_feature_time
  ON drift_entries (tenant_id, model_name, feature, evaluated_at, first_id);

-- A PSI row's stored bins reduced to what a histogram needs; NULL when they are not of that shape.
CREATE OR REPLACE FUNCTION drift_entry_bins(b jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN jsonb_typeof(b->'referenceProportions') = 'array'
     AND jsonb_typeof(b->'currentProportions') = 'array'
    THEN jsonb_strip_nulls(jsonb_build_object(
      'edges', CASE WHEN jsonb_typeof(b->'bins'->'edges') = 'array' THEN b->'bins'->'edges' END,
      'categories',
        CASE WHEN jsonb_typeof(b->'bins'->'categories') = 'array' THEN b->'bins'->'categories' END,
      'reference', b->'referenceProportions',
      'current', b->'currentProportions',
      'epsilon', CASE WHEN jsonb_typeof(b->'epsilon') = 'number' THEN b->'epsilon' END))
  END
$$;

-- Folds the rows a statement inserted into drift_results into their entries; a group split over
-- two statements merges into one entry.
CREATE OR REPLACE FUNCTION drift_entries_from_inserted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO drift_entries AS e (tenant_id, model_name, version, feature, window_kind,
    window_start, window_end, evaluation_id, first_id, evaluated_at, current_size, psi, ks, ks_p,
    js, feature_drift, any_drift, bins)
  SELECT tenant_id, model_name, version, feature, window_kind, window_start, window_end,
    evaluation_id, min(id), (array_agg(evaluated_at ORDER BY id))[1], max(current_size),
    max(value) FILTER (WHERE test = 'psi'), max(value) FILTER (WHERE test = 'ks'),
    max(p_value) FILTER (WHERE test = 'ks'), max(value) FILTER (WHERE test = 'js'),
    bool_or((details->>'featureDrift')::boolean), bool_or(is_drift),
    (array_agg(drift_entry_bins(bins)) FILTER (WHERE test = 'psi' AND bins IS NOT NULL))[1]
  FROM inserted
  GROUP BY tenant_id, model_name, version, feature, window_kind, window_start, window_end,
    evaluation_id
  ON CONFLICT (tenant_id, model_name, version, feature, window_kind, window_start, window_end,
    (coalesce(evaluation_id, '')))
  DO UPDATE SET
    first_id = least(e.first_id, EXCLUDED.first_id),
    evaluated_at = CASE WHEN EXCLUDED.first_id < e.first_id THEN EXCLUDED.evaluated_at
                        ELSE e.evaluated_at END,
    current_size = greatest(e.current_size, EXCLUDED.current_size),
    psi = coalesce(EXCLUDED.psi, e.psi),
    ks = coalesce(EXCLUDED.ks, e.ks),
    ks_p = coalesce(EXCLUDED.ks_p, e.ks_p),
    js = coalesce(EXCLUDED.js, e.js),
    feature_drift = CASE WHEN e.feature_drift IS NULL THEN EXCLUDED.feature_drift
                         WHEN EXCLUDED.feature_drift IS NULL THEN e.feature_drift
                         ELSE e.feature_drift OR EXCLUDED.feature_drift END,
    any_drift = e.any_drift OR EXCLUDED.any_drift,
    bins = coalesce(EXCLUDED.bins, e.bins);
  RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS drift_entries_follow ON drift_results;
CREATE TRIGGER drift_entries_follow
  AFTER INSERT ON drift_results
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION drift_entries_from_inserted();

-- The evaluations stored before this table existed.
INSERT INTO drift_entries (tenant_id, model_name, version, feature, window_kind, window_start,
  window_end, evaluation_id, first_id, evaluated_at, current_size, psi, ks, ks_p, js,
  feature_drift, any_drift, bins)
SELECT tenant_id, model_name, version, feature, window_kind, window_start, window_end,
  evaluation_id, min(id), (array_agg(evaluated_at ORDER BY id))[1], max(current_size),
  max(value) FILTER (WHERE test = 'psi'), max(value) FILTER (WHERE test = 'ks'),
  max(p_value) FILTER (WHERE test = 'ks'), max(value) FILTER (WHERE test = 'js'),
  bool_or((details->>'featureDrift')::boolean), bool_or(is_drift),
  (array_agg(drift_entry_bins(bins)) FILTER (WHERE test = 'psi' AND bins IS NOT NULL))[1]
FROM drift_results
GROUP BY tenant_id, model_name, version, feature, window_kind, window_start, window_end,
  evaluation_id
ON CONFLICT DO NOTHING;
