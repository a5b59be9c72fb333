import { describe, expect, it } from "vitest";
import { consumeIngestBatch } from "./consume-ingest-batch";
import type { IngestMessage } from "./ingest-message";
import { ingestBundleText, ingestMessageText, parseIngestQueueBody } from "./ingest-queue-body";
import type {
  BundleRequeue,
  DeadLetterParking,
  ParkedBundle,
  ProduceOutcome,
  ProduceRecord,
  QueueMessageLike,
  RecordSink,
} from "./queue-ports";
import { FakeMessage } from "./testing/queue-fakes";

/** Produces every record except those whose key is in `failing` (or all, when `down`). */
class FakeSink implements RecordSink {
  readonly produced: { topic: string; key: string; value: unknown }[] = [];
  readonly calls: { topic: string; keys: string[] }[] = [];
  failing = new Set<string>();
  down = false;
  async produce(topic: string, records: ProduceRecord[]): Promise<ProduceOutcome[]> {
    this.calls.push({ topic, keys: records.map((r) => r.key) });
    if (this.down) throw new Error("Kafka REST unreachable");
    return records.map((r) => {
      if (this.failing.has(r.key)) return { ok: false, retryable: true, message: "broker timeout" };
      this.produced.push({ topic, key: r.key, value: r.value });
      return { ok: true };
    });
  }
}

class FakeRequeue implements BundleRequeue {
  readonly sent: { text: string; delaySeconds: number }[] = [];
  down = false;
  async requeue(bundleText: string, options: { delaySeconds: number }): Promise<void> {
    if (this.down) throw new Error("Queue send failed");
    this.sent.push({ text: bundleText, delaySeconds: options.delaySeconds });
  }
}

const event = (topic: "events" | "capi", id: string): IngestMessage => ({
  topic,
  key: `acme:${id}`,
  value: { eventId: id, note: "ü 日本" },
});
const bundle = (records: IngestMessage[], attempts = 0) =>
  ingestBundleText(
    records.map((r) => ingestMessageText(r.topic, r.key, JSON.stringify(r.value))),
    attempts,
  );

function setup() {
  const sink = new FakeSink();
  const requeue = new FakeRequeue();
  const logs: Record<string, unknown>[] = [];
  const consume = (messages: QueueMessageLike[], extra: { requeue?: BundleRequeue | null } = {}) =>
    consumeIngestBatch(messages, {
      sink,
      topicPrefix: "p.",
      log: (e) => logs.push(e),
      ...(extra.requeue === null ? {} : { requeue: extra.requeue ?? requeue }),
    });
  return { sink, requeue, logs, consume };
}

describe("consumeIngestBatch with bundles", () => {
  it("produces every record of a bundle in order, grouped by topic, and acks it", async () => {
    const { sink, requeue, consume } = setup();
    const records = [event("capi", "1"), event("events", "w1"), event("capi", "2")];
    const message = new FakeMessage("b", bundle(records));
    const result = await consume([message]);
    expect(result).toEqual({ produced: 3, retried: 0, requeued: 0, dropped: 0, parked: 0 });
    expect(message.settled).toBe("acked");
    expect(sink.calls).toEqual([
      { topic: "p.capi", keys: ["acme:1", "acme:2"] },
      { topic: "p.events", keys: ["acme:w1"] },
    ]);
    expect(sink.produced.map((p) => p.value)).toEqual([
      records[0]?.value,
      records[2]?.value,
      records[1]?.value,
    ]);
    expect(requeue.sent).toEqual([]);
  });

  it("produces the topics at the same time, not one after another", async () => {
    // Each topic's produce answers only once every topic's produce has started: one after
    // another would never finish.
    const started = new Set<string>();
    let release: () => void = () => {};
    const allStarted = new Promise<void>((resolve) => {
      release = resolve;
    });
    const sink: RecordSink = {
      async produce(topic, records) {
        started.add(topic);
        if (started.size === 2) release();
        await allStarted;
        return records.map(() => ({ ok: true }));
      },
    };
    const message = new FakeMessage("b", bundle([event("capi", "1"), event("events", "w1")]));
    const result = await consumeIngestBatch([message], { sink, topicPrefix: "p." });
    expect(result.produced).toBe(2);
    expect(message.settled).toBe("acked");
  });

  it("retries a bundle of which nothing was produced, with the backoff of its attempts", async () => {
    const { sink, requeue, consume, logs } = setup();
    sink.down = true;
    const message = new FakeMessage("b", bundle([event("capi", "1"), event("capi", "2")]), 2);
    const result = await consume([message]);
    expect(result).toEqual({ produced: 0, retried: 1, requeued: 0, dropped: 0, parked: 0 });
    expect(message.settled).toBe("retried");
    expect(message.retriedWith).toEqual({ delaySeconds: 4 });
    expect(requeue.sent).toEqual([]);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: "warn",
        id: "b",
        failed: 2,
        of: 2,
        reason: "Kafka REST unreachable",
      }),
    );
  });

  it("re-enqueues only the failed records of a partly produced bundle, then acks it", async () => {
    const { sink, requeue, consume } = setup();
    sink.failing = new Set(["acme:2", "acme:4"]);
    const records = ["1", "2", "3", "4"].map((id) => event("capi", id));
    const message = new FakeMessage("b", bundle(records), 3);
    const result = await consume([message]);
    expect(result).toEqual({ produced: 2, retried: 0, requeued: 2, dropped: 0, parked: 0 });
    expect(message.settled).toBe("acked");
    expect(sink.produced.map((p) => p.key)).toEqual(["acme:1", "acme:3"]);
    expect(requeue.sent).toHaveLength(1);
    // After the backoff of the 3 deliveries so far, carrying them.
    expect(requeue.sent[0]?.delaySeconds).toBe(8);
    expect(parseIngestQueueBody(requeue.sent[0]?.text)).toEqual({
      kind: "bundle",
      records: [records[1], records[3]],
      attempts: 3,
      malformed: [],
    });

    // The re-enqueued rest, delivered once Kafka takes it: the earlier records are not produced again.
    sink.failing = new Set();
    const rest = new FakeMessage("r", requeue.sent[0]?.text);
    expect(await consume([rest])).toEqual({
      produced: 2,
      retried: 0,
      requeued: 0,
      dropped: 0,
      parked: 0,
    });
    expect(rest.settled).toBe("acked");
    expect(sink.produced.map((p) => p.key)).toEqual(["acme:1", "acme:3", "acme:2", "acme:4"]);
  });

  it("keeps counting attempts across re-enqueues: backoff grows, and past max_retries the bundle is retried whole", async () => {
    const { sink, requeue, consume } = setup();
    sink.failing = new Set(["acme:2"]);
    const records = [event("capi", "1"), event("capi", "2"), event("capi", "3")];
    // Re-enqueued earlier after 6 deliveries; this message's own 2nd delivery.
    const message = new FakeMessage("b", bundle(records, 6), 2);
    await consume([message]);
    expect(requeue.sent[0]?.delaySeconds).toBe(256);
    expect(parseIngestQueueBody(requeue.sent[0]?.text)).toMatchObject({ attempts: 8 });

    // 10 earlier deliveries + this one exceed max_retries (10): redelivered whole towards the DLQ.
    const spent = new FakeMessage("s", bundle(records, 10), 1);
    const result = await consume([spent]);
    expect(result).toEqual({ produced: 2, retried: 1, requeued: 0, dropped: 0, parked: 0 });
    expect(spent.settled).toBe("retried");
    expect(spent.retriedWith).toEqual({ delaySeconds: 300 });
    expect(requeue.sent).toHaveLength(1);
  });

  it("retries the whole bundle when its rest cannot be re-enqueued (produced records may repeat)", async () => {
    const { sink, requeue, consume, logs } = setup();
    sink.failing = new Set(["acme:2"]);
    requeue.down = true;
    const message = new FakeMessage("b", bundle([event("capi", "1"), event("capi", "2")]));
    const result = await consume([message]);
    expect(result).toEqual({ produced: 1, retried: 1, requeued: 0, dropped: 0, parked: 0 });
    expect(message.settled).toBe("retried");
    expect(message.retriedWith).toEqual({ delaySeconds: 2 });
    expect(logs).toContainEqual(
      expect.objectContaining({ id: "b", produced: 1, requeueError: "Queue send failed" }),
    );
  });

  it("retries a partly produced bundle whole when no requeue port is given", async () => {
    const { sink, consume } = setup();
    sink.failing = new Set(["acme:1"]);
    const message = new FakeMessage("b", bundle([event("capi", "1"), event("capi", "2")]));
    const result = await consume([message], { requeue: null });
    expect(result).toEqual({ produced: 1, retried: 1, requeued: 0, dropped: 0, parked: 0 });
    expect(message.settled).toBe("retried");
  });

  it("settles each message of a batch on its own records", async () => {
    const { sink, requeue, consume } = setup();
    sink.failing = new Set(["acme:b2", "acme:single-bad"]);
    const ok = new FakeMessage("ok", bundle([event("capi", "a1"), event("capi", "a2")]));
    const partial = new FakeMessage("partial", bundle([event("capi", "b1"), event("capi", "b2")]));
    const good = new FakeMessage("good", ingestMessageText("events", "acme:single", "{}"));
    const bad = new FakeMessage("bad", ingestMessageText("events", "acme:single-bad", "{}"), 4);
    const result = await consume([ok, partial, good, bad]);
    expect(result).toEqual({ produced: 4, retried: 1, requeued: 1, dropped: 0, parked: 0 });
    expect([ok, partial, good, bad].map((m) => m.settled)).toEqual([
      "acked",
      "acked",
      "acked",
      "retried",
    ]);
    expect(bad.retriedWith).toEqual({ delaySeconds: 16 });
    expect(requeue.sent.map((s) => parseIngestQueueBody(s.text))).toMatchObject([
      { kind: "bundle", records: [{ key: "acme:b2" }], attempts: 1 },
    ]);
  });
});

function redriveSetup(extra: Partial<Parameters<typeof consumeIngestBatch>[1]> = {}) {
  const { sink, requeue, logs } = setup();
  const consume = (messages: QueueMessageLike[]) =>
    consumeIngestBatch(messages, {
      sink,
      topicPrefix: "p.",
      log: (e) => logs.push(e),
      requeue,
      keepFailures: true,
      maxRetryDelaySeconds: 3_600,
      ...extra,
    });
  return { sink, requeue, logs, consume };
}

describe("consumeIngestBatch reading the dead-letter queue (keepFailures)", () => {
  it("produces dead-lettered bundles and acks them once Kafka takes them", async () => {
    const { sink, requeue, consume } = redriveSetup();
    const message = new FakeMessage("d", bundle([event("capi", "1"), event("events", "w1")]), 1);
    expect(await consume([message])).toEqual({
      produced: 2,
      retried: 0,
      requeued: 0,
      dropped: 0,
      parked: 0,
    });
    expect(message.settled).toBe("acked");
    expect(sink.produced.map((p) => p.key)).toEqual(["acme:1", "acme:w1"]);
    expect(requeue.sent).toEqual([]);
  });

  it("never retries in place: what fails goes back on the dead-letter queue, with a backoff of up to an hour, logged as an error", async () => {
    const { sink, requeue, consume, logs } = redriveSetup();
    sink.down = true;
    const records = [event("capi", "1"), event("capi", "2")];
    // Its queue's last delivery, where a retry would drop it; 11 deliveries carried.
    const whole = new FakeMessage("whole", bundle(records, 11), 10);
    const single = new FakeMessage("single", ingestMessageText("events", "acme:s", '{"a":1}'), 2);
    const result = await consume([whole, single]);
    expect(result).toEqual({ produced: 0, retried: 0, requeued: 3, dropped: 0, parked: 0 });
    expect([whole.settled, single.settled]).toEqual(["acked", "acked"]);
    expect(requeue.sent.map((s) => s.delaySeconds)).toEqual([3_600, 4]);
    expect(requeue.sent.map((s) => parseIngestQueueBody(s.text))).toEqual([
      { kind: "bundle", records, attempts: 21, malformed: [] },
      {
        kind: "bundle",
        records: [{ topic: "events", key: "acme:s", value: { a: 1 } }],
        attempts: 2,
        malformed: [],
      },
    ]);
    expect(logs.filter((l) => l.level === "error")).toHaveLength(2);
    expect(logs).toContainEqual(
      expect.objectContaining({ level: "error", id: "whole", requeued: 2, produced: 0 }),
    );

    // A partly produced bundle: only its failed records go back.
    sink.down = false;
    sink.failing = new Set(["acme:2"]);
    const partial = new FakeMessage("partial", bundle(records, 0), 1);
    expect(await consume([partial])).toEqual({
      produced: 1,
      retried: 0,
      requeued: 1,
      dropped: 0,
      parked: 0,
    });
    expect(parseIngestQueueBody(requeue.sent[2]?.text)).toMatchObject({
      records: [records[1]],
      attempts: 1,
    });
  });

  it("retries in place only when the dead-letter queue refuses the send", async () => {
    const { sink, requeue, consume, logs } = redriveSetup();
    sink.down = true;
    requeue.down = true;
    const message = new FakeMessage("d", bundle([event("capi", "1")], 12), 1);
    expect(await consume([message])).toEqual({
      produced: 0,
      retried: 1,
      requeued: 0,
      dropped: 0,
      parked: 0,
    });
    expect(message.retriedWith).toEqual({ delaySeconds: 3_600 });
    expect(logs).toContainEqual(
      expect.objectContaining({ id: "d", requeueError: "Queue send failed" }),
    );
  });
});

describe("consumeIngestBatch parking what the dead-letter queue cannot deliver", () => {
  class FakeParking implements DeadLetterParking {
    readonly parked: ParkedBundle[] = [];
    down = false;
    async park(bundle: ParkedBundle): Promise<void> {
      if (this.down) throw new Error("R2 unavailable");
      this.parked.push(bundle);
    }
  }
  function parkingSetup() {
    const parking = new FakeParking();
    return { ...redriveSetup({ parking, parkAfterAttempts: 30 }), parking };
  }

  it("parks the failed records of a bundle past the limit, with their attempts and the reason, and acks it", async () => {
    const { sink, requeue, parking, consume, logs } = parkingSetup();
    sink.failing = new Set(["acme:2"]);
    const records = [event("capi", "1"), event("capi", "2")];
    const old = new FakeMessage("old", bundle(records, 29), 1);
    const young = new FakeMessage("young", bundle([event("capi", "2")], 3), 1);
    expect(await consume([old, young])).toEqual({
      produced: 1,
      retried: 0,
      requeued: 1,
      dropped: 0,
      parked: 1,
    });
    expect([old.settled, young.settled]).toEqual(["acked", "acked"]);
    expect(parking.parked).toHaveLength(1);
    expect(parking.parked[0]).toMatchObject({ id: "old", attempts: 30, reason: "broker timeout" });
    expect(parseIngestQueueBody(parking.parked[0]?.bundleText)).toEqual({
      kind: "bundle",
      records: [records[1]],
      attempts: 30,
      malformed: [],
    });
    // The younger bundle still circles the dead-letter queue.
    expect(requeue.sent).toHaveLength(1);
    expect(logs).toContainEqual(expect.objectContaining({ level: "error", id: "old", parked: 1 }));
  });

  it("puts the records back on the dead-letter queue when parking fails", async () => {
    const { sink, requeue, parking, consume } = parkingSetup();
    sink.down = true;
    parking.down = true;
    const message = new FakeMessage("m", bundle([event("capi", "1")], 40), 1);
    expect(await consume([message])).toEqual({
      produced: 0,
      retried: 0,
      requeued: 1,
      dropped: 0,
      parked: 0,
    });
    expect(message.settled).toBe("acked");
    expect(requeue.sent).toHaveLength(1);
  });

  it("settles every other message of the batch when one message cannot be settled", async () => {
    const { consume } = parkingSetup();
    class BrokenAck extends FakeMessage {
      override ack(): void {
        throw new Error("ack failed");
      }
    }
    const broken = new BrokenAck("broken", bundle([event("capi", "1")]), 1);
    const fine = new FakeMessage("fine", bundle([event("capi", "2")]), 1);
    const result = await consume([broken, fine]);
    expect(fine.settled).toBe("acked");
    expect(broken.settled).toBe("retried");
    expect(result.retried).toBe(1);
  });
});

describe("consumeIngestBatch with single-record bodies (queued before bundling, or by other producers)", () => {
  it("produces text and object bodies and acks them, retries one that fails", async () => {
    const { sink, requeue, consume } = setup();
    sink.failing = new Set(["acme:2"]);
    const text = new FakeMessage("t", ingestMessageText("capi", "acme:1", '{"a":1}'));
    const object = new FakeMessage("o", event("events", "w"));
    const failing = new FakeMessage("f", ingestMessageText("capi", "acme:2", '{"a":2}'), 2);
    const result = await consume([text, object, failing]);
    expect(result).toEqual({ produced: 2, retried: 1, requeued: 0, dropped: 0, parked: 0 });
    expect([text.settled, object.settled, failing.settled]).toEqual(["acked", "acked", "retried"]);
    expect(failing.retriedWith).toEqual({ delaySeconds: 4 });
    expect(requeue.sent).toEqual([]);
  });
});

describe("consumeIngestBatch with malformed bodies", () => {
  it("drops (acks) a malformed bundle with a log and produces the rest of the batch", async () => {
    const { sink, consume, logs } = setup();
    const broken = new FakeMessage("x", '{"bundle":1,"attempts":0,"records":{}}');
    const truncated = new FakeMessage("y", bundle([event("capi", "1")]).slice(0, -10));
    const fine = new FakeMessage("z", bundle([event("capi", "2")]));
    const result = await consume([broken, truncated, fine]);
    expect(result).toEqual({ produced: 1, retried: 0, requeued: 0, dropped: 2, parked: 0 });
    expect([broken.settled, truncated.settled, fine.settled]).toEqual(["acked", "acked", "acked"]);
    expect(sink.produced.map((p) => p.key)).toEqual(["acme:2"]);
    const errors = logs.filter((l) => l.level === "error");
    expect(errors.map((l) => [l.id, l.msg])).toEqual([
      ["x", "dropping malformed ingest message"],
      ["y", "dropping malformed ingest message"],
    ]);
    // Logged without the records' values.
    expect(JSON.stringify(logs)).not.toContain("日本");
  });

  it("drops the malformed records of a bundle and produces its well-formed ones", async () => {
    const { sink, consume, logs } = setup();
    const text = ingestBundleText([
      ingestMessageText("capi", "acme:1", "{}"),
      '{"topic":"capi","value":{}}',
      ingestMessageText("capi", "acme:3", "{}"),
    ]);
    const message = new FakeMessage("b", text);
    const result = await consume([message]);
    expect(result).toEqual({ produced: 2, retried: 0, requeued: 0, dropped: 1, parked: 0 });
    expect(message.settled).toBe("acked");
    expect(sink.produced.map((p) => p.key)).toEqual(["acme:1", "acme:3"]);
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: "error",
        id: "b",
        records: 1,
        first: expect.objectContaining({ index: 1 }),
      }),
    );
  });
});
