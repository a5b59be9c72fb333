-- Up Migration
-- Events a paused destination could not take yet. A destination that keeps failing transiently
-- (Meta down for one pixel, a token's app throttled) is paused: its events of a batch are parked
-- here, in the transaction that records the batch and moves its consumer offsets, so the other
-- destinations on the same partitions go on. The delivery service sends the parked events, oldest
-- first, once the destination answers again, and deletes each row in the transaction that records
-- the destination's answer: every parked event is delivered (or dead-lettered) exactly once as far
-- as Driftline records go.
--
-- One row per parked request (up to 1000 events). The events hold customer information, the IP
-- address and user agent: they are stored only sealed (AES-256-GCM under
-- DESTINATION_ENCRYPTION_KEY, bound to the tenant and destination, see #core/destinations
-- token-box), never in clear, and only until they are sent.

CREATE TABLE IF NOT EXISTS destination_parked_events (
  tenant_id        text        NOT NULL,
  destination_id   uuid        NOT NULL,
  parked_id        bigint      GENERATED ALWAYS AS IDENTITY,
  -- The request's test_event_code (the destination's or the sender's), null for live events.
  test_event_code  text        CHECK (length(test_event_code) <= 100),
  events           integer     NOT NULL CHECK (events BETWEEN 1 AND 1000),
  -- v1.<iv>.<ciphertext+tag>, base64: the records (key, value, headers, origin) as JSON.
  payload_sealed   text        NOT NULL CHECK (payload_sealed LIKE 'v1.%'),
  -- Why the destination was paused when these were parked (its last transient error).
  reason           text        CHECK (length(reason) <= 1024),
  parked_at        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, destination_id, parked_id),
  FOREIGN KEY (tenant_id, destination_id)
    REFERENCES destinations (tenant_id, destination_id) ON DELETE CASCADE
);
