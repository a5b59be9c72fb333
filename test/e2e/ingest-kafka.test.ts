/**
 * End to end on the real local stack that `npm test` starts: HTTP → the Worker under `wrangler dev`
 * → Cloudflare Queue (miniflare) → queue consumer → Kafka REST gateway → Kafka, read back with
 * kafkajs. Each test uses its own tenant and reads only records keyed `tenant:…`.
 */
import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type EventMessage,
  eventMessageSchema,
  eventsResponseSchema,
  ingestOutcomeSchema,
  prepareEvents,
} from "#core/events";
import { topicNames } from "#core/topics";
import { createApiKey } from "../../scripts/keys-create";
import { loadLocalStackConfig } from "../../scripts/local/config";
import { kafkaBrokers, kafkaRestGatewayService } from "../../scripts/local/kafka";

const stack = loadLocalStackConfig();
const WORKER_URL = process.env.WORKER_URL ?? `http://127.0.0.1:${stack.WORKER_PORT}`;
const topics = topicNames(process.env.KAFKA_TOPIC_PREFIX ?? stack.KAFKA_TOPIC_PREFIX);
const kafka = new Kafka({
  clientId: "driftline-e2e-ingest",
  brokers: kafkaBrokers(stack),
  logLevel: logLevel.NOTHING,
});
const admin = kafka.admin();

const UA = "Mozilla/5.0 (X11; Linux x86_64) Driftline-e2e";

beforeAll(async () => {
  await admin.connect();
});
afterAll(async () => {
  await admin.disconnect();
});

async function ingestKey(tenant: string): Promise<string> {
  const { key } = await createApiKey({
    tenant,
    roles: ["ingest"],
    origins: [],
    redis: {
      url: process.env.UPSTASH_REDIS_REST_URL ?? `http://127.0.0.1:${stack.UPSTASH_REST_PORT}`,
      token: process.env.UPSTASH_REDIS_REST_TOKEN ?? stack.UPSTASH_REDIS_REST_TOKEN,
    },
  });
  return key;
}

const tenantId = (label: string) => `e2e-${label}-${randomUUID().slice(0, 8)}`;

interface ReadRecord {
  key: string;
  value: unknown;
  partition: number;
  offset: string;
}

/** The end offset of every partition now; records sent after this are read from here. */
async function endOffsets(topic: string): Promise<Map<number, string>> {
  const offsets = await admin.fetchTopicOffsets(topic);
  return new Map(offsets.map((o) => [o.partition, o.high]));
}

/**
 * Reads `topic` from `from` until `expectedKeys` distinct keys with `keyPrefix` are seen, then
 * keeps reading `settleMs` longer so that duplicates written by producer retries show up too.
 */
async function readBack(
  topic: string,
  from: Map<number, string>,
  keyPrefix: string,
  expectedKeys: number,
  options: { timeoutMs: number; settleMs?: number },
): Promise<ReadRecord[]> {
  const consumer = kafka.consumer({ groupId: `e2e-ingest-${randomUUID()}` });
  const records: ReadRecord[] = [];
  const keys = new Set<string>();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const key = message.key?.toString() ?? "";
        if (!key.startsWith(keyPrefix)) return;
        keys.add(key);
        records.push({
          key,
          value: JSON.parse(message.value?.toString() ?? "null"),
          partition,
          offset: message.offset,
        });
      },
    });
    for (const [partition, offset] of from) consumer.seek({ topic, partition, offset });
    const deadline = Date.now() + options.timeoutMs;
    while (keys.size < expectedKeys && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
    }
    await new Promise((r) => setTimeout(r, options.settleMs ?? 1_000));
  } finally {
    await consumer.disconnect();
  }
  return records;
}

/** Groups by key; every copy of a key must carry the same value (a producer retry, not a change). */
function uniqueByKey(records: readonly ReadRecord[]): Map<string, unknown> {
  const byKey = new Map<string, unknown>();
  for (const record of records) {
    if (byKey.has(record.key)) expect(record.value, record.key).toEqual(byKey.get(record.key));
    else byKey.set(record.key, record.value);
  }
  return byKey;
}

/**
 * The message the event core builds for `body` at the receive time the Worker stamped: a record
 * equal to it reached Kafka unchanged.
 */
async function expectedMessages(
  tenant: string,
  source: "web" | "capi",
  body: unknown,
  receivedAtMs: number,
  pixelId?: string,
): Promise<Map<string, EventMessage>> {
  const batch = await prepareEvents({
    tenant,
    source,
    body,
    nowMs: receivedAtMs,
    newEventId: () => {
      throw new Error("every test event carries an event_id");
    },
    // The tests' keys have no origins and send no Origin header: server keys.
    keyKind: "server",
    // The tests' tenants have no destination: the edge keeps ip, ua, fbc and fbp out.
    keepForwardingFields: false,
    ...(pixelId === undefined ? {} : { pixelId }),
  });
  const out = new Map<string, EventMessage>();
  for (const r of batch.results) if (r.status === "accepted") out.set(r.messageKey, r.message);
  return out;
}

function websiteEvent(eventId: string, i: number) {
  return {
    event_name: i % 3 === 0 ? "Purchase" : "ViewContent",
    event_time: Date.now() - 5_000,
    event_id: eventId,
    event_source_url: `https://shop.example/p/${i}?utm_source=meta&utm_campaign=e2e`,
    user_data: {
      em: `Buyer${i}@Example.com`,
      ph: "+49 30 1234567",
      client_ip_address: "203.0.113.9",
      client_user_agent: UA,
      fbp: "fb.1.1700000000000.42",
    },
    custom_data: { value: 10 + i, currency: "EUR", contents: [{ id: `sku-${i}`, quantity: 1 }] },
  };
}

function capiEvent(eventId: string, i: number) {
  return {
    event_name: "Lead",
    event_time: Math.floor(Date.now() / 1000) - 10,
    event_id: eventId,
    action_source: "system_generated",
    user_data: { em: [`lead${i}@example.org`], external_id: `crm-${i}`, country: "DE" },
    custom_data: { lead_event_source: "crm", value: "5.5", currency: "eur" },
  };
}

async function post(path: string, key: string, body: unknown): Promise<Response> {
  return fetch(`${WORKER_URL}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("ingest → queue → Kafka", () => {
  it("delivers website and CAPI events to their topics, values unchanged", async () => {
    const tenant = tenantId("flow");
    const key = await ingestKey(tenant);
    const webFrom = await endOffsets(topics.events);
    const capiFrom = await endOffsets(topics.capi);

    const web = { events: Array.from({ length: 25 }, (_, i) => websiteEvent(`web-${i}`, i)) };
    const capi = { data: Array.from({ length: 7 }, (_, i) => capiEvent(`capi-${i}`, i)) };
    const webRes = await post("/v1/events", key, web);
    expect(webRes.status).toBe(202);
    expect(eventsResponseSchema.parse(await webRes.json()).accepted).toBe(25);
    const capiRes = await post("/v1/capi/998877/events", key, capi);
    expect(capiRes.status).toBe(202);
    expect(eventsResponseSchema.parse(await capiRes.json()).accepted).toBe(7);

    const prefix = `${tenant}:`;
    const webRecords = uniqueByKey(
      await readBack(topics.events, webFrom, prefix, 25, { timeoutMs: 30_000 }),
    );
    const capiRecords = uniqueByKey(
      await readBack(topics.capi, capiFrom, prefix, 7, { timeoutMs: 30_000 }),
    );
    expect(webRecords.size).toBe(25);
    expect(capiRecords.size).toBe(7);

    const webValue = eventMessageSchema.parse(webRecords.get(`${tenant}:web-0`));
    const webExpected = await expectedMessages(tenant, "web", web, webValue.receivedAtMs);
    expect(Object.fromEntries(webRecords)).toEqual(Object.fromEntries(webExpected));

    const capiValue = eventMessageSchema.parse(capiRecords.get(`${tenant}:capi-0`));
    const capiExpected = await expectedMessages(
      tenant,
      "capi",
      capi,
      capiValue.receivedAtMs,
      "998877",
    );
    expect(Object.fromEntries(capiRecords)).toEqual(Object.fromEntries(capiExpected));
    expect(JSON.stringify([...webRecords.values(), ...capiRecords.values()])).not.toMatch(
      /example\.(com|org)|crm-\d/i,
    );

    // Each request's outcome record travelled beside its events, on its topic, with its counts
    // (one of the CAPI events sent again, plus one it rejects: a duplicate and a rejection).
    const again = await post("/v1/capi/998877/events", key, {
      data: [capiEvent("capi-0", 0), { ...capiEvent("capi-bad", 9), event_name: "" }],
    });
    expect(eventsResponseSchema.parse(await again.json())).toMatchObject({
      accepted: 0,
      duplicates: 1,
      rejected: 1,
    });
    const outcomes = async (topic: string, from: Map<number, string>, n: number) =>
      [
        ...uniqueByKey(
          await readBack(topic, from, `$outcome:${tenant}:`, n, { timeoutMs: 30_000 }),
        ).values(),
      ]
        .map((v) => ingestOutcomeSchema.parse(v))
        .map((o) => [o.tenant, o.source, o.accepted, o.duplicates, o.rejected, o.copies]);
    expect(await outcomes(topics.events, webFrom, 1)).toEqual([[tenant, "web", 25, 0, 0, 0]]);
    expect((await outcomes(topics.capi, capiFrom, 2)).sort()).toEqual([
      [tenant, "capi", 0, 1, 1, 0],
      [tenant, "capi", 7, 0, 0, 0],
    ]);
  });

  it("keeps accepted events across a gateway outage and delivers each once", async () => {
    const tenant = tenantId("outage");
    const key = await ingestKey(tenant);
    const gateway = kafkaRestGatewayService(stack);
    const from = await endOffsets(topics.events);
    const body = { events: Array.from({ length: 120 }, (_, i) => websiteEvent(`o-${i}`, i)) };

    await gateway.down();
    try {
      expect(await gateway.isReady()).toBe(false);
      const res = await post("/v1/events", key, body);
      expect(res.status).toBe(202);
      expect(eventsResponseSchema.parse(await res.json()).accepted).toBe(120);
      // A resend while Kafka is unreachable is still deduplicated at the edge.
      const again = await post("/v1/events", key, body);
      expect(eventsResponseSchema.parse(await again.json()).duplicates).toBe(120);
      // The consumer fails against the stopped gateway meanwhile: nothing has reached Kafka.
      const early = await readBack(topics.events, from, `${tenant}:`, 1, {
        timeoutMs: 3_000,
        settleMs: 0,
      });
      expect(early).toEqual([]);
    } finally {
      await gateway.up();
    }

    // Redelivery backs off 2 s, 4 s, 8 s, … per attempt, so allow for a few rounds.
    const records = await readBack(topics.events, from, `${tenant}:`, 120, {
      timeoutMs: 90_000,
      settleMs: 3_000,
    });
    const byKey = uniqueByKey(records);
    expect([...byKey.keys()].sort()).toEqual(
      body.events.map((e) => `${tenant}:${e.event_id}`).sort(),
    );
    const first = eventMessageSchema.parse(byKey.get(`${tenant}:o-0`));
    const expected = await expectedMessages(tenant, "web", body, first.receivedAtMs);
    expect(Object.fromEntries(byKey)).toEqual(Object.fromEntries(expected));
  }, 180_000);
});
