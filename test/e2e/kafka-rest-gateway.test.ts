// The gateway against the real local broker: records produced over HTTP are read back with a
// kafkajs consumer. Each run uses its own topic prefix and deletes its topics afterwards.
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { createAdaptorServer } from "@hono/node-server";
import { Kafka, type KafkaMessage, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allTopicNames, topicNames } from "#core/topics";
import { createKafkaRestGateway } from "../../scripts/kafka-rest-gateway/kafka-rest-gateway";
import { KafkajsRecordProducer } from "../../scripts/kafka-rest-gateway/record-producer";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { kafkaBrokers, kafkaService } from "../../scripts/local/kafka";
import type { ServiceEndpoint } from "../../scripts/local/service";
import { KafkaRestClient, type KafkaRestOutcome } from "../../src/kafka-rest/kafka-rest-client";
import { ensureTopics } from "../../stream-processor/kafka/ensure-topics";

const config = loadLocalStackConfig();
const kafka = kafkaService(config);
const brokers = kafkaBrokers(config);
const prefix = `it-gw-${randomUUID().slice(0, 8)}.`;
const names = topicNames(prefix);
/** On the allow-list but never created: Kafka itself must answer "unknown topic". */
const notCreated = `${prefix}not-created`;
const PARTITIONS = 3;
const SMALL_BATCH_BYTES = 4096;

const admin = new Kafka({ clientId: "it-gateway", brokers, logLevel: logLevel.NOTHING }).admin();
let endpoint: ServiceEndpoint;
let producer: KafkajsRecordProducer;
let server: ReturnType<typeof createAdaptorServer>;
let baseUrl: string;

async function listen(fetch: (req: Request) => Response | Promise<Response>) {
  const s = createAdaptorServer({ fetch });
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  return { server: s, url: `http://127.0.0.1:${(s.address() as AddressInfo).port}` };
}

/** Reads `count` messages of `topic` from the beginning with a fresh consumer group. */
async function readBack(topic: string, count: number, timeoutMs = 20_000) {
  const consumer = new Kafka({
    clientId: "it-reader",
    brokers,
    logLevel: logLevel.NOTHING,
  }).consumer({
    groupId: `it-reader-${randomUUID()}`,
  });
  const seen: Array<{ partition: number; message: KafkaMessage }> = [];
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let done: () => void = () => {};
    const enough = new Promise<void>((resolve) => {
      done = resolve;
    });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.push({ partition, message });
        if (seen.length >= count) done();
      },
    });
    await Promise.race([enough, new Promise((r) => setTimeout(r, timeoutMs))]);
  } finally {
    await consumer.disconnect();
  }
  return seen;
}

/** Reads `records` back from `topic` and checks each outcome names the partition/offset it really got. */
async function expectReportedWhereRead(
  topic: string,
  records: readonly { key: string }[],
  outcomes: readonly KafkaRestOutcome[],
) {
  const read = await readBack(topic, records.length);
  expect(read).toHaveLength(records.length);
  const where = new Map(
    read.map((r) => [r.message.key!.toString(), `${r.partition}/${r.message.offset}`]),
  );
  records.forEach((r, i) => {
    const o = outcomes[i]!;
    expect(o.ok && `${o.partitionId}/${o.offset}`).toBe(where.get(r.key));
  });
  return read;
}

const post = (path: string, body: string, headers: Record<string, string> = {}) =>
  fetch(`${baseUrl}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });

beforeAll(async () => {
  endpoint = await kafka.up();
  await ensureTopics(
    brokers,
    allTopicNames(prefix).map((name) => ({
      name,
      partitions: PARTITIONS,
      // A small record-batch limit on one topic, to see an oversized request fail on its own.
      configs:
        name === names.dlq
          ? { "max.message.bytes": String(SMALL_BATCH_BYTES) }
          : ({} as Record<string, string>),
    })),
  );
  producer = new KafkajsRecordProducer({ brokers });
  const app = createKafkaRestGateway({
    producer,
    topics: [...allTopicNames(prefix), notCreated],
    clusterId: "driftline",
  });
  ({ server, url: baseUrl } = await listen(app.fetch));
  await admin.connect();
});

afterAll(async () => {
  await new Promise((resolve) => server?.close(resolve));
  await producer?.close();
  await admin.deleteTopics({ topics: allTopicNames(prefix) }).catch(() => undefined);
  await admin.disconnect();
  if (endpoint?.startedHere) await kafka.down();
});

describe("Kafka REST gateway on a real broker", () => {
  it("produces one record whose key, value, headers and timestamp a consumer reads back", async () => {
    const res = await post(
      `/v3/clusters/driftline/topics/${names.events}/records`,
      JSON.stringify({
        key: { type: "STRING", data: "tenant-1:evt-42" },
        value: { type: "JSON", data: { schemaVersion: 1, event_name: "Purchase", value: 9.99 } },
        headers: [
          { name: "content-type", value: Buffer.from("application/json").toString("base64") },
          { name: "trace", value: Buffer.from([0, 1, 2, 255]).toString("base64") },
        ],
        timestamp: "2026-05-04T03:02:01.000Z",
      }),
    );
    expect(res.status).toBe(200);
    const report = (await res.json()) as {
      partition_id: number;
      offset: number;
      timestamp: string;
    };
    expect(report).toMatchObject({ error_code: 200, topic_name: names.events, offset: 0 });
    expect(report.timestamp).toBe("2026-05-04T03:02:01.000Z");

    const [got] = await readBack(names.events, 1);
    expect(got?.partition).toBe(report.partition_id);
    expect(got?.message.offset).toBe(String(report.offset));
    expect(got?.message.key?.toString()).toBe("tenant-1:evt-42");
    expect(JSON.parse(got!.message.value!.toString())).toEqual({
      schemaVersion: 1,
      event_name: "Purchase",
      value: 9.99,
    });
    expect(got?.message.headers?.["content-type"]?.toString()).toBe("application/json");
    expect(got?.message.headers?.trace).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(got?.message.timestamp).toBe(String(Date.parse("2026-05-04T03:02:01.000Z")));
  });

  it("reports for every batch record the partition and offset it really got", async () => {
    const client = new KafkaRestClient({ baseUrl, clusterId: "driftline", maxBatchEntries: 50 });
    const records = Array.from({ length: 40 }, (_, i) => ({
      key: `tenant-${i % 7}:pred-${i}`,
      value: { i },
      headers: { n: String(i) },
    }));
    const outcomes = await client.produceBatch(names.predictions, records);
    expect(outcomes.every((o) => o.ok)).toBe(true);

    const read = await expectReportedWhereRead(names.predictions, records, outcomes);
    expect(new Set(read.map((r) => r.partition)).size).toBeGreaterThan(1);
  });

  it("takes records in streaming mode (concatenated JSON, one chunked request) and reports where each went", async () => {
    const client = new KafkaRestClient({ baseUrl, clusterId: "driftline", produceMode: "stream" });
    const records = Array.from({ length: 30 }, (_, i) => ({
      key: `tenant-${i % 5}:model-${i}`,
      value: { i },
    }));
    const outcomes = await client.produceBatch(names.models, records);
    expect(outcomes.every((o) => o.ok)).toBe(true);

    await expectReportedWhereRead(names.models, records, outcomes);
  });

  it("reports the right offset for each of many concurrent requests (combined into few produces)", async () => {
    const client = new KafkaRestClient({ baseUrl, clusterId: "driftline" });
    const keys = Array.from({ length: 60 }, (_, i) => `tenant-${i % 5}:evt-${i}`);
    const produced = await Promise.all(
      keys.map((key) => client.produce(names.capi, { key, value: { key } })),
    );
    const read = await readBack(names.capi, keys.length);
    const where = new Map(
      read.map((r) => [r.message.key!.toString(), `${r.partition}/${r.message.offset}`]),
    );
    expect(where.size).toBe(keys.length);
    keys.forEach((key, i) => {
      expect(`${produced[i]!.partitionId}/${produced[i]!.offset}`).toBe(where.get(key));
    });
  });

  it("fails only the oversized request when concurrent requests share a produce", async () => {
    const client = new KafkaRestClient({ baseUrl, clusterId: "driftline" });
    const small = (i: number) => ({ key: "same-key", value: { i } });
    const results = await Promise.allSettled([
      client.produce(names.dlq, small(1)),
      client.produce(names.dlq, {
        key: "same-key",
        value: { big: "x".repeat(SMALL_BATCH_BYTES * 2) },
      }),
      client.produce(names.dlq, small(2)),
      client.produce(names.dlq, small(3)),
    ]);
    expect(results.map((r) => r.status)).toEqual([
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
    ]);
    const rejected = results[1] as PromiseRejectedResult;
    expect(rejected.reason).toMatchObject({ code: "PAYLOAD_TOO_LARGE", retryable: false });
    const read = await readBack(names.dlq, 3);
    expect(read.map((r) => JSON.parse(r.message.value!.toString()).i)).toEqual([1, 2, 3]);
  });

  it("partitions keys exactly as Kafka's Java producer does (Confluent Cloud's REST produce)", async () => {
    // Golden values from kafka-clients 3.9.1 itself:
    // Utils.toPositive(Utils.murmur2(key.getBytes(UTF_8))) % 3, run on the JVM.
    const golden: Array<[string, number]> = [
      ["tenant-1:evt-42", 0],
      ["t1:e-1", 0],
      ["k1", 2],
      ["k2", 0],
      ["tenant-0:pred-0", 0],
      ["tenant-6:pred-39", 2],
      ["ümlaut:ключ", 2],
      ["", 0],
    ];
    const client = new KafkaRestClient({ baseUrl, clusterId: "driftline", maxBatchEntries: 50 });
    const outcomes = await client.produceBatch(
      names.retrainRequests,
      golden.map(([key]) => ({ key, value: { key } })),
    );
    expect(outcomes.map((o) => (o.ok ? o.partitionId : -1))).toEqual(golden.map(([, p]) => p));
  });

  it("answers 400 with the bad field named, and produces nothing", async () => {
    const path = `/v3/clusters/driftline/topics/${names.alerts}/records`;
    const cases: Array<[string, RegExp]> = [
      ["{", /not valid JSON/],
      [JSON.stringify({ value: { type: "AVRO", data: 1 } }), /value\.type/],
      [
        JSON.stringify({ value: { type: "BINARY", data: "not base64!" } }),
        /value\.data: must be a base64/,
      ],
      [JSON.stringify({ partition_id: "one" }), /partition_id/],
    ];
    for (const [body, message] of cases) {
      const res = await post(path, body);
      expect(res.status).toBe(400);
      const answer = (await res.json()) as { error_code: number; message: string };
      expect(answer.error_code).toBe(400);
      expect(answer.message).toMatch(message);
    }
    const offsets = await admin.fetchTopicOffsets(names.alerts);
    expect(offsets.every((p) => p.high === "0")).toBe(true);
  });

  it("answers 404 for a topic off the allow-list, one Kafka lacks, and a missing partition", async () => {
    const offList = await post(`/v3/clusters/driftline/topics/${prefix}secret/records`, "{}");
    expect(offList.status).toBe(404);
    const missing = await post(
      `/v3/clusters/driftline/topics/${notCreated}/records`,
      JSON.stringify({ value: { type: "JSON", data: 1 } }),
    );
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { message: string }).message).toMatch(
      /does not exist on the Kafka cluster/,
    );
    const partition = await post(
      `/v3/clusters/driftline/topics/${names.alerts}/records`,
      JSON.stringify({ partition_id: PARTITIONS, value: { type: "JSON", data: 1 } }),
    );
    expect(partition.status).toBe(404);
    expect(((await partition.json()) as { message: string }).message).toMatch(
      new RegExp(`Partition ${PARTITIONS} does not exist`),
    );
  });

  it("answers 503 (retryable) quickly when no broker answers, and /ready says so", async () => {
    // A port nothing listens on: the shared broker stays untouched for other tests.
    const probe = createAdaptorServer({ fetch: () => new Response() });
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
    const deadPort = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));

    const deadProducer = new KafkajsRecordProducer({ brokers: [`127.0.0.1:${deadPort}`] });
    const app = createKafkaRestGateway({
      producer: deadProducer,
      topics: [names.events],
      clusterId: "driftline",
    });
    const dead = await listen(app.fetch);
    try {
      const started = performance.now();
      const res = await fetch(`${dead.url}/v3/clusters/driftline/topics/${names.events}/records`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ value: { type: "JSON", data: 1 } }),
      });
      expect(res.status).toBe(503);
      expect(res.headers.get("retry-after")).toBe("1");
      expect(((await res.json()) as { message: string }).message).toMatch(/Kafka is unreachable/);
      expect(performance.now() - started).toBeLessThan(10_000);
      expect((await fetch(`${dead.url}/ready`)).status).toBe(503);

      const client = new KafkaRestClient({ baseUrl: dead.url, clusterId: "driftline" });
      const [outcome] = await client.produceBatch(names.events, [{ key: "k", value: 1 }]);
      expect(outcome).toMatchObject({ ok: false, retryable: true });
    } finally {
      await new Promise((resolve) => dead.server.close(resolve));
      await deadProducer.close();
    }
  });
});
