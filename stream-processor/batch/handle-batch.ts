/** The batch handler: decode, dead-letter poison, commit with retries; decides retry vs dead-letter. */
import type { Logger } from "pino";
import { isDriftlineError } from "#core/errors";
import type { Clock } from "../clock/clock";
import type { DeadLetter, DeadLetterSink } from "../kafka/dead-letter-sink";
import type {
  BatchControl,
  BatchHandler,
  BatchOutcome,
  CommitBatch,
  SourceBatch,
} from "../kafka/event-source";
import type { DecodedRecord, RecordKind } from "../pipeline/decode-record";
import type { CommitResult, MetricsPipeline, OffsetRange } from "../pipeline/metrics-pipeline";
import { type AcceptedRecord, type PreparedBatch, prepareBatch } from "../pipeline/prepare-batch";
import type { BackoffSpec } from "./backoff-ms";
import type { BatchStage } from "./batch-stage";
import { ABANDONED, holdAndRetry } from "./hold-and-retry";

/** What the handler reports for metrics; implemented with prom-client in observability/. */
export interface BatchObserver {
  batchCommitted(info: {
    topic: string;
    partition: number;
    records: number;
    counted: number;
    duplicates: number;
    deadLettered: number;
    /** Well-formed records the metrics do not count (test events). */
    skipped?: number;
    durationMs: number;
    highWatermark: string;
    nextOffset: string;
  }): void;
  retrying(info: { topic: string; partition: number; operation: string }): void;
  fenced(info: { topic: string; partition: number }): void;
}

export interface BatchHandlerDeps {
  pipeline: MetricsPipeline;
  deadLetters: DeadLetterSink;
  decode: (kind: RecordKind, value: Buffer | null) => DecodedRecord;
  /** The pipeline's batch stages, whose `select` runs as each record is decoded. */
  stages?: readonly BatchStage[];
  /** Which kind of record a topic carries; undefined for a topic this processor does not read. */
  kindOfTopic: (topic: string) => RecordKind | undefined;
  clock: Clock;
  backoff: BackoffSpec;
  log: Logger;
  observer: BatchObserver;
}

/**
 * Poison records (cannot be decoded) are dead-lettered before the commit; records the database
 * refuses as data (a store ValidationError) are isolated by bisecting the batch into smaller
 * commits until the one refused record is found and dead-lettered. Everything else (database or
 * Kafka unavailable, a rebalance-free timeout, an unexpected error) is retried with back-off,
 * holding the batch, until it succeeds or the source stops. Nothing is skipped silently.
 */
export function createBatchHandler(deps: BatchHandlerDeps): BatchHandler {
  const { pipeline, log, observer, clock } = deps;
  /**
   * Batches are decoded one at a time, in the order they arrive. Decoding yields to the event
   * loop every few hundred records; with every partition decoding at once, each pass of the loop
   * ran a slice of each of them before the answer to the transaction's last statement was read,
   * and the batch transactions (one statement after another, one transaction at a time) waited
   * on that. One at a time costs no throughput: it is one thread either way.
   */
  let decoding: Promise<unknown> = Promise.resolve();
  const decodeInTurn = (batch: SourceBatch, kind: RecordKind): Promise<PreparedBatch> => {
    const prepared = decoding.then(() => prepareBatch(batch, kind, deps.decode, deps.stages));
    decoding = prepared.catch(() => {});
    return prepared;
  };

  return async function handleBatch(
    batch: SourceBatch,
    control: BatchControl,
  ): Promise<CommitBatch> {
    const startedMs = clock.nowMs();
    const kind = deps.kindOfTopic(batch.topic);
    const prepared: PreparedBatch =
      kind === undefined
        ? {
            batch,
            accepted: [],
            inBatchDuplicates: 0,
            skipped: 0,
            deadLetters: batch.records.map((r) =>
              letter(
                batch,
                r.offset,
                r,
                `topic ${batch.topic} is not one this processor reads`,
                "decode",
              ),
            ),
          }
        : await decodeInTurn(batch, kind);

    if (prepared.deadLetters.length > 0) {
      for (const l of prepared.deadLetters) {
        log.warn(
          { topic: l.topic, partition: l.partition, offset: l.offset, reason: l.reason },
          "dead-lettering a record that cannot be decoded",
        );
      }
      const sent = await retrying("dead-letter", batch, control, () =>
        deps.deadLetters.send(prepared.deadLetters),
      );
      if (sent === ABANDONED) return async (): Promise<BatchOutcome> => ({ kind: "abandoned" });
    }
    return () => commitPrepared(prepared, control, startedMs);
  };

  async function commitPrepared(
    prepared: PreparedBatch,
    control: BatchControl,
    startedMs: number,
  ): Promise<BatchOutcome> {
    const { batch } = prepared;
    const range: OffsetRange = {
      topic: batch.topic,
      partition: batch.partition,
      expectedNextOffset: batch.expectedNextOffset,
      nextOffset: batch.nextOffset,
    };
    const totals = { counted: 0, duplicates: prepared.inBatchDuplicates, refused: 0 };
    const outcome = await commitIsolatingRefused(prepared.accepted, range, batch, control, totals);
    if (outcome === ABANDONED) return { kind: "abandoned" };
    if (outcome.kind === "fenced") {
      observer.fenced({ topic: batch.topic, partition: batch.partition });
      log.warn(
        { topic: batch.topic, partition: batch.partition, stored: outcome.storedNextOffset },
        "stored offset moved under this consumer (another member owns the partition now); re-reading it",
      );
      return { kind: "fenced", storedNextOffset: outcome.storedNextOffset };
    }
    observer.batchCommitted({
      topic: batch.topic,
      partition: batch.partition,
      records: batch.records.length,
      counted: totals.counted,
      duplicates: totals.duplicates,
      deadLettered: prepared.deadLetters.length + totals.refused,
      skipped: prepared.skipped,
      durationMs: clock.nowMs() - startedMs,
      highWatermark: batch.highWatermark,
      nextOffset: batch.nextOffset,
    });
    return { kind: "committed" };
  }

  /** Commits `records` over `range`; on a data refusal, splits in two at a record offset and recurses. */
  async function commitIsolatingRefused(
    records: readonly AcceptedRecord[],
    range: OffsetRange,
    batch: SourceBatch,
    control: BatchControl,
    totals: { counted: number; duplicates: number; refused: number },
  ): Promise<CommitResult | typeof ABANDONED> {
    let result: CommitResult | typeof ABANDONED;
    try {
      result = await retrying("commit", batch, control, () => pipeline.commit(records, range));
    } catch (error) {
      if (!isRefusal(error)) throw error;
      if (records.length === 1) {
        const record = records[0]!;
        const source = batch.records.find((r) => r.offset === record.offset);
        const reason = `the database refused it: ${(error as Error).message}`;
        log.error(
          { topic: batch.topic, partition: batch.partition, offset: record.offset, reason },
          "dead-lettering a refused record",
        );
        const sent = await retrying("dead-letter", batch, control, () =>
          deps.deadLetters.send([letter(batch, record.offset, source, reason, "store")]),
        );
        if (sent === ABANDONED) return ABANDONED;
        totals.refused += 1;
        return commitIsolatingRefused([], range, batch, control, totals);
      }
      if (records.length === 0) throw error;
      const mid = Math.floor(records.length / 2);
      const splitOffset = records[mid]!.offset;
      const first = await commitIsolatingRefused(
        records.slice(0, mid),
        { ...range, nextOffset: splitOffset },
        batch,
        control,
        totals,
      );
      if (first === ABANDONED || first.kind === "fenced") return first;
      return commitIsolatingRefused(
        records.slice(mid),
        { ...range, expectedNextOffset: splitOffset },
        batch,
        control,
        totals,
      );
    }
    if (result !== ABANDONED && result.kind === "committed") {
      totals.counted += result.counted;
      totals.duplicates += result.duplicates;
    }
    return result;
  }

  /** Runs `fn` until it succeeds, holding the batch (see holdAndRetry). */
  function retrying<T>(
    operation: string,
    batch: SourceBatch,
    control: BatchControl,
    fn: () => Promise<T>,
  ): Promise<T | typeof ABANDONED> {
    return holdAndRetry(deps, { operation, batch, control, fn, isFatal: isRefusal });
  }
}

/** The store refused the data itself (not a transient failure): retrying cannot help. */
function isRefusal(error: unknown): boolean {
  return isDriftlineError(error) && error.code === "VALIDATION";
}

function letter(
  batch: SourceBatch,
  offset: string,
  record: { key: Buffer | null; value: Buffer | null; headers: Record<string, string> } | undefined,
  reason: string,
  stage: DeadLetter["stage"],
): DeadLetter {
  return {
    key: record?.key ?? null,
    value: record?.value ?? null,
    headers: record?.headers ?? {},
    reason,
    stage,
    topic: batch.topic,
    partition: batch.partition,
    offset,
  };
}
