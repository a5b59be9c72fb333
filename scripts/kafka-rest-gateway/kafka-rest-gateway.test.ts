import { describe, expect, it } from "vitest";
import { DependencyUnavailableError } from "#core/errors";
import { concatenatedJson } from "#core/kafka-rest";
import { FakeRecordProducer } from "./fake-record-producer";
import { createKafkaRestGateway, type KafkaRestGatewayDeps } from "./kafka-rest-gateway";

const NOW = Date.parse("2026-03-01T10:00:00.000Z");
const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
// Response bodies are inspected field by field below; typing each shape would only restate them.
// biome-ignore lint/suspicious/noExplicitAny: test-only JSON access
const json = (res: Response): Promise<any> => res.json();

function setup(overrides: Partial<KafkaRestGatewayDeps> = {}) {
  const producer = new FakeRecordProducer({ kafkaClusterId: "Kq1Yx9mZT2uJ0aB3cD4eFg" });
  const app = createKafkaRestGateway({
    producer,
    topics: ["events", "capi"],
    clusterId: "driftline",
    now: () => NOW,
    logError: () => {},
    ...overrides,
  });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    app.request(path, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: typeof body === "string" ? body : JSON.stringify(body),
    });
  return { app, producer, post };
}

const RECORDS = "/v3/clusters/driftline/topics/events/records";
const BATCH = "/v3/clusters/driftline/topics/events/records:batch";

describe("POST …/records", () => {
  it("produces one record and answers Confluent's delivery report", async () => {
    const { producer, post } = setup();
    const res = await post(RECORDS, {
      key: { type: "STRING", data: "t1:e-1" },
      value: { type: "JSON", data: { event: "Purchase", value: 12.5 } },
      headers: [{ name: "schema", value: b64("v1") }],
    });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      error_code: 200,
      cluster_id: "driftline",
      topic_name: "events",
      partition_id: 0,
      offset: 0,
      timestamp: "2026-03-01T10:00:00.000Z",
      key: { type: "STRING", size: 6 },
      value: { type: "JSON", size: `{"event":"Purchase","value":12.5}`.length },
    });
    const sent = producer.produced[0]!.record;
    expect(sent.key?.toString()).toBe("t1:e-1");
    expect(JSON.parse(sent.value!.toString())).toEqual({ event: "Purchase", value: 12.5 });
    expect(sent.headers).toEqual([{ name: "schema", value: Buffer.from("v1") }]);
    expect(sent.timestampMs).toBe(NOW);
  });

  it("takes several records as concatenated JSON (streaming mode), one delivery report each, in order", async () => {
    const { producer, post } = setup();
    const record = (id: string) => ({
      key: { type: "STRING", data: id },
      value: { type: "JSON", data: { id } },
    });
    const body = [record("t1:a"), { ...record("t1:bad"), partition_id: -1 }, record("t1:c")]
      .map((r) => JSON.stringify(r))
      .join("");
    const res = await post(RECORDS, body);
    expect(res.status).toBe(200);
    const reports = concatenatedJson(await res.text()) as Array<Record<string, unknown>>;
    expect(reports.map((r) => r.error_code)).toEqual([200, 400, 200]);
    expect(reports[0]).toMatchObject({ topic_name: "events", partition_id: 0, offset: 0 });
    expect(reports[1]?.message).toMatch(/partition_id/);
    expect(reports[2]).toMatchObject({ offset: 1 });
    expect(producer.produced.map((p) => p.record.key?.toString())).toEqual(["t1:a", "t1:c"]);

    // A body that ends inside a record produces nothing.
    const cut = await post(RECORDS, `${JSON.stringify(record("t1:d"))}{"key":`);
    expect(cut.status).toBe(400);
    expect(producer.produced).toHaveLength(2);
  });

  it("decodes BINARY data, keeps an explicit partition and timestamp, and omits absent keys", async () => {
    const { producer, post } = setup();
    const res = await post(RECORDS, {
      partition_id: 0,
      value: { type: "BINARY", data: Buffer.from([0, 255, 7]).toString("base64") },
      timestamp: "2026-02-01T00:00:00+01:00",
    });
    const body = await json(res);
    expect(res.status).toBe(200);
    expect(body.key).toBeUndefined();
    expect(body.value).toEqual({ type: "BINARY", size: 3 });
    expect(body.timestamp).toBe("2026-01-31T23:00:00.000Z");
    const sent = producer.produced[0]!.record;
    expect([...sent.value!]).toEqual([0, 255, 7]);
    expect(sent.key).toBeNull();
    expect(sent.partition).toBe(0);
  });

  it("takes Confluent Cloud's /kafka prefix and the Kafka cluster's real id", async () => {
    const { post } = setup();
    const res = await post("/kafka/v3/clusters/Kq1Yx9mZT2uJ0aB3cD4eFg/topics/capi/records", {
      value: { type: "STRING", data: "x" },
    });
    expect(res.status).toBe(200);
    expect((await json(res)).topic_name).toBe("capi");
  });

  it.each([
    ["not JSON", "{nope", /not valid JSON/],
    ["an empty body", "", /empty/],
    [
      "a value without type",
      { value: { data: 1 } },
      /value\.type: type must be one of BINARY, JSON, STRING/,
    ],
    [
      "bad base64",
      { value: { type: "BINARY", data: "***" } },
      /value\.data: must be a base64 string/,
    ],
    [
      "a STRING that is a number",
      { key: { type: "STRING", data: 5 } },
      /key\.data: must be a string/,
    ],
    ["an unknown field", { values: {} }, /Unrecognized key.*values/],
    ["a schema id", { value: { type: "JSON", data: 1, schema_id: 3 } }, /Schema Registry/],
    ["a negative partition", { partition_id: -1 }, /partition_id: must be 0 or more/],
    ["a bad timestamp", { timestamp: "yesterday" }, /timestamp: must be an ISO-8601/],
    ["a header without name", { headers: [{ value: b64("x") }] }, /headers\.0\.name/],
    ["an array body", [], /expected object/],
  ])("answers 400 naming the problem for %s", async (_what, body, message) => {
    const { producer, post } = setup();
    const res = await post(RECORDS, body);
    expect(res.status).toBe(400);
    const answer = await json(res);
    expect(answer.error_code).toBe(400);
    expect(answer.message).toMatch(message);
    expect(producer.calls).toBe(0);
  });

  it("answers 404 for a topic outside the allow-list and for another cluster", async () => {
    const { post } = setup();
    const topic = await post("/v3/clusters/driftline/topics/secrets/records", {});
    expect(topic.status).toBe(404);
    expect((await json(topic)).message).toMatch(/does not host topic secrets.*events, capi/);
    const cluster = await post("/v3/clusters/lkc-other/topics/events/records", {});
    expect(cluster.status).toBe(404);
    expect((await json(cluster)).message).toMatch(/Cluster lkc-other not found/);
  });

  it("answers 503 with Retry-After when Kafka is unavailable", async () => {
    const { producer, post } = setup();
    producer.failWith = new DependencyUnavailableError(
      "Kafka is unreachable or busy: ECONNREFUSED",
    );
    const res = await post(RECORDS, { value: { type: "JSON", data: {} } });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await json(res)).toEqual({
      error_code: 503,
      message: "Kafka is unreachable or busy: ECONNREFUSED",
    });
  });

  it("answers 415 for a non-JSON content type and 413 over the body limit", async () => {
    const { post } = setup({ maxBodyBytes: 2048 });
    const form = await post(RECORDS, "a=1", {
      "content-type": "application/x-www-form-urlencoded",
    });
    expect(form.status).toBe(415);
    const big = await post(RECORDS, { value: { type: "STRING", data: "x".repeat(4096) } });
    expect(big.status).toBe(413);
    expect((await json(big)).message).toMatch(/limit of 2048 bytes/);
  });
});

describe("POST …/records:batch", () => {
  it("produces valid entries together and reports invalid ones per id (207)", async () => {
    const { producer, post } = setup();
    const res = await post(BATCH, {
      entries: [
        { id: "a", key: { type: "STRING", data: "k1" }, value: { type: "JSON", data: 1 } },
        { id: "b", value: { type: "BINARY", data: "%%" } },
        { id: "c", key: { type: "STRING", data: "k2" }, value: { type: "JSON", data: 2 } },
      ],
    });
    expect(res.status).toBe(207);
    const body = await json(res);
    expect(body.successes.map((s: { id: string; offset: number }) => [s.id, s.offset])).toEqual([
      ["a", 0],
      ["c", 1],
    ]);
    expect(body.successes[0]).toMatchObject({ cluster_id: "driftline", topic_name: "events" });
    expect(body.failures).toHaveLength(1);
    expect(body.failures[0]).toMatchObject({ id: "b", error_code: 400 });
    expect(body.failures[0].message).toMatch(/entries\.1\.value\.data: must be a base64/);
    expect(producer.calls).toBe(1);
  });

  it.each([
    ["no entries", { entries: [] }, /entries must not be empty/],
    ["duplicate ids", { entries: [{ id: "x" }, { id: "x" }] }, /entry id x is not unique/],
    ["a bad id", { entries: [{ id: "a b" }] }, /id may contain only/],
    ["too many", { entries: [{ id: "1" }, { id: "2" }, { id: "3" }] }, /at most 2 per request/],
  ])("answers 400 for %s", async (_what, body, message) => {
    const { post } = setup({ maxBatchEntries: 2 });
    const res = await post(BATCH, body);
    expect(res.status).toBe(400);
    expect((await json(res)).message).toMatch(message);
  });
});

describe("auth, health and readiness", () => {
  const auth = { apiKey: "key-1", apiSecret: "s3cret" };
  const basic = (k: string, s: string) => `Basic ${Buffer.from(`${k}:${s}`).toString("base64")}`;

  it("requires the configured Basic credentials on /v3 but not on /health", async () => {
    const { app, post } = setup({ auth });
    const none = await post(RECORDS, { value: { type: "JSON", data: 1 } });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Basic realm="kafka-rest"/);
    expect((await json(none)).error_code).toBe(401);
    const wrong = await post(RECORDS, {}, { authorization: basic("key-1", "nope") });
    expect(wrong.status).toBe(401);
    const right = await post(
      RECORDS,
      { value: { type: "JSON", data: 1 } },
      { authorization: basic("key-1", "s3cret") },
    );
    expect(right.status).toBe(200);
    expect((await app.request("/health")).status).toBe(200);
  });

  it("reports readiness from the producer", async () => {
    const { app, producer } = setup();
    expect((await app.request("/ready")).status).toBe(200);
    producer.isReady = false;
    const res = await app.request("/ready");
    expect(res.status).toBe(503);
  });

  it("lists its cluster and answers unknown routes with a JSON 404", async () => {
    const { app } = setup();
    const list = await json(await app.request("/v3/clusters"));
    expect(list.data[0]).toMatchObject({
      cluster_id: "driftline",
      kafka_cluster_id: "Kq1Yx9mZT2uJ0aB3cD4eFg",
    });
    const missing = await app.request("/v3/nothing");
    expect(missing.status).toBe(404);
    expect((await json(missing)).error_code).toBe(404);
  });
});
