/** Helpers for the event ingestion tests inside workerd: the real app with a recording (or failing) ingest queue. */
import { createApp } from "../../src/app";
import { parseWorkerEnv } from "../../src/env";
import type { DedupStore } from "../../src/ingest/ingest-ports";
import { QueueEventSink } from "../../src/ingest/queue-event-sink";
import type { IngestMessage } from "../../src/queue/ingest-message";
import { type IngestQueueBody, parseIngestQueueBody } from "../../src/queue/ingest-queue-body";
import type { Services } from "../../src/services";
import { buildServices } from "../../src/worker";
import { appFetch, rawEnv, type TestApp } from "./support";

/** A Queue that keeps what it is sent and enforces Cloudflare's per-message and per-call limits. */
export class RecordingIngestQueue {
  readonly batches: MessageSendRequest<IngestQueueBody>[][] = [];
  /** Calls (1-based) that fail, to simulate the queue refusing a batch. */
  failCalls = new Set<number>();
  private calls = 0;

  /** The queued records as the consumer reads them (events are queued as bundles of JSON text). */
  get messages(): IngestMessage[] {
    return this.batches.flat().flatMap((m) => {
      const body = parseIngestQueueBody(m.body);
      if (body.kind === "bundle" && body.malformed.length === 0) return body.records;
      if (body.kind === "message") return [body.message];
      throw new Error(`the Worker queued a body the consumer cannot read: ${JSON.stringify(body)}`);
    });
  }

  async send(body: IngestQueueBody): Promise<void> {
    await this.sendBatch([{ body }]);
  }

  async sendBatch(messages: Iterable<MessageSendRequest<IngestQueueBody>>): Promise<void> {
    this.calls += 1;
    const batch = [...messages];
    if (this.failCalls.has(this.calls)) throw new Error("Queue send failed: simulated outage");
    if (batch.length > 100) throw new Error(`sendBatch got ${batch.length} messages (max 100)`);
    const sizes = batch.map(
      (m) =>
        new TextEncoder().encode(typeof m.body === "string" ? m.body : JSON.stringify(m.body))
          .length,
    );
    const largest = Math.max(...sizes);
    if (largest > 128_000) throw new Error(`sendBatch got a ${largest}-byte message (max 128 KB)`);
    const bytes = sizes.reduce((sum, size) => sum + size, 0);
    if (bytes > 256_000) throw new Error(`sendBatch got ${bytes} bytes (max 256 KB)`);
    this.batches.push(batch);
  }
}

export interface IngestTestApp {
  services: Services;
  queue: RecordingIngestQueue;
  fetch: TestApp["fetch"];
}

/** The real app and adapters (Upstash dedup, auth) with env overrides; the ingest queue records. */
export function ingestTestApp(
  overrides: Record<string, unknown> = {},
  ports: { dedup?: DedupStore } = {},
): IngestTestApp {
  const parsed = parseWorkerEnv({ ...rawEnv, ...overrides });
  const queue = new RecordingIngestQueue();
  const built = buildServices(parsed);
  const services: Services = {
    ...built,
    ingest: {
      ...built.ingest,
      ...ports,
      sink: new QueueEventSink(queue as unknown as Queue<IngestMessage>),
    },
  };
  return {
    services,
    queue,
    fetch: appFetch(
      createApp(() => services),
      "POST",
    ),
  };
}

/** Hex SHA-256 with WebCrypto: independent of the event core's hashing (@noble/hashes). */
export async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);
