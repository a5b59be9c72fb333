// The client against Driftline's own gateway app in-process (its Kafka side a fake producer), so
// both ends of the Kafka REST v3 contract are exercised without a network.
import { describe, expect, it } from "vitest";
import { FakeRecordProducer } from "../../stream-processor/kafka-rest-gateway/fake-record-producer";
import { createKafkaRestGateway } from "../../stream-processor/kafka-rest-gateway/kafka-rest-gateway";
import { ConfigError, DependencyUnavailableError, DriftlineError } from "../core/errors";
import { KafkaRestClient, type KafkaRestClientOptions } from "./kafka-rest-client";

const BASE = "http://gateway.test";

function setup(
  options: Partial<KafkaRestClientOptions> = {},
  gateway: { auth?: { apiKey: string; apiSecret: string }; noBatchRoute?: boolean } = {},
) {
  const producer = new FakeRecordProducer();
  const app = createKafkaRestGateway({
    producer,
    topics: ["events"],
    clusterId: "driftline",
    auth: gateway.auth,
    logError: () => {},
  });
  const requests: string[] = [];
  const fetch = async (input: string, init: RequestInit) => {
    requests.push(new URL(input).pathname);
    // A server without the batch route, like a REST Proxy that predates it.
    if (gateway.noBatchRoute && input.endsWith(":batch")) {
      return Response.json({ error_code: 404, message: "HTTP 404 Not Found" }, { status: 404 });
    }
    return app.fetch(new Request(input, init));
  };
  const client = new KafkaRestClient({ baseUrl: BASE, clusterId: "driftline", fetch, ...options });
  return { client, producer, requests };
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

  it("splits into chunks of maxBatchEntries, one request after another", async () => {
    const { client, requests } = setup({ maxBatchEntries: 2 });
    const outcomes = await client.produceBatch("events", records(5));
    expect(outcomes.map((o) => (o.ok ? o.offset : -1))).toEqual([0, 1, 2, 3, 4]);
    expect(requests).toHaveLength(3);
  });

  it("falls back to single-record requests, for good, when there is no batch route", async () => {
    const { client, requests } = setup({}, { noBatchRoute: true });
    const first = await client.produceBatch("events", records(3));
    expect(first.every((o) => o.ok)).toBe(true);
    const second = await client.produceBatch("events", records(2));
    expect(second.map((o) => o.ok && o.offset)).toEqual([3, 4]);
    expect(requests.filter((p) => p.endsWith(":batch"))).toHaveLength(1);
    expect(requests.filter((p) => p.endsWith("/records"))).toHaveLength(5);
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
