/** EventSink on the ingest Cloudflare Queue: a request's events packed into bundles of ~120 KB, sent in batches. */
import { type IngestQueueBody, ingestMessageText } from "../queue/ingest-queue-body";
import { sendIngestBundles } from "../queue/send-ingest-bundles";
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
    const texts = messages.map((m) =>
      ingestMessageText(topic, m.key, m.valueJson ?? JSON.stringify(m.value)),
    );
    const { notQueued, reason } = await sendIngestBundles(this.queue, texts);
    return notQueued.length === 0 ? { ok: true } : { ok: false, notQueued, reason };
  }
}
