-- Up Migration
-- The model registry as the stream processor keeps it from the Kafka `models` topic
-- (stream-processor/registry): the active pointer of each model, and how an uploaded version's
-- drift reference was cut to fit a Kafka record. Same conventions as the initial schema
-- (schema-agnostic, forward-only, tenant first).

-- The newest promotion of each (tenant, model), mirroring the Worker's active-version pointer
-- (Upstash). Promotions may arrive out of order (the edge queue can reorder them before Kafka),
-- so one is applied only when its promoted_at is not older than the stored one. The pointer may
-- name versions model_versions does not hold (yet, or ever: the bundled default models); their
-- status is set from the pointer when their upload arrives.
CREATE TABLE model_pointers (
  tenant_id         text        NOT NULL REFERENCES tenants (tenant_id) ON DELETE CASCADE,
  model_name        text        NOT NULL CHECK (model_name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  champion          text        NOT NULL CHECK (champion ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  challenger        text        CHECK (challenger ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
  challenger_share  double precision CHECK (challenger_share > 0 AND challenger_share < 1),
  promoted_at       timestamptz NOT NULL,
  updated_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, model_name),
  CHECK ((challenger IS NULL) = (challenger_share IS NULL)),
  CHECK (challenger IS DISTINCT FROM champion)
);

-- NULL when the manifest arrived whole. Otherwise how it was cut to fit one Kafka record:
-- { "sampleStride": k } (every reference sample keeps the values at indexes 0, k, 2k, ...) or
-- { "referenceDropped": true }, with "originalBytes"; drift against a thinned sample is still
-- reproducible from reference_bins as stored.
ALTER TABLE model_versions ADD COLUMN reference_trimmed jsonb
  CHECK (reference_trimmed IS NULL OR jsonb_typeof(reference_trimmed) = 'object');
