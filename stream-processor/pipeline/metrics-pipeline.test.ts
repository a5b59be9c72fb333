import { describe, expect, it } from "vitest";
import { HOUR_MS, MINUTE_MS } from "#core/windows";
import type { BatchStage, StageRecord } from "../batch/batch-stage";
import { ManualClock, windowDelta } from "../testing/fakes";
import { InMemoryMetricsStore } from "../testing/in-memory-metrics-store";
import { sampleEventMessage, toValue } from "../testing/sample-messages";
import { createRecordDecoder } from "./decode-record";
import { hoursOfMinutes, MetricsPipeline, outcomeDeltas } from "./metrics-pipeline";
import type { AcceptedRecord } from "./prepare-batch";

const T0 = Date.parse("2026-03-01T10:15:30Z");
const decode = createRecordDecoder("envelope");

function record(id: string, offset: number, eventTimeMs = T0, tenant = "acme"): AcceptedRecord {
  const value = toValue(sampleEventMessage({ eventId: id, eventTimeMs, tenant }));
  const decoded = decode("event", value);
  if (decoded.ok !== true) throw new Error(`not an event: ${decoded.ok}`);
  // The single stage below "selected" the event id at decode time.
  return {
    offset: String(offset),
    observation: decoded.observation,
    dedup: decoded.dedup,
    stageInputs: [id],
  };
}

function pipelineWith(
  stages: BatchStage[],
  store = new InMemoryMetricsStore(),
  widthsMs = [MINUTE_MS, HOUR_MS],
) {
  const pipeline = new MetricsPipeline({
    transactions: store,
    store,
    clock: new ManualClock(T0),
    groupId: "g",
    windowing: {
      widthsMs,
      allowedLatenessMs: 120_000,
      maxFutureSkewMs: 300_000,
    },
    stages,
  });
  return { pipeline, store };
}

const range = (expected: string | null, next: string) => ({
  topic: "events",
  partition: 0,
  expectedNextOffset: expected,
  nextOffset: next,
});

describe("MetricsPipeline batch stages", () => {
  it("hands each stage the newly counted records and the transaction's connection", async () => {
    const calls: { connection: unknown; records: readonly StageRecord[]; nowMs: number }[] = [];
    const { pipeline } = pipelineWith([
      {
        async apply(tx, records, nowMs) {
          calls.push({ connection: tx.sql, records, nowMs });
        },
      },
    ]);
    await pipeline.commit([record("a", 0), record("b", 1)], range(null, "2"));
    await pipeline.commit([record("a", 2), record("c", 3)], range("2", "4"));
    expect(calls.map((c) => c.records.map((r) => r.input))).toEqual([["a", "b"], ["c"]]);
    expect(calls[0]!.records[0]!.observation).toMatchObject({ kind: "event", tenant: "acme" });
    expect(calls.map((c) => c.connection)).toEqual([
      { inMemoryTransaction: 1 },
      { inMemoryTransaction: 2 },
    ]);
    expect(calls[0]!.nowMs).toBe(T0);
  });

  it("rolls the whole batch back when a stage throws", async () => {
    const { pipeline, store } = pipelineWith([
      {
        async apply() {
          throw new Error("monitoring store unavailable");
        },
      },
    ]);
    await expect(pipeline.commit([record("a", 0)], range(null, "1"))).rejects.toThrow(
      /unavailable/,
    );
    expect(store.state.offsets.size).toBe(0);
    expect(store.state.seen.size).toBe(0);
    expect(store.state.windows.size).toBe(0);
  });

  it("does not call stages for a batch with nothing new", async () => {
    let calls = 0;
    const { pipeline } = pipelineWith([
      {
        async apply() {
          calls += 1;
        },
      },
    ]);
    await pipeline.commit([record("a", 0)], range(null, "1"));
    await pipeline.commit([record("a", 1)], range("1", "2"));
    await pipeline.commit([], range("2", "3"));
    expect(calls).toBe(1);
  });
});

describe("MetricsPipeline hourly rollup marks", () => {
  const HOUR = Date.parse("2026-03-01T10:00:00Z");

  it("marks the (tenant, hour) pairs of its minute windows, in the batch's transaction", async () => {
    const { pipeline, store } = pipelineWith([], new InMemoryMetricsStore(), [MINUTE_MS]);
    await pipeline.commit(
      [
        record("a", 0, HOUR + 5 * MINUTE_MS),
        record("b", 1, HOUR + 50 * MINUTE_MS),
        record("c", 2, HOUR + HOUR_MS + 1_000),
        record("d", 3, HOUR + 7 * MINUTE_MS, "other"),
      ],
      range(null, "4"),
    );
    expect([...store.state.pendingHours].sort()).toEqual(
      [`acme|${HOUR}`, `acme|${HOUR + HOUR_MS}`, `other|${HOUR}`].sort(),
    );
    // Only minute rows are written by the batch; the rollup adds the hours from them.
    const widths = () => new Set([...store.state.windows.keys()].map((k) => k.split("|")[1]));
    expect(widths()).toEqual(new Set([String(MINUTE_MS)]));
    expect(await store.rollUpHours()).toBe(3);
    expect(store.state.pendingHours.size).toBe(0);
    const hour = store.state.windows.get(
      InMemoryMetricsStore.windowKey({
        tenant: "acme",
        widthMs: HOUR_MS,
        windowStartMs: HOUR,
        source: "web",
        eventName: "Purchase",
        campaign: "",
      }),
    );
    expect(hour).toMatchObject({ count: 2, late: 0, matchQualitySum: 15, matchQualityCount: 2 });
  });

  it("a rolled-back batch leaves no marks", async () => {
    const { pipeline, store } = pipelineWith(
      [
        {
          async apply() {
            throw new Error("monitoring store unavailable");
          },
        },
      ],
      new InMemoryMetricsStore(),
      [MINUTE_MS],
    );
    await expect(pipeline.commit([record("a", 0)], range(null, "1"))).rejects.toThrow();
    expect(store.state.pendingHours.size).toBe(0);
  });

  it("hoursOfMinutes: distinct pairs, hour windows ignored", () => {
    const delta = (tenant: string, widthMs: number, windowStartMs: number) =>
      windowDelta({ tenant, widthMs, windowStartMs, eventName: "Lead" });
    expect(
      hoursOfMinutes([
        delta("a", MINUTE_MS, HOUR),
        delta("a", MINUTE_MS, HOUR + 59 * MINUTE_MS),
        delta("a", HOUR_MS, HOUR + HOUR_MS),
        delta("b", MINUTE_MS, HOUR + MINUTE_MS),
        delta("a", MINUTE_MS, HOUR + HOUR_MS),
      ]),
    ).toEqual([
      { tenant: "a", hourStartMs: HOUR },
      { tenant: "b", hourStartMs: HOUR },
      { tenant: "a", hourStartMs: HOUR + HOUR_MS },
    ]);
  });
});

describe("MetricsPipeline browser and server copies of one event", () => {
  function copy(id: string, offset: number, keyKind?: "browser" | "server"): AcceptedRecord {
    const message = { ...sampleEventMessage({ eventId: id, eventTimeMs: T0 }), keyKind };
    const decoded = decode("event", toValue(message));
    if (decoded.ok !== true) throw new Error(`not an event: ${decoded.ok}`);
    return { offset: String(offset), observation: decoded.observation, dedup: decoded.dedup };
  }

  it("counts the server event after a browser copy took its id first", async () => {
    const { pipeline } = pipelineWith([]);
    const first = await pipeline.commit([copy("o-1", 0, "browser")], range(null, "1"));
    expect(first).toMatchObject({ kind: "committed", counted: 1, duplicates: 0 });
    // A message that names no kind is a server event (Workers before key kinds).
    const server = await pipeline.commit([copy("o-1", 1)], range("1", "2"));
    expect(server).toMatchObject({ kind: "committed", counted: 1, duplicates: 0 });
    const again = await pipeline.commit([copy("o-1", 2, "server")], range("2", "3"));
    expect(again).toMatchObject({ kind: "committed", counted: 0, duplicates: 1 });
  });

  it("drops the browser copy of a counted server event, earlier or in the same batch", async () => {
    const { pipeline } = pipelineWith([]);
    await pipeline.commit([copy("o-2", 0, "server")], range(null, "1"));
    const later = await pipeline.commit([copy("o-2", 1, "browser")], range("1", "2"));
    expect(later).toMatchObject({ kind: "committed", counted: 0, duplicates: 1 });
    const together = await pipeline.commit(
      [copy("o-3", 2, "browser"), copy("o-3", 3, "server")],
      range("2", "4"),
    );
    expect(together).toMatchObject({ kind: "committed", counted: 1, duplicates: 1 });
  });
});

describe("outcomeDeltas", () => {
  it("sums outcome records per tenant, source and minute of receipt", () => {
    const o = (tenant: string, source: "web" | "capi", atMs: number, n: number) => ({
      type: "ingest-outcome" as const,
      v: 1 as const,
      tenant,
      source,
      requestId: `${tenant}-${atMs}-${n}`,
      receivedAtMs: atMs,
      accepted: n,
      duplicates: 1,
      rejected: 2 * n,
      copies: 0,
    });
    const deltas = outcomeDeltas([
      o("acme", "web", T0, 1),
      o("acme", "web", T0 + 10_000, 2),
      o("acme", "capi", T0, 3),
      o("globex", "web", T0, 4),
      o("acme", "web", T0 + MINUTE_MS, 5),
    ]);
    const minute = T0 - (T0 % MINUTE_MS);
    expect(deltas).toEqual([
      {
        tenant: "acme",
        source: "web",
        minuteMs: minute,
        accepted: 3,
        duplicates: 2,
        rejected: 6,
        copies: 0,
      },
      {
        tenant: "acme",
        source: "capi",
        minuteMs: minute,
        accepted: 3,
        duplicates: 1,
        rejected: 6,
        copies: 0,
      },
      {
        tenant: "globex",
        source: "web",
        minuteMs: minute,
        accepted: 4,
        duplicates: 1,
        rejected: 8,
        copies: 0,
      },
      {
        tenant: "acme",
        source: "web",
        minuteMs: minute + MINUTE_MS,
        accepted: 5,
        duplicates: 1,
        rejected: 10,
        copies: 0,
      },
    ]);
  });
});
