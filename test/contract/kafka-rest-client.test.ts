// The client against Driftline's own gateway app in-process (its Kafka side a fake producer), so
// both ends of the Kafka REST v3 contract are exercised without a network.
import { describe, expect, it } from "vitest";
import { ConfigError, DependencyUnavailableError, DriftlineError } from "#core/errors";
import { concatenatedJson } from "#core/kafka-rest";
import { FakeRecordProducer } from "../../scripts/kafka-rest-gateway/fake-record-producer";
import { createKafkaRestGateway } from "../../scripts/kafka-rest-gateway/kafka-rest-gateway";
import {
  KafkaRestClient,
  type KafkaRestClientOptions,
} from "../../src/kafka-rest/kafka-rest-client";

const BASE = "http://gateway.test";

interface GatewayOptions {
  auth?: { apiKey: string; apiSecret: string };
  noBatchRoute?: boolean;
  /** A server that reads only the first record of a concatenated (streaming) body. */
  firstRecordOnly?: boolean;
  /** Milliseconds before a request reaches the gateway (by the keys it carries). */
  delayMs?: (keys: string[]) => number;
  /** An answer instead of the gateway's (by the keys a request carries). */
  answer?: (keys: string[]) => Response | undefined;
}

/** The keys of a produce request's records, from its JSON body (one or several values). */
function keysOf(body: string): string[] {
  const values = concatenatedJson(body) as Array<{
    entries?: Array<{ key?: { data: string } }>;
    key?: { data: string };
  }>;
  return values.flatMap((v) => v.entries ?? [v]).map((e) => e.key?.data ?? "");
}

function setup(options: Partial<KafkaRestClientOptions> = {}, gateway: GatewayOptions = {}) {
  const producer = new FakeRecordProducer();
  const app = createKafkaRestGateway({
    producer,
    topics: ["events"],
    clusterId: "driftline",
    auth: gateway.auth,
    logError: () => {},
  });
  const requests: string[] = [];
  /** Each request's keys as it starts and as it is answered, in time order. */
  const timeline: Array<{ at: "start" | "end"; keys: string[] }> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  /** Whether each request's body came as a stream (sent chunked) rather than as text. */
  const streamed: boolean[] = [];
  const fetch = async (input: string, init: RequestInit) => {
    requests.push(new URL(input).pathname);
    streamed.push(typeof init.body !== "string");
    let body = typeof init.body === "string" ? init.body : await new Response(init.body).text();
    if (gateway.firstRecordOnly && input.endsWith("/records")) {
      body = JSON.stringify(concatenatedJson(body)[0]);
    }
    const keys = keysOf(body);
    timeline.push({ at: "start", keys });
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    try {
      const delay = gateway.delayMs?.(keys) ?? 0;
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      // A server without the batch route, like a REST Proxy that predates it.
      if (gateway.noBatchRoute && input.endsWith(":batch")) {
        return Response.json({ error_code: 404, message: "HTTP 404 Not Found" }, { status: 404 });
      }
      return (
        gateway.answer?.(keys) ??
        (await app.fetch(new Request(input, { method: init.method, headers: init.headers, body })))
      );
    } finally {
      inFlight -= 1;
      timeline.push({ at: "end", keys });
    }
  };
  const client = new KafkaRestClient({ baseUrl: BASE, clusterId: "driftline", fetch, ...options });
  return { client, producer, requests, streamed, timeline, maxInFlight: () => maxInFlight };
}

const records = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    key: `t1:e-${i}`,
    value: { i },
    headers: { src: "web" },
  }));

describe("KafkaRestClient.produceBatch", () => {
  it("sends STRING keys, JSON values and UTF-8 headers, and returns offsets in order", async () => {
    const { client, producer, requests } = setup();
    const outcomes = await client.produceBatch("events", [
      { key: "t1:e-1", value: { amount: 3 }, headers: { "content-language": "dé" } },
      { key: "t1:e-2", value: null },
    ]);
    expect(outcomes).toEqual([
      { ok: true, partitionId: 0, offset: 0 },
      { ok: true, partitionId: 0, offset: 1 },
    ]);
    expect(requests).toEqual(["/v3/clusters/driftline/topics/events/records:batch"]);
    const [first, second] = producer.produced.map((p) => p.record);
    expect(first!.key?.toString()).toBe("t1:e-1");
    expect(JSON.parse(first!.value!.toString())).toEqual({ amount: 3 });
    expect(first!.headers).toEqual([{ name: "content-language", value: Buffer.from("dé") }]);
    expect(second!.value).toBeNull();
  });

  it("splits into chunks of maxBatchEntries, one request after another with maxConcurrentRequests 1", async () => {
    const { client, requests } = setup({ maxBatchEntries: 2, maxConcurrentRequests: 1 });
    const outcomes = await client.produceBatch("events", records(5));
    expect(outcomes.map((o) => (o.ok ? o.offset : -1))).toEqual([0, 1, 2, 3, 4]);
    expect(requests).toHaveLength(3);
  });

  it("falls back to streaming mode, for good, when there is no batch route (Confluent Cloud)", async () => {
    const { client, requests, streamed } = setup({}, { noBatchRoute: true });
    const first = await client.produceBatch("events", records(3));
    expect(first.map((o) => o.ok && o.offset)).toEqual([0, 1, 2]);
    // Chunks of maxStreamEntries (100) from now on: 250 records in 3 requests.
    const second = await client.produceBatch("events", records(250));
    expect(second.map((o) => o.ok && o.offset)).toEqual(
      Array.from({ length: 250 }, (_, i) => 3 + i),
    );
    expect(requests.filter((p) => p.endsWith(":batch"))).toHaveLength(1);
    expect(requests.filter((p) => p.endsWith("/records"))).toHaveLength(4);
    // Streaming-mode bodies go out as streams (chunked), as Confluent documents.
    expect(streamed).toEqual([false, true, true, true, true]);
  });

  it("shares what it learned with later clients through learnedRoutes", async () => {
    const learnedRoutes = new Map();
    const first = setup({ learnedRoutes }, { noBatchRoute: true });
    await first.client.produceBatch("events", records(3));
    expect([...learnedRoutes.values()]).toEqual(["stream"]);
    const later = setup({ learnedRoutes }, { noBatchRoute: true });
    const outcomes = await later.client.produceBatch("events", records(3));
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(later.requests).toEqual(["/v3/clusters/driftline/topics/events/records"]);
  });

  it("falls back to one request per record, for good, when a server answers only the first record of a stream", async () => {
    const { client, requests } = setup({}, { noBatchRoute: true, firstRecordOnly: true });
    const first = await client.produceBatch("events", records(3));
    expect(first.map((o) => o.ok && o.offset)).toEqual([0, 1, 2]);
    const second = await client.produceBatch("events", records(2));
    expect(second.map((o) => o.ok && o.offset)).toEqual([3, 4]);
    // One batch try, one stream (answered for its first record), then single records.
    expect(requests).toEqual([
      "/v3/clusters/driftline/topics/events/records:batch",
      ...Array(5).fill("/v3/clusters/driftline/topics/events/records"),
    ]);
  });

  it("learns nothing from a one-record stream, and keeps streaming when a stream stops early", async () => {
    const learnedRoutes = new Map();
    const { client, requests } = setup(
      { learnedRoutes, maxStreamEntries: 10 },
      {
        noBatchRoute: true,
        // The second stream of several records is answered for its first two only.
        answer: (keys) =>
          keys.length === 4
            ? new Response(
                [0, 1]
                  .map((i) => JSON.stringify({ error_code: 200, partition_id: 0, offset: 90 + i }))
                  .join(""),
              )
            : undefined,
      },
    );
    // One record: the batch route is missing, the stream answers it, the route stays unknown.
    expect((await client.produceBatch("events", records(1)))[0]?.ok).toBe(true);
    expect(learnedRoutes.size).toBe(0);
    // Several: the stream answers them all, streaming is learned.
    expect((await client.produceBatch("events", records(3))).every((o) => o.ok)).toBe(true);
    expect([...learnedRoutes.values()]).toEqual(["stream"]);
    // A stream answered for 2 of its 4 records: those 2 produced, the rest failed and retryable.
    const cut = await client.produceBatch("events", records(4));
    expect(cut.map((o) => o.ok)).toEqual([true, true, false, false]);
    expect(cut[2]).toMatchObject({ ok: false, retryable: true });
    expect([...learnedRoutes.values()]).toEqual(["stream"]);
    // batch 404, stream (1); batch 404, stream (3); stream (4).
    expect(requests.map((p) => p.split("/").pop())).toEqual([
      "records:batch",
      "records",
      "records:batch",
      "records",
      "records",
    ]);
  });

  it("in streaming mode, reports a record the server refuses on its own and produces the others", async () => {
    const { client, producer, requests } = setup({ produceMode: "stream", maxStreamEntries: 10 });
    const sent = [...records(4)];
    sent[1] = { ...sent[1]!, partitionId: -1 } as (typeof sent)[number];
    const outcomes = await client.produceBatch("events", sent);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true, true]);
    expect(outcomes[1]).toMatchObject({ ok: false, retryable: false });
    expect(producer.produced.map((p) => p.record.key?.toString())).toEqual([
      "t1:e-0",
      "t1:e-2",
      "t1:e-3",
    ]);
    expect(requests).toEqual(["/v3/clusters/driftline/topics/events/records"]);
  });

  it("reports an unknown topic as not found and not retryable, without falling back", async () => {
    const { client, requests } = setup();
    const outcomes = await client.produceBatch("nope", records(2));
    for (const o of outcomes) {
      expect(o.ok).toBe(false);
      if (!o.ok) {
        expect(o.error.code).toBe("NOT_FOUND");
        expect(o.retryable).toBe(false);
        expect(o.message).toMatch(/Kafka REST 404: .*does not host topic nope/);
      }
    }
    // One batch try, one single-record probe; the topic answer settles it.
    expect(requests).toHaveLength(2);
  });

  it("maps a 503 to a retryable DependencyUnavailableError and stops sending", async () => {
    const { client, producer, requests } = setup({ maxBatchEntries: 1 });
    producer.failWith = new DependencyUnavailableError("Kafka is unreachable or busy: down");
    const outcomes = await client.produceBatch("events", records(3));
    expect(requests).toHaveLength(1);
    expect(outcomes).toHaveLength(3);
    for (const o of outcomes) {
      expect(o.ok).toBe(false);
      if (!o.ok) {
        expect(o.error).toBeInstanceOf(DependencyUnavailableError);
        expect(o.retryable).toBe(true);
        expect(o.message).toMatch(/503: Kafka is unreachable/);
      }
    }
  });

  it("maps network errors and timeouts to retryable errors", async () => {
    const refused = new KafkaRestClient({
      baseUrl: BASE,
      clusterId: "driftline",
      fetch: async () => {
        throw new TypeError("fetch failed: ECONNREFUSED");
      },
    });
    const [down] = await refused.produceBatch("events", records(1));
    expect(down).toMatchObject({ ok: false, retryable: true });
    expect(!down!.ok && down!.message).toMatch(/ECONNREFUSED/);

    const hanging = new KafkaRestClient({
      baseUrl: BASE,
      clusterId: "driftline",
      timeoutMs: 50,
      fetch: (_input, init) =>
        new Promise((_resolve, reject) => {
          init.signal?.addEventListener("abort", () => reject(init.signal?.reason));
        }),
    });
    const [slow] = await hanging.produceBatch("events", records(1));
    expect(slow).toMatchObject({ ok: false, retryable: true });
    expect(!slow!.ok && slow!.message).toMatch(/no answer within 50 ms/);
  });

  it("sends Basic credentials, and maps a 401 to a non-retryable error", async () => {
    const auth = { apiKey: "KEY", apiSecret: "SECRET" };
    const good = setup({ apiKey: "KEY", apiSecret: "SECRET" }, { auth });
    expect((await good.client.produceBatch("events", records(1)))[0]?.ok).toBe(true);
    const bad = setup({ apiKey: "KEY", apiSecret: "WRONG" }, { auth });
    const [o] = await bad.client.produceBatch("events", records(1));
    expect(o).toMatchObject({ ok: false, retryable: false });
    expect(!o!.ok && o!.error.code).toBe("UNAUTHENTICATED");
  });

  it("sends Uint8Array values as BINARY", async () => {
    const { client, producer } = setup();
    await client.produceBatch("events", [{ key: null, value: new Uint8Array([1, 2, 250]) }]);
    expect([...producer.produced[0]!.record.value!]).toEqual([1, 2, 250]);
    expect(producer.produced[0]!.record.key).toBeNull();
  });
});

describe("KafkaRestClient.produceBatch with concurrent requests", () => {
  /** Each outcome names the offset its own record was stored at (one partition). */
  const expectOutcomesInInputOrder = (
    outcomes: Awaited<ReturnType<KafkaRestClient["produceBatch"]>>,
    sent: ReturnType<typeof records>,
    producer: FakeRecordProducer,
  ) => {
    expect(outcomes).toHaveLength(sent.length);
    outcomes.forEach((o, i) => {
      expect(o.ok).toBe(true);
      if (o.ok) expect(producer.produced[o.offset]!.record.key?.toString()).toBe(sent[i]!.key);
    });
  };

  it("keeps at most maxConcurrentRequests requests in flight (default 6), outcomes in input order", async () => {
    const jitter = (keys: string[]) => 1 + (Number(keys[0]!.split("-")[1]) % 7);
    const three = setup({ maxBatchEntries: 2, maxConcurrentRequests: 3 }, { delayMs: jitter });
    const few = records(25);
    expectOutcomesInInputOrder(await three.client.produceBatch("events", few), few, three.producer);
    expect(three.requests).toHaveLength(13);
    expect(three.maxInFlight()).toBe(3);

    const byDefault = setup({ maxBatchEntries: 2 }, { delayMs: jitter });
    const many = records(100);
    expectOutcomesInInputOrder(
      await byDefault.client.produceBatch("events", many),
      many,
      byDefault.producer,
    );
    expect(byDefault.maxInFlight()).toBe(6);
  });

  it("sends the first chunk alone until it knows the server has the batch route", async () => {
    const { client, timeline } = setup({ maxBatchEntries: 1 }, { delayMs: () => 2 });
    await client.produceBatch("events", records(4));
    expect(timeline.slice(0, 3).map((t) => [t.at, t.keys[0]])).toEqual([
      ["start", "t1:e-0"],
      ["end", "t1:e-0"],
      ["start", "t1:e-1"],
    ]);
    timeline.length = 0;
    await client.produceBatch("events", records(4));
    expect(timeline.slice(0, 4).every((t) => t.at === "start")).toBe(true);
  });

  it("never has two requests with one key in flight: a key's records are written in input order", async () => {
    const { client, producer, timeline } = setup(
      { maxBatchEntries: 2, maxConcurrentRequests: 4 },
      // The chunks holding the shared key answer slowest, so without waiting they would be overtaken.
      { delayMs: (keys) => (keys.includes("t1:same") ? 30 : 1) },
    );
    const sent = records(12);
    for (const i of [3, 8, 9]) sent[i] = { key: "t1:same", value: { i }, headers: { src: "web" } };
    const outcomes = await client.produceBatch("events", sent);
    expect(outcomes.every((o) => o.ok)).toBe(true);
    const same = producer.produced.filter((p) => p.record.key?.toString() === "t1:same");
    expect(same.map((p) => JSON.parse(p.record.value!.toString()).i)).toEqual([3, 8, 9]);
    // Chunk 4 (records 8, 9) starts only once chunk 1 (record 3) was answered, while chunks
    // without the key go on around them.
    const sameRequests = timeline.filter((t) => t.keys.includes("t1:same"));
    expect(sameRequests.map((t) => t.at)).toEqual(["start", "end", "start", "end"]);
    const at = (what: "start" | "end", key: string) =>
      timeline.findIndex((t) => t.at === what && t.keys.includes(key));
    expect(at("end", "t1:e-10")).toBeLessThan(at("end", "t1:e-2"));
  });

  it("stops at a request that fails whole: unsent chunks fail with its error, requests in flight keep their outcomes", async () => {
    const { client, requests } = setup(
      { maxBatchEntries: 1, maxConcurrentRequests: 2 },
      {
        delayMs: (keys) => (keys[0] === "t1:e-1" ? 20 : 0),
        answer: (keys) =>
          keys[0] === "t1:e-2"
            ? Response.json({ error_code: 503, message: "broker away" }, { status: 503 })
            : undefined,
      },
    );
    const outcomes = await client.produceBatch("events", records(6));
    // e-0 alone (the batch route is not known yet), then e-1 and e-2 together; e-3 … never sent.
    expect(requests).toHaveLength(3);
    expect(outcomes.map((o) => o.ok)).toEqual([true, true, false, false, false, false]);
    for (const o of outcomes.slice(2)) {
      expect(o).toMatchObject({ ok: false, retryable: true });
      expect(!o.ok && o.message).toMatch(/503: broker away/);
    }
  });
});

describe("KafkaRestClient.produce", () => {
  it("returns the partition and offset, and throws DriftlineErrors", async () => {
    const { client } = setup();
    expect(await client.produce("events", { key: "k", value: 1 })).toEqual({
      partitionId: 0,
      offset: 0,
    });
    await expect(client.produce("other", { key: "k", value: 1 })).rejects.toBeInstanceOf(
      DriftlineError,
    );
  });

  it("rejects half-configured credentials and bad URLs at construction", () => {
    expect(() => new KafkaRestClient({ baseUrl: BASE, clusterId: "c", apiKey: "k" })).toThrow(
      ConfigError,
    );
    expect(() => new KafkaRestClient({ baseUrl: "gateway:8082", clusterId: "c" })).toThrow(
      /http\(s\)|absolute/,
    );
  });
});
