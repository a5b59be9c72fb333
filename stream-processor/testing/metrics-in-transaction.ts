/** For the stores' own tests: one batch transaction with the metrics repository bound to it, called as one object. */
import type { BatchTransaction, BatchTransactions } from "../batch/batch-transaction";
import type { MetricsStore, MetricsTransaction } from "../db/metrics-store";

export type MetricsInTransaction = <T>(
  fn: (tx: BatchTransaction & MetricsTransaction) => Promise<T>,
) => Promise<T>;

export function metricsInTransaction(
  transactions: BatchTransactions,
  store: Pick<MetricsStore, "openMetrics">,
): MetricsInTransaction {
  return (fn) =>
    transactions.inTransaction((tx) => {
      const metrics = store.openMetrics(tx);
      return fn({
        sql: tx.sql,
        advanceOffset: (advance) => tx.advanceOffset(advance),
        advanceOffsets: (advances) => tx.advanceOffsets(advances),
        markSeen: (keys) => metrics.markSeen(keys),
        admitDimensionValues: (values, caps) => metrics.admitDimensionValues(values, caps),
        applyWindowDeltas: (deltas) => metrics.applyWindowDeltas(deltas),
        applyOutcomeDeltas: (deltas) => metrics.applyOutcomeDeltas(deltas),
        advanceWatermarks: (max, at) => metrics.advanceWatermarks(max, at),
        markHoursPending: (hours) => metrics.markHoursPending(hours),
      });
    });
}
