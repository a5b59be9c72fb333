import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type IntegrationEnv, startIntegrationEnv, waitFor } from "../test/support/integration-env";
import { loadStreamConfig } from "./config";
import type { DeadLetter } from "./kafka/dead-letter-sink";
import {
  DLQ_HEADERS,
  DLQ_TRUNCATED_HEADER,
  KafkajsDeadLetterSink,
  MAX_LETTER_BYTES,
} from "./kafka/kafkajs-dead-letter-sink";
import { type StreamProcessor, startStreamProcessor } from "./main";
import { sampleEventMessage, toValue } from "./testing/sample-messages";

const T0 = Date.now() - 30 * 60_000;

describe("poison messages (real Kafka, real Postgres)", () => {
  let env: IntegrationEnv;
  let processor: StreamProcessor | undefined;

  beforeAll(async () => {
    env = await startIntegrationEnv("dlq");
  });
  afterAll(async () => {
    await processor?.stop();
    await env?.cleanup();
  });

  it("sends a malformed message to the dlq with its reason and origin, and keeps processing", async () => {
    const key = Buffer.from("acme:same-partition");
    const ev = (id: string) =>
      toValue(
        sampleEventMessage({
          eventId: id,
          eventTimeMs: T0,
          value: 5,
          currency: "EUR",
          campaign: "c",
        }),
      );
    // One key, so all four land in one partition in this order.
    await env.produce(env.topics.events, [
      { key, value: ev("good-1") },
      { key, value: Buffer.from('{"schemaVersion":1,"tenant":'), headers: { "x-trace": "t-1" } },
      {
        key,
        value: toValue({
          ...sampleEventMessage({ eventId: "x", eventTimeMs: T0 }),
          eventTimeMs: "yesterday",
        }),
      },
      { key, value: ev("good-2") },
    ]);
    processor = await startStreamProcessor(loadStreamConfig(env.env()), {
      log: pino({ level: "silent" }),
    });
    await env.drained([env.topics.events]);

    const { rows } = await env.db.query<{ events: string; value: string }>(
      `SELECT sum(w.event_count)::text AS events, sum(v.value_sum)::text AS value
       FROM metric_windows w JOIN metric_window_values v USING (tenant_id, window_seconds, window_start, source, event_name, campaign)
       WHERE w.tenant_id = 'acme' AND w.window_seconds = 60`,
    );
    expect(rows[0]).toEqual({ events: "2", value: "10.000000" });

    const letters = await readAll(env, env.topics.dlq, 2);
    const eventsPartition = letters[0]!.headers[DLQ_HEADERS.partition];
    expect(letters.map((l) => l.headers[DLQ_HEADERS.offset])).toEqual(["1", "2"]);
    for (const l of letters) {
      expect(l.headers[DLQ_HEADERS.topic]).toBe(env.topics.events);
      expect(l.headers[DLQ_HEADERS.partition]).toBe(eventsPartition);
      expect(l.headers[DLQ_HEADERS.stage]).toBe("decode");
      expect(l.headers[DLQ_HEADERS.consumerGroup]).toBe(env.groupId);
      expect(l.key).toBe("acme:same-partition");
    }
    expect(letters[0]!.value).toBe('{"schemaVersion":1,"tenant":');
    expect(letters[0]!.headers[DLQ_HEADERS.reason]).toMatch(/not valid JSON/);
    expect(letters[0]!.headers["x-trace"]).toBe("t-1");
    expect(letters[1]!.headers[DLQ_HEADERS.reason]).toMatch(/eventTimeMs/);

    const exposition = await processor.metrics.registry.metrics();
    expect(exposition).toMatch(
      new RegExp(
        `driftline_stream_dead_letters_total\\{topic="${env.topics.events.replace(/\./g, "\\.")}"\\} 2`,
      ),
    );
  });

  it("sends letters that add up to more than a Kafka request in several requests, and cuts one too large to send", async () => {
    const sink = new KafkajsDeadLetterSink(env.kafka, {
      topic: env.topics.dlq,
      consumerGroup: env.groupId,
    });
    const letter = (n: number, bytes: number): DeadLetter => ({
      key: Buffer.from(`big:${n}`),
      value: Buffer.alloc(bytes, 0x61 + n),
      headers: {},
      reason: "too big to process",
      stage: "decode",
      topic: env.topics.events,
      partition: 0,
      offset: String(1_000 + n),
    });
    try {
      // 4 × 400 KB together exceed the broker's 1 MiB request limit; 2 MB exceeds a message's.
      await sink.send([0, 1, 2, 3].map((n) => letter(n, 400_000)).concat(letter(4, 2_000_000)));
    } finally {
      await sink.close();
    }
    const letters = (await readAll(env, env.topics.dlq, 7, `${env.groupId}-big`)).filter((l) =>
      l.key.startsWith("big:"),
    );
    expect(letters.map((l) => l.key)).toEqual(["big:0", "big:1", "big:2", "big:3", "big:4"]);
    expect(letters.slice(0, 4).every((l) => l.valueBytes === 400_000)).toBe(true);
    expect(letters[4]!.valueBytes).toBeLessThanOrEqual(MAX_LETTER_BYTES);
    expect(letters[4]!.headers[DLQ_TRUNCATED_HEADER]).toBe("2000000");
    expect(letters[0]!.headers[DLQ_TRUNCATED_HEADER]).toBeUndefined();
  });
});

async function readAll(
  env: IntegrationEnv,
  topic: string,
  count: number,
  groupId = `${env.groupId}-reader`,
) {
  const consumer = env.kafka.consumer({ groupId });
  const out: {
    key: string;
    value: string;
    valueBytes: number;
    headers: Record<string, string>;
  }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      out.push({
        key: String(message.key),
        value: String(message.value),
        valueBytes: message.value?.length ?? 0,
        headers,
      });
    },
  });
  await waitFor(`${count} dead letters`, async () => out.length >= count, 30_000);
  await consumer.disconnect();
  return out.sort(
    (a, b) => Number(a.headers[DLQ_HEADERS.offset]) - Number(b.headers[DLQ_HEADERS.offset]),
  );
}
