/** The BatchStage port: more work done inside each batch's transaction (e.g. model monitoring). */
import type { EventMessage } from "#core/events";
import type { PredictionRecord } from "#core/scoring";
import type { WindowObservation } from "#core/windows";
import type { BatchTransaction } from "./batch-transaction";

/** The fields of an event message a stage may read, as the metrics decoder validated them. */
export type StageEventFields = Pick<
  EventMessage,
  | "tenant"
  | "eventName"
  | "eventId"
  | "eventTimeMs"
  | "predictionId"
  | "clickIds"
  | "pixelId"
  | "matchQuality"
>;

/** A record's validated message, as the metrics decoder read it. */
export type DecodedMessage =
  | { kind: "event"; message: StageEventFields }
  | { kind: "prediction"; message: PredictionRecord };

/** A newly counted record of the batch: what the metrics decoded and what the stage selected. */
export interface StageRecord {
  observation: Pick<WindowObservation, "kind" | "tenant">;
  /** What the stage's `select` kept of the record; undefined when it kept nothing. */
  input: unknown;
}

export interface BatchStage {
  /**
   * Keeps what the stage will need of a record, while the batch is decoded: outside the
   * transaction, from the message the metrics decoder already parsed and validated (nothing is
   * parsed twice). Return undefined to keep nothing (most records, for most stages); what is
   * returned is held until the batch commits, so keep it small.
   */
  select?(record: DecodedMessage): unknown;
  /**
   * Runs in the batch's transaction after the metrics were written, with the records counted
   * for the first time (duplicates were seen by an earlier, committed run). The stage writes
   * through repositories it opens on `tx`, so its writes commit with the batch's metrics and
   * offsets. Throwing rolls the whole batch back: a ValidationError is treated as the data being
   * refused (the record is isolated and dead-lettered), anything else is retried.
   */
  apply(tx: BatchTransaction, records: readonly StageRecord[], nowMs: number): Promise<void>;
}
