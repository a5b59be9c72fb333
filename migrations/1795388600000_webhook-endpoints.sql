-- Up Migration
-- Per-tenant alert webhooks: the endpoints a tenant registers (POST /v1/webhooks) and every
-- delivery attempt made to them (alerts from the stream processor, tests from the Worker).
--
-- A tenant's alerts go only to its own endpoints: the processor reads the endpoints of the
-- alert's tenant and queues one outbox row per endpoint (target 'endpoint:<id>'), and signs each
-- delivery with that endpoint's own secret. The secret is stored sealed (AES-256-GCM under
-- WEBHOOK_ENCRYPTION_KEY, bound to tenant and endpoint id), never in clear.

CREATE TABLE IF NOT EXISTS webhook_endpoints (
  tenant_id      text        NOT NULL,
  endpoint_id    uuid        NOT NULL,
  url            text        NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
  -- CloudEvent types the endpoint receives; empty means every alert type.
  types          text[]      NOT NULL DEFAULT '{}' CHECK (cardinality(types) <= 32),
  -- v1.<iv>.<ciphertext+tag>, base64 (see #core/webhooks secret-box).
  secret_sealed  text        NOT NULL CHECK (secret_sealed LIKE 'v1.%'),
  created_at     timestamptz NOT NULL DEFAULT now(),
  -- Set by DELETE /v1/webhooks/{id}: the endpoint gets nothing more, its deliveries stay readable
  -- until they age out.
  disabled_at    timestamptz,
  PRIMARY KEY (tenant_id, endpoint_id)
);
-- The tenant's live endpoints, in creation order: GET /v1/webhooks, the per-tenant cap, and the
-- processor's lookup for each alert.
CREATE INDEX IF NOT EXISTS webhook_endpoints_live
  ON webhook_endpoints (tenant_id, created_at, endpoint_id) WHERE disabled_at IS NULL;

CREATE TABLE IF NOT EXISTS webhook_deliveries (
  delivery_id      bigint      GENERATED ALWAYS AS IDENTITY,
  tenant_id        text        NOT NULL,
  endpoint_id      uuid        NOT NULL,
  -- The CloudEvent id (alert id, or the test event's id): the delivery's `webhook-id`.
  event_id         text        NOT NULL CHECK (length(event_id) BETWEEN 1 AND 128),
  event_type       text        NOT NULL,
  -- 1 for the first attempt of this event to this endpoint, then 2, 3, … for retries.
  attempt          integer     NOT NULL CHECK (attempt >= 1),
  -- The receiver's HTTP status; NULL when no response came (timeout, refused connection).
  status_code      integer     CHECK (status_code BETWEEN 100 AND 599),
  -- Why the attempt failed (no response, or a non-2xx status); NULL when it succeeded.
  error            text        CHECK (length(error) <= 1024),
  succeeded        boolean     NOT NULL,
  duration_ms      integer     NOT NULL CHECK (duration_ms >= 0),
  attempted_at     timestamptz NOT NULL DEFAULT now(),
  -- When the next attempt is due; NULL when this one succeeded or was the last.
  next_attempt_at  timestamptz,
  PRIMARY KEY (tenant_id, endpoint_id, delivery_id),
  FOREIGN KEY (tenant_id, endpoint_id)
    REFERENCES webhook_endpoints (tenant_id, endpoint_id) ON DELETE CASCADE,
  CHECK (succeeded = (error IS NULL))
);
-- GET /v1/webhooks/{id}/deliveries pages newest first by (attempted_at, delivery_id).
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_time
  ON webhook_deliveries (tenant_id, endpoint_id, attempted_at DESC, delivery_id DESC);
-- Every attempt of one event, and the age-based cleanup.
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_event ON webhook_deliveries (tenant_id, event_id);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_age ON webhook_deliveries (attempted_at);
