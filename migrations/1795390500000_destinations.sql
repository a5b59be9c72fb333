-- Up Migration
-- Destinations: where a tenant's accepted events are forwarded (Meta's Conversions API), and the
-- delivery service's record of every batch it sent and what the destination answered.
--
-- The access token is stored sealed (AES-256-GCM under DESTINATION_ENCRYPTION_KEY, bound to the
-- tenant and destination id), never in clear. No event content is stored here: no customer
-- information, IP address, user agent, fbp or fbc.

CREATE TABLE IF NOT EXISTS destinations (
  tenant_id       text        NOT NULL,
  destination_id  uuid        NOT NULL,
  kind            text        NOT NULL CHECK (kind IN ('meta')),
  name            text        CHECK (length(name) BETWEEN 1 AND 100),
  -- Clear settings of the kind (meta: pixelId, testEventCode).
  settings        jsonb       NOT NULL,
  -- v1.<iv>.<ciphertext+tag>, base64 (see #core/destinations token-box).
  secret_sealed   text        NOT NULL CHECK (secret_sealed LIKE 'v1.%'),
  token_hint      text        NOT NULL CHECK (length(token_hint) <= 8),
  created_at      timestamptz NOT NULL DEFAULT now(),
  -- Set by DELETE /v1/destinations/{id}: nothing more is forwarded; its batches stay readable.
  disabled_at     timestamptz,
  PRIMARY KEY (tenant_id, destination_id)
);
CREATE INDEX IF NOT EXISTS destinations_live
  ON destinations (tenant_id, created_at, destination_id) WHERE disabled_at IS NULL;

-- One row per request the delivery service made (a batch of up to 1000 events), written in the
-- transaction that also moves its consumer offsets, so each batch is recorded exactly once.
CREATE TABLE IF NOT EXISTS destination_batches (
  batch_id         bigint      GENERATED ALWAYS AS IDENTITY,
  tenant_id        text        NOT NULL,
  destination_id   uuid        NOT NULL,
  -- delivered: the destination took it; dead-lettered: refused for good, events on the dead-letter topic.
  status           text        NOT NULL CHECK (status IN ('delivered', 'dead-lettered')),
  events           integer     NOT NULL CHECK (events BETWEEN 1 AND 1000),
  -- Attempts it took (transient failures before the final answer, plus one).
  attempts         integer     NOT NULL CHECK (attempts >= 1),
  http_status      integer     CHECK (http_status BETWEEN 100 AND 599),
  -- Meta's answer: events_received, fbtrace_id, messages (or the error's reason).
  events_received  integer     CHECK (events_received >= 0),
  fbtrace_id       text        CHECK (length(fbtrace_id) <= 128),
  messages         jsonb       NOT NULL DEFAULT '[]',
  error            text        CHECK (length(error) <= 1024),
  sent_at          timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, destination_id, batch_id),
  FOREIGN KEY (tenant_id, destination_id)
    REFERENCES destinations (tenant_id, destination_id) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS destination_batches_recent
  ON destination_batches (tenant_id, destination_id, sent_at DESC);
