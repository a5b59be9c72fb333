/** EventSink on the ingest Cloudflare Queue: a request's events packed into bundles of ~120 KB, sent in batches. */
import { type IngestQueueBody, ingestMessageText } from "../queue/ingest-queue-body";
import { MAX_BUNDLE_BYTES, sendIngestBundles, utf8ByteLength } from "../queue/send-ingest-bundles";
import type { EventEnvelope, EventSendOutcome, EventSink, EventTopic } from "./ingest-ports";

/**
 * Each event becomes the JSON text of `{ topic, key, value }` built around the value's JSON when
 * the caller brings it (an event's message is serialised once, in `prepareEvents`), and the
 * events of one call share queue messages: bundles of up to ~120 KB, not one message per event,
 * because Cloudflare Queues take ~5,000 messages/s per queue and bill per 64 KB of each message
 * (see `sendIngestBundles`). When a `sendBatch` fails, the others are already durable: the outcome
 * names exactly the events of the failed call, so the caller can release their dedup keys.
 */
export class QueueEventSink implements EventSink {
  constructor(private readonly queue: Queue<IngestQueueBody>) {}

  async send(topic: EventTopic, messages: readonly EventEnvelope[]): Promise<EventSendOutcome> {
    if (messages.length === 0) return { ok: true };
    const texts: string[] = new Array(messages.length);
    const sizes: number[] = new Array(messages.length);
    messages.forEach((m, i) => {
      const valueJson = m.valueJson ?? JSON.stringify(m.value);
      texts[i] = ingestMessageText(topic, m.key, valueJson);
      // Measured in its parts: the record's text is a rope around the value's JSON, and measuring
      // it whole would flatten it into one more copy of every event.
      sizes[i] = utf8ByteLength(valueJson) + utf8ByteLength(ingestMessageText(topic, m.key, ""));
    });
    const { notQueued, reason } = await sendIngestBundles(
      this.queue,
      texts,
      MAX_BUNDLE_BYTES,
      sizes,
    );
    return notQueued.length === 0 ? { ok: true } : { ok: false, notQueued, reason };
  }
}
