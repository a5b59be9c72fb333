-- Up Migration
-- Per-tenant monitoring settings (PUT /v1/settings/monitoring, PUT /v1/models/{name}/settings/
-- monitoring): the fields a tenant changed over the operator's MONITORING_* values. The stream
-- processor reads the rows of a batch's tenants in the batch's transaction, so a change applies
-- from the next batch on; `revision` tells it whether its parsed copy is still current.

CREATE TABLE IF NOT EXISTS monitoring_settings (
  tenant_id   text        NOT NULL,
  -- '' holds the tenant's settings for every model; a model name, that model's on top of them.
  model_name  text        NOT NULL DEFAULT '',
  -- Only the fields the tenant set (see #core/monitoring settings-overrides); {} = none.
  overrides   jsonb       NOT NULL CHECK (jsonb_typeof(overrides) = 'object'),
  revision    bigint      NOT NULL DEFAULT 1 CHECK (revision >= 1),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, model_name)
);

-- The operator's values (the processor's MONITORING_* settings), written by the processor when it
-- starts, so the API can answer the defaults a tenant's settings are layered over. One row.
CREATE TABLE IF NOT EXISTS monitoring_settings_defaults (
  singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
  settings    jsonb       NOT NULL CHECK (jsonb_typeof(settings) = 'object'),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
