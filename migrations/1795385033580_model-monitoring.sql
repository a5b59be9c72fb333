-- Up Migration
-- Model monitoring (stream-processor/monitoring): durable state per model version, the label
-- join's inputs, evaluation details on drift and performance results, and an outbox that
-- publishes alerts and retraining requests to Kafka and webhooks after the batch committed.
-- Same conventions as the initial schema (schema-agnostic, forward-only, tenant first).

-- One sliding evaluation writes several rows (one per column and test); this groups them and
-- is what alerts and retraining evidence refer to. `details` holds the thresholds and method
-- facts (KS method and sign, alpha, minimum effect, the column's drift level).
ALTER TABLE drift_results ADD COLUMN evaluation_id text CHECK (length(evaluation_id) <= 64);
ALTER TABLE drift_results ADD COLUMN details jsonb
  CHECK (details IS NULL OR jsonb_typeof(details) = 'object');
CREATE INDEX drift_results_by_evaluation
  ON drift_results (tenant_id, evaluation_id) WHERE evaluation_id IS NOT NULL;

-- Settings a performance result depends on (attribution window, log-loss clipping, baseline).
ALTER TABLE performance_results ADD COLUMN details jsonb
  CHECK (details IS NULL OR jsonb_typeof(details) = 'object');

-- What monitoring remembers per model version between batches: alert levels, policy streaks,
-- the stride counter, open hours and the performance cursor (JSON, see ModelMonitorState).
-- Every batch that touches a version locks its row (SELECT ... FOR UPDATE) and bumps `seq`, so
-- concurrent batches of one version serialise and a process can tell whether its in-memory
-- window is current. The sliding window itself is not stored here: it is re-read from
-- `predictions` when needed.
CREATE TABLE monitoring_state (
  tenant_id    text        NOT NULL,
  model_name   text        NOT NULL,
  version      text        NOT NULL,
  seq          bigint      NOT NULL DEFAULT 0 CHECK (seq >= 0),
  state        jsonb       NOT NULL CHECK (jsonb_typeof(state) = 'object'),
  -- The tenant watermark (event time) at which hourly drift or performance work becomes due;
  -- NULL when nothing is waiting.
  next_due_at  timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, model_name, version)
);
CREATE INDEX monitoring_state_due
  ON monitoring_state (tenant_id, next_due_at) WHERE next_due_at IS NOT NULL;

-- Conversions that can label predictions, one row per key they carry: the prediction id itself
-- ('prediction') or a click id ('click'). Kept apart from `predictions` because a conversion may
-- arrive before the prediction it labels (different topics); labels are resolved once the
-- prediction's attribution window has passed.
CREATE TABLE conversion_keys (
  tenant_id   text        NOT NULL,
  key_kind    text        NOT NULL CHECK (key_kind IN ('prediction', 'click')),
  key         text        NOT NULL CHECK (length(key) BETWEEN 1 AND 128),
  event_name  text        NOT NULL,
  event_id    text        NOT NULL,
  event_time  timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, key_kind, key, event_name, event_id)
);
CREATE INDEX conversion_keys_by_age ON conversion_keys (tenant_id, created_at);

-- Click ids known to belong to a prediction (an event carried both), so a later conversion that
-- only carries the click id labels the prediction.
CREATE TABLE click_id_predictions (
  tenant_id      text        NOT NULL,
  prediction_id  text        NOT NULL CHECK (length(prediction_id) BETWEEN 1 AND 128),
  click_id       text        NOT NULL CHECK (length(click_id) BETWEEN 1 AND 128),
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, prediction_id, click_id)
);
CREATE INDEX click_id_predictions_by_click ON click_id_predictions (tenant_id, click_id);
CREATE INDEX click_id_predictions_by_age ON click_id_predictions (tenant_id, created_at);

-- Deliveries of alerts and retraining requests: written in the batch's transaction, sent by a
-- background publisher after the commit (Kafka topics `alerts` / `retrain-requests`, and each
-- configured webhook), retried with back-off. A deliberate exception to "tenant first": this is
-- the operator's delivery queue, polled across tenants by due time.
CREATE TABLE monitoring_outbox (
  id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id        text        NOT NULL,
  channel          text        NOT NULL CHECK (channel IN ('alerts', 'retrain-requests', 'webhook')),
  -- alert_id or request_id of what is delivered.
  ref_id           text        NOT NULL,
  -- Webhook URL; '' for Kafka channels.
  target           text        NOT NULL DEFAULT '',
  message_key      text        NOT NULL,
  payload          jsonb       NOT NULL,
  attempts         integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  last_error       text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  -- Set when a webhook kept failing until its last attempt; the row stays for inspection.
  failed_at        timestamptz,
  UNIQUE (channel, ref_id, target)
);
CREATE INDEX monitoring_outbox_due
  ON monitoring_outbox (next_attempt_at) WHERE delivered_at IS NULL AND failed_at IS NULL;
