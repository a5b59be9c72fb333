/**
 * The delivery service end to end on the real local stack: event messages on the real Kafka
 * topics, destinations and offsets in a Postgres schema of the test's own (reached through the
 * Neon relay), the delivery service as a child process (so it can be SIGKILLed), and the local
 * Graph API test server standing in for Meta.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { resolve } from "node:path";
import type { Kafka, Producer } from "kafkajs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  importDestinationKey,
  LOCAL_DESTINATION_ENCRYPTION_KEY,
  sealDestinationToken,
} from "#core/destinations";
import { type EventMessage, prepareEvents } from "#core/events";
import { topicNames } from "#core/topics";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { kafkaBrokers } from "../../scripts/local/kafka";
import { migrate } from "../../scripts/migrate";
import { startGraphApiTestServer } from "../support/graph-api-test-server";
import { endOffsets, readRecords, testKafka } from "../support/kafka-reader";

const ROOT = resolve(import.meta.dirname, "../..");
const stack = loadLocalStackConfig();
const DATABASE_URL = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const RELAY_URL = process.env.NEON_WS_RELAY_URL ?? `ws://127.0.0.1:${stack.NEON_WS_RELAY_PORT}`;
const topics = topicNames(process.env.KAFKA_TOPIC_PREFIX ?? stack.KAFKA_TOPIC_PREFIX);
const schema = `dl_delivery_${randomUUID().slice(0, 8)}`;
const kafka: Kafka = testKafka("driftline-e2e-delivery");
const PIXEL = "1234567890123456";
const UA = "Mozilla/5.0 (X11; Linux x86_64) Driftline-e2e";

let db: pg.Client;
let producer: Producer;

beforeAll(async () => {
  await migrate({ databaseUrl: DATABASE_URL, schema });
  db = new pg.Client({ connectionString: DATABASE_URL });
  await db.connect();
  await db.query(`SET search_path TO ${schema}`);
  producer = kafka.producer();
  await producer.connect();
});

afterAll(async () => {
  await producer?.disconnect();
  await db?.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db?.end();
});

async function addDestination(tenant: string, token: string, pixelId = PIXEL): Promise<string> {
  const id = randomUUID();
  const key = await importDestinationKey(LOCAL_DESTINATION_ENCRYPTION_KEY);
  const sealed = await sealDestinationToken(key, token, { tenant, destinationId: id });
  await db.query(
    `INSERT INTO destinations (tenant_id, destination_id, kind, settings, secret_sealed, token_hint)
     VALUES ($1, $2, 'meta', $3, $4, $5)`,
    [tenant, id, JSON.stringify({ pixelId }), sealed, token.slice(-4)],
  );
  return id;
}

/** The group starts where the topics end now: nothing before the test is forwarded. */
async function startGroupAtEnd(groupId: string): Promise<void> {
  for (const topic of [topics.events, topics.capi]) {
    for (const [partition, offset] of await endOffsets(kafka, topic)) {
      await db.query(
        "INSERT INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES ($1, $2, $3, $4)",
        [groupId, topic, partition, offset],
      );
    }
  }
}

function startDelivery(
  groupId: string,
  graphUrl: string,
  env: Record<string, string> = {},
): ChildProcess {
  // One process (node with tsx's loader), so SIGKILL kills the service itself, not a wrapper
  // that would leave it running.
  const child = spawn(
    process.execPath,
    ["--import", "tsx", resolve(ROOT, "stream-processor/delivery-main.ts")],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL,
        DATABASE_SCHEMA: schema,
        NEON_WS_RELAY_URL: RELAY_URL,
        KAFKA_BROKERS: kafkaBrokers(stack).join(","),
        DELIVERY_CONSUMER_GROUP: groupId,
        META_GRAPH_API_URL: graphUrl,
        DELIVERY_RETRY_INITIAL_MS: "200",
        DELIVERY_RETRY_MAX_MS: "1000",
        DELIVERY_TIMEOUT_MS: "2000",
        STREAM_SESSION_TIMEOUT_MS: "10000",
        STREAM_HEARTBEAT_INTERVAL_MS: "1000",
        DELIVERY_API_PORT: "0",
        LOG_LEVEL: "warn",
        ...env,
      },
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  return child;
}

async function stopProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill(signal);
  await exited;
}

/** Event messages as the Worker builds them: CAPI events of a server key, or browser copies. */
async function messages(
  tenant: string,
  ids: readonly string[],
  options: { nowMs?: number; keyKind?: "browser" | "server"; crossSourceCopy?: boolean } = {},
): Promise<EventMessage[]> {
  if (ids.length > 1000) {
    return [
      ...(await messages(tenant, ids.slice(0, 1000), options)),
      ...(await messages(tenant, ids.slice(1000), options)),
    ];
  }
  const nowMs = options.nowMs ?? Date.now();
  const batch = await prepareEvents({
    tenant,
    source: "capi",
    pixelId: PIXEL,
    nowMs,
    keyKind: options.keyKind ?? "server",
    newEventId: () => randomUUID(),
    body: {
      data: ids.map((id) => ({
        event_name: "Purchase",
        event_time: Math.floor(nowMs / 1000) - 30,
        event_id: id,
        action_source: "website",
        event_source_url: "https://shop.example/checkout",
        user_data: {
          em: "buyer@example.com",
          client_user_agent: UA,
          client_ip_address: "203.0.113.9",
        },
        custom_data: { value: 12.5, currency: "EUR" },
      })),
    },
  });
  return batch.results.map((r) => {
    if (r.status !== "accepted") throw new Error(`test event refused: ${JSON.stringify(r)}`);
    return options.crossSourceCopy ? { ...r.message, crossSourceCopy: true } : r.message;
  });
}

async function produce(topic: string, list: readonly EventMessage[]): Promise<void> {
  for (let i = 0; i < list.length; i += 500) {
    await producer.send({
      topic,
      messages: list.slice(i, i + 500).map((m) => ({
        key: `${m.tenant}:${m.eventId}`,
        value: JSON.stringify(m),
      })),
    });
  }
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/** Sum of a Prometheus counter's samples whose labels include `labels`. */
function sample(exposition: string, name: string, labels: string): number {
  return exposition
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) && line.includes(labels))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("delivery service → Meta (Graph API test server)", () => {
  it("loses nothing while Meta is down, and delivers each event once after it returns and after a SIGKILL", async () => {
    const tenant = `deliv-${randomUUID().slice(0, 8)}`;
    const groupId = `e2e-delivery-${randomUUID().slice(0, 8)}`;
    const graph = await startGraphApiTestServer({ listening: false });
    const destination = await addDestination(tenant, "EAAtesttoken1234567890abcd");
    await startGroupAtEnd(groupId);
    let delivery = startDelivery(groupId, graph.url);
    try {
      const first = Array.from({ length: 1_200 }, (_, i) => `o-${i}`);
      await produce(topics.capi, await messages(tenant, first));
      // A browser and a server copy of one order: both are forwarded with the shared event_id.
      await produce(topics.events, await messages(tenant, ["pair-1"], { keyKind: "browser" }));
      await produce(topics.capi, await messages(tenant, ["pair-1"], { crossSourceCopy: true }));
      // Meta is down: the service holds the events and retries.
      await new Promise((r) => setTimeout(r, 8_000));
      expect(graph.state.events).toHaveLength(0);
      expect(delivery.exitCode).toBeNull();

      await graph.start();
      await waitFor(() => graph.state.events.length > 0, 30_000);
      // Killed mid-way, without a chance to finish anything; restarted on the same group.
      await stopProcess(delivery, "SIGKILL");
      const second = Array.from({ length: 800 }, (_, i) => `p-${i}`);
      await produce(topics.capi, await messages(tenant, second));
      delivery = startDelivery(groupId, graph.url);

      const expected = new Set([...first, ...second, "pair-1"]);
      await waitFor(() => graph.state.events.length >= expected.size, 60_000);
      await new Promise((r) => setTimeout(r, 2_000));
      const ids = graph.state.events.map((e) => String(e.event.event_id));
      // Each event reached Meta's record once (requests resent after the kill are deduplicated
      // by event_name + event_id, as at Meta), none is missing.
      expect(new Set(ids)).toEqual(expected);
      expect(ids.filter((id) => id === "pair-1")).toHaveLength(1);
      // Both copies of the pair were sent (the second is Meta's to deduplicate).
      const pairSends = graph.state.deduplicated;
      expect(pairSends).toBeGreaterThanOrEqual(1);
      // Batches of at most 1000; Driftline's record of delivered events is exact: every event
      // once (the pair twice), whatever was resent after the kill.
      expect(graph.state.requests.every((r) => r.events <= 1_000)).toBe(true);
      await waitFor(async () => {
        const { rows } = await db.query(
          "SELECT coalesce(sum(events), 0)::int AS n FROM destination_batches WHERE tenant_id = $1 AND status = 'delivered'",
          [tenant],
        );
        return rows[0].n === expected.size + 1;
      }, 20_000);
      const { rows } = await db.query(
        "SELECT events_received, fbtrace_id, http_status FROM destination_batches WHERE tenant_id = $1 AND destination_id = $2",
        [tenant, destination],
      );
      for (const row of rows) {
        expect(row.http_status).toBe(200);
        expect(row.fbtrace_id).toMatch(/^Dl/);
        expect(row.events_received).toBeGreaterThan(0);
      }
      // Forwarded events are the hashed Meta events: no raw email reaches Meta.
      const sample = graph.state.events[0]?.event as { user_data: Record<string, unknown> };
      expect(sample.user_data.em).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
    } finally {
      await stopProcess(delivery, "SIGTERM");
      await graph.stop();
    }
  }, 180_000);

  it("dead-letters what Meta refuses for good, with Meta's reason, and delivers the rest", async () => {
    const tenant = `deliv-${randomUUID().slice(0, 8)}`;
    const groupId = `e2e-delivery-${randomUUID().slice(0, 8)}`;
    const graph = await startGraphApiTestServer();
    const destination = await addDestination(tenant, "EAAtesttoken0987654321wxyz");
    await startGroupAtEnd(groupId);
    const dlqFrom = await endOffsets(kafka, topics.dlq);
    const delivery = startDelivery(groupId, graph.url);
    try {
      const eightDaysAgo = Date.now() - 8 * 86_400_000;
      const good = await messages(tenant, ["g-1", "g-2", "g-3", "g-4", "g-5"]);
      const old = await messages(tenant, ["too-old"], { nowMs: eightDaysAgo });
      await produce(topics.capi, [good[0]!, good[1]!, old[0]!, good[2]!, good[3]!, good[4]!]);

      await waitFor(() => graph.state.events.length >= 5, 30_000);
      expect(graph.state.events.map((e) => e.event.event_id).sort()).toEqual([
        "g-1",
        "g-2",
        "g-3",
        "g-4",
        "g-5",
      ]);
      const letters = await readRecords(kafka, topics.dlq, dlqFrom, `${tenant}:`, 1, {
        timeoutMs: 20_000,
      });
      expect(letters.map((l) => l.key)).toEqual([`${tenant}:too-old`]);
      expect(letters[0]?.headers["driftline-dlq-stage"]).toBe("deliver");
      expect(letters[0]?.headers["driftline-dlq-reason"]).toMatch(
        /refused the event: Event Timestamp Too Old: .*\(code 100, subcode 2804003\)/,
      );
      await waitFor(async () => {
        const { rows } = await db.query(
          "SELECT status, events, error FROM destination_batches WHERE tenant_id = $1 AND destination_id = $2 AND status = 'dead-lettered'",
          [tenant, destination],
        );
        return rows.length === 1 && /Event Timestamp Too Old/.test(rows[0].error);
      }, 20_000);
    } finally {
      await stopProcess(delivery, "SIGTERM");
      await graph.stop();
    }
  }, 120_000);

  it("parks the events of a destination that keeps failing, goes on with the others, and sends the parked ones exactly once when it answers again", async () => {
    const tenant = `deliv-${randomUUID().slice(0, 8)}`;
    const groupId = `e2e-delivery-${randomUUID().slice(0, 8)}`;
    const graph = await startGraphApiTestServer();
    const DOWN = "1111111111";
    const UP = "2222222222";
    // Meta answers 503 for one pixel only, until the fault is cleared.
    graph.state.faults.push({ status: 503, times: 1_000_000, pixelId: DOWN });
    const down = await addDestination(tenant, "EAAdowntoken1234567890abcd", DOWN);
    const up = await addDestination(tenant, "EAAuptoken0987654321wxyzab", UP);
    await startGroupAtEnd(groupId);
    const apiPort = await freePort();
    const env = {
      DELIVERY_PAUSE_AFTER_MS: "2000",
      DELIVERY_PARKED_RETRY_MS: "500",
      DELIVERY_API_PORT: String(apiPort),
    };
    let delivery = startDelivery(groupId, graph.url, env);
    const received = (pixelId: string) =>
      graph.state.events.filter((e) => e.pixelId === pixelId).map((e) => String(e.event.event_id));
    const parkedEvents = async (destination: string) => {
      const { rows } = await db.query(
        "SELECT coalesce(sum(events), 0)::int AS n FROM destination_parked_events WHERE tenant_id = $1 AND destination_id = $2",
        [tenant, destination],
      );
      return rows[0].n as number;
    };
    const delivered = async (destination: string) => {
      const { rows } = await db.query(
        "SELECT coalesce(sum(events), 0)::int AS n FROM destination_batches WHERE tenant_id = $1 AND destination_id = $2 AND status = 'delivered'",
        [tenant, destination],
      );
      return rows[0].n as number;
    };
    try {
      // Events with another pixel go to both destinations.
      const first = Array.from({ length: 1_500 }, (_, i) => `f-${i}`);
      await produce(topics.capi, await messages(tenant, first));
      // The healthy destination gets everything although the other one never answers, and the
      // failing one's events are parked with the batches (the offsets move on).
      await waitFor(() => received(UP).length >= first.length, 30_000);
      await waitFor(async () => (await parkedEvents(down)) === first.length, 20_000);
      expect(received(DOWN)).toEqual([]);
      // Parked events are sealed: no customer information, IP address or user agent in clear.
      const { rows: sealed } = await db.query(
        "SELECT payload_sealed FROM destination_parked_events WHERE tenant_id = $1",
        [tenant],
      );
      for (const row of sealed) {
        expect(row.payload_sealed).toMatch(/^v1\./);
        expect(row.payload_sealed).not.toContain("203.0.113.9");
        expect(
          Buffer.from(row.payload_sealed.split(".")[2], "base64").toString("latin1"),
        ).not.toContain(UA);
      }
      const exposition = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
      const events = "driftline_delivery_events_total";
      expect(sample(exposition, events, 'outcome="forwarded"')).toBeGreaterThanOrEqual(
        first.length,
      );
      expect(sample(exposition, events, 'outcome="parked"')).toBeGreaterThanOrEqual(first.length);
      expect(sample(exposition, events, 'outcome="failed"')).toBeGreaterThan(0);
      expect(exposition).toMatch(/driftline_delivery_batch_duration_seconds_count \d+/);
      expect(exposition).toContain("driftline_delivery_consumer_lag{");

      // Killed while the destination is paused; the new process learns the pause from the database.
      await stopProcess(delivery, "SIGKILL");
      delivery = startDelivery(groupId, graph.url, env);
      const second = Array.from({ length: 300 }, (_, i) => `s-${i}`);
      await produce(topics.capi, await messages(tenant, second));
      await waitFor(() => received(UP).length >= first.length + second.length, 30_000);
      await waitFor(
        async () => (await parkedEvents(down)) === first.length + second.length,
        20_000,
      );
      expect(received(DOWN)).toEqual([]);

      // The destination answers again: the parked events go out, oldest first, once each.
      graph.state.faults.length = 0;
      const all = new Set([...first, ...second]);
      await waitFor(() => received(DOWN).length >= all.size, 30_000);
      await waitFor(async () => (await parkedEvents(down)) === 0, 20_000);
      // Events after the resume go straight to it again.
      await produce(topics.capi, await messages(tenant, ["after-1", "after-2"]));
      await waitFor(() => received(DOWN).length >= all.size + 2, 30_000);
      await new Promise((r) => setTimeout(r, 1_500));
      const toDown = received(DOWN);
      expect(new Set(toDown)).toEqual(new Set([...all, "after-1", "after-2"]));
      expect(toDown).toHaveLength(all.size + 2);
      expect(received(UP)).toHaveLength(all.size + 2);
      expect(new Set(received(UP))).toEqual(new Set([...all, "after-1", "after-2"]));
      // Driftline's records: every event delivered once per destination.
      await waitFor(async () => (await delivered(down)) === all.size + 2, 20_000);
      expect(await delivered(up)).toBe(all.size + 2);
    } finally {
      await stopProcess(delivery, "SIGTERM");
      await graph.stop();
    }
  }, 180_000);
});
