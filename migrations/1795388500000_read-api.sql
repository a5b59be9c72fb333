-- Up Migration
-- The tenant read API on the edge Worker (src/read-api): the `read` key role, alert
-- acknowledgement, the status history of retraining requests, and indexes for its paged reads.
-- Same conventions as the initial schema (schema-agnostic, forward-only, tenant first).

-- Keys may carry the `read` role (the console and read-only integrations).
ALTER TABLE api_keys DROP CONSTRAINT IF EXISTS api_keys_roles_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_roles_check CHECK (
  cardinality(roles) > 0 AND roles <@ ARRAY['ingest', 'score', 'admin', 'read']::text[]
);

-- When a person acknowledged the alert (state = 'acknowledged'); the state alone cannot say when.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS acknowledged_at timestamptz;
-- Lists page by (created_at, alert_id); the model filter is common enough to keep off a scan.
CREATE INDEX IF NOT EXISTS alerts_by_model_time ON alerts (tenant_id, model_name, created_at);

-- Every status a retraining request went through, oldest first: `requested` when it opened,
-- then each change of retrain_requests.status. Kept by triggers, so every writer of
-- retrain_requests (the stream processor, an operator with psql) leaves the same trail.
CREATE TABLE IF NOT EXISTS retrain_request_history (
  tenant_id   text        NOT NULL,
  request_id  text        NOT NULL,
  seq         bigint      GENERATED ALWAYS AS IDENTITY,
  status      text        NOT NULL
                CHECK (status IN ('requested', 'open', 'in_progress', 'completed', 'rejected')),
  at          timestamptz NOT NULL,
  reason      text,
  PRIMARY KEY (tenant_id, request_id, seq),
  FOREIGN KEY (tenant_id, request_id)
    REFERENCES retrain_requests (tenant_id, request_id) ON DELETE CASCADE
);

INSERT INTO retrain_request_history (tenant_id, request_id, status, at, reason)
SELECT r.tenant_id, r.request_id, 'requested', r.requested_at, r.policy
FROM retrain_requests r
WHERE NOT EXISTS (SELECT 1 FROM retrain_request_history h
                  WHERE h.tenant_id = r.tenant_id AND h.request_id = r.request_id);
INSERT INTO retrain_request_history (tenant_id, request_id, status, at)
SELECT r.tenant_id, r.request_id, r.status, r.updated_at
FROM retrain_requests r
WHERE r.status <> 'open';

CREATE OR REPLACE FUNCTION retrain_request_history_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO retrain_request_history (tenant_id, request_id, status, at, reason)
    VALUES (NEW.tenant_id, NEW.request_id, 'requested', NEW.requested_at, NEW.policy);
    IF NEW.status <> 'open' THEN
      INSERT INTO retrain_request_history (tenant_id, request_id, status, at)
      VALUES (NEW.tenant_id, NEW.request_id, NEW.status, NEW.updated_at);
    END IF;
  ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
    INSERT INTO retrain_request_history (tenant_id, request_id, status, at)
    VALUES (NEW.tenant_id, NEW.request_id, NEW.status, now());
  END IF;
  RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS retrain_request_history_on_insert ON retrain_requests;
CREATE TRIGGER retrain_request_history_on_insert AFTER INSERT ON retrain_requests
  FOR EACH ROW EXECUTE FUNCTION retrain_request_history_record();
DROP TRIGGER IF EXISTS retrain_request_history_on_status ON retrain_requests;
CREATE TRIGGER retrain_request_history_on_status AFTER UPDATE OF status ON retrain_requests
  FOR EACH ROW EXECUTE FUNCTION retrain_request_history_record();

-- Retraining request lists page by (requested_at, request_id), optionally per status.
CREATE INDEX IF NOT EXISTS retrain_requests_by_time ON retrain_requests (tenant_id, requested_at);

-- Drift pages walk (evaluated_at, id) per model, with or without a version; the tests of one
-- evaluation of one feature (psi, ks, js) are found by their window.
CREATE INDEX IF NOT EXISTS drift_results_by_model_time
  ON drift_results (tenant_id, model_name, evaluated_at, id);
CREATE INDEX IF NOT EXISTS drift_results_by_window
  ON drift_results (tenant_id, model_name, version, feature, window_end, window_start);

-- Performance pages walk (window_start, id) per model.
CREATE INDEX IF NOT EXISTS performance_results_by_window
  ON performance_results (tenant_id, model_name, window_start, id);
