/** A private corner of the real local services per test: own schema, topic prefix, group; cleaned up after. */
import { randomBytes } from "node:crypto";
import { Kafka, logLevel, type Message } from "kafkajs";
import pg from "pg";
import { type TopicNames, topicNames } from "#core/topics";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { kafkaBrokers, kafkaService } from "../../scripts/local/kafka";
import { type NeonWsRelay, startNeonWsRelay } from "../../scripts/local/neon-ws-relay";
import { migrate } from "../../scripts/migrate";
import { createNeonPool, type Pool } from "../../stream-processor/db/create-pool";
import { ensureTopics } from "../../stream-processor/kafka/ensure-topics";
import { consumerBacklog } from "./consumer-backlog";

/** The machine's Postgres (trust auth); tests never touch another database. */
export const TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";
const POSTGRES_TARGET = "127.0.0.1:5432";

export interface IntegrationEnv {
  brokers: string[];
  kafka: Kafka;
  schema: string;
  prefix: string;
  topics: TopicNames;
  groupId: string;
  relay: NeonWsRelay;
  /** A plain `pg` pool on the test schema, for arranging and asserting (not the code under test). */
  db: pg.Pool;
  /** A Neon serverless Pool on the test schema through the relay, as the processor connects; end it. */
  neonPool(max: number): Pool;
  /** The stream processor's environment for this corner. */
  env(overrides?: Record<string, string>): Record<string, string>;
  produce(topic: string, messages: Message[]): Promise<void>;
  /** Sum over the consumed topics of (end offset − stored next offset); 0 when all is processed. */
  remaining(topics: readonly string[]): Promise<number>;
  /** Waits until `remaining(topics)` is 0 (everything produced to them is processed). */
  drained(topics: readonly string[], timeoutMs?: number): Promise<void>;
  /** Stops the relay (simulates the database becoming unreachable). */
  stopRelay(): Promise<void>;
  /** Starts the relay again on the same port. */
  startRelay(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startIntegrationEnv(name: string, partitions = 3): Promise<IntegrationEnv> {
  const stack = loadLocalStackConfig();
  await kafkaService(stack).up();
  const brokers = kafkaBrokers(stack);
  const id = `${name.replace(/[^a-z0-9]/g, "")}${randomBytes(4).toString("hex")}`;
  const schema = `sp_${id}`;
  const prefix = `test.${id}.`;
  const topics = topicNames(prefix);
  const groupId = `driftline-test-${id}`;
  await migrate({ databaseUrl: TEST_DATABASE_URL, schema });
  await ensureTopics(
    brokers,
    Object.values(topics).map((t) => ({ name: t, partitions })),
  );
  let relay = await startNeonWsRelay({ port: 0, allow: [POSTGRES_TARGET] });
  const relayPort = relay.port;
  const db = new pg.Pool({
    connectionString: TEST_DATABASE_URL,
    options: `-c search_path=${schema}`,
    max: 3,
  });
  const kafka = new Kafka({ clientId: `test-${id}`, brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const admin = kafka.admin();
  await admin.connect();

  return {
    brokers,
    kafka,
    schema,
    prefix,
    topics,
    groupId,
    get relay() {
      return relay;
    },
    db,
    neonPool(max) {
      return createNeonPool({
        databaseUrl: TEST_DATABASE_URL,
        wsRelayUrl: relay.url,
        schema,
        max,
      });
    },
    env(overrides = {}) {
      return {
        DATABASE_URL: TEST_DATABASE_URL,
        DATABASE_SCHEMA: schema,
        NEON_WS_RELAY_URL: relay.url,
        KAFKA_BROKERS: brokers.join(","),
        KAFKA_TOPIC_PREFIX: prefix,
        STREAM_CONSUMER_GROUP: groupId,
        STREAM_ENSURE_TOPICS: "false",
        STREAM_API_PORT: "0",
        // The broker's minimum: a killed member is evicted quickly, so restarts rejoin fast.
        STREAM_SESSION_TIMEOUT_MS: "6000",
        STREAM_HEARTBEAT_INTERVAL_MS: "1000",
        STREAM_RETRY_INITIAL_MS: "100",
        STREAM_RETRY_MAX_MS: "1000",
        STREAM_MAX_WAIT_MS: "100",
        STREAM_LAG_POLL_INTERVAL_MS: "1000",
        LOG_LEVEL: "warn",
        ...overrides,
      };
    },
    async produce(topic, messages) {
      for (let i = 0; i < messages.length; i += 2_000) {
        await producer.send({ topic, acks: -1, messages: messages.slice(i, i + 2_000) });
      }
    },
    remaining(consumed) {
      return consumerBacklog(admin, db, groupId, consumed);
    },
    drained(consumed, timeoutMs) {
      return waitFor(
        `${consumed.join(", ")} to be processed`,
        async () => (await consumerBacklog(admin, db, groupId, consumed)) === 0,
        timeoutMs,
      );
    },
    async stopRelay() {
      await relay.close();
    },
    async startRelay() {
      relay = await startNeonWsRelay({ port: relayPort, allow: [POSTGRES_TARGET] });
    },
    async cleanup() {
      await producer.disconnect().catch(() => {});
      await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
      await admin.disconnect().catch(() => {});
      await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
      await db.end().catch(() => {});
      await relay.close().catch(() => {});
      // The broker is shared with other tests and processes: it stays up (`npm run services:down` stops it).
    },
  };
}

/** Polls `check` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 60_000,
  intervalMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

// Parts of the local stack and the processor that tests of other rooms arrange with.
export { migrate } from "../../scripts/migrate";
export { createNeonPool, type Pool, withTransaction } from "../../stream-processor/db/create-pool";
export { type NeonWsRelay, startNeonWsRelay };
