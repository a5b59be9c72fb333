/** The BatchTransaction port: one batch's unit of work, holding its consumed offsets and the SQL connection its stages write through. */
import type { Queryable } from "../db/timed-query";

export interface OffsetAdvance {
  groupId: string;
  topic: string;
  partition: number;
  /** What the store must hold now (null: nothing stored yet); anything else means fenced. */
  expectedNextOffset: string | null;
  nextOffset: string;
}

export type OffsetAdvanceResult = { ok: true } | { ok: false; storedNextOffset: string | null };

/**
 * Everything done through it commits together or not at all: the offsets it advances and every
 * statement a stage runs on `sql` (stages open their repositories on it: `openMetrics(tx)`,
 * `openMonitoring(tx)`, `openRegistry(tx)`), which is what makes a batch's effect exactly once.
 */
export interface BatchTransaction {
  /** The transaction's own connection; statements on it are part of the transaction. */
  readonly sql: Queryable;
  /**
   * Compare-and-set of the stored offset; call it first, so a fenced batch stops before doing
   * work (and so two consumers of one partition serialise on the offset row).
   */
  advanceOffset(advance: OffsetAdvance): Promise<OffsetAdvanceResult>;
  /**
   * `advanceOffset` for several partitions (distinct group/topic/partition) in one round trip;
   * one result per advance, in order. The ones that were not fenced have moved, so the caller
   * rolls the transaction back if any was.
   */
  advanceOffsets(advances: readonly OffsetAdvance[]): Promise<OffsetAdvanceResult[]>;
}

export interface BatchTransactions {
  /**
   * Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. Data
   * the database refuses (rather than a failure to reach it) is thrown as a ValidationError.
   */
  inTransaction<T>(fn: (tx: BatchTransaction) => Promise<T>): Promise<T>;
  /** Stored next offsets of `partitions` (absent: none stored). */
  loadNextOffsets(
    groupId: string,
    topic: string,
    partitions: readonly number[],
  ): Promise<Map<number, string>>;
}
