-- Up Migration
-- Initial Driftline schema: tenants and keys, the model registry, windowed metrics, drift and
-- performance results, alerts, retraining requests, stream-processor state.
--
-- Conventions:
-- * Schema-agnostic: no object is qualified with a schema; `scripts/migrate.ts --schema <name>`
--   sets search_path, so tests get a fresh schema each and production uses the default one.
-- * Forward-only: node-pg-migrate records each applied file in `pgmigrations`; a later change
--   is a new file, never an edit of this one (there is no Down section on purpose).
-- * Multi-tenant: every tenant-owned row carries tenant_id and every index starts with it, so
--   "every query filters by tenant" is also "every query uses an index prefix".
--   Two deliberate exceptions: api_keys.key_hash is looked up before the tenant is known (the
--   key names its tenant), and consumer_offsets belong to a consumer group, not to a tenant.
-- * Stream tables (metric_windows, seen_events, predictions, drift/performance results) have no
--   foreign key to tenants: the edge has already authenticated the tenant, and the hot path
--   should not take row locks on `tenants` for every batch.
-- * Times are timestamptz (UTC instants); money is numeric (exact); counts are bigint >= 0.

CREATE TABLE tenants (
  tenant_id        text        PRIMARY KEY CHECK (tenant_id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  display_name     text,
  -- Origins allowed to POST browser events (CORS), e.g. 'https://shop.example'.
  allowed_origins  text[]      NOT NULL DEFAULT '{}',
  created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  tenant_id   text        NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  -- Public, non-secret identifier shown in listings and logs (e.g. the key's prefix).
  key_id      text        NOT NULL CHECK (length(key_id) BETWEEN 1 AND 64),
  -- Hex SHA-256 of the full key; the key itself is never stored.
  key_hash    text        NOT NULL CHECK (key_hash ~ '^[0-9a-f]{64}$'),
  roles       text[]      NOT NULL CHECK (
                cardinality(roles) > 0 AND roles <@ ARRAY['ingest', 'score', 'admin']::text[]
              ),
  name        text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz,
  PRIMARY KEY (tenant_id, key_id),
  CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);
-- Authentication looks a key up by its hash alone (the key tells which tenant it belongs to).
CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);

CREATE TABLE model_versions (
  tenant_id         text        NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  model_name        text        NOT NULL CHECK (model_name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  version           text        NOT NULL CHECK (version ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  -- The manifest as uploaded (features, tensors, output semantics, training metrics, reference).
  manifest          jsonb       NOT NULL CHECK (jsonb_typeof(manifest) = 'object'),
  -- The drift reference frozen at upload (bin edges + proportions, KS sample per feature);
  -- NULL for uploaded models without one (drift is then not computed for that version).
  reference_bins    jsonb       CHECK (reference_bins IS NULL OR jsonb_typeof(reference_bins) = 'object'),
  -- candidate: uploaded, not serving; champion: the tenant's active version of the model;
  -- challenger: serves `challenger_share` of the traffic next to the champion; archived: retired.
  status            text        NOT NULL DEFAULT 'candidate'
                      CHECK (status IN ('candidate', 'champion', 'challenger', 'archived')),
  challenger_share  double precision CHECK (challenger_share > 0 AND challenger_share < 1),
  -- Hex SHA-256 and size of the ONNX bytes in the model store, to detect a mismatched upload.
  onnx_sha256       text        CHECK (onnx_sha256 ~ '^[0-9a-f]{64}$'),
  onnx_size_bytes   bigint      CHECK (onnx_size_bytes > 0),
  created_at        timestamptz NOT NULL DEFAULT now(),
  promoted_at       timestamptz,
  PRIMARY KEY (tenant_id, model_name, version),
  CHECK ((status = 'challenger') = (challenger_share IS NOT NULL))
);
-- At most one champion and one challenger per (tenant, model).
CREATE UNIQUE INDEX model_versions_one_champion
  ON model_versions (tenant_id, model_name) WHERE status = 'champion';
CREATE UNIQUE INDEX model_versions_one_challenger
  ON model_versions (tenant_id, model_name) WHERE status = 'challenger';

-- Event-time tumbling windows. One table for every resolution: window_seconds = 60 for the
-- minute windows, 3600 for their hourly rollup (any divisor of a day is accepted).
CREATE TABLE metric_windows (
  tenant_id            text        NOT NULL,
  window_seconds       integer     NOT NULL CHECK (window_seconds > 0 AND 86400 % window_seconds = 0),
  window_start         timestamptz NOT NULL,
  -- Where the events came from: 'web' (POST /v1/events), 'capi' (Conversions API), ...
  source               text        NOT NULL CHECK (length(source) BETWEEN 1 AND 32),
  event_name           text        NOT NULL CHECK (length(event_name) BETWEEN 1 AND 256),
  -- '' when the event carries no campaign (part of the key, so not NULL).
  campaign             text        NOT NULL DEFAULT '' CHECK (length(campaign) <= 256),
  event_count          bigint      NOT NULL DEFAULT 0 CHECK (event_count >= 0),
  -- Events that arrived after the watermark closed the window; also included in event_count.
  late_count           bigint      NOT NULL DEFAULT 0 CHECK (late_count >= 0 AND late_count <= event_count),
  -- Event-match-quality score (0..10 per event) summed, and how many events had one.
  match_quality_sum    double precision NOT NULL DEFAULT 0 CHECK (match_quality_sum >= 0),
  match_quality_count  bigint      NOT NULL DEFAULT 0 CHECK (match_quality_count >= 0),
  -- Predictions made and conversions that carried (or were mapped to) a prediction id.
  prediction_count     bigint      NOT NULL DEFAULT 0 CHECK (prediction_count >= 0),
  conversion_count     bigint      NOT NULL DEFAULT 0 CHECK (conversion_count >= 0),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, window_seconds, window_start, source, event_name, campaign),
  -- Windows are aligned: start = t - t % width (seconds since the Unix epoch).
  CHECK (mod(extract(epoch FROM window_start), window_seconds) = 0)
);
CREATE INDEX metric_windows_by_event
  ON metric_windows (tenant_id, event_name, window_seconds, window_start);

-- Value sums per currency for a window (a child table so money stays numeric and upserts can
-- add to one currency without rewriting the others).
CREATE TABLE metric_window_values (
  tenant_id       text        NOT NULL,
  window_seconds  integer     NOT NULL,
  window_start    timestamptz NOT NULL,
  source          text        NOT NULL,
  event_name      text        NOT NULL,
  campaign        text        NOT NULL,
  -- ISO 4217 code, upper case.
  currency        text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  value_sum       numeric(38, 6) NOT NULL DEFAULT 0,
  value_count     bigint      NOT NULL DEFAULT 0 CHECK (value_count >= 0),
  PRIMARY KEY (tenant_id, window_seconds, window_start, source, event_name, campaign, currency),
  FOREIGN KEY (tenant_id, window_seconds, window_start, source, event_name, campaign)
    REFERENCES metric_windows (tenant_id, window_seconds, window_start, source, event_name, campaign)
    ON DELETE CASCADE
);

-- Events already counted: the stream processor inserts (ON CONFLICT DO NOTHING) in the same
-- transaction as the window updates, so a redelivered event is not counted twice.
CREATE TABLE seen_events (
  tenant_id      text        NOT NULL,
  event_name     text        NOT NULL,
  event_id       text        NOT NULL CHECK (length(event_id) BETWEEN 1 AND 256),
  first_seen_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, event_name, event_id)
);
-- For pruning entries older than the dedup horizon, tenant by tenant.
CREATE INDEX seen_events_by_age ON seen_events (tenant_id, first_seen_at);

-- Scored rows kept until labelled or past the attribution window (then counted as negatives),
-- for the label join and the performance metrics; features kept for drift windows.
CREATE TABLE predictions (
  tenant_id      text        NOT NULL,
  prediction_id  text        NOT NULL CHECK (length(prediction_id) BETWEEN 1 AND 128),
  model_name     text        NOT NULL,
  version        text        NOT NULL,
  entity_id      text,
  -- A click id (e.g. fbclid / gclid) that conversions may carry instead of the prediction id.
  click_id       text,
  score          double precision NOT NULL CHECK (score >= 0 AND score <= 1),
  features       jsonb       NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(features) = 'object'),
  predicted_at   timestamptz NOT NULL,
  -- NULL until a conversion labels it (true) or the attribution window expires (false).
  label          boolean,
  labelled_at    timestamptz,
  -- The conversion event that labelled it.
  label_event_id text,
  PRIMARY KEY (tenant_id, prediction_id),
  CHECK ((label IS NULL) = (labelled_at IS NULL))
);
CREATE INDEX predictions_by_model_time
  ON predictions (tenant_id, model_name, version, predicted_at);
CREATE INDEX predictions_by_click_id
  ON predictions (tenant_id, click_id) WHERE click_id IS NOT NULL;
CREATE INDEX predictions_unlabelled
  ON predictions (tenant_id, predicted_at) WHERE label IS NULL;

CREATE TABLE drift_results (
  tenant_id       text        NOT NULL,
  id              bigint      GENERATED ALWAYS AS IDENTITY,
  model_name      text        NOT NULL,
  version         text        NOT NULL,
  -- A feature name, or '__score__' for the model's output score.
  feature         text        NOT NULL CHECK (length(feature) BETWEEN 1 AND 256),
  -- psi: value = PSI; ks: value = D with p_value; js: Jensen-Shannon distance.
  test            text        NOT NULL CHECK (test IN ('psi', 'ks', 'js')),
  value           double precision NOT NULL CHECK (value >= 0),
  p_value         double precision CHECK (p_value >= 0 AND p_value <= 1),
  -- PSI band (< 0.1 stable, 0.1-0.25 moderate, >= 0.25 significant); NULL for tests without one.
  band            text        CHECK (band IN ('stable', 'moderate', 'significant')),
  is_drift        boolean     NOT NULL,
  -- The bins used (edges, reference and current proportions, epsilon), so the value is
  -- reproducible from the row alone.
  bins            jsonb       CHECK (bins IS NULL OR jsonb_typeof(bins) IN ('object', 'array')),
  reference_size  bigint      NOT NULL CHECK (reference_size > 0),
  current_size    bigint      NOT NULL CHECK (current_size > 0),
  -- sliding: the recent-predictions window; hourly: one clock hour.
  window_kind     text        NOT NULL CHECK (window_kind IN ('sliding', 'hourly')),
  window_start    timestamptz NOT NULL,
  window_end      timestamptz NOT NULL,
  evaluated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, model_name, version, feature, test, window_kind, window_start, window_end),
  CHECK (window_end > window_start),
  CHECK (test <> 'ks' OR p_value IS NOT NULL)
);
CREATE INDEX drift_results_by_time
  ON drift_results (tenant_id, model_name, version, evaluated_at);

CREATE TABLE performance_results (
  tenant_id       text        NOT NULL,
  id              bigint      GENERATED ALWAYS AS IDENTITY,
  model_name      text        NOT NULL,
  version         text        NOT NULL,
  window_start    timestamptz NOT NULL,
  window_end      timestamptz NOT NULL,
  sample_size     bigint      NOT NULL CHECK (sample_size > 0),
  positive_count  bigint      NOT NULL CHECK (positive_count >= 0 AND positive_count <= sample_size),
  -- NULL when the window holds a single class (AUC is undefined then).
  auc             double precision CHECK (auc >= 0 AND auc <= 1),
  log_loss        double precision NOT NULL CHECK (log_loss >= 0),
  brier           double precision NOT NULL CHECK (brier >= 0 AND brier <= 1),
  -- Bins of predicted vs observed rate: [{ "lower", "upper", "count", "meanPredicted", "observedRate" }, ...].
  calibration     jsonb       NOT NULL CHECK (jsonb_typeof(calibration) IN ('object', 'array')),
  evaluated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, id),
  UNIQUE (tenant_id, model_name, version, window_start, window_end),
  CHECK (window_end > window_start)
);
CREATE INDEX performance_results_by_time
  ON performance_results (tenant_id, model_name, version, evaluated_at);

-- Alerts as published on the `alerts` topic. Stored in the batch's transaction with
-- published_at NULL and marked once Kafka acknowledged them (an outbox), so none is lost.
CREATE TABLE alerts (
  tenant_id     text        NOT NULL,
  -- The CloudEvent `id`.
  alert_id      text        NOT NULL CHECK (length(alert_id) BETWEEN 1 AND 128),
  -- The CloudEvent `type`, e.g. 'dev.driftline.drift.detected'.
  type          text        NOT NULL,
  model_name    text,
  version       text,
  -- The structured-mode CloudEvent 1.0 JSON as published.
  cloud_event   jsonb       NOT NULL CHECK (jsonb_typeof(cloud_event) = 'object'),
  state         text        NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'resolved')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz,
  PRIMARY KEY (tenant_id, alert_id)
);
CREATE INDEX alerts_by_time ON alerts (tenant_id, created_at);
CREATE INDEX alerts_by_state ON alerts (tenant_id, state, created_at);
CREATE INDEX alerts_unpublished ON alerts (tenant_id, created_at) WHERE published_at IS NULL;

CREATE TABLE retrain_requests (
  tenant_id     text        NOT NULL,
  request_id    text        NOT NULL CHECK (length(request_id) BETWEEN 1 AND 128),
  model_name    text        NOT NULL,
  version       text        NOT NULL,
  -- The policy that fired, e.g. 'psi-above(0.2, consecutive=3)'.
  policy        text        NOT NULL,
  -- What made it fire: the drift/performance results, thresholds and windows involved.
  evidence      jsonb       NOT NULL CHECK (jsonb_typeof(evidence) = 'object'),
  status        text        NOT NULL DEFAULT 'open'
                  CHECK (status IN ('open', 'in_progress', 'completed', 'rejected')),
  requested_at  timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz,
  PRIMARY KEY (tenant_id, request_id)
);
-- The cooldown check reads the latest request per (tenant, model).
CREATE INDEX retrain_requests_by_model
  ON retrain_requests (tenant_id, model_name, requested_at);
CREATE INDEX retrain_requests_unpublished
  ON retrain_requests (tenant_id, requested_at) WHERE published_at IS NULL;

-- Where each consumer group resumes: written in the same transaction as the results of the
-- batch that consumed up to (next_offset - 1), so results and progress commit together.
CREATE TABLE consumer_offsets (
  group_id     text        NOT NULL CHECK (length(group_id) BETWEEN 1 AND 255),
  topic        text        NOT NULL CHECK (length(topic) BETWEEN 1 AND 249),
  partition    integer     NOT NULL CHECK (partition >= 0),
  -- Kafka's convention: the offset of the next message to consume.
  next_offset  bigint      NOT NULL CHECK (next_offset >= 0),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (group_id, topic, partition)
);
