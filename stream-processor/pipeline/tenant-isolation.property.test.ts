// Property: whatever tenant B puts in a batch next to tenant A's events — arbitrary bytes,
// arbitrary JSON, event messages with hostile text (lone surrogates, U+0000, astral characters,
// huge strings, deep nesting) and records the store refuses — the batch commits, A's windows are
// exactly what A's events alone make, and none of A's records is dead-lettered. The store is the
// in-memory one (its refusal stands in for Postgres refusing a record's data); the decoder, the
// pipeline and the batch handler are the real ones.
import fc from "fast-check";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { HOUR_MS, MINUTE_MS } from "#core/windows";
import type { BatchControl, SourceBatch } from "../kafka/event-source";
import { ManualClock, RecordingDeadLetterSink, RecordingObserver } from "../testing/fakes";
import { InMemoryMetricsStore } from "../testing/in-memory-metrics-store";
import { sampleEventMessage, toValue } from "../testing/sample-messages";
import { createRecordDecoder } from "./decode-record";
import { createMetricsBatchHandler } from "./handle-metrics-batch";
import { MetricsPipeline } from "./metrics-pipeline";

const T0 = Date.parse("2026-03-01T10:15:30Z");
const A = "tenant-a";
const B = "tenant-b";
const running: BatchControl = { heartbeat: async () => {}, isRunning: () => true };

function setup() {
  const store = new InMemoryMetricsStore({ refuseEventName: "Refused" });
  const deadLetters = new RecordingDeadLetterSink();
  const clock = new ManualClock(T0 + 60_000);
  const pipeline = new MetricsPipeline({
    transactions: store,
    store,
    clock,
    groupId: "g",
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
    kindOfTopic: () => "event",
    clock,
    backoff: { initialMs: 100, maxMs: 1_000 },
    log: pino({ level: "silent" }),
    observer: new RecordingObserver(),
  });
  const handle = async (values: Buffer[]) => {
    const batch: SourceBatch = {
      topic: "events",
      partition: 0,
      records: values.map((value, i) => ({
        offset: String(i),
        key: null,
        value,
        headers: {},
        timestampMs: T0,
      })),
      expectedNextOffset: null,
      nextOffset: String(values.length),
      highWatermark: String(values.length),
    };
    return (await prepare(batch, running))();
  };
  return { store, deadLetters, handle };
}

/** A's windows, keyed without the tenant. */
function windowsOf(store: InMemoryMetricsStore, tenant: string) {
  return [...store.state.windows]
    .filter(([k]) => k.startsWith(`${tenant}|`))
    .map(([k, w]) => [k.slice(tenant.length), { ...w, values: [...w.values] }])
    .sort(([a], [b]) => String(a).localeCompare(String(b)));
}

const aEvent = (i: number) =>
  toValue(
    sampleEventMessage({
      tenant: A,
      eventId: `a-${i}`,
      eventName: i % 3 === 0 ? "Purchase" : "Lead",
      eventTimeMs: T0 + (i % 4) * 20_000,
      campaign: i % 2 ? "spring" : undefined,
      value: i,
      currency: "EUR",
    }),
  );

const hostileText = fc.oneof(
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.constantFrom("\ud800", "\u0000", "a\udfffb", "😀", "Refused"),
  fc.integer({ min: 1_000, max: 100_000 }).map((n) => "y".repeat(n)),
);
/** One record of tenant B. */
const bRecord = fc.oneof(
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.jsonValue({ stringUnit: "binary", maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v))),
  fc.integer({ min: 200, max: 20_000 }).map((n) => Buffer.from(`${"[".repeat(n)}${"]".repeat(n)}`)),
  fc
    .record({
      id: fc.string({ minLength: 1, maxLength: 10 }),
      field: fc.constantFrom("eventName", "campaign", "eventId", "currency", "tenant", "pixelId"),
      text: hostileText,
    })
    .map(({ id, field, text }) => {
      const m = sampleEventMessage({ tenant: B, eventId: `b-${id}`, eventTimeMs: T0, value: 1 });
      return Buffer.from(JSON.stringify({ ...m, [field]: text }));
    }),
  // Events the store refuses (as Postgres refuses a value it cannot hold).
  fc.string({ minLength: 1, maxLength: 8 }).map((id) =>
    toValue(
      sampleEventMessage({
        tenant: B,
        eventId: `r-${id}`,
        eventName: "Refused",
        eventTimeMs: T0,
      }),
    ),
  ),
);

describe("a batch shared with a hostile tenant", () => {
  it("stores exactly tenant A's own results, dead-letters none of A's records and commits (property)", {
    timeout: 120_000,
  }, async () => {
    const aValues = Array.from({ length: 24 }, (_, i) => aEvent(i));
    const alone = setup();
    await alone.handle(aValues);
    const expected = windowsOf(alone.store, A);
    expect(expected.length).toBeGreaterThan(0);

    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: 24 }), bRecord), { minLength: 1, maxLength: 20 }),
        async (inserts) => {
          const values = [...aValues];
          // Insert B's records at the chosen positions (from the end, so positions stay valid).
          for (const [at, record] of [...inserts].sort((x, y) => y[0] - x[0])) {
            values.splice(at, 0, record);
          }
          const shared = setup();
          const outcome = await shared.handle(values);
          expect(outcome.kind).toBe("committed");
          expect(windowsOf(shared.store, A)).toEqual(expected);
          const aOffsets = new Set(
            values.flatMap((v, i) => (aValues.includes(v) ? [String(i)] : [])),
          );
          expect(shared.deadLetters.letters.filter((l) => aOffsets.has(l.offset))).toEqual([]);
          expect(shared.store.state.offsets.get("g|events|0")).toBe(String(values.length));
        },
      ),
      { numRuns: 150 },
    );
  });
});
