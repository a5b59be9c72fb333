/** A BatchCommitter that gives each batch its own transaction: the offset, then the stages, then the letters of what they refused. */
import type { BatchTransaction, BatchTransactions } from "./batch-transaction";
import type { BatchCommitter, CommitResult, RefusedRecord } from "./handle-batch";

/** What a stage did with a batch's records in its transaction. */
export interface TransactionStageOutcome {
  /** Records that changed what is stored. */
  counted: number;
  /** Records that changed nothing (repeats). */
  duplicates: number;
  /** Records the database refused; undone alone, they are dead-lettered before the commit. */
  refused: readonly RefusedRecord[];
  /** Runs once the transaction has committed (e.g. to log what is now durable). */
  committed?(): void;
}

/** A stage of a topic whose batches commit one transaction each (the model registry's). */
export interface TransactionStage<R> {
  apply(tx: BatchTransaction, records: readonly R[]): Promise<TransactionStageOutcome>;
}

export interface CommitEachBatchDeps<R> {
  transactions: Pick<BatchTransactions, "inTransaction">;
  /** Consumer group whose offsets are stored. */
  groupId: string;
  /** Run in order, after the offset moved. */
  stages: readonly TransactionStage<R>[];
}

/**
 * No group commit: for topics of little traffic (a few records per model upload or promotion),
 * where a transaction per batch costs nothing worth saving.
 */
export function commitEachBatch<R>(deps: CommitEachBatchDeps<R>): BatchCommitter<R> {
  return {
    async commit(records, range, context): Promise<CommitResult> {
      const outcomes: TransactionStageOutcome[] = [];
      const result = await deps.transactions.inTransaction(async (tx): Promise<CommitResult> => {
        const advanced = await tx.advanceOffset({ groupId: deps.groupId, ...range });
        // Nothing was written: committing the empty transaction is the same as rolling it back.
        if (!advanced.ok) return { kind: "fenced", storedNextOffset: advanced.storedNextOffset };
        if (records.length === 0) return { kind: "committed", counted: 0, duplicates: 0 };
        for (const stage of deps.stages) outcomes.push(await stage.apply(tx, records));
        const refused = outcomes.flatMap((o) => o.refused);
        if (refused.length > 0) await context.deadLetterRefused(refused);
        return {
          kind: "committed",
          counted: sum(outcomes, (o) => o.counted),
          duplicates: sum(outcomes, (o) => o.duplicates),
          refused: refused.length,
        };
      });
      if (result.kind === "committed") for (const o of outcomes) o.committed?.();
      return result;
    },
  };
}

function sum<T>(items: readonly T[], of: (item: T) => number): number {
  return items.reduce((total, item) => total + of(item), 0);
}
