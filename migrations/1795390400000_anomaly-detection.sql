-- Up Migration
-- Anomaly detection on the minute windows: per-series detector state, the detection progress of
-- each tenant, and the anomalies found. All written in the batch transaction that closed the
-- minutes, so a restart resumes exactly where the committed state stands: no alert is lost and
-- none is raised twice.

-- One row per tenant: the minute windows before `evaluated_before` have been fed to the detectors;
-- the states in anomaly_series are those after the minutes before `state_through` (a checkpoint:
-- after a restart the minutes in between are replayed from metric_windows, and what they detect
-- again has the same ids, so it is neither lost nor repeated).
CREATE TABLE IF NOT EXISTS anomaly_progress (
  tenant_id         text        PRIMARY KEY,
  evaluated_before  timestamptz NOT NULL,
  state_through     timestamptz NOT NULL,
  -- Series refused because the tenant reached its series cap (STREAM_ANOMALY_MAX_SERIES_PER_TENANT),
  -- counted once per series and minute refused.
  series_overflow   bigint      NOT NULL DEFAULT 0 CHECK (series_overflow >= 0),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  CHECK (state_through <= evaluated_before)
);

-- One detector per series: the metric (events, conversions, value, match-quality, predictions)
-- and its dimensions (source, event name, campaign, model).
CREATE TABLE IF NOT EXISTS anomaly_series (
  tenant_id    text        NOT NULL,
  series_key   text        NOT NULL CHECK (length(series_key) BETWEEN 1 AND 1200),
  metric       text        NOT NULL,
  dimensions   jsonb       NOT NULL CHECK (jsonb_typeof(dimensions) = 'object'),
  -- The detector's snapshot (createDetector(options, state) in driftline/anomaly).
  state        bytea       NOT NULL,
  -- The anomaly open on this series, if any.
  open_anomaly text,
  last_value   double precision,
  last_score   double precision,
  last_minute  timestamptz NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, series_key)
);

-- Anomalies, one row per detection; resolved_at is set when the series returns to normal.
CREATE TABLE IF NOT EXISTS anomalies (
  tenant_id     text        NOT NULL,
  anomaly_id    text        NOT NULL CHECK (length(anomaly_id) BETWEEN 1 AND 128),
  series_key    text        NOT NULL,
  metric        text        NOT NULL,
  dimensions    jsonb       NOT NULL,
  reason        text        NOT NULL,
  -- The minute window that opened it, and the one that closed it.
  detected_at   timestamptz NOT NULL,
  resolved_at   timestamptz,
  -- Evidence at detection: what the baseline expected and what was observed.
  expected      double precision NOT NULL,
  lower_bound   double precision NOT NULL,
  upper_bound   double precision NOT NULL,
  observed      double precision NOT NULL,
  score         double precision NOT NULL CHECK (score >= 0 AND score <= 1),
  peak_score    double precision NOT NULL CHECK (peak_score >= 0 AND peak_score <= 1),
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, anomaly_id)
);
CREATE INDEX IF NOT EXISTS anomalies_by_time ON anomalies (tenant_id, detected_at DESC);
CREATE INDEX IF NOT EXISTS anomalies_open ON anomalies (tenant_id, detected_at) WHERE resolved_at IS NULL;
