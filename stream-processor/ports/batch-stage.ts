/** The BatchStage port: more work done inside each batch's transaction (e.g. model monitoring). */
import type { WindowObservation } from "../../src/core/windows/aggregate-windows";

/** A newly counted record of the batch: its raw value and what the metrics decoded from it. */
export interface StageRecord {
  value: Buffer | null;
  observation: Pick<WindowObservation, "kind" | "tenant">;
}

export interface BatchStage {
  /**
   * Runs in the batch's transaction after the metrics were written, with the records counted
   * for the first time (duplicates were seen by an earlier, committed run). `connection` is the
   * transaction's database connection (MetricsTransaction.connection). Throwing rolls the whole
   * batch back: a ValidationError is treated as the data being refused (the record is isolated
   * and dead-lettered), anything else is retried.
   */
  apply(connection: unknown, records: readonly StageRecord[], nowMs: number): Promise<void>;
}
