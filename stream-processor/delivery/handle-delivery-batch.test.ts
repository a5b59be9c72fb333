import pino from "pino";
import { describe, expect, it } from "vitest";
import { importDestinationKey, LOCAL_DESTINATION_ENCRYPTION_KEY } from "#core/destinations";
import type { BatchTransaction } from "../batch/batch-transaction";
import type { DeadLetter } from "../kafka/dead-letter-sink";
import type { SourceBatch } from "../kafka/event-source";
import type { MetaOutcome } from "./delivery-types";
import type { LiveDestination } from "./destination-directory";
import { DestinationPauses } from "./destination-pauses";
import { createDeliveryBatchHandler } from "./handle-delivery-batch";

const destination = (id: string, pixelId: string): LiveDestination => ({
  tenant: "acme",
  id,
  kind: "meta",
  settings: { pixelId },
  token: "t",
});
const DOWN = destination("00000000-0000-4000-8000-00000000000a", "111");
const UP = destination("00000000-0000-4000-8000-00000000000b", "222");

function batchOf(first: number, n: number): SourceBatch {
  return {
    topic: "capi",
    partition: 0,
    records: Array.from({ length: n }, (_, i) => ({
      offset: String(first + i),
      key: Buffer.from(`acme:e-${first + i}`),
      value: Buffer.from(
        JSON.stringify({
          tenant: "acme",
          event: { event_name: "Lead", event_id: `e-${first + i}` },
        }),
      ),
      headers: {},
      timestampMs: 0,
    })),
    expectedNextOffset: String(first),
    nextOffset: String(first + n),
    highWatermark: String(first + n),
  };
}

/** A clock that moves only when the handler sleeps, a sender failing for one pixel, a recorded transaction. */
async function setUp(pauseAfterMs: number) {
  let nowMs = 0;
  const sent: { pixel: string; ids: string[] }[] = [];
  const statements: { name?: string; values?: unknown[] }[] = [];
  const pauses = new DestinationPauses();
  const letters: DeadLetter[] = [];
  const handler = createDeliveryBatchHandler({
    directory: { destinationsOf: async () => new Map([["acme", [DOWN, UP]]]) },
    sender: {
      send: async (d, events): Promise<MetaOutcome> => {
        const ids = events.map((e) => (JSON.parse(e) as { event_id: string }).event_id);
        sent.push({ pixel: d.settings.pixelId, ids });
        return d.id === DOWN.id
          ? { kind: "transient", reason: "HTTP 503", httpStatus: 503, fbtraceId: null }
          : { kind: "delivered", eventsReceived: ids.length, fbtraceId: "x", messages: [] };
      },
    },
    transactions: {
      inTransaction: async <T>(fn: (tx: BatchTransaction) => Promise<T>) =>
        fn({
          sql: {
            query: async (q) => {
              statements.push(q);
              return { rows: [], rowCount: 0 };
            },
          },
          advanceOffset: async () => ({ ok: true }),
          advanceOffsets: async () => [],
        }),
    },
    deadLetters: { send: async (l) => void letters.push(...l) },
    groupId: "g",
    backoff: { initialMs: 100, maxMs: 400 },
    pauses,
    pauseAfterMs,
    key: await importDestinationKey(LOCAL_DESTINATION_ENCRYPTION_KEY),
    log: pino({ level: "silent" }),
    sleep: async (ms) => {
      nowMs += ms;
    },
    nowMs: () => nowMs,
  });
  const control = { heartbeat: async () => {}, isRunning: () => true };
  const run = async (batch: SourceBatch) => (await handler(batch, control))();
  return { run, sent, statements, pauses, letters, now: () => nowMs };
}

describe("delivery batch handler: per-destination pause", () => {
  it("retries a failing destination for the pause delay, then parks its events and commits the batch", async () => {
    const t = await setUp(1_000);
    expect(await t.run(batchOf(0, 3))).toEqual({ kind: "committed" });
    // The healthy destination took everything once; the failing one was tried until the delay.
    expect(t.sent.filter((s) => s.pixel === "222")).toEqual([
      { pixel: "222", ids: ["e-0", "e-1", "e-2"] },
    ]);
    const downTries = t.sent.filter((s) => s.pixel === "111").length;
    expect(downTries).toBeGreaterThan(2);
    expect(t.now()).toBeGreaterThanOrEqual(1_000);
    expect(t.now()).toBeLessThan(1_000 + 400 * 1.2 + 1);
    expect(t.pauses.isPaused(DOWN.id)).toBe(true);
    const names = t.statements.map((s) => s.name);
    expect(names).toEqual([
      "driftline_insert_destination_batches",
      "driftline_insert_destination_parked_events",
    ]);
    const parked = t.statements[1]?.values as unknown[][];
    expect(parked[1]).toEqual([DOWN.id]);
    expect(parked[3]).toEqual([3]);
    // Sealed: the events are not in the statement in clear.
    expect(JSON.stringify(parked)).not.toContain("e-1");
    expect(t.letters).toEqual([]);

    // The next batch parks its events for the paused destination without trying it.
    const before = t.now();
    expect(await t.run(batchOf(3, 2))).toEqual({ kind: "committed" });
    expect(t.sent.filter((s) => s.pixel === "111")).toHaveLength(downTries);
    expect(t.sent.at(-1)).toEqual({ pixel: "222", ids: ["e-3", "e-4"] });
    expect(t.now()).toBe(before);
    expect((t.statements.at(-1)?.values as unknown[][] | undefined)?.[3]).toEqual([2]);
  });

  it("pauses at the first transient failure when the delay is 0", async () => {
    const t = await setUp(0);
    expect(await t.run(batchOf(0, 1))).toEqual({ kind: "committed" });
    expect(t.sent.filter((s) => s.pixel === "111")).toHaveLength(1);
    expect(t.now()).toBe(0);
  });
});
