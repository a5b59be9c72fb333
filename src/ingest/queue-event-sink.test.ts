import { describe, expect, it } from "vitest";
import { type IngestQueueBody, ingestMessageText } from "../queue/ingest-queue-body";
import { MAX_BUNDLE_BYTES, planBundles, utf8ByteLength } from "../queue/send-ingest-bundles";
import { RecordingQueue } from "../queue/testing/queue-fakes";
import { QueueEventSink } from "./queue-event-sink";

const sinkOn = (queue: RecordingQueue) =>
  new QueueEventSink(queue as unknown as Queue<IngestQueueBody>);

describe("QueueEventSink", () => {
  it("queues a request's events as bundles of { topic, key, value } records, the value's JSON as given", async () => {
    const queue = new RecordingQueue(() => "Queue send failed: simulated outage");
    const value = { eventId: "1", note: "日本 😀" };
    // valueJson is used verbatim (the key order differs from `value` to prove it).
    const valueJson = '{"note":"日本 😀","eventId":"1"}';
    const outcome = await sinkOn(queue).send("capi", [
      { key: "acme:1", value, valueJson },
      { key: "acme:2", value: { other: true } },
    ]);
    expect(outcome).toEqual({ ok: true });
    expect(queue.calls).toHaveLength(1);
    expect(queue.calls[0]).toHaveLength(1);
    expect(queue.calls[0]?.[0]?.body).toBe(
      `{"bundle":1,"attempts":0,"records":[{"topic":"capi","key":"acme:1","value":${valueJson}},{"topic":"capi","key":"acme:2","value":{"other":true}}]}`,
    );
  });

  it("names the events (by position) of a failed sendBatch, and only those", async () => {
    const queue = new RecordingQueue(() => "Queue send failed: simulated outage");
    queue.failCalls = new Set([1, 3]);
    // ~50 KB events: two to a bundle, two bundles to a call (4 events).
    const events = Array.from({ length: 11 }, (_, i) => ({
      key: `acme:${i}`,
      value: { i, pad: "p".repeat(50_000) },
    }));
    const outcome = await sinkOn(queue).send("events", events);
    expect(outcome).toEqual({
      ok: false,
      notQueued: [0, 1, 2, 3, 8, 9, 10],
      reason: "Queue send failed: simulated outage",
    });
    expect(queue.records().map((r) => r.key)).toEqual(["acme:4", "acme:5", "acme:6", "acme:7"]);
  });

  it("sends nothing for no events", async () => {
    const queue = new RecordingQueue(() => "Queue send failed: simulated outage");
    expect(await sinkOn(queue).send("capi", [])).toEqual({ ok: true });
    expect(queue.calls).toEqual([]);
  });

  it("bundles multi-byte events by their UTF-8 size, as if each record were measured whole", async () => {
    const queue = new RecordingQueue(() => "Queue send failed: simulated outage");
    // 3- and 4-byte characters in keys and values: a size in UTF-16 units would under-count them.
    const events = Array.from({ length: 60 }, (_, i) => ({
      key: `日本:${i}`,
      value: { i, note: "日本語😀".repeat(1_000 + 97 * i) },
    }));
    expect(await sinkOn(queue).send("capi", events)).toEqual({ ok: true });
    const bodies = queue.calls.flat().map((m) => m.body as string);
    for (const body of bodies) expect(utf8ByteLength(body)).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
    const whole = events.map((e) =>
      utf8ByteLength(ingestMessageText("capi", e.key, JSON.stringify(e.value))),
    );
    expect(bodies).toHaveLength(planBundles(whole).length);
    expect(queue.records().map((r) => r.key)).toEqual(events.map((e) => e.key));
  });
});
