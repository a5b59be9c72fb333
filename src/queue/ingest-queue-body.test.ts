import { describe, expect, it } from "vitest";
import { QueueEventSink } from "../ingest/queue-event-sink";
import { consumeIngestBatch } from "./consume-ingest-batch";
import {
  type IngestQueueBody,
  ingestBundleText,
  ingestMessageText,
  parseIngestQueueBody,
  readIngestQueueBody,
} from "./ingest-queue-body";
import type { QueueMessageLike } from "./queue-ports";
import { RecordingQueue, RecordingSink } from "./testing/queue-fakes";

const EVENT = {
  schemaVersion: 1,
  tenant: "acme",
  eventId: 'order "4711" é',
  value: 12.5,
  event: { event_name: "Purchase", user_data: { em: ["a".repeat(64)] }, note: "日本 😀" },
};

describe("ingestMessageText", () => {
  it("is JSON.stringify of { topic, key, value } without serialising the value again", () => {
    const key = 'acme:order "4711" é';
    expect(ingestMessageText("capi", key, JSON.stringify(EVENT))).toBe(
      JSON.stringify({ topic: "capi", key, value: EVENT }),
    );
  });
});

describe("readIngestQueueBody", () => {
  it("parses text bodies, passes objects through and gives undefined for text that is not JSON", () => {
    const object = { topic: "predictions", key: "k", value: { a: 1 } };
    expect(readIngestQueueBody(JSON.stringify(object))).toEqual(object);
    expect(readIngestQueueBody(object)).toBe(object);
    expect(readIngestQueueBody("{ not json")).toBeUndefined();
  });
});

describe("parseIngestQueueBody", () => {
  const record = { topic: "capi", key: "acme:1", value: EVENT };

  it("reads a single record as text or object (bodies queued before bundling, model notices)", () => {
    expect(parseIngestQueueBody(JSON.stringify(record))).toEqual({
      kind: "message",
      message: record,
    });
    expect(parseIngestQueueBody(record)).toEqual({ kind: "message", message: record });
  });

  it("reads a bundle's records in order with the attempts it carries", () => {
    const other = { topic: "events", key: "acme:2", value: { a: 1 }, headers: { h: "v" } };
    const text = ingestBundleText([JSON.stringify(record), JSON.stringify(other)], 3);
    expect(parseIngestQueueBody(text)).toEqual({
      kind: "bundle",
      records: [record, other],
      attempts: 3,
      malformed: [],
    });
  });

  it("keeps the well-formed records of a bundle and names the others", () => {
    const text = ingestBundleText([
      JSON.stringify(record),
      JSON.stringify({ topic: "nope", key: "k", value: 1 }),
      JSON.stringify({ topic: "capi", key: "", value: 1 }),
    ]);
    const parsed = parseIngestQueueBody(text);
    expect(parsed).toMatchObject({ kind: "bundle", records: [record] });
    expect(parsed.kind === "bundle" && parsed.malformed.map((m) => m.index)).toEqual([1, 2]);
    expect(parsed.kind === "bundle" && parsed.malformed[0]?.reason).toMatch(/^topic: /);
  });

  it.each([
    ["text that is not JSON", "{ truncated", /not JSON/],
    ["a record without a key", { topic: "capi", value: 1 }, /^key: /],
    ["a bundle of another version", { bundle: 2, attempts: 0, records: [record] }, /^bundle: /],
    ["a bundle without records", '{"bundle":1,"attempts":0,"records":[]}', /^records: /],
    [
      "a bundle with negative attempts",
      { bundle: 1, attempts: -1, records: [record] },
      /^attempts/,
    ],
    ["a bundle whose records are not a list", { bundle: 1, attempts: 0, records: {} }, /^records/],
  ])("calls %s malformed", (_, body, reason) => {
    const parsed = parseIngestQueueBody(body);
    expect(parsed.kind).toBe("malformed");
    expect(parsed.kind === "malformed" && parsed.reason).toMatch(reason);
  });
});

function queueMessage(id: string, body: unknown): QueueMessageLike & { acked: boolean } {
  return {
    id,
    body,
    attempts: 1,
    acked: false,
    ack() {
      this.acked = true;
    },
    retry() {
      throw new Error("not expected");
    },
  };
}

describe("event messages from the sink to Kafka", () => {
  it("queue as text bundles and are produced with the value the Worker built, byte for byte", async () => {
    const queue = new RecordingQueue();
    const sink = new QueueEventSink(queue as unknown as Queue<IngestQueueBody>);
    const valueJson = JSON.stringify(EVENT);
    const outcome = await sink.send("capi", [
      { key: "acme:1", value: EVENT, valueJson },
      { key: "acme:2", value: { other: true } },
    ]);
    expect(outcome).toEqual({ ok: true });
    const sent = queue.calls.flat();
    expect(sent.map((m) => m.contentType)).toEqual(["text"]);
    expect(sent.map((m) => typeof m.body)).toEqual(["string"]);

    const records = new RecordingSink();
    // A model notice still arrives as an object, a message queued before bundling as text.
    const notice = { topic: "predictions", key: "acme:p-1", value: { score: 0.5 } };
    const legacy = ingestMessageText("capi", "acme:0", '{"legacy":true}');
    const messages = [
      queueMessage("legacy", legacy),
      ...sent.map((m, i) => queueMessage(`m${i}`, m.body)),
      queueMessage("p", notice),
      queueMessage("bad", "{ truncated"),
    ];
    const result = await consumeIngestBatch(messages, { sink: records, topicPrefix: "" });
    expect(result).toEqual({ produced: 4, retried: 0, requeued: 0, dropped: 1, parked: 0 });
    expect(messages.every((m) => m.acked)).toBe(true);

    const capi = records.produced.find((p) => p.topic === "capi");
    expect(capi?.records.map((r) => r.key)).toEqual(["acme:0", "acme:1", "acme:2"]);
    expect(JSON.stringify(capi?.records[1]?.value)).toBe(valueJson);
    expect(capi?.records[2]?.value).toEqual({ other: true });
    expect(records.produced.find((p) => p.topic === "predictions")?.records[0]?.value).toEqual({
      score: 0.5,
    });
  });
});
