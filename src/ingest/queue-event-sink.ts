/** EventSink on the ingest Cloudflare Queue: batches of at most 100 messages and ~256 KB per send. */
import type { IngestMessage } from "../queue/ingest-message";
import type { EventEnvelope, EventSendOutcome, EventSink, EventTopic } from "./ingest-ports";

/** Cloudflare Queues: at most 100 messages per `sendBatch`. */
export const MAX_SEND_BATCH_MESSAGES = 100;
/**
 * Cloudflare Queues: at most 256 KB per `sendBatch`. The budget counts the JSON body in UTF-8
 * bytes plus `MESSAGE_OVERHEAD_BYTES` per message for what the runtime adds around each body.
 */
export const MAX_SEND_BATCH_BYTES = 250_000;
const MESSAGE_OVERHEAD_BYTES = 100;

/** Splits messages (by position) into groups that each fit one `sendBatch` call. */
export function planSendBatches(
  sizesBytes: readonly number[],
  limits = { messages: MAX_SEND_BATCH_MESSAGES, bytes: MAX_SEND_BATCH_BYTES },
): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  let currentBytes = 0;
  sizesBytes.forEach((size, i) => {
    const bytes = size + MESSAGE_OVERHEAD_BYTES;
    if (
      current.length === limits.messages ||
      (current.length > 0 && currentBytes + bytes > limits.bytes)
    ) {
      batches.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(i);
    currentBytes += bytes;
  });
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Anything outside printable ASCII (JSON text escapes control characters) takes the exact loop. */
const NOT_PRINTABLE_ASCII = /[^ -~]/;

/** UTF-8 length of a string without encoding it (surrogate pairs are 4 bytes, other units 1–3). */
export function utf8ByteLength(text: string): number {
  // Most messages are ASCII (hashes, ids, URLs); the native regex scan is ~5x faster than the loop.
  if (!NOT_PRINTABLE_ASCII.test(text)) return text.length;
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    // A surrogate half is 2 bytes of the pair's 4 (its length unit already counted 1).
    bytes += code < 0x800 || (code >= 0xd800 && code <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}

/**
 * UTF-8 size of the queued body's JSON, `{"topic":…,"key":…,"value":…}`, without serialising the
 * value again when the caller brought its JSON text (for an event, ~2.5 KB per message).
 */
export function bodyBytes(topic: EventTopic, message: EventEnvelope): number {
  if (message.valueJson === undefined) {
    return utf8ByteLength(JSON.stringify({ topic, key: message.key, value: message.value }));
  }
  // JSON.stringify of the body is exactly these pieces around the value's own JSON text.
  const frame = `{"topic":${JSON.stringify(topic)},"key":${JSON.stringify(message.key)},"value":}`;
  return utf8ByteLength(frame) + utf8ByteLength(message.valueJson);
}

/**
 * The batches go out concurrently. When some fail, the others are already durable: the outcome
 * names the positions that were not queued, so the caller can release exactly their dedup keys.
 */
export class QueueEventSink implements EventSink {
  constructor(private readonly queue: Queue<IngestMessage>) {}

  async send(topic: EventTopic, messages: readonly EventEnvelope[]): Promise<EventSendOutcome> {
    if (messages.length === 0) return { ok: true };
    const bodies: IngestMessage[] = messages.map((m) => ({ topic, key: m.key, value: m.value }));
    const batches = planSendBatches(messages.map((m) => bodyBytes(topic, m)));
    const results = await Promise.allSettled(
      batches.map((positions) =>
        this.queue.sendBatch(
          positions.map((i) => ({ body: bodies[i] as IngestMessage, contentType: "json" })),
        ),
      ),
    );
    const notQueued: number[] = [];
    let reason = "";
    results.forEach((result, b) => {
      if (result.status === "fulfilled") return;
      notQueued.push(...(batches[b] as number[]));
      reason ||= result.reason instanceof Error ? result.reason.message : String(result.reason);
    });
    return notQueued.length === 0 ? { ok: true } : { ok: false, notQueued, reason };
  }
}
