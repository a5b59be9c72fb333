/**
 * The Worker's queue handler inside workerd, against the local Kafka REST gateway that `npm test`
 * starts: bundles and single-record bodies are produced and acked, nothing is acked when Kafka
 * REST is unreachable, and the rest of a partly produced bundle goes back on INGEST_QUEUE; read
 * from the dead-letter queue, what still fails goes back on INGEST_DLQ.
 */
import { describe, expect, it } from "vitest";
import { prepareEvents } from "#core/events";
import { topicNames } from "#core/topics";
import { KafkaRestClient } from "../../src/kafka-rest/kafka-rest-client";
import {
  ingestBundleText,
  ingestMessageText,
  parseIngestQueueBody,
} from "../../src/queue/ingest-queue-body";
import worker from "../../src/worker";
import { rawEnv, uniqueTenant } from "./support";

/** Message ids the handler acked or retried (with the delay asked for). */
class FakeBatch {
  readonly acked: string[] = [];
  readonly retried: { id: string; delaySeconds: number | undefined }[] = [];
  readonly messages: Message<unknown>[];
  constructor(
    bodies: { id: string; body: unknown; attempts?: number }[],
    readonly queue = "driftline-ingest",
  ) {
    this.messages = bodies.map(({ id, body, attempts = 1 }) => ({
      id,
      body,
      attempts,
      timestamp: new Date(),
      ack: () => this.acked.push(id),
      retry: (options?: { delaySeconds?: number }) =>
        this.retried.push({ id, delaySeconds: options?.delaySeconds }),
    }));
  }
  ackAll(): void {
    throw new Error("the consumer settles messages one by one");
  }
  retryAll(): void {
    throw new Error("the consumer settles messages one by one");
  }
}

/** INGEST_QUEUE that records what the consumer puts back. */
class RecordingQueue {
  readonly sent: { body: unknown; options: QueueSendOptions | undefined }[] = [];
  async send(body: unknown, options?: QueueSendOptions): Promise<void> {
    this.sent.push({ body, options });
  }
  async sendBatch(): Promise<void> {
    throw new Error("not expected");
  }
}

/** Website event messages as the Worker queues them (JSON text), for a fresh tenant. */
async function eventTexts(n: number): Promise<string[]> {
  const tenant = uniqueTenant("consumer");
  const prepared = await prepareEvents({
    tenant,
    source: "web",
    body: {
      events: Array.from({ length: n }, (_, i) => ({
        event_name: "ViewContent",
        event_time: Date.now() - 1_000,
        event_id: `q-${i}`,
        event_source_url: "https://shop.example/p/1",
        user_data: { client_ip_address: "203.0.113.9", client_user_agent: "test" },
      })),
    },
    nowMs: Date.now(),
    newEventId: () => crypto.randomUUID(),
  });
  return prepared.results.map((r) => {
    if (r.status !== "accepted") throw new Error(`test event refused: ${JSON.stringify(r)}`);
    return ingestMessageText("events", r.messageKey, r.messageJson);
  });
}

async function consume(batch: FakeBatch, overrides: Record<string, unknown> = {}): Promise<void> {
  const handler = worker as unknown as {
    queue(batch: MessageBatch, env: unknown, ctx: ExecutionContext): Promise<void>;
  };
  const ctx = { waitUntil() {}, passThroughOnException() {} } as unknown as ExecutionContext;
  await handler.queue(batch as unknown as MessageBatch, { ...rawEnv, ...overrides }, ctx);
}

describe("the ingest queue handler", () => {
  it("produces a bundle and a single-record body (queued before bundling) and acks both", async () => {
    const [single, ...rest] = await eventTexts(4);
    const batch = new FakeBatch([
      { id: "single", body: single },
      { id: "bundle", body: ingestBundleText(rest) },
    ]);
    await consume(batch);
    expect(batch.retried).toEqual([]);
    expect(batch.acked.sort()).toEqual(["bundle", "single"]);
  });

  it("produces in the mode KAFKA_REST_PRODUCE_MODE pins (stream: Confluent Cloud's)", async () => {
    const texts = await eventTexts(30);
    const batch = new FakeBatch([{ id: "bundle", body: ingestBundleText(texts) }]);
    await consume(batch, { KAFKA_REST_PRODUCE_MODE: "stream" });
    expect(batch.retried).toEqual([]);
    expect(batch.acked).toEqual(["bundle"]);
  });

  it("retries every message, with backoff, when Kafka REST is unreachable", async () => {
    const texts = await eventTexts(3);
    const batch = new FakeBatch([
      { id: "bundle", body: ingestBundleText(texts.slice(0, 2)), attempts: 2 },
      { id: "single", body: texts[2] },
    ]);
    await consume(batch, { KAFKA_REST_URL: "http://127.0.0.1:1" });
    expect(batch.acked).toEqual([]);
    expect(batch.retried).toEqual([
      { id: "bundle", delaySeconds: 4 },
      { id: "single", delaySeconds: 2 },
    ]);
  });

  it("puts the unproduced rest of a partly produced bundle back on INGEST_QUEUE as text, after the backoff, and acks it", async () => {
    const [first, last] = await eventTexts(2);
    // Over the gateway's 1 MiB body limit: refused on its own (413), the others are produced.
    const tooLarge = ingestMessageText(
      "events",
      `${uniqueTenant("huge")}:x`,
      JSON.stringify({ pad: "x".repeat(1_200_000) }),
    );
    const queue = new RecordingQueue();
    const batch = new FakeBatch([
      { id: "bundle", body: ingestBundleText([first as string, tooLarge, last as string]) },
    ]);
    await consume(batch, { INGEST_QUEUE: queue });
    expect(batch.retried).toEqual([]);
    expect(batch.acked).toEqual(["bundle"]);
    expect(queue.sent).toHaveLength(1);
    expect(queue.sent[0]?.options).toEqual({ contentType: "text", delaySeconds: 2 });
    const requeued = parseIngestQueueBody(queue.sent[0]?.body);
    expect(requeued).toMatchObject({ kind: "bundle", attempts: 1, malformed: [] });
    expect(requeued.kind === "bundle" && requeued.records.map((r) => r.key)).toEqual([
      JSON.parse(tooLarge).key,
    ]);
  });

  it("reads the dead-letter queue: produces its bundles, and puts what still fails back on INGEST_DLQ instead of retrying it", async () => {
    const texts = await eventTexts(3);
    const dlq = new RecordingQueue();
    const main = new RecordingQueue();
    const down = new FakeBatch(
      [{ id: "dead", body: ingestBundleText(texts.slice(0, 2)), attempts: 10 }],
      "driftline-ingest-dlq",
    );
    await consume(down, {
      KAFKA_REST_URL: "http://127.0.0.1:1",
      INGEST_DLQ: dlq,
      INGEST_QUEUE: main,
    });
    expect(down.retried).toEqual([]);
    expect(down.acked).toEqual(["dead"]);
    expect(main.sent).toEqual([]);
    expect(dlq.sent).toHaveLength(1);
    expect(dlq.sent[0]?.options).toEqual({ contentType: "text", delaySeconds: 1_024 });
    const back = parseIngestQueueBody(dlq.sent[0]?.body);
    expect(back).toMatchObject({ kind: "bundle", attempts: 10, malformed: [] });
    expect(back.kind === "bundle" && back.records.map((r) => r.key)).toEqual(
      texts.slice(0, 2).map((t) => JSON.parse(t).key),
    );

    // Kafka is back: the bundle put back is produced and acked.
    const up = new FakeBatch([{ id: "again", body: dlq.sent[0]?.body }], "driftline-ingest-dlq");
    await consume(up, { INGEST_DLQ: dlq, INGEST_QUEUE: main });
    expect(up.retried).toEqual([]);
    expect(up.acked).toEqual(["again"]);
    expect(dlq.sent).toHaveLength(1);
  });

  it("parks in DEAD_LETTERS what the dead-letter queue still cannot deliver after INGEST_DLQ_PARK_AFTER_ATTEMPTS, and acks it", async () => {
    const texts = await eventTexts(2);
    const dlq = new RecordingQueue();
    const old = new FakeBatch(
      [{ id: `old-${crypto.randomUUID()}`, body: ingestBundleText(texts, 59), attempts: 1 }],
      "driftline-ingest-dlq",
    );
    await consume(old, { KAFKA_REST_URL: "http://127.0.0.1:1", INGEST_DLQ: dlq });
    expect(old.retried).toEqual([]);
    expect(old.acked).toHaveLength(1);
    expect(dlq.sent).toEqual([]);
    const bucket = rawEnv.DEAD_LETTERS as R2Bucket;
    const listed = await bucket.list({ prefix: "parked/ingest/" });
    const parked = listed.objects.find((o) => o.key.includes(old.messages[0]!.id));
    expect(parked?.key).toMatch(/^parked\/ingest\/\d{4}-\d{2}-\d{2}\/old-.*-60\.json$/);
    const object = await bucket.get(parked!.key);
    expect(object?.customMetadata).toMatchObject({ attempts: "60" });
    const body = parseIngestQueueBody(await object!.text());
    expect(body.kind === "bundle" && body.records.map((r) => r.key)).toEqual(
      texts.map((t) => JSON.parse(t).key),
    );
  });

  it("produces in streaming mode from workerd (concatenated JSON in one chunked request, as Confluent Cloud takes it)", async () => {
    const client = new KafkaRestClient({
      baseUrl: String(rawEnv.KAFKA_REST_URL),
      clusterId: String(rawEnv.KAFKA_REST_CLUSTER_ID),
      produceMode: "stream",
    });
    const tenant = uniqueTenant("stream");
    const records = Array.from({ length: 25 }, (_, i) => ({
      key: `${tenant}:s-${i}`,
      value: { i },
    }));
    const outcomes = await client.produceBatch(
      topicNames(String(rawEnv.KAFKA_TOPIC_PREFIX ?? "")).events,
      records,
    );
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    expect(outcomes).toHaveLength(25);
  });
});
