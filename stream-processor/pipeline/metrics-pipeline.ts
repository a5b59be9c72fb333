/** Commits decoded records: dedup, window deltas, watermarks and the offset in one store transaction. */
import { aggregateWindows, type WindowingSpec } from "../../src/core/windows/aggregate-windows";
import type { Clock } from "../ports/clock";
import type { MetricsStore } from "../ports/metrics-store";
import type { AcceptedRecord } from "./prepare-batch";

export interface OffsetRange {
  topic: string;
  partition: number;
  expectedNextOffset: string | null;
  nextOffset: string;
}

export type CommitResult =
  | { kind: "committed"; counted: number; duplicates: number; windowRows: number }
  | { kind: "fenced"; storedNextOffset: string | null };

/** Thrown inside the transaction to roll it back when the offset compare-and-set fails. */
class Fenced extends Error {
  constructor(readonly storedNextOffset: string | null) {
    super("offset fenced");
  }
}

export interface MetricsPipelineDeps {
  store: MetricsStore;
  clock: Clock;
  windowing: WindowingSpec;
  groupId: string;
}

/**
 * Holds the per-tenant newest event times (the watermark state) between batches: loaded from the
 * store, raised only after a commit, so a rolled-back batch leaves no trace in memory either.
 */
export class MetricsPipeline {
  private readonly maxEventTimeMs = new Map<string, number>();

  constructor(private readonly deps: MetricsPipelineDeps) {}

  /** (Re)loads the watermark state, e.g. at start and after a rebalance. */
  async loadState(): Promise<void> {
    const stored = await this.deps.store.loadMaxEventTimes();
    for (const [tenant, ms] of stored) this.raise(tenant, ms);
  }

  /** Newest trusted event time of a tenant known to this process. */
  maxEventTime(tenant: string): number | undefined {
    return this.maxEventTimeMs.get(tenant);
  }

  /**
   * One transaction: claim the offset range (compare-and-set; fenced → nothing written), remember
   * the dedup keys, count only the records not seen before, raise the watermarks.
   */
  async commit(records: readonly AcceptedRecord[], range: OffsetRange): Promise<CommitResult> {
    const { store, clock, windowing, groupId } = this.deps;
    try {
      const result = await store.inTransaction(async (tx) => {
        const advanced = await tx.advanceOffset({ groupId, ...range });
        if (!advanced.ok) throw new Fenced(advanced.storedNextOffset);
        if (records.length === 0)
          return { counted: 0, duplicates: 0, windowRows: 0, moved: new Map() };
        const seenBefore = await tx.markSeen(records.map((r) => r.dedup));
        const fresh =
          seenBefore.size === 0 ? records : records.filter((_, i) => !seenBefore.has(i));
        const aggregate = aggregateWindows(
          fresh.map((r) => r.observation),
          windowing,
          { maxEventTimeMs: this.maxEventTimeMs, nowMs: clock.nowMs() },
        );
        if (aggregate.deltas.length > 0) await tx.applyWindowDeltas(aggregate.deltas);
        if (aggregate.maxEventTimeMs.size > 0) await tx.advanceWatermarks(aggregate.maxEventTimeMs);
        return {
          counted: fresh.length,
          duplicates: seenBefore.size,
          windowRows: aggregate.deltas.length,
          moved: aggregate.maxEventTimeMs,
        };
      });
      for (const [tenant, ms] of result.moved) this.raise(tenant, ms);
      return {
        kind: "committed",
        counted: result.counted,
        duplicates: result.duplicates,
        windowRows: result.windowRows,
      };
    } catch (error) {
      if (error instanceof Fenced)
        return { kind: "fenced", storedNextOffset: error.storedNextOffset };
      throw error;
    }
  }

  private raise(tenant: string, ms: number): void {
    const current = this.maxEventTimeMs.get(tenant);
    if (current === undefined || ms > current) this.maxEventTimeMs.set(tenant, ms);
  }
}
