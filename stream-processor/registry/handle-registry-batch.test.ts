import { pino } from "pino";
import { describe, expect, it } from "vitest";
import {
  type ModelRegistryRecord,
  promotedNotice,
  uploadedNotice,
} from "#core/model-registry-message";
import { fakeManifest } from "../../test/support/fake-services";
import type { BatchControl, SourceBatch } from "../kafka/event-source";
import { ManualClock, RecordingDeadLetterSink, RecordingObserver } from "../testing/fakes";
import { InMemoryMetricsStore } from "../testing/in-memory-metrics-store";
import { createRegistryBatchHandler } from "./handle-registry-batch";
import type { ModelRegistryTransaction, RegistryApplyOutcome } from "./model-registry-store";

const TOPIC = "p.model-registry";
const GROUP = "g";

/**
 * A registry fake that keeps what a transaction applied apart until that transaction commits
 * (see CommittingStore), answers `outcomeOf` per record, and can fail like a lost connection.
 */
class FakeRegistry {
  committed: ModelRegistryRecord[] = [];
  pending: ModelRegistryRecord[] = [];
  failApplies = 0;
  outcomeOf: (r: ModelRegistryRecord) => RegistryApplyOutcome = () => ({ kind: "applied" });
  open = (connection: unknown): ModelRegistryTransaction => {
    expect(connection).toBeDefined();
    return {
      apply: async (record) => {
        if (this.failApplies > 0) {
          this.failApplies -= 1;
          throw Object.assign(new Error("Connection terminated unexpectedly"), { code: "08006" });
        }
        const outcome = this.outcomeOf(record);
        if (outcome.kind !== "refused") this.pending.push(record);
        return outcome;
      },
    };
  };
}

/** Commits the registry fake's writes together with the metrics store's transaction. */
class CommittingStore extends InMemoryMetricsStore {
  constructor(readonly registry: FakeRegistry) {
    super();
  }
  override async inTransaction<T>(fn: Parameters<InMemoryMetricsStore["inTransaction"]>[0]) {
    this.registry.pending = [];
    try {
      const result = (await super.inTransaction(fn)) as T;
      this.registry.committed.push(...this.registry.pending);
      return result;
    } finally {
      this.registry.pending = [];
    }
  }
}

function setup() {
  const registry = new FakeRegistry();
  const store = new CommittingStore(registry);
  const deadLetters = new RecordingDeadLetterSink();
  const observer = new RecordingObserver();
  const clock = new ManualClock(Date.parse("2026-11-22T10:00:00Z"));
  const prepare = createRegistryBatchHandler({
    transactions: store,
    openRegistry: registry.open,
    deadLetters,
    groupId: GROUP,
    clock,
    backoff: { initialMs: 100, maxMs: 1_000 },
    log: pino({ level: "silent" }),
    observer,
  });
  const handle = async (b: SourceBatch, control: BatchControl = running) =>
    (await prepare(b, control))();
  const offset = (partition = 0) => store.state.offsets.get(`${GROUP}|${TOPIC}|${partition}`);
  return { registry, store, deadLetters, observer, clock, handle, offset };
}

const running: BatchControl = { heartbeat: async () => {}, isRunning: () => true };

function batch(values: (Buffer | null)[], first: number, expected: string | null): SourceBatch {
  return {
    topic: TOPIC,
    partition: 0,
    records: values.map((value, i) => ({
      offset: String(first + i),
      key: Buffer.from("acme:conversion"),
      value,
      headers: {},
      timestampMs: 0,
    })),
    expectedNextOffset: expected,
    nextOffset: String(first + values.length),
    highWatermark: String(first + values.length),
  };
}

const uploaded = (version: string): ModelRegistryRecord => ({
  ...uploadedNotice("acme", "conversion", version),
  uploadedAt: "2026-11-22T09:00:00.000Z",
  sizeBytes: 10,
  sha256: "d".repeat(64),
  manifest: fakeManifest(2),
});
const promoted = (champion: string, at: string) =>
  promotedNotice("acme", "conversion", { champion, promotedAt: at });
const v = (record: unknown) => Buffer.from(JSON.stringify(record));

describe("createRegistryBatchHandler", () => {
  it("applies records in offset order with the offset, dead-lettering poison before the commit", async () => {
    const { registry, deadLetters, observer, handle, offset } = setup();
    registry.outcomeOf = (r) =>
      r.action === "promoted" && r.version === "1"
        ? { kind: "stale", heldPromotedAt: "2026-11-22T10:05:00.000Z" }
        : { kind: "applied" };
    const outcome = await handle(
      batch(
        [
          v(uploaded("2")),
          Buffer.from("{not json"),
          v(promoted("2", "2026-11-22T10:05:00.000Z")),
          v(uploadedNotice("acme", "conversion", "3")),
          v(promoted("1", "2026-11-22T10:01:00.000Z")),
        ],
        10,
        "10",
      ),
    );
    expect(outcome).toEqual({ kind: "committed" });
    expect(offset()).toBe("15");
    expect(registry.committed.map((r) => `${r.action}:${r.version}`)).toEqual([
      "uploaded:2",
      "promoted:2",
      "promoted:1",
    ]);
    expect(deadLetters.letters.map((l) => [l.offset, l.stage])).toEqual([
      ["11", "decode"],
      ["13", "decode"],
    ]);
    expect(deadLetters.letters[1]!.reason).toMatch(/model registry record schema v1/);
    expect(observer.committed).toEqual([
      expect.objectContaining({ records: 5, counted: 2, duplicates: 1, deadLettered: 2 }),
    ]);
  });

  it("dead-letters a record the database refuses and commits the rest", async () => {
    const { registry, deadLetters, observer, handle, offset } = setup();
    registry.outcomeOf = (r) =>
      r.version === "bad"
        ? { kind: "refused", reason: "Postgres refused it (23514): check violation" }
        : { kind: "applied" };
    const outcome = await handle(batch([v(uploaded("bad")), v(uploaded("2"))], 0, null));
    expect(outcome).toEqual({ kind: "committed" });
    expect(offset()).toBe("2");
    expect(registry.committed.map((r) => r.version)).toEqual(["2"]);
    expect(deadLetters.letters).toEqual([
      expect.objectContaining({
        offset: "0",
        stage: "store",
        reason: "the database refused it: Postgres refused it (23514): check violation",
      }),
    ]);
    expect(observer.committed[0]).toMatchObject({ counted: 1, deadLettered: 1 });
  });

  it("holds and retries the batch while the database or the dead-letter topic is unavailable, committing once", async () => {
    const { registry, store, deadLetters, observer, clock, handle, offset } = setup();
    registry.outcomeOf = (r) =>
      r.version === "bad" ? { kind: "refused", reason: "refused" } : { kind: "applied" };
    store.faults.unavailableTransactions = 1;
    registry.failApplies = 1;
    // The refused record's letter fails once too: that rolls the applied record back as well.
    deadLetters.failNext = 1;
    const outcome = await handle(batch([v(uploaded("2")), v(uploaded("bad"))], 0, null));
    expect(outcome).toEqual({ kind: "committed" });
    expect(offset()).toBe("2");
    expect(registry.committed.map((r) => r.version)).toEqual(["2"]);
    expect(deadLetters.letters.map((l) => l.offset)).toEqual(["1"]);
    expect(observer.retries).toEqual(["commit", "commit", "commit"]);
    expect(clock.sleeps.length).toBeGreaterThanOrEqual(3);
  });

  it("writes nothing when another member moved the offset, and gives a batch up when stopping", async () => {
    const { registry, observer, handle, offset } = setup();
    expect(await handle(batch([v(uploaded("1"))], 0, null))).toEqual({ kind: "committed" });
    // A stale view of the partition: the store already holds 1, not null.
    const fenced = await handle(batch([v(uploaded("1"))], 0, null));
    expect(fenced).toEqual({ kind: "fenced", storedNextOffset: "1" });
    expect(observer.fencedCount).toBe(1);
    expect(registry.committed).toHaveLength(1);
    expect(offset()).toBe("1");

    registry.failApplies = 1;
    const stopping: BatchControl = { heartbeat: async () => {}, isRunning: () => false };
    expect(await handle(batch([v(uploaded("2"))], 1, "1"), stopping)).toEqual({
      kind: "abandoned",
    });
    expect(offset()).toBe("1");
    expect(registry.committed).toHaveLength(1);
  });
});
