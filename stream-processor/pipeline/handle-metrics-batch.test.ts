import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { HOUR_MS, MINUTE_MS } from "#core/windows";
import type { BatchControl, SourceBatch } from "../kafka/event-source";
import { ManualClock, RecordingDeadLetterSink, RecordingObserver } from "../testing/fakes";
import { InMemoryMetricsStore } from "../testing/in-memory-metrics-store";
import { sampleEventMessage, samplePrediction, toValue } from "../testing/sample-messages";
import { createRecordDecoder } from "./decode-record";
import { createMetricsBatchHandler } from "./handle-metrics-batch";
import { MetricsPipeline } from "./metrics-pipeline";

const T0 = Date.parse("2026-03-01T10:15:30Z");
const GROUP = "g";
const TOPIC = "events";

function setup(options: { store?: InMemoryMetricsStore; dlq?: RecordingDeadLetterSink } = {}) {
  const store = options.store ?? new InMemoryMetricsStore();
  const deadLetters = options.dlq ?? new RecordingDeadLetterSink();
  const clock = new ManualClock(T0 + 60_000);
  const observer = new RecordingObserver();
  const pipeline = new MetricsPipeline({
    transactions: store,
    store,
    clock,
    groupId: GROUP,
    windowing: {
      widthsMs: [MINUTE_MS, HOUR_MS],
      allowedLatenessMs: 120_000,
      maxFutureSkewMs: 300_000,
    },
  });
  const prepare = createMetricsBatchHandler({
    pipeline,
    deadLetters,
    decode: createRecordDecoder("envelope"),
    kindOfTopic: (t) => (t === TOPIC ? "event" : t === "predictions" ? "prediction" : undefined),
    clock,
    backoff: { initialMs: 100, maxMs: 1_000 },
    log: pino({ level: "silent" }),
    observer,
  });
  // Prepare, then commit: what a source does with each batch.
  const handle = async (b: SourceBatch, control: BatchControl) => (await prepare(b, control))();
  return { store, deadLetters, clock, observer, pipeline, handle };
}

const running: BatchControl = { heartbeat: async () => {}, isRunning: () => true };

/** A batch of `values` at offsets from `first`, expecting the store at `expected`. */
function batch(
  values: (Buffer | null)[],
  first: number,
  expected: string | null,
  topic = TOPIC,
  partition = 0,
): SourceBatch {
  return {
    topic,
    partition,
    records: values.map((value, i) => ({
      offset: String(first + i),
      key: Buffer.from(`k${first + i}`),
      value,
      headers: { traceparent: "00-abc-def-01" },
      timestampMs: T0,
    })),
    expectedNextOffset: expected,
    nextOffset: String(first + values.length),
    highWatermark: String(first + values.length + 5),
  };
}

const ev = (id: string, over: Partial<Parameters<typeof sampleEventMessage>[0]> = {}) =>
  toValue(
    sampleEventMessage({
      eventId: id,
      eventTimeMs: T0,
      value: 10,
      currency: "EUR",
      campaign: "c1",
      ...over,
    }),
  );

function minute(store: InMemoryMetricsStore, eventName = "Purchase", source = "web") {
  return store.state.windows.get(
    InMemoryMetricsStore.windowKey({
      tenant: "acme",
      widthMs: MINUTE_MS,
      windowStartMs: T0 - (T0 % MINUTE_MS),
      source,
      eventName,
      campaign: eventName === "conversion" ? "" : "c1",
    }),
  );
}

describe("batch handler", () => {
  it("counts a batch and stores its offset and watermark in the same commit", async () => {
    const { store, handle, observer } = setup();
    const outcome = await handle(
      batch([ev("a"), ev("b"), ev("c", { currency: "USD", value: 2.5 })], 0, null),
      running,
    );
    expect(outcome).toEqual({ kind: "committed" });
    expect(store.transactions).toBe(1);
    expect(minute(store)).toMatchObject({ count: 3, late: 0 });
    expect(minute(store)?.values).toEqual(
      new Map([
        ["EUR", { micros: 20_000_000n, count: 2 }],
        ["USD", { micros: 2_500_000n, count: 1 }],
      ]),
    );
    expect(store.state.offsets.get(`${GROUP}|${TOPIC}|0`)).toBe("3");
    expect(store.state.maxEventTimeMs.get("acme")).toBe(T0);
    expect(observer.committed[0]).toMatchObject({
      records: 3,
      counted: 3,
      duplicates: 0,
      deadLettered: 0,
    });
  });

  it("does not count a redelivered event twice, within a batch or across batches", async () => {
    const { store, handle, observer } = setup();
    await handle(batch([ev("a"), ev("b"), ev("a")], 0, null), running);
    await handle(batch([ev("b"), ev("d")], 3, "3"), running);
    expect(minute(store)?.count).toBe(3);
    expect(observer.committed.map((c) => [c.counted, c.duplicates])).toEqual([
      [2, 1],
      [1, 1],
    ]);
    // Same id, different event name: a different event (Meta's dedup key includes the name).
    await handle(batch([ev("a", { eventName: "Lead" })], 5, "5"), running);
    expect(minute(store, "Lead")?.count).toBe(1);
  });

  it("leaves test events (a testEventCode) out of the metrics and the dedup memory, and moves past them", async () => {
    const { store, handle, observer } = setup();
    const test = (id: string) =>
      toValue({
        ...sampleEventMessage({
          eventId: id,
          eventTimeMs: T0,
          value: 10,
          currency: "EUR",
          campaign: "c1",
        }),
        testEventCode: "TEST123",
      });
    await handle(batch([ev("a"), test("t1"), test("t2")], 0, null), running);
    expect(minute(store)?.count).toBe(1);
    expect(store.state.offsets.get(`${GROUP}|${TOPIC}|0`)).toBe("3");
    expect(observer.committed[0]).toMatchObject({
      records: 3,
      counted: 1,
      duplicates: 0,
      deadLettered: 0,
      skipped: 2,
    });
    // The live event that reuses a test event's id is new.
    await handle(batch([ev("t1")], 3, "3"), running);
    expect(minute(store)?.count).toBe(2);
    expect(observer.committed[1]).toMatchObject({ counted: 1, duplicates: 0, skipped: 0 });
  });

  it("dead-letters poison with its reason and origin, counts the rest and moves past it", async () => {
    const { store, handle, deadLetters } = setup();
    const outcome = await handle(
      batch([ev("a"), Buffer.from("{oops"), ev("b"), toValue({ schemaVersion: 1 })], 10, null),
      running,
    );
    expect(outcome.kind).toBe("committed");
    expect(minute(store)?.count).toBe(2);
    expect(store.state.offsets.get(`${GROUP}|${TOPIC}|0`)).toBe("14");
    expect(deadLetters.letters.map((l) => [l.offset, l.stage, l.topic, l.partition])).toEqual([
      ["11", "decode", TOPIC, 0],
      ["13", "decode", TOPIC, 0],
    ]);
    expect(deadLetters.letters[0]?.reason).toMatch(/not valid JSON/);
    expect(deadLetters.letters[1]?.reason).toMatch(/tenant/);
    expect(deadLetters.letters[0]?.value?.toString()).toBe("{oops");
    expect(deadLetters.letters[0]?.headers).toEqual({ traceparent: "00-abc-def-01" });
  });

  it("holds and retries the batch while the database is down, losing nothing", async () => {
    const { store, handle, clock, observer } = setup({
      store: new InMemoryMetricsStore({ unavailableTransactions: 3 }),
    });
    const outcome = await handle(batch([ev("a"), ev("b")], 0, null), running);
    expect(outcome.kind).toBe("committed");
    expect(store.transactions).toBe(4);
    expect(observer.retries).toEqual(["commit", "commit", "commit"]);
    // Back-off grows: ~100, ~200, ~400 ms (±20 % jitter), slept in heartbeat-sized slices.
    expect(clock.sleeps.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(0.8 * 700);
    expect(minute(store)?.count).toBe(2);
  });

  it("retries the dead-letter topic too, and commits only after the letters are stored", async () => {
    const dlq = new RecordingDeadLetterSink(2);
    const { store, handle, observer } = setup({ dlq });
    await handle(batch([Buffer.from("nope"), ev("a")], 0, null), running);
    expect(observer.retries).toEqual(["dead-letter", "dead-letter"]);
    expect(dlq.letters).toHaveLength(1);
    expect(minute(store)?.count).toBe(1);
  });

  it("gives the batch up (uncommitted) when the source stops during retries", async () => {
    const { store, handle } = setup({
      store: new InMemoryMetricsStore({ unavailableTransactions: 100 }),
    });
    let calls = 0;
    const stopping: BatchControl = { heartbeat: async () => {}, isRunning: () => ++calls < 3 };
    const outcome = await handle(batch([ev("a")], 0, null), stopping);
    expect(outcome).toEqual({ kind: "abandoned" });
    expect(store.state.offsets.size).toBe(0);
    expect(store.state.windows.size).toBe(0);
  });

  it("is fenced, writing nothing, when another consumer moved the stored offset", async () => {
    const { store, handle, observer } = setup();
    await handle(batch([ev("a")], 0, null), running);
    // This member still believes the partition is at 0; the store says 1.
    const outcome = await handle(batch([ev("b")], 0, null), running);
    expect(outcome).toEqual({ kind: "fenced", storedNextOffset: "1" });
    expect(observer.fencedCount).toBe(1);
    expect(minute(store)?.count).toBe(1);
    expect(store.state.seen.has("acme|Purchase|b")).toBe(false);
  });

  it("isolates a record the database refuses by bisecting, dead-letters it, counts the rest", async () => {
    const { store, handle, deadLetters, observer } = setup({
      store: new InMemoryMetricsStore({ refuseEventName: "Bad" }),
    });
    const values = ["a", "b", "c", "d", "e", "f", "g"].map((id) =>
      ev(id, id === "e" ? { eventName: "Bad" } : {}),
    );
    const outcome = await handle(batch(values, 100, "100"), running);
    expect(outcome.kind).toBe("committed");
    expect(minute(store)?.count).toBe(6);
    expect(deadLetters.letters.map((l) => [l.offset, l.stage])).toEqual([["104", "store"]]);
    expect(deadLetters.letters[0]?.reason).toMatch(/database refused it.*22001/);
    expect(store.state.offsets.get(`${GROUP}|${TOPIC}|0`)).toBe("107");
    expect(observer.committed[0]).toMatchObject({ counted: 6, deadLettered: 1 });
  });

  it("counts predictions apart from events, and conversions that name a prediction", async () => {
    const { store, handle } = setup();
    const predictions = ["p1", "p2", "p3"].map((id) =>
      toValue(samplePrediction({ predictionId: id, scoredAtMs: T0 })),
    );
    await handle(batch(predictions, 0, null, "predictions"), running);
    await handle(batch([ev("a", { predictionId: "p1" }), ev("b")], 0, null), running);
    expect(minute(store, "conversion", "predictions")).toMatchObject({ count: 0, predictions: 3 });
    expect(minute(store)).toMatchObject({ count: 2, conversions: 1, predictions: 0 });
  });

  it("counts an event behind the watermark as late, and the watermark survives a restart", async () => {
    const { store, handle } = setup();
    await handle(batch([ev("a", { eventTimeMs: T0 + 4 * MINUTE_MS })], 0, null), running);
    // A fresh process over the same store: the watermark is reloaded, not rebuilt from scratch.
    const restarted = setup({ store });
    await restarted.pipeline.loadState();
    await restarted.handle(batch([ev("b")], 1, "1"), running);
    expect(minute(store)).toMatchObject({ count: 1, late: 1 });
  });

  it("dead-letters records of a topic it does not read", async () => {
    const { handle, deadLetters } = setup();
    await handle(batch([ev("a")], 0, null, "alerts"), running);
    expect(deadLetters.letters[0]?.reason).toMatch(/not one this processor reads/);
  });

  describe("group commit", () => {
    it("commits batches of partitions that arrive together in one transaction", async () => {
      const { store, handle, observer } = setup();
      const outcomes = await Promise.all([
        handle(batch([ev("a"), ev("b")], 0, null, TOPIC, 0), running),
        handle(batch([ev("c")], 0, null, TOPIC, 1), running),
        handle(batch([ev("d"), ev("e")], 0, null, TOPIC, 2), running),
      ]);
      expect(outcomes.map((o) => o.kind)).toEqual(["committed", "committed", "committed"]);
      // The first starts alone; the two arriving meanwhile share the next transaction.
      expect(store.transactions).toBe(2);
      expect(minute(store)?.count).toBe(5);
      expect([0, 1, 2].map((p) => store.state.offsets.get(`${GROUP}|${TOPIC}|${p}`))).toEqual([
        "2",
        "1",
        "2",
      ]);
      expect(observer.committed.map((c) => c.counted).sort()).toEqual([1, 2, 2]);
    });

    it("counts an event once when its website and CAPI copies share a transaction", async () => {
      const { store, handle, observer } = setup();
      await Promise.all([
        handle(batch([ev("first")], 0, null, TOPIC, 0), running),
        handle(batch([ev("x")], 0, null, TOPIC, 1), running),
        handle(batch([ev("x", { source: "capi" })], 0, null, TOPIC, 2), running),
      ]);
      expect(store.transactions).toBe(2);
      expect((minute(store)?.count ?? 0) + (minute(store, "Purchase", "capi")?.count ?? 0)).toBe(2);
      expect(observer.committed.map((c) => c.duplicates).sort()).toEqual([0, 0, 1]);
    });

    it("a fenced batch does not hold back the others of its group", async () => {
      const { store, handle } = setup();
      await handle(batch([ev("a")], 0, null, TOPIC, 1), running);
      const outcomes = await Promise.all([
        handle(batch([ev("z")], 0, null, TOPIC, 0), running),
        handle(batch([ev("b")], 0, null, TOPIC, 1), running), // stale: stored offset is 1
        handle(batch([ev("c")], 0, null, TOPIC, 2), running),
      ]);
      expect(outcomes.map((o) => o.kind)).toEqual(["committed", "fenced", "committed"]);
      expect(minute(store)?.count).toBe(3);
      expect(store.state.seen.has("acme|Purchase|b")).toBe(false);
    });

    it("a refused record is isolated to its own batch; its group's other batches commit whole", async () => {
      const { store, handle, deadLetters } = setup({
        store: new InMemoryMetricsStore({ refuseEventName: "Bad" }),
      });
      await Promise.all([
        handle(batch([ev("z")], 0, null, TOPIC, 0), running),
        handle(
          batch([ev("a"), ev("bad", { eventName: "Bad" }), ev("b")], 0, null, TOPIC, 1),
          running,
        ),
        handle(batch([ev("c"), ev("d")], 0, null, TOPIC, 2), running),
      ]);
      expect(minute(store)?.count).toBe(5);
      expect(deadLetters.letters.map((l) => [l.partition, l.offset])).toEqual([[1, "1"]]);
      expect([0, 1, 2].map((p) => store.state.offsets.get(`${GROUP}|${TOPIC}|${p}`))).toEqual([
        "1",
        "3",
        "2",
      ]);
    });
  });
});

describe("batch handler decoding", () => {
  it("decodes the batches it is handed one at a time, in the order they arrive", async () => {
    const { pipeline, deadLetters, clock, observer } = setup();
    const decodeRecord = createRecordDecoder("envelope");
    const order: string[] = [];
    const prepare = createMetricsBatchHandler({
      pipeline,
      deadLetters,
      decode: (kind, value) => {
        const decoded = decodeRecord(kind, value);
        if (decoded.ok === true) order.push(decoded.dedup.eventId.slice(0, 1));
        return decoded;
      },
      kindOfTopic: () => "event",
      clock,
      backoff: { initialMs: 100, maxMs: 1_000 },
      log: pino({ level: "silent" }),
      observer,
    });
    // Large enough that decoding yields to the event loop in between (every 256 records).
    const n = 700;
    const a = batch(
      Array.from({ length: n }, (_, i) => ev(`a${i}`)),
      0,
      null,
      TOPIC,
      0,
    );
    const b = batch(
      Array.from({ length: n }, (_, i) => ev(`b${i}`)),
      0,
      null,
      TOPIC,
      1,
    );
    await Promise.all([prepare(a, running), prepare(b, running)]);
    expect(order.join("")).toBe("a".repeat(n) + "b".repeat(n));
  });
});
