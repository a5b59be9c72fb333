/** The batch handler of the metrics topics (events, capi, predictions): the transactional batch handler with the metrics decoder and the metrics pipeline's group commit. */
import type { Logger } from "pino";
import type { BackoffSpec } from "../batch/backoff-ms";
import { type BatchObserver, createBatchHandler, type PreparedBatch } from "../batch/handle-batch";
import type { Clock } from "../clock/clock";
import { type DeadLetterSink, letterFor } from "../kafka/dead-letter-sink";
import type { BatchHandler, SourceBatch } from "../kafka/event-source";
import type { DecodedRecord, RecordKind } from "./decode-record";
import type { MetricsPipeline } from "./metrics-pipeline";
import { type AcceptedRecord, prepareBatch } from "./prepare-batch";

export interface MetricsBatchHandlerDeps {
  /** Commits the records; its stages' `select` runs as each record is decoded. */
  pipeline: MetricsPipeline;
  deadLetters: DeadLetterSink;
  decode: (kind: RecordKind, value: Buffer | null) => DecodedRecord;
  /** Which kind of record a topic carries; undefined for a topic this processor does not read. */
  kindOfTopic: (topic: string) => RecordKind | undefined;
  clock: Clock;
  backoff: BackoffSpec;
  log: Logger;
  observer: BatchObserver;
}

/** Records the database refuses are isolated by bisecting the batch by offset (see createBatchHandler). */
export function createMetricsBatchHandler(deps: MetricsBatchHandlerDeps): BatchHandler {
  const prepare = (batch: SourceBatch): Promise<PreparedBatch<AcceptedRecord>> => {
    const kind = deps.kindOfTopic(batch.topic);
    if (kind !== undefined) {
      return prepareBatch(batch, kind, deps.decode, deps.pipeline.stages);
    }
    const reason = `topic ${batch.topic} is not one this processor reads`;
    return Promise.resolve({
      batch,
      accepted: [],
      inBatchDuplicates: 0,
      skipped: 0,
      deadLetters: batch.records.map((r) => letterFor(batch, r, reason, "decode")),
    });
  };
  return createBatchHandler({
    prepare,
    committer: deps.pipeline,
    deadLetters: deps.deadLetters,
    clock: deps.clock,
    backoff: deps.backoff,
    log: deps.log,
    observer: deps.observer,
  });
}
