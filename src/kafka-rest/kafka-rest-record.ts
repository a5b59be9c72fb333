/** What the Kafka REST v3 produce API takes and answers: records, their outcomes, and their wire form. */
import type { DriftlineError } from "#core/errors";

export interface KafkaRestRecord {
  /** Sent as a STRING key; null for no key (round-robin partitioning). */
  key: string | null;
  /** Sent as JSON, or as BINARY when it is a Uint8Array; null/undefined for a null value. */
  value: unknown;
  /** Header values are sent as their UTF-8 bytes (base64 on the wire, as the API demands). */
  headers?: Record<string, string> | undefined;
  /** Explicit partition; otherwise the server partitions by key (murmur2, like Java clients). */
  partitionId?: number | undefined;
  /** Record timestamp; otherwise the server's time of produce. */
  timestamp?: Date | undefined;
}

export interface ProducedRecord {
  partitionId: number;
  offset: number;
}

/** One per record, in input order. `retryable` and `message` mirror `error` for plain callers. */
export type KafkaRestOutcome =
  | ({ ok: true } & ProducedRecord)
  | { ok: false; retryable: boolean; message: string; error: DriftlineError };

/** How a server takes several records: `records:batch`, streaming mode, or one per request. */
export type ProduceRoute = "batch" | "stream" | "single";

export function toWire(record: KafkaRestRecord): Record<string, unknown> {
  const wire: Record<string, unknown> = {};
  if (record.partitionId !== undefined) wire.partition_id = record.partitionId;
  if (record.key !== null) wire.key = { type: "STRING", data: record.key };
  if (record.value instanceof Uint8Array) {
    wire.value = { type: "BINARY", data: bytesToBase64(record.value) };
  } else if (record.value !== null && record.value !== undefined) {
    wire.value = { type: "JSON", data: record.value };
  }
  if (record.headers) {
    wire.headers = Object.entries(record.headers).map(([name, value]) => ({
      name,
      value: utf8ToBase64(value),
    }));
  }
  if (record.timestamp) wire.timestamp = record.timestamp.toISOString();
  return wire;
}

export function utf8ToBase64(text: string): string {
  return bytesToBase64(new TextEncoder().encode(text));
}

function bytesToBase64(bytes: Uint8Array): string {
  // btoa takes a "binary string"; build it in slices to stay under argument-count limits.
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}
