// The local Kafka services for real: jar cache, a private broker's lifecycle (own state dir and
// ports, so the shared broker is never stopped), and the gateway daemon.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allTopicNames, topicNames } from "#core/topics";
import { KafkajsRecordProducer } from "../../scripts/kafka-rest-gateway/record-producer";
import { type LocalStackConfig, loadLocalStackConfig } from "../../scripts/local/config";
import {
  ensureTopics,
  type KafkaStartTimings,
  kafkaBrokers,
  kafkaRestGatewayService,
  kafkaService,
} from "../../scripts/local/kafka";
import { ensureKafkaJars } from "../../scripts/local/kafka-jars";
import type { ServiceEndpoint } from "../../scripts/local/service";
import { KafkaRestClient } from "../../src/kafka-rest/kafka-rest-client";

const shared = loadLocalStackConfig();
const run = promisify(execFile);
const KAFKA_SCRIPT = join(import.meta.dirname, "../../scripts/local/kafka.ts");
const tempDirs: string[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "driftline-kafka-it-"));
  tempDirs.push(dir);
  return dir;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function withPath<T>(path: string, run: () => Promise<T>): Promise<T> {
  const saved = process.env.PATH;
  process.env.PATH = path;
  try {
    return await run();
  } finally {
    process.env.PATH = saved;
  }
}

/** `npx tsx scripts/local/kafka.ts up` in its own process, as `npm start` and a test run would. */
async function upInChildProcess(
  config: LocalStackConfig,
): Promise<ServiceEndpoint & { timings?: KafkaStartTimings }> {
  const { stdout } = await run(process.execPath, ["--import", "tsx", KAFKA_SCRIPT, "up"], {
    env: {
      ...process.env,
      DRIFTLINE_STATE_DIR: config.DRIFTLINE_STATE_DIR,
      KAFKA_PORT: String(config.KAFKA_PORT),
      KAFKA_CONTROLLER_PORT: String(config.KAFKA_CONTROLLER_PORT),
    },
  });
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

let sharedEndpoint: ServiceEndpoint;

beforeAll(async () => {
  // The shared broker (reused if running) also guarantees the jar cache is filled.
  sharedEndpoint = await kafkaService(shared).up();
});

afterAll(async () => {
  if (sharedEndpoint?.startedHere) await kafkaService(shared).down();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe("Kafka jars", () => {
  it("come from the cache on a second run, without calling mvn", async () => {
    const jars = await withPath("/nonexistent-bin", () => ensureKafkaJars(shared));
    expect(jars.downloaded).toBe(false);
    expect(jars.ms).toBeLessThan(100);
  });

  it("name mvn when it is missing and nothing is cached", async () => {
    const config = { ...shared, DRIFTLINE_CACHE_DIR: tempDir() };
    await expect(withPath("/nonexistent-bin", () => ensureKafkaJars(config))).rejects.toThrow(
      /mvn was not found on PATH/,
    );
  });
});

describe("a broker of its own", () => {
  let config: LocalStackConfig;
  let own: ReturnType<typeof kafkaService>;

  beforeAll(async () => {
    config = loadLocalStackConfig({
      ...process.env,
      DRIFTLINE_STATE_DIR: tempDir(),
      KAFKA_PORT: String(await freePort()),
      KAFKA_CONTROLLER_PORT: String(await freePort()),
    });
    own = kafkaService(config);
  });

  afterAll(async () => {
    await own?.down();
  });

  it("names java when it is missing", async () => {
    await expect(withPath("/nonexistent-bin", () => own.up())).rejects.toThrow(
      /java was not found on PATH/,
    );
  });

  it("starts (formatting its storage once), then is reused, and is stopped only by its stack", async () => {
    // Two processes at once (same stack): exactly one starts the broker, the other waits for it.
    const [first, second] = await Promise.all([upInChildProcess(config), upInChildProcess(config)]);
    expect([first.startedHere, second.startedHere].sort()).toEqual([false, true]);
    expect(first.url).toBe(kafkaBrokers(config).join(","));
    expect((first.timings ?? second.timings)?.formatMs).toBeGreaterThan(0);
    expect(await own.up()).toMatchObject({ startedHere: false });

    // Another stack (other state dir) on the same ports reuses the broker and must not stop it.
    const other = kafkaService({ ...config, DRIFTLINE_STATE_DIR: tempDir() });
    expect(await other.up()).toMatchObject({ startedHere: false });
    await other.down();
    expect(await own.isReady()).toBe(true);
  });

  it("keeps topics across a restart, and the gateway's producer answers 503 meanwhile, then recovers", async () => {
    const brokers = kafkaBrokers(config);
    const topic = `it-restart-${randomUUID().slice(0, 8)}`;
    await ensureTopics(brokers, [{ name: topic, partitions: 2 }]);
    const producer = new KafkajsRecordProducer({ brokers, sendTimeoutMs: 8_000 });
    const record = () => ({
      key: Buffer.from("k"),
      value: Buffer.from("v"),
      headers: [],
      timestampMs: Date.now(),
    });
    try {
      expect(await producer.produce(topic, [record()])).toHaveLength(1);

      await own.down();
      expect(await own.isReady()).toBe(false);
      const started = performance.now();
      await expect(producer.produce(topic, [record()])).rejects.toMatchObject({
        code: "DEPENDENCY_UNAVAILABLE",
        retryable: true,
      });
      expect(performance.now() - started).toBeLessThan(9_000);
      expect(await producer.ready()).toBe(false);

      expect(await own.up()).toMatchObject({ startedHere: true });
      expect(own.lastStartTimings?.formatMs).toBe(0);
      // The first sends after the restart may still hit the old connection; a caller retries.
      let delivered: Awaited<ReturnType<typeof producer.produce>> | undefined;
      for (let attempt = 0; attempt < 10 && !delivered; attempt++) {
        delivered = await producer.produce(topic, [record()]).catch(() => undefined);
        if (!delivered) await new Promise((r) => setTimeout(r, 500));
      }
      // One record before the stop, this one after: the topic and its data survived.
      expect(delivered?.[0]?.offset).toBeGreaterThanOrEqual(0);
      const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      const offsets = await admin.fetchTopicOffsets(topic);
      await admin.disconnect();
      expect(offsets.reduce((sum, p) => sum + Number(p.high), 0)).toBe(2);
    } finally {
      await producer.close();
    }
  });

  it("stops on down()", async () => {
    await own.down();
    expect(await own.isReady()).toBe(false);
  });
});

describe("the gateway daemon", () => {
  it("creates its topics, serves produce over HTTP, and stops", async () => {
    const prefix = `it-svc-${randomUUID().slice(0, 8)}-`;
    const config = loadLocalStackConfig({
      ...process.env,
      DRIFTLINE_STATE_DIR: tempDir(),
      KAFKA_REST_PORT: String(await freePort()),
      KAFKA_TOPIC_PREFIX: prefix,
      KAFKA_REST_API_KEY: "",
      KAFKA_REST_API_SECRET: "",
    });
    const gateway = kafkaRestGatewayService(config);
    const admin = new Kafka({ brokers: kafkaBrokers(config), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      const endpoint = await gateway.up();
      expect(endpoint.startedHere).toBe(true);
      expect(await gateway.up()).toMatchObject({ startedHere: false });
      const existing = new Set(await admin.listTopics());
      expect(allTopicNames(prefix).every((t) => existing.has(t))).toBe(true);

      const client = new KafkaRestClient({ baseUrl: endpoint.url, clusterId: "driftline" });
      const outcomes = await client.produceBatch(topicNames(prefix).events, [
        { key: "t:1", value: { n: 1 } },
        { key: "t:2", value: { n: 2 } },
      ]);
      expect(outcomes.every((o) => o.ok)).toBe(true);

      await gateway.down();
      expect(await gateway.isReady()).toBe(false);
    } finally {
      await gateway.down();
      await admin.deleteTopics({ topics: allTopicNames(prefix) }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});
