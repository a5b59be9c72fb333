/** The ports event ingestion depends on: deduplication keys and the durable sink accepted events go to. */
import type { EventSource, UrlQueryAllowlist } from "#core/events";

/** One event's claim: its own key and the key of its copy from the other kind of sender. */
export interface DedupClaim {
  key: string;
  /**
   * Looked up, never claimed: when it is held (the other kind of sender's copy came first), a
   * successful claim is answered `copy` instead of `claimed`.
   */
  otherKey?: string;
}

/**
 * `claimed`: first sighting; `duplicate`: seen before from the same kind of sender (or earlier in
 * the same call); `copy`: first from this kind of sender, but the other kind's copy came first.
 */
export type ClaimOutcome = "claimed" | "duplicate" | "copy";

/** Remembers which events were seen, so a resent event is reported as a duplicate. */
export interface DedupStore {
  /**
   * Claims each key (set-if-absent with the store's TTL), in the order given, and answers one
   * outcome per claim; a key repeated inside one call is claimed once (later ones: `duplicate`).
   */
  claim(claims: readonly DedupClaim[]): Promise<ClaimOutcome[]>;
  /** Forgets keys claimed by a request whose events could not be queued, so a retry is not a duplicate. */
  release(keys: readonly string[]): Promise<void>;
}

/** The logical topic of an event message: `events` (website) or `capi` (server). */
export type EventTopic = "events" | "capi";

export interface EventEnvelope {
  /** Kafka message key, `tenant:event_id`. */
  key: string;
  /** The event message (JSON), already free of raw PII. */
  value: unknown;
  /** `JSON.stringify(value)` when the caller has it already; spares the sink serialising it again. */
  valueJson?: string;
}

/** Expected outcomes are values: which messages (by position in the call) did not make it. */
export type EventSendOutcome =
  | { ok: true }
  | { ok: false; notQueued: readonly number[]; reason: string };

/** Where accepted events go: the ingest queue, the durable buffer in front of Kafka. */
export interface EventSink {
  /** Resolves once the messages are durably queued (or says which were not); never rejects. */
  send(topic: EventTopic, messages: readonly EventEnvelope[]): Promise<EventSendOutcome>;
}

/** Rejected events per tenant, source and minute of receipt (they never reach the stream). */
export interface RejectionLog {
  /** Adds `count` rejections of `source` events received at `atMs`. */
  record(tenant: string, source: EventSource, atMs: number, count: number): Promise<void>;
  /** Counts per minute and source in [fromMs, toMs), minutes with none left out. */
  read(tenant: string, fromMs: number, toMs: number): Promise<RejectionCount[]>;
}

export interface RejectionCount {
  minuteMs: number;
  source: EventSource;
  rejected: number;
}

/**
 * Whether a tenant has a destination, i.e. whether its messages keep the raw fields only a
 * destination uses (IP address, user agent, fbc, fbp).
 */
export interface TenantForwarding {
  isForwarding(tenant: string): Promise<boolean>;
  /** Called by the destinations API when a tenant's first destination is added or its last removed. */
  setForwarding(tenant: string, forwarding: boolean): Promise<void>;
}

/** What the event routes take from `Services.ingest`. */
export interface IngestServices {
  dedup: DedupStore;
  sink: EventSink;
  rejections: RejectionLog;
  forwarding: TenantForwarding;
  /** Largest accepted request body, bytes (413 above). */
  maxBodyBytes: number;
  /** Query parameters kept in events' URLs (EVENT_URL_QUERY_ALLOWLIST); default utm_* and click ids. */
  urlQueryAllowlist?: UrlQueryAllowlist;
}
