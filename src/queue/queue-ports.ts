/** The ports the ingest queue consumer writes through: the record sink (Kafka), the queue itself for re-enqueues, and per-topic expanders. */
import type { IngestMessage } from "./ingest-message";

export interface ProduceRecord {
  key: string;
  value: unknown;
  headers?: Record<string, string>;
}

/** Outcome per record, in the order given. */
export type ProduceOutcome = { ok: true } | { ok: false; retryable: boolean; message: string };

/** The port the consumer writes through (Kafka REST Proxy v3 in production and locally). */
export interface RecordSink {
  produce(topic: string, records: ProduceRecord[]): Promise<ProduceOutcome[]>;
}

/** The slice of Cloudflare's `Message` the consumer uses, so it can run outside workerd too. */
export interface QueueMessageLike {
  id: string;
  body: unknown;
  attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

/**
 * Puts the unproduced records of a partly produced bundle back on the ingest queue as a new
 * message (the Worker's `INGEST_QUEUE` binding; a port so the consumer runs without one).
 */
export interface BundleRequeue {
  requeue(bundleText: string, options: { delaySeconds: number }): Promise<unknown>;
}

/**
 * What a topic's expander makes of a queued record: the record to produce, a record to drop
 * (logged: it can never be produced), or a failure counted like a failed produce. Throwing
 * counts as a retryable failure.
 */
export type ExpandedRecord =
  | { kind: "record"; record: ProduceRecord }
  | { kind: "drop"; reason: string }
  | { kind: "fail"; retryable: boolean; reason: string };

/**
 * Builds the Kafka record of a message whose queued value is only a notice (topic `models`: the
 * manifest is read from the model store here, since a queue message holds at most 128 KB).
 */
export type RecordExpander = (message: IngestMessage) => Promise<ExpandedRecord>;

/** One dead-lettered bundle set aside for good: its records, how often they were tried, and why. */
export interface ParkedBundle {
  /** The queue message's id. */
  id: string;
  attempts: number;
  /** The last failure, without record values. */
  reason: string;
  /** The failed records as an ingest bundle (`ingestBundleText`), ready to be queued again. */
  bundleText: string;
}

/**
 * Where the dead-letter consumer parks bundles that still fail after many rounds (R2 in the
 * Worker), so a record Kafka will never take does not circle the dead-letter queue forever.
 */
export interface DeadLetterParking {
  /** Resolves once the bundle is stored durably, or throws. */
  park(bundle: ParkedBundle): Promise<void>;
}
