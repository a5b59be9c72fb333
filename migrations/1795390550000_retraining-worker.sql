-- Up Migration
-- The retraining worker (retraining-worker/): the request statuses it moves through, the job it
-- keeps per request (frozen training window, candidate artifacts, rollout and online decision),
-- automation settings per tenant and model, and operator commands. Same conventions as the
-- initial schema (schema-agnostic, forward-only, tenant first).

-- requested → training → candidate → challenger → promoted | rolled-back, or rejected, failed,
-- needs-external-trainer, cancelled. 'open', 'in_progress' and 'completed' stay valid for rows
-- written before this migration; 'open' rows become 'requested' (the same meaning).
ALTER TABLE retrain_requests DROP CONSTRAINT IF EXISTS retrain_requests_status_check;
ALTER TABLE retrain_request_history DROP CONSTRAINT IF EXISTS retrain_request_history_status_check;
UPDATE retrain_requests SET status = 'requested' WHERE status = 'open';
ALTER TABLE retrain_requests ALTER COLUMN status SET DEFAULT 'requested';
ALTER TABLE retrain_requests ADD CONSTRAINT retrain_requests_status_check CHECK (status IN (
  'requested', 'training', 'candidate', 'challenger', 'promoted', 'rolled-back', 'rejected',
  'failed', 'needs-external-trainer', 'cancelled', 'open', 'in_progress', 'completed'));
ALTER TABLE retrain_request_history ADD CONSTRAINT retrain_request_history_status_check CHECK (
  status IN ('requested', 'training', 'candidate', 'challenger', 'promoted', 'rolled-back',
  'rejected', 'failed', 'needs-external-trainer', 'cancelled', 'open', 'in_progress',
  'completed'));
-- Why the request is in its status, and the evidence of that step (counts, metrics, test
-- statistics): written with each status change and copied into the history by the trigger.
ALTER TABLE retrain_requests ADD COLUMN IF NOT EXISTS status_reason text;
ALTER TABLE retrain_requests ADD COLUMN IF NOT EXISTS status_evidence jsonb
  CHECK (status_evidence IS NULL OR jsonb_typeof(status_evidence) = 'object');
ALTER TABLE retrain_request_history ADD COLUMN IF NOT EXISTS evidence jsonb
  CHECK (evidence IS NULL OR jsonb_typeof(evidence) = 'object');

CREATE OR REPLACE FUNCTION retrain_request_history_record() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO retrain_request_history (tenant_id, request_id, status, at, reason)
    VALUES (NEW.tenant_id, NEW.request_id, 'requested', NEW.requested_at, NEW.policy);
    IF NEW.status NOT IN ('open', 'requested') THEN
      INSERT INTO retrain_request_history (tenant_id, request_id, status, at, reason, evidence)
      VALUES (NEW.tenant_id, NEW.request_id, NEW.status, NEW.updated_at, NEW.status_reason,
              NEW.status_evidence);
    END IF;
  ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
    INSERT INTO retrain_request_history (tenant_id, request_id, status, at, reason, evidence)
    VALUES (NEW.tenant_id, NEW.request_id, NEW.status, now(), NEW.status_reason,
            NEW.status_evidence);
  END IF;
  RETURN NULL;
END $$;

-- One job per request the worker consumed, keyed like the request. `state` holds what each
-- step fixed (the training window's cutoff, the candidate's version, the gate's numbers, the
-- champion it was compared with, the challenger's start) so a restarted worker resumes the same
-- step on the same data. A worker holds a job while `lease_until` is in the future.
CREATE TABLE IF NOT EXISTS retraining_jobs (
  tenant_id         text        NOT NULL,
  request_id        text        NOT NULL,
  model_name        text        NOT NULL,
  state             jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(state) = 'object'),
  -- The candidate's files between training and rollout (kept for inspection afterwards).
  candidate_onnx    bytea,
  candidate_manifest jsonb,
  attempts          integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_run_at       timestamptz NOT NULL DEFAULT now(),
  lease_until       timestamptz,
  leased_by         text,
  last_error        text,
  -- An operator's command waiting for the worker: 'rollback' or 'approve'.
  command           text        CHECK (command IN ('rollback', 'approve')),
  done_at           timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, request_id),
  FOREIGN KEY (tenant_id, request_id)
    REFERENCES retrain_requests (tenant_id, request_id) ON DELETE CASCADE
);
-- The worker's queue: jobs not done, by due time (polled across tenants, like the outbox).
CREATE INDEX IF NOT EXISTS retraining_jobs_due
  ON retraining_jobs (next_run_at) WHERE done_at IS NULL;

-- Automation per tenant and model ('*': every model of the tenant without its own row).
-- approval 'auto': the online decision promotes or rolls back by itself; 'manual': it waits for
-- an operator's approve or rollback. paused: new requests wait in 'requested'.
CREATE TABLE IF NOT EXISTS retraining_settings (
  tenant_id         text        NOT NULL,
  model_name        text        NOT NULL CHECK (model_name = '*' OR model_name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  paused            boolean     NOT NULL DEFAULT false,
  approval          text        NOT NULL DEFAULT 'auto' CHECK (approval IN ('auto', 'manual')),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, model_name)
);

-- Training sets read a model's settled rows by time.
CREATE INDEX IF NOT EXISTS predictions_settled_by_model
  ON predictions (tenant_id, model_name, predicted_at) WHERE label IS NOT NULL;
