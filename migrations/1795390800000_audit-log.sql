-- Up Migration
-- The audit log: one row per admin action (API keys, model uploads and promotions, webhooks,
-- destinations, monitoring settings), with who did it (the acting key's id, never the key), the
-- tenant, the request id, and the target's state before and after. Secrets never appear here:
-- keys are named by their id, webhook secrets and destination tokens not at all.
--
-- Append-only, enforced here rather than trusted to the application: triggers refuse every UPDATE,
-- DELETE and TRUNCATE, whoever runs them. Removing an entry takes a migration that drops the
-- trigger, i.e. a reviewed schema change, never a request.

CREATE TABLE IF NOT EXISTS audit_log (
  entry_id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id     text        NOT NULL CHECK (length(tenant_id) BETWEEN 1 AND 64),
  -- The database's clock, not the caller's: entries are ordered by when they were written.
  recorded_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- api-key: a request authenticated by key `actor_id`; operator: a command run with database
  -- access (keys:create, keys:revoke), `actor_id` the operating-system user it ran as.
  actor_kind    text        NOT NULL CHECK (actor_kind IN ('api-key', 'operator')),
  actor_id      text        NOT NULL CHECK (length(actor_id) BETWEEN 1 AND 128),
  request_id    text        NOT NULL CHECK (length(request_id) BETWEEN 1 AND 128),
  action        text        NOT NULL CHECK (action ~ '^[a-z-]+\.[a-z-]+$'),
  -- What was acted on, e.g. `webhook:<id>`, `model:conversion@3`, `api-key:<key id>`.
  target        text        NOT NULL CHECK (length(target) BETWEEN 1 AND 300),
  before_state  jsonb,
  after_state   jsonb
);

CREATE INDEX IF NOT EXISTS audit_log_tenant_time ON audit_log (tenant_id, recorded_at, entry_id);
CREATE INDEX IF NOT EXISTS audit_log_tenant_action_time
  ON audit_log (tenant_id, action, recorded_at, entry_id);

CREATE OR REPLACE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only: % is refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

DROP TRIGGER IF EXISTS audit_log_no_update_delete ON audit_log;
CREATE TRIGGER audit_log_no_update_delete
  BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();

DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log;
CREATE TRIGGER audit_log_no_truncate
  BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
