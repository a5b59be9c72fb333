-- Up Migration
-- The top reasons of explained scores (the Worker's PREDICTION_LOG_REASONS): each prediction's
-- largest signed Shapley contributions, [{ "feature", "contribution" }, …], as logged; NULL when
-- the prediction was logged without them.
ALTER TABLE predictions ADD COLUMN IF NOT EXISTS reasons jsonb;

-- The console's explanations: a model's explained predictions in a time range, newest first, and
-- the mean |contribution| per feature over them. Partial, so predictions logged without reasons
-- (the default) cost the index nothing.
CREATE INDEX IF NOT EXISTS predictions_explained
  ON predictions (tenant_id, model_name, predicted_at, prediction_id) WHERE reasons IS NOT NULL;
