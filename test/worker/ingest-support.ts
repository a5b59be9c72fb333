/** Helpers for the event ingestion tests inside workerd: the real app with a recording (or failing) ingest queue. */
import { createApp } from "../../src/app";
import { parseWorkerEnv } from "../../src/env";
import type { DedupStore } from "../../src/ingest/ingest-ports";
import { QueueEventSink } from "../../src/ingest/queue-event-sink";
import type { IngestMessage } from "../../src/queue/ingest-message";
import type { Services } from "../../src/services";
import { buildServices } from "../../src/worker";
import { appFetch, RecordingQueue, rawEnv, type TestApp } from "./support";

export interface IngestTestApp {
  services: Services;
  queue: RecordingQueue;
  fetch: TestApp["fetch"];
}

/** The real app and adapters (Upstash dedup, auth) with env overrides; the ingest queue records. */
export function ingestTestApp(
  overrides: Record<string, unknown> = {},
  ports: { dedup?: DedupStore } = {},
): IngestTestApp {
  const parsed = parseWorkerEnv({ ...rawEnv, ...overrides });
  const queue = new RecordingQueue();
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
